"""ProtocolDataset: RecBole's ``SequentialDataset``, split by the evaluation protocol of the config.

With ``eval_protocol: recbole`` it is RecBole's ``SequentialDataset`` (``eval_args`` splits the
augmented rows). With ``eval_protocol: hugt``, :meth:`ProtocolDataset.build` ignores
``eval_args``' split, order and grouping and returns the rows of
:func:`recbole_hug.data.protocols.protocol_rows`: RecBole's augmented rows (one per interaction
but a user's first, the last ``MAX_ITEM_LIST_LENGTH`` items before it as its prefix), the
training rows those whose target is in the user's training part, the validation and test rows
those of the validated and tested users' evaluated interactions.

Full-ranking evaluation of these rows is RecBole's for sequential models: each row is one case,
its target the one positive, and no item is masked but the padding item (neither the prefix
nor the user's later targets); ``Hit@10`` and ``NDCG@10`` are the HUGT paper's HR@10 and NDCG@10.

RecBole's sequential models run on it (:func:`recbole_hug.data.utils.get_dataset_class` picks
it for ``eval_protocol: hugt``); ``HUGTDataset`` extends it.
"""

from __future__ import annotations

import numpy as np
import torch
from recbole.data.dataset import SequentialDataset
from recbole.utils import set_color

from recbole_hug.data.protocols import (
    RECBOLE,
    TEST,
    TRAIN,
    VALID,
    check_eval_protocol,
    protocol_rows,
)
from recbole_hug.errors import DataError


class ProtocolDataset(SequentialDataset):
    """RecBole's ``SequentialDataset`` with the split of ``eval_protocol`` (module docstring).

    Attributes:
        eval_protocol: the protocol's name.
    """

    def __init__(self, config) -> None:
        self.eval_protocol = check_eval_protocol(config)
        super().__init__(config)
        self._check_order_field()

    def _check_order_field(self) -> None:
        if self.time_field is None or self.time_field not in self.field2type:
            raise DataError(
                f"{self.config['model']} needs each user's interactions in order: dataset "
                f"'{self.dataset_name}' has no time or order column (option TIME_FIELD = "
                f"{self.time_field!r}; load it with load_col, or add one to "
                f"{self.dataset_name}.inter)"
            )

    def _sort_stream(self) -> None:
        """Sort the interactions by user, then time, and keep the stream's user ids."""
        self.sort(by=[self.uid_field, self.time_field], ascending=True)
        self._stream_users = self.inter_feat[self.uid_field].numpy()

    def data_augmentation(self) -> None:
        """RecBole's augmentation, on the stream whose users :meth:`build` splits."""
        self._sort_stream()
        super().data_augmentation()

    def build(self) -> list[SequentialDataset]:
        """``[train, valid, test]``: ``eval_args``' split, or the rows of ``eval_protocol``."""
        if self.eval_protocol == RECBOLE:
            return super().build()
        self._change_feat_format()
        part = self._protocol_parts()
        self._drop_unused_col()
        return [
            self.copy(self.inter_feat[torch.from_numpy(np.flatnonzero(part == name))])
            for name in (TRAIN, VALID, TEST)
        ]

    def _protocol_parts(self) -> np.ndarray:
        """The part of each augmented row (rows in stream order, one per non-first position)."""
        try:
            rows = protocol_rows(
                self._stream_users,
                self.max_item_list_len,
                self.config["protocol_train_ratio"],
                self.config["protocol_valid_user_ratio"],
                self.config["seed"],
            )
        except ValueError as error:
            raise DataError(
                f"dataset '{self.dataset_name}', eval_protocol {self.eval_protocol}: {error}"
            ) from error
        if len(rows.part) != len(self.inter_feat):
            raise DataError(
                f"dataset '{self.dataset_name}': {len(self.inter_feat)} sequence rows but "
                f"{len(rows.part)} targets in the interaction stream (eval_protocol "
                f"{self.eval_protocol} needs one row per interaction but each user's first)"
            )
        users = self._stream_users[rows.target]
        counts = ", ".join(
            f"{name} {np.count_nonzero(rows.part == part)} rows of "
            f"{len(np.unique(users[rows.part == part]))} users"
            for name, part in (("training", TRAIN), ("validation", VALID), ("test", TEST))
        )
        self.logger.info(set_color(f"eval_protocol {self.eval_protocol}", "pink") + f": {counts}")
        return rows.part
