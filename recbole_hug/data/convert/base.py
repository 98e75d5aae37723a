"""What every dataset reader shares: its context, its result, and the line/column helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .atomic import clean_text
from .errors import ConversionError, Report
from .rawio import find_optional, numbered_lines
from .records import Chunk, split_lines
from .table import Interactions


@dataclass
class ReadContext:
    """Settings of one read.

    Attributes:
        report: where skipped rows and warnings go.
        skip_bad: count and drop malformed lines instead of failing.
        progress: show tqdm progress bars on stderr.
        item_level: Last.fm only: ``"artist"`` or ``"track"`` items.
    """

    report: Report = field(default_factory=Report)
    skip_bad: bool = False
    progress: bool = True
    item_level: str = "artist"


@dataclass
class AuxTable:
    """A side table (.item or .user): one row of cells per id token.

    Attributes:
        fields: ``(name, type)`` per column, the id field first.
        rows: id token -> the other cells, in field order.
    """

    fields: list[tuple[str, str]]
    rows: dict[str, list[str]]


@dataclass
class RawData:
    """A dataset as read from its raw files, before preprocessing.

    Attributes:
        inter: the interactions in file order.
        source: the main raw file, for messages.
        items: the .item table, if the raw data has one.
        users: the .user table, if the raw data has one.
    """

    inter: Interactions
    source: str
    items: AuxTable | None = None
    users: AuxTable | None = None


Reader = Callable[[Path, ReadContext], RawData]
"""A dataset reader: raw path -> :class:`RawData`."""


def progress_lines(
    lines: Iterable[tuple[int, str]], desc: str, ctx: ReadContext
) -> Iterator[tuple[int, str]]:
    """``lines`` with a progress bar (counting lines) unless ``ctx.progress`` is off."""
    return iter(
        tqdm(
            lines,
            desc=desc,
            unit="line",
            unit_scale=True,
            miniters=10_000,
            disable=not ctx.progress,
            leave=False,
        )
    )


def headed_side_table(
    root: Path,
    name: str,
    id_field: str,
    sep: str,
    ctx: ReadContext,
    seq_columns: Sequence[str] = (),
) -> AuxTable | None:
    """A side table (.item/.user) from a raw file with a header line, found beside ``root``.

    The first column is the id (written as ``id_field``); the other columns keep their header
    names as ``token`` fields, except ``seq_columns`` (comma-separated lists in the raw file),
    written as ``token_seq``. A missing file is a reported warning, not an error.
    """
    found = find_optional(root, [name])
    if found is None:
        ctx.report.warn(f"{name} not found beside the interactions: no side table written")
        return None
    lines = numbered_lines(*found)
    first = next(lines, None)
    if first is None:
        raise ConversionError(f"empty file (expected a header line) in {name}", found[0], 1)
    names = [h.strip().lstrip("#\ufeff") for h in first[1].split(sep)]
    fields = [(id_field, "token")] + [
        (column, "token_seq" if column in seq_columns else "token") for column in names[1:]
    ]
    rows: dict[str, list[str]] = {}
    for chunk in split_lines(lines, str(found[0]), sep, len(names), ctx.report, ctx.skip_bad):
        cells = [c.tolist() for c in chunk.columns]
        for j, column in enumerate(names[1:], start=1):
            if column in seq_columns:
                cells[j] = [cell.replace(",", " ") for cell in cells[j]]
        for key, *rest in zip(*cells, strict=True):
            rows[key] = clean_text(rest)
    return AuxTable(fields, rows)


def delimited_chunks(
    path: Path,
    member: str | None,
    ctx: ReadContext,
    sep: str,
    n_fields: int,
    what: str,
    encoding: str = "utf-8",
) -> Iterator[Chunk]:
    """Chunks of a header-less delimited raw file (see :func:`records.split_lines`)."""
    label = f"{path}:{member}" if member else str(path)
    desc = f"read {Path(label).name}"
    lines = progress_lines(numbered_lines(path, member, encoding, label), desc, ctx)
    return split_lines(lines, label, sep, n_fields, ctx.report, ctx.skip_bad, what)


def headed_chunks(path: Path, ctx: ReadContext, columns: Sequence[str]) -> Iterator[Chunk]:
    """Chunks of a CSV/TSV raw file with a header line, holding ``columns`` in that order.

    The separator (tab or comma) is taken from the header; other columns are ignored.

    Raises:
        ConversionError: the file is empty or its header lacks one of ``columns``.
    """
    lines = progress_lines(numbered_lines(path), f"read {path.name}", ctx)
    first = next(lines, None)
    if first is None:
        raise ConversionError(f"empty file (expected a header {','.join(columns)})", path, 1)
    header = first[1]
    sep = "\t" if "\t" in header else ","
    names = [h.strip().strip('"').lstrip("\ufeff") for h in header.split(sep)]
    missing = [c for c in columns if c not in names]
    if missing:
        raise ConversionError(
            f"header {header[:80]!r} lacks {missing} (expected columns {','.join(columns)}, "
            "tab or comma separated)",
            path,
            1,
        )
    index = [names.index(c) for c in columns]
    for chunk in split_lines(
        lines, str(path), sep, len(names), ctx.report, ctx.skip_bad, sep.join(names)
    ):
        yield Chunk([chunk.columns[i] for i in index], chunk.lines, chunk.source)
