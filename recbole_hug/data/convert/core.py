"""One conversion: read the raw files, preprocess, write the atomic files, report statistics."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .atomic import AtomicWriter, TextColumn, time_column
from .base import AuxTable, ReadContext, Reader
from .errors import ConversionError, Report
from .lastfm import read_lastfm
from .movielens import read_movielens
from .netflix import read_netflix
from .pipeline import preprocess
from .presets import DEFAULT_PRESET, PRESETS, Preset
from .reddit import read_reddit
from .stats import format_statistics, statistics
from .steam import read_steam
from .taobao import read_taobao
from .xing import read_xing

READERS: dict[str, Reader] = {
    "ml-1m": read_movielens,
    "netflix": read_netflix,
    "steam": read_steam,
    "taobao": read_taobao,
    "lastfm-1k": read_lastfm,
    "xing": read_xing,
    "reddit": read_reddit,
}
"""Dataset name -> its raw reader."""


@dataclass
class ConversionResult:
    """What a conversion produced.

    Attributes:
        files: the atomic files written.
        stats: the Table 1 statistics of the converted data.
        report: the rows dropped and the warnings.
        preset: the preset used (before overrides).
    """

    files: list[Path]
    stats: dict[str, float]
    report: Report
    preset: Preset
    summary: str = field(default="")


def get_preset(dataset: str, name: str | None = None) -> Preset:
    """The preset ``name`` of ``dataset`` (default: the paper's)."""
    if dataset not in READERS:
        raise ConversionError(f"unknown dataset {dataset!r} (one of {', '.join(READERS)})")
    name = name or DEFAULT_PRESET[dataset]
    if name not in PRESETS[dataset]:
        raise ConversionError(
            f"unknown preset {name!r} for {dataset} (one of {', '.join(PRESETS[dataset])})"
        )
    return PRESETS[dataset][name]


def convert(
    dataset: str,
    raw_path: str | Path,
    out: str | Path = "atomic_data",
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    name: str | None = None,
    skip_bad: bool = False,
    item_level: str = "artist",
    progress: bool = True,
    stream: TextIO | None = None,
) -> ConversionResult:
    """Convert a dataset's raw files to ``<out>/<name>/<name>.inter`` (+ .item/.user).

    Args:
        dataset: one of :data:`READERS`.
        raw_path: the raw file, archive or folder as published.
        out: the output root folder.
        preset: the preset name (default: the dataset's paper preset).
        overrides: :class:`pipeline.Preprocess` fields replacing the preset's.
        name: the output dataset name (default: ``dataset``).
        skip_bad: count and drop malformed lines instead of failing.
        item_level: Last.fm only: ``"artist"`` or ``"track"``.
        progress: show progress bars on stderr.
        stream: where the summary is printed (default stdout; None-like ``False`` not allowed).

    Raises:
        ConversionError: bad input, with the file and line where known.
    """
    chosen = get_preset(dataset, preset)
    options = replace(chosen.options, **(overrides or {}))
    report = Report()
    ctx = ReadContext(report=report, skip_bad=skip_bad, progress=progress, item_level=item_level)
    raw = READERS[dataset](Path(raw_path), ctx)
    inter = preprocess(raw.inter, options, report, raw.source)
    if len(inter) == 0:
        raise ConversionError("no interaction left after preprocessing", raw.source)
    name = name or dataset
    folder = Path(out) / name
    fields = [("user_id", "token"), ("item_id", "token"), ("timestamp", "float")]
    columns = [
        TextColumn(inter.user, inter.user_strings),
        TextColumn(inter.item, inter.item_strings),
        time_column(inter.time),
    ]
    if inter.session is not None:
        fields.append(("session_id", "token"))
        columns.append(TextColumn(inter.session, lambda block: block.astype(str)))
    files = []
    with AtomicWriter(folder, progress) as writer:
        files.append(writer.write(f"{name}.inter", fields, columns))
        items = inter.item_strings(np.unique(inter.item))
        users = inter.user_strings(np.unique(inter.user))
        for suffix, table, kept in (("item", raw.items, items), ("user", raw.users, users)):
            if table is not None:
                files.append(_write_aux(writer, f"{name}.{suffix}", table, kept, report))
    stats = statistics(inter)
    table_text = format_statistics(stats, chosen.paper, chosen.paper_source, report)
    head = f"converted {dataset} (preset {chosen.name}) from {raw.source}"
    summary = "\n".join([head, *[f"wrote {f}" for f in files], *report.lines(), table_text])
    print(summary, file=stream or sys.stdout)
    return ConversionResult(files, stats, report, chosen, summary)


def _write_aux(
    writer: AtomicWriter, file_name: str, table: AuxTable, kept: np.ndarray, report: Report
) -> Path:
    """Write the side-table rows of the ids still present in the interactions (``kept``)."""
    present = set(kept.tolist())
    keys = [k for k in table.rows if k in present]
    missing = len(present) - len(keys)
    if missing:
        report.warn(f"{missing:,} ids of the interactions have no row in {file_name}")
    columns = [keys] + [[table.rows[k][j] for k in keys] for j in range(len(table.fields) - 1)]
    return writer.write(file_name, table.fields, columns)
