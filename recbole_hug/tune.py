"""Hyperparameter tuning of any model, the plugin's and RecBole's: ``run_hyper_hug.py``.

The search space is a RecBole params file (:mod:`recbole_hug.tune_space`, which reads and checks
it, and runs a trial); the shipped spaces are ``properties/hyper/<Model>.hyper`` (described in
the README.md there).

Algorithms (``algo``): ``exhaustive`` (every combination of the choice parameters; RecBole's
default), ``random`` and ``bayes`` (TPE), ``max_evals`` trials each. Tools: ``Hyperopt`` runs
RecBole's ``HyperTuning`` with :func:`recbole_hug.quick_start.objective_function` in this
process, for RecBole compatibility; ``Optuna`` (:mod:`recbole_hug.tune_optuna`) prunes trials
from their per-epoch validation scores and keeps a study in a database that resumes and is
shared by processes and machines; ``Ray`` runs the trials in parallel with Ray Tune 2.6, on this
machine or a Ray cluster (Python 3.10 and 3.11 only; ``docs/tuning.md``).

Outputs, for ``output_file`` ``out/hyper.csv``: ``out/hyper.csv`` and ``out/hyper.md``, a table of
every finished trial (its parameters, best validation score, validation and test metrics,
seconds), and ``out/hyper.best.yaml``, the best trial's options (model, dataset, the fixed
options and the tuned ones), which ``run_recbole_hug.py --config_files=out/hyper.best.yaml`` runs.

What the tuning engines need on today's stack, each in one place: hyperopt 0.2.5 and its
``pkg_resources`` import (:func:`_import_hyper_tuning`); Ray Tune 2.6 on numpy 2 and its metric
check (:mod:`recbole_hug.tune_ray`); list-valued choices, which RecBole's exhaustive search
cannot count, and which Optuna stores by their ``repr`` (:meth:`SearchSpace.hyperopt_space`,
:func:`recbole_hug.tune_optuna.suggest`).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from recbole_hug.config import Config
from recbole_hug.errors import ConfigError, HugError
from recbole_hug.paths import PROPERTIES_DIR
from recbole_hug.tune_optuna import PRUNERS, OptunaOptions, tune_with_optuna
from recbole_hug.tune_ray import RayOptions, tune_with_ray
from recbole_hug.tune_space import (
    SearchSpace,
    TrialResult,
    check_space,
    read_params_file,
    run_trial,
)

#: The shipped search spaces, ``<Model>.hyper``.
HYPER_DIR = PROPERTIES_DIR / "hyper"
ALGORITHMS = ("exhaustive", "random", "bayes")
TOOLS = ("Hyperopt", "Optuna", "Ray")
INSTALL_TUNE = "pip install 'recbole-hug[tune]'"


def _cell(value: Any) -> str:
    """A Markdown table cell: numbers to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_table(trials: Sequence[TrialResult], csv_file: Path, markdown_file: Path) -> None:
    """Write every trial (number, tuned options, results) as CSV and as a Markdown table."""
    rows = [{"trial": i, **t.params, **t.metrics()} for i, t in enumerate(trials, start=1)]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    csv_file.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_file, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_cell(row.get(key, "")) for key in columns) + " |" for row in rows),
    ]
    markdown_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _plain(value: Any) -> Any:
    """A value yaml.safe_dump writes and RecBole reads back alike (lists, not tuples or numpy)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class TuningResult:
    """What a tuning run found and wrote.

    Attributes:
        trials: every finished trial, in the order they ran (Hyperopt) or were created (Optuna,
            Ray).
        best: the trial with the best validation score.
        best_config: the best trial's options, as written to ``best_config_file``.
        table_file: the CSV table of every trial.
        markdown_file: the same table in Markdown.
        best_config_file: the yaml of ``best_config``.
        pruned: the trials that Optuna's pruner stopped (not in ``trials``).
    """

    trials: list[TrialResult]
    best: TrialResult
    best_config: dict[str, Any]
    table_file: Path
    markdown_file: Path
    best_config_file: Path
    pruned: int = 0


class TrialsFailed(HugError):
    """Some Ray trials failed; the outputs of those that finished were written.

    Attributes:
        result: what the finished trials found and wrote.
    """

    def __init__(self, message: str, result: TuningResult) -> None:
        super().__init__(message)
        self.result = result


# --------------------------------------------------------------------------------------------
# The tuning engines, and what each needs on our stack
def _import_hyper_tuning() -> type:
    """RecBole's ``HyperTuning``, once hyperopt imports.

    RecBole 1.2.1's HyperTuning works with hyperopt 0.2.5 only (later versions break its
    exhaustive search), and hyperopt 0.2.5 imports ``pkg_resources``, which setuptools >= 82
    removed: the ``tune`` extra pins both.
    """
    try:
        import hyperopt  # noqa: F401
        from recbole.trainer.hyper_tuning import HyperTuning
    except ImportError as error:
        raise ConfigError(
            f"tuning needs hyperopt 0.2.5 and setuptools < 82 ({error}): {INSTALL_TUNE}"
        ) from error
    return HyperTuning


def _tune_with_hyperopt(
    space: SearchSpace,
    fixed: Mapping[str, Any],
    config_file_list: list[str],
    algo: str,
    max_evals: int,
    early_stop: int,
    record: Callable[[TrialResult], None],
) -> None:
    """RecBole's HyperTuning over ``objective_function``, one trial after another."""
    hyper_tuning = _import_hyper_tuning()

    def objective(config_dict: dict[str, Any], files: list[str]) -> dict[str, Any]:
        trial, result = run_trial(space, config_dict, fixed, files)
        record(trial)
        return result

    hyper_tuning(
        objective,
        space=space.hyperopt_space(),
        fixed_config_file_list=config_file_list,
        algo=algo,
        max_evals=max_evals,
        early_stop=early_stop,
    ).run()


