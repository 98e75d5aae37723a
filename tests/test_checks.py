"""Bad options and data: one ``error:`` line naming what is wrong, exit 2, before any training."""

from __future__ import annotations

from pathlib import Path

import pytest
from recbole.trainer import Trainer

from recbole_hug.quick_start import main, run_recbole_hug
from tests.conftest import FAST_OPTIONS, write_tiny_dataset

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float"


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if an epoch starts."""

    def train_epoch(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "_train_epoch", train_epoch)


def _write(folder: Path, name: str, lines: list[str]) -> Path:
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / f"{name}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / name / f"{name}.inter"


def _tiny_lines(folder: Path) -> list[str]:
    write_tiny_dataset(folder)
    return (folder / "tiny" / "tiny.inter").read_text(encoding="utf-8").splitlines()


def _error(capsys, *args: str, model: str = "GRU4Rec") -> str:
    """Run the command line; check exit 2 and one error line, and return that line."""
    given = {arg.partition("=")[0] for arg in args}
    options = [f"--{key}={value}" for key, value in FAST_OPTIONS.items() if f"--{key}" not in given]
    status = main([f"--model={model}", *options, *args])
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert status == 2 and len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (
            "--MAX_ITEM_LIST_LENGTH=0",
            "option 'MAX_ITEM_LIST_LENGTH' must be an integer >= 1, got 0",
        ),
        (
            "--MAX_ITEM_LIST_LENGTH=-3",
            "option 'MAX_ITEM_LIST_LENGTH' must be an integer >= 1, got -3",
        ),
        ("--train_batch_size=0", "option 'train_batch_size' must be an integer >= 1, got 0"),
        ("--eval_batch_size=-1", "option 'eval_batch_size' must be an integer >= 1, got -1"),
        ("--use_gpu=maybe", "option 'use_gpu' must be True or False, got 'maybe'"),
        (
            "--topk=[5]",
            "option 'valid_metric' is 'NDCG@10', which is not computed; expected one "
            "of hit@5, ndcg@5, mrr@5",
        ),
        ("--valid_metric=foo@10", "option 'valid_metric' is 'foo@10', which is not computed"),
    ],
)
def test_bad_option_values(
    tiny_data: Path, workdir: Path, capsys, no_training, option: str, expected: str
) -> None:
    line = _error(capsys, "--dataset=tiny", f"--data_path={tiny_data}", option)
    assert line.startswith(f"error: {expected}"), line


def test_a_model_that_refuses_its_options(tiny_data: Path, workdir: Path, capsys, no_training):
    args = ["--dataset=tiny", f"--data_path={tiny_data}", "--n_heads=3", "--hidden_size=64"]
    line = _error(capsys, *args, model="SASRec")
    assert line == (
        "error: model SASRec refuses its options: The hidden size (64) is not a multiple of the "
        "number of attention heads (3)"
    )


@pytest.mark.parametrize(("users", "items"), [(30, 15), (2, 25)])
def test_a_topk_beyond_the_items_stops_before_training(
    tmp_path: Path, workdir: Path, capsys, no_training, users: int, items: int
) -> None:
    data = write_tiny_dataset(tmp_path / "data", "few", n_users=users, n_items=items)
    line = _error(capsys, "--dataset=few", f"--data_path={data}", "--topk=[10,30]")
    assert line.startswith("error: option 'topk' [10, 30] asks for more items than dataset 'few'")


def test_data_that_leave_a_part_empty(tmp_path: Path, workdir: Path, capsys, no_training):
    _write(tmp_path, "one", [HEADER, *[f"u{user}\ti{user}\t1\t{user}" for user in range(1, 30)]])
    line = _error(capsys, "--dataset=one", f"--data_path={tmp_path}")
    assert line.startswith("error: dataset 'one' has no train rows after filtering and splitting")

    write_tiny_dataset(tmp_path)
    args = ["--dataset=tiny", f"--data_path={tmp_path}", "--user_inter_num_interval=[100,inf)"]
    line = _error(capsys, *args)
    assert line.startswith(
        "error: dataset 'tiny': RecBole's filters leave no interactions (options "
        "'user_inter_num_interval' [100,inf)"
    )


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("u1\ti9\t1\tinf", "column 'timestamp' is declared float, but line 6 holds 'inf'"),
        ("u1\ti9\t1\t-inf", "column 'timestamp' is declared float, but line 6 holds '-inf'"),
        ("u1\ti9\t1", "line 6 has no 'timestamp' (an empty or missing cell)"),
        ("u1\ti9\t1\t", "line 6 has no 'timestamp' (an empty or missing cell)"),
        ("\ti9\t1\t5", "line 6 has no 'user_id' (an empty or missing cell)"),
    ],
)
def test_malformed_rows_are_named_by_line(
    tmp_path: Path, workdir: Path, capsys, no_training, row: str, expected: str
) -> None:
    lines = _tiny_lines(tmp_path / "source")
    path = _write(tmp_path, "bad", [*lines[:5], row, *lines[5:]])
    line = _error(capsys, "--dataset=bad", f"--data_path={tmp_path}")
    assert line.startswith(f"error: {path}: {expected}"), line


def test_a_byte_order_mark_is_named(tmp_path: Path, workdir: Path, capsys, no_training) -> None:
    lines = _tiny_lines(tmp_path / "source")
    path = _write(tmp_path, "bom", ["\ufeff" + lines[0], *lines[1:]])
    line = _error(capsys, "--dataset=bom", f"--data_path={tmp_path}")
    assert line.startswith(f"error: {path}: the file starts with a UTF-8 byte-order mark (BOM)")


def test_repeated_rows_are_dropped_with_a_warning(tmp_path: Path, workdir: Path, capsys) -> None:
    lines = _tiny_lines(tmp_path / "source")
    _write(tmp_path, "dup", [*lines[:5], lines[3], lines[4], *lines[5:]])
    _write(tmp_path, "clean", lines)
    results = {}
    for name in ("dup", "clean"):
        results[name] = run_recbole_hug(
            "GRU4Rec", name, config_dict={**FAST_OPTIONS, "data_path": str(tmp_path)}
        )
        err = capsys.readouterr().err.splitlines()
        warnings = [line.partition("WARNING  ")[2] for line in err if "dropped" in line]
        assert warnings == (
            [
                "dataset 'dup': dropped 2 interaction(s) that repeat an earlier one's user_id, "
                "item_id, timestamp (the first: u1, i19, 1002.0)"
            ]
            if name == "dup"
            else []
        )
    assert results["dup"]["test_result"] == results["clean"]["test_result"]
