"""Do HUGT's collaborative edges connect what they should? Measured on a dataset's training part.

A collaborative edge links a position's item to one of its ``k`` most similar predecessors, by the
cosine of the truncated-SVD item vectors (``recbole_hug.graph.hug``). Items that belong together
are items that the same users consume: this script measures, for the edges of sampled training
windows, the co-occurrence lift of the two items over the training users,

    lift(a, b) = |users with a and b| * |users| / (|users with a| * |users with b|),

(1 = independent), and compares the collaborative edges (each k, SVD vectors unscaled as
shipped and scaled by the singular values, option ``svd_scaled``) with the sequential edges
(each position to the one before it) and with uniformly drawn predecessors. Nothing is trained.

    python benchmarks/hug_edges.py --dataset ml-1m --data_path ../shared/datasets

Prints a markdown table and writes ``benchmarks/results/hug-edges-<dataset>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from common import machine

from recbole_hug.config import Config
from recbole_hug.data.protocols import TRAIN, stream_parts
from recbole_hug.data.utils import create_dataset
from recbole_hug.graph.hug import knn_predecessor_edges, svd_item_embeddings


def lift_table(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """``[n_items, n_items]`` co-occurrence lift over users (0 where an item has no user)."""
    matrix = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users, n_items))
    matrix.data[:] = 1.0
    counts = np.asarray(matrix.sum(0)).ravel()
    both = (matrix.T @ matrix).toarray()
    real_users = np.count_nonzero(np.asarray(matrix.sum(1)).ravel())
    expected = np.outer(counts, counts) / real_users
    return np.divide(both, expected, out=np.zeros_like(both), where=expected > 0)


def edge_stats(name: str, seq: np.ndarray, adj: np.ndarray, lift: np.ndarray) -> dict:
    """Lift statistics of the edges ``adj[b, i, j]`` between items ``seq[b, i]`` and ``seq[b, j]``
    (repeats of one item excluded: their lift says nothing about relatedness)."""
    b, i, j = np.nonzero(adj)
    a, c = seq[b, i], seq[b, j]
    keep = a != c
    values = lift[a[keep], c[keep]]
    return {
        "edges": name,
        "count": int(keep.sum()),
        "repeats": float(1 - keep.mean()) if len(keep) else 0.0,
        "mean_log2_lift": float(np.log2(np.maximum(values, 1e-3)).mean()),
        "median_lift": float(np.median(values)),
        "share_lift_above_1": float((values > 1).mean()),
        "share_lift_above_2": float((values > 2).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--max_len", type=int, default=200)
    parser.add_argument("--windows", type=int, default=400, help="training windows sampled")
    parser.add_argument("--ks", default="5,10,20,50")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    options = {
        "data_path": args.data_path,
        "eval_protocol": "hugt",
        "MAX_ITEM_LIST_LENGTH": args.max_len,
        "state": "WARNING",
        "checkpoint_dir": "saved",
    }
    config = Config("HUGT", args.dataset, config_dict=options)
    dataset = create_dataset(config)
    train = dataset.build()[0]
    users, items = dataset._stream_users, dataset._stream_items
    is_train = stream_parts(users, 0.9, 0.3, config["seed"]) == TRAIN
    lift = lift_table(users[is_train], items[is_train], dataset.user_num, dataset.item_num)
    windows = train.inter_feat["item_id_list"]
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(windows), size=min(args.windows, len(windows)), replace=False)
    seq = windows[torch.from_numpy(np.sort(chosen))]
    seq_np = seq.numpy()
    real = seq_np > 0
    rows = []
    sequential = np.zeros(seq_np.shape + (seq_np.shape[1],), dtype=bool)
    idx = np.arange(1, seq_np.shape[1])
    sequential[:, idx, idx - 1] = real[:, idx] & real[:, idx - 1]
    rows.append(edge_stats("sequential (i, i-1)", seq_np, sequential, lift))
    # one uniformly drawn real predecessor per position
    uniform = np.zeros_like(sequential)
    for b in range(len(seq_np)):
        positions = np.flatnonzero(real[b])
        for n, i in enumerate(positions[1:], 1):
            uniform[b, i, positions[rng.integers(0, n)]] = True
    rows.append(edge_stats("random predecessor", seq_np, uniform, lift))
    train_users, train_items = users[is_train], items[is_train]
    for scaled in (False, True):
        emb = svd_item_embeddings(
            train_users,
            train_items,
            dataset.user_num,
            dataset.item_num,
            config["svd_dim"],
            config["seed"],
            scaled,
        )
        for k in (int(v) for v in args.ks.split(",")):
            adj = knn_predecessor_edges(seq, torch.from_numpy(emb), k).numpy()
            label = f"collaborative k={k}" + (" (SVD scaled)" if scaled else "")
            rows.append(edge_stats(label, seq_np, adj, lift))
    header = "| edges | count | repeats | mean log2 lift | median lift | lift > 1 | lift > 2 |"
    print(header + "\n|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['edges']} | {row['count']} | {row['repeats']:.3f} | "
            f"{row['mean_log2_lift']:.3f} | {row['median_lift']:.3f} | "
            f"{row['share_lift_above_1']:.3f} | {row['share_lift_above_2']:.3f} |"
        )
    out = Path(args.out or f"benchmarks/results/hug-edges-{args.dataset}.json")
    record = {"machine": machine(), "windows": len(seq_np), "args": vars(args), "rows": rows}
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
