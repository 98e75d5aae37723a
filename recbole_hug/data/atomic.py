"""Reading and checking RecBole atomic files before RecBole loads them.

RecBole meets a missing column, an unknown field type or a non-numeric float with a deep
traceback, and silently loads ``inf``, short rows (filling the missing cell with the column's
mean) and duplicated rows; these checks name the file, the column and the line instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recbole_hug.errors import DataError

#: RecBole's field types (``recbole.utils.FeatureType``), as written in atomic headers.
ATOMIC_TYPES: tuple[str, ...] = ("token", "token_seq", "float", "float_seq")


def parse_header(path: Path, separator: str = "\t") -> dict[str, str]:
    """Read an atomic file's typed header ``name:type<sep>name:type...``.

    Returns:
        The field names mapped to their types, in file order.

    Raises:
        DataError: the file is empty or starts with a byte-order mark, or a column is not
            ``name:type`` with a known type.
    """
    with open(path, encoding="utf-8") as file:
        line = file.readline().rstrip("\r\n")
    if line.startswith("\ufeff"):
        raise DataError(
            f"{path}: the file starts with a UTF-8 byte-order mark (BOM), which RecBole would read "
            "as part of the first column's name; save the file as UTF-8 without a BOM"
        )
    if not line:
        raise DataError(f"{path}: the file is empty; expected a header like 'user_id:token'")
    fields: dict[str, str] = {}
    for column, cell in enumerate(line.split(separator), start=1):
        name, colon, ftype = cell.partition(":")
        if not colon or not name or ftype not in ATOMIC_TYPES:
            raise DataError(
                f"{path}: column {column} of the header is '{cell}'; expected 'name:type' with "
                f"type one of {', '.join(ATOMIC_TYPES)}"
            )
        fields[name] = ftype
    return fields


def check_columns(path: Path, header: Mapping[str, str], required: Iterable[str]) -> None:
    """Raise DataError naming ``path`` and the first required column the header lacks."""
    for field in required:
        if field not in header:
            raise DataError(
                f"{path}: missing column '{field}'; the header has {', '.join(header) or 'none'}"
            )


def _line(row: int) -> int:
    """The file line of data row ``row`` (from 0; the header is line 1)."""
    return row + 2


def check_rows(
    path: Path,
    header: Mapping[str, str],
    fields: Iterable[str],
    sep: str,
    keys: Sequence[str] = (),
) -> None:
    """Check the rows of an atomic file, raising DataError at the first bad line.

    - Every ``float`` cell of ``fields`` is a finite number or empty (RecBole fills empty ones
      with the column's mean), never ``inf`` or text.
    - The ``keys`` (the user, item and time fields, those in the header) are in every row and
      never empty: a short row (a missing cell) is an error, not a value filled in by RecBole.

    Also fails when the file has a header but no rows, or cannot be parsed (pandas' message, with
    the file). ``float_seq`` fields are not read here.
    """
    numeric = [field for field in fields if header.get(field) == "float"]
    keys = [key for key in keys if key in header]
    used = list(dict.fromkeys([*keys, *numeric]))
    columns = list(header)
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            header=0,
            names=columns,
            usecols=used or columns[:1],
            dtype=str,
            keep_default_na=False,
            engine="c",
        )
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: {error} (the header has {len(columns)} fields)") from error
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows")
    for field in keys:
        empty = frame[field].str.strip().eq("")
        if empty.any():
            line = _line(int(empty.to_numpy().argmax()))
            raise DataError(f"{path}: line {line} has no '{field}' (an empty or missing cell)")
    for field in numeric:
        cells = frame[field].str.strip()
        numbers = pd.to_numeric(cells, errors="coerce")
        bad = cells.ne("") & ~np.isfinite(numbers.fillna(np.inf))
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise DataError(
                f"{path}: column '{field}' is declared float, but line {_line(row)} holds "
                f"'{frame[field].iloc[row]}' (expected a finite number)"
            )
