"""The package's shape: what the wheel ships, and the rule that every yaml option is commented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package_and_the_properties() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "recbole_hug").rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == on_disk | {"recbole_hug.properties"}
    assert setuptools["package-dir"]["recbole_hug.properties"] == "properties"


def test_every_shipped_yaml_option_has_a_comment() -> None:
    files = sorted((ROOT / "properties").rglob("*.yaml"))
    assert files
    for path in files:
        content = yaml.safe_load(path.read_text())
        assert isinstance(content, dict), path
        for line in path.read_text().splitlines():
            if re.match(r"^[A-Za-z_][\w-]*\s*:", line):
                assert "#" in line, f"{path.name}: option without a comment: {line!r}"
