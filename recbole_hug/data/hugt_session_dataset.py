"""HUGTSessionDataset: HUGT on HG-GNN's personalized session rows (``session_rows: True``).

The rows are exactly those every other model reads under ``session_rows``
(:class:`~recbole_hug.data.session_dataset.SessionDataset`: the user, the last
``MAX_ITEM_LIST_LENGTH`` items of the session prefix, the target), so HUGT and HG-GNN are
compared on one split. What HUGT needs on top, for the training rows only:

- ``target_item_id_list`` (HUGT's Eq. 6 reads a target at each position): the row's target at
  its last real position, 0 elsewhere. Each training target is trained once per epoch, as the
  last position of its own row, as every other model trains it here; the earlier positions'
  next items are other rows' targets, trained in those rows.
- ``svd_item_embeddings`` (when a block has graph heads): the truncated SVD of the user-item
  matrix of the training sessions, the interactions that build HG-GNN's global graph.
"""

from __future__ import annotations

import torch
from recbole.data.dataset import SequentialDataset
from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType

from recbole_hug.data.hugt_dataset import TARGET_LIST_FIELD, training_svd
from recbole_hug.data.session_dataset import SessionDataset
from recbole_hug.model.layers import head_split


class HUGTSessionDataset(SessionDataset):
    """SessionDataset with what HUGT reads (module docstring)."""

    def build(self) -> list[SequentialDataset]:
        """``[train, valid, test]`` session rows; the training rows with their target list."""
        train, valid, test = super().build()
        rows = train.inter_feat
        width = self.max_item_list_len
        last = rows[self.item_list_length_field] - 1
        targets = torch.zeros(len(last), width, dtype=torch.long)
        targets[torch.arange(len(last)), last] = rows[self.iid_field]
        rows.update(Interaction({TARGET_LIST_FIELD: targets}))
        train.set_field_property(
            TARGET_LIST_FIELD, FeatureType.TOKEN_SEQ, FeatureSource.INTERACTION, width
        )
        if any(n_graph for _, n_graph in head_split(self.config)):
            interactions = self.training_interactions
            users, items = interactions["user"].to_numpy(), interactions["item"].to_numpy()
            train.svd_item_embeddings = training_svd(self, users, items)
        return [train, valid, test]
