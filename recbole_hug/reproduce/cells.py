"""The cells of a grid on one dataset: each entry's model and options, checked through the
plugin's :class:`~recbole_hug.config.Config` before anything runs, and identified by a hash.

A cell's identity is a hash of its whole resolved configuration (every option of RecBole and of
the plugin that the model gets, including every default), leaving out only
:data:`ENVIRONMENT_OPTIONS`: where things are read and written, the device, logging. A run is a
cell and a seed: cells that resolve to the same configuration (an entry repeated by two tables)
share their runs.

In a table that chooses its learning rates on validation (``choose_lr``), each entry gives one
candidate cell per learning rate (``lr_of`` names the entry), and the entry's own cell is the
chosen candidate (:mod:`recbole_hug.reproduce.learning_rates`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recbole_hug.config import Config
from recbole_hug.errors import HugError
from recbole_hug.reproduce.grid import Entry, Grid, Table

#: Options that say where and how a run is executed, not what it computes (RecBole's, and
#: HUGT's ``graph_cache_mb``, an exact cache).
ENVIRONMENT_OPTIONS: frozenset[str] = frozenset(
    {
        "checkpoint_dir",
        "checkpoint_serving",
        "data_path",
        "dataloaders_save_path",
        "dataset_save_path",
        "device",
        "gpu_id",
        "graph_cache_mb",
        "ip",
        "local_rank",
        "log_wandb",
        "nproc",
        "offset",
        "port",
        "save_dataloaders",
        "save_dataset",
        "seed",
        "show_progress",
        "single_spec",
        "state",
        "use_gpu",
        "wandb_project",
        "worker",
        "world_size",
    }
)


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data (enums, devices and other objects as their ``str``)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _digest(value: Any, length: int) -> str:
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Cell:
    """One entry of one table on one dataset, ready to run with any seed.

    Attributes:
        table: the table's name.
        entry: the entry's name.
        model: the model's name.
        options: the grid's options of the entry (``config_dict`` of each run, without the
            runner's own: dataset, data path, seed, checkpoint folder).
        changed: the options whose resolved value differs from the model's default on this
            dataset, as JSON data.
        config: the hash of the resolved configuration (the cell's identity).
        valid_metric: the resolved ``valid_metric``, as RecBole's result key (``hit@10``).
        lr_of: for a learning-rate candidate, the name of the entry it is a candidate of.
        seeds: at most this many seeds (the entry's ``seeds``); None for all.
        resolved: the resolved configuration that ``config`` hashes, as JSON data.
    """

    table: str
    entry: str
    model: str
    options: dict[str, Any]
    changed: dict[str, Any]
    config: str
    valid_metric: str = ""
    lr_of: str | None = None
    seeds: int | None = None
    resolved: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.table}/{self.entry}"

    def run_id(self, seed: int) -> str:
        """The run's stable identity: the cell's configuration and the seed."""
        return _digest([self.config, seed], 12)


def _resolved(config: Config) -> dict[str, Any]:
    return {
        key: value
        for key, value in config.final_config_dict.items()
        if key not in ENVIRONMENT_OPTIONS
    }


def build_cells(
    grid: Grid, tables: list[Table], dataset: str, data_path: Path, quick: bool
) -> list[Cell]:
    """The cells of ``tables`` (entries with a model), each checked by building its Config;
    in a ``choose_lr`` table, the learning-rate candidates of each entry instead.

    Args:
        grid: the paper's grid.
        tables: the tables to build.
        dataset: the dataset's name (a section of the grid).
        data_path: the folder holding the dataset's folder (RecBole's ``data_path``).
        quick: layer in the grid's ``--quick`` options.

    Raises:
        ConfigError: an entry's model is not registered (neither the plugin's nor RecBole's), or
            its options are rejected; the message names the table and entry.
    """
    defaults: dict[str, dict[str, Any]] = {}
    rates = grid.lr_choices(dataset, quick)
    cells = []
    for table in tables:
        for entry in table.entries:
            if entry.model is None:
                continue
            if not (table.choose_lr and rates):
                cells.append(_cell(grid, table, entry, dataset, data_path, quick, defaults))
                continue
            for lr in rates:
                candidate = replace(
                    entry,
                    name=candidate_name(entry.name, lr),
                    options={**entry.options, "learning_rate": lr},
                )
                cell = _cell(grid, table, candidate, dataset, data_path, quick, defaults)
                cells.append(replace(cell, lr_of=entry.name))
    return cells


def candidate_name(entry: str, lr: float) -> str:
    """The name of ``entry``'s candidate at learning rate ``lr``: ``NARM (lr 0.01)``."""
    return f"{entry} (lr {lr:g})"


def _cell(
    grid: Grid,
    table: Table,
    entry: Entry,
    dataset: str,
    data_path: Path,
    quick: bool,
    defaults: dict[str, dict[str, Any]],
) -> Cell:
    """The cell of ``entry``, its options checked by building its Config; ``defaults`` caches
    each model's resolved defaults on the dataset (a Config without the grid's options)."""
    options = grid.run_options(dataset, entry, quick)
    try:
        if entry.model not in defaults:
            defaults[entry.model] = _resolved(
                Config(entry.model, dataset, config_dict={"data_path": str(data_path)})
            )
        config = Config(entry.model, dataset, config_dict={**options, "data_path": str(data_path)})
    except HugError as error:
        raise type(error)(f"{grid.path.name}, {table.name}/{entry.name}: {error}") from error
    resolved = _resolved(config)
    default = defaults[entry.model]
    changed = {
        key: resolved[key]
        for key in options
        if key in resolved
        and (key not in default or canonical(resolved[key]) != canonical(default[key]))
    }
    return Cell(
        table=table.name,
        entry=entry.name,
        model=entry.model,
        options=options,
        changed=canonical(changed),
        config=_digest(resolved, 16),
        resolved=canonical(resolved),
        valid_metric=str(config["valid_metric"]).lower(),
        seeds=entry.seeds,
    )
