"""Dataset creation: the model's dataset class (registry first), with atomic files checked first."""

from __future__ import annotations

import importlib
import os
import pickle
from logging import getLogger
from pathlib import Path

from recbole.config import Config
from recbole.data.dataset import Dataset, SequentialDataset
from recbole.utils import ModelType, set_color
from recbole.utils.argument_list import dataset_arguments

from recbole_hug import registry
from recbole_hug.data.atomic import check_columns, check_numeric, parse_header
from recbole_hug.data.protocol_dataset import ProtocolDataset
from recbole_hug.data.protocols import RATIO_OPTIONS, RECBOLE, check_eval_protocol
from recbole_hug.data.session_dataset import SessionDataset
from recbole_hug.errors import ConfigError, DataError

#: RecBole's default dataset class per model type (as in ``recbole.data.create_dataset``).
_TYPE_TO_DATASET = {
    ModelType.GENERAL: "Dataset",
    ModelType.SEQUENTIAL: "SequentialDataset",
    ModelType.CONTEXT: "Dataset",
    ModelType.KNOWLEDGE: "KnowledgeBasedDataset",
    ModelType.TRADITIONAL: "Dataset",
    ModelType.DECISIONTREE: "Dataset",
}


#: Options besides RecBole's ``dataset_arguments`` that a dataset saved with ``save_dataset``
#: must share with the run that reloads it: they decide its split, made when it is built.
SPLIT_OPTIONS: tuple[str, ...] = (
    "seed",
    "repeatable",
    "eval_args",
    "eval_protocol",
    *RATIO_OPTIONS,
)


def get_dataset_class(config: Config) -> type[Dataset]:
    """The dataset class of ``config['model']`` for ``config['eval_protocol']``.

    The registered dataset class of a plugin model; personalized session rows for any sequential
    model run with ``session_rows: True``; else the class RecBole would pick. With an
    ``eval_protocol`` other than ``recbole``, RecBole's ``SequentialDataset`` becomes
    :class:`~recbole_hug.data.protocol_dataset.ProtocolDataset`.

    Raises:
        ConfigError: a bad ``eval_protocol`` (``protocols.check_eval_protocol``), or one that the
            model's dataset class does not implement.
    """
    protocol = check_eval_protocol(config)
    dataset_class = _model_dataset_class(config)
    if protocol == RECBOLE or issubclass(dataset_class, ProtocolDataset):
        return dataset_class
    if dataset_class is SequentialDataset:
        return ProtocolDataset
    raise ConfigError(
        f"option 'eval_protocol: {protocol}' is not implemented by {dataset_class.__name__}, "
        f"the dataset class of model '{config['model']}' (it splits by eval_args only)"
    )


def _model_dataset_class(config: Config) -> type[Dataset]:
    """The dataset class of the model under RecBole's own split (see :func:`get_dataset_class`)."""
    spec = registry.get_spec(config["model"])
    if spec is not None and spec.dataset is not None:
        return spec.dataset_class
    if config["session_rows"] and config["MODEL_TYPE"] == ModelType.SEQUENTIAL:
        return SessionDataset
    module = importlib.import_module("recbole.data.dataset")
    name = f"{config['model']}Dataset"
    if not hasattr(module, name):
        name = _TYPE_TO_DATASET[config["MODEL_TYPE"]]
    return getattr(module, name)


def _loaded_fields(config: Config, suffix: str, header: dict[str, str]) -> list[str]:
    """The fields of ``<dataset>.<suffix>`` that RecBole will load, per ``load_col``."""
    load_col = config["load_col"]
    if load_col is None or load_col.get(suffix) == "*":
        return list(header)
    return list(load_col.get(suffix, []))


def validate_dataset_files(config: Config) -> None:
    """Check the atomic files RecBole is about to load, naming the file and column at fault.

    Checks the typed header of each file that ``load_col`` reads, that the loaded columns exist
    (user and item ids in the interaction files), that the interaction files have rows, and
    that every loaded ``float`` cell is a number. Datasets RecBole will download are not checked.

    Raises:
        DataError: the first problem found.
    """
    folder = Path(config["data_path"])
    dataset = config["dataset"]
    benchmark = config["benchmark_filename"]
    inter_files = [f"{dataset}.{part}.inter" for part in benchmark] if benchmark else []
    inter_files = inter_files or [f"{dataset}.inter"]
    if not (folder / inter_files[0]).is_file() and not folder.exists():
        return  # RecBole downloads it (resolve_data_path only lets known datasets through)
    sep = config["field_separator"]
    for name in inter_files:
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: file not found (dataset '{dataset}', data_path {folder})")
        header = parse_header(path, sep)
        fields = _loaded_fields(config, "inter", header)
        required = [config["USER_ID_FIELD"], config["ITEM_ID_FIELD"], *fields]
        check_columns(path, header, [field for field in required if field])
        check_numeric(path, header, fields, sep)
    for suffix in ("user", "item"):
        path = folder / f"{dataset}.{suffix}"
        if path.is_file() and (config["load_col"] is None or suffix in config["load_col"]):
            header = parse_header(path, sep)
            fields = _loaded_fields(config, suffix, header)
            check_columns(path, header, fields)
            check_numeric(path, header, fields, sep)


def create_dataset(config: Config) -> Dataset:
    """Build (or reload from RecBole's cache) the dataset of ``config['model']``.

    The plugin's counterpart of ``recbole.data.create_dataset``: the dataset class comes from
    :func:`get_dataset_class`, the atomic files are checked by :func:`validate_dataset_files`,
    and a dataset saved with ``save_dataset`` is reused when its options are unchanged.
    """
    dataset_class = get_dataset_class(config)
    default_file = os.path.join(
        config["checkpoint_dir"], f"{config['dataset']}-{dataset_class.__name__}.pth"
    )
    file = config["dataset_save_path"] or default_file
    if os.path.exists(file):
        with open(file, "rb") as handle:
            dataset = pickle.load(handle)
        if all(config[arg] == dataset.config[arg] for arg in [*dataset_arguments, *SPLIT_OPTIONS]):
            getLogger().info(set_color("Load filtered dataset from", "pink") + f": [{file}]")
            return dataset
    validate_dataset_files(config)
    try:
        dataset = dataset_class(config)
    except ValueError as error:
        if "Some feat is empty" not in str(error):
            raise
        raise DataError(
            f"dataset '{config['dataset']}': RecBole's filters leave no interactions (options "
            f"'user_inter_num_interval' {config['user_inter_num_interval']}, "
            f"'item_inter_num_interval' {config['item_inter_num_interval']}, 'val_interval' "
            f"{config['val_interval']})"
        ) from error
    if config["save_dataset"]:
        dataset.save()
    return dataset
