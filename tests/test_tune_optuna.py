"""run_hyper_hug.py --tool=Optuna: a pruner fed per-epoch scores, a study that resumes after a
kill, a best yaml that reproduces the best trial, and the errors of its bad inputs."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import optuna
import pytest

from recbole_hug import quick_start
from recbole_hug.tune import main, run_hyper_hug
from recbole_hug.tune_optuna import TRIAL_ATTR, OptunaOptions
from tests.conftest import FAST_OPTIONS
from tests.test_tune import read_rows

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 3
FAST = [f"--{key}={value}" for key, value in {**FAST_OPTIONS, "epochs": EPOCHS}.items()]
#: Learning rates of which two learn the walk within an epoch and two barely move.
SPACE = "learning_rate choice [0.05,0.02,0.0,0.0002]\n"


@pytest.fixture(scope="module")
def walk_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_path holding ``walk``: 40 users, each walking 10 steps through 20 items in a cycle
    (i3, i4, i5, ...), a pattern GRU4Rec learns in one epoch at a good learning rate."""
    rng = np.random.default_rng(0)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(40):
        start = int(rng.integers(20))
        lines += [f"u{user}\ti{(start + step) % 20}\t{1000 * user + step}" for step in range(10)]
    folder = tmp_path_factory.mktemp("walk-data")
    (folder / "walk").mkdir()
    (folder / "walk" / "walk.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def count_complete(database: Path) -> int:
    """Complete trials in an Optuna sqlite file (0 while it or its tables do not exist yet)."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            query = "SELECT count(*) FROM trials WHERE state = 'COMPLETE'"
            return connection.execute(query).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def load(storage: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage)


def test_the_pruner_stops_a_trial_that_loses_early_and_the_best_yaml_reproduces_the_best(
    walk_data: Path, workdir: Path
) -> None:
    (workdir / "space.hyper").write_text(SPACE)
    storage = f"sqlite:///{workdir / 'study.db'}"
    result = run_hyper_hug(
        workdir / "space.hyper",
        "GRU4Rec",
        "walk",
        cmd_args=[*FAST, f"--data_path={walk_data}"],
        tool="Optuna",
        output_file=workdir / "out" / "gru.csv",
        optuna_options=OptunaOptions(storage, "gru", "median", startup_trials=1),
    )
    study = load(storage, "gru")
    assert len(study.trials) == 4  # the grid
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and result.pruned == len(pruned) and len(result.trials) == len(complete)
    best = max(complete, key=lambda trial: trial.value)
    for trial in pruned:  # stopped before its last epoch, losing to the best at that epoch
        last = max(trial.intermediate_values)
        assert last < EPOCHS - 1
        assert trial.intermediate_values[last] < best.intermediate_values[last]
    assert len(read_rows(workdir / "out" / "gru.csv")) == len(complete)
    assert result.best.best_valid_score == best.value
    assert result.best.params == best.user_attrs[TRIAL_ATTR]["params"]
    header = (workdir / "out" / "gru.best.yaml").read_text().splitlines()[0]
    assert f"The best of {len(complete)} trials, {len(pruned)} more pruned" in header

    rerun = quick_start.run_recbole_hug(config_file_list=[str(result.best_config_file)])
    assert rerun["best_valid_score"] == result.best.best_valid_score
    assert dict(rerun["test_result"]) == result.best.test_result


def test_a_killed_study_resumes_where_it_stopped(walk_data: Path, workdir: Path) -> None:
    (workdir / "space.hyper").write_text(SPACE)
    storage = f"sqlite:///{workdir / 'study.db'}"
    command = [
        sys.executable,
        str(REPO / "run_hyper_hug.py"),
        "-m",
        "GRU4Rec",
        "-d",
        "walk",
        f"--data_path={walk_data}",
        "--params_file=space.hyper",
        "--tool=Optuna",
        "--algo=random",
        "--max_evals=4",
        "--pruner=none",
        f"--storage={storage}",
        *FAST,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    complete = optuna.trial.TrialState.COMPLETE
    deadline = time.monotonic() + 240
    try:  # kill it once a trial is complete: read-only polls, not racing its table creation
        while time.monotonic() < deadline and process.poll() is None:
            if count_complete(workdir / "study.db"):
                break
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = load(storage, "hyper").get_trials(states=(complete,))
    assert 1 <= len(before) < 4, "the run was not killed mid-study"

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = load(storage, "hyper").get_trials(states=(complete,))
    assert len(after) == 4
    assert [(t.number, t.params, t.value) for t in after[: len(before)]] == [
        (t.number, t.params, t.value) for t in before
    ]
    rows = read_rows(workdir / "hyper.csv")
    assert [float(row["best_valid_score"]) for row in rows] == [t.value for t in after]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--storage=sqlite:////no/such/folder/study.db"],
            "error: cannot open the Optuna storage 'sqlite:////no/such/folder/study.db' "
            "(--storage); expected an SQLAlchemy URL",
        ),
        (["--storage=study.db"], "error: cannot open the Optuna storage 'study.db'"),
        (["--pruner=early"], "error: unknown pruner 'early' (--pruner); expected median,"),
    ],
)
def test_bad_optuna_flags_are_one_error_line(
    flags: list[str], message: str, walk_data: Path, workdir: Path, capsys
) -> None:
    (workdir / "space.hyper").write_text(SPACE)
    argv = ["-m", "GRU4Rec", "-d", "walk", f"--data_path={walk_data}", "--tool=Optuna"]
    assert main([*argv, "--params_file=space.hyper", *FAST, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err


def test_without_optuna_the_error_names_the_extra(
    walk_data: Path, workdir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    (workdir / "space.hyper").write_text(SPACE)
    argv = ["-m", "GRU4Rec", "-d", "walk", f"--data_path={walk_data}", "--tool=Optuna"]
    assert main([*argv, "--params_file=space.hyper", *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --tool=Optuna needs optuna (")
    assert "pip install 'recbole-hug[optuna]'" in err


def test_a_value_the_model_refuses_stops_the_study_with_its_error_and_no_traceback(
    walk_data: Path, workdir: Path, capfd: pytest.CaptureFixture
) -> None:
    (workdir / "space.hyper").write_text("graph_mode choice [MP,XX]\n")
    argv = ["-m", "HUGT", "-d", "walk", f"--data_path={walk_data}", "--tool=Optuna"]
    assert main([*argv, "--params_file=space.hyper", *FAST, "--svd_dim=6"]) == 2
    err = capfd.readouterr().err
    assert "error: option 'graph_mode' must be one of MP, SE, got 'XX'" in err
    assert "Traceback" not in err
