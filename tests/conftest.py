"""Fixtures shared by the whole suite."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN_DIR = os.path.join(HERE, "plugin")


@pytest.fixture(scope="session")
def test_plugin():
    """The misbehaving test check module, imported from its file."""
    if PLUGIN_DIR not in sys.path:
        sys.path.insert(0, PLUGIN_DIR)
    return importlib.import_module("auditor_test_plugin")


@pytest.fixture()
def plugin_path(tmp_path):
    """A folder that installs the test plug-in through the real entry-point group.

    Put it on PYTHONPATH and importlib.metadata finds ``auditor.checks``.
    """
    root = tmp_path / "site"
    dist = root / "auditor_test_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: auditor-test-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[auditor.checks]\ntest = auditor_test_plugin\n")
    with open(os.path.join(PLUGIN_DIR, "auditor_test_plugin.py"), encoding="utf-8") as src:
        (root / "auditor_test_plugin.py").write_text(src.read())
    return str(root)


@pytest.fixture()
def local_inventory(tmp_path):
    """Write an inventory with local servers; returns a function(name=..., extra yaml)."""

    def make(text: str = "", name: str = "inventory.yaml") -> str:
        path = tmp_path / name
        body = text or """
            servers:
              - name: here
                connection: local
                country: SE
            """
        path.write_text(textwrap.dedent(body).lstrip("\n"))
        return str(path)

    return make
