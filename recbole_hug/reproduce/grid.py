"""A paper's experiment grid: ``properties/reproduce/<paper>.yaml``, read and checked.

The yaml names the paper's tables and figures, each a list of entries (a model and its options,
the paper's numbers per dataset column), and the options of every run: the evaluation protocol,
options for every run, per model, per dataset, and the ``--quick`` overrides. Options of one run,
lowest first (each layer replaces whole options):

``protocol`` < ``options`` < ``models.<model>`` < ``datasets.<name>.options`` <
``datasets.<name>.models.<model>`` < ``quick.models.<model>`` (with ``--quick``) < the entry's
``options`` < ``quick.options`` (with ``--quick``): a quick run's budget (epochs, lengths, batch
sizes) wins over an entry's own (the k sweep's 30 epochs).

An entry's ``seeds`` caps the seeds it runs with (the first ones of the run's list): the grid's
``seeds`` for the cells whose spread is reported, 1 for the others.

A table with ``choose_lr: True`` chooses each entry's learning rate on validation: a search
over the increasing ladder ``learning_rates`` (a dataset's or ``--quick``'s own list replaces it)
runs the entry at the rates it asks for with the first seed, and its seeds run at the one with
the best validation score (:mod:`recbole_hug.reproduce.learning_rates`). A paper number may be
``~`` (a metric the paper does not report).

Every problem with a grid file is a :class:`~recbole_hug.errors.ConfigError` naming the file and
the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from recbole_hug.errors import ConfigError
from recbole_hug.paths import PROPERTIES_DIR

#: Where the grids live: one ``<paper>.yaml`` per paper.
GRID_DIR = PROPERTIES_DIR / "reproduce"

#: Options the runner sets for each run itself; a grid may not set them.
RUNNER_OPTIONS: frozenset[str] = frozenset(
    {"model", "dataset", "data_path", "seed", "checkpoint_dir"}
)

_REQUIRED = object()


def _where(path: Path, *keys: str) -> str:
    return f"{path.name}, {'.'.join(keys)}" if keys else path.name


def _field(
    node: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default=_REQUIRED
) -> Any:
    """``node[key]`` checked against ``kind`` (bools are not numbers), or ``default`` if absent.

    Raises:
        ConfigError: the key is missing (and required) or its value is of the wrong type.
    """
    if key not in node or node[key] is None:
        if default is _REQUIRED:
            raise ConfigError(f"grid {where}: missing key '{key}'")
        return default
    value = node[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"grid {where}: '{key}' must be a {names}, got {value!r}")
    return value


def _check_keys(node: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise ConfigError(
            f"grid {where}: unknown key(s) {', '.join(unknown)}; "
            f"valid keys: {', '.join(sorted(allowed))}"
        )


def _options(node: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """A mapping of run options; the runner's own options are refused."""
    options = dict(_field(node, key, dict, where, {}))
    taken = sorted(RUNNER_OPTIONS & set(options))
    if taken:
        raise ConfigError(
            f"grid {where}.{key}: option(s) {', '.join(taken)} are set by the runner "
            "(--dataset, --data_path, seeds, the results folder), not by the grid"
        )
    return options


def _per_model(node: Mapping[str, Any], key: str, where: str) -> dict[str, dict[str, Any]]:
    models = _field(node, key, dict, where, {})
    return {name: _options(models, name, f"{where}.{key}") for name in models}


@dataclass(frozen=True)
class Entry:
    """One row of a table or one point of a figure.

    Attributes:
        name: the row's name (the paper's, where it has one).
        model: the model that runs it, or None for a row the paper reports and we cannot run.
        options: the entry's own options (the highest layer).
        x: the point's position on a figure's x axis, None in a table.
        paper: the paper's numbers per dataset column, in the grid's ``metrics`` order (None
            for a metric the paper does not report).
        seeds: at most this many seeds run the entry; None for all of the run's seeds.
    """

    name: str
    model: str | None
    options: dict[str, Any]
    x: float | None
    paper: dict[str, tuple[float | None, ...]]
    seeds: int | None = None


@dataclass(frozen=True)
class Table:
    """A table or figure of the paper: a figure has an ``x_label`` and entries with ``x``; with
    ``choose_lr``, each entry's learning rate is chosen on validation."""

    name: str
    title: str
    note: str | None
    x_label: str | None
    entries: tuple[Entry, ...]
    choose_lr: bool = False

    @property
    def is_figure(self) -> bool:
        return self.x_label is not None


