"""The plugin's Config: RecBole's, with our properties layered in, our models found, and checks.

Precedence, lowest first (RecBole's own order, with the plugin's layer inserted after RecBole's):

1. RecBole's defaults: ``overall.yaml``, the model's yaml (built-in models), ``sample.yaml``, the
   dataset's yaml, and RecBole's per-model-type quick-start yaml (e.g. ``sequential.yaml``).
2. The plugin's ``properties/overall.yaml`` (just above RecBole's overall.yaml, so RecBole's
   per-model, per-dataset and per-model-type yamls override it); then, above all of RecBole's,
   ``properties/sessions.yaml`` when ``session_rows`` is True, the model's yaml (registered
   models: ``properties/model/<Model>.yaml``) and ``properties/dataset/<dataset>.yaml``.
3. The user's config files, then the ``config_dict``, then command-line ``--key=value`` arguments.

Unlike RecBole's Config it does not read ``sys.argv`` (the command line is passed in as
``cmd_args``), does not ``eval()`` option strings (``ast.literal_eval`` only), finds datasets by
:func:`resolve_data_path`, and reports unknown and ill-typed options.
"""

from __future__ import annotations

import ast
import difflib
import logging
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import recbole
import torch
import yaml
from recbole.config import Config as RecBoleConfig
from recbole.utils import ModelType
from recbole.utils.argument_list import (
    dataset_arguments,
    evaluation_arguments,
    general_arguments,
    training_arguments,
)

from recbole_hug import registry
from recbole_hug.checks import check_option_values, recbole_bool_options
from recbole_hug.compat import count_pop_rows, restore_legacy_numpy_names
from recbole_hug.data.protocols import HUGT
from recbole_hug.errors import ConfigError, DataError, HugError
from recbole_hug.paths import ATOMIC_DATA_DIR, PROPERTIES_DIR
from recbole_hug.resume import find_resume_file
from recbole_hug.utils import get_model

#: Session-data defaults, layered in when ``session_rows`` is True (before the model's yaml).
SESSIONS_FILE = PROPERTIES_DIR / "sessions.yaml"

logger = logging.getLogger(__name__)

RECBOLE_DIR = Path(recbole.__file__).resolve().parent
#: The ml-100k copy that the recbole wheel installs (``recbole/dataset_example/``).
RECBOLE_EXAMPLE_DIR = RECBOLE_DIR / "dataset_example"

#: Options that RecBole reads in code without declaring them in a yaml.
UNDECLARED_RECBOLE_OPTIONS: frozenset[str] = frozenset(
    {
        "model",
        "dataset",
        "config_files",
        "nproc",
        "world_size",
        "ip",
        "port",
        "offset",
        "local_rank",
        "single_spec",
        "valid_neg_sample_args",
        "test_neg_sample_args",
        "MODEL_TYPE",
        "MODEL_INPUT_TYPE",
        "eval_type",
        "device",
        "train_neg_sample_args",
        "wandb_project",
        "log_wandb",
        "transform",
        "SESSION_ID_FIELD",
        "neg_sampling",
        "training_neg_sample_num",
        "save_dataloaders",
        "dataloaders_save_path",
    }
)

_CONVERTIBLE = (str, int, float, list, tuple, dict, bool)


def available_cpus() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_option_value(text: str) -> Any:
    """Turn a command-line or HyperTuning option string into a Python value.

    Python literals (numbers, lists, dicts, ``None``, ``True``) become values, ``true``/``false``
    become booleans, a bracketed list of bare words (``[in,out]``) a list of strings, anything
    else stays a string. Unlike RecBole, never evaluates code.
    """
    stripped = text.strip()
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if stripped.startswith("[") and stripped.endswith("]") and stripped[1:-1].strip():
            return [parse_option_value(part.strip()) for part in stripped[1:-1].split(",")]
        return {"true": True, "false": False}.get(stripped.lower(), text)
    if value is not None and not isinstance(value, _CONVERTIBLE):
        return text
    return value


