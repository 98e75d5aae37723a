"""The results folder: runs.csv written atomically, grid.json claimed or refused."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from recbole_hug.errors import ConfigError, DataError
from recbole_hug.reproduce.results import ResultsFolder

IDENTITY = {"paper": "p", "dataset": "d", "data_path": "/data/d", "quick": False, "first_seed": 1}


def content(**cells: dict) -> dict:
    return {**IDENTITY, "cells": cells}


def cell(config: str, **options) -> dict:
    return {"model": "M", "options": options, "config": config}


def test_runs_are_rewritten_with_metric_columns_between_the_fixed_ones(tmp_path) -> None:
    folder = ResultsFolder(tmp_path)
    row = {"run_id": "a", "table": "t", "entry": "e", "model": "M", "seed": 1, "options": "{}"}
    folder.write_runs([{**row, "seconds": 2.5, "test_hit@10": 0.5, "valid_hit@10": 0.25}])
    with open(tmp_path / "runs.csv", newline="") as file:
        header = next(csv.reader(file))
    assert header == [
        "run_id", "table", "entry", "model", "seed", "options", "test_hit@10", "valid_hit@10",
        "best_epoch", "epochs_run", "epoch_seconds", "valid_seconds", "seconds", "checkpoint",
    ]  # fmt: skip
    assert folder.read_runs()[0]["seconds"] == "2.5"


def test_a_crash_while_writing_keeps_the_old_runs(tmp_path, monkeypatch) -> None:
    folder = ResultsFolder(tmp_path)
    row = {"run_id": "a", "table": "t", "entry": "e", "model": "M", "seed": 1, "options": "{}"}
    folder.write_runs([row])
    before = (tmp_path / "runs.csv").read_bytes()

    def crash(self, rows):
        raise OSError("disk full")

    monkeypatch.setattr(csv.DictWriter, "writerows", crash)
    with pytest.raises(OSError, match="disk full"):
        folder.write_runs([row, {**row, "run_id": "b"}])
    assert (tmp_path / "runs.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv"]  # no temporary file left


def test_claim_adds_new_cells_and_keeps_the_old(tmp_path) -> None:
    folder = ResultsFolder(tmp_path / "out")
    folder.claim(content(**{"t/a": cell("1")}))
    folder.claim(content(**{"t/b": cell("2")}))
    cells = json.loads((tmp_path / "out" / "grid.json").read_text())["cells"]
    assert set(cells) == {"t/a", "t/b"}


def test_a_cell_that_only_gained_new_options_keeps_its_identity(tmp_path) -> None:
    folder = ResultsFolder(tmp_path)
    recorded = {"lr": 0.001, "layers": 2}
    assert folder.claim({**content(**{"t/a": cell("1")}), "configs": {"1": recorded}}) == {
        "t/a": "1"
    }
    # a later version adds an option (its default keeps the old behaviour): same runs
    grown = {**content(**{"t/a": cell("2")}), "configs": {"2": {**recorded, "new": False}}}
    assert folder.claim(grown) == {"t/a": "1"}
    written = json.loads((tmp_path / "grid.json").read_text())
    assert written["cells"]["t/a"]["config"] == "1"
    assert written["configs"]["1"] == {**recorded, "new": False}
    # a recorded option that changed is another configuration
    changed = {**content(**{"t/a": cell("3")}), "configs": {"3": {"lr": 0.01, "layers": 2}}}
    with pytest.raises(ConfigError, match="t/a: the same options resolve to another"):
        folder.claim(changed)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ({**content(**{"t/a": cell("1")}), "dataset": "x"}, "dataset was 'd', now 'x'"),
        (content(**{"t/a": cell("2", size=8)}), "t/a: size '(default)' -> 8"),
        (content(**{"t/a": cell("2")}), "t/a: the same options resolve to another configuration"),
    ],
)
def test_claim_refuses_another_grid_and_changes_nothing(tmp_path, new, message) -> None:
    folder = ResultsFolder(tmp_path)
    folder.claim(content(**{"t/a": cell("1")}))
    before = (tmp_path / "grid.json").read_bytes()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        folder.claim(new)
    assert (tmp_path / "grid.json").read_bytes() == before


def test_a_folder_not_written_by_the_runner_is_refused(tmp_path) -> None:
    (tmp_path / "runs.csv").write_text("x,y\n1,2\n")
    with pytest.raises(ConfigError, match="has runs.csv but no grid.json"):
        ResultsFolder(tmp_path).claim(content())
    (tmp_path / "grid.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="not a grid.json written by this runner"):
        ResultsFolder(tmp_path).claim(content())


def test_runs_without_the_runners_columns_are_an_error(tmp_path) -> None:
    (tmp_path / "runs.csv").write_text("run_id,table\na,t\n")
    with pytest.raises(DataError, match="missing column\\(s\\) entry, model, seed, options"):
        ResultsFolder(tmp_path).read_runs()


def test_a_run_claimed_by_a_live_runner_is_skipped_and_a_dead_ones_taken_over(tmp_path) -> None:
    folder = ResultsFolder(tmp_path)
    with folder.locked():
        assert folder.claim_run("a")
        assert folder.claim_run("a")  # this process's own claim
    assert (tmp_path / "claims" / "a").read_text().strip() == str(os.getpid())
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "reproduce"])
    try:
        (tmp_path / "claims" / "b").write_text(f"{other.pid}\n")
        assert not folder.claim_run("b")  # a live runner holds it
    finally:
        other.kill()
        other.wait()
    assert folder.claim_run("b")  # its process ended: the run is taken over
    folder.release_run("a")
    assert not (tmp_path / "claims" / "a").exists()
    assert (tmp_path / "claims" / "b").is_file()
