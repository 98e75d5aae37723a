"""What one training epoch of each model of a reproduction grid costs, before running the grid.

Times ``--batches`` training batches of each model with the grid's options on the dataset (the
HUGT grid: the paper's protocol, L = 200, batch 128, hidden 50), extrapolates to the epoch, and
prints the epoch's rows, batches and estimated seconds: which of RecBole's every-prefix
baselines fit the machine's budget.

    python benchmarks/epoch_cost.py --paper hugt --dataset ml-1m --data_path ../shared/datasets \
        --models GRU4Rec,SASRec,BERT4Rec,FOSSIL,SRGNN,HUGT

Appends one JSON line per model to ``benchmarks/results/epoch-cost-<paper>-<dataset>.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from common import epoch_seconds, machine

from recbole_hug.reproduce.grid import Entry, load_grid
from recbole_hug.reproduce.runner import _data_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paper", default="hugt")
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--models", default="GRU4Rec,SASRec,BERT4Rec,FOSSIL,SRGNN,HUGT")
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    grid = load_grid(args.paper)
    folder = _data_folder(args.dataset, args.data_path)
    out = Path(f"benchmarks/results/epoch-cost-{args.paper}-{args.dataset}.jsonl")
    for model in args.models.split(","):
        entry = Entry(name=model, model=model, options={}, x=None, paper={})
        options = {
            **grid.run_options(args.dataset, entry, quick=False),
            "dataset": args.dataset,
            "data_path": str(folder.parent),
            "state": "WARNING",
        }
        seconds, batches = epoch_seconds(model, options, args.batches)
        record = {
            "model": model,
            "batches": batches,
            "epoch_seconds": round(seconds, 1),
            "timed_batches": args.batches,
            "threads": torch.get_num_threads(),
            "machine": machine(),
        }
        print(f"{model}: {batches} batches per epoch, about {seconds:.0f} s per epoch")
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
