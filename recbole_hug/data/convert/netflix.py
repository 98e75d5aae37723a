"""Netflix Prize: ``training_set/mv_XXXXXXX.txt`` per-movie files, or the tar(s) shipping them.

Each movie file starts with ``MovieID:``, then ``CustomerID,Rating,Date`` lines (``YYYY-MM-DD``,
read as UTC midnight). The raw path may be the folder (holding ``training_set/`` or the movie
files), ``training_set.tar``, or ``nf_prize_dataset.tar.gz`` (which holds ``training_set.tar``):
tars are streamed, never extracted. ``movie_titles.txt`` (``MovieID,YearOfRelease,Title``,
latin-1), when found, becomes the .item table. ~100M ratings: ids are kept as int32 and dates as
int32 seconds (12 bytes per rating).
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from tqdm import tqdm

from .atomic import clean_text
from .base import AuxTable, RawData, ReadContext
from .errors import ConversionError
from .rawio import find_optional, numbered_lines, require_path
from .records import parse_int, parse_time, split_lines
from .table import InteractionBuilder

EXPECTED = (
    "the training_set folder of mv_XXXXXXX.txt files, training_set.tar or nf_prize_dataset.tar.gz"
)
MOVIE_FILE = re.compile(r"(?:^|/)mv_(\d+)\.txt$")
ENCODING = "latin-1"


def _iter_tar(
    fileobj_or_path: Path | IO[bytes], label: str, titles: list[bytes]
) -> Iterator[tuple[str, bytes]]:
    """``(name, content)`` of the movie files in a tar stream (recursing into inner tars)."""
    try:
        source = (
            {"name": fileobj_or_path}
            if isinstance(fileobj_or_path, Path)
            else {"fileobj": fileobj_or_path}
        )
        with tarfile.open(mode="r|*", **source) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name
                f = tar.extractfile(member)
                if f is None:
                    continue
                if name.endswith(".tar"):
                    yield from _iter_tar(f, f"{label}:{name}", titles)
                elif MOVIE_FILE.search(name):
                    yield f"{label}:{name}", f.read()
                elif name.rsplit("/", 1)[-1] == "movie_titles.txt":
                    titles.append(f.read())
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ConversionError(f"tar archive truncated or corrupt ({e})", label) from e


def _movie_files(root: Path, titles: list[bytes]) -> Iterator[tuple[str, bytes]]:
    if root.is_file():
        if not tarfile.is_tarfile(root) and not root.name.endswith((".tar.gz", ".tgz", ".tar")):
            raise ConversionError(f"not a tar archive (expected {EXPECTED})", root)
        yield from _iter_tar(root, str(root), titles)
        return
    files = sorted(p for p in root.rglob("mv_*.txt") if MOVIE_FILE.search(p.as_posix()))
    if not files:
        raise ConversionError(f"no mv_XXXXXXX.txt files (expected {EXPECTED})", root)
    for p in files:
        yield str(p), p.read_bytes()


def read_netflix(path: Path, ctx: ReadContext) -> RawData:
    """Read every movie file; each rating (any value) is one interaction."""
    root = require_path(path, EXPECTED)
    titles: list[bytes] = []
    builder = InteractionBuilder()
    n_files = 0
    bar = tqdm(desc="read netflix", unit="movie", disable=not ctx.progress, leave=False)
    for name, content in _movie_files(root, titles):
        movie = _parse_movie(name, content, ctx, builder)
        n_files += movie >= 0
        bar.update(1)
    bar.close()
    if not n_files:
        raise ConversionError(f"no movie files found (expected {EXPECTED})", root)
    items = None
    if titles:
        items = _titles(enumerate(titles[0].decode(ENCODING).splitlines(), start=1), ctx)
    elif (found := find_optional(root, ["movie_titles.txt"])) is not None:
        items = _titles(numbered_lines(*found, encoding=ENCODING), ctx)
    if items is None:
        ctx.report.warn("movie_titles.txt not found: no .item table written")
    return RawData(builder.build(), str(root), items)


def _parse_movie(name: str, content: bytes, ctx: ReadContext, builder: InteractionBuilder) -> int:
    text = content.decode(ENCODING).splitlines()
    header = text[0].strip() if text else ""
    expected = int(MOVIE_FILE.search(name).group(1))
    if not header.endswith(":") or not header[:-1].isdigit():
        raise ConversionError(f"first line {header[:40]!r} is not 'MovieID:'", name, 1)
    if int(header[:-1]) != expected:
        raise ConversionError(f"movie id {header[:-1]} differs from the file name", name, 1)
    lines = ((i, t) for i, t in enumerate(text[1:], start=2))
    for chunk in split_lines(
        lines, name, ",", 3, ctx.report, ctx.skip_bad, "CustomerID,Rating,Date"
    ):
        user, k1 = parse_int(chunk, chunk.columns[0], "CustomerID", ctx.report, ctx.skip_bad)
        _, k2 = parse_int(chunk, chunk.columns[1], "Rating", ctx.report, ctx.skip_bad)
        ts, k3 = parse_time(chunk, chunk.columns[2], "%Y-%m-%d", "Date", ctx.report, ctx.skip_bad)
        keep = k1 & k2 & k3
        n = int(keep.sum())
        builder.add(
            user[keep].astype(np.int32),
            np.full(n, expected, dtype=np.int32),
            ts[keep].astype(np.int32),
        )
    return expected


def _titles(lines: Iterable[tuple[int, str]], ctx: ReadContext) -> AuxTable:
    table: dict[str, list[str]] = {}
    for chunk in split_lines(
        lines, "movie_titles.txt", ",", 3, ctx.report, ctx.skip_bad, "MovieID,YearOfRelease,Title"
    ):
        for movie, year, title in zip(*[c.tolist() for c in chunk.columns], strict=True):
            table[movie] = clean_text([title, "" if year == "NULL" else year])
    return AuxTable(
        [("item_id", "token"), ("movie_title", "token_seq"), ("release_year", "token")], table
    )