def _read_yaml(path: Path, loader: type) -> dict[str, Any]:
    """A yaml file's mapping, or ConfigError naming the file."""
    try:
        with open(path, encoding="utf-8") as file:
            content = yaml.load(file.read(), Loader=loader)
    except FileNotFoundError as error:
        raise ConfigError(f"config file not found: {path}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid yaml: {error}") from error
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"config file {path} must hold a mapping of options, not {content!r}")
    return content


@cache
def _recbole_declared_options() -> frozenset[str]:
    """Every option named in one of RecBole's yaml files or argument lists."""
    names = set(general_arguments + training_arguments + evaluation_arguments + dataset_arguments)
    for path in (RECBOLE_DIR / "properties").rglob("*.yaml"):
        with open(path, encoding="utf-8") as file:
            content = yaml.safe_load(file)
        if isinstance(content, dict):
            names.update(content)
    return frozenset(names)


def _recbole_bool_options() -> frozenset[str]:
    """The options that RecBole's ``overall.yaml`` declares as booleans."""
    return recbole_bool_options(str(RECBOLE_DIR / "properties" / "overall.yaml"))


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _matches_type(value: Any, default: Any) -> bool:
    """Whether ``value`` may replace ``default`` (ints are accepted where floats are)."""
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


@cache
def _downloadable_datasets() -> frozenset[str]:
    """The datasets RecBole knows how to download (its ``url.yaml``)."""
    with open(RECBOLE_DIR / "properties" / "dataset" / "url.yaml", encoding="utf-8") as file:
        return frozenset(yaml.safe_load(file))


def resolve_data_path(dataset: str, data_path: str | None) -> Path:
    """The folder holding ``<dataset>.inter``.

    An explicit ``data_path`` wins (``<data_path>/<dataset>``, as in RecBole). Otherwise the first
    folder that holds ``<dataset>.inter`` among ``./atomic_data/<dataset>``, the plugin's
    ``atomic_data/<dataset>`` and the recbole wheel's ``dataset_example/<dataset>``; otherwise
    RecBole's ``dataset/<dataset>`` when RecBole knows how to download the dataset.

    Raises:
        DataError: the dataset is nowhere, saying where it looked.
    """
    downloadable = _downloadable_datasets()
    if data_path is not None:
        folder = Path(data_path) / dataset
        if folder.exists() or dataset in downloadable:
            return folder
        raise DataError(
            f"dataset '{dataset}' not found: option 'data_path' is {data_path!r}, and "
            f"{folder} does not exist (data_path is the folder holding {dataset}/)"
        )
    candidates = [
        Path("atomic_data") / dataset,
        ATOMIC_DATA_DIR / dataset,
        RECBOLE_EXAMPLE_DIR / dataset,
    ]
    for folder in candidates:
        if (folder / f"{dataset}.inter").is_file():
            return folder
    if dataset in downloadable:
        return Path("dataset") / dataset
    looked = "\n  ".join(str(folder / f"{dataset}.inter") for folder in candidates)
    raise DataError(
        f"dataset '{dataset}' not found; looked for\n  {looked}\n"
        f"Pass --data_path=FOLDER (the folder holding {dataset}/{dataset}.inter), or put the "
        f"atomic files in atomic_data/{dataset}/."
    )


#: RecBole's general models whose scores ignore the user and the sequence, so they rank the
#: rows of any sequential protocol as they are (RecBole's Pop: training counts): with
#: ``eval_protocol: hugt`` they read its sequential rows, counting the training rows' targets.
SEQUENCE_BLIND_MODELS: frozenset[str] = frozenset({"Pop"})


