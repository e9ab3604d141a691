"""``auditor import ssh-config``: OpenSSH client configuration → servers, through paramiko's SSHConfig."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from auditor.inventory import load_inventory

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
# production
Host bastion
    HostName bastion.example.se
    Port 2200
    User jump

Host web1 web2
    HostName %h.example.se
    ProxyJump bastion

Host db1
    HostName 10.0.1.11
    User dbadmin
    IdentityFile ~/.ssh/db_ed25519
    IdentityFile ~/.ssh/other_ed25519
    ProxyCommand ssh -W %h:%p -p 2200 jump@bastion.example.se

Host far
    HostName 10.9.9.9
    ProxyJump bastion,web1

Host oddproxy
    HostName 10.9.9.8
    ProxyCommand nc -X 5 -x socks:1080 %h %p

Host legacy
    HostName 192.0.2.40
    StrictHostKeyChecking no
    UserKnownHostsFile ~/.ssh/legacy_known_hosts

Match host 10.0.1.* user dbadmin
    Port 2222

Match exec "touch {marker}"
    User hijacked

Include ~/.ssh/config.d/*

Host *.example.se
    User admin

Host *
    IdentityFile ~/.ssh/fleet_ed25519
"""


def cli(*args: str, home: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if home:
        env["HOME"] = home
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=120, check=False)


def own(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k != "name" and (k, v) != ("connection", "ssh")}


def write_config(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "match-exec-ran"
    path = tmp_path / "config"
    path.write_text(CONFIG.format(marker=marker))
    return path, marker


def test_hosts_become_servers_and_validate(tmp_path: Path) -> None:
    path, marker = write_config(tmp_path)
    out = tmp_path / "fleet.yaml"
    p = cli("import", "ssh-config", str(path), "--out", str(out), home=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert cli("validate", str(out)).returncode == 0
    assert not marker.exists()  # Match exec is never run
    s = {t.name: own(t.settings) for t in load_inventory(str(out)).targets}
    home = str(tmp_path)
    assert s["bastion"] == {"host": "bastion.example.se", "port": 2200, "user": "jump", "key_file": f"{home}/.ssh/fleet_ed25519"}
    # Host patterns match the name as typed (web1), not its HostName: *.example.se does not apply, as in OpenSSH
    assert s["web1"] == {"host": "web1.example.se", "proxy_jump": "bastion", "key_file": f"{home}/.ssh/fleet_ed25519"}
    assert s["web2"]["host"] == "web2.example.se"
    # Match host 10.0.1.* user dbadmin applies (paramiko evaluates it); the first IdentityFile is used
    assert s["db1"] == {"host": "10.0.1.11", "port": 2222, "user": "dbadmin", "key_file": f"{home}/.ssh/db_ed25519", "proxy_jump": "jump@bastion.example.se:2200"}
    assert s["legacy"]["known_hosts"].endswith("legacy_known_hosts")
    assert "far" not in s and "oddproxy" not in s
    text = out.read_text()
    assert f"# from {path}:7 (Host web1)" in text
    assert "NOT IMPORTED: far" in text and "several hops" in text
    assert "NOT IMPORTED: oddproxy" in text and "ProxyCommand" in text
    assert "StrictHostKeyChecking no is ignored: auditor always verifies host keys" in text
    assert "Match exec is not evaluated" in text and "Include ~/.ssh/config.d/* is not followed" in text
    assert "hijacked" not in text


def test_host_patterns_select_and_a_plain_name_is_looked_up(tmp_path: Path) -> None:
    path, _ = write_config(tmp_path)
    p = cli("import", "ssh-config", str(path), "--host", "web*", "--host", "shop.example.se", home=str(tmp_path))
    assert p.returncode == 0, p.stderr
    out = tmp_path / "x.yaml"
    out.write_text(p.stdout)
    s = {t.name: own(t.settings) for t in load_inventory(str(out)).targets}
    assert set(s) == {"web1", "web2", "shop.example.se"}
    assert s["web1"]["proxy_jump"] == "jump@bastion.example.se:2200"  # the jump host is not imported: its resolved address
    assert s["shop.example.se"]["user"] == "admin"  # Host *.example.se
    p = cli("import", "ssh-config", str(path), "--host", "nomatch*")
    assert p.returncode == 2 and "--host: nomatch* matches no Host" in p.stderr


def test_bad_config_is_file_line_never_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host a\n    HostName a.example.se\n=broken\n")
    p = cli("import", "ssh-config", str(path))
    assert p.returncode == 2 and f"{path}:3: cannot read '=broken'" in p.stderr and "Traceback" not in p.stderr
    path.write_text("Host a\nMatch host\n")
    p = cli("import", "ssh-config", str(path))
    assert p.returncode == 2 and f"{path}:2: Match 'host'" in p.stderr and "Traceback" not in p.stderr
    p = cli("import", "ssh-config", str(tmp_path / "missing"))
    assert p.returncode == 2 and "file not found; expected an OpenSSH client configuration" in p.stderr
    path.write_text("Host *\n    User x\n")
    p = cli("import", "ssh-config", str(path))
    assert p.returncode == 2 and "found no server to import" in p.stderr
