"""``run_hyper_hug.py --tool=Optuna``: the same params files, tables and best yaml as the other
tools (:mod:`recbole_hug.tune`), with Optuna's samplers, pruners and storage.

- Sampling: ``exhaustive`` is Optuna's grid sampler over the choices, ``random`` its random
  sampler, ``bayes`` its TPE sampler; each is seeded with the run's ``seed`` option, so the same
  command draws the same trials.
- Pruning: each trial reports its validation score after every epoch (RecBole's ``callback_fn``,
  through :func:`recbole_hug.quick_start.objective_function`), and the pruner (``median``,
  ``hyperband`` or ``none``) stops a trial that is losing before its last epoch.
- Storage: ``--storage=sqlite:///study.db`` (any SQLAlchemy URL) keeps the study in a database: the
  same command run again resumes it (the trials already finished, or pruned, count towards
  ``max_evals``), and several processes or machines given the same URL share its trials. A trial's
  options and metrics are kept in the study, so the table and the best yaml cover every trial of
  the study, whichever process ran it. A trial left running by a killed process is marked failed
  once its heartbeat is older than two minutes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from recbole_hug.errors import ConfigError, HugError
from recbole_hug.tune_space import SearchParam, SearchSpace, TrialResult, run_trial

INSTALL_OPTUNA = "pip install 'recbole-hug[optuna]'"
PRUNERS = ("median", "hyperband", "none")
#: The trial attribute that holds a finished trial's typed options and metrics.
TRIAL_ATTR = "recbole_hug"
#: Seconds between a running trial's heartbeats in an RDB storage.
HEARTBEAT_SECONDS = 60


@dataclass(frozen=True)
class OptunaOptions:
    """Where the study lives and how it prunes.

    Attributes:
        storage: an SQLAlchemy URL (``sqlite:///study.db``), or None for a study in memory.
        study_name: the study's name in the storage.
        pruner: ``median`` (Optuna's median pruner), ``hyperband`` or ``none``.
        startup_trials: trials that the median pruner lets finish before it prunes any.
    """

    storage: str | None = None
    study_name: str = "hyper"
    pruner: str = "median"
    startup_trials: int = 5


def import_optuna() -> ModuleType:
    """``optuna``, or a ConfigError naming the extra that installs it."""
    try:
        import optuna
    except ImportError as error:
        raise ConfigError(f"--tool=Optuna needs optuna ({error}): {INSTALL_OPTUNA}") from error
    return optuna


def open_storage(optuna: ModuleType, url: str | None) -> Any:
    """The RDB storage at ``url`` (None: in memory).

    Raises:
        ConfigError: naming the URL: it cannot be parsed or opened.
    """
    if url is None:
        return None
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 4 and 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS)
    except (SQLAlchemyError, ValueError, ImportError, OSError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ConfigError(
            f"cannot open the Optuna storage '{url}' (--storage); expected an SQLAlchemy URL "
            f"such as sqlite:///study.db in a folder that exists: {reason}"
        ) from error


def _label(value: Any) -> Any:
    """A choice as Optuna stores it: None, bool, int, float and str as they are, others (lists)
    by their ``repr``."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def suggest(trial: Any, param: SearchParam) -> Any:
    """Draw one parameter of the space for an Optuna trial (ranges as hyperopt reads them:
    ``loguniform`` bounds are natural logs, ``quniform`` steps by Q)."""
    if param.kind == "choice":
        labels = {_label(value): value for value in param.values}
        return labels[trial.suggest_categorical(param.name, list(labels))]
    low, high = param.values[:2]
    if param.kind == "loguniform":
        return trial.suggest_float(param.name, math.exp(low), math.exp(high), log=True)
    if param.kind == "quniform":
        step = param.values[2]
        if all(float(bound).is_integer() for bound in param.values):
            return trial.suggest_int(param.name, int(low), int(high), step=int(step))
        return trial.suggest_float(param.name, low, high, step=step)
    return trial.suggest_float(param.name, low, high)


def _sampler(optuna: ModuleType, space: SearchSpace, algo: str, seed: int) -> Any:
    if algo == "exhaustive":
        grid = {param.name: [_label(value) for value in param.values] for param in space.params}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if algo == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(optuna: ModuleType, options: OptunaOptions, epochs: int) -> Any:
    if options.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=options.startup_trials)
    if options.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    return optuna.pruners.NopPruner()


def check_options(options: OptunaOptions) -> None:
    """Raises: ConfigError for an unknown pruner or a negative ``startup_trials``."""
    if options.pruner not in PRUNERS:
        raise ConfigError(
            f"unknown pruner '{options.pruner}' (--pruner); expected {', '.join(PRUNERS)}"
        )
    if options.startup_trials < 0:
        raise ConfigError(f"--startup_trials must be 0 or more, got {options.startup_trials}")


def tune_with_optuna(
    space: SearchSpace,
    fixed: Mapping[str, Any],
    config_file_list: Sequence[str],
    algo: str,
    max_evals: int,
    base: Any,
    options: OptunaOptions,
    record: Callable[[list[TrialResult]], None],
) -> tuple[list[TrialResult], int]:
    """Run (or resume) the study until ``max_evals`` of its trials have finished or been pruned
    (an exhaustive search: every combination), one trial after another in this process.

    Args:
        base: the run's Config (its ``seed``, ``epochs``, ``valid_metric_bigger``).
        record: called with the study's finished trials after each trial of this process (the
            table grows as they run).

    Returns:
        The study's finished trials in the order they were created, and how many were pruned.

    Raises:
        ConfigError: Optuna missing, a storage that cannot be opened, or a stored study of the
            same name that optimizes in the other direction.
        HugError: a trial's own error (its trial is marked failed in the study).
    """
    check_options(options)
    optuna = import_optuna()
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if algo == "exhaustive":
        max_evals = 1
        for param in space.params:
            max_evals *= len(param.values)
    storage = open_storage(optuna, options.storage)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=options.study_name,
            sampler=_sampler(optuna, space, algo, base["seed"]),
            pruner=_pruner(optuna, options, base["epochs"]),
            direction="maximize" if base["valid_metric_bigger"] else "minimize",
            load_if_exists=True,
        )
    except ValueError as error:  # a stored study that optimizes the other way
        raise ConfigError(f"Optuna study '{options.study_name}' (--study_name): {error}") from error
    if study.trials:  # resumed: draw afresh, not the first process's first draws again
        study.sampler = _sampler(optuna, space, algo, base["seed"] + len(study.trials))

    def objective(trial: Any) -> float:
        sample = {param.name: suggest(trial, param) for param in space.params}

        def report(epoch: int, score: float) -> None:
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}: {base['valid_metric']} {score:.4g}")

        try:
            result = run_trial(space, sample, fixed, config_file_list, on_valid=report)[0]
        except HugError as error:
            # Raised here, Optuna would log its traceback: the trial fails (NaN), the study
            # stops, and the error is raised once optimize returns.
            errors.append(error)
            trial.study.stop()
            return math.nan
        trial.set_user_attr(TRIAL_ATTR, {"params": result.params, "metrics": result.metrics()})
        return result.best_valid_score

    errors: list[HugError] = []
    remaining = max_evals - len(study.get_trials(deepcopy=False, states=states))
    if remaining > 0:
        study.optimize(
            objective,
            n_trials=remaining,
            callbacks=[
                optuna.study.MaxTrialsCallback(max_evals, states=states),
                lambda study, _: _record_finished(study, record),
            ],
        )
    if errors:
        raise errors[0]
    return finished(study), len(study.get_trials(deepcopy=False, states=states[1:]))


def _record_finished(study: Any, record: Callable[[list[TrialResult]], None]) -> None:
    trials = finished(study)
    if trials:
        record(trials)


def finished(study: Any) -> list[TrialResult]:
    """The study's finished trials, in the order they were created (whichever process ran them)."""
    from optuna.trial import TrialState

    stored = [
        trial.user_attrs[TRIAL_ATTR] for trial in study.get_trials(states=(TrialState.COMPLETE,))
    ]
    return [TrialResult.from_metrics(entry["params"], entry["metrics"]) for entry in stored]
