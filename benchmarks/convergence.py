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
configuration of MODEL (default: the first of ``--models``; ablations). With
``--learning-rates``, the learning rate of every model in ``--models`` is chosen on validation, as
the HG-GNN paper does for every model: on the first seed each model runs once per learning rate
(named ``MODEL (lr X)``), and the later seeds run only the one with the best validation
``valid_metric`` on the first seed. The summary (Markdown, mean and spread over the seeds, and the
learning-rate choice) is printed at the end, or alone with ``--summary``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
        "train_loss": [  # per epoch, the mean over its batches (RecBole records the sum)
            float(trainer.train_loss_dict[epoch]) / len(train)
            for epoch in range(len(epoch_seconds))
        ],
        "prepare_seconds": prepared,
        "valid_metric": config["valid_metric"].lower(),
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
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME[=MODEL]:--k=v,--k=v (a value may hold commas: [a,b])",
    )
    parser.add_argument("--only-variants", action="store_true", help="skip the plain models")
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--summary", action="store_true", help="only print the summary")
    parser.add_argument(
        "--learning-rates", nargs="+", type=float, default=[], help="chosen on validation"
    )
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
    if args.only_variants:
        grid = []
    elif args.learning_rates:
        grid = [
            (lr_name(m, lr), m, {"learning_rate": lr})
            for m in args.models
            for lr in args.learning_rates
        ]
    else:
        grid = [(model, model, {}) for model in args.models]
    for variant in args.variant:
        name, _, changes = variant.partition(":")
        name, _, model = name.partition("=")
        grid.append((name, model or args.models[0], parse_options(re.split(r",(?=--)", changes))))
    os.chdir(tempfile.mkdtemp(prefix="convergence-"))  # RecBole's log/ and saved/
    for seed in [] if args.summary else args.seeds:  # seed by seed: every model gets a run early
        for name, model, changes in grid:
            if (
                seed != args.seeds[0]
                and args.learning_rates
                and name != lr_name(model, chosen_lr(model, args, claims))
            ):
                continue
            key = f"{args.dataset}/{name}/{seed}"
            if key in _lines(claims) or key in {_key(r) for r in _records(args.out)}:
                continue
            with claims.open("a") as file:
                file.write(key + "\n")
            record = {"name": name, **one_run(model, args.dataset, seed, {**options, **changes})}
            with args.out.open("a") as file:
                file.write(json.dumps(record) + "\n")
            print(name, seed, record["test"], record["epochs"], flush=True)
    records = [r for r in _records(args.out) if r["dataset"] == args.dataset]
    if not args.learning_rates:
        print(summary(records))
        return
    scored = [m for m in args.models if len(first_seed_scores(m, args)) == len(args.learning_rates)]
    chosen = {lr_name(m, chosen_lr(m, args, claims)) for m in scored}
    print("At the chosen learning rates:\n")
    print(summary([r for r in records if r["name"] in chosen]))
    print("\nAt the others:\n")
    print(summary([r for r in records if r["name"] not in chosen]))
    print("\n" + lr_summary(records, args, claims))


def lr_name(model: str, lr: float) -> str:
    """The configuration name of ``model`` at learning rate ``lr``: ``SRGNN (lr 0.01)``."""
    return f"{model} (lr {lr:g})"


def first_seed_scores(model: str, args: argparse.Namespace) -> dict[float, float]:
    """Learning rate -> validation score of ``model`` on the first seed (finished runs)."""
    names = {lr_name(model, lr): lr for lr in args.learning_rates}
    return {
        names[r["name"]]: r["valid"][r.get("valid_metric", "hit@10")]
        for r in _records(args.out)
        if (r["dataset"], r["seed"]) == (args.dataset, args.seeds[0]) and r["name"] in names
    }


def chosen_lr(model: str, args: argparse.Namespace, claims: Path) -> float:
    """The learning rate of ``model`` with the best first-seed validation score (ties: the
    first given); waits while another process is still running one of those runs."""
    while True:
        scores = first_seed_scores(model, args)
        if len(scores) == len(args.learning_rates):
            return max(args.learning_rates, key=lambda lr: scores[lr])
        keys = {
            f"{args.dataset}/{lr_name(model, lr)}/{args.seeds[0]}" for lr in args.learning_rates
        }
        if not keys <= _lines(claims):
            raise SystemExit(f"{model}: the first seed's runs are neither done nor claimed")
        time.sleep(30)


def lr_summary(records: list[dict], args: argparse.Namespace, claims: Path) -> str:
    """Markdown: each model's first-seed validation score per learning rate, and the choice."""
    metric = next((r["valid_metric"] for r in records if "valid_metric" in r), "hit@10")
    lines = [
        f"| model | {' | '.join(f'lr {lr:g}' for lr in args.learning_rates)} | chosen |",
        "|---" * (len(args.learning_rates) + 2) + "|",
    ]
    for model in args.models:
        scores = first_seed_scores(model, args)
        if len(scores) < len(args.learning_rates):
            continue
        cells = " | ".join(f"{scores[lr]:.4f}" for lr in args.learning_rates)
        lines.append(f"| {model} | {cells} | {chosen_lr(model, args, claims):g} |")
    return f"Validation {metric} on seed {args.seeds[0]}:\n\n" + "\n".join(lines)


def _lines(path: Path) -> set[str]:
    return set(path.read_text().splitlines()) if path.exists() else set()


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _key(record: dict) -> str:
    return f"{record['dataset']}/{record['name']}/{record['seed']}"


if __name__ == "__main__":
    main()
