"""The SSH transport against real OpenSSH servers on 127.0.0.1.

Every server here is a real ``sshd -D`` started by tests/sshd_server.py on a
free high port of 127.0.0.1, with its own host key; the tests log in as
root with keys made by ssh-keygen. What is asserted is behaviour: what a
command prints, which reason a failure carries, what a message shows and
never shows, how long things take.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import string
import subprocess
import threading
import time
from typing import Any, Iterator

import pytest

from auditor.cli import main
from auditor.errors import CollectError
from auditor.model import Target
from auditor.secrets import SecretRef
from auditor.transports import ConnectOptions, SSHConnection, Transports

from harness import APT_ENV
from helpers import audit, verdicts, write
from sshd_server import SSHServer, free_port, fingerprint_of_public_key, make_key, sshd_factory, start_sshd  # noqa: F401 - fixture

PASSPHRASE = "correct horse ☃ battery 'staple'"
HOSTILE = ["; rm -rf /", "$(touch {marker})", "`touch {marker}`", "a\nb", "'\"", "&& touch {marker}", "| touch {marker}", "*", "-n", "--", "~root", "$HOME", "${{PATH}}", "\\", "\t", "\r\n", "é☃😀", "' ; touch {marker} ; '", "\x1b[31m"]


# -- fixtures and helpers -------------------------------------------------------


class Client:
    """A key pair authorized on a server, plus a known_hosts that lists the server."""

    def __init__(self, server: SSHServer, directory: str, key: str):
        self.server = server
        self.key = key
        self.known_hosts = write(os.path.join(directory, "known_hosts"), server.known_hosts_line())

    def target(self, **settings: Any) -> Target:
        base = {"host": "127.0.0.1", "port": self.server.port, "user": "root", "key_file": self.key, "known_hosts": self.known_hosts}
        return Target(id="server:box", kind="server", name="box", address="127.0.0.1", settings={k: v for k, v in (base | settings).items() if v is not None})


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[Client]:
    """One sshd for the module's read-only tests, and a client that may log in to it."""
    folder = str(tmp_path_factory.mktemp("ssh"))
    server = start_sshd(os.path.join(folder, "sshd"))
    key = make_key(folder, "id_ed25519")
    server.authorize(key)
    try:
        yield Client(server, folder, key)
    finally:
        server.stop()


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    """Connections and Transports to close at the end of the test."""
    things: list[Any] = []
    yield things
    for thing in things:
        thing.close()


def connect(opened: list[Any], target: Target, others: tuple[Target, ...] = (), **options: Any) -> SSHConnection:
    transports = Transports(ConnectOptions(**options), {t.id: t for t in (target, *others)})
    opened.append(transports)
    conn = transports.open("shell", target)
    opened.append(conn)
    return conn


def refusal(opened: list[Any], target: Target, others: tuple[Target, ...] = (), **options: Any) -> CollectError:
    with pytest.raises(CollectError) as exc:
        connect(opened, target, others, **options)
    return exc.value


# -- authentication -------------------------------------------------------------


def test_ed25519_key_logs_in_and_runs_an_argv(client, opened):
    conn = connect(opened, client.target())
    result = conn.run(["id", "-u"], timeout=10)
    assert (result.exit_status, result.stdout, result.argv) == (0, b"0\n", ("id", "-u"))
    assert conn.transport == "ssh"
    assert repr(conn) == f"<SSHConnection root@127.0.0.1:{client.server.port}>"


def test_the_socket_has_tcp_nodelay(client, opened):
    conn = connect(opened, client.target())
    assert conn.ssh.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_rsa_key_with_a_passphrase_from_an_environment_secret(client, opened, tmp_path, monkeypatch):
    key = make_key(str(tmp_path), "id_rsa", kind="rsa", passphrase=PASSPHRASE)
    client.server.authorize(key)
    ref = SecretRef("env", "AUDITOR_TEST_KEY_PASSPHRASE", "inventory.yaml:7")
    monkeypatch.setenv("AUDITOR_TEST_KEY_PASSPHRASE", PASSPHRASE)
    target = client.target(key_file=key, key_passphrase=ref)
    conn = connect(opened, target)
    assert conn.run(["echo", "ok"], timeout=10).stdout == b"ok\n"
    shown = [repr(conn), repr(conn.endpoint), str(conn.host_key_info), repr(target)]
    assert not any(PASSPHRASE in text for text in shown)

    monkeypatch.setenv("AUDITOR_TEST_KEY_PASSPHRASE", "wrong " + PASSPHRASE)
    wrong = refusal(opened, target)
    assert wrong.reason.value == "auth_failed"
    assert "${AUDITOR_TEST_KEY_PASSPHRASE}" in wrong.message and "wrong passphrase" in wrong.message
    assert PASSPHRASE not in str(wrong) and "horse" not in str(wrong)

    missing = refusal(opened, client.target(key_file=key))
    assert missing.reason.value == "auth_failed" and "encrypted" in missing.message


