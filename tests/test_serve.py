"""Serving: reload a checkpoint, recommend for users and item sequences, bad input, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from recbole.data.interaction import Interaction

from recbole_hug.checkpoint import CHECKPOINT_KEY
from recbole_hug.config import Config
from recbole_hug.errors import ConfigError, DataError, HugError
from recbole_hug.files import save_checkpoint
from recbole_hug.quick_start import _build, _train_and_test, load_data_and_model
from recbole_hug.serve import Recommender, main
from tests.conftest import FAST_OPTIONS
from tests.model.test_hggnn import OPTIONS as HGGNN_OPTIONS
from tests.model.test_hggnn import write_session_data
from tests.model.test_hugt import OPTIONS as HUGT_OPTIONS

#: model -> (dataset, options, users asked for)
RUNS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "HUGT": ("tiny", HUGT_OPTIONS, ["u1", "u5", "u9"]),
    "SASRec": ("tiny", FAST_OPTIONS, ["u1", "u5", "u9"]),
    "HGGNN": ("sess", HGGNN_OPTIONS, ["u0", "u3", "u7"]),
    "BPR": ("tiny", FAST_OPTIONS, []),
}
SERVED = ["HUGT", "SASRec", "HGGNN"]


@dataclass
class Trained:
    """A one-epoch run: its checkpoint, and the model and datasets as they were in memory."""

    checkpoint: Path
    config: Config
    model: Any
    dataset: Any
    train: Any
    interactions: dict[str, list[tuple[float, str]]]  # user -> (time, item), from the file


def read_interactions(inter_file: Path) -> dict[str, list[tuple[float, str]]]:
    """Each user's (time, item) pairs of an atomic file, in time order."""
    lines = inter_file.read_text(encoding="utf-8").splitlines()
    header = [column.split(":")[0] for column in lines[0].split("\t")]
    found: dict[str, list[tuple[float, str]]] = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        found.setdefault(row["user_id"], []).append((float(row["timestamp"]), row["item_id"]))
    return {user: sorted(pairs) for user, pairs in found.items()}


@pytest.fixture(scope="module")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Trained]:
    """``trained(model)``: trains the model for one epoch (once per module), saving a checkpoint."""
    session_data = write_session_data(tmp_path_factory.mktemp("sessions"))
    runs: dict[str, Trained] = {}

    def get(name: str) -> Trained:
        if name not in runs:
            dataset_name, options, _ = RUNS[name]
            data = session_data if dataset_name == "sess" else tiny_data
            with pytest.MonkeyPatch.context() as patch:
                patch.chdir(tmp_path_factory.mktemp(name))
                config = Config(name, dataset_name, config_dict={**options, "data_path": str(data)})
                dataset, train, valid, test, model = _build(config, log=False)
                _train_and_test(config, model, train, valid, test, True, False, False)
                (checkpoint,) = Path("saved").resolve().glob(f"{name}-*.pth")
            inter_file = data / dataset_name / f"{dataset_name}.inter"
            runs[name] = Trained(
                checkpoint, config, model.eval(), dataset, train._dataset,
                read_interactions(inter_file),
            )  # fmt: skip
        return runs[name]

    return get


