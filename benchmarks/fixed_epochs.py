"""Variants of one model trained for a fixed number of epochs: per-epoch time and validation.

    python benchmarks/fixed_epochs.py --model HUGT --dataset ml-1m --epochs 8 \
        --out benchmarks/results/hugt-attn-dropout.jsonl \
        --variant "attn_dropout 0.2:--attn_dropout_prob=0.2" \
        --variant "attn_dropout 0:--attn_dropout_prob=0" \
        -- --data_path=../shared/datasets --MAX_ITEM_LIST_LENGTH=200 --eval_protocol=hugt

For comparisons whose question is "does this option cost accuracy or time" (attention dropout,
mixed precision): every variant trains from the same seed for ``--epochs`` epochs, no early
stopping, and each epoch's training seconds, validation seconds and validation metrics are
appended to ``--out`` (JSON lines) as soon as the epoch ends; a variant whose epochs are all there
is skipped, so an interrupted comparison continues. ``--summary`` prints the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from common import machine
from convergence import parse_options

from recbole_hug.config import Config
from recbole_hug.quick_start import _build
from recbole_hug.utils import get_trainer


def _done(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def run_variant(name: str, model: str, dataset: str, epochs: int, options: dict, out: Path):
    """Train one variant for ``epochs`` epochs, appending a record per epoch to ``out``."""
    config = Config(model, dataset, config_dict=options)
    _, train, valid, _, network = _build(config, log=False)
    trainer = get_trainer(config["MODEL_TYPE"], model)(config, network)
    for epoch in range(epochs):
        start = time.perf_counter()
        network.train()
        loss = trainer._train_epoch(train, epoch, show_progress=False)
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        _, result = trainer._valid_epoch(valid, show_progress=False)
        record = {
            "variant": name,
            "model": model,
            "dataset": dataset,
            "epoch": epoch,
            "loss": float(sum(loss) if isinstance(loss, tuple) else loss),
            "train_s": train_s,
            "valid_s": time.perf_counter() - start,
            "valid": {key: float(value) for key, value in result.items()},
            "machine": machine(),
        }
        with out.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)


def summary(records: list[dict], metric: str) -> str:
    """Markdown: per variant, median epoch seconds, validation seconds, and the metric at the
    last epoch and its best over the epochs."""
    lines = [
        f"| variant | epochs | train s / epoch (median) | valid s (median) | {metric} last "
        f"| {metric} best (epoch) |",
        "|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(record["variant"] for record in records):
        rows = [record for record in records if record["variant"] == name]
        train_s = sorted(row["train_s"] for row in rows)[len(rows) // 2]
        valid_s = sorted(row["valid_s"] for row in rows)[len(rows) // 2]
        best = max(rows, key=lambda row: row["valid"][metric])
        lines.append(
            f"| {name} | {len(rows)} | {train_s:.1f} | {valid_s:.1f} | "
            f"{rows[-1]['valid'][metric]:.4f} | {best['valid'][metric]:.4f} ({best['epoch']}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variant", action="append", default=[], help="NAME:--key=value,...")
    parser.add_argument("--metric", default="ndcg@10")
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("options", nargs="*", help="--key=value options of every variant")
    args = parser.parse_args()
    out = args.out.resolve()
    if not args.summary:
        base = parse_options(args.options)
        if "data_path" in base:
            base["data_path"] = os.path.abspath(base["data_path"])
        base.setdefault("show_progress", False)
        base.setdefault("state", "WARNING")
        os.chdir(tempfile.mkdtemp(prefix="fixed-epochs-"))  # RecBole's log/ and saved/
        for spec in args.variant or ["default:"]:
            name, _, extra = spec.partition(":")
            done = [r for r in _done(out) if r["variant"] == name and r["model"] == args.model]
            if len(done) >= args.epochs:
                continue
            if done:  # an interrupted variant starts over: its epochs depend on each other
                kept = [r for r in _done(out) if r["variant"] != name]
                out.write_text("".join(json.dumps(r) + "\n" for r in kept))
            options = {**base, **parse_options([o for o in extra.split(",") if o])}
            run_variant(name, args.model, args.dataset, args.epochs, options, out)
    records = [r for r in _done(out) if r["model"] == args.model and r["dataset"] == args.dataset]
    print(summary(records, args.metric))


if __name__ == "__main__":
    main()
