"""``auditor import ansible``: compared with ``ansible-inventory --list`` (ansible-core from PyPI) on the same files.

The fixtures (tests/data/ansible/) cover INI and YAML syntax, a file and a
folder, host ranges, host:port, ``children``, ``[group:vars]``,
``group_vars/`` (a file and a folder) and ``host_vars/``, ProxyJump via
``-J``, ``-o ProxyJump=`` and ``ProxyCommand ssh -W``, ``ansible_become``,
a ``!vault`` value and a whole vault-encrypted host_vars file, a winrm host
and a local one.

For every host Ansible lists, the variables auditor's reader merged are
Ansible's own (vault values as placeholders), its server is what those
variables say, and its groups are the Ansible groups (with children)
holding it. The written inventory is accepted by ``auditor validate``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auditor.importers import ansible as imp
from auditor.importers import render
from auditor.inventory import load_inventory

from ansible_rig import inventory_list

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "ansible"
VAULT_PASSWORD = "correct horse battery staple"  # of tests/data/ansible/ini/host_vars/db1.yml (an ansible-vault file)
VAULTED_PLAINTEXT = ("vaulted-user-x9q", "vaulted-secret-7Qz")
CASES = [DATA / "ini" / "hosts.ini", DATA / "ini", DATA / "yaml-dir"]


def cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd or str(ROOT),
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, check=False)


def own(settings: dict[str, Any]) -> dict[str, Any]:
    """A server's settings as the file gives them (without its name and the default connection: ssh)."""
    return {k: v for k, v in settings.items() if k != "name" and (k, v) != ("connection", "ssh")}


def _unvault(value: Any, where: str) -> Any:
    """Ansible's JSON form of a !vault value, as auditor's reader keeps it."""
    if isinstance(value, dict) and set(value) == {"__ansible_vault"}:
        return imp.Vaulted(where)
    return value


def _ansible_groups(listing: dict[str, Any]) -> dict[str, set[str]]:
    """Group → every host in it or its descendants, from --list (without all and ungrouped)."""
    def members(g: str) -> set[str]:
        body = listing.get(g) or {}
        out = set(body.get("hosts", []))
        for child in body.get("children", []):
            out |= members(child)
        return out

    return {g: members(g) for g in listing if g not in ("_meta", "all", "ungrouped")}


@pytest.fixture(scope="module")
def ansible_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("ansible-home"))


@pytest.fixture(scope="module")
def vault_password_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("vault") / "password"
    path.write_text(VAULT_PASSWORD)
    return str(path)


@pytest.mark.parametrize("source", CASES, ids=lambda p: str(p.relative_to(DATA)))
def test_variables_and_groups_are_those_of_ansible_inventory(source: Path, ansible_home: str, vault_password_file: str) -> None:
    listing = inventory_list(str(source), ansible_home, vault_password_file)
    hostvars = listing["_meta"]["hostvars"]
    files, base = imp._sources(str(source))
    tree = imp._Tree()
    for f in files:
        text = Path(f).read_text()
        (imp.parse_yaml if f.endswith(imp.YAML_EXTS) else imp.parse_ini)(tree, f, text, f)
    tree.reconcile()
    vf = imp._VarsFiles(base)
    assert set(tree.hosts) == set(hostvars)
    for host, expected in hostvars.items():
        ours = imp._host_vars(tree, vf, host)
        decrypted_only = set(expected) - set(ours)
        if vf.encrypted:  # auditor never decrypts: what only the vault file gives is missing, and nothing of it is copied
            expected = {k: v for k, v in expected.items() if k not in decrypted_only and v not in VAULTED_PLAINTEXT}
            ours = {k: v for k, v in ours.items() if k in expected}
        assert {k: _unvault(v, "") for k, v in expected.items()} == {k: (imp.Vaulted("") if isinstance(v, imp.Vaulted) else v) for k, v in ours.items()}, host
    groups = _ansible_groups(listing)
    assert {g: set(tree.members(g)) for g in tree.groups if g not in ("all", "ungrouped")} == groups


