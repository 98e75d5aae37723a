"""HUGTDataset: RecBole's sequential data, trained on whole sequences, with the HUG's SVD.

What it changes in ``SequentialDataset`` (the rest, filtering and remapping, is RecBole's; the
split is ``eval_args``' or that of ``eval_protocol``, as in
:class:`~recbole_hug.data.protocol_dataset.ProtocolDataset`, which it extends):

- Augmentation keeps each row's target position in the user-sorted stream instead of copying
  its prefix (:mod:`recbole_hug.data.sequences`); a row's prefix (RecBole's, item for item) is
  gathered when the row is read (``dataset[index]``, as RecBole's dataloaders do).
- The training split becomes whole sequences cut into windows of ``MAX_ITEM_LIST_LENGTH``
  (``target_item_id_list`` holds the next item at each position), for the all-position
  cross-entropy of the HUGT paper's Eq. 6: each training target once per epoch.
- The training split's user-item matrix (the items the training windows read: under
  ``eval_protocol: hugt``, each user's training part) gives the truncated-SVD item embeddings of
  the collaborative edges (``svd_item_embeddings``), cached in ``checkpoint_dir``.
"""

from __future__ import annotations

import hashlib
from logging import getLogger
from pathlib import Path

import numpy as np
import torch
from recbole.data.dataset import SequentialDataset
from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType, set_color

from recbole_hug.data.protocol_dataset import ProtocolDataset
from recbole_hug.data.sequences import gather_rows, prefix_rows, training_windows
from recbole_hug.errors import ConfigError
from recbole_hug.files import load_array, save_array
from recbole_hug.graph.hug import svd_item_embeddings
from recbole_hug.model.layers import head_split

#: The stream position of each row's target (validation and test rows).
TARGET_POSITION_FIELD = "target_position"
#: The next item at each position of a training window (0 where there is no training target).
TARGET_LIST_FIELD = "target_item_id_list"


def _cached_svd(
    users: np.ndarray,
    items: np.ndarray,
    n_users: int,
    n_items: int,
    dim: int,
    seed: int,
    scaled: bool,
    folder: Path,
    dataset: str,
) -> np.ndarray:
    """:func:`svd_item_embeddings`, cached under a digest of exactly its inputs."""
    digest = hashlib.sha1()
    for part in (
        users.astype(np.int64),
        items.astype(np.int64),
        np.array([n_users, n_items, dim, seed, int(scaled)]),
    ):
        digest.update(part.tobytes())
    path = folder / f"{dataset}-HUGT-svd-{digest.hexdigest()[:16]}.npy"
    cached = load_array(path, (n_items, dim))
    if cached is not None:
        return cached
    try:
        embeddings = svd_item_embeddings(users, items, n_users, n_items, dim, seed, scaled)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    save_array(embeddings, path)  # atomic: the processes of a multi-process run may all write it
    return embeddings


def training_svd(dataset, users: np.ndarray, items: np.ndarray) -> torch.Tensor:
    """``[n_items, svd_dim]``: the truncated SVD of the ``(users, items)`` training matrix of
    ``dataset`` (its id counts, ``svd_dim``, ``seed``, ``svd_scaled``), cached in its
    ``checkpoint_dir``."""
    config = dataset.config
    embeddings = _cached_svd(
        users,
        items,
        dataset.user_num,
        dataset.item_num,
        config["svd_dim"],
        config["seed"],
        bool(config["svd_scaled"]),
        Path(config["checkpoint_dir"]),
        dataset.dataset_name,
    )
    return torch.from_numpy(embeddings)


class HUGTDataset(ProtocolDataset):
    """RecBole's ``SequentialDataset`` for HUGT (see the module docstring).

    After :meth:`build`, the training dataset has ``svd_item_embeddings`` (``[n_items, svd_dim]``
    float tensor) when some block has graph heads (:func:`recbole_hug.model.layers.head_split`).
    """

    def __init__(self, config) -> None:
        if config["benchmark_filename"] is not None:
            raise ConfigError(
                "HUGT trains on whole user sequences, which pre-split benchmark files "
                "(option benchmark_filename) do not give; use eval_args or eval_protocol to "
                "split instead"
            )
        super().__init__(config)

    def data_augmentation(self) -> None:
        """RecBole's augmented rows, with the target's stream position instead of the prefix."""
        self._aug_presets()
        self._sort_stream()
        self._stream_items = self.inter_feat[self.iid_field].numpy()
        target, length = prefix_rows(self._stream_users, self.max_item_list_len)
        rows = self.inter_feat[torch.from_numpy(target)]
        rows.update(
            Interaction(
                {
                    self.item_list_length_field: torch.from_numpy(length),
                    TARGET_POSITION_FIELD: torch.from_numpy(target),
                }
            )
        )
        self.set_field_property(
            TARGET_POSITION_FIELD, FeatureType.TOKEN, FeatureSource.INTERACTION, 1
        )
        self.inter_feat = rows

    def build(self) -> list[SequentialDataset]:
        train, *evaluation = super().build()
        train._to_windows()
        if any(n_graph for _, n_graph in head_split(self.config)):
            train._add_svd()
        return [train, *evaluation]

    def __getitem__(self, index, join: bool = True) -> Interaction:
        """Rows of ``inter_feat``, with their item prefixes gathered from the stream."""
        rows = super().__getitem__(index, join)
        if TARGET_POSITION_FIELD in rows and self.item_id_list_field not in rows:
            target = rows[TARGET_POSITION_FIELD].numpy()
            length = rows[self.item_list_length_field].numpy()
            prefixes = gather_rows(self._stream_items, target, length, self.max_item_list_len)
            rows.update(Interaction({self.item_id_list_field: torch.from_numpy(prefixes)}))
        return rows

    def _to_windows(self) -> None:
        """Replace the training rows by windows of whole sequences (every target once)."""
        width = self.max_item_list_len
        is_target = np.zeros(len(self._stream_items), dtype=bool)
        is_target[self.inter_feat[TARGET_POSITION_FIELD].numpy()] = True
        windows = training_windows(self._stream_users, is_target, width)
        self._train_positions = windows.positions()
        self.bucket_lengths = windows.length  # batches of similar lengths (data.dataloader)
        self.set_field_property(
            TARGET_LIST_FIELD, FeatureType.TOKEN_SEQ, FeatureSource.INTERACTION, width
        )
        self.inter_feat = Interaction(
            {
                self.uid_field: torch.from_numpy(self._stream_users[windows.end]),
                self.item_id_list_field: torch.from_numpy(
                    windows.inputs(self._stream_items, width)
                ),
                self.item_list_length_field: torch.from_numpy(windows.length),
                TARGET_LIST_FIELD: torch.from_numpy(
                    windows.targets(self._stream_items, is_target, width)
                ),
            }
        )
        getLogger().info(
            set_color("HUGT training windows", "pink")
            + f": {len(windows.end)} windows of at most {width} positions, "
            f"{int(is_target.sum())} targets"
        )

    def _add_svd(self) -> None:
        """Truncated SVD of the training user-item matrix (positions inside training windows)."""
        positions = self._train_positions
        users, items = self._stream_users[positions], self._stream_items[positions]
        self.svd_item_embeddings = training_svd(self, users, items)
