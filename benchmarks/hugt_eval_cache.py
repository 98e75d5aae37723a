"""HUGT's validation pass with and without the per-window graph cache (``graph_cache_mb``).

    python benchmarks/hugt_eval_cache.py --data_path ../shared/datasets --dataset ml-1m \
        --modes MP SE

For each graph mode, one seeded, untrained HUGT (the paper's ML-1M shape, ``eval_protocol:
hugt``), three validation passes in one process: without the cache, with an empty cache (it
builds and stores every window, as a run's first epoch), and again (it reads them, as every
later epoch); the seconds of each, the cache's size, and whether the three gave the same
metrics (they must: the cache is exact).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from common import machine
from recbole.trainer import Trainer

from recbole_hug.config import Config
from recbole_hug.model.graph_cache import WindowGraphCache
from recbole_hug.quick_start import _build


def passes(options: dict, mode: str) -> None:
    config = Config("HUGT", options["dataset"], config_dict={**options, "graph_mode": mode})
    _, _, valid, _, model = _build(config, log=False)
    model.eval()
    trainer = Trainer(config, model)
    seconds, results = [], []
    for limit in (0, 4 << 30, None):  # None: the same cache again
        if limit is not None:
            model.graph_cache = WindowGraphCache(limit)
        start = time.perf_counter()
        results.append(trainer.evaluate(valid, load_best_model=False))
        seconds.append(time.perf_counter() - start)
    stored = model.graph_cache.stored_bytes / 2**20
    print(
        f"| {mode} | {len(valid.dataset):,} | {seconds[0]:.1f} | {seconds[1]:.1f} "
        f"| {seconds[2]:.1f} | {seconds[0] / seconds[2]:.2f}x | {len(model.graph_cache):,} "
        f"| {stored:.0f} | {results[0] == results[1] == results[2]} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--modes", nargs="+", default=["MP", "SE"], choices=["MP", "SE"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    options = {
        "dataset": args.dataset,
        "data_path": os.path.abspath(args.data_path),
        "MAX_ITEM_LIST_LENGTH": 200,
        "eval_protocol": "hugt",
        "metrics": ["Hit", "NDCG"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "show_progress": False,
        "state": "WARNING",
        "seed": 2020,
    }
    os.chdir(tempfile.mkdtemp(prefix="hugt-eval-cache-"))
    print(machine(), f"torch threads {args.threads}")
    print(
        "\n| mode | validation rows | no cache, s | storing, s | reading, s | speed-up "
        "| windows stored | MiB | same metrics |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes:
        passes(options, mode)


if __name__ == "__main__":
    main()
