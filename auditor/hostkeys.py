"""``auditor known-hosts INVENTORY``: the servers' SSH host keys, for a known_hosts file, with fingerprints to compare.

For each SSH server of the inventory (direct ones: a server behind a
``proxy_jump`` is listed with the command to scan it from its jump host),
one SSH key exchange per host key type (ed25519, ecdsa, rsa) reads the key
the server offers. No authentication is attempted and nothing is trusted:
the output is the lines of a known_hosts file, each preceded by its SHA256
fingerprint, to be compared **out of band** with what the server itself
says (``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`` on its console)
before the lines are used. A server that pins ``host_key:`` is checked
against the pin.

Nothing is written unless ``--out FILE`` asks for it; then the new lines are
added to FILE (atomically; lines already there are kept), and a host whose
key in FILE differs from the one scanned makes the command write nothing
and exit 1.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from dataclasses import dataclass
from typing import Sequence

import paramiko

from .console import terminal
from .errors import CollectError, InputError, Problem
from .model import Reason, Target
from .transports.ssh import fingerprint, parse_known_hosts, tcp_connect

# One handshake per algorithm family: the key type as known_hosts writes it, and the algorithms that ask for it.
KEY_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ssh-ed25519", ("ssh-ed25519",)),
    ("ecdsa-sha2-nistp256", ("ecdsa-sha2-nistp256",)),
    ("ecdsa-sha2-nistp384", ("ecdsa-sha2-nistp384",)),
    ("ecdsa-sha2-nistp521", ("ecdsa-sha2-nistp521",)),
    ("ssh-rsa", ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")),
)


@dataclass(frozen=True)
class Scan:
    name: str  # server name in the inventory
    host: str
    port: int
    keys: tuple[paramiko.PKey, ...] = ()
    error: str | None = None  # could not be scanned
    via: str | None = None  # behind this jump host: not scanned
    pinned: str | None = None

    @property
    def known_hosts_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def lines(self) -> list[str]:
        return [f"{self.known_hosts_name} {k.get_name()} {k.get_base64()}" for k in self.keys]


def offered_key(host: str, port: int, algorithms: Sequence[str], timeout: float) -> paramiko.PKey | None:
    """The host key the server offers when asked for ``algorithms`` only; None when it has no such key."""
    sock = tcp_connect(host, port, timeout)
    ssh = paramiko.Transport(sock)
    try:
        ssh.banner_timeout = ssh.handshake_timeout = timeout
        options = ssh.get_security_options()
        wanted = [a for a in algorithms if a in options.key_types]
        if not wanted:
            return None
        options.key_types = wanted
        done = threading.Event()
        ssh.start_client(event=done)
        if not done.wait(timeout):
            raise CollectError(Reason.TIMEOUT, f"{host}:{port} did not complete the SSH key exchange within {timeout:g}s")
        if not ssh.is_active():
            exc = ssh.get_exception()
            if isinstance(exc, paramiko.SSHException) and "incompatible" in str(exc).lower():
                return None  # the server has no key of this type
            raise CollectError(Reason.UNREACHABLE, f"{host}:{port}: SSH key exchange failed: {exc or 'connection closed'}")
        return ssh.get_remote_server_key()
    finally:
        ssh.close()


def scan_server(target: Target, timeout: float) -> Scan:
    host = str(target.get("host") or "").strip("[]")
    port = int(target.get("port") or 22)
    base = Scan(target.name, host, port, pinned=target.get("host_key"))
    if target.get("proxy_jump"):
        return Scan(target.name, host, port, via=str(target.get("proxy_jump")), pinned=base.pinned)
    keys: list[paramiko.PKey] = []
    try:
        for _, algorithms in KEY_TYPES:
            key = offered_key(host, port, algorithms, timeout)
            if key is not None:
                keys.append(key)
    except CollectError as exc:
        return Scan(target.name, host, port, error=exc.message, pinned=base.pinned)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return Scan(target.name, host, port, error=f"{host}:{port}: {exc or type(exc).__name__}", pinned=base.pinned)
    if not keys:
        return Scan(target.name, host, port, error=f"{host}:{port} offered no host key of a type auditor can verify", pinned=base.pinned)
    return Scan(target.name, host, port, keys=tuple(keys), pinned=base.pinned)


def scan(servers: Sequence[Target], timeout: float, workers: int = 8) -> list[Scan]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(servers)))) as pool:
        return list(pool.map(lambda t: scan_server(t, timeout), servers))


def _key_type(name: str) -> str:
    return name.split("-")[1].upper() if name.startswith("ssh-") else "ECDSA" if name.startswith("ecdsa") else name


def render(scans: Sequence[Scan]) -> str:
    out = ["# SSH host keys scanned by `auditor known-hosts`. NOT verified yet: compare each fingerprint with the one",
           "# the server itself prints (on its console, not over this network): ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
           "# and keep only the lines that match."]
    for s in scans:
        if not s.keys:
            continue
        out.append(f"# {s.name} ({s.host}:{s.port})")
        for key, line in zip(s.keys, s.lines()):
            pin = ""
            if s.pinned:
                pin = " (matches the pinned host_key)" if fingerprint(key) == s.pinned else f" (not the pinned host_key {s.pinned})"
            out.append(f"#   {_key_type(key.get_name())} {fingerprint(key)}{pin}")
            out.append(line)
    return "\n".join(out) + "\n"


def merge(existing: str, scans: Sequence[Scan]) -> tuple[str, list[str], int]:
    """``existing`` known_hosts text with the scanned lines added; conflicts (a host listed with another key of a type); lines added."""
    known = parse_known_hosts(existing)
    conflicts: list[str] = []
    added: list[str] = []
    for s in scans:
        for key, line in zip(s.keys, s.lines()):
            listed = [k for k in known if k.matches(s.known_hosts_name) and k.key.get_name() == key.get_name()]
            if any(k.key.asbytes() == key.asbytes() for k in listed):
                continue
            if listed:
                conflicts.append(f"{s.name} ({s.known_hosts_name}): the file lists {key.get_name()} {fingerprint(listed[0].key)}, the server offered {fingerprint(key)}")
                continue
            added.append(line)
    text = existing if not existing or existing.endswith("\n") else existing + "\n"
    if added:
        text += "# added by auditor known-hosts (compare the fingerprints out of band)\n" + "\n".join(added) + "\n"
    return text, conflicts, len(added)


def read_existing(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(path, None, None, f"cannot read it as a known_hosts file: {exc}")) from None


def file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return 0o644


def describe_failures(scans: Sequence[Scan]) -> list[str]:
    out = []
    for s in scans:
        if s.via:
            out.append(f"{s.name}: not scanned: reached through jump host {s.via}; scan it from there (ssh {s.via} ssh-keyscan -p {s.port} {s.host}) "
                       "and compare the fingerprints the same way")
        elif s.error:
            out.append(f"{s.name}: could not be scanned: {terminal(s.error)}")
    return out
