"""Tuning: 2-trial runs of HUGT and HG-GNN whose best config runs again, the shipped search
spaces, Ray Tune, and every bad input naming its file, line and option."""

from __future__ import annotations

import csv
import os
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import yaml
from hyperopt import pyll
from recbole.trainer.hyper_tuning import _spacesize

from recbole_hug import quick_start
from recbole_hug.config import Config
from recbole_hug.errors import ConfigError
from recbole_hug.tune import (
    HYPER_DIR,
    TrialsFailed,
    check_space,
    main,
    read_params_file,
    run_hyper_hug,
)
from recbole_hug.tune_ray import RayOptions, _import_ray_tune
from tests.conftest import FAST_OPTIONS
from tests.model.test_hggnn import write_session_data

FAST = [f"--{key}={value}" for key, value in FAST_OPTIONS.items()]
#: HUGT on the tiny dataset: SVD embeddings of at most 24 dimensions there.
HUGT_FAST = [*FAST, "--svd_dim=6"]


@pytest.fixture(scope="module")
def session_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_session_data(tmp_path_factory.mktemp("tune-sessions"))


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as file:
        return list(csv.DictReader(file))


def check_outputs(result, space_file: Path, n_trials: int) -> dict:
    """The table has one row per trial with every tuned option and metric; the best yaml holds
    the best row's options, typed as the params file gives them. Returns the best yaml."""
    space = read_params_file(space_file)
    rows = read_rows(result.table_file)
    assert len(rows) == len(result.trials) == n_trials
    names = [param.name for param in space.params]
    for row, trial in zip(rows, result.trials, strict=True):
        assert list(trial.params) == names
        assert {"valid_ndcg@10", "test_ndcg@10", "test_hit@20", "best_valid_score"} <= set(row)
        assert float(row["best_valid_score"]) == pytest.approx(trial.best_valid_score)
        assert float(row["valid_ndcg@10"]) == pytest.approx(trial.best_valid_score)
        assert float(row["seconds"]) > 0
    markdown = result.markdown_file.read_text().splitlines()
    assert len(markdown) == 2 + n_trials and markdown[0].startswith("| trial | " + names[0])
    best = yaml.safe_load(result.best_config_file.read_text())
    assert result.best.best_valid_score == max(t.best_valid_score for t in result.trials)
    for param in space.params:
        value = best[param.name]
        assert value == result.best.params[param.name]
        if param.kind == "choice":
            assert value in param.values and type(value) is type(param.values[0])
    return best


