"""Running experiments: the plugin's counterpart of ``recbole.quick_start``, for every model.

``run_recbole_hug`` does what RecBole's ``run_recbole`` does (same logs, checkpoints and
results), for plugin models and RecBole's built-in models alike; ``objective_function`` is the
same for RecBole's ``HyperTuning``; ``load_data_and_model`` reloads any checkpoint it saved.
Unlike ``recbole.quick_start`` it does not import ray, and checkpoints reload on torch >= 2.6.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from logging import getLogger
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml
from recbole.data.transform import construct_transform
from recbole.utils import get_environment, get_flops, init_logger, init_seed, set_color

from recbole_hug.checkpoint import config_dict_from_options
from recbole_hug.checks import check_data, empty_part
from recbole_hug.cli_help import model_options_help
from recbole_hug.compat import restore_legacy_numpy_names, trusted_checkpoints
from recbole_hug.config import Config
from recbole_hug.data.dataloader import data_preparation
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import ConfigError, HugError
from recbole_hug.files import load_checkpoint
from recbole_hug.summary import summary_table
from recbole_hug.utils import get_model, get_trainer

DEFAULT_MODEL = "HUGT"
DEFAULT_DATASET = "ml-100k"


def _start_logging(config: Config) -> logging.Logger:
    """RecBole's ``init_logger``, run afresh: a new log file and console handler for each run.

    RecBole configures the root logger with ``logging.basicConfig``, which does nothing once the
    root logger has handlers, so a second run in one process would log into the first run's file;
    the root logger's handlers are replaced, as RecBole's own ``objective_function`` does.
    """
    logger = getLogger()
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
        handler.close()
    init_logger(config)
    return logger


def _build(config: Config, log: bool) -> tuple:
    """RecBole's preparation, shared by every entry point: seeds, logging, the dataset, its
    three dataloaders (checked against the options: :func:`recbole_hug.checks.check_data`) and
    the model (the model's seed offset by the DDP rank).

    Returns:
        ``(dataset, train_data, valid_data, test_data, model)``.
    """
    init_seed(config["seed"], config["reproducibility"])
    logger = _start_logging(config)
    if log:
        logger.info(sys.argv)
        logger.info(config)
    dataset = create_dataset(config)
    if log:
        logger.info(dataset)
    try:
        train_data, valid_data, test_data = data_preparation(config, dataset)
    except ValueError as error:  # torch's sampler refuses an empty training part
        if "num_samples" not in str(error):
            raise
        raise empty_part(config, dataset, "train") from error
    parts = {"train": train_data, "valid": valid_data, "test": test_data}
    check_data(config, dataset, {name: part._dataset for name, part in parts.items()})
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    try:
        model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    except HugError:
        raise
    except ValueError as error:  # a RecBole model's own check of its options
        raise ConfigError(f"model {config['model']} refuses its options: {error}") from error
    return dataset, train_data, valid_data, test_data, model


def _train_and_test(
    config: Config,
    model: Any,
    train_data: Any,
    valid_data: Any,
    test_data: Any,
    saved: bool,
    verbose: bool,
    show_progress: bool,
    on_valid: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Fit with early stopping on validation, then test (with the best checkpoint if saved).

    ``on_valid(epoch, score)`` is called after each validation (RecBole's ``callback_fn``), with
    the epoch (from 0) and its ``valid_metric`` score; an exception it raises (a tuner's
    pruning) ends the run.

    Returns:
        RecBole's ``best_valid_score``, ``valid_score_bigger``, ``best_valid_result``,
        ``test_result``, ``epochs_run`` (the epochs ``fit`` trained) and ``best_epoch`` (the
        epoch of the best validation score, from 0; None without validation) and ``epoch_log``
        (per epoch: times, training loss, validation score and result;
        :class:`recbole_hug.trainer.HugTrainerMixin`) and ``test_rows`` (per test row: user,
        sequence length and rank of the target in the top-k; :func:`_test_rows`).
    """
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.set_serving_data(train_data, valid_data, test_data)
    scores: list[tuple[int, float]] = []

    def record(epoch: int, score: float) -> None:
        scores.append((epoch, score))
        if on_valid is not None:
            on_valid(epoch, score)

    with trusted_checkpoints():
        best_valid_score, best_valid_result = trainer.fit(
            train_data,
            valid_data,
            verbose=verbose,
            saved=saved,
            show_progress=show_progress,
            callback_fn=record,
        )
        test_result = trainer.evaluate(
            test_data, load_best_model=saved, show_progress=show_progress
        )
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "epochs_run": len(trainer.train_loss_dict),
        "best_epoch": _best_epoch(trainer, scores, saved, config["valid_metric_bigger"]),
        "epoch_log": trainer.epoch_log,
        "test_rows": _test_rows(config, test_data, trainer.last_ranks),
    }


