"""Fixtures of the runner's tests: the tiny datasets under the grids' dataset names, and, for a
test module, one torch thread (tiny models run faster single-threaded on a busy machine) and a
scratch working folder for RecBole's log/ (both restored after the module)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.conftest import write_tiny_dataset
from tests.model.test_hggnn import write_session_data


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The working folder of a test module (RecBole writes log/ into the current folder)."""
    folder = tmp_path_factory.mktemp("reproduce")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


@pytest.fixture(scope="session")
def sequence_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_path whose ``ml-1m`` is the tiny dataset (30 users, 25 items)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("sequences"), name="ml-1m")


@pytest.fixture(scope="session")
def session_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_path whose ``taobao-ub-head`` is the tiny session dataset (16 users, 6 sessions)."""
    folder = write_session_data(tmp_path_factory.mktemp("sessions"))
    target = folder / "taobao-ub-head"
    target.mkdir()
    shutil.move(folder / "sess" / "sess.inter", target / "taobao-ub-head.inter")
    return folder