@dataclass(frozen=True)
class DatasetSection:
    """A dataset the grid runs on: the paper's column to compare with, its options, and its own
    learning rates to choose from (None: the grid's)."""

    name: str
    paper: str | None
    note: str | None
    options: dict[str, Any]
    models: dict[str, dict[str, Any]]
    learning_rates: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Grid:
    """A paper's grid (see the module docstring and the yaml files for the meaning of fields)."""

    paper: str
    path: Path
    title: str
    metrics: tuple[str, ...]
    metric_names: tuple[str, ...]
    paper_scale: float
    decimals: int
    seeds: int
    first_seed: int
    protocol: dict[str, Any]
    options: dict[str, Any]
    models: dict[str, dict[str, Any]]
    datasets: dict[str, DatasetSection]
    quick_seeds: int
    quick_options: dict[str, Any]
    quick_models: dict[str, dict[str, Any]]
    tables: dict[str, Table]
    learning_rates: tuple[float, ...] = ()
    quick_learning_rates: tuple[float, ...] | None = None

    def lr_choices(self, dataset: str, quick: bool) -> tuple[float, ...]:
        """The learning rates that ``choose_lr`` tables choose from on ``dataset``."""
        if quick and self.quick_learning_rates is not None:
            return self.quick_learning_rates
        own = self.dataset(dataset).learning_rates
        return own if own is not None else self.learning_rates

    def dataset(self, name: str) -> DatasetSection:
        """The section of dataset ``name``.

        Raises:
            ConfigError: the grid has no such dataset (the message lists those it has).
        """
        if name not in self.datasets:
            raise ConfigError(
                f"unknown dataset '{name}' for paper '{self.paper}'; datasets of its grid "
                f"({self.path}): {', '.join(self.datasets)}"
            )
        return self.datasets[name]

    def select(self, names: list[str] | None) -> list[Table]:
        """The tables named (all, in the grid's order, for None).

        Raises:
            ConfigError: an unknown table name (the message lists the grid's tables).
        """
        if names is None:
            return list(self.tables.values())
        unknown = [name for name in names if name not in self.tables]
        if unknown or not names:
            raise ConfigError(
                f"unknown table(s) {', '.join(unknown) or '(none given)'} for paper "
                f"'{self.paper}'; tables: {', '.join(self.tables)}"
            )
        return [self.tables[name] for name in dict.fromkeys(names)]

    def run_options(self, dataset: str, entry: Entry, quick: bool) -> dict[str, Any]:
        """The options of ``entry`` on ``dataset``, layered as in the module docstring."""
        section = self.dataset(dataset)
        model = entry.model or ""
        layers = [
            self.protocol,
            self.options,
            self.models.get(model, {}),
            section.options,
            section.models.get(model, {}),
        ]
        if quick:
            layers.append(self.quick_models.get(model, {}))
        layers.append(entry.options)
        if quick:
            layers.append(self.quick_options)
        options: dict[str, Any] = {}
        for layer in layers:
            options.update(layer)
        return options


def papers() -> list[str]:
    """The names of the papers that have a grid, sorted."""
    return sorted(path.stem for path in GRID_DIR.glob("*.yaml"))


def _entry(node: Any, where: str, n_metrics: int, columns: list[str], figure: bool) -> Entry:
    if not isinstance(node, dict):
        raise ConfigError(f"grid {where}: an entry must be a mapping, got {node!r}")
    _check_keys(node, {"name", "model", "options", "x", "paper", "seeds"}, where)
    name = _field(node, "name", str, where)
    x = _field(node, "x", (int, float), where, None)
    if figure and x is None:
        raise ConfigError(f"grid {where}: entry '{name}' of a figure needs 'x'")
    if not figure and x is not None:
        raise ConfigError(f"grid {where}: entry '{name}' has 'x', but its table has no 'x_label'")
    paper = {}
    for column, numbers in _field(node, "paper", dict, where, {}).items():
        if column not in columns:
            raise ConfigError(
                f"grid {where}.paper: unknown column '{column}'; paper_datasets: "
                f"{', '.join(columns)}"
            )
        if (
            not isinstance(numbers, list)
            or len(numbers) != n_metrics
            or not all(
                n is None or (isinstance(n, (int, float)) and not isinstance(n, bool))
                for n in numbers
            )
        ):
            raise ConfigError(
                f"grid {where}.paper.{column}: must be a list of {n_metrics} numbers or ~ (one "
                f"per metric), got {numbers!r}"
            )
        paper[column] = tuple(None if n is None else float(n) for n in numbers)
    model = _field(node, "model", str, where, None)
    if model is None and not paper:
        raise ConfigError(f"grid {where}: entry '{name}' has neither a model nor paper numbers")
    seeds = _positive(node, "seeds", where) if node.get("seeds") is not None else None
    return Entry(name, model, _options(node, "options", where), x, paper, seeds)


