"""Model and trainer lookup: the plugin's registry first, then RecBole's own models."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import pkgutil
from functools import cache

from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import ModelType
from recbole.utils import get_trainer as recbole_get_trainer

from recbole_hug import registry
from recbole_hug.compat import preserve_anomaly_mode
from recbole_hug.distributed import distributed_trainer
from recbole_hug.errors import ConfigError
from recbole_hug.trainer import hug_trainer

#: RecBole's model packages, in the order RecBole searches them.
RECBOLE_MODEL_PACKAGES: tuple[str, ...] = (
    "general_recommender",
    "context_aware_recommender",
    "sequential_recommender",
    "knowledge_aware_recommender",
)
#: RecBole's models that wrap optional external libraries (``recbole.model.exlib_recommender``).
RECBOLE_EXLIB_MODELS: dict[str, str] = {"lightgbm": "LightGBM", "xgboost": "XGBoost"}


@cache
def recbole_model_names() -> tuple[str, ...]:
    """The names of RecBole's built-in models, sorted (imports RecBole's model packages)."""
    names = set(RECBOLE_EXLIB_MODELS.values())
    for package in RECBOLE_MODEL_PACKAGES:
        with preserve_anomaly_mode():
            module = importlib.import_module(f"recbole.model.{package}")
        for _, module_name, _ in pkgutil.iter_modules(module.__path__):
            submodule = importlib.import_module(f"{module.__name__}.{module_name}")
            names.update(
                name
                for name, obj in vars(submodule).items()
                if inspect.isclass(obj)
                and issubclass(obj, AbstractRecommender)
                and obj.__module__ == submodule.__name__
                and name.lower() == module_name
            )
    return tuple(sorted(names))


def _unknown_model(name: str) -> ConfigError:
    ours = registry.registered_models()
    recbole_names = recbole_model_names()
    close = difflib.get_close_matches(name, [*ours, *recbole_names], n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ConfigError(
        f"unknown model '{name}' (option 'model').{hint}\n"
        f"  recbole-hug models: {', '.join(ours) or '(none registered)'}\n"
        f"  RecBole models: {', '.join(recbole_names)}"
    )


def get_model(model_name: str) -> type:
    """The class of a plugin model or of a RecBole built-in model.

    Raises:
        ConfigError: the name is neither registered nor a RecBole model (the message lists both),
            or a RecBole model needs an optional package that is not installed.
    """
    spec = registry.get_spec(model_name)
    if spec is not None:
        return spec.model_class
    with preserve_anomaly_mode():
        model_class = _find_recbole_model(model_name)
    if model_class is None:
        raise _unknown_model(model_name)
    return model_class


def _find_recbole_model(model_name: str) -> type | None:
    """RecBole's class for ``model_name`` (RecBole's own lookup, minus its exlib probing)."""
    file_name = model_name.lower()
    for package in RECBOLE_MODEL_PACKAGES:
        module_path = f"recbole.model.{package}.{file_name}"
        if importlib.util.find_spec(module_path) is not None:
            return getattr(importlib.import_module(module_path), model_name, None)
    if RECBOLE_EXLIB_MODELS.get(file_name) == model_name:
        try:
            module = importlib.import_module(f"recbole.model.exlib_recommender.{file_name}")
        except ImportError as error:
            raise ConfigError(
                f"model '{model_name}' needs the package '{file_name}': pip install {file_name}"
            ) from error
        return getattr(module, model_name)
    return None


def get_trainer(model_type: ModelType, model_name: str) -> type:
    """The registered trainer of a plugin model, else RecBole's choice for the model, with
    :class:`recbole_hug.trainer.HugTrainerMixin` in front (learning-rate step decay) and
    :class:`recbole_hug.distributed.DistributedTrainerMixin` (DDP, exact metrics)."""
    spec = registry.get_spec(model_name)
    if spec is not None and spec.trainer is not None:
        return hug_trainer(distributed_trainer(spec.trainer_class))
    return hug_trainer(distributed_trainer(recbole_get_trainer(model_type, model_name)))
