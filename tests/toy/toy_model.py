"""ToySeq: the mean of a sequence's item embeddings, scored against all items (a test model)."""

from __future__ import annotations

import torch
from recbole.data.dataset import SequentialDataset
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.trainer import Trainer
from recbole.utils import InputType
from torch import nn


class ToySeqDataset(SequentialDataset):
    """RecBole's SequentialDataset, marked so tests can see the registry picked it."""

    built_by_registry = True


class ToySeqTrainer(Trainer):
    """RecBole's Trainer, marked so tests can see the registry picked it."""


class ToySeq(SequentialRecommender):
    """Mean-pooled item embeddings; ``toy_embedding_size`` comes from its registered yaml."""

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        self.item_embedding = nn.Embedding(self.n_items, config["toy_embedding_size"], 0)
        self.loss_fct = nn.CrossEntropyLoss()

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """[B, L] items, [B] lengths -> [B, d] sequence representations."""
        summed = self.item_embedding(item_seq).sum(dim=1)
        return summed / item_seq_len.clamp(min=1).unsqueeze(-1)

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """[B, n_items] scores."""
        output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return output @ self.item_embedding.weight.T

    def calculate_loss(self, interaction) -> torch.Tensor:
        return self.loss_fct(self.full_sort_predict(interaction), interaction[self.POS_ITEM_ID])

    def predict(self, interaction) -> torch.Tensor:
        output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return (output * self.item_embedding(interaction[self.ITEM_ID])).sum(dim=-1)
