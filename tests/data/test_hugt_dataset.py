"""HUGTDataset: RecBole's evaluation rows, whole-sequence training windows, SVD on training only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data import data_preparation

from recbole_hug.config import Config
from recbole_hug.data.hugt_dataset import TARGET_LIST_FIELD, HUGTDataset
from recbole_hug.data.protocols import TRAIN, stream_parts
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import ConfigError, DataError
from recbole_hug.graph.hug import svd_item_embeddings
from tests.conftest import FAST_OPTIONS

OPTIONS = {**FAST_OPTIONS, "MAX_ITEM_LIST_LENGTH": 4, "svd_dim": 4}


def _splits(model: str, data_path: Path, **options):
    config = Config(model, "tiny", config_dict={**OPTIONS, "data_path": str(data_path), **options})
    dataset = create_dataset(config)
    return dataset, dataset.build()


def _rows(dataset) -> dict[str, torch.Tensor]:
    rows = dataset[np.arange(len(dataset))]
    fields = ("user_id", "item_id", "item_length", "item_id_list")
    return {field: rows[field] for field in fields}


def _window_targets(windows) -> Counter:
    """The (user, target item) pairs that training windows predict."""
    targets = windows[TARGET_LIST_FIELD]
    users = windows["user_id"].unsqueeze(1).expand_as(targets)
    return Counter(zip(users[targets > 0].tolist(), targets[targets > 0].tolist(), strict=True))


@pytest.fixture(scope="module")
def splits(tiny_data: Path, tmp_path_factory):
    import os

    os.chdir(tmp_path_factory.mktemp("run"))
    return _splits("HUGT", tiny_data), _splits("SASRec", tiny_data)


def test_evaluation_rows_are_recboles(splits) -> None:
    (_, ours), (_, recbole) = splits
    for mine, theirs in zip(ours[1:], recbole[1:], strict=True):
        mine, theirs = _rows(mine), _rows(theirs)
        for field in mine:
            assert torch.equal(mine[field], theirs[field]), field


def test_windows_hold_exactly_recboles_training_targets(splits) -> None:
    (_, ours), (_, recbole) = splits
    windows = ours[0].inter_feat
    theirs = recbole[0].inter_feat
    assert _window_targets(windows) == Counter(
        zip(theirs["user_id"].tolist(), theirs["item_id"].tolist(), strict=True)
    )
    assert (windows["item_length"] <= 4).all()


def test_svd_sees_training_interactions_only(splits) -> None:
    (dataset, ours), _ = splits
    train = ours[0]
    users, items = dataset._stream_users, dataset._stream_items
    held_out = np.zeros(len(users), dtype=bool)
    starts = np.flatnonzero(np.r_[users[1:] != users[:-1], True])  # each user's last position
    held_out[starts] = held_out[starts - 1] = True  # test and validation targets
    expected = svd_item_embeddings(
        users[~held_out],
        items[~held_out],
        dataset.user_num,
        dataset.item_num,
        4,
        dataset.config["seed"],
    )
    assert np.allclose(train.svd_item_embeddings.numpy(), expected)


def test_hugt_protocol_trains_and_factorises_the_training_part_only(
    tiny_data: Path, workdir: Path
) -> None:
    dataset, (train, *_) = _splits("HUGT", tiny_data, eval_protocol="hugt")
    users, items = dataset._stream_users, dataset._stream_items
    is_train = stream_parts(users, 0.9, 0.3, dataset.config["seed"]) == TRAIN
    is_first = np.r_[True, users[1:] != users[:-1]]
    targets = is_train & ~is_first
    assert _window_targets(train.inter_feat) == Counter(
        zip(users[targets].tolist(), items[targets].tolist(), strict=True)
    )
    seed = dataset.config["seed"]
    expected = svd_item_embeddings(
        users[is_train], items[is_train], dataset.user_num, dataset.item_num, 4, seed
    )
    assert np.allclose(train.svd_item_embeddings.numpy(), expected)


def test_an_item_seen_only_in_test_has_no_svd_embedding(tiny_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    lines = (tiny_data / "tiny" / "tiny.inter").read_text().splitlines()
    lines.append("u1\tnew_item\t1\t999999")  # u1's last interaction: a test target
    (folder / "tiny.inter").write_text("\n".join(lines) + "\n")
    dataset, (train, *_) = _splits("HUGT", tmp_path)
    new_item = dataset.token2id("item_id", "new_item")
    assert torch.all(train.svd_item_embeddings[new_item] == 0)
    assert torch.any(train.svd_item_embeddings[dataset.token2id("item_id", "i1")] != 0)


def test_sequence_only_model_skips_the_svd(tiny_data: Path) -> None:
    _, (train, *_) = _splits("HUGT", tiny_data, n_graph_heads=0)
    assert not hasattr(train, "svd_item_embeddings")


def test_dataset_without_order_column_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    rows = [f"u{u}\ti{(u * 7 + s) % 20}" for u in range(1, 6) for s in range(6)]
    (folder / "tiny.inter").write_text("user_id:token\titem_id:token\n" + "\n".join(rows) + "\n")
    config = Config("HUGT", "tiny", config_dict={**OPTIONS, "data_path": str(tmp_path)})
    with pytest.raises(DataError, match="no time or order column .*TIME_FIELD"):
        HUGTDataset(config)  # before any data preparation


def test_benchmark_files_are_refused(tiny_data: Path) -> None:
    config = Config(
        "HUGT",
        "tiny",
        config_dict={
            **OPTIONS,
            "data_path": str(tiny_data),
            "benchmark_filename": ["train", "test"],
        },
    )
    with pytest.raises(ConfigError, match="benchmark_filename"):
        HUGTDataset(config)


def test_dataloaders_read_windows_and_rows(splits, tiny_data: Path) -> None:
    (dataset, _), _ = splits
    fresh = create_dataset(dataset.config)
    train, valid, _ = data_preparation(fresh.config, fresh)
    batch = next(iter(train))
    assert batch[TARGET_LIST_FIELD].shape == batch["item_id_list"].shape
    batch = next(iter(valid))[0]
    assert batch["item_id_list"].shape[1] == 4


def test_svd_scaled_reaches_the_embeddings_and_its_own_cache(
    tiny_data: Path, workdir: Path
) -> None:
    # both runs share one checkpoint_dir: the cache must tell the two readings apart
    plain_set, (plain_train, *_) = _splits("HUGT", tiny_data, eval_protocol="hugt")
    scaled_set, (scaled_train, *_) = _splits(
        "HUGT", tiny_data, eval_protocol="hugt", svd_scaled=True
    )
    users, items = scaled_set._stream_users, scaled_set._stream_items
    is_train = stream_parts(users, 0.9, 0.3, scaled_set.config["seed"]) == TRAIN
    expected = svd_item_embeddings(
        users[is_train],
        items[is_train],
        scaled_set.user_num,
        scaled_set.item_num,
        4,
        scaled_set.config["seed"],
        scaled=True,
    )
    assert np.allclose(scaled_train.svd_item_embeddings.numpy(), expected)
    assert not np.allclose(
        scaled_train.svd_item_embeddings.numpy(), plain_train.svd_item_embeddings.numpy()
    )
