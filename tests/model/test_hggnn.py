"""HG-GNN: one HGNN layer and Eq. 9-18 by hand, batch propagation against the whole stacked graph,
no training row reading its own session, every ablation switch changing the scores, padding, option
checks, and one-epoch runs."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from recbole.data import data_preparation

from recbole_hug.config import SESSIONS_FILE, Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import ConfigError
from recbole_hug.graph.global_graph import EDGE_TYPES, GlobalGraph, edge_matrix
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


def write_session_data(
    folder: Path,
    n_users: int = 16,
    n_items: int = 20,
    seed: int = 0,
    changes: dict[tuple[int, int], list[int]] | None = None,
    vocabulary_user: bool = False,
) -> Path:
    """``folder/sess/sess.inter``: each user 6 sessions of 3-5 items, sessions 2 hours apart
    (the split: 3 training, 1 validation, 2 test sessions per user). ``changes`` replaces the
    items of some (user, session) pairs; ``vocabulary_user`` adds a first user ``a`` whose
    sessions list every item in order, so that item ids do not depend on the other sessions."""
    rng = np.random.default_rng(seed)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for session in range(6 if vocabulary_user else 0):
        lines += [f"a\ti{item}\t{7200 * session + 60 * item}" for item in range(n_items)]
    for user in range(n_users):
        for session in range(6):
            items = rng.choice(n_items, size=int(rng.integers(3, 6)), replace=False)
            items = (changes or {}).get((user, session), items)
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
    hggnn = yaml.safe_load((SESSIONS_FILE.parent / "model" / "HGGNN.yaml").read_text("utf-8"))
    for model, options in (("HGGNN", {}), ("GRU4Rec", {"session_rows": True})):
        config = Config(model, "ml-100k", config_dict=options)
        own = {key: value for key, value in hggnn.items() if key in sessions}  # HGGNN.yaml's
        expected = {**sessions, **own} if model == "HGGNN" else sessions
        assert {key: config[key] for key in sessions} == expected
    assert Config("GRU4Rec", "ml-100k")["session_gap"] is None  # not session data


def build(data: Path, **options) -> tuple[Config, object, object]:
    """Config, training dataset and test dataset of HGGNN on ``data`` (``sess``)."""
    config = Config("HGGNN", "sess", config_dict={**OPTIONS, "data_path": str(data), **options})
    train, _, test = data_preparation(config, create_dataset(config))
    return config, train._dataset, test._dataset


@pytest.fixture(scope="module")
def cross_fit(session_data: Path, tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("cross-fit"))
        return build(session_data)


@pytest.fixture(scope="module")
def paper(session_data: Path, tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("paper"))
        return build(session_data, train_graph="paper")


def test_every_loader_gives_the_model_its_rows_graph_blocks(session_data: Path, workdir) -> None:
    config = Config("HGGNN", "sess", config_dict={**OPTIONS, "data_path": str(session_data)})
    loaders = data_preparation(config, create_dataset(config))
    blocks = []
    for loader in loaders:
        batch = next(iter(loader))
        rows = batch[0] if isinstance(batch, tuple) else batch  # evaluation: (rows, ...)
        blocks.append(sorted(rows["graph_block"].unique().tolist()))
    assert blocks == [[0, 1, 2, 3, 4], [5], [6]]  # 5 folds; validation graph; test graph


def test_batch_propagation_equals_whole_graph_propagation(session_data: Path, workdir) -> None:
    config, train, _ = build(session_data, n_layers=2)
    torch.manual_seed(0)
    model = HGGNN(config, train).eval()
    graph = train.graph_blocks
    blocks = graph.n_items // train.item_num
    assert blocks == 5 + 2  # 5 folds, the validation graph, the test graph
    matrices = {name: edge_matrix(graph, name, layout="coo") for name in model.edge_types}
    state = {  # every block reads the same embeddings
        "item": model.item_embedding.weight.repeat(blocks, 1),
        "user": model.user_embedding.weight.repeat(blocks, 1),
    }
    layers = [state]
    for layer in model.layers:  # the paper's whole-graph propagation, as the reference
        state = layer(state, matrices)
        layers.append(state)
    whole = {kind: torch.stack([s[kind] for s in layers]).mean(0) for kind in state}
    n_items, n_users = train.item_num, train.user_num
    items = torch.tensor([0, 2, 3, 7, 11, n_items + 3, 4 * n_items + 7, 6 * n_items + 11])
    users = torch.tensor([1, 4, n_users + 1, 6 * n_users + 4])
    with torch.no_grad():
        p, q = model.propagate(items, users)
    assert torch.allclose(p, whole["item"][items], atol=1e-6)
    assert torch.allclose(q, whole["user"][users], atol=1e-6)
    assert not torch.allclose(p[2], p[5])  # item 3 in block 0 and in block 1: other graphs


def row_aggregates(data: Path, train_graph: str) -> tuple[torch.Tensor, torch.Tensor]:
    """User 0's row of its second training session with one prefix item: the prefix item's and
    the user's states after Eq. 8, over the row's graph block."""
    config, train, _ = build(data, train_graph=train_graph, graph_folds=3)
    assert list(train.field2id_token["item_id"]) == ["[PAD]"] + [f"i{i}" for i in range(20)]
    torch.manual_seed(0)
    model = HGGNN(config, train).eval()
    rows = train.inter_feat
    user = int(train.token2id(train.uid_field, "u0"))
    first = torch.nonzero((rows["user_id"] == user) & (rows["item_length"] == 1)).flatten()
    row = rows[first[1:2]]  # sessions 0, 1, 2 give one such row each, in order
    with torch.no_grad():
        items, users = model.aggregates(row["item_id_list"], row["user_id"], row["graph_block"])
    return items[0, 0], users[0]


def test_no_training_row_reads_its_own_session(tmp_path: Path, monkeypatch) -> None:
    # User u0's second training session keeps its first item (the row's prefix) and changes the
    # rest; another session of u0 (its first, in another fold: with 3 folds each of u0's 3
    # training sessions has its own) becomes the prefix item and three others. 3 folds, one
    # layer, all edge types.
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    sessions = {(u, s): rng.choice(20, size=int(rng.integers(3, 6)), replace=False)
                for u in range(16) for s in range(6)}  # fmt: skip
    own = sessions[(0, 1)]
    later = [i for i in range(20) if i not in own][: len(own) - 1]
    variants = {
        "as is": {},
        "own session": {(0, 1): [own[0], *later]},
        "other session": {(0, 0): [own[0], *[i for i in range(19, 0, -1) if i not in own][:3]]},
    }
    states = {}
    for name, changes in variants.items():
        folder = write_session_data(
            tmp_path / name.replace(" ", "-"), changes=changes, vocabulary_user=True
        )
        states[name] = {mode: row_aggregates(folder, mode) for mode in ("cross_fit", "paper")}
    base = states["as is"]
    # Leave-own-session-out: the row's own session changes nothing, another session does.
    for kind in (0, 1):  # the prefix item's state, the user's state
        assert torch.allclose(states["own session"]["cross_fit"][kind], base["cross_fit"][kind])
        assert not torch.allclose(states["other session"]["cross_fit"][kind],
                                  base["cross_fit"][kind])  # fmt: skip
        # The paper's graph holds the row's own session: the same change shows.
        assert not torch.allclose(states["own session"]["paper"][kind], base["paper"][kind])


def scores(model: HGGNN, test) -> torch.Tensor:
    with torch.no_grad():
        return model.eval().full_sort_predict(test.inter_feat[:24])


def variant(config: Config, train, reference: HGGNN, **changes) -> HGGNN:
    """An HGGNN with ``changes``, its parameters copied from ``reference`` where it has them."""
    saved = {key: config[key] for key in changes}
    for key, value in changes.items():
        config[key] = value
    try:
        model = HGGNN(config, train)
    finally:
        for key, value in saved.items():
            config[key] = value
    missing, _ = model.load_state_dict(reference.state_dict(), strict=False)
    assert not missing, missing
    return model


def differ(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool((a - b).abs().max() > 1e-7)  # user states reach the scores only weakly


@pytest.mark.parametrize(
    "changes",
    [{"use_cpl": False}, {"use_gpl": False}, {"user_residual": True}, {"n_layers": 1}],
    ids=["use_cpl", "use_gpl", "user_residual", "same"],
)
def test_each_module_switch_changes_the_scores(cross_fit, changes: dict) -> None:
    config, train, test = cross_fit
    torch.manual_seed(0)
    full = HGGNN(config, train)
    switched = variant(config, train, full, **changes)
    assert differ(scores(full, test), scores(switched, test)) == (changes != {"n_layers": 1})


def test_use_hgnn_changes_the_scores(paper) -> None:
    config, train, test = paper
    torch.manual_seed(0)
    full = HGGNN(config, train)
    without = variant(config, train, full, use_hgnn=False)
    assert differ(scores(full, test), scores(without, test))


def test_every_edge_types_subset_gives_its_own_scores(cross_fit) -> None:
    config, train, test = cross_fit
    torch.manual_seed(0)
    full = HGGNN(config, train)
    subsets = [list(c) for n in range(1, 6) for c in itertools.combinations(EDGE_TYPES, n)]
    found = [scores(variant(config, train, full, edge_types=subset), test) for subset in subsets]
    assert len(subsets) == 31 and subsets[-1] == list(EDGE_TYPES)
    for (i, a), (j, b) in itertools.combinations(enumerate(found), 2):
        assert differ(a, b), (subsets[i], subsets[j])


def test_preferences_and_gate_by_hand(paper) -> None:
    # Eq. 9-18 written out position by position, without the HGNN (p = p^(0), q = q^(0)).
    config, train, _ = paper
    torch.manual_seed(1)
    model = variant(config, train, HGGNN(config, train), use_hgnn=False).eval()
    item_seq = torch.tensor([[3, 5, 2, 0], [7, 0, 0, 0]])
    length, user = torch.tensor([3, 1]), torch.tensor([2, 5])
    with torch.no_grad():
        got = model(item_seq, length, user, torch.zeros(2, dtype=torch.long))
    sig, emb = torch.sigmoid, model.item_embedding.weight.detach()
    w = {name: m.weight.detach() for name, m in model.named_modules() if hasattr(m, "weight")}
    b0, b1 = model.cpl_item.bias.detach(), model.gpl_item.bias.detach()
    for r in range(2):
        n = int(length[r])
        p = [emb[int(item_seq[r, i])] for i in range(n)]
        ell = [model.position_embedding.weight.detach()[n - 1 - i] for i in range(n)]
        x = [w["position_merge"] @ torch.cat([p[i], ell[i]]) for i in range(n)]  # Eq. 9
        mean = sum(x) / n  # Eq. 10
        eps = torch.stack(
            [
                w["cpl_score"][0] @ sig(w["cpl_item"] @ x[i] + w["cpl_session"] @ mean + b0)
                for i in range(n)
            ]
        )  # Eq. 12
        alpha = torch.exp(eps) / torch.exp(eps).sum()  # Eq. 11
        current = sum(alpha[i] * x[i] for i in range(n))  # Eq. 13
        q = model.user_embedding.weight.detach()[int(user[r])]
        e = torch.stack(
            [
                w["gpl_score"][0] @ sig(w["gpl_item"] @ p[i] + w["gpl_user"] @ q + b1)
                for i in range(n)
            ]
        )  # Eq. 15
        gamma = torch.exp(e) / torch.exp(e).sum()  # Eq. 14
        general = sum(gamma[i] * p[i] for i in range(n))  # Eq. 16
        gate = sig(w["gate"] @ torch.cat([current, general]))  # Eq. 17
        expected = gate * current + (1 - gate) * general  # Eq. 18
        assert torch.allclose(got[r], expected, atol=1e-6)


def test_padding_is_zero_and_never_a_training_candidate(cross_fit) -> None:
    config, train, _ = cross_fit
    torch.manual_seed(0)
    model = HGGNN(config, train).eval()  # no dropout: the two passes below see the same nodes
    assert not model.item_embedding.weight[0].any() and not model.user_embedding.weight[0].any()
    rows = train.inter_feat[:32]
    loss = model.calculate_loss(rows)
    session = model._session(rows)
    logits = session @ model.item_embedding.weight[1:].T  # item 0 left out of the softmax
    assert torch.allclose(loss, F.cross_entropy(logits, rows["item_id"] - 1), atol=1e-6)
    loss.backward()
    assert not model.item_embedding.weight.grad[0].any()
    assert not model.user_embedding.weight.grad[0].any()


def run(data: Path, model: str = "HGGNN", **options) -> dict:
    return run_recbole_hug(
        model, "sess", config_dict={**OPTIONS, "data_path": str(data), **options}
    )


@pytest.mark.parametrize(
    "options", [{}, {"train_graph": "paper", "use_hgnn": False}], ids=["cross_fit", "paper"]
)
def test_one_epoch_saves_a_checkpoint(session_data: Path, workdir: Path, options: dict) -> None:
    result = run(session_data, **options)
    assert set(result["test_result"]) >= {"hit@10", "ndcg@10"}
    assert list((workdir / "saved").glob("HGGNN-*.pth"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"edge_types": ["in", "users"]}, r"unknown edge types \['users'\]; valid names: in, out"),
        ({"use_cpl": False, "use_gpl": False}, "'use_cpl' and 'use_gpl' are both False"),
        ({"edge_types": []}, "'edge_types' is empty"),
        ({"n_layers": 0}, "'n_layers' must be >= 1, got 0"),
        ({"use_hgnn": False}, "'train_graph: cross_fit' .* 'use_hgnn: False' leaves no graph"),
        ({"graph_folds": 1}, r"graph_folds must be >= 2 and at most the number of training"),
        ({"graph_folds": 49}, r"training sessions \(48\), got 49"),
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
    assert set(result["test_result"]) >= {"hit@10", "ndcg@10"}