class Config(RecBoleConfig):
    """RecBole's Config with the plugin's properties, registry and checks (see module docstring).

    Args:
        model: a model name (plugin or RecBole) or a model class; None reads ``model`` from the
            external options.
        dataset: a dataset name; None reads ``dataset`` from the external options.
        config_file_list: yaml files of options, applied in order.
        config_dict: options as a dict (values may be strings, as HyperTuning passes them).
        cmd_args: command-line arguments of the form ``--key=value``; ``sys.argv`` is never read.
    """

    def __init__(
        self,
        model: str | type | None = None,
        dataset: str | None = None,
        config_file_list: Sequence[str | os.PathLike] | None = None,
        config_dict: Mapping[str, Any] | None = None,
        cmd_args: Sequence[str] | None = None,
    ) -> None:
        self._cmd_args = list(cmd_args or [])
        try:
            super().__init__(
                model=model,
                dataset=dataset,
                config_file_list=[str(path) for path in config_file_list or []],
                config_dict=dict(config_dict) if config_dict else None,
            )
        except HugError:
            raise
        except (ValueError, NotImplementedError, RuntimeError, TypeError) as error:
            # RecBole's own option checks (metrics, topk, eval_args, neg sampling, ...)
            raise ConfigError(f"invalid options: {error}") from error

    # ----------------------------------------------------------------------------------------
    # RecBole's steps, replaced
    def compatibility_settings(self) -> None:
        restore_legacy_numpy_names()
        count_pop_rows()

    def _convert_config_dict(self, config_dict: dict[str, Any]) -> dict[str, Any]:
        return {
            key: parse_option_value(value) if isinstance(value, str) else value
            for key, value in config_dict.items()
        }

    def _load_config_files(self, file_list: Sequence[str]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        self._option_source: dict[str, str] = {}
        for file in file_list:
            content = _read_yaml(Path(file), self.yaml_loader)
            options.update(content)
            self._option_source.update(dict.fromkeys(content, f"config file {file}"))
        return options

    def _load_variable_config_dict(self, config_dict: dict[str, Any] | None) -> dict[str, Any]:
        options = super()._load_variable_config_dict(config_dict)
        self._option_source.update(dict.fromkeys(options, "config_dict"))
        return options

    def _load_cmd_line(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for arg in self._cmd_args:
            name, equals, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
            if not name or not equals:
                raise ConfigError(f"unrecognized argument '{arg}'; options are --key=value")
            if name in options and options[name] != value:
                raise ConfigError(f"option '{name}' is given twice with different values")
            options[name] = value
        self._option_source.update(dict.fromkeys(options, "command line"))
        return self._convert_config_dict(options)

    def _get_model_and_dataset(self, model: str | type | None, dataset: str | None):
        model = model if model is not None else self.external_config_dict.get("model")
        dataset = dataset if dataset is not None else self.external_config_dict.get("dataset")
        if model is None:
            raise ConfigError("no model given: pass --model=NAME (or 'model' in a config)")
        if dataset is None:
            raise ConfigError("no dataset given: pass --dataset=NAME (or 'dataset' in a config)")
        if isinstance(model, str):
            return model, get_model(model), dataset
        return model.__name__, model, dataset

    def _update_internal_config_dict(self, file: str) -> dict[str, Any] | None:
        content = super()._update_internal_config_dict(file)
        if Path(file).resolve() == RECBOLE_DIR / "properties" / "overall.yaml":
            # The plugin's overall defaults sit just above RecBole's, so that RecBole's per-model,
            # per-dataset and per-model-type yamls (e.g. CTR metrics) still override them.
            overall = _read_yaml(PROPERTIES_DIR / "overall.yaml", self.yaml_loader)
            self.internal_config_dict.update(overall)
            self._plugin_options = set(overall)
        return content

    def _load_internal_config_dict(self, model: str, model_class: type, dataset: str) -> None:
        super()._load_internal_config_dict(model, model_class, dataset)
        spec = registry.get_spec(model)
        model_defaults = (
            _read_yaml(spec.config_file, self.yaml_loader)
            if spec is not None and spec.config_file is not None
            else {}
        )
        session_rows = self.external_config_dict.get(
            "session_rows", model_defaults.get("session_rows", False)
        )
        session_defaults = (
            _read_yaml(SESSIONS_FILE, self.yaml_loader) if session_rows is True else {}
        )
        dataset_file = PROPERTIES_DIR / "dataset" / f"{dataset}.yaml"
        dataset_defaults = (
            _read_yaml(dataset_file, self.yaml_loader) if dataset_file.is_file() else {}
        )
        for layer in (session_defaults, model_defaults, dataset_defaults):
            self.internal_config_dict.update(layer)
            self._plugin_options |= set(layer)
        #: Options whose type the plugin's yaml files fix (checked in _check_options).
        self._typed_defaults = {**session_defaults, **model_defaults}
        self.parameters["Dataset"] += [
            key
            for key in [*session_defaults, *dataset_defaults]
            if key not in self.parameters["Dataset"]
        ]
        recbole_dataset_file = RECBOLE_DIR / "properties" / "dataset" / f"{dataset}.yaml"
        if not dataset_file.is_file() and not recbole_dataset_file.is_file():
            # No yaml describes this dataset: load every column of its .inter file (RecBole's
            # sample.yaml would load user_id and item_id only, dropping the timestamp).
            self.internal_config_dict["load_col"] = {"inter": "*"}

    def _set_default_parameters(self) -> None:
        self._check_options()
        options = self.final_config_dict
        if self.model in SEQUENCE_BLIND_MODELS and options.get("eval_protocol") == HUGT:
            options["MODEL_TYPE"] = ModelType.SEQUENTIAL  # scored on the protocol's own rows
            options["repeatable"] = True  # as every sequential model: seen items stay candidates
            if "train_neg_sample_args" not in self.external_config_dict:
                options["train_neg_sample_args"] = None  # count the targets, not sampled items
        if (
            options["MODEL_TYPE"] == ModelType.SEQUENTIAL
            and options.get("loss_type") == "CE"
            and "train_neg_sample_args" not in self.external_config_dict
        ):
            options["train_neg_sample_args"] = None  # CE scores all items: no negative sampling
        explicit_path = self.external_config_dict.get("data_path")
        super()._set_default_parameters()
        options["data_path"] = str(resolve_data_path(self.dataset, explicit_path))
        check_option_values(options, self.external_config_dict, _recbole_bool_options())
        if options.get("resume"):
            find_resume_file(str(options["resume"]))  # before any data is read

    # ----------------------------------------------------------------------------------------
    # Devices and processes
    def _init_device(self) -> None:
        """RecBole's device set-up, with a CPU path for multi-process (DDP) runs.

        One process: ``cuda`` when :meth:`uses_cuda`, else ``cpu`` (RecBole ignores ``use_gpu``).
        A process of a multi-process run (``local_rank`` set by
        :func:`recbole_hug.quick_start.run`) joins the process group at ``tcp://ip:port`` as
        global rank ``local_rank + offset`` of ``world_size``: NCCL on GPU ``local_rank`` when GPUs
        are used, else gloo on the CPU, the machine's cores shared out among its ``nproc``
        processes. Processes other than local rank 0 log errors only, as in RecBole.

        Raises:
            ConfigError: the processes do not fit (:meth:`check_processes`), or the process group
                cannot be joined at ``ip``/``port``.
        """
        options = self.final_config_dict
        gpu_id = options["gpu_id"]
        options["gpu_id"] = (
            ",".join(map(str, gpu_id)) if isinstance(gpu_id, (tuple, list)) else str(gpu_id)
        )
        os.environ["CUDA_VISIBLE_DEVICES"] = options["gpu_id"]
        cuda = self.uses_cuda()
        if "local_rank" not in options:
            options.update(
                single_spec=True, local_rank=0, device=torch.device("cuda" if cuda else "cpu")
            )
            return
        local_rank, nproc = options["local_rank"], options["nproc"]
        self.check_processes(nproc, options["world_size"], options["offset"])
        address = f"tcp://{options['ip']}:{options['port']}"
        rank = local_rank + options["offset"]
        try:
            torch.distributed.init_process_group(
                backend="nccl" if cuda else "gloo",
                init_method=address,
                rank=rank,
                world_size=options["world_size"],
            )
        except RuntimeError as error:
            raise ConfigError(
                f"process {rank} could not join the process group at {address} "
                f"(options 'ip' and 'port'): {error}"
            ) from error
        if cuda:
            torch.cuda.set_device(local_rank)
            device = torch.device("cuda", local_rank)
        else:
            torch.set_num_threads(max(1, available_cpus() // nproc))
            device = torch.device("cpu")
        options.update(device=device, single_spec=False)
        if local_rank != 0:
            options.update(state="error", show_progress=False, verbose=False)

    def uses_cuda(self) -> bool:
        """Whether the run uses GPUs: ``use_gpu`` is True, ``gpu_id`` names one, CUDA is there."""
        options = self.final_config_dict
        return bool(options["use_gpu"]) and options["gpu_id"] != "" and torch.cuda.is_available()

    def check_processes(self, nproc: int, world_size: int, offset: int) -> None:
        """Check that ``nproc`` processes, global ranks ``offset`` to ``offset + nproc - 1`` of
        ``world_size``, fit on this machine: one GPU each, or on the CPU at most one per core.

        Raises:
            ConfigError: naming ``nproc`` (or ``world_size`` and ``group_offset``) and the limit.
        """
        if nproc < 1:
            raise ConfigError(f"option 'nproc' must be at least 1, got {nproc}")
        if offset < 0 or offset + nproc > world_size:
            raise ConfigError(
                f"options 'group_offset' ({offset}) and 'nproc' ({nproc}) give global ranks "
                f"{offset} to {offset + nproc - 1}, outside the 0 to {world_size - 1} of "
                f"'world_size' ({world_size})"
            )
        if self.uses_cuda():
            gpu_id = self.final_config_dict["gpu_id"]
            gpus = min(len(gpu_id.split(",")), torch.cuda.device_count())
            if nproc > gpus:
                raise ConfigError(
                    f"option 'nproc' ({nproc}) is more than the {gpus} GPU(s) that gpu_id "
                    f"'{gpu_id}' gives this machine (one process per GPU); pass --nproc={gpus} "
                    "or less, more ids in --gpu_id, or --use_gpu=False for CPU processes"
                )
        elif nproc > (cpus := available_cpus()):
            raise ConfigError(
                f"option 'nproc' ({nproc}) is more than the {cpus} CPU cores of this machine "
                f"(no GPU in use: one process per core at most); pass --nproc={cpus} or less"
            )

    # ----------------------------------------------------------------------------------------
    # Checks
    def known_options(self) -> frozenset[str]:
        """Every option that RecBole or the plugin's yaml files (for this model) declare."""
        return _recbole_declared_options() | UNDECLARED_RECBOLE_OPTIONS | self._plugin_options

    def _check_options(self) -> None:
        """Ill-typed values of the plugin's model and session options are errors; unknown options
        are warnings."""
        known = self.known_options()
        for key, value in self.external_config_dict.items():
            source = self._option_source.get(key, "options")
            if key in self._typed_defaults:
                default = self._typed_defaults[key]
                if not _matches_type(value, default):
                    raise ConfigError(
                        f"option '{key}' ({source}) must be of type {_type_name(default)} "
                        f"(default {default!r}), got {value!r}"
                    )
            elif key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                logger.warning(
                    "option '%s' (%s) is not an option of RecBole, recbole-hug or model %s%s",
                    key,
                    source,
                    self.model,
                    hint,
                )
