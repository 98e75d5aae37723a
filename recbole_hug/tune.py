"""Hyperparameter tuning of any model, the plugin's and RecBole's: ``run_hyper_hug.py``.

A search space is a RecBole params file, one parameter a line, ``NAME TYPE VALUES``, as RecBole's
``HyperTuning`` reads it::

    learning_rate loguniform -8,0
    embedding_size choice [64,96,128]
    dropout_prob uniform 0.1,0.5
    n_layers quniform 1,4,1

``loguniform`` bounds are natural logs (``-8,0`` is ``exp(-8)`` to 1), ``quniform LOW,HIGH,Q`` is
rounded to multiples of Q (integers when LOW, HIGH and Q are), ``choice`` takes a list of Python
literals (bare words too: ``[MP,SE]``). RecBole's parser reads no comments, so the files have
none. The shipped spaces are ``properties/hyper/<Model>.hyper`` (described in the README.md there).
Every line is checked before any trial runs: its format, its range, that it names an option of
RecBole, of the plugin or of the model, and that its values have the option's type (a value that
the model itself refuses stops the tuning at the first trial that draws it, with its error).

Algorithms (``algo``): ``exhaustive`` (every combination of the choice parameters; RecBole's
default), ``random`` and ``bayes`` (hyperopt's TPE), ``max_evals`` trials each. Tools:
``Hyperopt`` runs RecBole's ``HyperTuning`` with :func:`recbole_hug.quick_start.objective_function`
in this process; ``Ray`` runs the trials in parallel with Ray Tune, on this machine or a Ray
cluster (``pip install 'recbole-hug[ray]'``; ``docs/tuning.md``).

Outputs, for ``output_file`` ``out/hyper.csv``: ``out/hyper.csv`` and ``out/hyper.md``, a table of
every trial (its parameters, best validation score, validation and test metrics, seconds), and
``out/hyper.best.yaml``, the best trial's options (model, dataset, the fixed options and the
tuned ones), which ``run_recbole_hug.py --config_files=out/hyper.best.yaml`` runs.

What the tuning engines need on today's stack, each in one place: hyperopt 0.2.5 and its
``pkg_resources`` import (:func:`_import_hyper_tuning`); Ray Tune 2.6 on numpy 2
(:func:`_import_ray_tune`, :func:`prepare_ray_worker`); Ray 2.6's metric check, which fails
RecBole's own objective under ASHA (:func:`_ray_trial`); list-valued choices, which RecBole's
exhaustive search cannot count (:meth:`SearchSpace.hyperopt_space`).
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import difflib
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import yaml

from recbole_hug.config import Config, parse_option_value
from recbole_hug.errors import ConfigError, HugError
from recbole_hug.paths import PROPERTIES_DIR
from recbole_hug.quick_start import objective_function

#: The shipped search spaces, ``<Model>.hyper``.
HYPER_DIR = PROPERTIES_DIR / "hyper"
ALGORITHMS = ("exhaustive", "random", "bayes")
TOOLS = ("Hyperopt", "Ray")
#: The parameter types of RecBole's params files, with the values each takes.
PARAM_TYPES = {
    "choice": "a list such as [64,96] or ['MP','SE']",
    "uniform": "LOW,HIGH",
    "quniform": "LOW,HIGH,Q",
    "loguniform": "LOW,HIGH (natural logs)",
}
#: The result that ranks trials: RecBole's best validation score (of ``valid_metric``).
SCORE = "best_valid_score"
#: The metrics of ``objective_function``'s result: validation and test of the best epoch.
RESULTS = ("best_valid_result", "test_result")
INSTALL_TUNE = "pip install 'recbole-hug[tune]'"
INSTALL_RAY = "pip install 'recbole-hug[ray]'"


# --------------------------------------------------------------------------------------------
# Search spaces
@dataclass(frozen=True)
class SearchParam:
    """One line of a params file.

    Attributes:
        name: the option tuned.
        kind: ``choice``, ``uniform``, ``quniform`` or ``loguniform``.
        values: a choice's candidates; ``(low, high)`` of a uniform or loguniform range (natural
            logs for loguniform); ``(low, high, q)`` of a quniform one.
        line: the line number in the params file.
    """

    name: str
    kind: str
    values: tuple[Any, ...]
    line: int

    def typed(self, value: Any) -> Any:
        """A sampled value as the option takes it: a Python value (never a numpy scalar), an
        int for a quniform range on an integer grid, a fresh copy of a choice."""
        if isinstance(value, np.generic):
            value = value.item()
        if self.kind == "quniform" and all(float(bound).is_integer() for bound in self.values):
            return int(round(value))
        return copy.deepcopy(value)

    def extremes(self) -> list[Any]:
        """The values checked before tuning: every choice, or the two ends of a range."""
        if self.kind == "choice":
            return list(self.values)
        low, high = self.values[:2]
        if self.kind == "loguniform":
            low, high = math.exp(low), math.exp(high)
        return [self.typed(low), self.typed(high)]


@dataclass(frozen=True)
class SearchSpace:
    """The parameters of one params file, in file order."""

    file: Path
    params: tuple[SearchParam, ...]

    def where(self, param: SearchParam) -> str:
        """``params file FILE, line N``, for messages."""
        return f"params file {self.file}, line {param.line}"

    def typed(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's sampled options, typed (:meth:`SearchParam.typed`), in file order."""
        return {param.name: param.typed(sample[param.name]) for param in self.params}

    def hyperopt_space(self) -> dict[str, Any]:
        """The space as hyperopt expressions (as ``HyperTuning._build_space_from_file`` builds it).

        Each choice is a hyperopt ``Literal``, so that a list-valued choice (``edge_types``) is
        one value, as RecBole's exhaustive search expects (it reads each choice's ``.obj``).
        """
        from hyperopt import hp
        from hyperopt.pyll import Literal

        space: dict[str, Any] = {}
        for param in self.params:
            if param.kind == "choice":
                space[param.name] = hp.choice(param.name, [Literal(v) for v in param.values])
            else:
                space[param.name] = getattr(hp, param.kind)(param.name, *param.values)
        return space

    def ray_space(self, tune: ModuleType, grid: bool) -> dict[str, Any]:
        """The space as Ray Tune domains (as RecBole's ``run_hyper.py`` builds it): choices as
        ``grid_search`` when ``grid`` (exhaustive search), else sampled."""
        space: dict[str, Any] = {}
        for param in self.params:
            if param.kind == "choice":
                sample = tune.grid_search if grid else tune.choice
                space[param.name] = sample(list(param.values))
            elif param.kind == "loguniform":
                space[param.name] = tune.loguniform(*(math.exp(bound) for bound in param.values))
            else:
                space[param.name] = getattr(tune, param.kind)(*param.values)
        return space


