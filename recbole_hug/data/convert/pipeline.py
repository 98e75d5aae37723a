"""The papers' preprocessing steps, shared by every converter, in one fixed order.

1. ``drop_last_user``: the raw file is a head of a user-grouped file; drop its (cut) last user.
2. ``keep_types`` / ``drop_types``: filter by interaction type (Taobao behaviour, Xing type).
3. ``window``: keep interactions in a time window (inclusive days, at a UTC offset).
4. ``duplicates``: identical rows (user, item, time, type) dropped, kept, or an error.
5. sort by user, then time (stable: equal times keep file order).
6. ``session_gap``: session ids cut by :func:`recbole_hug.data.sessions.session_ids_by_gap`.
7. ``drop_repeats``: immediate repeats (same item as the previous row of the same session, or of
   the same user without sessions; with ``repeat_by_type`` the type must match too).
8. ``max_session_len``: keep the first N interactions of each session.
9. ``top_items``: keep the N most frequent items (ties: smaller integer id, or the named item
   seen first in the file).
10. iterative filtering to a fixed point: ``user_core``/``item_core`` interactions per user/item,
    ``min_session_len`` interactions per session, ``min_user_sessions`` sessions per user.

Every dropped row is counted in the :class:`Report` by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from ..sessions import session_ids_by_gap
from .errors import ConversionError, Report
from .table import Interactions, dense_codes


@dataclass
class Preprocess:
    """Preprocessing options (see the module docstring for the order); 0/None disables a step."""

    drop_last_user: bool = False
    keep_types: tuple[str, ...] | None = None
    drop_types: tuple[str, ...] | None = None
    window: tuple[str, str] | None = None
    utc_offset_hours: float = 0.0
    duplicates: str = "drop"
    session_gap: float | None = None
    drop_repeats: bool = False
    repeat_by_type: bool = False
    max_session_len: int = 0
    top_items: int = 0
    user_core: int = 0
    item_core: int = 0
    min_session_len: int = 0
    min_user_sessions: int = 0


def window_bounds(window: tuple[str, str], utc_offset_hours: float) -> tuple[int, int]:
    """Unix seconds of ``start 00:00:00`` and ``end 23:59:59`` (inclusive) at the UTC offset.

    Args:
        window: ``("YYYY-MM-DD", "YYYY-MM-DD")``.
        utc_offset_hours: the local time zone, e.g. 8 for Beijing time.
    """
    tz = timezone(timedelta(hours=utc_offset_hours))
    try:
        start = datetime.strptime(window[0], "%Y-%m-%d").replace(tzinfo=tz)
        end = datetime.strptime(window[1], "%Y-%m-%d").replace(tzinfo=tz)
    except ValueError as e:
        raise ConversionError(f"bad window {window!r}: expected YYYY-MM-DD:YYYY-MM-DD") from e
    if end < start:
        raise ConversionError(f"bad window {window!r}: the end is before the start")
    return int(start.timestamp()), int((end + timedelta(days=1)).timestamp()) - 1


def preprocess(
    inter: Interactions, opts: Preprocess, report: Report, source: str = ""
) -> Interactions:
    """Apply the steps enabled in ``opts`` to interactions in file order.

    Args:
        inter: the rows as read, in file order.
        opts: the options.
        report: where dropped rows are counted.
        source: the raw file, for error messages.

    Returns:
        The rows kept, sorted by user then time, with ``session`` set when a gap is given.
    """
    if opts.drop_last_user:
        inter = _drop_last_user(inter, report, source)
    inter = _filter_types(inter, opts, report)
    if opts.window is not None:
        lo, hi = window_bounds(opts.window, opts.utc_offset_hours)
        keep = (inter.time >= lo) & (inter.time <= hi)
        report.skip(
            f"outside window {opts.window[0]}..{opts.window[1]} (UTC{opts.utc_offset_hours:+g}h)",
            int((~keep).sum()),
        )
        inter = inter.select(keep)
    inter = _duplicates(inter, opts.duplicates, report, source)
    order = np.lexsort((inter.time, inter.user_sort_key()))
    inter = inter.select(order)
    if opts.session_gap:
        inter.session = session_ids_by_gap(inter.user, inter.time, opts.session_gap)
    if opts.drop_repeats:
        inter = _drop_repeats(inter, opts.repeat_by_type, report)
    if opts.max_session_len:
        inter = _truncate_sessions(inter, opts.max_session_len, report)
    if opts.top_items:
        inter = _top_items(inter, opts.top_items, report)
    inter = _iterative_filter(inter, opts, report)
    if inter.session is not None:
        inter.session = dense_codes(inter.session)
    return inter


def _drop_last_user(inter: Interactions, report: Report, source: str) -> Interactions:
    if len(inter) == 0:
        return inter
    changes = int(np.count_nonzero(inter.user[1:] != inter.user[:-1]))
    if changes + 1 != len(np.unique(inter.user)):
        raise ConversionError(
            "the users are not in contiguous blocks, so this is not a head of a user-grouped "
            "file (drop the truncated-head option)",
            source,
        )
    keep = inter.user != inter.user[-1]
    report.skip("last user of a truncated head (its block may be cut)", int((~keep).sum()))
    return inter.select(keep)


def _filter_types(inter: Interactions, opts: Preprocess, report: Report) -> Interactions:
    if opts.keep_types is None and opts.drop_types is None:
        return inter
    if inter.kind is None:
        raise ConversionError("this dataset has no interaction type to filter on")
    if opts.keep_types is not None:
        keep = np.isin(inter.kind, inter.kind_codes(opts.keep_types))
        report.skip(f"type not in {','.join(opts.keep_types)}", int((~keep).sum()))
        inter = inter.select(keep)
    if opts.drop_types is not None:
        keep = ~np.isin(inter.kind, inter.kind_codes(opts.drop_types))
        report.skip(f"type in {','.join(opts.drop_types)}", int((~keep).sum()))
        inter = inter.select(keep)
    return inter


def _duplicates(inter: Interactions, mode: str, report: Report, source: str) -> Interactions:
    if mode == "keep" or len(inter) == 0:
        return inter
    cols = {"u": inter.user, "i": inter.item, "t": inter.time}
    if inter.kind is not None:
        cols["k"] = inter.kind
    dup = pd.DataFrame(cols, copy=False).duplicated(keep="first").to_numpy()
    if not dup.any():
        return inter
    if mode == "error":
        row = int(np.flatnonzero(dup)[0])
        raise ConversionError(
            f"{int(dup.sum()):,} duplicate rows (first: data row {row + 1} in file order, user "
            f"{inter.user_strings(inter.user[row : row + 1])[0]}, item "
            f"{inter.item_strings(inter.item[row : row + 1])[0]}); use --duplicates "
            "drop or keep",
            source,
        )
    report.skip("exact duplicate rows", int(dup.sum()))
    return inter.select(~dup)


def _drop_repeats(inter: Interactions, by_type: bool, report: Report) -> Interactions:
    group = inter.session if inter.session is not None else inter.user
    same = (group[1:] == group[:-1]) & (inter.item[1:] == inter.item[:-1])
    if by_type and inter.kind is not None:
        same &= inter.kind[1:] == inter.kind[:-1]
    keep = np.concatenate([[True], ~same])
    report.skip("immediate repeats", int((~keep).sum()))
    return inter.select(keep)


def _truncate_sessions(inter: Interactions, max_len: int, report: Report) -> Interactions:
    if inter.session is None:
        raise ConversionError("max_session_len needs a session gap")
    position = pd.Series(inter.session).groupby(inter.session, sort=False).cumcount().to_numpy()
    keep = position < max_len
    report.skip(f"beyond the first {max_len} of a session", int((~keep).sum()))
    return inter.select(keep)


def _top_items(inter: Interactions, n: int, report: Report) -> Interactions:
    items, counts = np.unique(inter.item, return_counts=True)
    if len(items) > n:
        # most frequent first; np.unique sorted the ids (codes), so a stable sort breaks ties by
        # integer id, or by first appearance for named items
        order = np.argsort(-counts, kind="stable")
        keep = np.isin(inter.item, items[order[:n]])
        report.skip(f"item not in the {n:,} most popular", int((~keep).sum()))
        inter = inter.select(keep)
    return inter


def _iterative_filter(inter: Interactions, opts: Preprocess, report: Report) -> Interactions:
    needs_session = opts.min_session_len or opts.min_user_sessions
    if needs_session and inter.session is None:
        raise ConversionError("session filters need a session gap")
    if not (opts.user_core or opts.item_core or needs_session):
        return inter
    dropped = 0
    while len(inter):
        keep = np.ones(len(inter), dtype=bool)
        user = dense_codes(inter.user)
        if opts.item_core:
            item = dense_codes(inter.item)
            keep &= np.bincount(item)[item] >= opts.item_core
        if opts.user_core:
            keep &= np.bincount(user)[user] >= opts.user_core
        if opts.min_session_len:
            session = dense_codes(inter.session)
            keep &= np.bincount(session)[session] >= opts.min_session_len
        if opts.min_user_sessions:
            starts = np.concatenate([[True], inter.session[1:] != inter.session[:-1]])
            per_user = np.bincount(user, weights=starts.astype(np.float64))
            keep &= per_user[user] >= opts.min_user_sessions
        if keep.all():
            break
        dropped += int((~keep).sum())
        inter = inter.select(keep)
    names = [
        f"{label} {value}"
        for label, value in [
            ("user_core", opts.user_core),
            ("item_core", opts.item_core),
            ("min_session_len", opts.min_session_len),
            ("min_user_sessions", opts.min_user_sessions),
        ]
        if value
    ]
    report.skip(f"iterative filter ({', '.join(names)})", dropped)
    return inter
