"""The grids: the shipped yaml files load, their paper numbers are the papers', and malformed
grids are errors naming the file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from recbole_hug.errors import ConfigError
from recbole_hug.reproduce import grid as grid_module
from recbole_hug.reproduce.grid import load_grid, papers
from tests.conftest import SHARED_DATASETS

PAPER_TEXTS = {"hugt": "hugt.txt", "hggnn": "hg-gnn.txt"}
PAPERS_DIR = SHARED_DATASETS.parent / "papers"


def test_shipped_grids_load_with_the_issue_tables() -> None:
    assert papers() == ["hggnn", "hugt"]
    hugt = load_grid("hugt")
    assert list(hugt.tables)[:3] == ["table2", "figure3", "table3"]
    assert {"hug_k", "ablations", "table2_loo", "short", "table2_prefix"} <= set(hugt.tables)
    assert hugt.protocol == {"eval_protocol": "hugt"}  # the paper's protocol by default
    assert hugt.options["stopping_exact"] is True
    seeds = {e.name: e.seeds for e in hugt.tables["table2"].entries if e.model}
    assert seeds == {"Pop": 1, "GRU4Rec": 1, "SASRec-Ours": None, "HUGT-MP": None, "HUGT-SE": None}
    assert list(load_grid("hggnn").tables) == ["table2", "table4", "table5", "figure3", "figure4"]


@pytest.mark.parametrize("paper", sorted(PAPER_TEXTS))
def test_every_paper_number_of_a_grid_is_in_the_paper(paper: str) -> None:
    path = PAPERS_DIR / PAPER_TEXTS[paper]
    if not path.is_file():
        pytest.skip(f"{path} not here")
    printed = {float(token) for token in re.findall(r"\d+\.\d+", path.read_text())}
    grid = load_grid(paper)
    numbers = [
        (table.name, entry.name, column, number)
        for table in grid.tables.values()
        for entry in table.entries
        for column, row in entry.paper.items()
        for number in row
        if number is not None  # ~: a metric the paper does not report
    ]
    assert numbers
    assert [n for n in numbers if n[3] not in printed] == []


def test_run_options_are_layered_lowest_first() -> None:
    grid = load_grid("hugt")
    entry = next(e for e in grid.tables["table2"].entries if e.name == "SASRec-Ours")
    full = grid.run_options("taobao", entry, quick=False)
    assert full["train_batch_size"] == 32  # the dataset's over every run's 128
    assert full["n_candidates"] == 227 and full["n_graph_heads"] == 0
    assert full["eval_protocol"] == "hugt"  # the protocol
    loo = grid.tables["table2_loo"].entries[0]
    assert grid.run_options("ml-1m", loo, quick=False)["eval_protocol"] == "recbole"
    quick = grid.run_options("taobao", entry, quick=True)
    assert quick["train_batch_size"] == 512 and quick["hidden_size"] == 16


def test_learning_rates_of_a_dataset_and_of_quick() -> None:
    grid = load_grid("hggnn")
    assert grid.lr_choices("taobao-ub-head", quick=False) == (
        0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1
    )  # fmt: skip
    assert grid.lr_choices("taobao-ub-head", quick=True) == (0.01,)
    assert [name for name, table in grid.tables.items() if table.choose_lr] == [
        "table2", "table4", "table5"
    ]  # fmt: skip
    assert load_grid("hugt").lr_choices("ml-1m", quick=False) == ()


def write_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit) -> None:
    content = yaml.safe_load((grid_module.GRID_DIR / "hugt.yaml").read_text())
    edit(content)
    (tmp_path / "hugt.yaml").write_text(yaml.safe_dump(content))
    monkeypatch.setattr(grid_module, "GRID_DIR", tmp_path)


def entry(content: dict, table: str = "table2", index: int = 0) -> dict:
    return content["tables"][table]["entries"][index]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("metrics"), "hugt.yaml: missing key 'metrics'"),
        (lambda c: c.update(seeds="3"), "'seeds' must be a int, got '3'"),
        (lambda c: c.update(colour=1), "unknown key\\(s\\) colour"),
        (lambda c: entry(c)["paper"].update(ML1M=[0.1]), "paper.ML1M: must be a list of 2 numbers"),
        (lambda c: entry(c)["paper"].update(MovieLens=[0.1, 0.2]), "unknown column 'MovieLens'"),
        (lambda c: c["options"].update(seed=1), "option\\(s\\) seed are set by the runner"),
        (lambda c: entry(c, "figure3").pop("x"), "entry '0 sequence heads' of a figure needs 'x'"),
        (lambda c: entry(c).update(x=1), "entry 'Pop' has 'x', but its table has no 'x_label'"),
        (lambda c: entry(c, index=1).update(name="Pop"), "distinct names \\(repeated: Pop\\)"),
        (lambda c: entry(c).update(model=None, paper={}), "neither a model nor paper numbers"),
        (lambda c: c["datasets"]["ml-1m"].update(paper="ML10M"), "paper column 'ML10M'"),
        (lambda c: c.update(learning_rates=[0.01, -1]), "'learning_rates' must be positive"),
        (lambda c: c["quick"].update(learning_rates=[0.1, 0.1]), "quick: 'learning_rates' has a "
         "repeated value"),
        (lambda c: c.update(learning_rates=[0.01, 0.001]), "'learning_rates' must be increasing"),
        (lambda c: c["tables"]["table2"].update(choose_lr="yes"), "'choose_lr' must be a bool"),
    ],
)  # fmt: skip
def test_malformed_grids_name_the_file_and_key(tmp_path, monkeypatch, edit, message) -> None:
    write_grid(tmp_path, monkeypatch, edit)
    with pytest.raises(ConfigError, match=message):
        load_grid("hugt")
