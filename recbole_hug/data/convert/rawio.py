"""Opening the publishers' raw files: plain, .gz, .bz2, .zip (member inside), folders.

Every raw file is read as text lines with their 1-based numbers; a corrupt or truncated compressed
stream raises :class:`ConversionError` naming the file and the last line read.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import ConversionError

COMPRESSED_SUFFIXES = (".gz", ".bz2")
"""Suffixes of single-file compression read transparently."""


def require_path(path: str | Path, expected: str) -> Path:
    """Return ``path`` as a Path, or raise :class:`ConversionError` if it does not exist.

    Args:
        path: the raw path given by the user.
        expected: what was expected there, for the message (e.g. ``"ratings.dat or ml-1m.zip"``).
    """
    p = Path(path)
    if not p.exists():
        raise ConversionError(f"no such file or folder (expected {expected})", p)
    return p


def strip_compression(name: str) -> str:
    """``name`` without a trailing .gz/.bz2 (``"a.csv.gz"`` -> ``"a.csv"``)."""
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@contextmanager
def open_binary(path: Path, member: str | None = None) -> Iterator[IO[bytes]]:
    """Open a raw file as a decompressed binary stream.

    Args:
        path: a plain, .gz or .bz2 file, or a .zip archive.
        member: for a .zip, the member's path inside the archive.
    """
    try:
        if path.suffix == ".zip":
            if member is None:
                raise ConversionError("a .zip needs a member to read", path)
            with zipfile.ZipFile(path) as zf, zf.open(member) as f:
                yield f
        elif path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                yield f
        elif path.suffix == ".bz2":
            with bz2.open(path, "rb") as f:
                yield f
        else:
            with open(path, "rb") as f:
                yield f
    except zipfile.BadZipFile as e:
        raise ConversionError(f"not a readable zip archive ({e})", path) from e


def numbered_lines(
    path: Path, member: str | None = None, encoding: str = "utf-8", label: str | None = None
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` of a raw text file, newline stripped, numbers from 1.

    Args:
        path: the file (see :func:`open_binary`).
        member: the member of a .zip archive.
        encoding: the publisher's text encoding.
        label: the name used in error messages (default: ``path`` or ``path:member``).

    Raises:
        ConversionError: the compressed stream is truncated or corrupt, or the text does not
            decode, with the file and the line where it happened.
    """
    name = label or (f"{path}:{member}" if member else str(path))
    lineno = 0
    try:
        with open_binary(path, member) as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            for lineno, line in enumerate(text, start=1):  # noqa: B007 (used after the loop)
                yield lineno, line.rstrip("\r\n")
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        raise ConversionError(
            f"compressed file truncated or corrupt after line {lineno} ({e})", name, lineno + 1
        ) from e
    except UnicodeDecodeError as e:
        raise ConversionError(
            f"not {encoding} text ({e.reason}); is this the right file?", name, lineno + 1
        ) from e


def find_raw_file(root: Path, names: Sequence[str], expected: str) -> tuple[Path, str | None]:
    """Locate one of ``names`` at ``root``: the file itself, in a folder, or in a .zip.

    ``names`` are base names (e.g. ``"ratings.dat"``); compressed variants (``.gz``/``.bz2``)
    and any sub-folder are accepted.

    Returns:
        ``(path, member)``: the file to open and, for a .zip, the member inside it.

    Raises:
        ConversionError: nothing matching was found, saying what was expected.
    """
    wanted = set(names)
    if root.is_file() and root.suffix == ".zip":
        try:
            with zipfile.ZipFile(root) as zf:
                members = zf.namelist()
        except zipfile.BadZipFile as e:
            raise ConversionError(f"not a readable zip archive ({e})", root) from e
        for m in members:
            if strip_compression(m.rsplit("/", 1)[-1]) in wanted:
                return root, m
        raise ConversionError(f"archive holds none of {sorted(wanted)} (expected {expected})", root)
    if root.is_file():
        if strip_compression(root.name) in wanted:
            return root, None
        raise ConversionError(f"unexpected file name (expected {expected})", root)
    for candidate in sorted(root.rglob("*")):
        if candidate.is_file() and strip_compression(candidate.name) in wanted:
            return candidate, None
    raise ConversionError(f"folder holds none of {sorted(wanted)} (expected {expected})", root)


def find_optional(root: Path, names: Sequence[str]) -> tuple[Path, str | None] | None:
    """Like :func:`find_raw_file`, but ``None`` when nothing matches; looks beside a file too."""
    base = root if root.is_dir() or root.suffix == ".zip" else root.parent
    try:
        return find_raw_file(base, names, "")
    except ConversionError:
        return None
