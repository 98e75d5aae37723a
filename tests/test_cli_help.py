"""``run_recbole_hug.py --model=NAME --help``: the model's options with their yaml comments."""

from __future__ import annotations

import pytest

from recbole_hug.quick_start import main


def help_text(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--help"])
    assert caught.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "lines"),
    [
        ([], ["options of model HUGT (", "  --hug_k=10 ", "(int) Collaborative edges per item"]),
        (
            ["-m", "SASRec"],
            ["  --n_heads=2 ", "(int) The number of attention heads for multi-head attention"],
        ),
        (["--model=HGGNN"], ["HGGNN.yaml):", "sessions.yaml):", "  --session_gap=3600.0 "]),
        (["--model=tests.toy.toy_model:ToySeq"], ["--toy_embedding_size=8  (int) Size of the"]),
    ],
)
def test_help_lists_the_chosen_models_options_and_comments(
    argv: list[str], lines: list[str], capsys: pytest.CaptureFixture
) -> None:
    text = help_text(argv, capsys)
    assert "--config_files" in text  # the flags come first
    for line in lines:
        assert line in text


def test_help_for_an_unknown_model_says_so(capsys: pytest.CaptureFixture) -> None:
    assert "model SASrec: unknown model 'SASrec'" in help_text(["-m", "SASrec"], capsys)