def read_params_file(path: str | Path) -> SearchSpace:
    """Read a search space in RecBole's params-file format (see the module docstring).

    Raises:
        ConfigError: naming the file and line: an unreadable file, a malformed line, an unknown
            type, values that are not numbers or a list, an empty range or choice, a parameter
            given twice, or no parameter at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read params file {path}: {error.strerror}") from error
    params: dict[str, SearchParam] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            param = _parse_line(line, f"params file {path}, line {number}", number)
            if param.name in params:
                raise ConfigError(
                    f"params file {path}, line {number}: '{param.name}' is already given on "
                    f"line {params[param.name].line}"
                )
            params[param.name] = param
    if not params:
        raise ConfigError(
            f"params file {path} holds no parameter; write lines such as "
            "'learning_rate loguniform -8,0'"
        )
    return SearchSpace(path, tuple(params.values()))


def _parse_line(line: str, where: str, number: int) -> SearchParam:
    """One ``NAME TYPE VALUES`` line (``where`` names it in errors)."""
    if line.lstrip().startswith("#"):
        raise ConfigError(f"{where}: RecBole's params files have no comments, got {line!r}")
    fields = line.split(None, 2)
    if len(fields) < 3:
        raise ConfigError(
            f"{where}: expected 'NAME TYPE VALUES' (e.g. 'learning_rate loguniform -8,0'), "
            f"got {line.strip()!r}"
        )
    name, kind, text = fields
    if kind not in PARAM_TYPES:
        expected = "; ".join(f"{key} {values}" for key, values in PARAM_TYPES.items())
        raise ConfigError(f"{where}: unknown type '{kind}' of '{name}'; expected {expected}")
    wrong = ConfigError(f"{where}: {kind} of '{name}' takes {PARAM_TYPES[kind]}, got {text!r}")
    if kind == "choice":
        values = _choice_values(text.strip(), wrong)
        if not values:
            raise ConfigError(f"{where}: empty choice for '{name}': give at least one value")
        return SearchParam(name, kind, tuple(values), number)
    try:
        bounds = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise wrong from None
    if len(bounds) != (3 if kind == "quniform" else 2) or not all(map(math.isfinite, bounds)):
        raise wrong
    if not bounds[0] < bounds[1]:
        raise ConfigError(
            f"{where}: empty range for '{name}': LOW ({bounds[0]:g}) must be below HIGH "
            f"({bounds[1]:g})"
        )
    if kind == "quniform" and bounds[2] <= 0:
        raise ConfigError(f"{where}: Q of '{name}' must be above 0, got {bounds[2]:g}")
    return SearchParam(name, kind, bounds, number)


def _choice_values(text: str, wrong: ConfigError) -> list[Any]:
    """A choice's list: Python literals (never ``eval``), or a flat list of bare words."""
    try:
        values = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        inner = text[1:-1]
        if not (text.startswith("[") and text.endswith("]")) or "[" in inner or "]" in inner:
            raise wrong from None
        values = parse_option_value(text)
    if not isinstance(values, list):
        raise wrong
    return values


