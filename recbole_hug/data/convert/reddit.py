"""Reddit subreddit interactions (Kaggle "subreddit-interactions", ``reddit_data.csv``).

Header ``username,subreddit,utc``; ``utc`` is Unix seconds (may have decimals).
"""

from __future__ import annotations

from pathlib import Path

from .base import RawData, ReadContext, headed_chunks
from .rawio import find_raw_file, require_path
from .records import check_nonempty, parse_float
from .table import InteractionBuilder

COLUMNS = ("username", "subreddit", "utc")
EXPECTED = "reddit_data.csv (or .gz/.bz2) with header username,subreddit,utc"


def read_reddit(path: Path, ctx: ReadContext) -> RawData:
    """Read the Reddit interactions file (a file, or a folder holding reddit_data.csv)."""
    root = require_path(path, EXPECTED)
    file = root if root.is_file() else find_raw_file(root, ["reddit_data.csv"], EXPECTED)[0]
    builder = InteractionBuilder(string_users=True, string_items=True)
    for chunk in headed_chunks(file, ctx, COLUMNS):
        k1 = check_nonempty(chunk, chunk.columns[0], "username", ctx.report, ctx.skip_bad)
        k2 = check_nonempty(chunk, chunk.columns[1], "subreddit", ctx.report, ctx.skip_bad)
        ts, k3 = parse_float(chunk, chunk.columns[2], "utc", ctx.report, ctx.skip_bad)
        keep = k1 & k2 & k3
        builder.add(chunk.columns[0][keep], chunk.columns[1][keep], ts[keep])
    return RawData(builder.build(), str(file))
