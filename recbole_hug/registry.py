"""The explicit registry: a model name maps to its model class, dataset class, yaml and trainer.

No name-guessing: a plugin model is found because it is registered here (the shipped ones in
:data:`BUILTIN_MODELS`, a user's own through :func:`register`), because an installed package
declares it, or because it is named by its import path; RecBole's built-in models are found by
RecBole's own module layout (``recbole_hug.utils.get_model``). The last two hold in every
process (DDP and Ray workers, ``load_data_and_model``, serving), since each one finds the model
again from its name alone:

- **Entry points**: a package declares ``NAME = "package.module:Class"`` in the
  :data:`ENTRY_POINT_GROUP` group of its metadata (``[project.entry-points."recbole_hug.models"]``
  in its ``pyproject.toml``); ``--model=NAME`` then runs it, once the package is installed.
- **Import paths**: ``--model=package.module:Class`` imports the class; the model's name (in log
  and checkpoint file names, and in saved options) is that path.

Either target is a model class, with its dataset, trainer and yaml found beside it
(:func:`spec_beside`): ``<Class>Dataset`` and ``<Class>Trainer`` in its module, ``<Class>.yaml`` in
its module's folder; or a :class:`ModelSpec`, which names them.

Classes may be given as ``"package.module:Class"`` strings, imported on first use, so that reading
the registry imports no model code.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from recbole_hug.errors import ConfigError
from recbole_hug.paths import PROPERTIES_DIR

#: The entry-point group in which installed packages declare their models.
ENTRY_POINT_GROUP = "recbole_hug.models"


def _resolve(target: type | str | None) -> Any:
    """Import ``"module:attr"`` strings; pass classes and None through."""
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class ModelSpec:
    """What the plugin needs to run one model.

    Attributes:
        name: the model name used on the command line (``--model=NAME``).
        model: the model class (a RecBole ``AbstractRecommender``) or ``"module:Class"``.
        dataset: the dataset class, or None for RecBole's default for the model's type.
        config_file: the model's yaml defaults, or None.
        trainer: the trainer class, or None for RecBole's default for the model's type.
        session_dataset: the dataset class under ``session_rows: True``, or None for
            ``dataset`` (HUGT: the session rows with HUGT's training targets).
    """

    name: str
    model: type | str
    dataset: type | str | None = None
    config_file: Path | None = None
    trainer: type | str | None = None
    session_dataset: type | str | None = None

    @property
    def model_class(self) -> type:
        return _resolve(self.model)

    @property
    def dataset_class(self) -> type | None:
        return _resolve(self.dataset)

    @property
    def trainer_class(self) -> type | None:
        return _resolve(self.trainer)

    @property
    def session_dataset_class(self) -> type | None:
        return _resolve(self.session_dataset)


def default_config_file(name: str) -> Path:
    """Where a shipped model's yaml lives: ``properties/model/<name>.yaml``."""
    return PROPERTIES_DIR / "model" / f"{name}.yaml"


#: The models this package ships.
BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "HUGT",
        "recbole_hug.model.hugt:HUGT",
        dataset="recbole_hug.data.hugt_dataset:HUGTDataset",
        config_file=default_config_file("HUGT"),
        session_dataset="recbole_hug.data.hugt_session_dataset:HUGTSessionDataset",
    ),
    ModelSpec(
        "HGGNN",
        "recbole_hug.model.hggnn:HGGNN",
        dataset="recbole_hug.data.session_dataset:SessionDataset",
        config_file=default_config_file("HGGNN"),
    ),
)

_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in BUILTIN_MODELS}