def test_keys_from_ssh_agent(client, opened, tmp_path, monkeypatch):
    home = tmp_path / "home"  # no ~/.ssh/id_* here: only the agent can offer a key
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    key = make_key(str(tmp_path), "agent_key")
    client.server.authorize(key)
    sock = str(tmp_path / "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=APT_ENV)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.02)
        subprocess.run(["ssh-add", key], check=True, capture_output=True, env=APT_ENV | {"SSH_AUTH_SOCK": sock})
        monkeypatch.setenv("SSH_AUTH_SOCK", sock)
        conn = connect(opened, client.target(key_file=None))
        assert conn.run(["id", "-u"], timeout=10).stdout == b"0\n"
    finally:
        agent.kill()
        agent.wait(10)
    monkeypatch.delenv("SSH_AUTH_SOCK")
    nothing = refusal(opened, client.target(key_file=None))
    assert nothing.reason.value == "auth_failed" and "no key" in nothing.message


def test_a_key_the_server_does_not_know_is_auth_failed(client, opened, tmp_path):
    stranger = make_key(str(tmp_path), "stranger")
    exc = refusal(opened, client.target(key_file=stranger))
    assert exc.reason.value == "auth_failed"
    with open(stranger + ".pub", encoding="utf-8") as fh:
        tried = fingerprint_of_public_key(fh.read())
    assert f"root@127.0.0.1:{client.server.port}" in exc.message and stranger in exc.message and tried in exc.message


# -- host keys ------------------------------------------------------------------


def test_known_hosts_entries_by_port_by_host_and_hashed(client, opened, tmp_path):
    server = client.server
    plain = write(str(tmp_path / "plain"), server.known_hosts_line("127.0.0.1"))
    hashed = write(str(tmp_path / "hashed"), server.known_hosts_line())
    subprocess.run(["ssh-keygen", "-H", "-f", hashed], check=True, capture_output=True, env=APT_ENV)
    with open(hashed, encoding="utf-8") as fh:
        assert fh.read().startswith("|1|"), "ssh-keygen -H left the name readable"
    for known_hosts in (client.known_hosts, plain, hashed):
        conn = connect(opened, client.target(known_hosts=known_hosts))
        assert conn.host_key_info == {"type": "ssh-ed25519", "fingerprint": server.fingerprint, "verified_by": f"known_hosts:{known_hosts}"}


def test_unknown_host_key_is_refused_with_its_fingerprint(client, opened, tmp_path):
    empty = write(str(tmp_path / "known_hosts"), "# nothing yet\n")
    exc = refusal(opened, client.target(known_hosts=empty))
    assert exc.reason.value == "host_key_rejected"
    assert f"host key of 127.0.0.1:{client.server.port} is not known (ssh-ed25519 {client.server.fingerprint})" in exc.message
    assert "--trust-on-first-use" in exc.message and "host_key:" in exc.message
    gone = refusal(opened, client.target(known_hosts=str(tmp_path / "missing")))
    assert gone.reason.value == "host_key_rejected" and "does not exist" in gone.message


def test_changed_host_key_is_refused_even_with_trust_on_first_use(client, opened, tmp_path):
    other = make_key(str(tmp_path), "other_host_key")
    with open(other + ".pub", encoding="utf-8") as fh:
        kind, blob = fh.read().split()[:2]
    known_hosts = write(str(tmp_path / "known_hosts"), f"[127.0.0.1]:{client.server.port} {kind} {blob}\n")
    before = open(known_hosts, encoding="utf-8").read()
    for tofu in (False, True):
        exc = refusal(opened, client.target(known_hosts=known_hosts), trust_on_first_use=tofu)
        assert exc.reason.value == "host_key_rejected"
        assert "CHANGED" in exc.message and "man-in-the-middle" in exc.message
        assert fingerprint_of_public_key(f"{kind} {blob}") in exc.message and client.server.fingerprint in exc.message
    assert open(known_hosts, encoding="utf-8").read() == before


def test_pinned_fingerprint_decides(client, opened, tmp_path):
    empty = write(str(tmp_path / "known_hosts"), "")
    conn = connect(opened, client.target(known_hosts=empty, host_key=client.server.fingerprint))
    assert conn.host_key_info["verified_by"] == "pinned"
    wrong = "SHA256:" + "A" * 43
    for tofu in (False, True):
        exc = refusal(opened, client.target(host_key=wrong), trust_on_first_use=tofu)  # known_hosts lists it, the pin wins
        assert exc.reason.value == "host_key_rejected" and wrong in exc.message and client.server.fingerprint in exc.message


def test_trust_on_first_use_accepts_an_unknown_key_says_so_and_writes_nothing(client, opened, tmp_path):
    known_hosts = write(str(tmp_path / "known_hosts"), "")
    conn = connect(opened, client.target(known_hosts=known_hosts), trust_on_first_use=True)
    assert conn.host_key_info == {"type": "ssh-ed25519", "fingerprint": client.server.fingerprint, "verified_by": "trust-on-first-use"}
    assert conn.run(["true"], timeout=10).exit_status == 0
    assert open(known_hosts, encoding="utf-8").read() == ""


# -- commands -------------------------------------------------------------------


def _random_values(count: int) -> list[str]:
    rng = random.Random(20261121)
    alphabet = string.printable + "".join(chr(c) for c in range(1, 32)) + "\x7fåäö☃😀\u200b"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def test_hostile_and_random_arguments_arrive_byte_identical(client, opened, tmp_path):
    conn = connect(opened, client.target())
    marker = tmp_path / "pwned"
    hostile = [v.format(marker=marker) for v in HOSTILE]
    values = _random_values(300)
    for batch in [hostile] + [values[i : i + 60] for i in range(0, len(values), 60)]:
        result = conn.run(["printf", "%s\\0", *batch], timeout=20)
        assert result.exit_status == 0, result.stderr
        assert result.stdout.split(b"\0")[:-1] == [v.encode() for v in batch]
    assert not marker.exists()


def test_root_needs_no_sudo(client, opened):
    # The test server logs in as root: sudo is skipped (a root account may not even have sudo).
    # sudo -n for a non-root audit account is exercised on the fleet (tests/test_fleet.py).
    conn = connect(opened, client.target())
    result = conn.run(["id", "-u"], timeout=20, sudo=True)
    assert (result.exit_status, result.stdout) == (0, b"0\n")
    assert result.argv == ("id", "-u")


def test_the_c_locale_input_stderr_and_missing_programs(client, opened):
    conn = connect(opened, client.target())
    # the C locale is asked for with SSH env requests (sshd's AcceptEnv LANG LC_*), not with a wrapper program
    shown = conn.run(["sh", "-c", 'echo "$LC_ALL $LANG"'], timeout=10)
    assert shown.stdout == b"C C\n" and shown.argv == ("sh", "-c", 'echo "$LC_ALL $LANG"')
    assert conn.run(["cat"], timeout=10, input=b"s3cret\n").stdout == b"s3cret\n"
    assert conn.run(["cat"], timeout=10).stdout == b""  # stdin is closed, cat does not wait
    failed = conn.run(["sh", "-c", "echo oops >&2; exit 3"], timeout=10)
    assert (failed.exit_status, failed.stderr) == (3, b"oops\n")
    assert conn.run(["no-such-program-here"], timeout=10).exit_status == 127


def test_environment_values_travel_on_stdin_never_in_the_command_line(client, opened):
    conn = connect(opened, client.target())
    secret = "pass phrase with 'quotes' $(and) `subst` ; | &"
    got = conn.run(["sh", "-c", 'printf %s "$TOKEN"; echo; ps -o args= -p $$; cat'], timeout=10, env={"TOKEN": secret}, input=b"then stdin\n")
    out = got.stdout.decode()
    assert out.startswith(secret + "\n") and out.endswith("then stdin\n")
    assert secret not in out[len(secret) + 1 :], "the value is in no process's argv"
    assert got.argv == ("sh", "-c", 'printf %s "$TOKEN"; echo; ps -o args= -p $$; cat')
    with pytest.raises(CollectError):
        conn.run(["true"], timeout=10, env={"TOKEN": "two\nlines"})


def test_a_timed_out_command_is_stopped_on_the_server(client, opened):
    """After a timeout the remote command is gone within seconds (SSH signal request), not left running."""
    conn = connect(opened, client.target())
    with pytest.raises(CollectError) as exc:
        conn.run(["sleep", "287"], timeout=1)
    assert exc.value.reason.value == "timeout" and "stopped on the server" in exc.value.message
    assert _wait_gone("sleep 287"), "sleep still running on the server after the timeout"


def test_closing_the_connection_stops_its_commands(client, opened):
    """Ctrl-C closes every connection: what ran on it is signalled first."""
    conn = connect(opened, client.target())
    done: list[BaseException] = []

    def run() -> None:
        try:
            conn.run(["sleep", "301"], timeout=60)
        except BaseException as exc:  # noqa: BLE001
            done.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert _wait_running("sleep 301")
    conn.close()
    worker.join(10)
    assert done and isinstance(done[0], CollectError) and done[0].reason.value == "interrupted"
    assert _wait_gone("sleep 301"), "sleep still running on the server after close()"


def _pids(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", "-x", pattern], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _wait_running(pattern: str, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _pids(pattern):
            return True
        time.sleep(0.05)
    return False


def _wait_gone(pattern: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pids(pattern):
            return True
        time.sleep(0.05)
    return False


def test_a_command_past_its_timeout_is_timeout(client, opened):
    conn = connect(opened, client.target())
    t0 = time.monotonic()
    with pytest.raises(CollectError) as exc:
        conn.run(["sleep", "30"], timeout=1)
    assert exc.value.reason.value == "timeout" and "`sleep 30` did not finish within 1s" in exc.value.message
    assert time.monotonic() - t0 < 3
    assert conn.run(["true"], timeout=10).exit_status == 0, "the connection survives a timed-out command"


def test_output_is_bounded_and_marked_truncated(client, opened):
    conn = connect(opened, client.target())
    t0 = time.monotonic()
    result = conn.run(["yes"], timeout=20, max_output=100_000)
    assert result.truncated is True and len(result.stdout) == 100_000
    assert time.monotonic() - t0 < 5
    noisy = conn.run(["sh", "-c", "head -c 300000 /dev/zero >&2; echo done"], timeout=20)
    assert noisy.stdout == b"done\n" and len(noisy.stderr) == 65536


def test_commands_run_at_once_on_one_connection(client, opened):
    conn = connect(opened, client.target())
    results: list[Any] = []

    def work() -> None:
        results.append(conn.run(["sleep", "1"], timeout=20))

    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 5 and all(r.exit_status == 0 for r in results)
    spans = [(_epoch(r.started_at), _epoch(r.started_at) + r.duration_ms / 1000) for r in results]
    latest_start, earliest_end = max(s for s, _ in spans), min(e for _, e in spans)
    assert latest_start < earliest_end, f"the five commands did not overlap: {spans}"


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_close_from_another_thread_interrupts_and_refuses_new_commands(client, opened):
    conn = connect(opened, client.target())
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            conn.run(["sleep", "30"], timeout=60)
        except CollectError as exc:
            box["reason"] = exc.reason.value

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    conn.close()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - t0 < 3
    assert box["reason"] == "interrupted"
    with pytest.raises(CollectError) as exc:
        conn.run(["true"], timeout=5)
    assert exc.value.reason.value == "interrupted"


def test_a_connection_lost_mid_command_is_unreachable(sshd_factory, opened, tmp_path):
    server = sshd_factory("lost")
    client = Client(server, str(tmp_path), make_key(str(tmp_path), "id"))
    server.authorize(client.key)
    conn = connect(opened, client.target())
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = conn.run(["sleep", "30"], timeout=60)
        except CollectError as exc:
            box["error"] = exc

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 10
    while not any(_cmdline(pid).startswith("sleep") for pid in server.session_pids()) and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    for pid in server.session_pids():  # the session processes serving our connection; the listener lives on
        os.kill(pid, signal.SIGKILL)
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - t0 < 5
    assert box["error"].reason.value == "unreachable" and "lost" in box["error"].message


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- connecting -----------------------------------------------------------------


def test_nothing_listening_is_unreachable(opened):
    target = Target(id="server:gone", kind="server", name="gone", settings={"host": "127.0.0.1", "port": free_port(), "user": "root"})
    exc = refusal(opened, target)
    assert exc.reason.value == "unreachable" and "refused" in exc.message


def test_a_silent_peer_is_timeout_within_the_connect_timeout(opened):
    with _peer(b"") as port:
        target = Target(id="server:mute", kind="server", name="mute", settings={"host": "127.0.0.1", "port": port, "user": "root"})
        t0 = time.monotonic()
        exc = refusal(opened, target, connect_timeout=1.5)
        assert exc.reason.value == "timeout"
        assert time.monotonic() - t0 < 1.5 + 1.0


def test_a_peer_that_is_not_ssh_is_unreachable(opened):
    with _peer(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n") as port:
        target = Target(id="server:web", kind="server", name="web", settings={"host": "127.0.0.1", "port": port, "user": "root"})
        exc = refusal(opened, target, connect_timeout=5)
        assert exc.reason.value == "unreachable"


class _peer:
    """A loopback TCP server that sends ``greeting`` to each connection, then closes it (or, if empty, stays silent)."""

    def __init__(self, greeting: bytes):
        self.greeting = greeting
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []

    def __enter__(self) -> int:
        threading.Thread(target=self._serve, daemon=True).start()
        return int(self.listener.getsockname()[1])

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)
            if self.greeting:
                conn.sendall(self.greeting)
                conn.close()

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


def test_handshakes_are_bounded_per_destination(sshd_factory, opened, tmp_path):
    """sshd drops unauthenticated connections beyond MaxStartups; the bound keeps a burst under it."""
    server = sshd_factory("narrow", extra_config="MaxStartups 4\n")
    client = Client(server, str(tmp_path), make_key(str(tmp_path), "id"))
    server.authorize(client.key)
    target = client.target()
    transports = Transports(ConnectOptions(max_handshakes=2), {target.id: target})
    opened.append(transports)
    outcomes: list[Any] = []

    def work() -> None:
        try:
            conn = transports.open("shell", target)
            outcomes.append(conn.run(["true"], timeout=20).exit_status)
            conn.close()
        except CollectError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == [0] * 12


# -- jump hosts -----------------------------------------------------------------


def test_proxy_jump_by_inventory_name_shares_one_jump_connection(sshd_factory, opened, tmp_path):
    bastion, inner = sshd_factory("bastion"), sshd_factory("inner")
    key = make_key(str(tmp_path), "id")
    bastion.authorize(key)
    inner.authorize(key)
    known_hosts = write(str(tmp_path / "known_hosts"), bastion.known_hosts_line() + inner.known_hosts_line())
    inventory = write(str(tmp_path / "inventory.yaml"), f"""
        servers:
          - {{name: bastion, host: 127.0.0.1, port: {bastion.port}, user: root, key_file: {key}, known_hosts: {known_hosts}}}
          - {{name: web1, host: 127.0.0.1, port: {inner.port}, user: root, key_file: {key}, known_hosts: {known_hosts}, proxy_jump: bastion}}
          - {{name: web2, host: 127.0.0.1, port: {inner.port}, user: root, key_file: {key}, known_hosts: {known_hosts}, proxy_jump: "root@127.0.0.1:{bastion.port}"}}
        """)
    from auditor.inventory import load_inventory

    targets = {t.id: t for t in load_inventory(inventory).targets}
    transports = Transports(ConnectOptions(), targets)
    opened.append(transports)
    one, two = transports.open("shell", targets["server:web1"]), transports.open("shell", targets["server:web2"])
    opened.extend([one, two])
    for conn in (one, two):
        assert conn.run(["echo", "through"], timeout=10).stdout == b"through\n"
        assert conn.host_key_info["fingerprint"] == inner.fingerprint
        assert bastion.fingerprint in conn.host_key_info["proxy_jump"]
        tunnel = conn.ssh.sock
        assert isinstance(tunnel, __import__("paramiko").Channel), "the inner connection runs over a channel of the jump connection"
        assert tunnel.get_transport().getpeername()[1] == bastion.port
    assert one.ssh.sock.get_transport() is two.ssh.sock.get_transport(), "both servers share one jump connection"
    assert repr(one) == f"<SSHConnection root@127.0.0.1:{inner.port} via root@127.0.0.1:{bastion.port}>"


def test_the_jump_hosts_unknown_key_is_refused(sshd_factory, opened, tmp_path):
    bastion, inner = sshd_factory("bastion"), sshd_factory("inner")
    key = make_key(str(tmp_path), "id")
    bastion.authorize(key)
    inner.authorize(key)
    known_hosts = write(str(tmp_path / "known_hosts"), inner.known_hosts_line())  # the bastion is missing
    jump = Target(id="server:bastion", kind="server", name="bastion", settings={"host": "127.0.0.1", "port": bastion.port, "user": "root", "key_file": key, "known_hosts": known_hosts})
    target = Target(id="server:web1", kind="server", name="web1", settings={"host": "127.0.0.1", "port": inner.port, "user": "root", "key_file": key, "known_hosts": known_hosts, "proxy_jump": "bastion"})
    exc = refusal(opened, target, (jump,))
    assert exc.reason.value == "host_key_rejected"
    assert exc.message.startswith("jump host bastion") and bastion.fingerprint in exc.message


# -- through the engine and the command line ------------------------------------


def _inventory(client: Client, folder: str, known_hosts: str | None = None) -> str:
    return write(os.path.join(folder, "inventory.yaml"), f"""
        servers:
          - name: box
            host: 127.0.0.1
            port: {client.server.port}
            user: root
            key_file: {client.key}
            known_hosts: {known_hosts or client.known_hosts}
            sshd_config: {client.server.config}
        """)


def test_audit_over_ssh_gives_real_verdicts_with_evidence(client, tmp_path):
    run = audit(_inventory(client, str(tmp_path)), only=["ACCESS-SSH-ROOT-LOGIN", "PWHASH-SHADOW-EMPTY"])
    found = verdicts(run)
    root_login = found[("ACCESS-SSH-ROOT-LOGIN", "server:box")]
    assert root_login.status.value == "fail" and "yes" in root_login.message
    assert found[("PWHASH-SHADOW-EMPTY", "server:box")].status.value in ("pass", "fail")
    facts = {f.name: f for f in run.facts}
    sshd_t = facts["sshd.effective_config"]
    assert sshd_t.status == "ok" and sshd_t.transport == "ssh"
    (evidence,) = sshd_t.evidence
    assert evidence.argv[1:] == ("-T", "-f", client.server.config) and evidence.exit_status == 0
    assert facts["shadow.hash_schemes"].evidence[0].argv == ("cat", "--", "/etc/shadow")


def test_audit_of_a_server_with_an_unknown_host_key_is_error_everywhere(client, tmp_path):
    empty = write(str(tmp_path / "known_hosts"), "")
    run = audit(_inventory(client, str(tmp_path), known_hosts=empty), only=["ACCESS-SSH-ROOT-LOGIN", "PWHASH-SHADOW-EMPTY"])
    assert run.findings
    for finding in run.findings:
        assert (finding.status.value, finding.reason) == ("error", "host_key_rejected")
        assert client.server.fingerprint in finding.message


def test_command_line_flags_reach_the_connection(client, tmp_path):
    inventory = write(str(tmp_path / "inventory.yaml"), f"""
        servers:
          - {{name: box, host: 127.0.0.1, port: {client.server.port}, user: root, key_file: {client.key}, sshd_config: {client.server.config}}}
        """)
    out = str(tmp_path / "reports")
    common = ["run", inventory, "--out", out, "--only", "ACCESS-SSH-ROOT-LOGIN", "-q", "--connect-timeout", "5"]
    assert main([*common, "--known-hosts", client.known_hosts]) == 1  # verified, PermitRootLogin yes: a violation
    empty = write(str(tmp_path / "empty_known_hosts"), "")
    assert main([*common, "--known-hosts", empty]) == 3  # unknown key: could not verify
    assert main([*common, "--known-hosts", empty, "--trust-on-first-use"]) == 1
    with open(os.path.join(out, "latest", "run.json"), encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["options"]["trust_on_first_use"] is True
    assert main([*common, "--known-hosts", str(tmp_path / "nope")]) == 2
