"""Files the plugin writes: atomic under kill -9, checksummed, umask modes, verified caches."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from recbole_hug.data.convert.atomic import AtomicWriter
from recbole_hug.data.hugt_dataset import _cached_svd
from recbole_hug.errors import HugError
from recbole_hug.files import (
    CHECKSUM_KEY,
    atomic_file,
    load_array,
    load_checkpoint,
    save_array,
    save_checkpoint,
)

#: Saves checkpoints of ~32 MB, each a tensor filled with its number, as fast as it can.
SAVER = """
import sys, torch
from recbole_hug.files import save_checkpoint
for number in range(1000):
    save_checkpoint({"state_dict": {"w": torch.full((8_000_000,), float(number))}}, sys.argv[1])
    print(number, flush=True)
"""


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.001)


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_whole(tmp_path: Path) -> None:
    path = tmp_path / "best.pth"
    saver = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert saver.stdout.readline().strip() == "0"  # one checkpoint is complete
        _wait_for(lambda: any(tmp_path.glob(".best.pth.*.tmp")))  # the next is being written
        saver.kill()  # kill -9, mid-save
    finally:
        saver.kill()
        saver.wait()
    state = load_checkpoint(path)  # verified: checksum and finite weights
    weights = state["state_dict"]["w"]
    assert weights.shape == (8_000_000,) and bool((weights == weights[0]).all())


def test_a_changed_checkpoint_fails_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    save_checkpoint({"state_dict": {"w": torch.arange(4.0)}, "epoch": 3}, path)
    state = torch.load(path, weights_only=True)
    assert set(state) == {"state_dict", "epoch", CHECKSUM_KEY}
    assert load_checkpoint(path)["epoch"] == 3
    state["state_dict"]["w"][1] = 7.0  # finite, but not what was saved
    torch.save(state, path)
    with pytest.raises(HugError, match=f"{path} is damaged: its contents do not match"):
        load_checkpoint(path)
    torch.save({"state_dict": {"w": torch.tensor([1.0, float("inf")])}}, path)  # no checksum
    with pytest.raises(HugError, match="the weights 'w' hold values that are not finite"):
        load_checkpoint(path)
    path.write_bytes(b"PK\x03\x04" + bytes(100))  # truncated zip
    with pytest.raises(HugError, match=f"{path} is damaged: it cannot be read"):
        load_checkpoint(path)


def test_files_get_the_mode_of_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        save_array(np.zeros(3), tmp_path / "cache.npy")
        save_checkpoint({"epoch": 0}, tmp_path / "model.pth")
        with AtomicWriter(tmp_path / "data", progress=False) as writer:
            writer.write("d.inter", [("user_id", "token")], [["u1"]])
        os.umask(0o077)
        with atomic_file(tmp_path / "private.txt", "w") as handle:
            handle.write("x")
    finally:
        os.umask(previous)
    for name in ("cache.npy", "model.pth", "data/d.inter"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_file(path, "w") as handle:
        handle.write("half")
        raise RuntimeError
    assert path.read_text() == "old\n"
    assert sorted(tmp_path.iterdir()) == [path]


def test_a_damaged_svd_cache_is_rebuilt_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(1, 20, 200), rng.integers(1, 30, 200)
    arguments = (users, items, 20, 30, 4, 0, False, tmp_path, "toy")
    embeddings = _cached_svd(*arguments)
    (cache,) = tmp_path.glob("toy-HUGT-svd-*.npy")
    for damage in (cache.read_bytes()[:100], cache.read_bytes()[:-8]):
        cache.write_bytes(damage)
        with caplog.at_level(logging.WARNING):
            assert np.array_equal(_cached_svd(*arguments), embeddings)
        assert f"cache {cache} is damaged" in caplog.text
        assert np.array_equal(np.load(cache), embeddings)  # rewritten whole
        caplog.clear()
    save_array(np.full((30, 4), np.nan, dtype=np.float32), cache)
    assert load_array(cache, (30, 4)) is None
    assert load_array(cache, (30, 5)) is None


#: A conversion that stops inside the writer, with its temporary file written.
CONVERSION = """
import sys, time
from recbole_hug.data.convert import cli
from recbole_hug.data.convert.atomic import AtomicWriter

def convert(dataset, raw, out, *args, **kwargs):
    with AtomicWriter(out, progress=False) as writer:
        writer.write("x.inter", [("user_id", "token")], [["u1"] * 1000])
        print("writing", flush=True)
        time.sleep(60)

cli.convert = convert
sys.exit(cli.main(["ml-1m", "raw.zip", "--out", sys.argv[1]]))
"""


@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [
        (signal.SIGTERM, 143, "error: terminated (SIGTERM); no file was written"),
        (signal.SIGINT, 130, "error: interrupted (Ctrl-C); no file was written"),
    ],
)
def test_an_interrupted_conversion_leaves_nothing_and_prints_one_line(
    tmp_path: Path, signum: int, status: int, line: str
) -> None:
    out = tmp_path / "out"
    converter = subprocess.Popen(
        [sys.executable, "-c", CONVERSION, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert converter.stdout.readline().strip() == "writing"
    assert any(out.glob(".x.inter.*.tmp"))
    converter.send_signal(signum)
    _, err = converter.communicate(timeout=60)
    assert converter.returncode == status
    assert err.splitlines() == [line]
    assert list(out.iterdir()) == []
