"""The results folder: ``grid.json`` (what the folder is for), ``runs.csv`` (one row per run).

``grid.json`` records the paper, the dataset, its data folder, ``--quick``, the first seed and,
per cell (``table/entry``), the model, the options that differ from its defaults and the hash of
its whole configuration, and per hash that configuration (``configs``). A folder is reused only
for the same grid: a cell present in the folder and in the grid with another configuration, or
another paper, dataset, data folder, quick mode or first seed, is refused, and nothing in the
folder is touched. One change is not another configuration: options that did not exist when the
cell was recorded (a later version's new options, whose defaults keep the old behaviour), with
every recorded option unchanged; the cell keeps its recorded hash, so its runs (and their ids,
and an interrupted run's resume state) stay its own. New cells (a table added to the grid) are
added.

``runs.csv`` is rewritten whole after each run, into a temporary file renamed over the old one,
so that a crash leaves either the old or the new file, never a torn one.

Several runner processes may share a folder (one per core): each takes a run by creating
``claims/<run_id>`` (holding its process id) before it starts it, and skips a run that a live
process has claimed; a claim whose process has ended is taken over (the run resumes from its
resume state). runs.csv is read, merged and written under an exclusive lock (``.lock``), so no
process's rows are lost.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from recbole_hug.errors import ConfigError, DataError
from recbole_hug.files import atomic_file
from recbole_hug.reproduce.cells import Cell

MANIFEST = "grid.json"
RUNS = "runs.csv"
#: The folder of the runs being trained: ``claims/<run_id>`` holds the process id.
CLAIMS = "claims"
#: The folder of each run's epochs: ``epochs/<run_id>.json``
#: (:func:`recbole_hug.reproduce.runner.write_epochs`).
EPOCHS = "epochs"
#: The folder of each run's test rows: ``ranks/<run_id>.npz`` (user, length, rank per row).
RANKS = "ranks"

#: The first columns of runs.csv; the metric columns (``valid_<metric>``, ``test_<metric>``)
#: follow, then :data:`LAST_COLUMNS`.
FIRST_COLUMNS = ("run_id", "table", "entry", "model", "seed", "options")
LAST_COLUMNS = (
    "best_epoch",
    "epochs_run",
    "epoch_seconds",
    "valid_seconds",
    "seconds",
    "checkpoint",
)
#: The top-level keys of grid.json that must match for a folder to be reused.
IDENTITY_KEYS = ("paper", "dataset", "data_path", "quick", "first_seed")


def manifest(identity: dict[str, Any], cells: Sequence[Cell]) -> dict[str, Any]:
    """The content of grid.json for ``identity`` (:data:`IDENTITY_KEYS`) and ``cells``."""
    return {
        **identity,
        "cells": {
            cell.key: {"model": cell.model, "options": cell.changed, "config": cell.config}
            for cell in cells
        },
        "configs": {cell.config: cell.resolved for cell in cells},
    }


def added_options(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str] | None:
    """The options of ``new`` that ``old`` lacks, if every option of ``old`` has the same value
    in ``new`` (the same configuration, recorded before those options existed); None if some
    recorded option differs or is gone, or nothing was recorded."""
    if not old or any(key not in new or new[key] != value for key, value in old.items()):
        return None
    return sorted(set(new) - set(old))


def _write_atomically(path: Path, write) -> None:
    """Call ``write(file)`` on a text file that replaces ``path`` whole
    (:func:`recbole_hug.files.atomic_file`)."""
    with atomic_file(path, "w", encoding="utf-8", newline="") as file:
        write(file)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    changes = [
        f"{key} {old.get(key, '(default)')!r} -> {new.get(key, '(default)')!r}"
        for key in keys
        if old.get(key) != new.get(key)
    ]
    return ", ".join(changes)


class ResultsFolder:
    """A results folder (see the module docstring).

    Args:
        path: the folder; created by :meth:`claim` if missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.manifest_file = self.path / MANIFEST
        self.runs_file = self.path / RUNS

    def claim(self, content: dict[str, Any]) -> dict[str, str]:
        """Make the folder the one of ``content`` (:func:`manifest`), or refuse it.

        Returns:
            Per cell key, the configuration hash that identifies its runs: the recorded one
            where the cell only gained new options (module docstring), else its own.

        Raises:
            ConfigError: the folder holds results of a different grid configuration (the
                message names the first difference); nothing is changed.
            DataError: the folder's grid.json is unreadable.
        """
        identities = {key: cell["config"] for key, cell in content["cells"].items()}
        if self.manifest_file.is_file():
            old = self._read_manifest()
            kept = self._check_same_grid(old, content)
            identities.update(kept)
            cells = {
                key: {**cell, "config": identities[key]} for key, cell in content["cells"].items()
            }
            resolved = content.get("configs", {})
            configs = {
                identities[key]: resolved[cell["config"]]
                for key, cell in content["cells"].items()
                if cell["config"] in resolved
            }
            content = {
                **content,
                "cells": {**old["cells"], **cells},
                "configs": {**old.get("configs", {}), **configs},
            }
        elif self.runs_file.exists():
            raise ConfigError(
                f"results folder {self.path} has {RUNS} but no {MANIFEST}: it was not written by "
                "this runner; choose another --out"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomically(
            self.manifest_file, lambda file: json.dump(content, file, indent=1, sort_keys=True)
        )
        return identities

    def _read_manifest(self) -> dict[str, Any]:
        try:
            content = json.loads(self.manifest_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise DataError(f"{self.manifest_file}: unreadable ({error})") from error
        if not isinstance(content, dict) or not isinstance(content.get("cells"), dict):
            raise DataError(f"{self.manifest_file}: not a grid.json written by this runner")
        return content

    def _check_same_grid(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
        """Refuse ``new`` if it is another grid than ``old``; return the recorded hash of each
        cell whose configuration only gained options since (:func:`added_options`)."""
        refuse = (
            f"results folder {self.path} holds runs of a different grid configuration "
            "(nothing was run or changed; choose another --out, or delete the folder to start "
            "over): "
        )
        for key in IDENTITY_KEYS:
            if old.get(key) != new[key]:
                raise ConfigError(refuse + f"{key} was {old.get(key)!r}, now {new[key]!r}")
        kept = {}
        for key, cell in new["cells"].items():
            previous = old["cells"].get(key)
            if previous is None or previous.get("config") == cell["config"]:
                continue
            recorded = old.get("configs", {}).get(previous.get("config"))
            if added_options(recorded, new.get("configs", {}).get(cell["config"], {})) is not None:
                kept[key] = previous["config"]
                continue
            changes = _differences(previous.get("options", {}), cell["options"])
            if previous.get("model") != cell["model"]:
                changes = f"model {previous.get('model')!r} -> {cell['model']!r}"
            raise ConfigError(
                refuse
                + f"{key}: "
                + (
                    changes
                    or "the same options resolve to another configuration (a default of "
                    "RecBole or recbole-hug changed)"
                )
            )
        return kept

    def read_runs(self) -> list[dict[str, str]]:
        """The rows of runs.csv (none if it does not exist yet).

        Raises:
            DataError: runs.csv lacks one of :data:`FIRST_COLUMNS`.
        """
        if not self.runs_file.is_file():
            return []
        with open(self.runs_file, encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            missing = [c for c in FIRST_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{self.runs_file}: missing column(s) {', '.join(missing)}")
            return list(reader)

    def write_runs(self, rows: Sequence[dict[str, Any]]) -> None:
        """Replace runs.csv by ``rows`` (atomically; columns as in the module docstring)."""
        metrics = [
            column
            for column in dict.fromkeys(column for row in rows for column in row)
            if column not in FIRST_COLUMNS + LAST_COLUMNS
        ]
        columns = [*FIRST_COLUMNS, *metrics, *LAST_COLUMNS]

        def write(file) -> None:
            writer = csv.DictWriter(file, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

        _write_atomically(self.runs_file, write)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's exclusive lock (other runner processes wait for it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def claim_run(self, run_id: str) -> bool:
        """Take ``run_id`` for this process; False if a live process holds it (call under
        :meth:`locked`)."""
        path = self.path / CLAIMS / run_id
        if path.is_file():
            text = path.read_text(encoding="utf-8").strip()
            if text.isdigit() and int(text) != os.getpid() and _alive(int(text)):
                return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{os.getpid()}\n", encoding="utf-8")
        return True

    def release_run(self, run_id: str) -> None:
        """Drop this process's claim of ``run_id``."""
        (self.path / CLAIMS / run_id).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may be a running reproduction runner: it exists, and its command
    line names the runner (or is not readable yet: a process just started)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return not command or b"reproduce" in command
