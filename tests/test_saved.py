"""Reading a checkpoint back: files that are not recbole-hug checkpoints are refused, by name.

A servable checkpoint read back whole (weights, options, stand-in dataset) is in
``tests/test_serve.py``, which trains the runs it serves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recbole_hug.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_KEY
from recbole_hug.errors import HugError
from recbole_hug.files import save_checkpoint
from recbole_hug.saved import read_checkpoint


def test_files_that_are_not_our_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(HugError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "missing.pth")
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(HugError, match="not a PyTorch checkpoint"):
        read_checkpoint(text)
    bare = tmp_path / "state_dict.pth"
    torch.save({"weight": torch.zeros(2, 3)}, bare)
    with pytest.raises(HugError, match=f"no '{CHECKPOINT_KEY}' entry"):
        read_checkpoint(bare)


def test_a_checkpoint_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.pth"
    save_checkpoint({CHECKPOINT_KEY: {"format": CHECKPOINT_FORMAT + 1}}, path)
    with pytest.raises(HugError, match=f"format {CHECKPOINT_FORMAT + 1}; this recbole-hug reads"):
        read_checkpoint(path)
    save_checkpoint({CHECKPOINT_KEY: {"format": CHECKPOINT_FORMAT}}, path)
    assert read_checkpoint(path)[CHECKPOINT_KEY] == {"format": CHECKPOINT_FORMAT}
