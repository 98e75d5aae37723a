"""Search spaces and trials, shared by every tuning tool (:mod:`recbole_hug.tune`).

A search space is a RecBole params file, one parameter a line, ``NAME TYPE VALUES``, as RecBole's
``HyperTuning`` reads it::

    learning_rate loguniform -8,0
    embedding_size choice [64,96,128]
    dropout_prob uniform 0.1,0.5
    n_layers quniform 1,4,1

``loguniform`` bounds are natural logs (``-8,0`` is ``exp(-8)`` to 1), ``quniform LOW,HIGH,Q`` is
rounded to multiples of Q (integers when LOW, HIGH and Q are), ``choice`` takes a list of Python
literals (bare words too: ``[MP,SE]``). RecBole's parser reads no comments, so the files have
none. Every line is checked before any trial runs: its format, its range, that it names an option
of RecBole, of the plugin or of the model, and that its values have the option's type (a value
that the model itself refuses stops the tuning at the first trial that draws it, with its error).
A trial is one :func:`recbole_hug.quick_start.objective_function` run (:func:`run_trial`).
"""

from __future__ import annotations

import ast
import copy
import difflib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from recbole_hug.config import Config, parse_option_value
from recbole_hug.errors import ConfigError, HugError
from recbole_hug.quick_start import objective_function

#: The parameter types of RecBole's params files, with the values each takes.
PARAM_TYPES = {
    "choice": "a list such as [64,96] or ['MP','SE']",
    "uniform": "LOW,HIGH",
    "quniform": "LOW,HIGH,Q",
    "loguniform": "LOW,HIGH (natural logs)",
}
#: The result that ranks trials: RecBole's best validation score (of ``valid_metric``).
SCORE = "best_valid_score"
#: The metrics of ``objective_function``'s result: validation and test of the best epoch.
RESULTS = ("best_valid_result", "test_result")


# --------------------------------------------------------------------------------------------
# Search spaces
@dataclass(frozen=True)
class SearchParam:
    """One line of a params file.

    Attributes:
        name: the option tuned.
        kind: ``choice``, ``uniform``, ``quniform`` or ``loguniform``.
        values: a choice's candidates; ``(low, high)`` of a uniform or loguniform range (natural
            logs for loguniform); ``(low, high, q)`` of a quniform one.
        line: the line number in the params file.
    """

    name: str
    kind: str
    values: tuple[Any, ...]
    line: int

    def typed(self, value: Any) -> Any:
        """A sampled value as the option takes it: a Python value (never a numpy scalar), an
        int for a quniform range on an integer grid, a fresh copy of a choice."""
        if isinstance(value, np.generic):
            value = value.item()
        if self.kind == "quniform" and all(float(bound).is_integer() for bound in self.values):
            return int(round(value))
        return copy.deepcopy(value)

    def extremes(self) -> list[Any]:
        """The values checked before tuning: every choice, or the two ends of a range."""
        if self.kind == "choice":
            return list(self.values)
        low, high = self.values[:2]
        if self.kind == "loguniform":
            low, high = math.exp(low), math.exp(high)
        return [self.typed(low), self.typed(high)]


