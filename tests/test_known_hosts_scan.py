"""``auditor known-hosts``: host keys scanned from real sshd servers, printed with fingerprints; written only with --out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import host_key
from sshd_server import SSHServer, fingerprint_of_public_key, free_port, sshd_factory  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, home: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": home}
    return subprocess.run([sys.executable, "-m", "auditor", "known-hosts", *args], capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=120, check=False)


def pub(path: str) -> str:
    return " ".join(Path(path + ".pub").read_text().split()[:2])


@pytest.fixture
def two_servers(sshd_factory, tmp_path: Path) -> tuple[SSHServer, SSHServer, str]:  # noqa: F811
    rsa_dir = tmp_path / "rsa"
    rsa_dir.mkdir()
    rsa = host_key(str(rsa_dir), "rsa")
    a = sshd_factory("a", extra_config=f"HostKey {rsa}\n")
    b = sshd_factory("b")
    return a, b, rsa


def inventory(tmp_path: Path, a: SSHServer, b: SSHServer, extra: str = "") -> str:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "servers:\n"
        f"  - name: a\n    host: 127.0.0.1\n    port: {a.port}\n"
        f"  - name: b\n    host: 127.0.0.1\n    port: {b.port}\n    host_key: {b.fingerprint}\n"
        "  - name: inner\n    host: 10.1.2.3\n    proxy_jump: a\n"
        "  - name: here\n    connection: local\n" + extra)
    return str(path)


def test_prints_every_host_key_with_its_fingerprint_and_writes_nothing(two_servers, tmp_path: Path) -> None:
    a, b, rsa = two_servers
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    p = cli(inventory(tmp_path, a, b), home=str(home))
    assert p.returncode == 3, p.stderr  # inner (behind a jump host) was not scanned
    lines = [line for line in p.stdout.splitlines() if not line.startswith("#")]
    assert sorted(lines) == sorted([f"[127.0.0.1]:{a.port} {a.public_host_key}", f"[127.0.0.1]:{a.port} {pub(rsa)}", f"[127.0.0.1]:{b.port} {b.public_host_key}"])
    assert f"#   ED25519 {a.fingerprint}" in p.stdout and f"#   RSA {fingerprint_of_public_key(pub(rsa))}" in p.stdout
    assert f"#   ED25519 {b.fingerprint} (matches the pinned host_key)" in p.stdout
    assert "compare each fingerprint" in p.stdout
    assert "inner: not scanned: reached through jump host a" in p.stderr and "ssh-keyscan" in p.stderr
    assert list((home / ".ssh").iterdir()) == []  # the user's known_hosts is never touched
    # no login was attempted
    assert "Accepted" not in a.log() and "Failed" not in a.log()


def test_out_adds_lines_and_refuses_a_changed_key(two_servers, tmp_path: Path) -> None:
    a, b, _ = two_servers
    home = tmp_path / "home"
    home.mkdir()
    inv = inventory(tmp_path, a, b)
    known = tmp_path / "known_hosts"
    known.write_text("# mine\nother.example.se ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadBadBadBadBadBadBadBadBadBadBadBadBadBadBad\n")
    p = cli(inv, "--limit", "b", "--out", str(known), home=str(home))
    assert p.returncode == 0, p.stderr
    text = known.read_text()
    assert text.startswith("# mine\nother.example.se") and f"[127.0.0.1]:{b.port} {b.public_host_key}" in text
    again = cli(inv, "--limit", "b", "--out", str(known), home=str(home))
    assert again.returncode == 0 and known.read_text() == text and "0 line(s) added" in again.stderr
    # a different key for the same host and type: nothing written, exit 1
    other = host_key(str(tmp_path), "ed25519")
    known.write_text(f"[127.0.0.1]:{b.port} {pub(other)}\n")
    p = cli(inv, "--limit", "b", "--out", str(known), home=str(home))
    assert p.returncode == 1 and "CHANGED b" in p.stderr
    assert known.read_text() == f"[127.0.0.1]:{b.port} {pub(other)}\n"


def test_a_pin_that_does_not_match_and_an_unreachable_server(two_servers, tmp_path: Path) -> None:
    a, b, _ = two_servers
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / "inv.yaml"
    path.write_text(f"servers:\n  - name: b\n    host: 127.0.0.1\n    port: {b.port}\n    host_key: {a.fingerprint}\n")
    p = cli(str(path), home=str(home))
    assert p.returncode == 1 and "NO scanned key has the pinned host_key" in p.stderr
    path.write_text(f"servers:\n  - name: gone\n    host: 127.0.0.1\n    port: {free_port()}\n")
    p = cli(str(path), home=str(home))
    assert p.returncode == 3 and "gone: could not be scanned: cannot connect to 127.0.0.1" in p.stderr and "Traceback" not in p.stderr
    path.write_text("servers:\n  - name: x\n    prot: 22\n")
    p = cli(str(path), home=str(home))
    assert p.returncode == 2 and "unknown key 'prot'" in p.stderr