# --------------------------------------------------------------------------------------------
# Entry points
def run_hyper_hug(
    params_file: str | Path | None = None,
    model: str | None = None,
    dataset: str | None = None,
    config_file_list: Sequence[str] | None = None,
    cmd_args: Sequence[str] | None = None,
    algo: str = "exhaustive",
    max_evals: int = 100,
    early_stop: int = 10,
    tool: str = "Hyperopt",
    output_file: str | Path = "hyper.csv",
    ray_options: RayOptions | None = None,
    optuna_options: OptunaOptions | None = None,
) -> TuningResult:
    """Tune a model's options on a dataset, as RecBole's ``run_hyper.py``, for every model.

    Args:
        params_file: the search space (see the module docstring); None: the shipped
            ``properties/hyper/<model>.hyper``.
        model: the model name; None reads it from the config files.
        dataset: the dataset name; None reads it from the config files.
        config_file_list: yaml files of fixed options.
        cmd_args: fixed options as ``--key=value`` (above the config files, below the tuned ones).
        algo: ``exhaustive``, ``random`` or ``bayes``.
        max_evals: the trials of a random or bayes search (an exhaustive one runs every
            combination).
        early_stop: Hyperopt stops after this many trials without a better score.
        tool: ``Hyperopt`` (this process), ``Optuna`` (this process, pruning, resumable) or
            ``Ray`` (Ray Tune).
        output_file: the CSV table; the Markdown table (``.md``) and the best trial's options
            (``.best.yaml``) are written beside it.
        ray_options: where and how Ray runs the trials (``tool='Ray'``).
        optuna_options: the study's storage, name and pruner (``tool='Optuna'``; default: in
            memory, named after ``output_file``, the median pruner).

    Returns:
        The trials, the best one, its options and the files written.

    Raises:
        ConfigError: an unknown algorithm or tool, a bad params file (naming the file, line and
            option), or bad fixed options.
        HugError: a trial's own error (bad data, an option value the model refuses); with Ray,
            :class:`TrialsFailed` after the outputs of the trials that finished are written.
    """
    if algo not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm '{algo}' (--algo); expected {', '.join(ALGORITHMS)}")
    if tool not in TOOLS:
        raise ConfigError(f"unknown tool '{tool}' (--tool); expected {', '.join(TOOLS)}")
    if max_evals < 1 or early_stop < 1:
        raise ConfigError(
            f"--max_evals ({max_evals}) and --early_stop ({early_stop}) must be at least 1"
        )
    files = [str(Path(file).resolve()) for file in config_file_list or []]
    base = Config(model, dataset, files, cmd_args=cmd_args)
    if params_file is None:
        params_file = HYPER_DIR / f"{base['model']}.hyper"
        if not params_file.is_file():
            shipped = ", ".join(sorted(path.stem for path in HYPER_DIR.glob("*.hyper")))
            raise ConfigError(
                f"no --params_file given, and no shipped search space for model "
                f"{base['model']} (shipped: {shipped})"
            )
    space = read_params_file(params_file)
    fixed = {"model": base["model"], "dataset": base["dataset"], **base.cmd_config_dict}
    check_space(space, base, fixed, files, algo)

    table_file = Path(output_file).with_suffix(".csv")
    markdown_file = table_file.with_suffix(".md")
    trials: list[TrialResult] = []
    failure: str | None = None  # Ray: the trials that failed
    pruned = 0  # Optuna: the trials its pruner stopped
    if tool == "Hyperopt":

        def record(trial: TrialResult) -> None:  # the table grows as the trials run
            trials.append(trial)
            write_table(trials, table_file, markdown_file)

        _tune_with_hyperopt(space, fixed, files, algo, max_evals, early_stop, record)
    elif tool == "Optuna":
        options = optuna_options or OptunaOptions(study_name=table_file.stem)
        trials, pruned = tune_with_optuna(
            space,
            fixed,
            files,
            algo,
            max_evals,
            base,
            options,
            lambda finished: write_table(finished, table_file, markdown_file),
        )
        if not trials:
            raise HugError(
                f"all {pruned} Optuna trials were pruned: raise --max_evals, or --startup_trials"
            )
        write_table(trials, table_file, markdown_file)
    else:
        # Ray runs each trial in its own folder: the data folder must not be relative.
        data_path = str(Path(base["data_path"]).resolve().parent)
        trials, failure = tune_with_ray(
            space,
            {**fixed, "data_path": data_path},
            files,
            algo,
            max_evals,
            base["valid_metric_bigger"],
            ray_options or RayOptions(),
        )
        if not trials:
            raise HugError(failure)
        write_table(trials, table_file, markdown_file)

    pick = max if base["valid_metric_bigger"] else min
    best_index = pick(range(len(trials)), key=lambda i: trials[i].best_valid_score)
    best = trials[best_index]
    options = _plain({**base.file_config_dict, **fixed, **best.params})
    best_config = {"model": options.pop("model"), "dataset": options.pop("dataset"), **options}
    best_config_file = table_file.with_suffix(".best.yaml")
    more = f", {pruned} more pruned" if pruned else ""
    header = (
        f"# The best of {len(trials)} trials{more} ({algo} search, {tool}) over {space.file}: "
        f"trial {best_index + 1}, {base['valid_metric']} {best.best_valid_score:.4g} "
        f"on validation.\n# python run_recbole_hug.py --model={best_config['model']} "
        f"--dataset={best_config['dataset']} --config_files={best_config_file}\n"
    )
    best_config_file.write_text(
        header + yaml.safe_dump(best_config, sort_keys=False), encoding="utf-8"
    )
    result = TuningResult(
        trials, best, best_config, table_file, markdown_file, best_config_file, pruned
    )
    if failure is not None:
        raise TrialsFailed(
            f"{failure}; {table_file} and {best_config_file} hold the trials that finished",
            result,
        )
    return result


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``run_hyper_hug.py``: RecBole's ``run_hyper.py`` flags, and more."""
    parser = argparse.ArgumentParser(
        prog="run_hyper_hug.py",
        allow_abbrev=False,
        description="Tune a recbole-hug or RecBole model's options. Fixed options are passed "
        "as --key=value (e.g. --epochs=20 --data_path=../shared/datasets).",
    )
    parser.add_argument("--model", "-m", default=None, help="name of the model")
    parser.add_argument("--dataset", "-d", default=None, help="name of the dataset")
    parser.add_argument("--config_files", default=None, help="fixed config files, space-separated")
    parser.add_argument(
        "--params_file",
        default=None,
        help="the search space (default: the shipped properties/hyper/<model>.hyper)",
    )
    parser.add_argument(
        "--output_file",
        default="hyper.csv",
        help="the table of trials; .md and .best.yaml files are written beside it",
    )
    parser.add_argument("--tool", default="Hyperopt", help="Hyperopt, Optuna or Ray")
    parser.add_argument("--algo", default="exhaustive", help="exhaustive, random or bayes")
    parser.add_argument("--max_evals", type=int, default=100, help="trials (random, bayes)")
    parser.add_argument(
        "--early_stop", type=int, default=10, help="Hyperopt: stop after N trials, no progress"
    )
    parser.add_argument(
        "--storage",
        default=None,
        help="Optuna: the study's database, e.g. sqlite:///study.db (resumes; shared by processes)",
    )
    parser.add_argument(
        "--study_name", default=None, help="Optuna: the study (default: the output file's stem)"
    )
    parser.add_argument(
        "--pruner", default="median", help=f"Optuna: {', '.join(PRUNERS)} (default median)"
    )
    parser.add_argument(
        "--startup_trials",
        type=int,
        default=5,
        help="Optuna: trials the median pruner lets finish before it prunes (default 5)",
    )
    parser.add_argument(
        "--ray_address", default=None, help="Ray: the cluster to join (auto, or HOST:PORT)"
    )
    parser.add_argument("--ray_dir", default="ray_log", help="Ray: the experiment folder")
    parser.add_argument("--cpus_per_trial", type=float, default=1.0, help="Ray: CPUs per trial")
    parser.add_argument(
        "--gpus_per_trial",
        type=float,
        default=None,
        help="Ray: GPUs per trial (default: 1 where CUDA is available, else 0)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``run_hyper_hug.py``; returns the exit status."""
    args, options = build_parser().parse_known_args(argv)
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    try:
        result = run_hyper_hug(
            args.params_file,
            args.model,
            args.dataset,
            config_files,
            options,
            algo=args.algo,
            max_evals=args.max_evals,
            early_stop=args.early_stop,
            tool=args.tool,
            output_file=args.output_file,
            ray_options=RayOptions(
                args.ray_address, args.ray_dir, args.cpus_per_trial, args.gpus_per_trial
            ),
            optuna_options=OptunaOptions(
                args.storage,
                args.study_name or Path(args.output_file).stem,
                args.pruner,
                args.startup_trials,
            ),
        )
    except HugError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    best = result.best
    print(f"best params: {best.params}")
    print(f"best valid result: {best.valid_result}")
    print(f"test result: {best.test_result}")
    pruned = f" ({result.pruned} more pruned)" if result.pruned else ""
    print(f"trials: {result.table_file}, {result.markdown_file}{pruned}")
    print(f"best config: {result.best_config_file}")
    return 0
