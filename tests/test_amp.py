"""Mixed precision (``enable_amp: True``, bf16 autocast on CPU) for every kind of model.

Each model trains one epoch under AMP through the plugin's entry point (the fused loss, HUGT's
fused attention, HG-GNN's propagation and RecBole's own models), and its loss agrees with the
float32 epoch from the same seed: bf16 rounding moves it a little, a wrong gradient or a dtype
mix-up moves it a lot (or crashes, as the fused loss did before it was autocast-aware).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from recbole_hug.config import Config
from recbole_hug.quick_start import _build
from recbole_hug.utils import get_trainer
from tests.conftest import FAST_OPTIONS
from tests.model.test_hggnn import write_session_data

HUGT_OPTIONS = {"svd_dim": 6, "hug_k": 2, "hidden_size": 16, "head_size": 8, "inner_size": 16}
CASES = [
    ("HUGT", "tiny", {**HUGT_OPTIONS, "graph_mode": "MP"}),
    ("HUGT", "tiny", {**HUGT_OPTIONS, "graph_mode": "SE", "n_candidates": 5}),
    ("HGGNN", "sess", {"embedding_size": 16, "transition_top_s": 3, "similar_top_k": 3}),
    ("SASRec", "tiny", {"hidden_size": 16, "inner_size": 16}),
    ("GRU4Rec", "tiny", {"embedding_size": 16, "hidden_size": 16}),
]


@pytest.fixture(scope="module")
def data(tiny_data: Path, tmp_path_factory) -> dict[str, Path]:
    return {"tiny": tiny_data, "sess": write_session_data(tmp_path_factory.mktemp("amp"))}


def _epoch_loss(model: str, dataset: str, data_path: Path, options: dict, amp: bool) -> float:
    config = Config(
        model,
        dataset,
        config_dict={
            **FAST_OPTIONS,
            **options,
            "data_path": str(data_path),
            "enable_amp": amp,
            "hidden_dropout_prob": 0.0,
            "attn_dropout_prob": 0.0,
        },
    )
    _, train, _, _, network = _build(config, log=False)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, network)
    loss = trainer._train_epoch(train, 0, show_progress=False)
    return float(sum(loss) if isinstance(loss, tuple) else loss)


@pytest.fixture
def bf16_units(monkeypatch) -> None:
    """Take the bfloat16 path whatever this CPU has (without the units it is emulated: slow,
    but the same arithmetic)."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)


@pytest.mark.parametrize(("model", "dataset", "options"), CASES, ids=lambda c: str(c)[:24])
def test_an_amp_epoch_trains_as_float32_does(data, workdir, bf16_units, model, dataset, options):
    fp32 = _epoch_loss(model, dataset, data[dataset], options, amp=False)
    bf16 = _epoch_loss(model, dataset, data[dataset], options, amp=True)
    assert math.isfinite(bf16)
    assert bf16 == pytest.approx(fp32, rel=0.02)
    assert bf16 != fp32  # autocast did change the arithmetic


def test_without_bf16_units_an_amp_epoch_is_the_float32_epoch(data, workdir, monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    model, dataset, options = CASES[0]
    fp32 = _epoch_loss(model, dataset, data[dataset], options, amp=False)
    assert _epoch_loss(model, dataset, data[dataset], options, amp=True) == fp32


def test_autocast_is_bf16_on_cpu() -> None:
    with torch.autocast("cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_amp_on_a_cpu_without_bf16_units_falls_back_to_float32(monkeypatch) -> None:
    from unittest.mock import MagicMock

    from recbole_hug.trainer import amp_falls_back

    logger = MagicMock()
    config = {"enable_amp": True, "device": "cpu"}
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert amp_falls_back(config, logger)
    assert "no bfloat16 matrix units" in logger.warning.call_args[0][0]
    assert "trains in float32" in logger.warning.call_args[0][0]
    assert not amp_falls_back({**config, "enable_amp": False}, logger)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert not amp_falls_back(config, logger)
