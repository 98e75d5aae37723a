"""The end-of-run table: what ran, on what, how it was evaluated, its best epoch and metrics."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from recbole_hug.quick_start import _best_epoch, main
from recbole_hug.summary import protocol_name, summary_table
from tests.conftest import FAST_OPTIONS


def test_the_table_aligns_the_run_and_its_valid_and_test_metrics() -> None:
    options = {
        "model": "SASRec",
        "dataset": "ml-100k",
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": {"valid": "full"}},
    }
    result = {
        "best_epoch": 3,
        "epochs_run": 5,
        "best_valid_result": {"hit@10": 0.07102, "ndcg@10": 0.03181},
        "test_result": {"hit@10": 0.0615, "ndcg@10": 0.0307},
    }
    assert summary_table(options, result).splitlines() == [
        "model       SASRec",
        "dataset     ml-100k",
        "protocol    recbole (split LS valid_and_test, order TO, mode full)",
        "best epoch  3 (of 5 trained)",
        "",
        "metric    valid    test",
        "hit@10   0.0710  0.0615",
        "ndcg@10  0.0318  0.0307",
    ]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"session_rows": True, "eval_protocol": "recbole"}, "sessions (session_rows: each"),
        ({"eval_protocol": "hugt"}, "hugt (each user's last 10%"),
        ({"eval_args": {"mode": {"valid": "full", "test": "uni100"}}}, "mode valid full, test"),
    ],
)
def test_the_protocol_is_named(options: dict, name: str) -> None:
    assert name in protocol_name(options)


def test_the_command_line_ends_with_the_table_and_its_best_epoch_is_the_saved_one(
    tiny_data: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    flags = [f"--{key}={value}" for key, value in {**FAST_OPTIONS, "epochs": 3}.items()]
    assert main(["-m", "GRU4Rec", "-d", "tiny", f"--data_path={tiny_data}", *flags]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()[-12:]
    assert lines[:2] == ["model       GRU4Rec", "dataset     tiny"]
    assert lines[2].startswith("protocol    recbole (split LS valid_and_test, order TO")
    (checkpoint,) = (workdir / "saved").glob("GRU4Rec-*.pth")
    saved_epoch = torch.load(checkpoint, weights_only=True)["epoch"]  # the best epoch's model
    assert lines[3] == f"best epoch  {saved_epoch} (of 3 trained)"
    assert lines[4] == "" and lines[5].split() == ["metric", "valid", "test"]
    names = ["hit@10", "hit@20", "ndcg@10", "ndcg@20", "mrr@10", "mrr@20"]
    assert [line.split()[0] for line in lines[6:]] == names
    assert len({len(line) for line in lines[5:]}) == 1  # aligned


def test_without_a_checkpoint_the_best_epoch_is_the_last_of_the_best_score() -> None:
    trainer = SimpleNamespace(saved_model_file="no-such-checkpoint.pth")
    scores = [(0, 0.1), (1, 0.3), (2, 0.3), (3, 0.2)]  # RecBole: an equal score is a new best
    assert _best_epoch(trainer, scores, saved=False, bigger=True) == 2
    assert _best_epoch(trainer, [(0, 0.5), (1, 0.2), (2, 0.4)], saved=True, bigger=False) == 1
    assert _best_epoch(trainer, [], saved=False, bigger=True) is None
