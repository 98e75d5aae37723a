"""HUG preparation at Netflix's size, on synthetic data of its shape (target: 5 min, 8 GB).

    python benchmarks/hug_size.py                      # 376k users, 17.7k items, 31M rows
    python benchmarks/hug_size.py --scale 0.01         # a quick check of the script

The HUGT paper's Netflix (section 5.1.1 after its preprocessing): 376,124 users, 17,731 items,
31.0M interactions, ``L = 100``. The stream (users sorted, items drawn with a Zipf-like
popularity, user lengths from a log-normal with Netflix's mean) is generated first; then the
steps HUGTDataset takes on a loaded dataset are timed one by one, as on ML-1M in
``hugt_speed.py``: RecBole's rows as indices, the whole-sequence training windows (inputs and
targets, under the paper's 90/10 protocol), and the truncated SVD of the training matrix. Peak
memory is the process's maximum resident set (``ru_maxrss``), before and after preparation.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from common import machine

from recbole_hug.data.protocols import train_lengths
from recbole_hug.data.sequences import prefix_rows, training_windows, user_starts
from recbole_hug.graph.hug import svd_item_embeddings

USERS, ITEMS, INTERACTIONS, LENGTH = 376_124, 17_731, 31_000_000, 100


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def synthetic_stream(scale: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(users, items, n_users, n_items)``: a user-sorted stream of Netflix's shape."""
    rng = np.random.default_rng(seed)
    n_users, n_items = int(USERS * scale), max(int(ITEMS * scale**0.5), 100)
    mean = INTERACTIONS / USERS
    lengths = np.maximum(5, rng.lognormal(np.log(mean) - 0.5, 1.0, n_users)).astype(np.int64)
    users = np.repeat(np.arange(1, n_users + 1, dtype=np.int64), lengths)
    popularity = 1.0 / np.arange(1, n_items) ** 0.8
    items = rng.choice(np.arange(1, n_items), size=len(users), p=popularity / popularity.sum())
    return users, items.astype(np.int64), n_users + 1, n_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of Netflix's users")
    parser.add_argument("--svd-dim", type=int, default=64)
    args = parser.parse_args()
    print(machine())
    users, items, n_users, n_items = synthetic_stream(args.scale)
    before = _peak_gb()
    times = {}
    start = time.perf_counter()
    target, _ = prefix_rows(users, LENGTH)
    times["rows as indices"] = time.perf_counter() - start
    start = time.perf_counter()
    starts = user_starts(users)
    first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    n_train = train_lengths(np.diff(np.r_[first, len(users)]), 0.9)
    rank = np.arange(len(users)) - starts
    is_target = np.zeros(len(users), dtype=bool)
    is_target[target] = True
    is_target &= rank < np.repeat(n_train, np.diff(np.r_[first, len(users)]))
    windows = training_windows(users, is_target, LENGTH)
    inputs, targets = windows.inputs(items, LENGTH), windows.targets(items, is_target, LENGTH)
    positions = windows.positions()
    times["training windows, inputs and targets"] = time.perf_counter() - start
    start = time.perf_counter()
    svd_item_embeddings(users[positions], items[positions], n_users, n_items, args.svd_dim)
    times[f"truncated SVD (svd_dim {args.svd_dim})"] = time.perf_counter() - start
    print(
        f"\n### HUG preparation, synthetic Netflix shape x {args.scale} ({n_users - 1:,} users, "
        f"{n_items - 1:,} items, {len(users):,} interactions, L = {LENGTH}; "
        f"{len(target):,} rows, {len(windows.end):,} windows of {inputs.shape[1]})\n"
    )
    print("| step | seconds |\n|---|---|")
    for step, seconds in times.items():
        print(f"| {step} | {seconds:.1f} |")
    print(f"| **in all** | **{sum(times.values()):.1f}** |")
    print(
        f"\nPeak resident memory: {before:.2f} GB after generating the stream, "
        f"{_peak_gb():.2f} GB after preparation ({targets.nbytes / 2**30:.2f} GB of targets)."
    )


if __name__ == "__main__":
    main()
