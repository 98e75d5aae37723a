"""HUGT: causality, option checks, and every variant learning a toy pattern."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data import data_preparation

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import ConfigError
from recbole_hug.model.hugt import HUGT
from recbole_hug.quick_start import run_recbole_hug
from tests.conftest import FAST_OPTIONS

OPTIONS = {
    **FAST_OPTIONS,
    "MAX_ITEM_LIST_LENGTH": 8,
    "svd_dim": 6,
    "hug_k": 2,
    "hidden_size": 16,
    "head_size": 8,
    "inner_size": 16,
}


@pytest.fixture(scope="module")
def prepared(tiny_data: Path, tmp_path_factory):
    import os

    os.chdir(tmp_path_factory.mktemp("run"))
    config = Config("HUGT", "tiny", config_dict={**OPTIONS, "data_path": str(tiny_data)})
    dataset = create_dataset(config)
    train, _, _ = data_preparation(config, dataset)
    return config, train._dataset


VARIANTS = [
    {"graph_mode": "MP"},
    {"graph_mode": "SE"},
    {"graph_mode": "SE", "position_encoding": "absolute"},
    {"fusion": "graph_then_sequence"},
    {"fusion": "sequence_then_graph", "graph_mode": "SE"},
    {"n_graph_heads": 0},
    {"n_graph_heads": 4},
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_outputs_never_see_later_items(prepared, variant: dict) -> None:
    config, dataset = prepared
    for key, value in variant.items():
        config[key] = value
    try:
        torch.manual_seed(0)
        model = HUGT(config, dataset).eval()
        items = torch.randint(1, dataset.item_num, (4, 8))
        states = model(items)
        for i in range(7):
            changed = items.clone()
            changed[:, i + 1 :] = torch.randint(1, dataset.item_num, (4, 7 - i))
            assert torch.allclose(model(changed)[:, : i + 1], states[:, : i + 1], atol=1e-5), i
            assert not torch.allclose(model(changed)[:, i + 1 :], states[:, i + 1 :])
    finally:
        for key in variant:
            config[key] = OPTIONS.get(key, Config("HUGT", "ml-100k")[key])


def test_se_bias_is_phi_of_the_causal_path_lengths_by_hand(prepared) -> None:
    config, dataset = prepared
    config["graph_mode"], config["hug_k"], config["spatial_clip"] = "SE", 1, 2
    try:
        model = HUGT(config, dataset)
    finally:
        config["graph_mode"], config["hug_k"], config["spatial_clip"] = "MP", 2, 5
    embeddings = torch.zeros(dataset.item_num, 2)
    embeddings[1], embeddings[2], embeddings[3] = torch.tensor([[1.0, 0], [0, 1.0], [1.0, 0.1]])
    model.svd_item_embeddings = embeddings
    with torch.no_grad():  # one graph head: phi(0), phi(1), phi(2)
        model.spatial_encoding.weight.copy_(torch.tensor([[10.0, 10], [20, 20], [30, 30]]))
    bias = model.graph_inputs(torch.tensor([[1, 2, 3]]))
    # edges (k = 1): position 1 -> 0, position 2 -> 0 (item 3 is closest to item 1), so
    # s = [[0, -, -], [1, 0, -], [1, 2, 0]] (2 -> 1 goes through 0)
    inf = float("-inf")
    expected = torch.tensor([[10.0, inf, inf], [20.0, 10.0, inf], [20.0, 30.0, 10.0]])
    assert bias.shape == (1, 2, 3, 3)
    assert torch.equal(bias[0, 0], expected) and torch.equal(bias[0, 1], expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_graph_heads": 5}, r"'n_graph_heads' must be in 0..n_heads \(0..4\), got 5"),
        ({"n_graph_heads": -1}, "'n_graph_heads' must be in 0..n_heads"),
        (
            {"head_size": None, "hidden_size": 10},
            "'hidden_size' \\(10\\) must be divisible by 'n_heads' \\(4\\)",
        ),
        ({"hug_k": 0}, "'hug_k' must be >= 1, got 0"),
        ({"spatial_clip": 0}, "'spatial_clip' must be >= 1, got 0"),
        ({"graph_mode": "GAT"}, "'graph_mode' must be one of MP, SE, got 'GAT'"),
        (
            {"fusion": "parallel"},
            "'fusion' must be one of concurrent, graph_then_sequence, sequence_then_graph",
        ),
        ({"svd_dim": 500}, "svd_dim must be an integer with 1 <= svd_dim"),
        ({"n_candidates": 0}, "'n_candidates' must be >= 1 or ~, got 0"),
    ],
)
def test_bad_options_name_the_option(tiny_data: Path, workdir: Path, options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        run_recbole_hug(
            "HUGT", "tiny", config_dict={**OPTIONS, "data_path": str(tiny_data), **options}
        )


RUNS = [*VARIANTS, {"n_candidates": 5}]


def write_cycle_dataset(folder: Path, n_users: int = 40, n_items: int = 25) -> Path:
    """Write ``folder/cycle/cycle.inter``: each user walks the cycle of items ``i1 -> i2 -> ... ->
    i{n_items} -> i1`` for 12 steps from a seeded start, so the next item is always the one after
    the last; every item is about equally popular (popularity alone scores HR@10 ~ 10/25)."""
    rng = np.random.default_rng(0)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(1, n_users + 1):
        start = int(rng.integers(n_items))
        lines += [f"u{user}\ti{(start + step) % n_items + 1}\t{step}" for step in range(12)]
    (folder / "cycle").mkdir(parents=True, exist_ok=True)
    (folder / "cycle" / "cycle.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


#: Enough training for every variant to learn the cycle (HR@10 1.0 and MRR@10 0.82-0.975 when
#: last measured, with length-bucketed batches); a model that ignores its input (rows shuffled
#: in forward) scores HR@10 ~0.4.
LEARNING = {"epochs": 12, "learning_rate": 0.01, "train_batch_size": 16, "stopping_step": 12}


@pytest.mark.parametrize("variant", RUNS, ids=lambda v: "-".join(map(str, v.values())))
def test_every_variant_learns_a_cycle(tmp_path: Path, workdir: Path, variant: dict) -> None:
    data = write_cycle_dataset(tmp_path)
    result = run_recbole_hug(
        "HUGT", "cycle", config_dict={**OPTIONS, **LEARNING, "data_path": str(data), **variant}
    )
    assert result["test_result"]["hit@10"] >= 0.9, result["test_result"]
    assert result["test_result"]["mrr@10"] >= 0.7, result["test_result"]
    assert list((workdir / "saved").glob("HUGT-*.pth"))


def test_loss_is_the_mean_cross_entropy_over_target_positions(prepared) -> None:
    config, dataset = prepared
    model = HUGT(config, dataset).eval()
    batch = dataset[torch.arange(3)]
    loss = model.calculate_loss(batch)
    states = model(batch["item_id_list"])
    targets = batch["target_item_id_list"]
    logits = model.scores(states)
    logits[..., 0] = float("-inf")
    manual = [
        torch.nn.functional.cross_entropy(logits[w, p : p + 1], targets[w, p : p + 1])
        for w in range(3)
        for p in range(8)
        if targets[w, p] > 0
    ]
    assert torch.allclose(loss, torch.stack(manual).mean(), atol=1e-5)