def check_space(
    space: SearchSpace,
    base: Config,
    fixed: Mapping[str, Any],
    config_file_list: Sequence[str] | None,
    algo: str,
) -> None:
    """Check a search space against the run's options before any trial.

    Args:
        space: the parameters.
        base: the run's Config (its model, dataset and fixed options).
        fixed: the options every trial gets (model, dataset, command-line options).
        config_file_list: the run's config files.
        algo: the search algorithm.

    Raises:
        ConfigError: naming the file, line and option: an option that neither RecBole, the plugin
            nor the model declares, a non-choice parameter in an exhaustive search, or a value
            that the option's checks refuse.
    """
    known = base.known_options()
    for param in space.params:
        where = space.where(param)
        if param.name not in known:
            close = difflib.get_close_matches(param.name, sorted(known), n=1, cutoff=0.8)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{where}: unknown option '{param.name}': not an option of RecBole, recbole-hug "
                f"or model {base['model']}{hint}"
            )
        if algo == "exhaustive" and param.kind != "choice":
            raise ConfigError(
                f"{where}: exhaustive search enumerates choices only, and '{param.name}' is "
                f"{param.kind}: pass --algo=random or --algo=bayes, or make it a choice"
            )
        for value in param.extremes():
            try:
                Config(config_file_list=config_file_list, config_dict={**fixed, param.name: value})
            except HugError as error:
                raise ConfigError(f"{where}: {param.name} = {value!r}: {error}") from error


# --------------------------------------------------------------------------------------------
# Trials and their outputs
@dataclass(frozen=True)
class TrialResult:
    """One trial: its tuned options and what ``objective_function`` reported.

    Attributes:
        params: the tuned options, typed.
        best_valid_score: the best validation score (of ``valid_metric``).
        valid_result: the validation metrics of the best epoch.
        test_result: the test metrics of the best epoch's model.
        seconds: the trial's wall-clock time.
    """

    params: dict[str, Any]
    best_valid_score: float
    valid_result: dict[str, float]
    test_result: dict[str, float]
    seconds: float

    def metrics(self) -> dict[str, float]:
        """Flat results: ``best_valid_score``, ``valid_<metric>``, ``test_<metric>``, ``seconds``
        (what a Ray trial reports, and the table's result columns)."""
        return {
            SCORE: self.best_valid_score,
            **{f"valid_{key}": value for key, value in self.valid_result.items()},
            **{f"test_{key}": value for key, value in self.test_result.items()},
            "seconds": self.seconds,
        }

    @classmethod
    def from_metrics(cls, params: dict[str, Any], metrics: Mapping[str, Any]) -> TrialResult:
        """The trial that reported ``metrics`` (the inverse of :meth:`metrics`)."""

        def prefixed(prefix: str) -> dict[str, float]:
            return {k[len(prefix) :]: v for k, v in metrics.items() if k.startswith(prefix)}

        return cls(
            params, metrics[SCORE], prefixed("valid_"), prefixed("test_"), metrics["seconds"]
        )