def _table(name: str, node: Any, path: Path, n_metrics: int, columns: list[str]) -> Table:
    where = _where(path, "tables", name)
    if not isinstance(node, dict):
        raise ConfigError(f"grid {where}: a table must be a mapping, got {node!r}")
    _check_keys(node, {"title", "note", "x_label", "entries", "choose_lr"}, where)
    x_label = _field(node, "x_label", str, where, None)
    nodes = _field(node, "entries", list, where)
    entries = tuple(
        _entry(entry, f"{where}.entries[{i}]", n_metrics, columns, x_label is not None)
        for i, entry in enumerate(nodes)
    )
    names = [entry.name for entry in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or not entries:
        raise ConfigError(
            f"grid {where}: entries must have distinct names (repeated: {', '.join(duplicates)})"
            if duplicates
            else f"grid {where}: no entries"
        )
    return Table(
        name,
        _field(node, "title", str, where),
        _field(node, "note", str, where, None),
        x_label,
        entries,
        _field(node, "choose_lr", bool, where, False),
    )


def _dataset(name: str, node: Any, path: Path, columns: list[str]) -> DatasetSection:
    where = _where(path, "datasets", name)
    if not isinstance(node, dict):
        raise ConfigError(f"grid {where}: a dataset section must be a mapping, got {node!r}")
    _check_keys(node, {"paper", "note", "options", "models", "learning_rates"}, where)
    paper = _field(node, "paper", str, where, None)
    if paper is not None and paper not in columns:
        raise ConfigError(
            f"grid {where}: paper column '{paper}' is not in paper_datasets ({', '.join(columns)})"
        )
    return DatasetSection(
        name,
        paper,
        _field(node, "note", str, where, None),
        _options(node, "options", where),
        _per_model(node, "models", where),
        _learning_rates(node, where, None),
    )


def _learning_rates(node: Mapping[str, Any], where: str, default):
    """``node['learning_rates']``: increasing positive numbers (the ladder that
    :mod:`~recbole_hug.reproduce.learning_rates` searches), or ``default`` if absent."""
    values = _field(node, "learning_rates", list, where, None)
    if values is None:
        return default
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError(f"grid {where}: 'learning_rates' must be positive numbers, got {values}")
    if len(set(values)) != len(values):
        raise ConfigError(f"grid {where}: 'learning_rates' has a repeated value: {values}")
    if list(values) != sorted(values):
        raise ConfigError(f"grid {where}: 'learning_rates' must be increasing, got {values}")
    return tuple(float(v) for v in values)


def _positive(node: Mapping[str, Any], key: str, where: str) -> int:
    value = _field(node, key, int, where)
    if value < 1:
        raise ConfigError(f"grid {where}: '{key}' must be >= 1, got {value}")
    return value


def load_grid(paper: str) -> Grid:
    """Read and check the grid of ``paper`` (``properties/reproduce/<paper>.yaml``).

    Raises:
        ConfigError: an unknown paper (the message lists the papers) or a malformed grid.
    """
    known = papers()
    if paper not in known:
        raise ConfigError(f"unknown paper '{paper}'; papers: {', '.join(known)}")
    path = GRID_DIR / f"{paper}.yaml"
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"grid {path} is not valid yaml: {error}") from error
    if not isinstance(content, dict):
        raise ConfigError(f"grid {path} must hold a mapping, not {content!r}")
    where = _where(path)
    keys = {
        "title", "metrics", "metric_names", "paper_scale", "decimals", "paper_datasets", "seeds",
        "first_seed", "protocol", "options", "models", "datasets", "quick", "tables",
        "learning_rates",
    }  # fmt: skip
    _check_keys(content, keys, where)
    metrics = tuple(_field(content, "metrics", list, where))
    metric_names = tuple(_field(content, "metric_names", list, where))
    if not metrics or len(metric_names) != len(metrics):
        raise ConfigError(f"grid {where}: 'metrics' and 'metric_names' must be as long, not empty")
    columns = list(_field(content, "paper_datasets", list, where))
    quick = _field(content, "quick", dict, where)
    _check_keys(quick, {"seeds", "options", "models", "learning_rates"}, _where(path, "quick"))
    datasets = _field(content, "datasets", dict, where)
    tables = _field(content, "tables", dict, where)
    if not datasets or not tables:
        raise ConfigError(f"grid {where}: 'datasets' and 'tables' must not be empty")
    return Grid(
        paper=paper,
        path=path,
        title=_field(content, "title", str, where),
        metrics=tuple(str(m).lower() for m in metrics),
        metric_names=tuple(str(m) for m in metric_names),
        paper_scale=float(_field(content, "paper_scale", (int, float), where)),
        decimals=_field(content, "decimals", int, where),
        seeds=_positive(content, "seeds", where),
        first_seed=_field(content, "first_seed", int, where),
        protocol=_options(content, "protocol", where),
        options=_options(content, "options", where),
        models=_per_model(content, "models", where),
        datasets={name: _dataset(name, node, path, columns) for name, node in datasets.items()},
        quick_seeds=_positive(quick, "seeds", _where(path, "quick")),
        quick_options=_options(quick, "options", _where(path, "quick")),
        quick_models=_per_model(quick, "models", _where(path, "quick")),
        tables={
            name: _table(name, node, path, len(metrics), columns) for name, node in tables.items()
        },
        learning_rates=_learning_rates(content, where, ()),
        quick_learning_rates=_learning_rates(quick, _where(path, "quick"), None),
    )