def test_two_hugt_trials_write_the_table_and_a_best_config_that_reproduces_the_best(
    tiny_data: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPEROPT_FMIN_SEED", "3")
    result = run_hyper_hug(
        model="HUGT",
        dataset="tiny",
        cmd_args=[*HUGT_FAST, f"--data_path={tiny_data}"],
        algo="random",
        max_evals=2,
        output_file=workdir / "out" / "hugt.csv",
    )
    assert result.best_config_file == workdir / "out" / "hugt.best.yaml"
    best = check_outputs(result, HYPER_DIR / "HUGT.hyper", 2)
    assert best["model"] == "HUGT" and best["svd_dim"] == 6 and best["epochs"] == 1
    assert isinstance(best["learning_rate"], float)
    rerun = quick_start.run_recbole_hug(config_file_list=[str(result.best_config_file)])
    assert rerun["best_valid_score"] == result.best.best_valid_score
    assert dict(rerun["test_result"]) == result.best.test_result


def test_two_hggnn_trials_from_the_command_line_and_the_best_config_runs(
    session_data: Path, workdir: Path, capfd: pytest.CaptureFixture
) -> None:
    space = workdir / "hggnn.hyper"
    space.write_text("transition_top_s choice [2,4]\nembedding_size choice [16]\n")
    fixed = workdir / "fixed.yaml"
    fixed.write_text(f"model: HGGNN\ndataset: sess\ndata_path: {session_data}\nsimilar_top_k: 3\n")
    status = main(
        [
            f"--config_files={fixed}",
            f"--params_file={space}",
            "--output_file=hggnn.csv",
            *FAST,
        ]
    )
    output = capfd.readouterr()
    assert status == 0, output.err
    assert "best config: hggnn.best.yaml" in output.out
    rows = read_rows(workdir / "hggnn.csv")
    assert sorted(row["transition_top_s"] for row in rows) == ["2", "4"]  # exhaustive: both
    best = yaml.safe_load((workdir / "hggnn.best.yaml").read_text())
    assert best["model"] == "HGGNN" and best["similar_top_k"] == 3  # from the config file
    assert best["transition_top_s"] in (2, 4) and best["embedding_size"] == 16
    status = quick_start.main(
        ["-m", "HGGNN", "-d", "sess", "--config_files=hggnn.best.yaml", "--state=INFO"]
    )
    output = capfd.readouterr()
    assert status == 0 and "test result" in output.out + output.err


@pytest.mark.parametrize(("model", "dataset"), [("HUGT", "tiny"), ("HGGNN", "sess")])
def test_shipped_search_spaces_tune_options_of_their_model(
    model: str, dataset: str, tiny_data: Path, session_data: Path
) -> None:
    space = read_params_file(HYPER_DIR / f"{model}.hyper")
    defaults = yaml.safe_load((HYPER_DIR.parent / "model" / f"{model}.yaml").read_text())
    defaults |= yaml.safe_load((HYPER_DIR.parent / "sessions.yaml").read_text())
    assert {"learning_rate"} < {param.name for param in space.params} <= set(defaults)
    for param in space.params:
        assert all(type(value) is type(defaults[param.name]) for value in param.extremes())
    data = tiny_data if model == "HUGT" else session_data
    base = Config(model, dataset, cmd_args=[f"--data_path={data}"])
    check_space(
        space, base, {"model": model, "dataset": dataset, "data_path": str(data)}, [], "bayes"
    )


def test_the_wheel_ships_the_search_spaces() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    root = HYPER_DIR.parents[1]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["recbole_hug.properties"]
    shipped = [f"hyper/{path.name}" for path in HYPER_DIR.iterdir()]
    assert {"hyper/HUGT.hyper", "hyper/HGGNN.hyper", "hyper/README.md"} <= set(shipped)
    for name in shipped:
        assert any(fnmatch(name, pattern) for pattern in patterns), name


def test_sampled_values_keep_their_types(tmp_path: Path) -> None:
    path = tmp_path / "space.hyper"
    path.write_text(
        "n_layers quniform 1,3,1\nedge_types choice [['in','out'],['in']]\n"
        "learning_rate loguniform -8,0\nhidden_dropout_prob uniform 0.1,0.5\n"
    )
    space = read_params_file(path)
    hyperopt_space = space.hyperopt_space()
    assert _spacesize({"edge_types": hyperopt_space["edge_types"]}) == 2  # RecBole's count
    for seed in range(5):
        drawn = pyll.stochastic.sample(hyperopt_space, rng=np.random.RandomState(seed))
        sample = space.typed(drawn)
        assert sample["n_layers"] in (1, 2, 3) and type(sample["n_layers"]) is int
        assert sample["edge_types"] in (["in", "out"], ["in"])
        assert 0.000335 < sample["learning_rate"] <= 1.0
        assert 0.1 <= sample["hidden_dropout_prob"] <= 0.5


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["hug_k choice [2,3]", "hug_kk choice [2,3]"], "line 2: unknown option 'hug_kk'"),
        (["hug_k choice [2,3]", "learning_rate loguniform"], "line 2: expected 'NAME TYPE"),
        (["learning_rate loguniform -5,-8"], "line 1: empty range for 'learning_rate'"),
        (["learning_rate uniform 0.1,0.1"], "line 1: empty range for 'learning_rate'"),
        (["hug_k choice []"], "line 1: empty choice for 'hug_k'"),
        (["hug_k quniform 1,4,0"], "line 1: Q of 'hug_k' must be above 0"),
        (["hug_k normal 1,4"], "line 1: unknown type 'normal' of 'hug_k'"),
        (["learning_rate uniform a,b"], "line 1: uniform of 'learning_rate' takes LOW,HIGH"),
        (["hug_k choice 2,3"], "line 1: choice of 'hug_k' takes a list"),
        (["hug_k choice [[2,3]"], "line 1: choice of 'hug_k' takes a list"),
        (["edge_types choice [[in,out],[in]]"], "line 1: choice of 'edge_types' takes a list"),
        (["# HUGT", "hug_k choice [2,3]"], "line 1: RecBole's params files have no comments"),
        (["hug_k choice [2,3]", "hug_k choice [4]"], "line 2: 'hug_k' is already given on line 1"),
        ([""], "holds no parameter"),
        (["hug_k choice [2.5,3]"], "line 1: hug_k = 2.5: option 'hug_k'"),
        (["learning_rate loguniform -8,0"], "line 1: exhaustive search enumerates choices"),
    ],
)
def test_bad_params_files_name_the_file_line_and_option(
    lines: list[str], message: str, tiny_data: Path, workdir: Path
) -> None:
    path = workdir / "bad.hyper"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="params file") as caught:
        run_hyper_hug(path, "HUGT", "tiny", cmd_args=[*HUGT_FAST, f"--data_path={tiny_data}"])
    assert str(path) in str(caught.value) and message in str(caught.value)
    assert not (workdir / "hyper.csv").exists()