@pytest.mark.parametrize("source", CASES, ids=lambda p: str(p.relative_to(DATA)))
def test_written_inventory_validates_and_matches_ansible(source: Path, ansible_home: str, vault_password_file: str, tmp_path: Path) -> None:
    listing = inventory_list(str(source), ansible_home, vault_password_file)
    hostvars = {h: {k: _unvault(v, "") for k, v in hv.items()} for h, hv in listing["_meta"]["hostvars"].items()}
    out = tmp_path / "imported.yaml"
    p = cli("import", "ansible", str(source), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    v = cli("validate", str(out))
    assert v.returncode == 0, v.stderr + v.stdout
    text = out.read_text()
    for secret in VAULTED_PLAINTEXT:
        assert secret not in text
    assert "$ANSIBLE_VAULT" not in text
    inventory = load_inventory(str(out))
    servers = {t.name: t for t in inventory.targets}
    imported_names = set(servers)
    for host, hv in hostvars.items():
        if hv.get("ansible_connection") == "winrm":
            assert host not in servers and f"NOT IMPORTED: {host}" in text
            continue
        assert host in servers, host
        if host != "db1":  # db1's vault-encrypted host_vars: Ansible decrypted them here, auditor never does
            settings, _, _, reason = imp.server_of(host, hv, set(hostvars))
            assert reason is None
            assert own(servers[host].settings) == settings, host
    expected_groups = {g: members & imported_names for g, members in _ansible_groups(listing).items() if members & imported_names}
    assert {g: set(m) for g, m in inventory.groups.items()} == expected_groups


def test_connection_variables_become_server_keys(tmp_path: Path) -> None:
    out = tmp_path / "prod.yaml"
    assert cli("import", "ansible", str(DATA / "ini"), "--out", str(out)).returncode == 0
    s = {t.name: own(t.settings) for t in load_inventory(str(out)).targets}
    assert s["bastion.example.se"] == {"host": "bastion.example.se", "port": 2200, "user": "jump", "key_file": "~/.ssh/fleet_ed25519"}
    assert s["web-legacy"]["host"] == "192.0.2.40" and s["web-legacy"]["port"] == 2222 and s["web-legacy"]["user"] == "deploy"
    assert s["web-legacy"]["sudo"] is True  # group_vars/webservers/ (a folder)
    assert s["web02.example.se"]["user"] == "web2admin"  # host_vars/ wins over [all:vars]
    assert s["web02.example.se"]["proxy_jump"] == "admin@bastion.example.se:2200"  # -J in ansible_ssh_common_args
    assert s["db1"]["proxy_jump"] == "bastion.example.se" and s["db1"]["sudo"] is True and s["db1"]["user"] == "dbadmin"
    assert "sudo" not in s["db2"]  # ansible_become=false
    assert s["mx1.example.se"]["port"] == 2022 and s["mx1.example.se"]["key_file"] == "~/.ssh/mail_ed25519"
    assert s["localhost"]["connection"] == "local"
    text = out.read_text()
    assert "# from " + str(DATA / "ini" / "hosts.ini") + ":9 [dbservers]; Ansible groups: production, dbservers" in text
    assert "host_vars/db1.yml is vault-encrypted" in text
    assert "ansible_become_password is set in Ansible: not copied" in text

    yaml_out = tmp_path / "yaml.yaml"
    assert cli("import", "ansible", str(DATA / "yaml-dir"), "--out", str(yaml_out)).returncode == 0
    y = {t.name: t.settings for t in load_inventory(str(yaml_out)).targets}
    assert y["pg1.internal"]["proxy_jump"] == "jump01" and y["pg1.internal"]["port"] == 5522 and y["pg1.internal"]["user"] == "pgadmin"
    assert y["appa.internal"]["proxy_jump"] == "ops@jump01" and y["appa.internal"]["sudo"] is True  # ProxyCommand ssh -W %h:%p
    assert "user" not in y["cache1.internal"]  # a !vault value: placeholder, never the ciphertext
    assert "# user: <vault-encrypted ansible_user from" in yaml_out.read_text()


@pytest.mark.parametrize("name,text,where,expected", [
    ("hosts", "[web]\nweb1 ansible_port\n", ":2", "expected key=value host variable"),
    ("hosts", "[web:child]\nweb1\n", ":1", "unknown type 'child'"),
    ("hosts", "[web]\nweb1\n[prod:children]\nweb\ndb\n", ":5", "names group 'db', which is never defined"),
    ("hosts", "[web]\nweb1 'unterminated\n", ":2", "cannot read the host line"),
    ("hosts", "[web ]\n", ":1", "invalid section"),
    ("hosts.yml", "all:\n  hosts:\n    a: [1\n", ":4", "not valid YAML"),
    ("hosts.yml", "- a\n- b\n", ":1", "expected a mapping of group names"),
    ("hosts.yml", "all:\n  hosts: [a, b]\n", ":2", "all.hosts: expected a mapping"),
    ("hosts.yml", "plugin: amazon.aws.aws_ec2\n", ":1", "inventory plugin configuration"),
    ("hosts", "\xff\xfe[web]\n", ":1", "not UTF-8"),
])
def test_bad_input_is_file_line_and_what_was_expected_never_a_traceback(tmp_path: Path, name: str, text: str, where: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    p = cli("import", "ansible", str(path))
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    assert f"{path}{where}" in p.stderr and expected in p.stderr, p.stderr
    assert p.stdout == ""


def test_ansible_refuses_what_auditor_refuses(tmp_path: Path, ansible_home: str) -> None:
    """The INI errors above are errors for Ansible too (not a stricter reading of valid files)."""
    from ansible_rig import run_ansible

    for text in ("[web]\nweb1 ansible_port\n", "[web]\nweb1\n[prod:children]\nweb\ndb\n", "[web:child]\nweb1\n"):
        path = tmp_path / "hosts"
        path.write_text(text)
        assert run_ansible("ansible-inventory", ["-i", str(path), "--list"], ansible_home).returncode != 0, text


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    p = cli("import", "ansible", str(tmp_path / "nope"))
    assert p.returncode == 2 and "not found; expected an Ansible inventory" in p.stderr
    (tmp_path / "empty").mkdir()
    p = cli("import", "ansible", str(tmp_path / "empty"))
    assert p.returncode == 2 and "holds no inventory file" in p.stderr


def test_out_is_written_atomically_and_stdout_is_the_same_text(tmp_path: Path) -> None:
    out = tmp_path / "prod.yaml"
    out.write_text("previous\n")
    p = cli("import", "ansible", str(DATA / "ini"), "--out", str(out))
    assert p.returncode == 0
    q = cli("import", "ansible", str(DATA / "ini"))
    assert q.stdout == out.read_text()
    assert sorted(os.listdir(tmp_path)) == ["prod.yaml"]  # no temporary file left behind


def test_names_and_values_the_inventory_refuses_are_left_out_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[web]\nWeb_Server:1 ansible_user=Admin\nweird ansible_host='a b'\ntpl ansible_host='{{ inventory_hostname }}.x'\n"
                    "multi ansible_ssh_common_args='-J a,b'\npc ansible_ssh_common_args='-o ProxyCommand=\"nc %h %p\"'\n"
                    "viapc ansible_ssh_common_args='-J pc'\n")
    p = cli("import", "ansible", str(path))
    assert p.returncode == 0, p.stderr
    assert "ansible_user 'Admin' left out" in p.stdout
    assert "NOT IMPORTED: weird" in p.stdout and "NOT IMPORTED: tpl" in p.stdout and "Jinja template" in p.stdout
    assert "NOT IMPORTED: multi" in p.stdout and "several hops" in p.stdout
    assert "NOT IMPORTED: pc" in p.stdout and "NOT IMPORTED: viapc" in p.stdout
    assert render  # the module renders what cli wrote
