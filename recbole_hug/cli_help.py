"""``--help`` for a model: its options, their defaults and the comments of its yaml.

The options are read from the yaml that gives the model's defaults (a plugin model's registered
yaml, or RecBole's ``properties/model/<Model>.yaml``), plus ``properties/sessions.yaml`` for a
model whose yaml sets ``session_rows: True``; each line ``key: value  # comment`` is one option.
"""

from __future__ import annotations

import re
from pathlib import Path

from recbole_hug import registry
from recbole_hug.config import RECBOLE_DIR, SESSIONS_FILE
from recbole_hug.errors import HugError
from recbole_hug.utils import get_model

#: The column of the comments (longer flags push theirs right).
FLAG_WIDTH = 28
#: A top-level yaml option with its comment: ``key: value  # comment``.
OPTION_LINE = re.compile(r"^(?P<key>[A-Za-z_]\w*):\s*(?P<value>[^#]*?)\s*(?:#\s*(?P<doc>.*))?$")


def model_yaml_files(model: str) -> list[Path]:
    """The yaml files of a model's default options (none for an unknown model or one without).

    Raises:
        ConfigError: an unknown model, or an import path or entry point that does not resolve.
    """
    get_model(model)
    spec = registry.get_spec(model)
    recbole_file = RECBOLE_DIR / "properties" / "model" / f"{model}.yaml"
    file = spec.config_file if spec is not None else recbole_file
    if file is None or not file.is_file():
        return []
    files = [file]
    if re.search(r"^session_rows:\s*True\b", file.read_text(encoding="utf-8"), re.MULTILINE):
        files.append(SESSIONS_FILE)
    return files


def read_options(file: Path) -> list[tuple[str, str, str]]:
    """The ``(key, default, comment)`` of each top-level option line of a yaml file."""
    options = []
    for line in file.read_text(encoding="utf-8").splitlines():
        match = OPTION_LINE.match(line)
        if match:
            options.append((match["key"], match["value"], match["doc"] or ""))
    return options


def model_options_help(model: str) -> str:
    """The text that ``--help`` ends with: each option of ``model``'s yaml files, as
    ``--key=default  comment``, or a line saying why there is none."""
    try:
        files = model_yaml_files(model)
    except HugError as error:
        return f"model {model}: {error}"
    if not files:
        return f"model {model} has no yaml of options of its own (RecBole's general ones apply)."
    sections = []
    for file in files:
        rows = [(f"--{key}={value}", doc) for key, value, doc in read_options(file)]
        width = min(max((len(flag) for flag, _ in rows), default=0), FLAG_WIDTH)
        lines = [f"  {flag:<{width}}  {doc}".rstrip() for flag, doc in rows]
        sections.append(f"options of model {model} ({file}):\n" + "\n".join(lines))
    return "\n\n".join(sections)
