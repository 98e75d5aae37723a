"""HUGT's evaluation, one causal pass per window, against one pass per evaluated step.

On a dataset whose users are both shorter and longer than ``MAX_ITEM_LIST_LENGTH``, under
``eval_protocol: hugt`` (every later step of a user is evaluated), the metrics of the one-pass
evaluation are those of scoring each step from its own forward pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from recbole.data import data_preparation
from recbole.trainer import Trainer

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.model import hugt as hugt_module
from recbole_hug.model.hugt import HUGT
from tests.conftest import FAST_OPTIONS

WIDTH = 6


class PerStepHUGT(HUGT):
    """Today's evaluation: every row gets its own forward pass over its own prefix."""

    def _last_states(self, interaction) -> torch.Tensor:
        states = self.forward(interaction[self.ITEM_SEQ])
        return self.gather_indexes(states, interaction[self.ITEM_SEQ_LEN] - 1)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(3)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user, length in enumerate([4, 5, 12, 20, 30, 9, 40, 7, 25, 15] * 2, start=1):
        for step, item in enumerate(rng.choice(np.arange(1, 41), size=length, replace=False)):
            lines.append(f"u{user}\ti{item}\t{100 * user + step}")
    (folder / "mixed").mkdir()
    (folder / "mixed" / "mixed.inter").write_text("\n".join(lines) + "\n")
    import os

    os.chdir(tmp_path_factory.mktemp("run"))
    options = {
        **FAST_OPTIONS,
        "data_path": str(folder),
        "MAX_ITEM_LIST_LENGTH": WIDTH,
        "eval_protocol": "hugt",
        "protocol_train_ratio": 0.6,
        "eval_batch_size": 16,  # windows are cut across batches too
        "svd_dim": 4,
        "hug_k": 2,
        "hidden_size": 16,
        "head_size": 8,
        "inner_size": 16,
        "topk": [1, 3, 5],
        "metrics": ["Hit", "NDCG", "MRR"],
        "valid_metric": "NDCG@5",
    }
    config = Config("HUGT", "mixed", config_dict=options)
    return config, data_preparation(config, create_dataset(config))


@pytest.mark.parametrize("graph_mode", ["MP", "SE"])
def test_one_pass_metrics_equal_per_step_metrics(loaded, graph_mode: str) -> None:
    config, (train, valid, test) = loaded
    config["graph_mode"] = graph_mode
    lengths = valid._dataset.inter_feat["item_length"]
    assert (lengths < WIDTH).any() and (lengths == WIDTH).sum() > 10  # both kinds of step
    results = []
    for model_class in (HUGT, PerStepHUGT):
        torch.manual_seed(0)
        model = model_class(config, train._dataset).eval()
        trainer = Trainer(config, model)
        results.append([trainer.evaluate(data, load_best_model=False) for data in (valid, test)])
    assert results[0] == results[1]


def _model_and_rows(loaded) -> tuple[HUGT, object]:
    """A seeded HUGT in evaluation mode and every validation row."""
    config, (train, valid, _) = loaded
    torch.manual_seed(0)
    model = HUGT(config, train._dataset).eval()
    return model, valid._dataset[torch.arange(len(valid._dataset))]


def test_one_pass_states_equal_per_step_states(loaded) -> None:
    model, rows = _model_and_rows(loaded)
    with torch.no_grad():
        one_pass = model._last_states(rows)
        per_step = PerStepHUGT._last_states(model, rows)
    torch.testing.assert_close(one_pass, per_step, rtol=1e-5, atol=1e-6)


def test_chunked_passes_equal_whole_passes(loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    # chunks of one window (6 positions) against the whole batch in one pass
    model, rows = _model_and_rows(loaded)
    with torch.no_grad():
        whole = model._last_states(rows)
        monkeypatch.setattr(hugt_module, "CPU_EVAL_POSITIONS", WIDTH)
        chunked = model._last_states(rows)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)
