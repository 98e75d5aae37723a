"""Taobao UserBehavior.csv (Alibaba/Tianchi): ``user_id,item_id,category_id,behavior_type,ts``.

No header; behaviour in pv/buy/cart/fav; Unix seconds. ~100M rows, streamed in chunks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import RawData, ReadContext, delimited_chunks
from .errors import ConversionError
from .rawio import find_raw_file, require_path
from .records import parse_int
from .table import InteractionBuilder

BEHAVIORS = ("pv", "buy", "cart", "fav")
"""The behaviour types of the file."""

EXPECTED = "UserBehavior.csv (or .gz/.bz2/.zip), no header: user,item,category,behavior,timestamp"


def read_taobao(path: Path, ctx: ReadContext) -> RawData:
    """Read UserBehavior.csv (any file name when given directly) into file-order interactions.

    The behaviour becomes the interaction type (for ``--keep-types``); the category is checked
    to be an integer and otherwise dropped.
    """
    root = require_path(path, EXPECTED)
    if root.is_file() and root.suffix != ".zip":
        file, member = root, None
    else:
        file, member = find_raw_file(root, ["UserBehavior.csv"], EXPECTED)
    builder = InteractionBuilder()
    what = "user,item,category,behavior,timestamp"
    for chunk in delimited_chunks(file, member, ctx, ",", 5, what):
        user, k1 = parse_int(chunk, chunk.columns[0], "user_id", ctx.report, ctx.skip_bad)
        item, k2 = parse_int(chunk, chunk.columns[1], "item_id", ctx.report, ctx.skip_bad)
        _, k3 = parse_int(chunk, chunk.columns[2], "category_id", ctx.report, ctx.skip_bad)
        ts, k4 = parse_int(chunk, chunk.columns[4], "timestamp", ctx.report, ctx.skip_bad)
        behavior = chunk.columns[3]
        k5 = np.isin(behavior, BEHAVIORS)
        if not k5.all():
            i = int(np.flatnonzero(~k5)[0])
            if not ctx.skip_bad:
                raise ConversionError(
                    f"unknown behavior {behavior[i]!r} (expected one of {','.join(BEHAVIORS)})",
                    chunk.source,
                    int(chunk.lines[i]),
                )
            ctx.report.skip(f"unknown behavior in {chunk.source}", int((~k5).sum()))
        keep = k1 & k2 & k3 & k4 & k5
        builder.add(user[keep], item[keep], ts[keep], behavior[keep])
    return RawData(builder.build(), str(file))
