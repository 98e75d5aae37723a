"""Last.fm 1K (Celma): ``userid-timestamp-artid-artname-traid-traname.tsv``.

No header; ISO UTC times (``2009-05-04T23:08:57Z``); the file is sorted by user, then time
descending (the preprocessing sorts ascending); some artist/track ids are empty: those rows are
dropped and counted (as in HG-GNN's public code, which drops rows with a missing id). The user
profiles beside it (``userid-profile.tsv``) become the .user table.
"""

from __future__ import annotations

from pathlib import Path

from .base import RawData, ReadContext, delimited_chunks, headed_side_table
from .errors import ConversionError
from .rawio import find_raw_file, require_path
from .records import check_nonempty, parse_time
from .table import InteractionBuilder

FILE = "userid-timestamp-artid-artname-traid-traname.tsv"
PROFILES = "userid-profile.tsv"
"""The user profiles (``#id gender age country registered``), written as the .user table."""
EXPECTED = f"{FILE} (or lastfm-dataset-1K.tar.gz extracted, .gz/.bz2/.zip)"
ITEM_COLUMNS = {"artist": 2, "track": 4}
"""Column of the item id for each item level."""


def read_lastfm(path: Path, ctx: ReadContext) -> RawData:
    """Read the Last.fm 1K listening log with artist (default) or track items."""
    if ctx.item_level not in ITEM_COLUMNS:
        raise ConversionError(f"item level must be one of {sorted(ITEM_COLUMNS)}")
    root = require_path(path, EXPECTED)
    if root.is_file() and root.suffix != ".zip":
        file, member = root, None
    else:
        file, member = find_raw_file(root, [FILE], EXPECTED)
    column = ITEM_COLUMNS[ctx.item_level]
    builder = InteractionBuilder(string_users=True, string_items=True)
    what = "userid,timestamp,artid,artname,traid,traname"
    for chunk in delimited_chunks(file, member, ctx, "\t", 6, what):
        k1 = check_nonempty(chunk, chunk.columns[0], "userid", ctx.report, ctx.skip_bad)
        ts, k2 = parse_time(
            chunk, chunk.columns[1], "%Y-%m-%dT%H:%M:%SZ", "timestamp", ctx.report, ctx.skip_bad
        )
        items = chunk.columns[column]
        has_item = items != ""
        ctx.report.skip(f"empty {ctx.item_level} id", int((k1 & k2 & ~has_item).sum()))
        keep = k1 & k2 & has_item
        builder.add(chunk.columns[0][keep], items[keep], ts[keep])
    users = headed_side_table(root, PROFILES, "user_id", "\t", ctx)
    return RawData(builder.build(), str(file) + (f":{member}" if member else ""), users=users)