@dataclass(frozen=True)
class SearchSpace:
    """The parameters of one params file, in file order."""

    file: Path
    params: tuple[SearchParam, ...]

    def where(self, param: SearchParam) -> str:
        """``params file FILE, line N``, for messages."""
        return f"params file {self.file}, line {param.line}"

    def typed(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's sampled options, typed (:meth:`SearchParam.typed`), in file order."""
        return {param.name: param.typed(sample[param.name]) for param in self.params}

    def hyperopt_space(self) -> dict[str, Any]:
        """The space as hyperopt expressions (as ``HyperTuning._build_space_from_file`` builds it).

        Each choice is a hyperopt ``Literal``, so that a list-valued choice (``edge_types``) is
        one value, as RecBole's exhaustive search expects (it reads each choice's ``.obj``).
        """
        from hyperopt import hp
        from hyperopt.pyll import Literal

        space: dict[str, Any] = {}
        for param in self.params:
            if param.kind == "choice":
                space[param.name] = hp.choice(param.name, [Literal(v) for v in param.values])
            else:
                space[param.name] = getattr(hp, param.kind)(param.name, *param.values)
        return space

    def ray_space(self, tune: ModuleType, grid: bool) -> dict[str, Any]:
        """The space as Ray Tune domains (as RecBole's ``run_hyper.py`` builds it): choices as
        ``grid_search`` when ``grid`` (exhaustive search), else sampled."""
        space: dict[str, Any] = {}
        for param in self.params:
            if param.kind == "choice":
                sample = tune.grid_search if grid else tune.choice
                space[param.name] = sample(list(param.values))
            elif param.kind == "loguniform":
                space[param.name] = tune.loguniform(*(math.exp(bound) for bound in param.values))
            else:
                space[param.name] = getattr(tune, param.kind)(*param.values)
        return space


def read_params_file(path: str | Path) -> SearchSpace:
    """Read a search space in RecBole's params-file format (see the module docstring).

    Raises:
        ConfigError: naming the file and line: an unreadable file, a malformed line, an unknown
            type, values that are not numbers or a list, an empty range or choice, a parameter
            given twice, or no parameter at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read params file {path}: {error.strerror}") from error
    params: dict[str, SearchParam] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            param = _parse_line(line, f"params file {path}, line {number}", number)
            if param.name in params:
                raise ConfigError(
                    f"params file {path}, line {number}: '{param.name}' is already given on "
                    f"line {params[param.name].line}"
                )
            params[param.name] = param
    if not params:
        raise ConfigError(
            f"params file {path} holds no parameter; write lines such as "
            "'learning_rate loguniform -8,0'"
        )
    return SearchSpace(path, tuple(params.values()))


def _parse_line(line: str, where: str, number: int) -> SearchParam:
    """One ``NAME TYPE VALUES`` line (``where`` names it in errors)."""
    if line.lstrip().startswith("#"):
        raise ConfigError(f"{where}: RecBole's params files have no comments, got {line!r}")
    fields = line.split(None, 2)
    if len(fields) < 3:
        raise ConfigError(
            f"{where}: expected 'NAME TYPE VALUES' (e.g. 'learning_rate loguniform -8,0'), "
            f"got {line.strip()!r}"
        )
    name, kind, text = fields
    if kind not in PARAM_TYPES:
        expected = "; ".join(f"{key} {values}" for key, values in PARAM_TYPES.items())
        raise ConfigError(f"{where}: unknown type '{kind}' of '{name}'; expected {expected}")
    wrong = ConfigError(f"{where}: {kind} of '{name}' takes {PARAM_TYPES[kind]}, got {text!r}")
    if kind == "choice":
        values = _choice_values(text.strip(), wrong)
        if not values:
            raise ConfigError(f"{where}: empty choice for '{name}': give at least one value")
        return SearchParam(name, kind, tuple(values), number)
    try:
        bounds = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise wrong from None
    if len(bounds) != (3 if kind == "quniform" else 2) or not all(map(math.isfinite, bounds)):
        raise wrong
    if not bounds[0] < bounds[1]:
        raise ConfigError(
            f"{where}: empty range for '{name}': LOW ({bounds[0]:g}) must be below HIGH "
            f"({bounds[1]:g})"
        )
    if kind == "quniform" and bounds[2] <= 0:
        raise ConfigError(f"{where}: Q of '{name}' must be above 0, got {bounds[2]:g}")
    return SearchParam(name, kind, bounds, number)


def _choice_values(text: str, wrong: ConfigError) -> list[Any]:
    """A choice's list: Python literals (never ``eval``), or a flat list of bare words."""
    try:
        values = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        inner = text[1:-1]
        if not (text.startswith("[") and text.endswith("]")) or "[" in inner or "]" in inner:
            raise wrong from None
        values = parse_option_value(text)
    if not isinstance(values, list):
        raise wrong
    return values


def check_space(
    space: SearchSpace,
    base: Config,
    fixed: Mapping[str, Any],
    config_file_list: Sequence[str] | None,
    algo: str,
) -> None:
    """Check a search space against the run's options before any trial.

    Args:
        space: the parameters.
        base: the run's Config (its model, dataset and fixed options).
        fixed: the options every trial gets (model, dataset, command-line options).
        config_file_list: the run's config files.
        algo: the search algorithm.

    Raises:
        ConfigError: naming the file, line and option: an option that neither RecBole, the plugin
            nor the model declares, a non-choice parameter in an exhaustive search, or a value
            that the option's checks refuse.
    """
    known = base.known_options()
    for param in space.params:
        where = space.where(param)
        if param.name not in known:
            close = difflib.get_close_matches(param.name, sorted(known), n=1, cutoff=0.8)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{where}: unknown option '{param.name}': not an option of RecBole, recbole-hug "
                f"or model {base['model']}{hint}"
            )
        if algo == "exhaustive" and param.kind != "choice":
            raise ConfigError(
                f"{where}: exhaustive search enumerates choices only, and '{param.name}' is "
                f"{param.kind}: pass --algo=random or --algo=bayes, or make it a choice"
            )
        for value in param.extremes():
            try:
                Config(config_file_list=config_file_list, config_dict={**fixed, param.name: value})
            except HugError as error:
                raise ConfigError(f"{where}: {param.name} = {value!r}: {error}") from error


