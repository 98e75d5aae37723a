"""The reproduction runner end to end: --quick grids of both papers on tiny data, resuming,
refusing another grid's results folder, and bad names."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest
import yaml

from recbole_hug.reproduce import grid as grid_module
from recbole_hug.reproduce import runner
from recbole_hug.reproduce.cells import build_cells, candidate_name
from recbole_hug.reproduce.grid import load_grid
from recbole_hug.reproduce.results import ResultsFolder
from recbole_hug.reproduce.runner import main

#: Per paper: the dataset the test names, the data fixture, and groups of cells that resolve to
#: the same configuration (so share their runs).
PAPERS = {
    "hugt": (
        "ml-1m",
        "sequence_data",
        [
            {"table2/HUGT-MP", "figure3/2 sequence heads", "table3/Concur"}
            | {"ablations/HUGT-MP", "short/HUGT-MP"},
            {"table2/SASRec-Ours", "figure3/4 sequence heads", "short/SASRec-Ours"},
        ],
    ),
    "hggnn": (
        "taobao-ub-head",
        "session_data",
        [
            {"table2/HG-GNN", "table4/HG-GNN", "table5/HG-GNN", "figure3/S = 12", "figure4/K = 20"}
            | {f"{table}/HG-GNN (lr 0.01)" for table in ("table2", "table4", "table5")},
        ],
    ),
}


def expected_cells(paper: str) -> list[str]:
    """``table/entry`` of every row of the quick grid: each entry with a model, and in a table
    that chooses learning rates, its candidates too (one per quick learning rate)."""
    grid = load_grid(paper)
    rates = grid.lr_choices(PAPERS[paper][0], quick=True)
    cells = []
    for table in grid.tables.values():
        for entry in table.entries:
            if entry.model is not None:
                cells.append(f"{table.name}/{entry.name}")
                if table.choose_lr:
                    cells += [f"{table.name}/{candidate_name(entry.name, lr)}" for lr in rates]
    return cells


def run_main(*argv: str) -> tuple[int, str, str]:
    """``main(argv)`` with its printed output and error output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def read_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "runs.csv", encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def quick(request, scratch: Path, one_thread) -> dict[str, tuple[Path, Path, str]]:
    """Both papers' whole grids with --quick: paper -> (results folder, data_path, output)."""
    done = {}
    for paper, (dataset, data_fixture, _) in PAPERS.items():
        data = request.getfixturevalue(data_fixture)
        out = scratch / f"{paper}-quick"
        status, output, errors = run_main(
            paper, "--dataset", dataset, "--data_path", str(data), "--quick", "--out", str(out)
        )
        assert status == 0, errors
        done[paper] = (out, data, output)
    return done


def no_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any training run fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a run was started")

    monkeypatch.setattr(runner, "objective_function", refuse)


@pytest.mark.parametrize("paper", PAPERS)
def test_quick_grid_writes_every_table_plot_and_run(quick, paper: str) -> None:
    out, _, output = quick[paper]
    grid = load_grid(paper)
    report = (out / "report.md").read_text(encoding="utf-8")
    for table in grid.tables.values():
        assert f"## {table.title}" in report
        for plot in (f"{table.name}.png", f"{table.name}-curves.png"):
            png = (out / plot).read_bytes()
            assert png.startswith(b"\x89PNG") and len(png) > 5000, plot
    rows = read_rows(out)
    assert sorted(f"{row['table']}/{row['entry']}" for row in rows) == sorted(expected_cells(paper))
    for row in rows:
        assert row["seed"] == str(grid.first_seed)
        for metric in grid.metrics:
            assert 0.0 <= float(row[f"test_{metric}"]) <= 1.0
            assert 0.0 <= float(row[f"valid_{metric}"]) <= 1.0
        assert (row["best_epoch"], row["epochs_run"]) == ("0", "1")  # quick: one epoch
        assert float(row["seconds"]) > 0
        assert (out / row["checkpoint"]).is_file()
        assert json.loads(row["options"])["epochs"] == 1
        (epoch,) = json.loads((out / "epochs" / f"{row['run_id']}.json").read_text())
        assert epoch["epoch"] == 0 and epoch["train_seconds"] > 0
        assert epoch["valid_result"][grid.metrics[0]] == float(row[f"valid_{grid.metrics[0]}"])
        assert float(row["epoch_seconds"]) == round(epoch["train_seconds"], 2)
        if row["model"] != "Pop":  # sequential rows: every test row's rank comes with the run
            ranks = np.load(out / "ranks" / f"{row['run_id']}.npz")
            assert len(ranks["rank"]) == len(ranks["user"]) > 0
            assert ranks["rank"].max() <= max(json.loads(row["options"]).get("topk", [10]))
    assert output.count(": running") == len({row["run_id"] for row in rows})


