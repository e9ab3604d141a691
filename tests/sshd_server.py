"""Real OpenSSH servers on 127.0.0.1 for the SSH transport tests.

:func:`start_sshd` runs ``sshd -D -e -f <config>`` on a free high port of
127.0.0.1 with its own host key, a root login by public key (it is a test
server: the tests log in as root), ``AuthorizedKeysFile`` in the test's own
folder and a PID file there too. It returns once the server accepts
connections; :meth:`SSHServer.stop` (the fixtures call it at teardown) kills
it; the :func:`sshd_factory` fixture stops every server it started at
teardown. Nothing is written outside the folder given, except ``/run/sshd``, the
privilege-separation directory sshd insists on.

>>> server = start_sshd(tmp_dir)              # doctest: +SKIP
>>> server.authorize(client_public_key_path)  # doctest: +SKIP
>>> server.known_hosts_line()                 # doctest: +SKIP
'[127.0.0.1]:40123 ssh-ed25519 AAAA...'
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness import APT_ENV, host_key, sshd_binary

STARTUP_SECONDS = 10.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fingerprint_of_public_key(line: str) -> str:
    """OpenSSH SHA256 fingerprint of a ``type base64 [comment]`` public key line."""
    blob = base64.b64decode(line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def make_key(directory: str, name: str, kind: str = "ed25519", passphrase: str = "") -> str:
    """A client key pair made by ssh-keygen; returns the private key's path."""
    path = os.path.join(directory, name)
    extra = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", passphrase, "-C", f"auditor-test-{name}", "-f", path], check=True, capture_output=True, env=APT_ENV)
    return path


@dataclass
class SSHServer:
    directory: str
    port: int
    config: str
    host_key_path: str
    authorized_keys: str
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"

    @property
    def public_host_key(self) -> str:
        """``type base64`` of the server's host key."""
        with open(self.host_key_path + ".pub", encoding="utf-8") as fh:
            kind, blob = fh.read().split()[:2]
        return f"{kind} {blob}"

    @property
    def fingerprint(self) -> str:
        return fingerprint_of_public_key(self.public_host_key)

    @property
    def key_type(self) -> str:
        return self.public_host_key.split()[0]

    def known_hosts_line(self, name: str | None = None) -> str:
        """A known_hosts line for this server, by default under ``[127.0.0.1]:port``."""
        return f"{name or f'[{self.host}]:{self.port}'} {self.public_host_key}\n"

    def authorize(self, private_key_path: str) -> None:
        """Let the key pair whose private half is at ``private_key_path`` log in as root."""
        with open(private_key_path + ".pub", encoding="utf-8") as src, open(self.authorized_keys, "a", encoding="utf-8") as dst:
            dst.write(src.read())

    def session_pids(self) -> list[int]:
        """Every descendant of the listening sshd: the processes serving its connections."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                    stat = fh.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        found, todo = [], list(children.get(self.process.pid, []))
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def log(self) -> str:
        with open(os.path.join(self.directory, "sshd.log"), encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop(self) -> None:
        for pid in self.session_pids():
            _kill(pid)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def start_sshd(directory: str, extra_config: str = "") -> SSHServer:
    """Start an sshd on a free port of 127.0.0.1 serving from ``directory``; wait until it listens.

    ``extra_config`` lines (ending in a newline) come first, so they override the defaults.
    """
    sshd = sshd_binary()  # installs openssh-server when missing; makes /run/sshd
    os.makedirs(directory, exist_ok=True)
    key = host_key(directory)
    authorized = os.path.join(directory, "authorized_keys")
    open(authorized, "a", encoding="utf-8").close()
    os.chmod(authorized, 0o600)
    for _ in range(5):  # the free port may be taken between our check and sshd's bind
        port = free_port()
        config = os.path.join(directory, "sshd_config")
        with open(config, "w", encoding="utf-8") as fh:
            fh.write(  # sshd keeps the first value of a keyword: extra_config overrides what follows
                f"{extra_config}"
                f"ListenAddress 127.0.0.1:{port}\n"
                f"HostKey {key}\n"
                f"PidFile {os.path.join(directory, 'sshd.pid')}\n"
                f"AuthorizedKeysFile {authorized}\n"
                "PermitRootLogin yes\n"
                "PubkeyAuthentication yes\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "UsePAM no\n"
                "StrictModes no\n"  # the key lives under /tmp, which is world-writable
                "UseDNS no\n"
                "MaxStartups 100:30:200\n"
                "MaxSessions 50\n"
                "AllowTcpForwarding yes\n"
                "AcceptEnv LANG LC_*\n"  # as Debian's and RHEL's default sshd_config
            )
        log = open(os.path.join(directory, "sshd.log"), "wb")  # noqa: SIM115 - the process keeps it
        proc = subprocess.Popen([sshd, "-D", "-e", "-f", config], stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=APT_ENV)
        log.close()
        server = SSHServer(directory=directory, port=port, config=config, host_key_path=key, authorized_keys=authorized, process=proc)
        if _wait_listening(server):
            return server
        server.stop()
    raise RuntimeError(f"sshd did not start on 127.0.0.1; its log:\n{server.log()}")


def _wait_listening(server: SSHServer) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if f"Server listening on {server.host} port {server.port}" in server.log():
            return True
        time.sleep(0.02)
    return False


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def sshd_factory(tmp_path: Path) -> Iterator[Callable[..., SSHServer]]:
    """``start(name, extra_config="")``: a fresh sshd in ``tmp_path/name``, stopped at teardown."""
    servers: list[SSHServer] = []

    def start(name: str = "sshd", extra_config: str = "") -> SSHServer:
        server = start_sshd(str(tmp_path / name), extra_config)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
