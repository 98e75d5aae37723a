"""HG-GNN: one HGNN layer by hand, option checks, one-epoch runs of every ablation and baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from recbole.data import data_preparation

from recbole_hug.config import SESSIONS_FILE, Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import ConfigError
from recbole_hug.graph.global_graph import GlobalGraph, edge_matrix
from recbole_hug.model.hggnn import HGGNN, HGNNLayer
from recbole_hug.quick_start import run_recbole_hug
from tests.conftest import FAST_OPTIONS

OPTIONS = {
    **FAST_OPTIONS,
    "embedding_size": 16,
    "transition_top_s": 3,
    "similar_top_k": 3,
    "eval_batch_size": 64,
}


def write_session_data(folder: Path, n_users: int = 16, n_items: int = 20, seed: int = 0) -> Path:
    """``folder/sess/sess.inter``: each user 6 sessions of 3-5 items, sessions 2 hours apart."""
    rng = np.random.default_rng(seed)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(n_users):
        for session in range(6):
            items = rng.choice(n_items, size=int(rng.integers(3, 6)), replace=False)
            lines += [
                f"u{user}\ti{item}\t{7200 * session + 60 * step}" for step, item in enumerate(items)
            ]
    (folder / "sess").mkdir(parents=True, exist_ok=True)
    (folder / "sess" / "sess.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def session_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_session_data(tmp_path_factory.mktemp("hggnn-data"))


def test_one_hgnn_layer_by_hand() -> None:
    # Items 0, 1, 2. out: 0 -> {1, 2}, 1 -> {2}, 2 -> {}. similar: 2 -> {0}.
    none = np.zeros(0, dtype=np.int64)
    graph = GlobalGraph(
        n_users=1,
        n_items=3,
        edges={
            "out": (np.array([0, 0, 1]), np.array([1, 2, 2]), np.ones(3)),
            "similar": (np.array([2]), np.array([0]), np.ones(1)),
            "interact": (none, none, np.zeros(0)),
        },
    )
    layer = HGNNLayer(["out", "similar"], dim=2)
    with torch.no_grad():
        # out: W [mean || self] = mean - self, b = (0, 0.5); similar: (mean_x, self_y), b = (0, -1)
        layer.edge_linears["out"].weight.copy_(torch.tensor([[1.0, 0, -1, 0], [0, 1, 0, -1]]))
        layer.edge_linears["out"].bias.copy_(torch.tensor([0.0, 0.5]))
        layer.edge_linears["similar"].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1]]))
        layer.edge_linears["similar"].bias.copy_(torch.tensor([0.0, -1.0]))
    items = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    users = torch.tensor([[3.0, -3.0]])
    matrices = {name: edge_matrix(graph, name, layout="coo") for name in ("out", "similar")}
    out = layer({"item": items, "user": users}, matrices)
    # out means (1, 1.5), (2, 2), (0, 0) -> relu((0, 2)), relu((2, 1.5)), relu((-2, -1.5)) = 0
    # similar means 0, 0, (1, 0) -> relu((0, -1)) = 0, relu((0, 0)), relu((1, 1))
    expected = torch.tensor([[0.0, 1.0], [1.0, 0.75], [0.5, 0.5]])  # mean of the two types
    assert torch.allclose(out["item"], expected)
    assert torch.equal(out["user"], users)  # no user edge type: users keep their state


def test_session_options_come_from_the_sessions_yaml_for_any_model() -> None:
    sessions = yaml.safe_load(SESSIONS_FILE.read_text(encoding="utf-8"))
    for model, options in (("HGGNN", {}), ("GRU4Rec", {"session_rows": True})):
        config = Config(model, "ml-100k", config_dict=options)
        assert {key: config[key] for key in sessions} == sessions
    assert Config("GRU4Rec", "ml-100k")["session_gap"] is None  # not session data


def test_batch_propagation_equals_whole_graph_propagation(session_data: Path, workdir) -> None:
    config = Config(
        "HGGNN", "sess", config_dict={**OPTIONS, "data_path": str(session_data), "n_layers": 2}
    )
    dataset = create_dataset(config)
    train, _, _ = data_preparation(config, dataset)
    torch.manual_seed(0)
    model = HGGNN(config, train._dataset).eval()
    graph = train._dataset.global_graph
    matrices = {name: edge_matrix(graph, name, layout="coo") for name in model.edge_types}
    state = {"item": model.item_embedding.weight, "user": model.user_embedding.weight}
    layers = [state]
    for layer in model.layers:  # the paper's whole-graph propagation, as the reference
        state = layer(state, matrices)
        layers.append(state)
    whole = {kind: torch.stack([s[kind] for s in layers]).mean(0) for kind in state}
    items, users = torch.tensor([0, 2, 3, 7, 11]), torch.tensor([1, 4])
    with torch.no_grad():
        p, q = model.propagate(items, users)
    assert torch.allclose(p, whole["item"][items], atol=1e-6)
    assert torch.allclose(q, whole["user"][users], atol=1e-6)


def run(data: Path, model: str = "HGGNN", **options) -> dict:
    return run_recbole_hug(
        model, "sess", config_dict={**OPTIONS, "data_path": str(data), **options}
    )


VARIANTS = [
    {},
    {"use_hgnn": False},
    {"use_cpl": False},
    {"use_gpl": False},
    {"edge_types": ["out", "similar", "interact", "interacted_by"]},
    {"edge_types": ["in", "similar", "interact", "interacted_by"]},
    {"edge_types": ["in", "out", "interact", "interacted_by"], "n_layers": 2},
    {"edge_types": ["in", "out", "similar"]},
]


@pytest.mark.parametrize(
    "variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())) or "full"
)
def test_one_epoch(session_data: Path, workdir: Path, variant: dict) -> None:
    result = run(session_data, **variant)
    assert 0.0 <= result["test_result"]["ndcg@10"] <= result["test_result"]["hit@10"] <= 1.0
    assert list((workdir / "saved").glob("HGGNN-*.pth"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"edge_types": ["in", "users"]}, r"unknown edge types \['users'\]; valid names: in, out"),
        ({"use_cpl": False, "use_gpl": False}, "'use_cpl' and 'use_gpl' are both False"),
        ({"edge_types": []}, "'edge_types' is empty"),
        ({"n_layers": 0}, "'n_layers' must be >= 1, got 0"),
    ],
)
def test_bad_options_name_the_option(session_data: Path, workdir: Path, options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        run(session_data, **options)


@pytest.mark.parametrize("model", ["GRU4Rec", "SRGNN"])
def test_recbole_models_run_on_the_session_rows(
    session_data: Path, workdir: Path, model: str
) -> None:
    result = run(session_data, model, session_rows=True, embedding_size=16, hidden_size=16)
    assert 0.0 <= result["test_result"]["hit@10"] <= 1.0
