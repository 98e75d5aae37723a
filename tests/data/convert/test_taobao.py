"""Taobao: the acceptance check against the shared reference, a small sample, bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from recbole_hug.data.convert import ConversionError, convert
from recbole_hug.data.convert.atomic import read_atomic
from recbole_hug.data.convert.cli import main

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "taobao-ub-head"

# Beijing 2017-11-25 00:00:00 = 1511539200; 2017-12-03 23:59:59 = 1512316799.
SAMPLE = """\
2,10,7,pv,1511600000
2,11,7,buy,1511600000
2,10,7,pv,1511500000
1,12,8,cart,1511700000
1,10,7,fav,1511539199
1,13,8,pv,1511539200
1,12,8,cart,1511700000
3,14,9,pv,1512316799
3,15,9,pv,1512316800
"""


def test_acceptance_head_equals_reference(tmp_path: Path) -> None:
    """The published raw head, converted with the HUGT preset, gives the reference rows."""
    raw = SHARED / "raw" / "UserBehavior-head.csv.gz"
    reference = SHARED / "taobao-ub-head.inter"
    if not raw.exists() or not reference.exists():
        pytest.skip(f"shared dataset not available at {SHARED.resolve()}")
    result = convert(
        "taobao",
        raw,
        tmp_path,
        name="taobao-ub-head",
        progress=False,
        overrides={"drop_last_user": True},
    )
    got_header, got = read_atomic(result.files[0])
    want_header, want = read_atomic(reference)
    assert got_header == want_header
    assert len(got) == len(want) == 84_252
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == b, f"row {i + 1}: {a} != {b}"
    assert result.stats["users"] == 814
    assert result.stats["items"] == 55_209
    assert result.report.skips["last user of a truncated head (its block may be cut)"] == 188
    assert sum(v for k, v in result.report.skips.items() if k.startswith("outside window")) == 35


def test_sample_window_duplicates_sort(tmp_path: Path) -> None:
    raw = tmp_path / "UserBehavior.csv.gz"
    with gzip.open(raw, "wt") as f:
        f.write(SAMPLE)
    result = convert("taobao", raw, tmp_path / "out", progress=False)
    header, rows = read_atomic(tmp_path / "out" / "taobao" / "taobao.inter")
    assert header == ["user_id:token", "item_id:token", "timestamp:float"]
    assert rows == [
        ["1", "13", "1511539200"],
        ["1", "12", "1511700000"],
        ["2", "10", "1511600000"],
        ["2", "11", "1511600000"],
        ["3", "14", "1512316799"],
    ]
    assert result.report.skips["exact duplicate rows"] == 1
    assert sum(v for k, v in result.report.skips.items() if k.startswith("outside")) == 3
    assert result.stats == {
        "users": 3,
        "items": 5,
        "interactions": 5,
        "density": 5 / 15,
        "avg_seq_len": 5 / 3,
    }


def test_keep_types_and_no_window(tmp_path: Path) -> None:
    raw = tmp_path / "UserBehavior.csv"
    raw.write_text(SAMPLE)
    result = convert(
        "taobao",
        raw,
        tmp_path,
        progress=False,
        overrides={"keep_types": ("pv",), "window": None},
    )
    _, rows = read_atomic(result.files[0])
    assert [r[:2] for r in rows] == [
        ["1", "13"],
        ["2", "10"],
        ["2", "10"],
        ["3", "14"],
        ["3", "15"],
    ]


def test_truncated_head_needs_grouped_users(tmp_path: Path) -> None:
    raw = tmp_path / "UserBehavior.csv"
    raw.write_text("1,10,7,pv,1511600000\n2,10,7,pv,1511600000\n1,11,7,pv,1511600001\n")
    with pytest.raises(ConversionError, match="contiguous blocks"):
        convert("taobao", raw, tmp_path, progress=False, overrides={"drop_last_user": True})


def test_bad_line_error_and_skip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "UserBehavior.csv"
    raw.write_text("1,10,7,pv,1511600000\n1,11,7,pv,15116OOOOO\n1,12,7,pv\n")
    with pytest.raises(ConversionError) as e:
        convert("taobao", raw, tmp_path, progress=False)
    assert e.value.line == 3 and "expected 5" in str(e.value)
    raw.write_text("1,10,7,pv,1511600000\n1,11,7,pv,15116OOOOO\n1,12,7,pv\n1,13,7,pv,1511600001\n")
    with pytest.raises(ConversionError) as e:
        convert("taobao", raw, tmp_path, progress=False, overrides={"window": None})
    assert e.value.line == 3  # field count is checked while splitting, before values parse
    raw.write_text("1,10,7,pv,1511600000\n1,11,7,pv,15116OOOOO\n1,12,7,pv\n")
    result = convert("taobao", raw, tmp_path, skip_bad=True, progress=False)
    assert result.stats["interactions"] == 1
    raw.write_text("1,10,7,pv,1511600000\n1,11,7,pv,15116OOOOO\n")
    with pytest.raises(ConversionError) as e:
        convert("taobao", raw, tmp_path, progress=False)
    assert e.value.line == 2 and "timestamp" in str(e.value)
    assert sum(result.report.skips.values()) == 2
    assert main(["taobao", str(raw), "--out", str(tmp_path), "--quiet"]) == 2
    assert "error:" in capsys.readouterr().err


def test_truncated_gzip(tmp_path: Path) -> None:
    raw = tmp_path / "UserBehavior.csv.gz"
    data = gzip.compress(("1,10,7,pv,1511600000\n" * 5000).encode())
    raw.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        convert("taobao", raw, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "taobao" / "taobao.inter").exists()


def test_unknown_behavior_and_missing_path(tmp_path: Path) -> None:
    raw = tmp_path / "UserBehavior.csv"
    raw.write_text("1,10,7,click,1511600000\n")
    with pytest.raises(ConversionError, match="unknown behavior"):
        convert("taobao", raw, tmp_path, progress=False)
    with pytest.raises(ConversionError, match="no such file"):
        convert("taobao", tmp_path / "nope.csv", tmp_path, progress=False)
