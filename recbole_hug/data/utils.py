"""Dataset creation: the model's dataset class (registry first), with atomic files checked first."""

from __future__ import annotations

import importlib
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from logging import getLogger
from pathlib import Path

from recbole.config import Config
from recbole.data.dataset import Dataset, SequentialDataset
from recbole.utils import ModelType, set_color
from recbole.utils.argument_list import dataset_arguments

from recbole_hug import registry
from recbole_hug.data.atomic import check_columns, check_rows, parse_header
from recbole_hug.data.protocol_dataset import ProtocolDataset
from recbole_hug.data.protocols import RATIO_OPTIONS, RECBOLE, check_eval_protocol
from recbole_hug.data.session_dataset import SessionDataset
from recbole_hug.errors import ConfigError, DataError
from recbole_hug.files import atomic_file

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

    The registered dataset class of a plugin model (its ``session_dataset`` under
    ``session_rows: True``, where it has one: HUGT's); personalized session rows for any
    sequential model run with ``session_rows: True``; else the class RecBole would pick. With an
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
    if config["session_rows"] and spec is not None and spec.session_dataset is not None:
        return spec.session_dataset_class
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
    (user and item ids in the interaction files), that the interaction files have rows, that
    every loaded ``float`` cell is a finite number, that no row of an interaction file lacks its
    user, item or time (:func:`recbole_hug.data.atomic.check_rows`). Datasets RecBole will
    download are not checked.

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
        keys = [config["USER_ID_FIELD"], config["ITEM_ID_FIELD"], config["TIME_FIELD"]]
        check_rows(path, header, fields, sep, [key for key in keys if key and key in fields])
    for suffix in ("user", "item"):
        path = folder / f"{dataset}.{suffix}"
        if path.is_file() and (config["load_col"] is None or suffix in config["load_col"]):
            header = parse_header(path, sep)
            fields = _loaded_fields(config, suffix, header)
            check_columns(path, header, fields)
            check_rows(path, header, fields, sep)


def drop_repeated_rows(dataset: Dataset) -> None:
    """Drop the interactions that repeat an earlier one's user, item and time, with a warning
    giving their count: a copied row shows a sequential model its target in its input (the
    converters drop them too). Without a time field, a repeat may be a new interaction: kept."""
    fields = [dataset.uid_field, dataset.iid_field, dataset.time_field]
    if None in fields or any(field not in dataset.inter_feat for field in fields):
        return
    copies = dataset.inter_feat.duplicated(subset=fields, keep="first")
    if copies.any():
        first = dataset.inter_feat[copies].iloc[0]
        dataset.logger.warning(
            f"dataset '{dataset.dataset_name}': dropped {int(copies.sum())} interaction(s) that "
            f"repeat an earlier one's {', '.join(fields)} (the first: "
            f"{', '.join(str(first[field]) for field in fields)})"
        )
        dataset.inter_feat.drop(index=dataset.inter_feat.index[copies], inplace=True)


@contextmanager
def dropping_repeated_rows() -> Iterator[None]:
    """Within the block, RecBole's datasets :func:`drop_repeated_rows` when they remove
    duplicates (before ``rm_dup_inter``, RecBole's own removal of every repeated user-item
    pair, which stays off by default)."""
    original = Dataset._remove_duplication

    def remove_duplication(self: Dataset) -> None:
        drop_repeated_rows(self)
        original(self)

    Dataset._remove_duplication = remove_duplication
    try:
        yield
    finally:
        Dataset._remove_duplication = original


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
    saved = _load_saved_dataset(file) if os.path.exists(file) else None
    if saved is not None and all(
        config[arg] == saved.config[arg] for arg in [*dataset_arguments, *SPLIT_OPTIONS]
    ):
        getLogger().info(set_color("Load filtered dataset from", "pink") + f": [{file}]")
        return saved
    validate_dataset_files(config)
    try:
        with dropping_repeated_rows():
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
    if config["save_dataset"]:  # RecBole's Dataset.save, atomically
        with atomic_file(default_file) as handle:
            pickle.dump(dataset, handle)
    return dataset


def _load_saved_dataset(file: str) -> Dataset | None:
    """A dataset saved by ``save_dataset``, or None (with a warning) when the file is damaged."""
    try:
        with open(file, "rb") as handle:
            return pickle.load(handle)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as error:
        getLogger().warning(f"saved dataset {file} is damaged ({error!r}); building it again")
        return None
