"""Where the plugin's shipped files live: ``properties/`` (yaml defaults) and ``atomic_data/``."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent

#: The project's root in a clone: the folder holding ``properties/``, ``atomic_data/`` and
#: ``run_recbole_hug.py``.
PROJECT_ROOT = _PACKAGE_DIR.parent

#: Overall, per-model and per-dataset yaml defaults, layered over RecBole's own: the clone's
#: top-level ``properties/``, or ``recbole_hug/properties/`` inside an installed wheel.
PROPERTIES_DIR = (
    _PACKAGE_DIR / "properties"
    if (_PACKAGE_DIR / "properties").is_dir()
    else PROJECT_ROOT / "properties"
)

#: Atomic datasets shipped with the plugin, and where users drop their own
#: (``atomic_data/<name>/<name>.inter``).
ATOMIC_DATA_DIR = PROJECT_ROOT / "atomic_data"