def latest_items(run: Trained, user: str) -> list[str]:
    """What the model should read for ``user``: the user's latest items (HG-GNN: the latest
    session's, sessions being 2 hours apart in the session data), from the atomic file."""
    pairs = run.interactions[user]
    if run.config["model"] == "HGGNN":
        last_session = max(time // 7200 for time, _ in pairs)
        pairs = [(time, item) for time, item in pairs if time // 7200 == last_session]
    return [item for _, item in pairs][-run.config["MAX_ITEM_LIST_LENGTH"] :]


def model_inputs(run: Trained, items: list[list[str]], users: list[str] | None) -> Interaction:
    """RecBole's input rows for item sequences (and users), built from tokens."""
    width = run.config["MAX_ITEM_LIST_LENGTH"]
    sequences = torch.zeros(len(items), width, dtype=torch.int64)
    for row, tokens in enumerate(items):
        sequences[row, : len(tokens)] = torch.from_numpy(run.dataset.token2id("item_id", tokens))
    rows = {
        "item_id_list": sequences,
        "item_length": torch.tensor([len(tokens) for tokens in items]),
    }
    if users is not None:
        rows["user_id"] = torch.from_numpy(run.dataset.token2id("user_id", users))
    return Interaction(rows)


@pytest.mark.parametrize("name", SERVED)
def test_checkpoint_loads_weights_only_with_what_serving_needs(name: str, trained) -> None:
    run = trained(name)
    checkpoint = torch.load(run.checkpoint, weights_only=True)
    assert checkpoint["config"]["model"] == name and isinstance(checkpoint["config"], dict)
    entry = checkpoint[CHECKPOINT_KEY]
    assert entry["users"] == run.train.field2id_token["user_id"].tolist()
    assert entry["items"] == run.train.field2id_token["item_id"].tolist()
    artifacts = entry["artifacts"]
    if name == "HUGT":
        assert torch.equal(artifacts["svd_item_embeddings"], run.train.svd_item_embeddings)
    elif name == "HGGNN":
        graph = artifacts["global_graph"]
        for edge_type, triple in run.train.global_graph.edges.items():
            for stored, built in zip(graph["edges"][edge_type], triple, strict=True):
                assert np.array_equal(stored.numpy(), built), edge_type
    else:
        assert artifacts == {}


@pytest.mark.parametrize("name", SERVED)
def test_scores_for_users_are_the_saved_models(name: str, trained) -> None:
    run = trained(name)
    users = RUNS[name][2]
    recommender = Recommender.load(run.checkpoint, model=name)
    expected_items = [latest_items(run, user) for user in users]
    assert [recommender.served_sequence(user) for user in users] == expected_items
    with torch.no_grad():
        expected = run.model.full_sort_predict(model_inputs(run, expected_items, users))
    scores = recommender.scores(recommender.user_inputs(users))
    assert torch.equal(scores, expected)
    if name == "HUGT":  # a server keeps no evaluation cache
        assert recommender.model.graph_cache.limit_bytes == 0 and not recommender.model.graph_cache

    found = recommender.recommend_for_users(users, topk=4)
    for row, recommendation in enumerate(found):
        best = torch.topk(expected[row, 1:], 4)
        assert recommendation.user == users[row]
        assert list(recommendation.sequence) == expected_items[row]
        assert list(recommendation.items) == [
            recommender.items[i + 1] for i in best.indices.tolist()
        ]
        assert list(recommendation.scores) == best.values.tolist()


@pytest.mark.parametrize("name", SERVED)
def test_exclude_seen_leaves_out_exactly_the_users_items(name: str, trained) -> None:
    run = trained(name)
    recommender = Recommender.load(run.checkpoint)
    users, every_item = RUNS[name][2], set(recommender.items[1:])
    everything = recommender.recommend_for_users(users, topk=len(every_item))
    unseen = recommender.recommend_for_users(users, topk=len(every_item), exclude_seen=True)
    for user, all_items, rest in zip(users, everything, unseen, strict=True):
        interacted = {item for _, item in run.interactions[user]} & every_item
        assert interacted and set(all_items.items) == every_item
        assert set(rest.items) == every_item - interacted
        assert list(rest.items) == [item for item in all_items.items if item not in interacted]


@pytest.mark.parametrize("name", ["HUGT", "SASRec"])
def test_scores_for_an_item_sequence_are_the_saved_models(name: str, trained) -> None:
    run = trained(name)
    recommender = Recommender.load(run.checkpoint)
    width = run.config["MAX_ITEM_LIST_LENGTH"]
    sequence = [f"i{number}" for number in range(1, width + 4)]  # longer than the model reads
    with torch.no_grad():
        expected = run.model.full_sort_predict(model_inputs(run, [sequence[-width:]], None))
    assert torch.equal(recommender.scores(recommender.sequence_inputs(sequence)), expected)
    found = recommender.recommend_for_items(sequence, topk=30, exclude_seen=True)
    assert found.user is None and list(found.sequence) == sequence[-width:]
    assert set(found.items) == set(recommender.items[1:]) - set(sequence)
    assert list(found.scores) == sorted(found.scores, reverse=True)


def test_a_model_that_reads_the_user_refuses_an_item_sequence(trained) -> None:
    recommender = Recommender.load(trained("HGGNN").checkpoint)
    with pytest.raises(ConfigError, match="HGGNN recommends for users only.*'user_id'"):
        recommender.recommend_for_items(["i1", "i2"])


def test_unknown_tokens_and_bad_topk_are_named(trained) -> None:
    recommender = Recommender.load(trained("SASRec").checkpoint)
    with pytest.raises(DataError, match=r"unknown user 'nobody', 'u99'.*dataset 'tiny'.*user_id"):
        recommender.recommend_for_users(["u1", "nobody", "u99"])
    with pytest.raises(DataError, match="unknown item 'i999'.*item_id"):
        recommender.recommend_for_items(["i1", "i999"])
    with pytest.raises(DataError, match="item sequence is empty"):
        recommender.recommend_for_items([])
    for topk in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="'topk' must be an integer >= 1"):
            recommender.recommend_for_users(["u1"], topk=topk)


def test_checkpoint_of_another_model_or_dataset_is_refused(trained) -> None:
    checkpoint = trained("SASRec").checkpoint
    with pytest.raises(ConfigError, match="holds model SASRec trained on dataset tiny, not model"):
        Recommender.load(checkpoint, model="HUGT")
    with pytest.raises(ConfigError, match="not dataset ml-100k"):
        Recommender.load(checkpoint, model="SASRec", dataset="ml-100k")


def test_weights_that_do_not_fit_the_rebuilt_model_are_refused(trained, tmp_path: Path) -> None:
    state = torch.load(trained("SASRec").checkpoint, weights_only=True)
    state["config"]["hidden_size"] //= 2  # as if the model's defaults had changed
    save_checkpoint(state, tmp_path / "changed.pth")  # a valid file, re-checksummed
    with pytest.raises(ConfigError, match="saved weights do not fit model SASRec"):
        Recommender.load(tmp_path / "changed.pth")


def test_a_general_model_is_not_servable(trained) -> None:
    with pytest.raises(ConfigError, match="BPR is a general model; serving supports sequential"):
        Recommender.load(trained("BPR").checkpoint)


def test_a_recbole_checkpoint_is_explained_and_upgraded(trained, workdir: Path, capsys) -> None:
    run = trained("SASRec")
    config, model, *_ = load_data_and_model(str(run.checkpoint))
    legacy = workdir / "legacy.pth"
    state = torch.load(run.checkpoint, weights_only=True)
    del state[CHECKPOINT_KEY]
    torch.save({**state, "config": config}, legacy, pickle_protocol=4)  # as RecBole writes
    with pytest.raises(HugError, match="is a RecBole checkpoint.*--upgrade-to NEW.pth"):
        Recommender.load(legacy)

    upgraded = workdir / "upgraded.pth"
    assert main([str(legacy), "--upgrade-to", str(upgraded)]) == 0
    users = RUNS["SASRec"][2]
    original, rewritten = Recommender.load(run.checkpoint), Recommender.load(upgraded)
    assert torch.equal(
        rewritten.scores(rewritten.user_inputs(users)),
        original.scores(original.user_inputs(users)),
    )
    assert [rewritten.seen_items(user) for user in users] == [
        original.seen_items(user) for user in users
    ]


def test_command_line_table_and_json(trained, capsys) -> None:
    checkpoint = str(trained("SASRec").checkpoint)
    expected = Recommender.load(checkpoint).recommend_for_users(["u1", "u2"], 3, True)
    assert main([checkpoint, "--users", "u1", "u2", "--topk", "3", "--exclude-seen"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == ["user", "rank", "item", "score"]
    assert [line.split() for line in lines] == [
        [found.user, str(rank), item, f"{score:.4f}"]
        for found in expected
        for rank, (item, score) in enumerate(zip(found.items, found.scores, strict=True), start=1)
    ]

    assert main([checkpoint, "--items", "i3", "i4", "--topk", "2", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    found = Recommender.load(checkpoint).recommend_for_items(["i3", "i4"], 2)
    assert answer["model"] == "SASRec" and answer["dataset"] == "tiny"
    assert answer["recommendations"] == [json.loads(json.dumps(asdict(found)))]


def test_command_line_errors_are_one_line(trained, capsys) -> None:
    checkpoint = str(trained("SASRec").checkpoint)
    assert main([checkpoint, "--users", "u1", "ghost"]) == 2
    assert main([checkpoint, "--users", "u1", "--topk", "0"]) == 2
    assert main([checkpoint, "--users", "u1", "--model", "HUGT"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: unknown user 'ghost'")
    assert err[1] == "error: option 'topk' must be an integer >= 1, got 0"
    assert err[2].startswith("error: ") and "not model HUGT" in err[2]
    assert len(err) == 3


def test_python_dash_m_runs_the_command_line(trained) -> None:
    checkpoint = str(trained("HUGT").checkpoint)
    done = subprocess.run(
        [sys.executable, "-m", "recbole_hug.serve", checkpoint, "--users", "u4", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (found,) = json.loads(done.stdout)["recommendations"]
    assert found["user"] == "u4" and len(found["items"]) == 10


def _overwrite(path: Path, at: int, data: bytes) -> None:
    """Overwrite ``len(data)`` bytes of ``path`` at offset ``at``, in place."""
    with open(path, "r+b") as handle:
        handle.seek(at)
        handle.write(data)


def test_damaged_checkpoints_are_one_error_line(trained, tmp_path: Path, capsys) -> None:
    run = trained("SASRec")
    raw = run.checkpoint.read_bytes()
    weights = run.model.item_embedding.weight.detach().numpy().tobytes()
    zeroed = tmp_path / "zeroed.pth"  # 4 KB of item-embedding bytes set to 0.0: finite values
    zeroed.write_bytes(raw)
    _overwrite(zeroed, raw.index(weights[:64]) + 256, bytes(4096))
    pickled = tmp_path / "pickled.pth"  # the pickle of the checkpoint's structure
    pickled.write_bytes(raw)
    with zipfile.ZipFile(run.checkpoint) as archive:
        info = next(item for item in archive.infolist() if item.filename.endswith("data.pkl"))
    _overwrite(pickled, info.header_offset + 30 + len(info.filename) + 200, b"\xff" * 64)
    for damaged in (zeroed, pickled):
        assert main([str(damaged), "--users", "u1", "--topk", "3"]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"error: {damaged} is damaged"), line
    assert main([str(run.checkpoint.parent), "--users", "u1"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    folder = run.checkpoint.parent
    assert line == f"error: {folder} is a folder; pass a checkpoint file; it holds {run.checkpoint}"
