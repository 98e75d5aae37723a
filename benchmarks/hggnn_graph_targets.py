"""How often HG-GNN's global graph already holds a row's target, in training and at test time.

    python benchmarks/hggnn_graph_targets.py --data_path ../shared/datasets \
        --dataset taobao-ub-head lastfm-hetrec2011 [--graph_session_ratio 0.5] \
        [--train_graph cross_fit]

The global graph (section 4.2) is built from the training sessions, so every training row's
target is one of its user's ``interact`` neighbours, and its last item's ``out`` neighbours hold it
whenever that transition is among the item's top S. Valid and test rows have no such guarantee. For
each part, the share of rows whose target is among the neighbours of the row's last item (per item
edge type) or of its user, the share whose target is already in the session prefix, and how many
``out`` neighbours the last item has (Eq. 4 averages them: one neighbour is the target itself).
Each row is looked up in the graph it propagates over: its graph block (``graph_blocks``), so
with ``--train_graph cross_fit`` a training row reads the graph without its own session's fold.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import scipy.sparse as sp
from common import machine

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.graph.blocks import GRAPH_BLOCK_FIELD

PARTS = ("train", "valid", "test")


def neighbours(graph, edge_type: str) -> sp.csr_matrix:
    """The 0/1 adjacency of one edge type, rows the updated node, columns its neighbours."""
    src, dst, _ = graph.edge(edge_type)
    rows, cols = graph.shape(edge_type)
    return sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(rows, cols))


def contains(matrix: sp.csr_matrix, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``[n]`` bool: is ``targets[i]`` a column of row ``rows[i]`` of ``matrix``."""
    return np.asarray(matrix[rows.copy(), targets.copy()]).ravel() > 0


def block_nodes(dataset, rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[n]`` user, last prefix item and target of ``rows`` (an ``inter_feat``) as nodes of
    ``graph_blocks`` (node ``b * n + v``: node ``v`` in the graph of the row's block ``b``)."""
    block = rows[GRAPH_BLOCK_FIELD].numpy()
    users = rows[dataset.uid_field].numpy() + block * dataset.user_num
    prefix = rows[dataset.item_id_list_field].numpy()
    length = rows[dataset.item_list_length_field].numpy()
    target = rows[dataset.iid_field].numpy() + block * dataset.item_num
    last = prefix[np.arange(len(prefix)), length - 1] + block * dataset.item_num
    return users, last, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", nargs="+", default=["taobao-ub-head"])
    parser.add_argument("--graph_session_ratio", type=float, default=0.0)
    parser.add_argument("--train_graph", default="paper", choices=["paper", "cross_fit"])
    args = parser.parse_args()
    print(machine())
    data_path = os.path.abspath(args.data_path)
    os.chdir(tempfile.mkdtemp(prefix="hggnn-targets-"))
    for name in args.dataset:
        options = {
            "data_path": data_path,
            "show_progress": False,
            "state": "WARNING",
            "graph_session_ratio": args.graph_session_ratio,
            "train_graph": args.train_graph,
        }
        dataset = create_dataset(Config("HGGNN", name, config_dict=options))
        parts = dataset.build()
        graph = parts[0].graph_blocks  # node b * n + v: node v in the graph of block b
        # in/out: the last item's neighbours of that type; interact: the user's items.
        checks = {kind: neighbours(graph, kind) for kind in ("out", "in", "similar", "interact")}
        print(
            f"\n### {name}, graph_session_ratio {args.graph_session_ratio:g}, train_graph "
            f"{args.train_graph}: share of rows whose target is already a graph neighbour\n"
        )
        print(
            "| part | rows | last item `out` | last item `in` | last item `similar` "
            "| user `interact` | any of these | target in the prefix "
            "| `out` neighbours of the last item (median) | target its only `out` neighbour |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for part, data in zip(PARTS, parts, strict=True):
            rows = data.inter_feat
            block = rows[GRAPH_BLOCK_FIELD].numpy()
            prefix = rows[dataset.item_id_list_field].numpy()
            users, last, target = block_nodes(dataset, rows)
            found = {
                kind: contains(matrix, users if kind == "interact" else last, target)
                for kind, matrix in checks.items()
            }
            anything = np.logical_or.reduce(list(found.values()))
            in_prefix = (prefix == (target - block * dataset.item_num)[:, None]).any(axis=1)
            degree = np.diff(checks["out"].indptr)[last]
            only = found["out"] & (degree == 1)
            cells = " | ".join(f"{v.mean():.3f}" for v in (*found.values(), anything, in_prefix))
            print(
                f"| {part} | {len(target):,} | {cells} | {np.median(degree):g} "
                f"| {only.mean():.3f} |"
            )


if __name__ == "__main__":
    main()
