"""Every Python package of the source tree is in pyproject's package list.

A package missing there works from a checkout (and in an editable install)
but not after `pip install .`, which is what the README's main command does:
`auditor plan` failed that way with "No module named 'auditor.plan'".
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_of_the_tree_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {name: ROOT / folder for name, folder in config.get("package-dir", {}).items()}
    # every folder holding Python modules (a namespace package without __init__.py too)
    found = {".".join(module.parent.relative_to(ROOT).parts) for top in ("auditor", "checks") for module in (ROOT / top).rglob("*.py")}
    missing = sorted(found - listed)
    assert not missing, f"packages not in pyproject.toml [tool.setuptools] packages (pip install . would leave them out): {missing}"
    for name, folder in mapped.items():
        assert name in listed and folder.is_dir(), (name, folder)