def register(
    name: str,
    model: type | str,
    dataset: type | str | None = None,
    config_file: str | Path | None = None,
    trainer: type | str | None = None,
    *,
    overwrite: bool = False,
) -> ModelSpec:
    """Register a model so that every entry point (runs, HyperTuning, reloading) finds it.

    Args:
        name: the name used in configs and on the command line.
        model: the model class or ``"module:Class"``.
        dataset: its dataset class (or ``"module:Class"``), None for RecBole's default.
        config_file: its yaml of default options, None for none.
        trainer: its trainer class (or ``"module:Class"``), None for RecBole's default.
        overwrite: replace an existing registration of the same name.

    Raises:
        ConfigError: the name is taken (and ``overwrite`` is False) or the yaml does not exist.
    """
    if name in _REGISTRY and not overwrite:
        raise ConfigError(f"model '{name}' is already registered (pass overwrite=True to replace)")
    path = Path(config_file) if config_file is not None else None
    if path is not None and not path.is_file():
        raise ConfigError(f"config_file of model '{name}' does not exist: {path}")
    spec = ModelSpec(name, model, dataset, path, trainer)
    _REGISTRY[name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a registration (for tests and interactive work); unknown names are ignored."""
    _REGISTRY.pop(name, None)


def get_spec(name: str) -> ModelSpec | None:
    """The registration of ``name``, or None when it is not a plugin model.

    A name that is not registered is looked up as an import path (``package.module:Class``), then
    among the installed entry points (:data:`ENTRY_POINT_GROUP`); what is found is registered.

    Raises:
        ConfigError: naming the import path or entry point: it does not import, or its target
            is neither a RecBole model class nor a :class:`ModelSpec`.
    """
    spec = _REGISTRY.get(name)
    if spec is None:
        spec = _import_path_spec(name) if ":" in name else _entry_point_spec(name)
        if spec is not None:
            _REGISTRY[name] = spec
    return spec


def registered_models() -> list[str]:
    """The names of the registered plugin models and of the installed entry points, sorted."""
    return sorted(set(_REGISTRY) | {point.name for point in _entry_points()})


def _entry_points() -> metadata.EntryPoints:
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def _import_path_spec(path: str) -> ModelSpec:
    """The model that ``package.module:Class`` names."""
    where = f"model import path '{path}' (--model=package.module:Class)"
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{where}: expected a module and a class, e.g. mypkg.models:MyModel")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"{where}: cannot import module '{module_name}': {error}") from error
    if not hasattr(module, attr):
        raise ConfigError(f"{where}: module '{module_name}' has no attribute '{attr}'")
    return _spec_of(path, getattr(module, attr), where)


def _entry_point_spec(name: str) -> ModelSpec | None:
    """The model that an installed package declares as ``name``, or None."""
    points = [point for point in _entry_points() if point.name == name]
    if not points:
        return None
    values = sorted({point.value for point in points})
    if len(values) > 1:
        raise ConfigError(
            f"model '{name}' is declared by several entry points ({ENTRY_POINT_GROUP}): "
            f"{', '.join(values)}"
        )
    point = points[0]
    package = point.dist.name if point.dist is not None else "an unknown package"
    where = f"entry point '{name} = {point.value}' (group {ENTRY_POINT_GROUP}, of {package})"
    try:
        target = point.load()
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"{where} does not load: {error}") from error
    return _spec_of(name, target, where)


def _spec_of(name: str, target: Any, where: str) -> ModelSpec:
    """The registration of ``name`` from what an import path or entry point gives."""
    from recbole.model.abstract_recommender import AbstractRecommender

    if isinstance(target, ModelSpec):
        return replace(target, name=name)
    if isinstance(target, type) and issubclass(target, AbstractRecommender):
        return spec_beside(name, target)
    raise ConfigError(
        f"{where} gives {target!r}, which is not a RecBole model (a subclass of "
        "recbole.model.abstract_recommender.AbstractRecommender) nor a recbole_hug ModelSpec"
    )


def spec_beside(name: str, model: type) -> ModelSpec:
    """A model class with what lies beside it: ``<Class>Dataset`` and ``<Class>Trainer`` in its
    module, ``<Class>.yaml`` in its module's folder (each one optional)."""
    module = sys.modules[model.__module__]
    stem = model.__name__
    module_file = getattr(module, "__file__", None)
    config_file = Path(module_file).parent / f"{stem}.yaml" if module_file else None
    return ModelSpec(
        name,
        model,
        dataset=getattr(module, f"{stem}Dataset", None),
        config_file=config_file if config_file is not None and config_file.is_file() else None,
        trainer=getattr(module, f"{stem}Trainer", None),
    )
