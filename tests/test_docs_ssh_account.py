"""docs/ssh-account.md and docs/examples/: the worked fleet inventory validates, the playbook is valid Ansible, the help has examples."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ansible_rig import run_ansible
from harness import ensure_packages

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "docs" / "examples" / "fleet.yaml"
PLAYBOOK = ROOT / "docs" / "examples" / "audit-account.yml"
DOC = ROOT / "docs" / "ssh-account.md"
SECRETS = {"CUSTOMERS_DB_PASSWORD": "x", "HOSTING_DB_PASSWORD": "x", "BORG_PASSPHRASE": "x", "AUDITOR_EXTERNAL_ID": "x"}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=str(ROOT),
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120, check=False)


def test_worked_fleet_inventory_validates(tmp_path: Path) -> None:
    p = cli("validate", str(FLEET), env=SECRETS)
    assert p.returncode == 0, p.stderr
    counts = dict((k, int(n)) for n, k in re.findall(r"(\d+) (\w+)", p.stdout.splitlines()[0]))
    assert counts["server"] >= 10 and counts["database"] >= 2 and counts["mail"] >= 2 and counts["aws"] >= 1 and counts["processor"] >= 2
    text = FLEET.read_text()
    assert "proxy_jump: bastion" in text
    # its sudoers drop-in is made from it too, and sudo's own checker accepts it
    drop_in = cli("sudoers", str(FLEET), env=SECRETS)
    assert drop_in.returncode == 0, drop_in.stderr
    ensure_packages("sudo", programs=["visudo"])
    (tmp_path / "auditor.sudoers").write_text(drop_in.stdout)
    check = subprocess.run([shutil.which("visudo") or "/usr/sbin/visudo", "-cf", str(tmp_path / "auditor.sudoers")], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_playbook_passes_ansible_syntax_check(tmp_path: Path) -> None:
    p = run_ansible("ansible-playbook", ["--syntax-check", "-i", "localhost,", str(PLAYBOOK)], str(tmp_path / "ansible-home"))
    assert p.returncode == 0, p.stderr + p.stdout
    text = PLAYBOOK.read_text()
    assert 'restrict,from="{{ auditor_address }}"' in text and "visudo -cf %s" in text
    assert re.search(r"^\s+ansible\.builtin\.\w+:", text, re.M) and not re.search(r"^\s+(ansible\.posix|community)\.", text, re.M)


def test_doc_covers_the_account_keys_sudo_and_host_keys() -> None:
    text = DOC.read_text()
    for needle in ('restrict,from="AUDITOR_ADDRESS"', "auditor sudoers", "auditor known-hosts", "out of band", "ssh-keygen -lf",
                   "examples/audit-account.yml", "examples/fleet.yaml", "auditor import ansible", "permitopen"):
        assert needle in text, needle


def test_each_import_subcommand_help_has_examples() -> None:
    for args in (["import", "ansible"], ["import", "ssh-config"], ["import", "aws-ec2"], ["known-hosts"]):
        p = cli(*args, "--help")
        assert p.returncode == 0
        examples = p.stdout.split("examples:", 1)[1]
        assert 2 <= sum(1 for line in examples.splitlines() if line.strip().startswith("auditor ")) <= 3, args
