"""The explicit registry: a model name maps to its model class, dataset class, yaml and trainer.

No name-guessing: a plugin model is found because it is registered here (the shipped ones in
:data:`BUILTIN_MODELS`, a user's own through :func:`register`), and RecBole's built-in models are
found by RecBole's own module layout (``recbole_hug.utils.get_model``).

Classes may be given as ``"package.module:Class"`` strings, imported on first use, so that reading
the registry imports no model code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recbole_hug.errors import ConfigError
from recbole_hug.paths import PROPERTIES_DIR


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
    """The registration of ``name``, or None when it is not a plugin model."""
    return _REGISTRY.get(name)


def registered_models() -> list[str]:
    """The names of the registered plugin models, sorted."""
    return sorted(_REGISTRY)
