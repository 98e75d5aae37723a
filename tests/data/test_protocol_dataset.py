"""The hugt protocol on RecBole's sequential data: its rows, its use in runs, its dataset class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from recbole.data.dataset import SequentialDataset
from recbole.data.interaction import Interaction

from recbole_hug.config import Config
from recbole_hug.data.hugt_dataset import HUGTDataset
from recbole_hug.data.protocol_dataset import ProtocolDataset
from recbole_hug.data.protocols import TEST, TRAIN, VALID, ProtocolRows, protocol_rows
from recbole_hug.data.sequences import gather_rows
from recbole_hug.data.utils import create_dataset, get_dataset_class
from recbole_hug.errors import ConfigError, DataError
from recbole_hug.quick_start import _build, _train_and_test, main
from tests.conftest import FAST_OPTIONS, write_tiny_dataset

WIDTH = 4
OPTIONS = {**FAST_OPTIONS, "MAX_ITEM_LIST_LENGTH": WIDTH, "eval_protocol": "hugt"}
#: Options of one model (the tiny data has fewer items than HUGT's default svd_dim).
MODEL_OPTIONS = {"HUGT": {"svd_dim": 4}}


def _config(model: str, data_path: Path, dataset: str = "tiny", **options) -> Config:
    options = {**OPTIONS, **MODEL_OPTIONS.get(model, {}), "data_path": str(data_path), **options}
    return Config(model, dataset, config_dict=options)


def protocol_stream(dataset, data_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The tiny dataset's ``(users, items)`` read from its file, in RecBole's ids, sorted by
    user, then time."""
    frame = pd.read_csv(data_path / "tiny" / "tiny.inter", sep="\t")
    users = dataset.token2id("user_id", frame["user_id:token"].to_numpy())
    items = dataset.token2id("item_id", frame["item_id:token"].to_numpy())
    order = np.lexsort((frame["timestamp:float"].to_numpy(), users))
    return users[order], items[order]


def expected_rows(dataset, data_path: Path) -> tuple[np.ndarray, np.ndarray, ProtocolRows]:
    users, items = protocol_stream(dataset, data_path)
    return users, items, protocol_rows(users, WIDTH, 0.9, 0.3, dataset.config["seed"])


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _rows(dataset) -> dict[str, np.ndarray]:
    rows = dataset[np.arange(len(dataset))]
    return {f: rows[f].numpy() for f in ("user_id", "item_id", "item_length", "item_id_list")}


@pytest.fixture(scope="module")
def built(
    tiny_data: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module
) -> dict[str, tuple]:
    """The SASRec and HUGT datasets of the tiny data under the protocol, and their parts."""
    monkeypatch_module.chdir(tmp_path_factory.mktemp("run"))
    result = {}
    for model in ("SASRec", "HUGT"):
        dataset = create_dataset(_config(model, tiny_data))
        result[model] = (dataset, dataset.build())
    return result


def test_recbole_rows_are_split_by_the_protocol(built, tiny_data: Path) -> None:
    dataset, parts = built["SASRec"]
    assert type(dataset) is ProtocolDataset
    users, items, rows = expected_rows(dataset, tiny_data)
    for part, split in zip((TRAIN, VALID, TEST), parts, strict=True):
        target, length = rows.target[rows.part == part], rows.length[rows.part == part]
        mine = _rows(split)
        assert (mine["user_id"] == users[target]).all()
        assert (mine["item_id"] == items[target]).all()
        assert (mine["item_length"] == length).all()
        assert (mine["item_id_list"] == gather_rows(items, target, length, WIDTH)).all()
    assert sum(len(split) for split in parts) == len(users) - len(np.unique(users))


def test_hugt_evaluates_the_same_rows(built) -> None:
    for mine, theirs in zip(built["HUGT"][1][1:], built["SASRec"][1][1:], strict=True):
        mine, theirs = _rows(mine), _rows(theirs)
        for field in mine:
            assert (mine[field] == theirs[field]).all(), field


def _hand_ranks(model, users, items, rows: ProtocolRows, part: int) -> np.ndarray:
    """Each row of ``part``: how many items score above its target (0 = ranked first), none
    masked but the padding item."""
    target, length = rows.target[rows.part == part], rows.length[rows.part == part]
    interaction = Interaction(
        {
            "user_id": torch.from_numpy(users[target]),
            "item_id_list": torch.from_numpy(gather_rows(items, target, length, WIDTH)),
            "item_length": torch.from_numpy(length),
        }
    )
    model.eval()
    with torch.no_grad():
        scores = model.full_sort_predict(interaction).view(len(target), -1)
    scores[:, 0] = -torch.inf
    positive = scores[torch.arange(len(target)), torch.from_numpy(items[target])]
    return (scores > positive[:, None]).sum(1).numpy()


