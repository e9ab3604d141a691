"""Cancelling a run has no window: a connection or command started just as the
run is cancelled is stopped like every other (issue 12, item 15).

Each test puts the cancellation exactly in the window that used to let work
escape, with a hook on the real code path (real sshd, real paramiko), so the
race is exercised every time rather than once in a while under load.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from auditor.inventory import load_inventory
from auditor.policy import load_policy
from auditor.registry import Registry
from auditor.runner import RunOptions, Runner, make_plan
from auditor.transports import ConnectOptions, Transports

from sshd_server import make_key, sshd_factory  # noqa: F401 - fixture


_SSHD: list[Any] = []  # the server of the running test: only its processes are looked at


def _cmdline(pattern: str) -> bytes:
    return (pattern.replace(" ", "\0") + "\0").encode()


def _remote(pattern: str) -> list[int]:
    """PIDs of processes under the test's own sshd whose command line is ``pattern`` (other tests may run theirs)."""
    return [pid for pid in (_SSHD[-1].session_pids() if _SSHD else ()) if _alive(pid, pattern)]


def _alive(pid: int, pattern: str) -> bool:
    """Whether ``pid`` still runs ``pattern`` (once its session is gone it is no longer under sshd: follow the PID)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read() == _cmdline(pattern)
    except OSError:
        return False


def _gone(pids: list[int], pattern: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(pid, pattern) for pid in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def server(sshd_factory, tmp_path):
    sshd = sshd_factory("race")
    _SSHD.append(sshd)
    key = make_key(str(tmp_path), "id_ed25519")
    sshd.authorize(key)
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    return {"host": "127.0.0.1", "port": sshd.port, "user": "root", "key_file": key, "known_hosts": str(known)}


def test_a_connection_opened_as_the_run_is_cancelled_is_closed(server, tmp_path, test_plugin):
    """Ctrl-C lands after a worker checked the cancel flag and opened its connection, before it registered it.

    Before: the handler closed the connections it knew, this one was not among
    them, and the worker went on to run `sleep 60` to its end (the process then
    could not exit for a minute).
    """
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("servers:\n  - {name: box, " + ", ".join(f"{k}: {v}" for k, v in server.items()) + "}\n")
    registry = Registry([test_plugin])
    runner = Runner(registry, load_inventory(str(inventory)), load_policy("baseline-eu", Registry.load()), RunOptions(only=("TEST-SLOW",)))
    (plan,), _ = make_plan(registry, runner.inventory, runner.options)
    real_open = runner.transports.open

    def open_then_ctrl_c(need: str, target: Any) -> Any:
        conn = real_open(need, target)
        runner.interrupt()  # what the Ctrl-C handler does, exactly now
        return conn

    runner.transports.open = open_then_ctrl_c  # type: ignore[method-assign]
    box: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: box.update(result=runner.audit_target(plan)), daemon=True)
    t0 = time.monotonic()
    worker.start()
    worker.join(20)
    try:
        assert not worker.is_alive(), "the target's work outlived the cancellation"
        facts, findings = box["result"]
        (slow,) = [f for f in facts if f.name == "test.slow"]
        assert (slow.status, slow.reason) == ("error", "interrupted"), slow
        assert [f.status.value for f in findings] == ["error"]
        assert time.monotonic() - t0 < 15
        assert _remote("sleep 60") == [], "sleep 60 was started on the server"
    finally:
        runner.transports.close()
        for pid in _remote("sleep 60"):
            os.kill(pid, 9)


def test_a_command_started_as_its_connection_closes_is_stopped(server, tmp_path):
    """close() (Ctrl-C) comes while a command is being started: after its channel was
    registered, before the server started the command.

    close() signals the channel then, when the command does not exist yet (the
    signal is lost), and drops the connection; the command, started in between,
    survived on the server (sshd does not end a session's process when the
    connection goes). Hooks on the real channel and transport put the start
    exactly between the signal and the disconnection.
    """
    from auditor.model import Target

    target = Target(id="server:box", kind="server", name="box", address="127.0.0.1", settings=server)
    transports = Transports(ConnectOptions(), {target.id: target})
    conn = transports.open("shell", target)
    real_open_session, real_close = conn.ssh.open_session, conn.ssh.close
    in_exec, exec_done = threading.Event(), threading.Event()

    def open_session(*args: Any, **kwargs: Any) -> Any:
        chan = real_open_session(*args, **kwargs)
        real_exec = chan.exec_command

        def exec_command(command: str) -> None:
            in_exec.set()
            deadline = time.monotonic() + 10
            while not conn._closed and time.monotonic() < deadline:  # noqa: SLF001 - the hook waits for close() to begin
                time.sleep(0.01)
            time.sleep(0.2)  # close() has signalled the (not yet started) command by now
            try:
                real_exec(command)
                deadline = time.monotonic() + 5
                while not _remote("sleep 302") and time.monotonic() < deadline:
                    time.sleep(0.01)
                box["started"] = _remote("sleep 302")
            finally:
                exec_done.set()

        chan.exec_command = exec_command
        return chan

    def close_after_the_start() -> None:
        exec_done.wait(10)  # the disconnection comes after the command started
        real_close()

    conn.ssh.open_session = open_session
    conn.ssh.close = close_after_the_start
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = conn.run(["sleep", "302"], timeout=60)
        except Exception as exc:  # noqa: BLE001
            box["error"] = exc

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    try:
        assert in_exec.wait(10)
        closer = threading.Thread(target=conn.close, daemon=True)
        closer.start()
        closer.join(15)
        runner.join(15)
        assert not closer.is_alive() and not runner.is_alive()
        assert box.get("started"), "the hook did not start the command: the test proves nothing"
        assert getattr(box.get("error"), "reason", None) is not None and box["error"].reason.value == "interrupted", box
        assert _gone(box["started"], "sleep 302", 5), "sleep 302 still running on the server after close()"
    finally:
        transports.close()
        for pid in box.get("started") or []:
            if _alive(pid, "sleep 302"):
                os.kill(pid, 9)