def test_unknown_option_suggests_the_closest(tiny_data: Path, workdir: Path) -> None:
    path = workdir / "bad.hyper"
    path.write_text("hug_kk choice [2,3]\n")
    with pytest.raises(ConfigError, match="did you mean 'hug_k'"):
        run_hyper_hug(path, "HUGT", "tiny", cmd_args=[f"--data_path={tiny_data}"])


def test_a_value_the_model_refuses_stops_the_tuning_with_its_error(
    tiny_data: Path, workdir: Path, capsys
) -> None:
    # Exhaustive: both values run, whatever the seed (a random search of 3 trials never drew XX
    # with probability 1/8, e.g. HYPEROPT_FMIN_SEED=25, and the test then failed).
    (workdir / "space.hyper").write_text("graph_mode choice [MP,XX]\n")
    flags = ["--params_file=space.hyper", "--algo=exhaustive", *HUGT_FAST]
    assert main(["-m", "HUGT", "-d", "tiny", f"--data_path={tiny_data}", *flags]) == 2
    err = capsys.readouterr().err
    assert "error: option 'graph_mode' must be one of MP, SE, got 'XX'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--algo=grid"], "error: unknown algorithm 'grid' (--algo); expected exhaustive,"),
        (["--tool=Grid"], "error: unknown tool 'Grid' (--tool); expected Hyperopt, Optuna, Ray"),
        (["--params_file=missing.hyper"], "error: cannot read params file missing.hyper"),
        (["--model=Pop"], "error: no --params_file given, and no shipped search space"),
        (["--max_evals=0"], "error: --max_evals (0) and --early_stop (10) must be at least 1"),
    ],
)
def test_command_line_reports_bad_flags_in_one_line(
    flags: list[str], message: str, tiny_data: Path, workdir: Path, capsys
) -> None:
    assert main(["-m", "HUGT", "-d", "tiny", f"--data_path={tiny_data}", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err


def test_ray_tune_runs_the_trials_writes_the_outputs_and_reports_a_failed_trial(
    tiny_data: Path, workdir: Path
) -> None:
    try:
        _import_ray_tune()
    except ConfigError as error:
        pytest.skip(f"Ray Tune is not installed (pip install 'recbole-hug[ray]'): {error}")
    space = workdir / "hugt.hyper"
    space.write_text("graph_mode choice [MP,XX]\n")  # XX: the model refuses it
    relative = os.path.relpath(tiny_data, workdir)  # Ray runs each trial in its own folder
    with pytest.raises(TrialsFailed) as caught:
        run_hyper_hug(
            space,
            "HUGT",
            "tiny",
            cmd_args=[*HUGT_FAST, f"--data_path={relative}"],
            tool="Ray",
            output_file=workdir / "ray.csv",
            ray_options=RayOptions(storage=str(workdir / "ray_log"), cpus_per_trial=1),
        )
    message = str(caught.value)
    assert "1 of 2 Ray trials failed; the first, {'graph_mode': 'XX'}: " in message
    assert "option 'graph_mode' must be one of MP, SE, got 'XX'" in message
    best = check_outputs(caught.value.result, space, 1)
    assert best["graph_mode"] == "MP"
    assert best["data_path"] == relative  # the user's options, not the trials' copy
    assert list((workdir / "ray_log").iterdir())
