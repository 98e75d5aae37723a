"""Models trained to convergence on one dataset with several seeds: metrics, epochs, epoch time.

    python benchmarks/convergence.py --dataset taobao-ub-head \
        --models HGGNN GRU4Rec NARM SRGNN SASRec --seeds 2020 2021 2022 \
        --out results/taobao.jsonl -- --session_rows=True

Each run goes through recbole-hug's own preparation and trainer (early stopping on the validation
metric, test with the best checkpoint), one after the other. Every finished run is appended to
``--out`` (JSON lines) at once, and runs already there are skipped, so an interrupted grid
continues; several processes may share one ``--out`` (each claims a run in ``<out>.claims``
before it starts it; delete that file after an interruption). Options after ``--``
(``--key=value``) apply to every run; ``--variant NAME[=MODEL]:--key=value,...`` adds a named
configuration of MODEL (default: the first of ``--models``; ablations). The summary
(Markdown, mean and spread over the seeds) is printed at the end, or alone with ``--summary``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import machine

from recbole_hug.compat import trusted_checkpoints
from recbole_hug.config import Config, parse_option_value
from recbole_hug.quick_start import _build
from recbole_hug.utils import get_trainer

METRICS = ("hit@5", "hit@10", "mrr@5", "mrr@10", "ndcg@10")


def parse_options(items: list[str]) -> dict:
    """``--key=value`` strings -> options (values parsed as on the command line)."""
    options = {}
    for item in items:
        key, _, value = item.removeprefix("--").partition("=")
        options[key] = parse_option_value(value)
    return options


def one_run(model: str, dataset: str, seed: int, options: dict) -> dict:
    """Train ``model`` to convergence with ``seed``; its metrics, epochs and times."""
    config = Config(model, dataset, config_dict={**options, "seed": seed})
    start = time.perf_counter()
    _, train, valid, test, network = _build(config, log=False)
    prepared = time.perf_counter() - start
    trainer = get_trainer(config["MODEL_TYPE"], model)(config, network)
    epoch_seconds: list[float] = []
    train_epoch = trainer._train_epoch

    def timed_epoch(*args, **kwargs):
        begin = time.perf_counter()
        result = train_epoch(*args, **kwargs)
        epoch_seconds.append(time.perf_counter() - begin)
        return result

    trainer._train_epoch = timed_epoch
    with trusted_checkpoints():
        trainer.fit(train, valid, verbose=False, saved=True, show_progress=False)
        test_result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    return {
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "options": options,
        "best_epoch": len(epoch_seconds) - 1 - trainer.cur_step,  # from 0; eval_step 1
        "epochs": len(epoch_seconds),
        "epoch_seconds": statistics.median(epoch_seconds),
        "prepare_seconds": prepared,
        "valid": {k: float(v) for k, v in trainer.best_valid_result.items()},
        "test": {k: float(v) for k, v in test_result.items()},
        "machine": machine(),
    }


def summary(records: list[dict]) -> str:
    """Markdown: per configuration, test metrics mean ± spread (max - min over seeds)."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["name"], []).append(record)
    columns = [m for m in METRICS if all(m in r["test"] for r in records)]
    lines = [
        "| model | seeds | "
        + " | ".join(f"test {m}" for m in columns)
        + " | best epoch | epochs | s / epoch | preparation s |",
        "|---" * (len(columns) + 6) + "|",
    ]
    for name, runs in groups.items():
        cells = []
        for metric in columns:
            values = [r["test"][metric] for r in runs]
            cells.append(f"{statistics.mean(values):.4f} ± {max(values) - min(values):.4f}")
        lines.append(
            f"| {name} | {len(runs)} | "
            + " | ".join(cells)
            + f" | {', '.join(str(r['best_epoch']) for r in runs)}"
            + f" | {', '.join(str(r['epochs']) for r in runs)}"
            + f" | {statistics.mean(r['epoch_seconds'] for r in runs):.1f}"
            + f" | {statistics.mean(r['prepare_seconds'] for r in runs):.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--models", nargs="+", default=[])
    parser.add_argument("--variant", action="append", default=[], help="NAME[=MODEL]:--k=v,--k=v")
    parser.add_argument("--only-variants", action="store_true", help="skip the plain models")
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--summary", action="store_true", help="only print the summary")
    args, rest = parser.parse_known_args()
    options = {
        "data_path": os.path.abspath(args.data_path),
        "show_progress": False,
        "state": "WARNING",
        "topk": [5, 10],
        "metrics": ["Hit", "MRR", "NDCG"],
        **parse_options([item for item in rest if item != "--"]),
    }
    args.out = args.out.resolve()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    claims = args.out.with_name(args.out.name + ".claims")
    grid = [] if args.only_variants else [(model, model, {}) for model in args.models]
    for variant in args.variant:
        name, _, changes = variant.partition(":")
        name, _, model = name.partition("=")
        grid.append((name, model or args.models[0], parse_options(changes.split(","))))
    os.chdir(tempfile.mkdtemp(prefix="convergence-"))  # RecBole's log/ and saved/
    for seed in [] if args.summary else args.seeds:  # seed by seed: every model gets a run early
        for name, model, changes in grid:
            key = f"{args.dataset}/{name}/{seed}"
            if key in _lines(claims) or key in {_key(r) for r in _records(args.out)}:
                continue
            with claims.open("a") as file:
                file.write(key + "\n")
            record = {"name": name, **one_run(model, args.dataset, seed, {**options, **changes})}
            with args.out.open("a") as file:
                file.write(json.dumps(record) + "\n")
            print(name, seed, record["test"], record["epochs"], flush=True)
    print(summary([r for r in _records(args.out) if r["dataset"] == args.dataset]))


def _lines(path: Path) -> set[str]:
    return set(path.read_text().split()) if path.exists() else set()


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _key(record: dict) -> str:
    return f"{record['dataset']}/{record['name']}/{record['seed']}"


if __name__ == "__main__":
    main()
