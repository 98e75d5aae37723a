"""Training batches of similar lengths: less right padding, the same rows every epoch.

HUGT's training rows are windows of whole sequences, from 1 to ``MAX_ITEM_LIST_LENGTH``
positions; shuffled at random, a batch is padded to its longest window (56% of a batch's slots
were padding on ML-1M at ``L = 200``). :class:`LengthBucketedTrainDataLoader` draws, each epoch,
a random order of the rows in which consecutive batches hold windows of similar lengths
(:func:`length_bucketed_order`), and the model cuts each batch to its longest window: every row
is still trained once per epoch, in batches of ``train_batch_size`` rows, in a seeded random order.

:func:`data_preparation` is RecBole's, with this loader for training datasets that ask for it
(``bucket_lengths``, an array of row lengths) when ``length_buckets`` and ``shuffle`` are on.
"""

from __future__ import annotations

import numpy as np
import torch
from recbole.data import data_preparation as recbole_data_preparation
from recbole.data.dataloader import TrainDataLoader

#: Batches per chunk of rows sorted by length: the batches' order is drawn at random.
CHUNK_BATCHES = 50


def length_bucketed_order(
    lengths: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    chunk_batches: int = CHUNK_BATCHES,
) -> np.ndarray:
    """A permutation of the rows whose consecutive ``batch_size`` blocks have similar lengths.

    The rows are shuffled, cut into chunks of ``chunk_batches * batch_size`` rows, each chunk
    sorted by length (longest first), cut into batches; the order of the full batches is then
    shuffled, and the one short batch (if the row count is not a multiple) stays last, so that a
    loader cutting every ``batch_size`` rows finds exactly these batches.

    Args:
        lengths: ``[N]`` row lengths.
        batch_size: rows per batch.
        rng: the random source.
        chunk_batches: batches per sorted chunk.

    Returns:
        ``[N]`` int64, a permutation of ``0..N-1``.
    """
    n = len(lengths)
    chunk = batch_size * chunk_batches
    shuffled = rng.permutation(n)
    order = (
        np.concatenate(
            [
                part[np.argsort(-lengths[part], kind="stable")]
                for part in np.split(shuffled, np.arange(chunk, n, chunk))
            ]
        )
        if n
        else shuffled
    )
    n_full = n // batch_size
    batches = order[: n_full * batch_size].reshape(n_full, batch_size)[rng.permutation(n_full)]
    return np.concatenate([batches.ravel(), order[n_full * batch_size :]]).astype(np.int64)


class LengthBucketedTrainDataLoader(TrainDataLoader):
    """RecBole's ``TrainDataLoader`` over the rows in a fresh :func:`length_bucketed_order`
    each epoch (drawn from the loader's seeded generator); see the module docstring.

    In a multi-process run each process reads every ``world_size``-th row of the order (RecBole's
    ``DistributedSampler`` without shuffling), so the ``train_batch_size`` rows of one batch of
    the order are shared out among the processes.
    """

    def __init__(self, config, dataset, sampler) -> None:
        super().__init__(config, dataset, sampler, shuffle=False)
        self._lengths = np.asarray(dataset.bucket_lengths)
        self._order = np.arange(len(self._lengths))

    def __iter__(self):
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        rng = np.random.default_rng(seed)
        self._order = length_bucketed_order(self._lengths, self.config["train_batch_size"], rng)
        return super().__iter__()

    def collate_fn(self, index):
        return super().collate_fn(self._order[np.asarray(index)])


def data_preparation(config, dataset) -> tuple:
    """RecBole's ``data_preparation``; a training dataset with ``bucket_lengths`` gets
    :class:`LengthBucketedTrainDataLoader` when the options ``length_buckets`` and ``shuffle``
    are on."""
    train, valid, test = recbole_data_preparation(config, dataset)
    lengths = getattr(train._dataset, "bucket_lengths", None)
    if lengths is not None and config["length_buckets"] and config["shuffle"]:
        train = LengthBucketedTrainDataLoader(config, train._dataset, train._sampler)
    return train, valid, test