@pytest.mark.parametrize("paper", PAPERS)
def test_cells_of_the_same_configuration_share_their_run(quick, paper: str) -> None:
    out = quick[paper][0]
    run_of = {f"{row['table']}/{row['entry']}": row["run_id"] for row in read_rows(out)}
    groups = PAPERS[paper][2]
    for group in groups:
        assert len({run_of[cell] for cell in group}) == 1, group
    # Each entry whose learning rate was chosen shares the run of its chosen candidate.
    chosen = {
        cell
        for cell in run_of
        if " (lr " not in cell and any(other.startswith(f"{cell} (lr ") for other in run_of)
    }
    for cell in chosen:
        assert run_of[cell] == run_of[f"{cell} (lr 0.01)"]
    grouped = set().union(*groups)
    shared = sum(len(group) - 1 for group in groups) + len(chosen - grouped)
    assert len(set(run_of.values())) == len(run_of) - shared


def test_full_grid_shares_table2s_hugt_mp_but_not_with_the_30_epoch_k_sweep(
    sequence_data: Path,
) -> None:
    grid = load_grid("hugt")
    tables = [grid.tables[name] for name in ("table2", "hug_k", "ablations")]
    cells = {c.key: c for c in build_cells(grid, tables, "ml-1m", sequence_data, quick=False)}
    shared = {cells[key].config for key in ("table2/HUGT-MP", "ablations/HUGT-MP")}
    assert len(shared) == 1
    sweep = [cells[f"hug_k/k {k}"] for k in (5, 10, 20, 50)]
    assert all(cell.config not in shared for cell in sweep)
    assert [cell.options["hug_k"] for cell in sweep] == [5, 10, 20, 50]
    assert {cell.changed["epochs"] for cell in sweep} == {30}
    protocol = {"eval_protocol": "hugt", "stopping_exact": True, "MAX_ITEM_LIST_LENGTH": 200}
    assert protocol.items() <= cells["table2/HUGT-MP"].changed.items()
    assert set(cells["table2/HUGT-MP"].changed) == {
        *protocol,
        "metrics",
        "topk",
    }  # the rest: defaults
    assert cells["table2/SASRec-Ours"].changed["n_graph_heads"] == 0


def test_report_puts_our_numbers_beside_the_papers(quick) -> None:
    out = quick["hggnn"][0]
    rows = {row["entry"]: row for row in read_rows(out) if row["table"] == "table2"}
    report = (out / "report.md").read_text(encoding="utf-8")
    # The paper's column for taobao-ub-head is Xing; numbers in % with 2 decimals, as the paper.
    narm = next(line for line in report.splitlines() if line.startswith("| NARM |"))
    ours = [f"{100 * float(rows['NARM'][f'test_{m}']):.2f}" for m in ("hit@5", "hit@10")]
    assert narm.split(" | ")[3:7] == [ours[0], "13.51", ours[1], "17.31"]
    assert "| LESSR | (paper only) | 0 | – | 14.84 | – | 16.77 |" in report
    assert narm.split(" | ")[-5] == "–"  # NDCG@10: not in the paper; the costs follow
    assert "NDCG@10 ours | NDCG@10 paper | best epoch | epochs | epoch s | eval s |" in report
    # The learning rates, chosen on the first seed's validation HR@10 (quick: one candidate).
    assert "Learning rates chosen on validation (hit@10, first seed):" in report
    valid = float(rows["NARM (lr 0.01)"]["valid_hit@10"])
    assert f"| NARM | {valid:.4f} | 0.01 |" in report
    assert rows["NARM"]["run_id"] == rows["NARM (lr 0.01)"]["run_id"]
    assert "Protocol (options of every run): `session_rows: True`." in report


def test_figure_without_paper_numbers_shows_ours_only(quick) -> None:
    out = quick["hugt"][0]
    report = (out / "report.md").read_text(encoding="utf-8")
    section = report.split("## Figure 3")[1].split("## ")[0]
    assert "gives no numbers" in section
    assert "| sequence heads | entry | model | seeds | HR@10 | NDCG@10 |" in section
    rows = [line for line in section.splitlines() if re.match(r"\| \d ", line)]
    assert [row.split(" | ")[0] for row in rows] == ["| 0", "| 1", "| 2", "| 3", "| 4"]


