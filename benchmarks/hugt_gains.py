"""Which users and positions gain or lose between two entries of a reproduction folder.

Reads the test rows that the runner keeps for each run (``ranks/<run_id>.npz``: per test row the
user, the length of its item sequence and the rank of its target in the top K) of two entries
run with the same seeds, and compares them row by row: HR@10 and NDCG@10 per bucket of the
sequence length the model saw (the window: at most MAX_ITEM_LIST_LENGTH) and per bucket of the
user's number of evaluated steps (10% of the user's interactions under the paper's protocol: a
proxy of the user's length), the share of users whose HR@10 rises or falls, and a paired
bootstrap over users (1,000 resamples) of the difference in HR@10 and NDCG@10.

    python benchmarks/hugt_gains.py benchmarks/results/hugt-reproduce-ml-1m \
        --table table2 --base SASRec-Ours --other HUGT-MP

Prints markdown and writes ``<folder>/gains-<base>-vs-<other>.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np


def row_metrics(ranks: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Per row: HR@k (0/1) and NDCG@k from ranks (1 = first; 0 = beyond the kept top K)."""
    hit = (ranks > 0) & (ranks <= k)
    ndcg = np.where(hit, 1.0 / np.log2(np.maximum(ranks, 1) + 1.0), 0.0)
    return hit.astype(float), ndcg


def bootstrap_by_user(
    users: np.ndarray, diff: np.ndarray, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% interval of the mean per-row difference, resampling whole users."""
    order = np.argsort(users, kind="stable")
    users, diff = users[order], diff[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    sums = np.add.reduceat(diff, starts)
    counts = np.diff(np.r_[starts, len(users)])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(starts), size=(resamples, len(starts)))
    means = sums[picks].sum(1) / counts[picks].sum(1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def buckets(values: np.ndarray, edges: list[float]) -> list[tuple[str, np.ndarray]]:
    """``(label, mask)`` per half-open bucket ``[edges[i], edges[i + 1])``."""
    out = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        label = f"{low:g}-{high - 1:g}" if np.isfinite(high) else f">= {low:g}"
        out.append((label, (values >= low) & (values < high)))
    return out


def compare(base: dict, other: dict) -> dict:
    """The comparison of two runs' test rows (``user``, ``length``, ``rank`` arrays)."""
    if not np.array_equal(base["user"], other["user"]):
        raise SystemExit("the two runs' test rows differ: not the same split")
    users, lengths = base["user"], base["length"]
    hit_a, ndcg_a = row_metrics(base["rank"])
    hit_b, ndcg_b = row_metrics(other["rank"])
    steps = np.bincount(users)[users]  # each row's user: number of evaluated steps
    width = int(lengths.max())
    groups = {
        "window length": buckets(lengths, [1, 50, 100, 150, width, np.inf]),
        "user's evaluated steps": buckets(steps, [1, 5, 10, 20, 40, np.inf]),
    }
    table = []
    for kind, parts in groups.items():
        for label, mask in parts:
            if mask.any():
                table.append(
                    {
                        "by": kind,
                        "bucket": label,
                        "rows": int(mask.sum()),
                        "users": int(len(np.unique(users[mask]))),
                        "hr_base": float(hit_a[mask].mean()),
                        "hr_other": float(hit_b[mask].mean()),
                        "ndcg_base": float(ndcg_a[mask].mean()),
                        "ndcg_other": float(ndcg_b[mask].mean()),
                    }
                )
    per_user_a = np.bincount(users, hit_a) / np.maximum(np.bincount(users), 1)
    per_user_b = np.bincount(users, hit_b) / np.maximum(np.bincount(users), 1)
    present = np.bincount(users) > 0
    delta = (per_user_b - per_user_a)[present]
    return {
        "rows": len(users),
        "hr": [float(hit_a.mean()), float(hit_b.mean())],
        "ndcg": [float(ndcg_a.mean()), float(ndcg_b.mean())],
        "hr_diff_95": bootstrap_by_user(users, hit_b - hit_a),
        "ndcg_diff_95": bootstrap_by_user(users, ndcg_b - ndcg_a),
        "users_up": float((delta > 0).mean()),
        "users_down": float((delta < 0).mean()),
        "buckets": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--table", default="table2")
    parser.add_argument("--base", default="SASRec-Ours")
    parser.add_argument("--other", default="HUGT-MP")
    args = parser.parse_args()
    with open(args.folder / "runs.csv", encoding="utf-8", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["table"] == args.table]
    runs = {(row["entry"], row["seed"]): row["run_id"] for row in rows}
    seeds = sorted(
        {s for (e, s) in runs if e == args.base} & {s for (e, s) in runs if e == args.other}
    )
    if not seeds:
        raise SystemExit(f"no seed has runs of both {args.base!r} and {args.other!r}")
    report = {}
    for seed in seeds:
        loaded = [
            dict(np.load(args.folder / "ranks" / f"{runs[(entry, seed)]}.npz"))
            for entry in (args.base, args.other)
        ]
        result = compare(*loaded)
        report[seed] = result
        print(f"## seed {seed}: {args.base} -> {args.other}, {result['rows']} test rows\n")
        print(
            f"HR@10 {result['hr'][0]:.4f} -> {result['hr'][1]:.4f} (difference, 95% by user: "
            f"{result['hr_diff_95'][0]:+.4f} to {result['hr_diff_95'][1]:+.4f}); NDCG@10 "
            f"{result['ndcg'][0]:.4f} -> {result['ndcg'][1]:.4f} ({result['ndcg_diff_95'][0]:+.4f}"
            f" to {result['ndcg_diff_95'][1]:+.4f}); users whose HR@10 rises "
            f"{result['users_up']:.1%}, falls {result['users_down']:.1%}\n"
        )
        print("| by | bucket | rows | users | HR@10 base | HR@10 other | NDCG@10 base | other |")
        print("|---|---|---|---|---|---|---|---|")
        for b in result["buckets"]:
            print(
                f"| {b['by']} | {b['bucket']} | {b['rows']} | {b['users']} | {b['hr_base']:.4f} "
                f"| {b['hr_other']:.4f} | {b['ndcg_base']:.4f} | {b['ndcg_other']:.4f} |"
            )
        print()
    out = args.folder / f"gains-{args.base}-vs-{args.other}.json"
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
