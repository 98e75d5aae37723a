"""Length-bucketed training batches: every row once per epoch, little padding, seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.config import Config
from recbole_hug.data.dataloader import (
    LengthBucketedTrainDataLoader,
    data_preparation,
    length_bucketed_order,
)
from recbole_hug.data.utils import create_dataset
from tests.conftest import FAST_OPTIONS


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 30), min_size=0, max_size=300),
    batch_size=st.integers(1, 20),
    chunk=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_order_is_a_permutation_whose_only_short_batch_is_last(
    lengths: list[int], batch_size: int, chunk: int, seed: int
) -> None:
    lengths = np.array(lengths, dtype=np.int64)
    order = length_bucketed_order(lengths, batch_size, np.random.default_rng(seed), chunk)
    assert sorted(order.tolist()) == list(range(len(lengths)))
    n_full = len(lengths) // batch_size
    for batch in order[: n_full * batch_size].reshape(n_full, batch_size):
        # a batch never straddles two sorted chunks: its lengths are sorted, longest first
        assert (np.diff(lengths[batch]) <= 0).all()


def test_batches_of_similar_lengths_waste_few_slots() -> None:
    rng = np.random.default_rng(0)
    # ML-1M-like: a third of the windows full (200), the rest spread over 1..199
    lengths = np.concatenate([np.full(3000, 200), rng.integers(1, 200, 6000)])
    order = length_bucketed_order(lengths, 128, rng)
    batches = np.array_split(lengths[order], range(128, len(lengths), 128))
    slots = sum(len(batch) * batch.max() for batch in batches)
    random_slots = sum(
        len(batch) * batch.max()
        for batch in np.array_split(lengths[rng.permutation(len(lengths))], range(128, 9000, 128))
    )
    assert 1 - lengths.sum() / slots < 0.05 < 0.3 < 1 - lengths.sum() / random_slots


def _loader(tiny_data: Path, **options):
    config = Config(
        "HUGT",
        "tiny",
        config_dict={
            **FAST_OPTIONS,
            "data_path": str(tiny_data),
            "train_batch_size": 4,
            "svd_dim": 6,
            **options,
        },
    )
    return data_preparation(config, create_dataset(config))[0]


def _epoch(loader) -> list[list[tuple]]:
    return [[tuple(row.tolist()) for row in batch["item_id_list"]] for batch in loader]


def test_each_epoch_trains_every_window_once_in_a_new_order(tiny_data: Path, workdir) -> None:
    loader = _loader(tiny_data)
    assert isinstance(loader, LengthBucketedTrainDataLoader)
    windows = sorted(tuple(row.tolist()) for row in loader._dataset.inter_feat["item_id_list"])
    first, second = _epoch(loader), _epoch(loader)
    for epoch in (first, second):
        assert sorted(row for batch in epoch for row in batch) == windows
        assert [len(batch) for batch in epoch[:-1]] == [4] * (len(epoch) - 1)
    assert first != second
    assert _epoch(_loader(tiny_data)) == first  # seeded: the same first epoch again


def test_the_option_turns_it_off(tiny_data: Path, workdir) -> None:
    loader = _loader(tiny_data, length_buckets=False)
    assert not isinstance(loader, LengthBucketedTrainDataLoader)
    torch.manual_seed(0)
    assert len(_epoch(loader)) == len(_epoch(_loader(tiny_data)))
