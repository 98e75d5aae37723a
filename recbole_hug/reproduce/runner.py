"""Run a paper's grid on a dataset with several seeds; the command line of the package.

Each run goes through :func:`recbole_hug.quick_start.objective_function` (the plugin's models and
RecBole's alike), with its checkpoint in ``<results>/saved/<run_id>/`` (the test uses the best
validation epoch's weights) and RecBole's log in ``./log/`` as usual. A run that was stopped
mid-way continues from the resume state it left there (:mod:`recbole_hug.resume`, written at
the start of every epoch), with its history, instead of starting over. Each finished run's
epochs (times, training loss, validation score and metrics) go to
``<results>/epochs/<run_id>.json`` (the learning curves), and each test row's rank of its target
to ``<results>/ranks/<run_id>.npz``. Finished runs are never redone: a run
is found in runs.csv by its id (see :mod:`recbole_hug.reproduce.cells`), and a cell that repeats
another cell's configuration reuses its runs. Several processes may run one grid into one folder
at once (:class:`~recbole_hug.reproduce.results.ResultsFolder` claims). Tables that choose
learning rates on validation first run the candidates that each entry's search over its learning
rates asks for, with the first seed, then the chosen ones with every seed
(:mod:`recbole_hug.reproduce.learning_rates`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from recbole_hug.config import resolve_data_path
from recbole_hug.errors import ConfigError, DataError, HugError
from recbole_hug.files import atomic_file
from recbole_hug.quick_start import objective_function
from recbole_hug.reproduce.cells import Cell, build_cells
from recbole_hug.reproduce.grid import load_grid, papers
from recbole_hug.reproduce.learning_rates import choices, drop_stale
from recbole_hug.reproduce.report import write_report
from recbole_hug.reproduce.results import EPOCHS, RANKS, ResultsFolder, manifest
from recbole_hug.resume import RESUME_SUFFIX

#: Where results folders go by default, relative to the working directory: in this project's
#: checkout, the folder whose committed records REPRODUCTION.md reports.
RESULTS_DIR = Path("benchmarks") / "results"


def default_out(paper: str, dataset: str, quick: bool) -> Path:
    """``benchmarks/results/<paper>-reproduce-<dataset>`` (``-quick`` appended with
    ``--quick``): run from the project's checkout, the committed results, which the same command
    then rebuilds its report from (or continues)."""
    return RESULTS_DIR / f"{paper}-reproduce-{dataset}{'-quick' if quick else ''}"


def run_cell(
    cell: Cell, dataset: str, data_path: Path, seed: int, folder: Path, keep_checkpoint: bool
) -> dict[str, Any]:
    """Train and test one cell with one seed; its runs.csv row.

    Returns:
        ``run_id``, ``table``, ``entry``, ``model``, ``seed``, ``options`` (JSON), the valid and
        test metrics (``valid_<metric>``, ``test_<metric>``), ``best_epoch``, ``epochs_run``,
        ``epoch_seconds`` and ``valid_seconds`` (mean training and validation time of an
        epoch), ``seconds`` (wall time of this process's part of the run, data loading
        included; a resumed run's earlier part is in its epochs file) and ``checkpoint``
        (relative to the results folder; empty when not kept).
    """
    run_id = cell.run_id(seed)
    checkpoint_dir = folder / "saved" / run_id
    options = {
        **cell.options,
        "model": cell.model,
        "dataset": dataset,
        "data_path": str(data_path),
        "seed": seed,
        "checkpoint_dir": str(checkpoint_dir),
        "checkpoint_serving": keep_checkpoint,  # a dropped checkpoint is never served
    }
    states = sorted(checkpoint_dir.glob(f"*{RESUME_SUFFIX}"), key=lambda p: p.stat().st_mtime)
    if states:  # an interrupted run of this cell and seed: continue it
        options["resume"] = str(states[-1])
        print(f"  resuming {states[-1]}", flush=True)
    start = time.perf_counter()
    result = objective_function(options, saved=True)
    seconds = time.perf_counter() - start
    epochs = result.get("epoch_log", [])
    write_epochs(folder, run_id, epochs)
    if result.get("test_rows") is not None:
        write_test_rows(folder, run_id, result["test_rows"])
    checkpoint = max(checkpoint_dir.glob("*.pth"), key=lambda path: path.stat().st_mtime)
    if not keep_checkpoint:
        shutil.rmtree(checkpoint_dir)
    return {
        "run_id": run_id,
        "table": cell.table,
        "entry": cell.entry,
        "model": cell.model,
        "seed": seed,
        "options": json.dumps(cell.changed, sort_keys=True),
        **{f"valid_{key}": value for key, value in (result["best_valid_result"] or {}).items()},
        **{f"test_{key}": value for key, value in result["test_result"].items()},
        "best_epoch": result["best_epoch"],
        "epochs_run": result["epochs_run"],
        "epoch_seconds": _mean_of(epochs, "train_seconds"),
        "valid_seconds": _mean_of(epochs, "valid_seconds"),
        "seconds": round(seconds, 2),
        "checkpoint": str(checkpoint.relative_to(folder)) if keep_checkpoint else "",
    }


def write_epochs(folder: Path, run_id: str, epochs: Sequence[dict[str, Any]]) -> Path:
    """Write ``<folder>/epochs/<run_id>.json``: the run's epochs (its learning curve)."""
    path = folder / EPOCHS / f"{run_id}.json"
    with atomic_file(path, "w", encoding="utf-8") as handle:
        json.dump(list(epochs), handle, indent=0, sort_keys=True)
    return path


def write_test_rows(folder: Path, run_id: str, rows: dict[str, Any]) -> Path:
    """Write ``<folder>/ranks/<run_id>.npz``: per test row its ``user``, ``length`` and ``rank``
    (:func:`recbole_hug.quick_start._test_rows`), for per-user and per-position comparisons."""
    path = folder / RANKS / f"{run_id}.npz"
    with atomic_file(path) as handle:
        np.savez_compressed(handle, **{key: np.asarray(value) for key, value in rows.items()})
    return path


def _mean_of(epochs: Sequence[dict[str, Any]], key: str) -> float | str:
    values = [epoch[key] for epoch in epochs if key in epoch]
    return round(sum(values) / len(values), 2) if values else ""


def reproduce(
    paper: str,
    dataset: str,
    seeds: int | None = None,
    out: str | Path | None = None,
    quick: bool = False,
    tables: Sequence[str] | None = None,
    data_path: str | Path | None = None,
    keep_checkpoints: bool = True,
    train: bool = True,
) -> list[Path]:
    """Run the grid of ``paper`` on ``dataset`` and write the results folder.

    Entries that run with every seed (those whose spread is reported) run first, seed by
    seed, then the entries capped at fewer seeds (``seeds`` in the grid).

    Everything is checked before the first run: the paper, the dataset and the table names, the
    dataset's file, every entry's model and options, and that the results folder holds this
    grid's runs (or none). Runs already in the folder are not redone (module docstring); the
    report is written even when a run fails or is interrupted.

    Args:
        paper: a grid of ``properties/reproduce/`` (``hugt``, ``hggnn``).
        dataset: a dataset section of that grid.
        seeds: seeds per entry; None for the grid's ``seeds`` (``quick.seeds`` with ``quick``).
        out: the results folder; None for :func:`default_out`.
        quick: the grid's ``--quick`` options (small and fast).
        tables: the tables to run; None for all.
        data_path: the folder holding ``<dataset>/<dataset>.inter``; None to look for it as
            the plugin does (:func:`recbole_hug.config.resolve_data_path`).
        keep_checkpoints: keep each run's best checkpoint in the results folder.
        train: run the missing runs; False only rewrites the report from runs.csv (other
            processes may be training into the folder meanwhile).

    Returns:
        The files written: report.md, then the plots.

    Raises:
        ConfigError: an unknown paper, dataset or table, an entry's unknown model or bad options,
            or a results folder of a different grid configuration.
        DataError: the dataset's interaction file is missing (or, from a run, malformed).
    """
    grid = load_grid(paper)
    section = grid.dataset(dataset)
    selected = grid.select(list(tables) if tables is not None else None)
    n_seeds = seeds if seeds is not None else (grid.quick_seeds if quick else grid.seeds)
    if n_seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {n_seeds}")
    seed_list = [grid.first_seed + i for i in range(n_seeds)]
    data_folder = _data_folder(dataset, data_path)
    every_cell = build_cells(grid, list(grid.tables.values()), dataset, data_folder.parent, quick)
    out_path = Path(out) if out is not None else default_out(paper, dataset, quick)
    folder = ResultsFolder(out_path)
    identity = {
        "paper": paper,
        "dataset": dataset,
        "data_path": str(data_folder),
        "quick": quick,
        "first_seed": grid.first_seed,
    }
    identities = folder.claim(manifest(identity, every_cell))
    every_cell = [replace(cell, config=identities[cell.key]) for cell in every_cell]
    names = {table.name for table in selected}
    first = seed_list[0]
    todo = [
        (seed, cell)
        for seed in seed_list
        for cell in every_cell
        if cell.table in names and cell.lr_of is None and _runs(cell, seed, first)
    ]
    todo.sort(key=lambda run: run[1].seeds is not None)  # entries with every seed first (stable)
    rows = folder.read_runs()
    command = _command(paper, dataset, n_seeds, out_path, quick, tables, data_path)
    run = (folder, dataset, data_folder.parent, keep_checkpoints, grid.metrics)
    try:
        if train:
            _run_missing(todo, rows, *run)
            _search_learning_rates(every_cell, names, rows, first, run)
            found = choices(every_cell, rows, first)
            chosen = [c.cell for c in found if c.cell is not None and c.table in names]
            before = len(rows)
            drop_stale(rows, chosen)
            if len(rows) != before:
                folder.write_runs(rows)
            chosen_runs = [(s, cell) for s in seed_list for cell in chosen if _runs(cell, s, first)]
            _run_missing(chosen_runs, rows, *run)
    finally:
        found = choices(every_cell, rows, first)
        written = (
            write_report(grid, section, seed_list, rows, out_path, command, found) if rows else []
        )
    return written


def _search_learning_rates(
    cells: Sequence[Cell], names: set[str], rows: list[dict[str, str]], first: int, run: tuple
) -> None:
    """Run, with the first seed, the learning-rate candidates that the searches of the tables
    ``names`` reach (a candidate whose configuration already ran elsewhere gets that run's row),
    round after round (entries with every seed first), until every search has chosen or waits
    only on runs that another process is training."""
    asked: set[tuple[str, str]] = set()
    while True:
        reached = [
            (first, cell)
            for choice in choices(cells, rows, first)
            if choice.table in names
            for cell in choice.path
            if (cell.table, cell.entry) not in asked
        ]
        if not reached:
            return
        reached.sort(key=lambda pair: pair[1].seeds is not None)
        asked.update((cell.table, cell.entry) for _, cell in reached)
        _run_missing(reached, rows, *run)


def _runs(cell: Cell, seed: int, first: int) -> bool:
    """Whether ``cell`` runs with ``seed``: one of its first ``seeds`` from ``first`` (every
    seed without a cap)."""
    return cell.seeds is None or seed - first < cell.seeds


def _data_folder(dataset: str, data_path: str | Path | None) -> Path:
    """The absolute folder holding ``<dataset>.inter``.

    Raises:
        DataError: there is no such file (RecBole's downloads are not used: the papers' data
            come from the plugin's converters).
    """
    folder = resolve_data_path(dataset, None if data_path is None else str(data_path))
    if not (folder / f"{dataset}.inter").is_file():
        raise DataError(
            f"dataset '{dataset}' not found: no {folder / f'{dataset}.inter'}; pass "
            f"--data_path=FOLDER (the folder holding {dataset}/{dataset}.inter; docs/datasets.md "
            "converts the papers' raw data)"
        )
    return folder.resolve()


def _run_missing(
    todo: Sequence[tuple[int, Cell]],
    rows: list[dict[str, str]],
    folder: ResultsFolder,
    dataset: str,
    data_root: Path,
    keep_checkpoints: bool,
    metrics: Sequence[str],
) -> None:
    """Add to ``rows`` (and runs.csv, after each) the rows of ``todo`` that it lacks: a run of
    the same id is copied, a run that another process is training is skipped (its row comes
    with runs.csv later), any other is run."""
    for number, (seed, cell) in enumerate(todo, 1):
        label = f"[{number}/{len(todo)}] {cell.key} ({cell.model}) seed {seed}"
        run_id = cell.run_id(seed)
        with folder.locked():
            _merge(rows, folder.read_runs())
            if _row_of(rows, cell, seed) is not None:
                continue
            copied = next((r for r in rows if r["run_id"] == run_id), None)
            if copied is not None:
                rows.append({**copied, "table": cell.table, "entry": cell.entry})
                folder.write_runs(rows)
                print(f"{label}: the run of {copied['table']}/{copied['entry']}")
                continue
            if not folder.claim_run(run_id):
                print(f"{label}: being run by another process", flush=True)
                continue
        print(f"{label}: running", flush=True)
        try:
            result = run_cell(cell, dataset, data_root, seed, folder.path, keep_checkpoints)
        except HugError as error:
            folder.release_run(run_id)
            raise type(error)(f"{cell.key} seed {seed}: {error}") from error
        except BaseException:
            folder.release_run(run_id)
            raise
        row = {key: str(value) for key, value in result.items()}
        with folder.locked():
            _merge(rows, folder.read_runs())
            rows.append(row)
            folder.write_runs(rows)
            folder.release_run(run_id)
        print(f"{label}: {row['seconds']} s, " + _metrics(row, metrics))


def _row_of(rows: Sequence[dict[str, str]], cell: Cell, seed: int) -> dict[str, str] | None:
    """The row of ``cell`` with ``seed`` in ``rows``, or None."""
    key = (cell.table, cell.entry, str(seed))
    return next((r for r in rows if (r["table"], r["entry"], r["seed"]) == key), None)


def _merge(rows: list[dict[str, str]], found: Sequence[dict[str, str]]) -> None:
    """Append to ``rows`` the rows of ``found`` (runs.csv as other processes left it) that it
    lacks."""
    have = {(r["table"], r["entry"], r["seed"]) for r in rows}
    rows.extend(r for r in found if (r["table"], r["entry"], r["seed"]) not in have)


def _metrics(row: dict[str, str], metrics: Sequence[str]) -> str:
    return ", ".join(f"test {metric} {row[f'test_{metric}']}" for metric in metrics)


def _command(
    paper: str,
    dataset: str,
    seeds: int,
    out: Path,
    quick: bool,
    tables: Sequence[str] | None,
    data_path: str | Path | None,
) -> str:
    """The command line that (re)makes the results folder."""
    words = ["python", "-m", "recbole_hug.reproduce", paper, "--dataset", dataset]
    words += ["--seeds", str(seeds), "--out", str(out)]
    words += ["--quick"] * quick
    words += ["--tables", ",".join(tables)] if tables else []
    words += ["--data_path", str(data_path)] if data_path is not None else []
    return shlex.join(words)


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``python -m recbole_hug.reproduce PAPER --dataset NAME [...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m recbole_hug.reproduce",
        description="Run a paper's experiment grid (properties/reproduce/<paper>.yaml) on a "
        "dataset with several seeds; write runs.csv, report.md and PNG plots. Finished runs "
        "are not redone.",
    )
    parser.add_argument("paper", help=f"the paper: {', '.join(papers())}")
    parser.add_argument("--dataset", "-d", required=True, help="a dataset of the paper's grid")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per entry")
    parser.add_argument("--out", default=None, help="the results folder")
    parser.add_argument("--quick", action="store_true", help="small and fast (1 epoch, 1 seed)")
    parser.add_argument("--tables", default=None, help="comma-separated tables (default: all)")
    parser.add_argument("--data_path", default=None, help="the folder holding DATASET/")
    parser.add_argument(
        "--drop_checkpoints", action="store_true", help="delete each run's checkpoint after it"
    )
    parser.add_argument(
        "--report_only", action="store_true", help="rewrite report.md and plots; train nothing"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m recbole_hug.reproduce``; returns the exit status."""
    args = build_parser().parse_args(argv)
    tables = None if args.tables is None else [t.strip() for t in args.tables.split(",")]
    try:
        written = reproduce(
            args.paper,
            args.dataset,
            seeds=args.seeds,
            out=args.out,
            quick=args.quick,
            tables=[t for t in tables if t] if tables is not None else None,
            data_path=args.data_path,
            keep_checkpoints=not args.drop_checkpoints,
            train=not args.report_only,
        )
    except HugError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0
