"""Checks that run before training: option values (Config), then the data against the options.

RecBole meets these inputs with a traceback, some only after an epoch of training (a ``topk``
larger than the number of items, a ``valid_metric`` that is not computed), some not at all
(``--use_gpu=maybe`` is used as true). Each check raises a
:class:`~recbole_hug.errors.HugError` naming the option and what was expected, before any
training.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml
from recbole.evaluator.register import metrics_dict

from recbole_hug.errors import ConfigError, DataError

#: Options that must be integers >= 1 (when set).
POSITIVE_INT_OPTIONS: tuple[str, ...] = (
    "train_batch_size",
    "eval_batch_size",
    "MAX_ITEM_LIST_LENGTH",
)


@cache
def recbole_bool_options(overall_yaml: str) -> frozenset[str]:
    """The options that RecBole's ``overall.yaml`` (at ``overall_yaml``) declares as booleans."""
    with open(overall_yaml, encoding="utf-8") as file:
        defaults = yaml.safe_load(file)
    return frozenset(key for key, value in defaults.items() if isinstance(value, bool))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_option_values(
    options: Mapping[str, Any], given: Mapping[str, Any], bools: frozenset[str]
) -> None:
    """Check a Config's final ``options``; ``given`` are the user's (booleans in ``bools``).

    Raises:
        ConfigError: a boolean option that is not true or false, a batch size or
            ``MAX_ITEM_LIST_LENGTH`` below 1, or a ``valid_metric`` that is not among the
            metrics computed (``metrics`` at each ``topk``), naming the option.
    """
    for key in sorted(bools & set(given)):
        if not isinstance(given[key], bool):
            raise ConfigError(f"option '{key}' must be True or False, got {given[key]!r}")
    for key in POSITIVE_INT_OPTIONS:
        value = options.get(key)
        if value is not None and (not _is_int(value) or value < 1):
            raise ConfigError(f"option '{key}' must be an integer >= 1, got {value!r}")
    computed = computed_metrics(options)
    valid_metric = str(options.get("valid_metric", "")).lower()
    if computed and valid_metric not in computed:
        raise ConfigError(
            f"option 'valid_metric' is {options.get('valid_metric')!r}, which is not computed; "
            f"expected one of {', '.join(computed)} (options 'metrics' {options.get('metrics')} "
            f"at 'topk' {options.get('topk')})"
        )


def computed_metrics(options: Mapping[str, Any]) -> list[str]:
    """The names of the metrics RecBole reports (``ndcg@10``, ``auc``), lower case; empty when
    ``metrics`` names one RecBole does not know (RecBole's own check reports it)."""
    names = options.get("metrics") or []
    names = [names] if isinstance(names, str) else list(names)
    topk = options.get("topk") or []
    topk = [topk] if _is_int(topk) else list(topk)
    computed: list[str] = []
    for name in (str(name).lower() for name in names):
        metric = metrics_dict.get(name)
        if metric is None:
            return []
        if "rec.topk" in metric.metric_need:
            computed += [f"{name}@{k}" for k in topk]
        else:
            computed.append(name)
    return computed


def empty_part(config: Any, dataset: Any, part: str) -> DataError:
    """The error for a ``part`` (train, valid, test) of ``dataset`` without rows."""
    return DataError(
        f"dataset '{config['dataset']}' has no {part} rows after filtering and splitting "
        f"({dataset.user_num - 1} users): each user needs enough interactions for the split "
        f"(options 'eval_args' {config['eval_args']}, "
        "'eval_protocol', the filters 'user_inter_num_interval', 'item_inter_num_interval')"
    )


def check_data(config: Any, dataset: Any, parts: Mapping[str, Any]) -> None:
    """Check the split data against the options, before training.

    Args:
        config: the run's Config.
        dataset: the filtered dataset (its ``item_num`` counts RecBole's padding item).
        parts: ``train``, ``valid`` and ``test`` datasets.

    Raises:
        DataError: a part without rows (too few interactions per user for the split, or
            filters that leave nothing), naming the dataset and the options that decide it.
        ConfigError: a ``topk`` larger than the number of items ranked (full ranking).
    """
    name = config["dataset"]
    for part, data in parts.items():
        if len(data) == 0:
            raise empty_part(config, dataset, part)
    topk = config["topk"] or []
    items = dataset.item_num - 1
    mode = config["eval_args"]["mode"]
    full_sort = (mode.get("valid", "full") if isinstance(mode, dict) else mode) == "full"
    if full_sort and topk and max(topk) > items:
        raise ConfigError(
            f"option 'topk' {topk} asks for more items than dataset '{name}' has ({items}); "
            f"pass --topk with cut-offs <= {items} (and a valid_metric among them)"
        )