# --------------------------------------------------------------------------------------------
# Trials
@dataclass(frozen=True)
class TrialResult:
    """One trial: its tuned options and what ``objective_function`` reported.

    Attributes:
        params: the tuned options, typed.
        best_valid_score: the best validation score (of ``valid_metric``).
        valid_result: the validation metrics of the best epoch.
        test_result: the test metrics of the best epoch's model.
        seconds: the trial's wall-clock time.
    """

    params: dict[str, Any]
    best_valid_score: float
    valid_result: dict[str, float]
    test_result: dict[str, float]
    seconds: float

    def metrics(self) -> dict[str, float]:
        """Flat results: ``best_valid_score``, ``valid_<metric>``, ``test_<metric>``, ``seconds``
        (what a Ray trial reports, and the table's result columns)."""
        return {
            SCORE: self.best_valid_score,
            **{f"valid_{key}": value for key, value in self.valid_result.items()},
            **{f"test_{key}": value for key, value in self.test_result.items()},
            "seconds": self.seconds,
        }

    @classmethod
    def from_metrics(cls, params: dict[str, Any], metrics: Mapping[str, Any]) -> TrialResult:
        """The trial that reported ``metrics`` (the inverse of :meth:`metrics`)."""

        def prefixed(prefix: str) -> dict[str, float]:
            return {k[len(prefix) :]: v for k, v in metrics.items() if k.startswith(prefix)}

        return cls(
            params, metrics[SCORE], prefixed("valid_"), prefixed("test_"), metrics["seconds"]
        )


def run_trial(
    space: SearchSpace,
    sample: Mapping[str, Any],
    fixed: Mapping[str, Any],
    config_file_list: Sequence[str] | None,
    on_valid: Callable[[int, float], None] | None = None,
) -> tuple[TrialResult, dict[str, Any]]:
    """Train and test with the fixed options and one sample of the space; ``on_valid(epoch,
    score)`` receives each validation score (a tuner's pruning).

    Returns:
        The trial, and ``objective_function``'s result (what ``HyperTuning`` reads).
    """
    params = space.typed(sample)
    start = time.perf_counter()
    result = objective_function({**fixed, **params}, config_file_list, on_valid=on_valid)
    seconds = time.perf_counter() - start
    valid, test = ({k: float(v) for k, v in result[key].items()} for key in RESULTS)
    trial = TrialResult(params, float(result[SCORE]), valid, test, seconds)
    return trial, result
