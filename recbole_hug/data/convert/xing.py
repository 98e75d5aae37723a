"""Xing (RecSys Challenge 2016/2017) interactions: ``user_id,item_id,interaction_type,created_at``.

Tab or comma separated, with that header (other columns are ignored); ``created_at`` is Unix
seconds; the type (1 click, 2 bookmark, 3 reply, 4 delete; 0 impression, 5 recruiter interest
in 2017) becomes the interaction type. ``items.csv`` and ``users.csv`` beside it (tab-separated,
with a header) become the .item and .user tables, their comma-separated lists (``title``,
``tags``, ``jobroles``, ``edu_fieldofstudies``) as ``token_seq`` fields.
"""

from __future__ import annotations

from pathlib import Path

from .base import RawData, ReadContext, headed_chunks, headed_side_table
from .rawio import find_raw_file, require_path
from .records import parse_float, parse_int
from .table import InteractionBuilder

COLUMNS = ("user_id", "item_id", "interaction_type", "created_at")
EXPECTED = "interactions.csv (or .gz/.bz2) with header user_id,item_id,interaction_type,created_at"


def read_xing(path: Path, ctx: ReadContext) -> RawData:
    """Read the Xing interactions file (a file, or a folder holding interactions.csv)."""
    root = require_path(path, EXPECTED)
    file = root if root.is_file() else find_raw_file(root, ["interactions.csv"], EXPECTED)[0]
    builder = InteractionBuilder()
    for chunk in headed_chunks(file, ctx, COLUMNS):
        user, k1 = parse_int(chunk, chunk.columns[0], "user_id", ctx.report, ctx.skip_bad)
        item, k2 = parse_int(chunk, chunk.columns[1], "item_id", ctx.report, ctx.skip_bad)
        kind, k3 = parse_int(chunk, chunk.columns[2], "interaction_type", ctx.report, ctx.skip_bad)
        ts, k4 = parse_float(chunk, chunk.columns[3], "created_at", ctx.report, ctx.skip_bad)
        keep = k1 & k2 & k3 & k4
        builder.add(user[keep], item[keep], ts[keep], kind[keep].astype(str).astype(object))
    items = headed_side_table(root, "items.csv", "item_id", "\t", ctx, ("title", "tags"))
    users = headed_side_table(
        root, "users.csv", "user_id", "\t", ctx, ("jobroles", "edu_fieldofstudies")
    )
    return RawData(builder.build(), str(file), items, users)
