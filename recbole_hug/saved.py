"""A saved recbole-hug checkpoint read back without its atomic files: the file checked and
loaded with ``torch.load(..., weights_only=True)`` (:func:`read_checkpoint`), the run's options as
a Config (:class:`SavedConfig`), and a stand-in of its dataset (:class:`ServingDataset`) on which
the model's own constructor rebuilds it. What a checkpoint holds: :mod:`recbole_hug.checkpoint`;
serving it, and upgrading an older one: :mod:`recbole_hug.serve`.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from recbole_hug.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_KEY,
    decode_artifact,
)
from recbole_hug.errors import HugError
from recbole_hug.files import check_readable_file, load_checkpoint


def _pickles_recbole(path: Path) -> bool:
    """Whether a torch zip checkpoint's pickle names a RecBole or recbole-hug class (read as
    bytes, never unpickled)."""
    with zipfile.ZipFile(path) as archive:
        name = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
        return name is not None and b"recbole" in archive.read(name)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A servable checkpoint, loaded with ``weights_only=True`` on the CPU.

    Raises:
        HugError: the file is missing or a folder, is not a torch checkpoint, is damaged
            (:func:`recbole_hug.files.load_checkpoint`: checksum, finite weights), pickles
            Python objects (a RecBole checkpoint: the message says how to proceed), or has no
            serving entry of this version.
    """
    path = check_readable_file(path)
    if not zipfile.is_zipfile(path):
        raise HugError(f"{path} is not a PyTorch checkpoint (a file written by torch.save)")
    try:
        checkpoint = load_checkpoint(path)
    except pickle.UnpicklingError as error:
        if _pickles_recbole(path):
            raise HugError(
                f"{path} is a RecBole checkpoint (it pickles the run's Config), which serving "
                "does not unpickle. Retrain with recbole-hug (python run_recbole_hug.py ...) "
                "for a servable checkpoint, or, if you trust the file, rewrite it with "
                f"'python -m recbole_hug.serve {path} --upgrade-to NEW.pth' (it reads the "
                "dataset's atomic files again)"
            ) from error
        raise HugError(
            f"{path} is not a recbole-hug checkpoint: it pickles Python objects that "
            "weights_only loading refuses"
        ) from error
    entry = checkpoint.get(CHECKPOINT_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(entry, dict):
        raise HugError(
            f"{path} is not a recbole-hug checkpoint (no '{CHECKPOINT_KEY}' entry: a "
            "checkpoint written by a recbole-hug run is needed)"
        )
    if entry.get("format") != CHECKPOINT_FORMAT:
        raise HugError(
            f"{path} has checkpoint format {entry.get('format')!r}; this recbole-hug reads "
            f"format {CHECKPOINT_FORMAT}"
        )
    return checkpoint


class SavedConfig:
    """A checkpoint's options, read as RecBole's models read a Config (an absent option is None).

    Args:
        options: the final options of the run (:func:`recbole_hug.checkpoint.restore_options`).
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.final_config_dict = options

    def __getitem__(self, key: str) -> Any:
        return self.final_config_dict.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.final_config_dict


class ServingDataset:
    """The stand-in of a dataset on which a model is rebuilt for serving: the user and item
    vocabularies (id -> token), the width of the item sequence field, and the saved artifacts
    (``svd_item_embeddings``, ``global_graph``) as attributes; no interactions, no features.

    Args:
        entry: a checkpoint's :data:`~recbole_hug.checkpoint.CHECKPOINT_KEY` entry.
        options: the run's options.
    """

    def __init__(self, entry: dict[str, Any], options: dict[str, Any]) -> None:
        self.uid_field, self.iid_field = entry["user_field"], entry["item_field"]
        self.field2id_token = {
            self.uid_field: np.array(entry["users"]),
            self.iid_field: np.array(entry["items"]),
        }
        sequence_field = self.iid_field + options["LIST_SUFFIX"]
        self.field2seqlen = {sequence_field: options["MAX_ITEM_LIST_LENGTH"]}
        for name, value in entry["artifacts"].items():
            setattr(self, name, decode_artifact(value))

    def num(self, field: str) -> int:
        """The number of ids of the user or item field (padding included); KeyError otherwise."""
        return len(self.field2id_token[field])

    @property
    def user_num(self) -> int:
        return self.num(self.uid_field)

    @property
    def item_num(self) -> int:
        return self.num(self.iid_field)
