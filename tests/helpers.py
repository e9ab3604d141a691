"""Shared test helpers: audit real targets through the real engine."""

from __future__ import annotations

import os
import textwrap
from typing import Any

from auditor.inventory import load_inventory
from auditor.model import Finding, Run
from auditor.policy import load_policy
from auditor.registry import Registry
from auditor.runner import RunOptions, Runner

_REGISTRY: Registry | None = None


def registry() -> Registry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry.load()
    return _REGISTRY


def write(path: str, text: str) -> str:
    """Write dedented text to path (creating folders) and return the path."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(textwrap.dedent(text).lstrip("\n"))
    return path


def audit(inventory_path: str, policy: str = "baseline-eu", **options: Any) -> Run:
    """Run the real runner on an inventory file; returns the Run."""
    reg = registry()
    inv = load_inventory(inventory_path)
    pol = load_policy(policy, reg)
    opts = RunOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})
    return Runner(reg, inv, pol, opts).run()


def verdicts(run: Run) -> dict[tuple[str, str], Finding]:
    """(control id, target id) -> finding."""
    return {(f.control, f.target): f for f in run.findings}


def statuses(run: Run) -> dict[tuple[str, str], str]:
    return {k: f.status.value for k, f in verdicts(run).items()}
