"""Runs through the plugin's entry points: built-in and plugin models, tuning and reloading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from recbole.trainer import HyperTuning

from recbole_hug.quick_start import load_data_and_model, main, objective_function, run_recbole_hug
from tests.conftest import FAST_OPTIONS

METRICS = {"hit@10", "hit@20", "ndcg@10", "ndcg@20", "mrr@10", "mrr@20"}


@pytest.mark.parametrize("model", ["SASRec", "GRU4Rec", "NARM", "FPMC"])
def test_one_epoch_of_recbole_sequential_models(model: str, tiny_data: Path, workdir: Path) -> None:
    result = run_recbole_hug(
        model, "tiny", config_dict={**FAST_OPTIONS, "data_path": str(tiny_data)}
    )
    assert set(result["test_result"]) == METRICS
    assert 0.0 <= result["test_result"]["hit@20"] <= 1.0
    assert result["best_valid_score"] == result["best_valid_result"]["ndcg@10"]
    assert list((workdir / "saved").glob(f"{model}-*.pth"))
    assert list((workdir / "log" / model).glob("*.log"))


def test_plugin_model_runs_reloads_and_scores_the_same(
    toy_model, tiny_data: Path, workdir: Path
) -> None:
    result = run_recbole_hug(
        "ToySeq", "tiny", config_dict={**FAST_OPTIONS, "data_path": str(tiny_data)}
    )
    (checkpoint,) = (workdir / "saved").glob("ToySeq-*.pth")
    config, model, dataset, _, _, test_data = load_data_and_model(str(checkpoint))
    assert config["model"] == "ToySeq" and type(dataset).__name__ == "ToySeqDataset"
    saved = torch.load(checkpoint, weights_only=False)["state_dict"]
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
    from recbole.trainer import Trainer

    reloaded = Trainer(config, model).evaluate(test_data, load_best_model=False)
    assert reloaded == result["test_result"]


def test_hypertuning_finds_plugin_models(toy_model, tiny_data: Path, workdir: Path) -> None:
    fixed = workdir / "fixed.yaml"
    fixed.write_text(
        "model: ToySeq\ndataset: tiny\n"
        f"data_path: {tiny_data}\n" + "".join(f"{k}: {v}\n" for k, v in FAST_OPTIONS.items())
    )
    params = workdir / "params.hyper"
    params.write_text("toy_embedding_size choice [4,8]\n")
    tuner = HyperTuning(
        objective_function,
        algo="exhaustive",
        early_stop=10,
        max_evals=2,
        params_file=str(params),
        fixed_config_file_list=[str(fixed)],
    )
    tuner.run()
    assert len(tuner.params2result) == 2
    assert tuner.best_params["toy_embedding_size"] in (4, 8)


def test_command_line_runs_a_builtin_model(tiny_data: Path, workdir: Path, capfd) -> None:
    status = main(
        [
            "--model=GRU4Rec",
            "-d",
            "tiny",
            f"--data_path={tiny_data}",
            "--epochs=1",
            "--MAX_ITEM_LIST_LENGTH=10",
            "--show_progress=False",
            "--state=INFO",
        ]
    )
    assert status == 0
    output = capfd.readouterr()
    assert "test result" in output.out + output.err


def test_command_line_takes_model_and_dataset_from_config_files(
    tiny_data: Path, workdir: Path
) -> None:
    options = workdir / "run.yaml"
    options.write_text(
        f"model: GRU4Rec\ndataset: tiny\ndata_path: {tiny_data}\n"
        + "".join(f"{k}: {v}\n" for k, v in FAST_OPTIONS.items())
    )
    assert main([f"--config_files={options}"]) == 0
    assert list((workdir / "log" / "GRU4Rec").glob("*tiny*.log"))
    assert not (workdir / "log" / "HUGT").exists()


def test_command_line_reports_an_unknown_model(workdir: Path, capsys) -> None:
    assert main(["--model=HUGTX", "--dataset=ml-100k"]) == 2
    err = capsys.readouterr().err
    assert "error: unknown model 'HUGTX'" in err and "Traceback" not in err
