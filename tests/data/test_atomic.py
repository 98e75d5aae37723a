"""Bad atomic files are reported with the file, the column and the line, before RecBole loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import DataError
from recbole_hug.quick_start import main
from tests.conftest import FAST_OPTIONS

GOOD = "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t1\nu1\ti2\t2\n"


def _dataset(tmp_path: Path, inter: str, name: str = "bad") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.inter").write_text(inter, encoding="utf-8")
    return folder / f"{name}.inter"


def _load(tmp_path: Path, **options: object) -> None:
    config = Config("SASRec", "bad", config_dict={"data_path": str(tmp_path), **options})
    create_dataset(config)


@pytest.mark.parametrize(
    ("inter", "options", "message"),
    [
        ("", {}, "the file is empty"),
        ("user_id:token\titem_id:token\ttimestamp:float\n", {}, "has a header but no rows"),
        (
            "user_id:token\titem_id\ttimestamp:float\nu1\ti1\t1\n",
            {},
            "column 2 of the header is 'item_id'",
        ),
        (
            "user_id:token\titem_id:token\ttimestamp:int\nu1\ti1\t1\n",
            {},
            "column 3 of the header is 'timestamp:int'",
        ),
        (
            "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t1\nu1\ti2\t2023-01-02\n",
            {},
            "column 'timestamp' is declared float, but line 3 holds '2023-01-02'",
        ),
        (
            "user:token\titem_id:token\ttimestamp:float\nu1\ti1\t1\n",
            {},
            "missing column 'user_id'; the header has user, item_id, timestamp",
        ),
        (GOOD, {"load_col": {"inter": ["user_id", "item_id", "time"]}}, "missing column 'time'"),
    ],
)
def test_bad_inter_files_are_named(tmp_path: Path, inter: str, options: dict, message: str) -> None:
    path = _dataset(tmp_path, inter)
    with pytest.raises(DataError, match=message) as error:
        _load(tmp_path, **options)
    assert str(path) in str(error.value)


def test_bad_item_file_is_named(tmp_path: Path) -> None:
    _dataset(tmp_path, GOOD)
    item = tmp_path / "bad" / "bad.item"
    item.write_text("item_id:token\tprice:float\ni1\tcheap\n")
    with pytest.raises(DataError, match=f"{item}: column 'price' is declared float"):
        _load(tmp_path, load_col={"inter": ["user_id", "item_id"], "item": ["item_id", "price"]})


def test_the_command_line_reports_bad_data_without_a_traceback(
    tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    _dataset(tmp_path, "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\tyesterday\n")
    status = main(
        [
            "--model=SASRec",
            "--dataset=bad",
            f"--data_path={tmp_path}",
            f"--epochs={FAST_OPTIONS['epochs']}",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert "column 'timestamp' is declared float, but line 2 holds 'yesterday'" in err