def _test_rows(config: Config, test_data: Any, ranks: Any) -> dict[str, Any] | None:
    """Per test row, in the rows' order: ``user`` (RecBole's id), ``length`` (of its item
    sequence) and ``rank`` of its target in the top-k (1..max(topk), 0 beyond); None when the
    test rows are not one per target (general models' per-user rows) or no ranks were kept."""
    dataset = getattr(test_data, "_dataset", None)
    length_field = config["ITEM_LIST_LENGTH_FIELD"]
    if ranks is None or dataset is None or length_field not in dataset.inter_feat:
        return None
    users = dataset.inter_feat[config["USER_ID_FIELD"]].numpy()
    if len(users) != len(ranks):
        return None  # several processes (each ranks its own share) or grouped rows
    lengths = dataset.inter_feat[length_field].numpy()
    return {"user": users, "length": lengths, "rank": ranks}


def _best_epoch(
    trainer: Any, scores: Sequence[tuple[int, float]], saved: bool, bigger: bool
) -> int | None:
    """The epoch (from 0) of the best validation score: the one the saved checkpoint holds (it
    is written at each new best), else the last epoch of the best score validated here
    (RecBole's early stopping takes an equal score as the new best; with ``stopping_strict`` the
    trainer lowers such a score first); None without either."""
    checkpoint = Path(trainer.saved_model_file)
    if saved and checkpoint.is_file():  # our checkpoints are plain data (recbole_hug.checkpoint)
        return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"])
    sign = 1 if bigger else -1
    return max(scores, key=lambda pair: (sign * pair[1], pair[0]))[0] if scores else None