def _run_trial(
    space: SearchSpace,
    sample: Mapping[str, Any],
    fixed: Mapping[str, Any],
    config_file_list: Sequence[str] | None,
) -> tuple[TrialResult, dict[str, Any]]:
    """Train and test with the fixed options and one sample of the space.

    Returns:
        The trial, and ``objective_function``'s result (what ``HyperTuning`` reads).
    """
    params = space.typed(sample)
    start = time.perf_counter()
    result = objective_function({**fixed, **params}, config_file_list)
    seconds = time.perf_counter() - start
    valid, test = ({k: float(v) for k, v in result[key].items()} for key in RESULTS)
    trial = TrialResult(params, float(result[SCORE]), valid, test, seconds)
    return trial, result


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
        trials: every trial, in the order they ran (Hyperopt) or were created (Ray).
        best: the trial with the best validation score.
        best_config: the best trial's options, as written to ``best_config_file``.
        table_file: the CSV table of every trial.
        markdown_file: the same table in Markdown.
        best_config_file: the yaml of ``best_config``.
    """

    trials: list[TrialResult]
    best: TrialResult
    best_config: dict[str, Any]
    table_file: Path
    markdown_file: Path
    best_config_file: Path


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


def prepare_ray_worker() -> None:
    """Let Ray Tune 2.6 import on numpy 2: its loggers read ``np.bool8`` (removed in numpy 2)
    when ``ray.tune`` is imported. Run in the driver and, as Ray's worker setup hook, in every
    worker process before it unpickles a trial."""
    if "bool8" not in np.__dict__:
        np.bool8 = np.bool_


def _import_ray_tune() -> tuple[ModuleType, ModuleType]:
    """``ray`` and ``ray.tune``, ready for numpy 2 (:func:`prepare_ray_worker`).

    Ray Tune 2.6 also needs pyarrow for its local experiment folders, and ray 2.6 imports
    ``pkg_resources`` (setuptools < 82): the ``ray`` extra installs both.
    """
    prepare_ray_worker()
    try:
        import pyarrow  # noqa: F401
        import ray
        from ray import tune
    except ImportError as error:
        raise ConfigError(
            f"--tool=Ray needs Ray Tune 2.6 and pyarrow ({error}): {INSTALL_RAY}"
        ) from error
    return ray, tune


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
        trial, result = _run_trial(space, config_dict, fixed, files)
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


@dataclass(frozen=True)
class RayOptions:
    """Where and how Ray Tune runs the trials.

    Attributes:
        address: the Ray cluster to join (``auto`` for the one started on this machine, or
            ``HOST:PORT`` of ``ray start --head``); None starts Ray on this machine for this run.
        storage: the folder of Tune's experiment (each trial's folder holds its logs and
            checkpoints).
        cpus_per_trial: CPUs reserved per trial.
        gpus_per_trial: GPUs per trial (fractions share a GPU); None: 1 where this machine has
            CUDA, else 0.
    """

    address: str | None = None
    storage: str = "ray_log"
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None


def _ray_trial(
    config: dict[str, Any],
    space: SearchSpace,
    fixed: Mapping[str, Any],
    config_file_list: list[str],
) -> None:
    """One Ray Tune trial: ``objective_function`` on the GPUs Ray gave it, reported once.

    RecBole's own objective both reports its test result and returns a dict; Ray 2.6 records the
    returned dict as one more result, which lacks the scheduler's metric, and its strict metric
    check then fails the trial under ASHA. This trial reports the flat results of
    :meth:`TrialResult.metrics` (``best_valid_score`` among them) once, and returns nothing.
    """
    import ray
    from ray.air import session

    gpu_ids = ray.get_gpu_ids()
    device = (
        {"gpu_id": ",".join(map(str, gpu_ids))} if gpu_ids else {"use_gpu": False, "gpu_id": ""}
    )
    trial, _ = _run_trial(space, config, {**fixed, **device}, config_file_list)
    session.report(trial.metrics())


def _tune_with_ray(
    space: SearchSpace,
    fixed: Mapping[str, Any],
    config_file_list: list[str],
    algo: str,
    max_evals: int,
    bigger: bool,
    options: RayOptions,
) -> tuple[list[TrialResult], str | None]:
    """Ray Tune trials in parallel; the search space and algorithm as with hyperopt.

    Ray is started here (and stopped at the end) unless it already runs in this process, in which
    case it must have been started with ``runtime_env={"worker_process_setup_hook":
    prepare_ray_worker}``.

    Returns:
        The trials that finished, and None or a message on the trials that failed (how many, the
        first one's error and where Ray wrote its traceback).
    """
    ray, tune = _import_ray_tune()
    from ray.tune.schedulers import ASHAScheduler

    mode = "max" if bigger else "min"
    search_alg = None
    param_space = space.ray_space(tune, grid=algo == "exhaustive")
    if algo == "bayes":
        from ray.tune.search.hyperopt import HyperOptSearch

        search_alg = HyperOptSearch(space.hyperopt_space(), metric=SCORE, mode=mode)
        param_space = None
    gpus = options.gpus_per_trial
    if gpus is None:
        import torch

        gpus = 1 if torch.cuda.is_available() else 0
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=options.address or "local",
            runtime_env={"worker_process_setup_hook": prepare_ray_worker},
        )
    try:
        analysis = tune.run(
            tune.with_parameters(
                _ray_trial, space=space, fixed=fixed, config_file_list=config_file_list
            ),
            config=param_space,
            search_alg=search_alg,
            num_samples=1 if algo == "exhaustive" else max_evals,
            scheduler=ASHAScheduler(metric=SCORE, mode=mode),
            resources_per_trial={"cpu": options.cpus_per_trial, "gpu": gpus},
            storage_path=str(Path(options.storage).resolve()),
            raise_on_failed_trial=False,
            verbose=1,
        )
    finally:
        if started:
            ray.shutdown()
    finished = [trial for trial in analysis.trials if trial.status == "TERMINATED"]
    failed = [trial for trial in analysis.trials if trial.status != "TERMINATED"]
    failure = None
    if failed:
        error_file = failed[0].error_file
        readable = error_file is not None and Path(error_file).is_file()
        error = Path(error_file).read_text().strip().splitlines()[-1] if readable else "no error"
        failure = (
            f"{len(failed)} of {len(analysis.trials)} Ray trials failed; the first, "
            f"{space.typed(failed[0].config)}: {error} (traceback: {error_file})"
        )
    trials = [
        TrialResult.from_metrics(space.typed(trial.config), trial.last_result) for trial in finished
    ]
    return trials, failure


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
        tool: ``Hyperopt`` (this process) or ``Ray`` (Ray Tune).
        output_file: the CSV table; the Markdown table (``.md``) and the best trial's options
            (``.best.yaml``) are written beside it.
        ray_options: where and how Ray runs the trials (``tool='Ray'``).

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
    if tool == "Hyperopt":

        def record(trial: TrialResult) -> None:  # the table grows as the trials run
            trials.append(trial)
            write_table(trials, table_file, markdown_file)

        _tune_with_hyperopt(space, fixed, files, algo, max_evals, early_stop, record)
    else:
        # Ray runs each trial in its own folder: the data folder must not be relative.
        data_path = str(Path(base["data_path"]).resolve().parent)
        trials, failure = _tune_with_ray(
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
    header = (
        f"# The best of {len(trials)} trials ({algo} search, {tool}) over {space.file}: "
        f"trial {best_index + 1}, {base['valid_metric']} {best.best_valid_score:.4g} "
        f"on validation.\n# python run_recbole_hug.py --model={best_config['model']} "
        f"--dataset={best_config['dataset']} --config_files={best_config_file}\n"
    )
    best_config_file.write_text(
        header + yaml.safe_dump(best_config, sort_keys=False), encoding="utf-8"
    )
    result = TuningResult(trials, best, best_config, table_file, markdown_file, best_config_file)
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
    parser.add_argument("--tool", default="Hyperopt", help="Hyperopt or Ray")
    parser.add_argument("--algo", default="exhaustive", help="exhaustive, random or bayes")
    parser.add_argument("--max_evals", type=int, default=100, help="trials (random, bayes)")
    parser.add_argument(
        "--early_stop", type=int, default=10, help="Hyperopt: stop after N trials, no progress"
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
        )
    except HugError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    best = result.best
    print(f"best params: {best.params}")
    print(f"best valid result: {best.valid_result}")
    print(f"test result: {best.test_result}")
    print(f"trials: {result.table_file}, {result.markdown_file}")
    print(f"best config: {result.best_config_file}")
    return 0
