"""RecBole atomic files: typed-header TSV, written all-or-nothing; and a small reader for checks.

A conversion writes each file to a hidden temporary file in the output folder and renames all of
them only when every file is complete, so an interrupted conversion leaves no half-written atomic
file (at worst stray ``.*.tmp`` files after a kill -9; they are removed on an error, Ctrl-C or
SIGTERM). Files get the mode the umask says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
from tqdm import tqdm

from recbole_hug.data.atomic import ATOMIC_TYPES
from recbole_hug.files import commit, temporary_path

WRITE_ROWS = 500_000
"""Rows formatted per block when writing."""


class TextColumn:
    """A column turned into atomic-file cells block by block, never all at once.

    Args:
        values: ``[N]`` array.
        to_text: turns a block of ``values`` into an array of cell strings.
    """

    def __init__(self, values: np.ndarray, to_text: Callable[[np.ndarray], np.ndarray]) -> None:
        self.values = values
        self.to_text = to_text

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.to_text(self.values[rows])


def time_column(time: np.ndarray) -> TextColumn:
    """Timestamps as cells: integers without a decimal point when every value in the file is
    whole, otherwise numbers in shortest form."""
    t = np.asarray(time)
    if t.dtype.kind in "iu" or np.all(np.mod(t, 1) == 0):
        return TextColumn(t, lambda block: block.astype(np.int64).astype(str))
    return TextColumn(t, lambda block: block.astype(np.float64).astype(str))


def clean_text(values: Sequence[str]) -> list[str]:
    """Free text made safe for a TSV cell: tabs and newlines become spaces."""
    return [" ".join(str(v).replace("\t", " ").split()) for v in values]


class AtomicWriter:
    """Writes a set of atomic files and renames them into place together on success.

    Use as a context manager; :meth:`write` each file, the files appear when the block exits
    without an exception, otherwise the temporaries are deleted.
    """

    def __init__(self, folder: Path, progress: bool = True) -> None:
        self.folder = Path(folder)
        self.progress = progress
        self._pending: list[tuple[Path, Path]] = []

    def __enter__(self) -> AtomicWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def write(
        self,
        name: str,
        fields: Sequence[tuple[str, str]],
        columns: Sequence[np.ndarray | Sequence[str]],
    ) -> Path:
        """Write one atomic file to a temporary file.

        Args:
            name: the file name, e.g. ``"taobao.inter"``.
            fields: ``(field_name, type)`` per column, e.g. ``("user_id", "token")``.
            columns: the cells, one sequence of strings (or :class:`TextColumn`) per field, all
                of one length.

        Returns:
            The final path (which exists once the writer commits).
        """
        for field_name, ftype in fields:
            if ftype not in ATOMIC_TYPES:
                raise ValueError(f"unknown atomic type {ftype!r} for {field_name}")
        n = len(columns[0]) if columns else 0
        if any(len(c) != n for c in columns):
            raise ValueError("columns of different lengths")
        final = self.folder / name
        tmp = temporary_path(final)
        self._pending.append((tmp, final))
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write("\t".join(f"{fn}:{ft}" for fn, ft in fields) + "\n")
            with tqdm(
                total=n,
                desc=f"write {name}",
                unit="row",
                unit_scale=True,
                disable=not self.progress,
                leave=False,
            ) as bar:
                for start in range(0, n, WRITE_ROWS):
                    block = [list(c[start : start + WRITE_ROWS]) for c in columns]
                    f.writelines("\t".join(row) + "\n" for row in zip(*block, strict=True))
                    bar.update(len(block[0]))
        return final

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            for tmp, final in self._pending:
                commit(tmp, final)
        else:
            for tmp, _ in self._pending:
                tmp.unlink(missing_ok=True)
        self._pending = []


def read_atomic(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """Read an atomic file: ``(header fields like "user_id:token", rows of cells)``."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [line.rstrip("\n").split("\t") for line in f]
    return header, rows