def test_second_invocation_runs_nothing(quick, monkeypatch: pytest.MonkeyPatch) -> None:
    out, data, _ = quick["hugt"]
    before = (out / "runs.csv").read_bytes()
    no_runs(monkeypatch)
    status, output, errors = run_main(
        "hugt", "--dataset", "ml-1m", "--data_path", str(data), "--quick", "--out", str(out)
    )
    assert status == 0, errors
    assert "running" not in output and "report.md" in output
    assert (out / "runs.csv").read_bytes() == before


def test_interrupted_grid_continues_with_the_missing_runs(
    quick, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, data, _ = quick["hugt"]
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    rows = read_rows(out)
    lost = [row for row in rows if row["table"] == "table3" and row["entry"] != "Concur"]
    kept = [row for row in rows if row not in lost]
    with open(out / "runs.csv", "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    started = []
    real = runner.objective_function

    def counted(options: dict, **kwargs):
        started.append(options)
        return real(options, **kwargs)

    monkeypatch.setattr(runner, "objective_function", counted)
    status, _, errors = run_main(
        "hugt", "--dataset", "ml-1m", "--data_path", str(data), "--quick", "--out", str(out),
        "--tables", "table3",
    )  # fmt: skip
    assert status == 0, errors
    assert sorted(options["fusion"] for options in started) == [
        "graph_then_sequence",
        "graph_then_sequence",
        "sequence_then_graph",
        "sequence_then_graph",
    ]
    again = read_rows(out)
    assert again[: len(kept)] == kept
    assert {row["run_id"] for row in again[len(kept) :]} == {row["run_id"] for row in lost}


def test_more_seeds_add_runs_and_the_report_spreads_them(
    quick, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, data, _ = quick["hugt"]
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    status, output, errors = run_main(
        "hugt", "--dataset", "ml-1m", "--data_path", str(data), "--quick", "--out", str(out),
        "--tables", "table2", "--seeds", "2", "--drop_checkpoints",
    )  # fmt: skip
    assert status == 0, errors
    rows = [row for row in read_rows(out) if row["table"] == "table2"]
    # Pop and GRU4Rec are capped at one seed (their entries' seeds: 1), the others get two
    assert sorted(row["seed"] for row in rows) == ["2020"] * 5 + ["2021"] * 3
    new = [row for row in rows if row["seed"] == "2021"]
    assert {row["entry"] for row in new} == {"SASRec-Ours", "HUGT-MP", "HUGT-SE"}
    assert all(row["checkpoint"] == "" for row in new)
    assert not any((out / "saved" / row["run_id"]).exists() for row in new)
    hits = [float(row["test_hit@10"]) for row in rows if row["entry"] == "HUGT-MP"]
    report = (out / "report.md").read_text().splitlines()
    line = next(line for line in report if line.startswith("| HUGT-MP |"))
    expected = f"{statistics.fmean(hits):.4f} ± {statistics.stdev(hits):.4f}"
    assert f"| HUGT-MP | HUGT | 2 | {expected} |" in line


def test_results_folder_of_another_grid_config_is_refused(
    quick, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, data, _ = quick["hugt"]
    before = {path: path.read_bytes() for path in (out / "runs.csv", out / "grid.json")}
    no_runs(monkeypatch)
    status, _, errors = run_main(
        "hugt", "--dataset", "ml-1m", "--data_path", str(data), "--out", str(out)
    )  # not --quick
    assert status == 2
    assert errors.count("\n") == 1 and errors.startswith("error: results folder")
    assert "quick was True, now False" in errors
    assert {path: path.read_bytes() for path in before} == before


def copy_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paper: str, edit) -> None:
    """Run with a copy of the grid of ``paper``, changed by ``edit(content)``."""
    content = yaml.safe_load((grid_module.GRID_DIR / f"{paper}.yaml").read_text())
    edit(content)
    (tmp_path / "grids").mkdir()
    (tmp_path / "grids" / f"{paper}.yaml").write_text(yaml.safe_dump(content))
    monkeypatch.setattr(grid_module, "GRID_DIR", tmp_path / "grids")


def test_changed_entry_options_are_refused_naming_the_cell(
    quick, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, data, _ = quick["hugt"]
    copy_grid(
        tmp_path,
        monkeypatch,
        "hugt",
        lambda c: c["quick"]["models"]["SASRec"].update(inner_size=32),
    )
    no_runs(monkeypatch)
    status, _, errors = run_main(
        "hugt", "--dataset", "ml-1m", "--data_path", str(data), "--quick", "--out", str(out)
    )
    assert status == 2
    assert "table2_prefix/SASRec: inner_size 16 -> 32" in errors


def test_unregistered_model_is_refused_before_any_run(
    sequence_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def edit(content: dict) -> None:
        content["tables"]["table3"]["entries"].append({"name": "new", "model": "NoSuchRec"})

    copy_grid(tmp_path, monkeypatch, "hugt", edit)
    no_runs(monkeypatch)
    out = tmp_path / "out"
    status, _, errors = run_main(
        "hugt",
        "--dataset",
        "ml-1m",
        "--data_path",
        str(sequence_data),
        "--quick",
        "--out",
        str(out),
    )
    assert status == 2
    assert errors.startswith("error: hugt.yaml, table3/new: unknown model 'NoSuchRec'")
    assert "RecBole models:" in errors and "Traceback" not in errors
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["hugtx", "--dataset", "ml-1m"], "unknown paper 'hugtx'; papers: hggnn, hugt"),
        (["hugt", "--dataset", "ml-2m"], "unknown dataset 'ml-2m' for paper 'hugt'"),
        (["hggnn", "-d", "taobao-ub-head", "--tables", "table2,table9"], "unknown table(s) table9"),
        (["hugt", "--dataset", "ml-1m", "--seeds", "0"], "--seeds must be >= 1"),
    ],
)  # fmt: skip
def test_bad_names_give_one_error_line(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_runs(monkeypatch)
    status, _, errors = run_main(*argv, "--out", str(tmp_path / "out"))
    assert status == 2
    assert errors.startswith(f"error: {message}") and errors.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_unknown_names_list_the_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    no_runs(monkeypatch)
    _, _, errors = run_main("hggnn", "--dataset", "nope")
    assert "taobao-ub-head" in errors and "lastfm-hetrec2011" in errors
    _, _, errors = run_main("hugt", "--dataset", "ml-1m", "--tables", "tableX")
    assert "tables: table2, figure3, table3" in errors


def test_missing_data_is_an_error_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_runs(monkeypatch)
    (tmp_path / "ml-1m").mkdir()
    status, _, errors = run_main("hugt", "--dataset", "ml-1m", "--data_path", str(tmp_path))
    assert status == 2
    assert f"no {tmp_path / 'ml-1m' / 'ml-1m.inter'}" in errors


def test_a_cell_with_a_resume_state_continues_it_and_writes_its_epochs(
    sequence_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = load_grid("hugt")
    (cell,) = [
        c
        for c in build_cells(grid, [grid.tables["table2"]], "ml-1m", sequence_data, quick=True)
        if c.entry == "HUGT-MP"
    ]
    saved = tmp_path / "saved" / cell.run_id(2020)
    saved.mkdir(parents=True)
    (saved / "HUGT-old.pth").write_bytes(b"best")
    (saved / "HUGT-old.resume").write_bytes(b"state")
    epochs = [
        {"epoch": 0, "train_seconds": 2.0, "valid_seconds": 1.0, "valid_score": 0.1},
        {"epoch": 1, "train_seconds": 4.0, "valid_seconds": 3.0, "valid_score": 0.2},
    ]
    seen = []

    def fake(options: dict, saved: bool) -> dict:
        seen.append(options)
        return {
            "best_valid_result": {"hit@10": 0.2},
            "test_result": {"hit@10": 0.3},
            "best_epoch": 1,
            "epochs_run": 2,
            "epoch_log": epochs,
        }

    monkeypatch.setattr(runner, "objective_function", fake)
    row = runner.run_cell(cell, "ml-1m", sequence_data, 2020, tmp_path, keep_checkpoint=True)
    assert seen[0]["resume"] == str(saved / "HUGT-old.resume")
    assert (row["epoch_seconds"], row["valid_seconds"]) == (3.0, 2.0)
    written = json.loads((tmp_path / "epochs" / f"{cell.run_id(2020)}.json").read_text())
    assert written == epochs


def test_rows_another_process_wrote_meanwhile_are_kept(
    sequence_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = load_grid("hugt")
    cells = build_cells(grid, [grid.tables["table2"]], "ml-1m", sequence_data, quick=True)
    mine, theirs = cells[0], cells[1]
    folder = ResultsFolder(tmp_path)
    foreign = {"run_id": theirs.run_id(2020), "table": theirs.table, "entry": theirs.entry}
    foreign |= {"model": theirs.model, "seed": "2020", "options": "{}"}

    def fake(cell, *args, **kwargs) -> dict:
        folder.write_runs([foreign])  # another process finished its run while this one ran
        return {"run_id": cell.run_id(2020), "table": cell.table, "entry": cell.entry,
                "model": cell.model, "seed": 2020, "options": "{}", "seconds": 1.0}  # fmt: skip

    monkeypatch.setattr(runner, "run_cell", fake)
    rows: list[dict[str, str]] = []
    runner._run_missing([(2020, mine)], rows, folder, "ml-1m", sequence_data, False, [])
    assert {row["entry"] for row in folder.read_runs()} == {mine.entry, theirs.entry}
    assert not (tmp_path / "claims" / mine.run_id(2020)).exists()  # released


def test_the_default_folder_is_the_committed_one() -> None:
    assert runner.default_out("hugt", "ml-1m", quick=False) == Path(
        "benchmarks/results/hugt-reproduce-ml-1m"
    )
    assert runner.default_out("hggnn", "x", quick=True).name == "hggnn-reproduce-x-quick"


def test_report_only_trains_nothing(quick, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, data, _ = quick["hugt"]
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    (out / "report.md").unlink()
    rows = read_rows(out)
    kept = [row for row in rows if row["table"] != "table3"]
    with open(out / "runs.csv", "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    no_runs(monkeypatch)
    status, output, errors = run_main(
        "hugt", "--dataset", "ml-1m", "--data_path", str(data), "--quick", "--out", str(out),
        "--report_only",
    )  # fmt: skip
    assert status == 0, errors
    assert "running" not in output and read_rows(out) == kept  # table3's runs are not redone
    assert "## Table 2" in (out / "report.md").read_text(encoding="utf-8")


def test_learning_rates_run_only_where_the_search_asks(
    session_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a 5-rung ladder whose score peaks at 0.1 the runner runs 0.001 to 1 (the start, then
    the climb), never 0.0001, and the entry's seed is the chosen candidate's run."""

    def edit(content: dict) -> None:
        content["quick"]["learning_rates"] = [0.0001, 0.001, 0.01, 0.1, 1.0]
        table = content["tables"]["table2"]
        table["entries"] = [e for e in table["entries"] if e["name"] == "NARM"]

    copy_grid(tmp_path, monkeypatch, "hggnn", edit)
    started = []

    def fake_run_cell(cell, dataset, data_root, seed, folder, keep_checkpoint) -> dict:
        rate = cell.options["learning_rate"]
        started.append(rate)
        score = 1 - abs(np.log10(rate) + 1) / 10  # best at 0.1
        keys = ("hit@5", "hit@10", "mrr@5", "mrr@10", "ndcg@5", "ndcg@10")
        metrics = {f"{split}_{key}": score for split in ("valid", "test") for key in keys}
        return {
            "run_id": cell.run_id(seed), "table": cell.table, "entry": cell.entry,
            "model": cell.model, "seed": seed, "options": "{}", **metrics, "best_epoch": 1,
            "epochs_run": 1, "epoch_seconds": 1.0, "valid_seconds": 1.0, "seconds": 1.0,
            "checkpoint": "",
        }  # fmt: skip

    monkeypatch.setattr(runner, "run_cell", fake_run_cell)
    out = tmp_path / "out"
    status, _, errors = run_main(
        "hggnn", "--dataset", "taobao-ub-head", "--data_path", str(session_data), "--quick",
        "--out", str(out), "--tables", "table2",
    )  # fmt: skip
    assert status == 0, errors
    assert started == [0.001, 0.01, 0.1, 1.0]
    narm = next(row for row in read_rows(out) if row["entry"] == "NARM")
    assert narm["run_id"] == next(
        row["run_id"] for row in read_rows(out) if row["entry"] == "NARM (lr 0.1)"
    )
    report = (out / "report.md").read_text()
    assert "| NARM | – | 0.8000 | 0.9000 | 1.0000 | 0.9000 | 0.1 |" in report
