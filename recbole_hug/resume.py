"""Resumable training: the state a run writes at each epoch, and what ``--resume`` reads back.

A run with checkpoints saves, besides its best model (``saved/<Model>-<time>.pth``), a resume
state beside it (``saved/<Model>-<time>.resume``, :func:`resume_file_of`), rewritten atomically
at the start of every epoch after the first: the model and optimizer as they are then (not the
best ones), the next epoch, the best validation score and result, the early-stopping counter
(RecBole's ``cur_step``), the losses so far, the RNG states (Python, numpy, torch, CUDA and the
training dataloader's shuffling generator) and the path of the best checkpoint. The learning-rate
schedule (``lr_decay_step``) is a function of the epoch alone, so it needs no state. A run that
finishes deletes its resume state.

``--resume=saved/<Model>-<time>.pth`` (or the ``.resume`` file itself) continues such a run from
the epoch it had reached, with the same options (the command that started it), and ends as the
uninterrupted run would have: same best checkpoint file, same metrics (one process; the RNG
state of a multi-process run is rank 0's).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recbole_hug.errors import ConfigError
from recbole_hug.files import load_checkpoint

#: The suffix of a resume state, in place of the best checkpoint's ``.pth``.
RESUME_SUFFIX = ".resume"
#: The version of a resume state's layout.
RESUME_FORMAT = 1
#: Options a resumed run may change: the length of training, what is logged or shown, and
#: HUGT's exact evaluation cache.
FREE_OPTIONS: frozenset[str] = frozenset(
    {
        "resume",
        "epochs",
        "show_progress",
        "state",
        "log_wandb",
        "wandb_project",
        "gpu_id",
        "graph_cache_mb",
    }
)


def resume_file_of(checkpoint: str | Path) -> Path:
    """The resume state beside a best checkpoint: ``X.pth`` -> ``X.resume``."""
    return Path(checkpoint).with_suffix(RESUME_SUFFIX)


def rng_states(generator: torch.Generator | None) -> dict[str, Any]:
    """The RNG states of this process and of ``generator`` (the training dataloader's), as
    plain data (``torch.load(weights_only=True)`` reads it)."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": generator.get_state() if generator is not None else None,
    }


def restore_rng_states(states: Mapping[str, Any], generator: torch.Generator | None) -> None:
    """Set the RNG states that :func:`rng_states` returned."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if generator is not None and states["loader"] is not None:
        generator.set_state(states["loader"])


def find_resume_file(option: str) -> Path:
    """The resume state that the ``resume`` option names (a best checkpoint or its state).

    Raises:
        ConfigError: there is no such state (the message says why that may be).
    """
    given = Path(option)
    path = given if given.suffix == RESUME_SUFFIX else resume_file_of(given)
    if path.is_file():
        return path
    if given.suffix != RESUME_SUFFIX and given.is_file():
        raise ConfigError(
            f"option 'resume': {given} has no resume state beside it ({path}): the run that "
            "wrote it finished (a finished run deletes its resume state) or stopped in its first "
            "epoch; start the run again without --resume"
        )
    raise ConfigError(
        f"option 'resume': {option} not found; pass the checkpoint of the interrupted run "
        f"(saved/<Model>-<time>.pth) or its resume state (saved/<Model>-<time>{RESUME_SUFFIX})"
    )


def load_resume_state(
    option: str, options: Mapping[str, Any], derived: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The resume state that ``option`` names, verified (checksum, finite weights), for a run
    with final options ``options`` (:func:`recbole_hug.checkpoint.plain_options`); ``derived``
    options (the process's device and rank, ...) are not compared.

    Raises:
        ConfigError: no state (:func:`find_resume_file`), not a resume state, or options that
            differ from the interrupted run's (other than :data:`FREE_OPTIONS`, and options
            that did not exist when it started), named.
        HugError: a damaged file.
    """
    path = find_resume_file(option)
    state = load_checkpoint(path, what="resume state")
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise ConfigError(f"option 'resume': {path} is not a recbole-hug resume state")
    saved = state["config"]
    differing = [
        f"{key} (was {saved.get(key)!r}, now {options.get(key)!r})"
        for key in sorted(set(saved) | set(options), key=str)
        if key not in FREE_OPTIONS | derived
        and key in saved  # an option added since the run started: its default keeps behaviour
        and saved.get(key) != options.get(key)
    ]
    if differing:
        raise ConfigError(
            f"option 'resume': the run in {path} had other options: {'; '.join(differing)}. "
            "Resume with the command that started it (only epochs may change)"
        )
    return state