def run_recbole_hug(
    model: str | None = None,
    dataset: str | None = None,
    config_file_list: Sequence[str] | None = None,
    config_dict: Mapping[str, Any] | None = None,
    saved: bool = True,
    queue: Any = None,
    cmd_args: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train, validate and test one model on one dataset, as RecBole's ``run_recbole``.

    Args:
        model: the model name (plugin or RecBole); None reads it from the options.
        dataset: the dataset name; None reads it from the options.
        config_file_list: yaml files of options.
        config_dict: options as a dict.
        saved: save the best checkpoint and test with it.
        queue: a multiprocessing queue that receives the result (rank 0 of a DDP run).
        cmd_args: ``--key=value`` command-line options (the highest precedence).

    Returns:
        ``best_valid_score``, ``valid_score_bigger``, ``best_valid_result``, ``test_result``,
        ``epochs_run``, ``best_epoch`` and ``summary`` (the end-of-run table,
        :func:`recbole_hug.summary.summary_table`, which the command line prints).
    """
    config = Config(model, dataset, config_file_list, config_dict, cmd_args)
    dataset, train_data, valid_data, test_data, model = _build(config, log=True)
    logger = getLogger()
    logger.info(model)
    flops = get_flops(model, dataset, config["device"], logger, construct_transform(config))
    logger.info(set_color("FLOPs", "blue") + f": {flops}")
    result = _train_and_test(
        config, model, train_data, valid_data, test_data, saved, True, config["show_progress"]
    )
    environment = get_environment(config)
    logger.info("The running environment of this training is as follows:\n" + environment.draw())
    logger.info(set_color("best valid ", "yellow") + f": {result['best_valid_result']}")
    logger.info(set_color("test result", "yellow") + f": {result['test_result']}")
    result["summary"] = summary_table(config.final_config_dict, result)
    if not config["single_spec"]:
        dist.destroy_process_group()
    if config["local_rank"] == 0 and queue is not None:
        queue.put(result)
    return result


def _run_rank(rank: int, *args: Any) -> None:
    """One process of a multi-process run (``torch.multiprocessing.spawn`` target); a HugError
    is also sent to the parent, which reports it in place of the process's traceback."""
    *positional, kwargs = args
    kwargs["config_dict"] = {**kwargs.get("config_dict", {}), "local_rank": rank}
    try:
        run_recbole_hug(*positional, **kwargs)
    except HugError as error:
        kwargs["queue"].put(error)
        raise


def _drain(queue: Any) -> list[Any]:
    """Everything the processes of a run put in ``queue``."""
    items = []
    while not queue.empty():
        items.append(queue.get())
    return items


def run(
    model: str,
    dataset: str,
    config_file_list: Sequence[str] | None = None,
    config_dict: Mapping[str, Any] | None = None,
    saved: bool = True,
    nproc: int = 1,
    world_size: int = -1,
    ip: str = "localhost",
    port: str = "5678",
    group_offset: int = 0,
    cmd_args: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """One run in this process, or ``nproc`` DDP processes (as RecBole's ``run``).

    Several processes (``nproc`` > 1, or ``world_size`` > 0 for several machines) train one
    model with torch DDP: NCCL with one GPU per process, or gloo with CPU processes
    (``use_gpu=False`` or no CUDA; see ``docs/distributed.md``). This machine runs global ranks
    ``group_offset`` to ``group_offset + nproc - 1`` of ``world_size``, meeting at ``ip:port``.
    The options are checked, and the processes against this machine's GPUs or cores, before
    any process starts.

    Returns:
        The results (see :func:`run_recbole_hug`); with several processes, those of this
        machine's first process (every process has the same metrics).

    Raises:
        HugError: bad options, too many processes for this machine, or a process's HugError.
    """
    if nproc == 1 and world_size <= 0:
        return run_recbole_hug(
            model, dataset, config_file_list, config_dict, saved, cmd_args=cmd_args
        )
    import torch.multiprocessing as mp

    world_size = world_size if world_size > 0 else nproc
    config = Config(model, dataset, config_file_list, config_dict, cmd_args)
    config.check_processes(nproc, world_size, group_offset)
    # Every process makes these folders, as RecBole does (os.makedirs, racing): made here first.
    for folder in (Path("log") / config["model"], Path(config["checkpoint_dir"])):
        folder.mkdir(parents=True, exist_ok=True)
    queue = mp.get_context("spawn").SimpleQueue()
    distributed = {
        "world_size": world_size,
        "ip": ip,
        "port": port,
        "nproc": nproc,
        "offset": group_offset,
    }
    kwargs = {
        "config_dict": {**(config_dict or {}), **distributed},
        "saved": saved,
        "queue": queue,
        "cmd_args": cmd_args,
    }
    try:
        mp.spawn(
            _run_rank, args=(model, dataset, config_file_list, kwargs), nprocs=nproc, join=True
        )
    except (mp.ProcessRaisedException, mp.ProcessExitedException):
        errors = [item for item in _drain(queue) if isinstance(item, HugError)]
        if errors:
            raise errors[0] from None
        raise
    results = _drain(queue)
    return results[0] if results else None


def objective_function(
    config_dict: Mapping[str, Any] | None = None,
    config_file_list: Sequence[str] | None = None,
    saved: bool = True,
    on_valid: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """The objective for RecBole's ``HyperTuning``: train on the trial's options, report results.

    Works for plugin models and RecBole's models alike (the model is the ``model`` option).
    ``on_valid(epoch, score)`` receives each validation score (a tuner's pruning).
    """
    config = Config(config_dict=config_dict, config_file_list=config_file_list)
    _, train_data, valid_data, test_data, model = _build(config, log=False)
    result = _train_and_test(
        config, model, train_data, valid_data, test_data, saved, False, False, on_valid
    )
    return {"model": config["model"], **result}


def load_data_and_model(model_file: str) -> tuple:
    """Reload a checkpoint saved by a run: config, model, dataset and the three dataloaders.

    The data is read again from the atomic files. recbole-hug's checkpoints are read with
    ``weights_only=True`` and verified (:func:`recbole_hug.files.load_checkpoint`), and the
    Config is rebuilt from their saved options
    (:func:`recbole_hug.checkpoint.config_dict_from_options`). A checkpoint that pickles Python
    objects (RecBole's, or older ones of recbole-hug) is unpickled in full, as RecBole
    does: load only files you trust.

    Returns:
        ``(config, model, dataset, train_data, valid_data, test_data)``, as RecBole's.
    """
    restore_legacy_numpy_names()
    try:
        checkpoint = load_checkpoint(model_file)  # verified: checksum, finite weights
    except pickle.UnpicklingError:
        # A pickled Config (see recbole_hug.compat.trusted_checkpoints).
        checkpoint = torch.load(model_file, map_location="cpu", weights_only=False)
    config = checkpoint["config"]
    if isinstance(config, dict):
        config = Config(
            config["model"], config["dataset"], config_dict=config_dict_from_options(config)
        )
    dataset, train_data, valid_data, test_data, model = _build(config, log=True)
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model, dataset, train_data, valid_data, test_data


def build_parser(model: str | None = None) -> argparse.ArgumentParser:
    """The command line of ``run_recbole_hug.py``: RecBole's ``run_recbole.py`` flags; its help
    ends with the options of ``model`` (default :data:`DEFAULT_MODEL`) and their yaml comments."""
    model = model or DEFAULT_MODEL
    parser = argparse.ArgumentParser(
        prog="run_recbole_hug.py",
        description="Train and evaluate a recbole-hug or RecBole model. Any other option is "
        "passed as --key=value (e.g. --epochs=10 --MAX_ITEM_LIST_LENGTH=20); "
        "--model=NAME --help lists that model's options.",
        epilog=model_options_help(model),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        "-m",
        help=f"name of the model (default: the config files', else {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--dataset",
        "-d",
        help=f"name of the dataset (default: the config files', else {DEFAULT_DATASET})",
    )
    parser.add_argument("--config_files", default=None, help="config files, space-separated")
    parser.add_argument("--nproc", type=int, default=1, help="the number of processes")
    parser.add_argument("--ip", default="localhost", help="the ip of the master node")
    parser.add_argument("--port", default="5678", help="the port of the master node")
    parser.add_argument("--world_size", type=int, default=-1, help="total number of jobs")
    parser.add_argument("--group_offset", type=int, default=0, help="the global rank offset")
    return parser


def _keys_in_files(files: Sequence[str]) -> set[str]:
    """The top-level keys of the yaml config files that can be read (Config reports the rest)."""
    keys: set[str] = set()
    for file in files:
        try:
            with open(file, encoding="utf-8") as handle:
                content = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(content, dict):
            keys |= set(content)
    return keys


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``run_recbole_hug.py``; returns the exit status."""
    model_flag = argparse.ArgumentParser(add_help=False)
    model_flag.add_argument("--model", "-m")
    chosen = model_flag.parse_known_args(argv)[0].model
    args, options = build_parser(chosen).parse_known_args(argv)
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    in_files = _keys_in_files(config_files or [])
    model = args.model or (None if "model" in in_files else DEFAULT_MODEL)
    dataset = args.dataset or (None if "dataset" in in_files else DEFAULT_DATASET)
    try:
        result = run(
            model,
            dataset,
            config_file_list=config_files,
            nproc=args.nproc,
            world_size=args.world_size,
            ip=args.ip,
            port=args.port,
            group_offset=args.group_offset,
            cmd_args=options,
        )
    except HugError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if result is not None:  # None: a machine without global rank 0 of a multi-machine run
        print(result["summary"])
    return 0
