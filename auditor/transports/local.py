"""Run commands on the machine the auditor runs on, without a shell."""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from typing import Mapping, Sequence

from ..errors import CollectError
from ..model import Reason
from ..timeutil import utc_now_iso
from .base import DEFAULT_MAX_OUTPUT, CommandResult, check_argv

# A predictable environment: the C locale (collectors do not depend on it, but
# messages are then English, as over SSH where sshd accepts LC_*), and the
# usual sbin directories so that `sshd` is found when not root.
_ENV = {
    "LC_ALL": "C",
    "LANG": "C",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}


class LocalConnection:
    transport = "local"

    def __init__(self, sudo_argv: Sequence[str] = ("sudo", "-n", "--")):
        self._sudo = tuple(sudo_argv)
        self._live: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def run(self, argv: Sequence[str], *, timeout: float, sudo: bool = False, max_output: int = DEFAULT_MAX_OUTPUT, input: bytes | None = None, env: Mapping[str, str] | None = None) -> CommandResult:
        argv = check_argv(argv)
        full = (self._sudo + argv) if sudo and os.geteuid() != 0 else argv
        started, t0 = utc_now_iso(), time.monotonic()
        environment = dict(_ENV)
        environment["HOME"] = os.environ.get("HOME", "/")
        environment.update(env or {})
        with self._lock:
            if self._closed:
                raise CollectError(Reason.INTERRUPTED, "the connection was closed (run interrupted)")
            try:
                proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                    list(full), stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, start_new_session=True,
                )
            except FileNotFoundError:
                raise CollectError(Reason.NOT_FOUND, f"{full[0]}: command not found") from None
            except PermissionError as exc:
                raise CollectError(Reason.PERMISSION_DENIED, f"{full[0]}: {exc.strerror}") from None
            self._live.add(proc)
        if input is not None and proc.stdin is not None:
            try:
                proc.stdin.write(input)  # small (a passphrase): fits the pipe buffer
            except BrokenPipeError:
                pass
            proc.stdin.close()
        try:
            stdout, stderr, truncated = _bounded_communicate(proc, timeout, max_output)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.wait()
            raise CollectError(Reason.TIMEOUT, f"`{shlex.join(full)}` did not finish within {timeout:g}s") from None
        finally:
            with self._lock:
                self._live.discard(proc)
        if self._closed and proc.returncode < 0:
            raise CollectError(Reason.INTERRUPTED, f"`{shlex.join(full)}` was stopped (run interrupted)")
        return CommandResult(
            argv=full,
            exit_status=proc.returncode,
            stdout=stdout,
            stderr=stderr,
            started_at=started,
            duration_ms=int((time.monotonic() - t0) * 1000),
            truncated=truncated,
        )

    def close(self) -> None:
        """Stop anything still running (an interrupted run) and refuse new commands."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for proc in live:
            _kill(proc)


MAX_STDERR = 65536


def _bounded_communicate(proc: subprocess.Popen[bytes], timeout: float, max_output: int) -> tuple[bytes, bytes, bool]:
    """Read stdout and stderr until exit, keeping at most ``max_output`` bytes of stdout.

    Memory stays bounded whatever the command prints: past the limit the
    command is stopped and the result marked truncated.
    """
    if proc.stdout is None or proc.stderr is None:
        raise RuntimeError("the command was started without pipes")
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    truncated = False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = key.data
                limit = max_output if buf is out else MAX_STDERR
                room = limit - len(buf)
                if room > 0:
                    buf += chunk[:room]
                if buf is out and len(chunk) > room:
                    truncated = True
                    _kill(proc)
    proc.stdout.close()
    proc.stderr.close()
    left = max(0.1, deadline - time.monotonic())
    proc.wait(timeout=left)
    return bytes(out), bytes(err), truncated


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything it started (its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
