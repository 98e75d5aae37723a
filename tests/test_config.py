"""The Config: layering, command-line parsing, data resolution and option checks."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from recbole_hug.config import RECBOLE_EXAMPLE_DIR, Config, parse_option_value, resolve_data_path
from recbole_hug.errors import ConfigError, DataError
from tests.conftest import SHARED_DATASETS


def test_layers_in_recbole_order(toy_model, tiny_data: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "mine.yaml"
    config_file.write_text("toy_embedding_size: 16\nlearning_rate: 0.5\nepochs: 3\n")
    config = Config(
        "ToySeq",
        "tiny",
        config_file_list=[config_file],
        config_dict={"toy_embedding_size": 24, "learning_rate": 0.25, "data_path": str(tiny_data)},
        cmd_args=["--toy_embedding_size=32"],
    )
    assert config["weight_decay"] == 0.0  # RecBole's overall.yaml
    assert config["valid_metric"] == "NDCG@10"  # ours, over RecBole's MRR@10
    assert config["eval_args"]["split"] == {"LS": "valid_and_test"}  # RecBole's sequential.yaml
    assert config["loss_type"] == "CE"  # the model's registered yaml
    assert config["epochs"] == 3  # the user's file
    assert config["learning_rate"] == 0.25  # the dict over the file
    assert config["toy_embedding_size"] == 32  # the command line over everything


def test_recbole_type_yamls_override_our_overall() -> None:
    config = Config("FM", "ml-100k")  # a CTR model: RecBole's context-aware.yaml
    assert config["metrics"] == ["AUC", "LogLoss"]


def test_our_dataset_yaml_loads_the_timestamp() -> None:
    config = Config("SASRec", "ml-1m", config_dict={"data_path": str(SHARED_DATASETS)})
    assert config["load_col"] == {"inter": ["user_id", "item_id", "timestamp"]}
    assert config["data_path"] == str(SHARED_DATASETS / "ml-1m")


def test_dataset_without_yaml_loads_every_inter_column(tiny_data: Path) -> None:
    config = Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data)})
    assert config["load_col"] == {"inter": "*"}


def test_ce_models_need_no_negative_sampling_but_bpr_models_keep_it() -> None:
    assert Config("SASRec", "ml-100k")["train_neg_sample_args"]["distribution"] == "none"
    assert Config("FPMC", "ml-100k")["train_neg_sample_args"]["distribution"] == "uniform"
    bpr = Config(
        "SASRec",
        "ml-100k",
        config_dict={
            "loss_type": "BPR",
            "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1},
        },
    )
    assert bpr["train_neg_sample_args"]["distribution"] == "uniform"


def test_sys_argv_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["pytest", "--epochs=7", "-x"])
    assert Config("SASRec", "ml-100k")["epochs"] == 300


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("1e-3", 0.001),
        ("[5, 10]", [5, 10]),
        ("{'RS': [0.8, 0.2]}", {"RS": [0.8, 0.2]}),
        ("None", None),
        ("true", True),
        ("False", False),
        ("ml-100k", "ml-100k"),
        ("gelu", "gelu"),
        ("__import__('os').getcwd()", "__import__('os').getcwd()"),
        ("list", "list"),
        ("[in,out]", ["in", "out"]),
        ("[in, 3, true]", ["in", 3, True]),
        ("[a, b]", ["a", "b"]),
    ],
)
def test_option_strings_become_literals_never_code(text: str, value: object) -> None:
    assert parse_option_value(text) == value


def test_command_line_values_are_typed() -> None:
    config = Config(
        "SASRec", "ml-100k", cmd_args=["--epochs=2", "--topk=[5,10]", "--learning_rate=1e-2"]
    )
    assert (config["epochs"], config["topk"], config["learning_rate"]) == (2, [5, 10], 0.01)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["epochs=3"], "unrecognized argument 'epochs=3'"),
        (["--epochs=3", "--epochs=4"], "option 'epochs' is given twice"),
    ],
)
def test_bad_command_lines_are_reported(args: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config("SASRec", "ml-100k", cmd_args=args)


def test_ill_typed_model_option_names_option_type_and_source(toy_model, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"'toy_embedding_size' \(command line\) must be of type int"
    ):
        Config("ToySeq", "ml-100k", cmd_args=["--toy_embedding_size=abc"])
    config_file = tmp_path / "bad.yaml"
    config_file.write_text("toy_embedding_size: 8.5\n")
    with pytest.raises(ConfigError, match=f"config file {config_file}"):
        Config("ToySeq", "ml-100k", config_file_list=[config_file])


def test_unknown_option_is_reported_with_a_suggestion(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="recbole_hug.config"):
        Config("SASRec", "ml-100k", cmd_args=["--learning_rat=0.1"])
    assert "option 'learning_rat' (command line)" in caplog.text
    assert "did you mean 'learning_rate'" in caplog.text


def test_known_options_raise_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="recbole_hug.config"):
        Config(
            "SASRec",
            "ml-100k",
            cmd_args=["--MAX_ITEM_LIST_LENGTH=20", "--n_layers=1", "--data_path=x", "--gpu_id=0"],
        )
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "config file not found"),
        ("a: [1,\n", "is not valid yaml"),
        ("- 1\n- 2\n", "must hold a mapping"),
    ],
)
def test_bad_config_files_are_named(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "options.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Config("SASRec", "ml-100k", config_file_list=[path])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metrics": ["Foo"]}, "There is no metric named 'Foo'"),
        ({"topk": [0]}, "topk must be a positive integer"),
        ({"eval_args": "LS"}, "eval_args:\\[LS\\] should be a dict"),
    ],
)
def test_recbole_option_checks_become_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config("SASRec", "ml-100k", config_dict=options)


def test_model_and_dataset_are_required() -> None:
    with pytest.raises(ConfigError, match="no model given"):
        Config(dataset="ml-100k")
    with pytest.raises(ConfigError, match="no dataset given"):
        Config("SASRec")


def test_data_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # ml-100k: the recbole wheel's copy, unless atomic_data/ has one or data_path is given.
    assert resolve_data_path("ml-100k", None) == RECBOLE_EXAMPLE_DIR / "ml-100k"
    local = tmp_path / "atomic_data" / "ml-100k"
    local.mkdir(parents=True)
    (local / "ml-100k.inter").write_text("user_id:token\titem_id:token\n1\t1\n")
    assert resolve_data_path("ml-100k", None) == Path("atomic_data") / "ml-100k"
    assert resolve_data_path("ml-100k", "elsewhere") == Path("elsewhere") / "ml-100k"
    # A dataset RecBole can download goes to RecBole's own dataset/ folder.
    assert resolve_data_path("yelp", None) == Path("dataset") / "yelp"


def test_missing_dataset_says_where_it_looked() -> None:
    with pytest.raises(DataError, match=r"dataset 'nowhere' not found; looked for") as error:
        Config("SASRec", "nowhere")
    assert "atomic_data/nowhere/nowhere.inter" in str(error.value)
    assert "--data_path" in str(error.value)


def test_explicit_data_path_without_the_dataset_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"option 'data_path' is .*/nowhere does not exist"):
        Config("SASRec", "nowhere", config_dict={"data_path": str(tmp_path)})
