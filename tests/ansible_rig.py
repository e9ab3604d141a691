"""ansible-core from PyPI in its own venv under /tmp, for comparing with the real thing.

The same venv as bench/fleet.py (``/tmp/auditor-bench-ansible``): made once
with ``python -m venv`` and ``pip install ansible-core``, reused when it is
there; never installed into the project's environment. Every command runs
with an empty ansible.cfg and its own ANSIBLE_HOME, so nothing of this
machine's Ansible setup leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Sequence

import pytest

ANSIBLE_VENV = "/tmp/auditor-bench-ansible"


def ensure_ansible() -> str:
    """The venv's bin folder (installing ansible-core into it first if needed)."""
    bin_dir = os.path.join(ANSIBLE_VENV, "bin")
    if not os.path.exists(os.path.join(bin_dir, "ansible-playbook")):
        subprocess.run([sys.executable, "-m", "venv", ANSIBLE_VENV], check=True)
        subprocess.run([os.path.join(bin_dir, "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "ansible-core"], check=True)
    assert os.path.exists(os.path.join(bin_dir, "ansible-inventory")), f"pip installed ansible-core into {ANSIBLE_VENV} but it has no ansible-inventory"
    return bin_dir


def ansible_env(home: str) -> dict[str, str]:
    os.makedirs(home, exist_ok=True)
    cfg = os.path.join(home, "ansible.cfg")
    if not os.path.exists(cfg):
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write("[defaults]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return env | {"ANSIBLE_CONFIG": cfg, "ANSIBLE_HOME": home, "ANSIBLE_LOCAL_TEMP": os.path.join(home, "tmp"), "PYTHONWARNINGS": "ignore",
                  "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true", "ANSIBLE_NOCOLOR": "1"}


def run_ansible(tool: str, args: Sequence[str], home: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([os.path.join(ensure_ansible(), tool), *args], capture_output=True, text=True, env=ansible_env(home), timeout=300, check=False)


def inventory_list(path: str, home: str, vault_password_file: str | None = None) -> dict[str, Any]:
    """``ansible-inventory -i PATH --list`` as parsed JSON."""
    extra = ["--vault-password-file", vault_password_file] if vault_password_file else []
    p = run_ansible("ansible-inventory", ["-i", path, "--list", *extra], home)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="session")
def ansible_bin() -> str:
    return ensure_ansible()
