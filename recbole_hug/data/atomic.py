"""Reading and checking RecBole atomic files before RecBole loads them.

RecBole meets a missing column, an unknown field type or a non-numeric float with a deep
traceback (or silently loads NaN); these checks name the file, the column and the line instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from recbole_hug.errors import DataError

#: RecBole's field types (``recbole.utils.FeatureType``), as written in atomic headers.
ATOMIC_TYPES: tuple[str, ...] = ("token", "token_seq", "float", "float_seq")


def parse_header(path: Path, separator: str = "\t") -> dict[str, str]:
    """Read an atomic file's typed header ``name:type<sep>name:type...``.

    Returns:
        The field names mapped to their types, in file order.

    Raises:
        DataError: the file is empty, or a column is not ``name:type`` with a known type.
    """
    with open(path, encoding="utf-8") as file:
        line = file.readline().rstrip("\r\n")
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


def check_numeric(path: Path, header: Mapping[str, str], fields: Iterable[str], sep: str) -> None:
    """Raise DataError at the first cell of a ``float`` field that is not a number.

    Also fails when the file has a header but no rows. Empty cells are allowed (RecBole fills
    them); ``float_seq`` fields are not read here.
    """
    numeric = [field for field in fields if header.get(field) == "float"]
    columns = list(header)
    frame = pd.read_csv(
        path,
        sep=sep,
        header=0,
        names=columns,
        usecols=numeric or columns[:1],
        dtype=str,
        keep_default_na=False,
        engine="c",
    )
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows")
    for field in numeric:
        cells = frame[field].str.strip()
        bad = cells.ne("") & pd.to_numeric(cells, errors="coerce").isna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise DataError(
                f"{path}: column '{field}' is declared float, but line {row + 2} holds "
                f"'{frame[field].iloc[row]}'"
            )
