"""Steam reviews (Kang & McAuley, ``steam_reviews.json.gz``), the SASRec paper's Steam.

One review per line as a Python dict literal (not strict JSON: tried with ``json`` first, then
``ast.literal_eval``); used keys: ``username``, ``product_id``, ``date`` (``YYYY-MM-DD``).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np

from .base import RawData, ReadContext, progress_lines
from .errors import ConversionError
from .rawio import find_raw_file, numbered_lines, require_path
from .records import CHUNK_ROWS, Chunk, parse_time
from .table import InteractionBuilder

EXPECTED = "steam_reviews.json.gz (one dict per line with username, product_id, date)"
KEYS = ("username", "product_id", "date")


def _parse_record(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def read_steam(path: Path, ctx: ReadContext) -> RawData:
    """Read the Steam reviews; every review is one interaction (user, game, day)."""
    root = require_path(path, EXPECTED)
    if root.is_file() and root.suffix != ".zip":
        file, member = root, None
    else:
        file, member = find_raw_file(root, ["steam_reviews.json"], EXPECTED)
    label = f"{file}:{member}" if member else str(file)
    builder = InteractionBuilder(string_users=True, string_items=True)
    rows: list[tuple[str, str, str]] = []
    numbers: list[int] = []
    lines = progress_lines(numbered_lines(file, member, label=label), f"read {file.name}", ctx)
    for lineno, text in lines:
        record = _parse_record(text)
        values = None if record is None else [record.get(k) for k in KEYS]
        if values is None or any(not isinstance(v, str | int) or v == "" for v in values):
            if ctx.skip_bad:
                ctx.report.skip(f"malformed review in {label}")
                continue
            raise ConversionError(
                f"not a review dict with {', '.join(KEYS)}: {text[:80]!r}", label, lineno
            )
        rows.append(tuple(str(v) for v in values))
        numbers.append(lineno)
        if len(rows) >= CHUNK_ROWS:
            _add(builder, rows, numbers, label, ctx)
            rows, numbers = [], []
    if rows:
        _add(builder, rows, numbers, label, ctx)
    return RawData(builder.build(), label)


def _add(
    builder: InteractionBuilder,
    rows: list[tuple[str, str, str]],
    numbers: list[int],
    label: str,
    ctx: ReadContext,
) -> None:
    cols = [np.array(c, dtype=object) for c in zip(*rows, strict=True)]
    chunk = Chunk(cols, np.asarray(numbers, dtype=np.int64), label)
    ts, keep = parse_time(chunk, cols[2], "%Y-%m-%d", "date", ctx.report, ctx.skip_bad)
    builder.add(cols[0][keep], cols[1][keep], ts[keep])
