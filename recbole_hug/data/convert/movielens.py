"""MovieLens 1M (GroupLens): ``ratings.dat``, ``movies.dat``, ``users.dat``, ``::``-separated.

Latin-1 text; the raw path is ``ml-1m.zip`` or the extracted folder. Every rating becomes an
interaction (implicit feedback); movies and users become the .item and .user tables, laid out as
RecBole's own ml-1m atomic files.
"""

from __future__ import annotations

import re
from pathlib import Path

from .atomic import clean_text
from .base import AuxTable, RawData, ReadContext, delimited_chunks
from .rawio import find_optional, find_raw_file, require_path
from .records import parse_int
from .table import InteractionBuilder

EXPECTED = "ml-1m.zip or its folder with ratings.dat (UserID::MovieID::Rating::Timestamp)"
ENCODING = "latin-1"
_YEAR = re.compile(r"^(.*)\s\((\d{4})\)\s*$")


def read_movielens(path: Path, ctx: ReadContext) -> RawData:
    """Read ratings (required), movies and users (when present) of MovieLens 1M."""
    root = require_path(path, EXPECTED)
    file, member = find_raw_file(root, ["ratings.dat"], EXPECTED)
    builder = InteractionBuilder()
    what = "UserID::MovieID::Rating::Timestamp"
    for chunk in delimited_chunks(file, member, ctx, "::", 4, what, ENCODING):
        user, k1 = parse_int(chunk, chunk.columns[0], "UserID", ctx.report, ctx.skip_bad)
        item, k2 = parse_int(chunk, chunk.columns[1], "MovieID", ctx.report, ctx.skip_bad)
        _, k3 = parse_int(chunk, chunk.columns[2], "Rating", ctx.report, ctx.skip_bad)
        ts, k4 = parse_int(chunk, chunk.columns[3], "Timestamp", ctx.report, ctx.skip_bad)
        keep = k1 & k2 & k3 & k4
        builder.add(user[keep], item[keep], ts[keep])
    label = f"{file}:{member}" if member else str(file)
    return RawData(builder.build(), label, _movies(root, ctx), _users(root, ctx))


def _side_rows(
    root: Path, name: str, n_fields: int, what: str, ctx: ReadContext
) -> list[list[str]] | None:
    found = find_optional(root, [name])
    if found is None:
        ctx.report.warn(f"{name} not found beside ratings.dat: no side table written")
        return None
    rows: list[list[str]] = []
    for chunk in delimited_chunks(*found, ctx, "::", n_fields, what, ENCODING):
        rows.extend(zip(*[c.tolist() for c in chunk.columns], strict=True))
    return rows


def _movies(root: Path, ctx: ReadContext) -> AuxTable | None:
    rows = _side_rows(root, "movies.dat", 3, "MovieID::Title::Genres", ctx)
    if rows is None:
        return None
    table: dict[str, list[str]] = {}
    for movie_id, title, genres in rows:
        m = _YEAR.match(title)
        name, year = (m.group(1), m.group(2)) if m else (title, "")
        table[movie_id] = clean_text([name, year, " ".join(genres.split("|"))])
    fields = [
        ("item_id", "token"),
        ("movie_title", "token_seq"),
        ("release_year", "token"),
        ("genre", "token_seq"),
    ]
    return AuxTable(fields, table)


def _users(root: Path, ctx: ReadContext) -> AuxTable | None:
    rows = _side_rows(root, "users.dat", 5, "UserID::Gender::Age::Occupation::Zip-code", ctx)
    if rows is None:
        return None
    fields = [
        ("user_id", "token"),
        ("gender", "token"),
        ("age", "token"),
        ("occupation", "token"),
        ("zip_code", "token"),
    ]
    return AuxTable(fields, {r[0]: clean_text(r[1:]) for r in rows})
