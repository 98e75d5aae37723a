"""How often a row's target is an item of the user's earlier sessions, per part of the split.

    python benchmarks/hggnn_recurrence.py --data_path ../shared/datasets \
        --dataset taobao-ub-head lastfm-hetrec2011

HG-GNN's general preference reads the user's items through the ``interact`` edges of the
global graph, so what that graph can teach depends on how often a row's target is one of the
user's items elsewhere. For the rows of each part (``session_rows: True``: every next item of a
session), the share whose target is an item of the user's earlier sessions that build the
graph (training), of the earlier training or validation sessions (what test rows' graph holds),
of the session just before, and of any other training session, earlier or later (what a
training row can read with its own session left out); and the mean number of earlier sessions.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
from common import machine

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset

PARTS = ("train", "valid", "test")
COLUMNS = (
    "earlier training sessions",
    "earlier training or validation sessions",
    "the session just before",
    "any other training session",
)


def shares(user: np.ndarray, item: np.ndarray, session: np.ndarray, part: np.ndarray) -> dict:
    """Per part: ``[rows, share per COLUMNS..., mean earlier sessions]`` of the interactions
    (in session order per user, each session's interactions together) that follow the first of
    their session."""
    found: dict[int, list[list[float]]] = {p: [] for p in range(len(PARTS))}
    for u in np.unique(user):
        mine = np.flatnonzero(user == u)
        order = list(dict.fromkeys(session[mine]))
        items = {s: item[mine][session[mine] == s] for s in order}
        kind = {s: int(part[mine][session[mine] == s][0]) for s in order}
        for k, s in enumerate(order):
            earlier_train = {i for t in order[:k] if kind[t] == 0 for i in items[t]}
            earlier_seen = {i for t in order[:k] if kind[t] in (0, 1) for i in items[t]}
            before = set(items[order[k - 1]]) if k else set()
            other_train = {i for t in order if t != s and kind[t] == 0 for i in items[t]}
            for target in items[s][1:]:
                found[kind[s]].append(
                    [
                        target in earlier_train,
                        target in earlier_seen,
                        target in before,
                        target in other_train,
                        k,
                    ]
                )
    return {p: np.asarray(rows, dtype=float) for p, rows in found.items() if rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", nargs="+", default=["taobao-ub-head"])
    args = parser.parse_args()
    print(machine())
    data_path = os.path.abspath(args.data_path)
    os.chdir(tempfile.mkdtemp(prefix="hggnn-recurrence-"))
    for name in args.dataset:
        options = {"data_path": data_path, "show_progress": False, "state": "WARNING"}
        dataset = create_dataset(Config("HGGNN", name, config_dict=options))
        user = dataset.inter_feat[dataset.uid_field].to_numpy()
        item = dataset.inter_feat[dataset.iid_field].to_numpy()
        table = shares(user, item, dataset._session_id, dataset._session_part)
        print(f"\n### {name}: share of rows whose target is an item of the user's ...\n")
        print(f"| part | rows | {' | '.join(COLUMNS)} | earlier sessions (mean) |")
        print("|---|---|---|---|---|---|---|")
        for p, rows in table.items():
            cells = " | ".join(f"{v:.3f}" for v in rows[:, :4].mean(axis=0))
            print(f"| {PARTS[p]} | {len(rows):,} | {cells} | {rows[:, 4].mean():.1f} |")


if __name__ == "__main__":
    main()
