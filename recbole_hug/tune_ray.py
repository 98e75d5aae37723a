"""``run_hyper_hug.py --tool=Ray``: the trials in parallel with Ray Tune 2.6, on this machine or a
Ray cluster (the ``ray`` extra, Python 3.10 and 3.11: ray 2.6.3, the last that RecBole 1.2.1
allows, has no wheels past 3.11). The search space, trials and outputs are those of the other
tools (:mod:`recbole_hug.tune`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from recbole_hug.errors import ConfigError
from recbole_hug.tune_space import SCORE, SearchSpace, TrialResult, run_trial

INSTALL_RAY = "pip install 'recbole-hug[ray]' (Python 3.10 or 3.11)"


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
    trial, _ = run_trial(space, config, {**fixed, **device}, config_file_list)
    session.report(trial.metrics())


def tune_with_ray(
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
