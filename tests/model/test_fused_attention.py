"""The fused attention path against the plain reference (``tests/model/reference.py``).

Outputs and every parameter's gradient agree within float tolerance for every head split
(0..n_heads graph heads), both graph modes, the three fusions (and both depths of the
non-concurrent ones), both position encodings, with right padding, in training and eval mode.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from recbole.data import data_preparation

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.model.hugt import HUGT
from tests.model.reference import reference_forward
from tests.model.test_hugt import OPTIONS as HUGT_OPTIONS

OPTIONS = {
    **HUGT_OPTIONS,
    "spatial_clip": 3,
    "hidden_dropout_prob": 0.0,
    "attn_dropout_prob": 0.0,
}


@pytest.fixture(scope="module")
def prepared(tiny_data: Path, tmp_path_factory):
    import os

    os.chdir(tmp_path_factory.mktemp("run"))
    config = Config("HUGT", "tiny", config_dict={**OPTIONS, "data_path": str(tiny_data)})
    train, _, _ = data_preparation(config, create_dataset(config))
    return config, train._dataset


CONCURRENT = [
    {"n_graph_heads": n, "graph_mode": mode, "position_encoding": position}
    for n, mode, position in itertools.product(range(5), ("MP", "SE"), ("relative", "absolute"))
]
STAGED = [
    {"fusion": fusion, "fusion_depth": depth, "graph_mode": mode, "position_encoding": position}
    for fusion, depth, mode, position in itertools.product(
        ("graph_then_sequence", "sequence_then_graph"),
        ("stacked", "matched"),
        ("MP", "SE"),
        ("relative", "absolute"),
    )
]


def _model(config, dataset, variant: dict) -> HUGT:
    """A HUGT of ``variant`` (options over the module's), seeded; ``config`` is left as it was."""
    saved = {key: config[key] for key in variant}
    try:
        for key, value in variant.items():
            config[key] = value
        torch.manual_seed(0)
        return HUGT(config, dataset)
    finally:
        for key, value in saved.items():
            config[key] = value


def _items(n_items: int) -> torch.Tensor:
    """``[4, 8]`` items, right-padded: lengths 8, 5, 3 and 1."""
    generator = torch.Generator().manual_seed(1)
    items = torch.randint(1, n_items, (4, 8), generator=generator)
    for row, length in enumerate((8, 5, 3, 1)):
        items[row, length:] = 0
    return items


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    "variant", CONCURRENT + STAGED, ids=lambda v: "-".join(map(str, v.values()))
)
def test_fused_path_matches_the_reference(prepared, variant: dict, training: bool) -> None:
    config, dataset = prepared
    model = _model(config, dataset, variant).train(training)
    items = _items(dataset.item_num)
    weights = torch.randn(4, 8, config["hidden_size"], generator=torch.Generator().manual_seed(2))
    results = []
    for forward in (model.forward, lambda seq: reference_forward(model, seq)):
        model.zero_grad()
        out = forward(items)
        (out * weights).sum().backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results.append((out.detach(), grads))
    (fused, fused_grads), (reference, reference_grads) = results
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)
    assert fused_grads.keys() == reference_grads.keys()
    for name, grad in reference_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_right_padding_cut_from_a_batch_changes_no_state(prepared) -> None:
    """Training and evaluation cut a batch to its longest row: the states do not change."""
    config, dataset = prepared
    torch.manual_seed(0)
    model = HUGT(config, dataset).eval()
    items = _items(dataset.item_num)[1:]  # longest row 5 of 8 positions
    torch.testing.assert_close(model(items)[:, :5], model(items[:, :5]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "variant", CONCURRENT + STAGED, ids=lambda v: "-".join(map(str, v.values()))
)
def test_evaluation_paths_match_the_reference(prepared, variant: dict) -> None:
    """Without gradients (evaluation): ``psi`` as a float bias, and the last block computed at
    one position per sequence (``rows``), both equal the reference at those positions."""
    config, dataset = prepared
    model = _model(config, dataset, variant).eval()
    items = _items(dataset.item_num)
    last = torch.tensor([7, 4, 2, 0])
    with torch.no_grad():
        reference = reference_forward(model, items)
        torch.testing.assert_close(model(items), reference, rtol=1e-5, atol=1e-5)
        for rows in (last, torch.tensor([3, 1, 2, 0])):
            states = model(items, rows)[:, 0]
            torch.testing.assert_close(
                states, reference[torch.arange(4), rows], rtol=1e-5, atol=1e-5
            )
