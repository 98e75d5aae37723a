"""HUGT's evaluation cache of per-window graph structure: the cache by hand, and HUGT's
evaluation with it against the plain path (every window built every time)."""

from __future__ import annotations

import pytest
import torch
from recbole.trainer import Trainer

from recbole_hug.model.graph_cache import WindowGraphCache
from recbole_hug.model.hugt import HUGT
from tests.model.test_one_pass_evaluation import loaded  # noqa: F401 (a fixture)


class Counting:
    """A build that records the windows it was asked for: ``[M, L]`` -> ``[M, L, L]``."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.calls: list[list[int]] = []
        self.dtype = dtype

    def __call__(self, windows: torch.Tensor) -> torch.Tensor:
        self.calls.append(windows[:, 0].tolist())
        grid = windows[:, :, None] * 10 + windows[:, None, :]  # [M, L, L], one per window
        return grid % 3 == 0 if self.dtype == torch.bool else (grid % 7).to(self.dtype)


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8])
def test_windows_are_built_once_and_come_back_in_order(dtype: torch.dtype) -> None:
    build = Counting(dtype)
    cache = WindowGraphCache(1 << 20)
    first = torch.tensor([[1, 2, 3, 4, 5, 0, 0, 0, 0], [6, 7, 8, 9, 1, 2, 3, 4, 5]])
    assert torch.equal(cache.get(first, build), build(first))
    build.calls.clear()
    mixed = torch.stack([first[1], torch.tensor([2, 2, 2, 0, 0, 0, 0, 0, 0]), first[0]])
    got = cache.get(mixed, build)
    assert build.calls == [[2]]  # only the new window was built
    assert torch.equal(got, build(mixed))
    assert got.dtype == dtype and len(cache) == 3


def test_a_window_is_its_items_padding_included() -> None:
    build = Counting(torch.uint8)
    cache = WindowGraphCache(1 << 20)
    cache.get(torch.tensor([[3, 4, 0]]), build)
    cache.get(torch.tensor([[3, 4, 0, 0]]), build)  # wider: another window
    assert build.calls == [[3], [3]]


def test_nothing_is_stored_past_the_limit_and_answers_stay_right() -> None:
    build = Counting(torch.uint8)
    cache = WindowGraphCache(2 * 16)  # two 4 x 4 uint8 structures
    windows = torch.tensor([[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]])
    assert torch.equal(cache.get(windows, build), build(windows))
    assert len(cache) == 2 and cache.stored_bytes == 32
    build.calls.clear()
    assert torch.equal(cache.get(windows, build), build(windows))
    assert build.calls[0] == [3]  # the third is built again


def test_no_cache_builds_every_time() -> None:
    build = Counting(torch.bool)
    cache = WindowGraphCache(0)
    windows = torch.tensor([[1, 2, 3]])
    cache.get(windows, build)
    cache.get(windows, build)
    assert len(build.calls) == 2 and len(cache) == 0


@pytest.mark.parametrize("graph_mode", ["MP", "SE"])
def test_cached_evaluation_equals_the_plain_path(loaded, graph_mode: str) -> None:  # noqa: F811
    config, (train, valid, test) = loaded
    config["graph_mode"] = graph_mode
    results = []
    for cache_mb in (0, 1):
        config["graph_cache_mb"] = cache_mb
        torch.manual_seed(0)
        model = HUGT(config, train._dataset).eval()
        trainer = Trainer(config, model)
        # the second validation reads what the first stored
        results.append([trainer.evaluate(d, load_best_model=False) for d in (valid, valid, test)])
        assert (len(model.graph_cache) > 0) == bool(cache_mb)
    assert results[0] == results[1]


def test_training_never_reads_the_cache(loaded) -> None:  # noqa: F811
    config, (train, _, _) = loaded
    config["graph_mode"], config["graph_cache_mb"] = "MP", 1
    model = HUGT(config, train._dataset).train()
    batch = next(iter(train))
    model.calculate_loss(batch).backward()
    assert len(model.graph_cache) == 0


@pytest.mark.parametrize("graph_mode", ["MP", "SE"])
def test_cached_states_are_the_plain_states_bit_for_bit(loaded, graph_mode: str) -> None:  # noqa: F811
    config, (train, valid, _) = loaded
    config["graph_mode"], config["graph_cache_mb"] = graph_mode, 0
    torch.manual_seed(0)
    model = HUGT(config, train._dataset).eval()
    rows = valid._dataset[torch.arange(len(valid._dataset))]
    with torch.no_grad():
        plain = model._last_states(rows)
        model.graph_cache = WindowGraphCache(1 << 20)
        stored = model._last_states(rows)  # builds and stores every window
        assert len(model.graph_cache) > 0
        read = model._last_states(rows)  # reads every window
    assert torch.equal(stored, plain)
    assert torch.equal(read, plain)