def _hand_metrics(model, users, items, rows: ProtocolRows, part: int) -> dict[str, float]:
    """HR@10 and NDCG@10 over the rows of ``part`` (:func:`_hand_ranks`)."""
    rank = torch.from_numpy(_hand_ranks(model, users, items, rows, part)).double()
    hit = rank < 10
    return {
        "hit@10": hit.double().mean().item(),
        "ndcg@10": torch.where(hit, 1 / torch.log2(rank + 2), 0).mean().item(),
    }


@pytest.mark.parametrize("model", ["SASRec", "HUGT"])
def test_one_epoch_evaluates_the_protocol_rows(model: str, tiny_data: Path, workdir: Path) -> None:
    config = _config(model, tiny_data)
    dataset, train, valid, test, net = _build(config, log=False)
    users, items, rows = expected_rows(dataset, tiny_data)
    assert len(valid._dataset) == np.count_nonzero(rows.part == VALID) > 0
    assert len(test._dataset) == np.count_nonzero(rows.part == TEST) > len(valid._dataset)
    result = _train_and_test(config, net, train, valid, test, False, False, False)
    expected = _hand_metrics(net, users, items, rows, TEST)
    for metric, value in expected.items():
        assert result["test_result"][metric] == pytest.approx(value, abs=1e-4), metric
    # the per-row ranks that the metrics came from, row by row (1..K; 0: not in the top K)
    target = rows.target[rows.part == TEST]
    assert result["test_rows"]["user"].tolist() == users[target].tolist()
    assert result["test_rows"]["length"].tolist() == rows.length[rows.part == TEST].tolist()
    ranks = _hand_ranks(net, users, items, rows, TEST)
    k = max(config["topk"])
    assert result["test_rows"]["rank"].tolist() == np.where(ranks < k, ranks + 1, 0).tolist()


def test_pop_counts_the_protocol_training_targets(tiny_data: Path, workdir: Path) -> None:
    # RecBole's Pop reads the protocol's sequential rows: one epoch counts each training row's
    # target once (no sampled negatives), and every test row is scored by those counts
    config = _config("Pop", tiny_data)
    dataset, train, valid, test, net = _build(config, log=False)
    _, items, rows = expected_rows(dataset, tiny_data)
    assert len(test._dataset) == np.count_nonzero(rows.part == TEST)
    _train_and_test(config, net, train, valid, test, False, False, False)
    counts = np.bincount(items[rows.target[rows.part == TRAIN]], minlength=dataset.item_num)
    assert net.item_cnt.view(-1).tolist() == counts.tolist()
    batch = next(iter(test))[0]
    scores = net.full_sort_predict(batch).view(len(batch), -1)
    assert torch.allclose(scores, torch.from_numpy(counts / counts.max()).expand_as(scores))


def test_dataset_classes_per_protocol(tiny_data: Path, toy_model) -> None:
    assert get_dataset_class(_config("SASRec", tiny_data)) is ProtocolDataset
    assert get_dataset_class(_config("GRU4Rec", tiny_data)) is ProtocolDataset
    assert get_dataset_class(_config("HUGT", tiny_data)) is HUGTDataset
    default = _config("SASRec", tiny_data, eval_protocol="recbole")
    assert get_dataset_class(default) is SequentialDataset
    with pytest.raises(ConfigError, match="'eval_protocol: hugt' is not implemented by ToySeq"):
        get_dataset_class(_config("ToySeq", tiny_data))


def test_too_few_evaluated_users_is_a_data_error(tmp_path: Path, workdir: Path) -> None:
    data = write_tiny_dataset(tmp_path, name="one", n_users=1)
    dataset = create_dataset(_config("SASRec", data, dataset="one"))
    with pytest.raises(DataError, match="'one', eval_protocol hugt: 1 user"):
        dataset.build()


def test_a_saved_dataset_is_not_reused_under_another_protocol(
    tiny_data: Path, workdir: Path
) -> None:
    saved = _config("HUGT", tiny_data, eval_protocol="recbole", save_dataset=True)
    assert create_dataset(saved).eval_protocol == "recbole"
    assert list((workdir / "saved").glob("tiny-HUGTDataset.pth"))
    assert create_dataset(_config("HUGT", tiny_data, save_dataset=True)).eval_protocol == "hugt"


def test_bad_protocol_on_the_command_line(tiny_data: Path, workdir: Path, capsys) -> None:
    argv = ["--model=SASRec", "--dataset=tiny", f"--data_path={tiny_data}", "--eval_protocol=x"]
    assert main([*argv, "--epochs=1", "--state=WARNING"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert errors == ["error: option 'eval_protocol' must be one of recbole, hugt, got 'x'"]
