"""The statistics of the papers' Table 1, and their comparison with the paper's numbers."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import Report
from .table import Interactions

LABELS = {
    "users": "users",
    "items": "items",
    "interactions": "interactions",
    "density": "density",
    "avg_seq_len": "avg. sequence length",
    "sessions": "sessions",
    "avg_session_len": "avg. session length",
    "sessions_per_user": "sessions per user",
}
"""Printed names of the statistics, in print order."""


def statistics(inter: Interactions) -> dict[str, float]:
    """Users, items, interactions, density, average sequence length; and with sessions: sessions,
    average session length, sessions per user (HUGT Table 1 and HG-GNN Table 1)."""
    n = len(inter)
    users = len(np.unique(inter.user))
    items = len(np.unique(inter.item))
    out: dict[str, float] = {
        "users": users,
        "items": items,
        "interactions": n,
        "density": n / (users * items) if users and items else 0.0,
        "avg_seq_len": n / users if users else 0.0,
    }
    if inter.session is not None:
        sessions = len(np.unique(inter.session))
        out["sessions"] = sessions
        out["avg_session_len"] = n / sessions if sessions else 0.0
        out["sessions_per_user"] = sessions / users if users else 0.0
    return out


def _fmt(key: str, value: float) -> str:
    if key == "density":
        return f"{100 * value:.4f}%"
    if key in ("users", "items", "interactions", "sessions"):
        return f"{int(value):,}"
    return f"{value:.2f}"


def format_statistics(
    stats: Mapping[str, float], paper: Mapping[str, float] | None, paper_source: str, report: Report
) -> str:
    """A table of ``stats`` beside the paper's numbers; each difference becomes a warning.

    Counts are compared exactly, ratios at the paper's precision (2 decimals; density as a
    percentage with 2 decimals).
    """
    paper = paper or {}
    lines = [f"{'statistic':<22}{'converted':>16}{'paper':>16}"]
    for key, label in LABELS.items():
        if key not in stats:
            continue
        mine = _fmt(key, stats[key])
        theirs = _fmt(key, paper[key]) if key in paper else "-"
        lines.append(f"{label:<22}{mine:>16}{theirs:>16}")
        if key in paper and _differs(key, stats[key], paper[key]):
            report.warn(f"{label}: {mine} here vs {theirs} in {paper_source}")
    return "\n".join(lines)


def _differs(key: str, mine: float, theirs: float) -> bool:
    if key in ("users", "items", "interactions", "sessions"):
        return int(mine) != int(theirs)
    if key == "density":
        return round(100 * mine, 2) != round(100 * theirs, 2)
    return round(mine, 2) != round(theirs, 2)
