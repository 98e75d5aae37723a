"""Chunked parsing of delimited raw lines into numpy columns, with exact error locations.

Lines are split in Python (the publishers' files are simple), gathered in chunks of
``CHUNK_ROWS`` and converted column-wise with vectorized numpy/pandas code. A line with the wrong
number of fields or a value that does not parse raises :class:`ConversionError` with its file
and line, or with ``skip_bad`` is dropped and counted in the :class:`Report`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ConversionError, Report

CHUNK_ROWS = 250_000
"""Rows parsed per chunk: bounds the parser's transient memory."""


@dataclass
class Chunk:
    """Raw string fields of up to ``CHUNK_ROWS`` lines of one file.

    Attributes:
        columns: one numpy object array of strings per field.
        lines: the 1-based line number of every row.
        source: the file name for messages.
    """

    columns: list[np.ndarray]
    lines: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.lines)

    def select(self, keep: np.ndarray) -> Chunk:
        """The rows where the boolean mask ``keep`` is True."""
        return Chunk([c[keep] for c in self.columns], self.lines[keep], self.source)


def split_lines(
    lines: Iterable[tuple[int, str]],
    source: str,
    sep: str,
    n_fields: int,
    report: Report,
    skip_bad: bool = False,
    what: str = "",
) -> Iterator[Chunk]:
    """Split numbered lines into chunks of ``n_fields`` string columns.

    The last field takes the rest of the line (``maxsplit``), so free text at the end of a line may
    hold the separator. Blank lines are errors (or skips), like any line with too few fields.

    Args:
        lines: ``(line_number, text)`` pairs, e.g. from :func:`rawio.numbered_lines`.
        source: the file name for messages.
        sep: the field separator.
        n_fields: the number of fields every line must have.
        report: where skipped lines are counted.
        skip_bad: drop and count malformed lines instead of raising.
        what: the expected layout, for the message (e.g. ``"user,item,category,behavior,ts"``).
    """
    rows: list[list[str]] = []
    numbers: list[int] = []
    for lineno, text in lines:
        parts = text.split(sep, n_fields - 1)
        if len(parts) != n_fields:
            if skip_bad:
                report.skip(f"malformed line in {source}")
                continue
            layout = f" ({what})" if what else ""
            raise ConversionError(
                f"expected {n_fields} {sep!r}-separated fields{layout}, got {len(parts)}: "
                f"{text[:80]!r}",
                source,
                lineno,
            )
        rows.append(parts)
        numbers.append(lineno)
        if len(rows) >= CHUNK_ROWS:
            yield _to_chunk(rows, numbers, n_fields, source)
            rows, numbers = [], []
    if rows:
        yield _to_chunk(rows, numbers, n_fields, source)


def _to_chunk(rows: list[list[str]], numbers: list[int], n_fields: int, source: str) -> Chunk:
    columns = [np.empty(len(rows), dtype=object) for _ in range(n_fields)]
    for j, col in enumerate(zip(*rows, strict=True)):
        columns[j][:] = col
    return Chunk(columns, np.asarray(numbers, dtype=np.int64), source)


def _bad_rows(
    chunk: Chunk,
    bad: np.ndarray,
    name: str,
    values: np.ndarray,
    report: Report,
    skip_bad: bool,
    expected: str,
) -> np.ndarray:
    """Raise on the first bad row, or count the bad rows as skipped; return the keep mask."""
    if bad.any():
        if not skip_bad:
            i = int(np.flatnonzero(bad)[0])
            raise ConversionError(
                f"unparseable {name} {values[i]!r} (expected {expected})",
                chunk.source,
                int(chunk.lines[i]),
            )
        report.skip(f"unparseable {name} in {chunk.source}", int(bad.sum()))
    return ~bad


def parse_int(
    chunk: Chunk, values: np.ndarray, name: str, report: Report, skip_bad: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Parse decimal integers; returns ``(int64 values, keep mask)``."""
    num = pd.to_numeric(pd.Series(values, copy=False), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(num) | (num != np.floor(num)) | (np.abs(num) > 2**53)
    keep = _bad_rows(chunk, bad, name, values, report, skip_bad, "an integer")
    out = np.zeros(len(values), dtype=np.int64)
    out[keep] = num[keep].astype(np.int64)
    return out, keep


def parse_float(
    chunk: Chunk, values: np.ndarray, name: str, report: Report, skip_bad: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Parse finite decimal numbers; returns ``(float64 values, keep mask)``."""
    num = pd.to_numeric(pd.Series(values, copy=False), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(num)
    keep = _bad_rows(chunk, bad, name, values, report, skip_bad, "a number")
    return np.where(keep, num, 0.0), keep


def parse_time(
    chunk: Chunk, values: np.ndarray, fmt: str, name: str, report: Report, skip_bad: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Parse date/time strings in ``fmt`` (read as UTC) to Unix seconds (int64).

    Returns:
        ``(seconds, keep mask)``.
    """
    ts = pd.to_datetime(pd.Series(values, copy=False), format=fmt, errors="coerce", utc=True)
    bad = ts.isna().to_numpy()
    keep = _bad_rows(chunk, bad, name, values, report, skip_bad, f"format {fmt}")
    seconds = np.zeros(len(values), dtype=np.int64)
    seconds[keep] = (
        ts[keep].dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)
    )
    return seconds, keep


def check_nonempty(
    chunk: Chunk, values: np.ndarray, name: str, report: Report, skip_bad: bool
) -> np.ndarray:
    """Keep mask of the non-empty strings (an empty one raises, or is counted with skip_bad)."""
    bad = np.array([not v for v in values], dtype=bool)
    return _bad_rows(chunk, bad, name, values, report, skip_bad, "a non-empty value")
