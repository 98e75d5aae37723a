"""Where the plugin's shipped files live: ``properties/`` (yaml defaults) and ``atomic_data/``."""

from __future__ import annotations

from pathlib import Path

#: The project's root: the folder holding ``properties/``, ``atomic_data/`` and
#: ``run_recbole_hug.py`` (the package is installed from a clone, editable: see the README).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Overall, per-model and per-dataset yaml defaults, layered over RecBole's own.
PROPERTIES_DIR = PROJECT_ROOT / "properties"

#: Atomic datasets shipped with the plugin, and where users drop their own
#: (``atomic_data/<name>/<name>.inter``).
ATOMIC_DATA_DIR = PROJECT_ROOT / "atomic_data"
