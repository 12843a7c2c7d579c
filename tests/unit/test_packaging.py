"""The wheel's package list (`[tool.setuptools] packages` in pyproject.toml) names every package
of the code: a package left out is missing from a built wheel, while the editable install the
tests run on still finds it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = (ROOT / "layers" / "stratus", ROOT / "infra")


def packages_on_disk() -> set[str]:
    found: set[str] = set()
    for source_root in SOURCE_ROOTS:
        for init in source_root.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            found.add(".".join(init.parent.relative_to(source_root).parts))
    return found


def test_the_wheel_lists_every_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert packages_on_disk() == listed
