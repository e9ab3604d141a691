"""Run commands on the machine the auditor runs on, without a shell."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Sequence

from ..errors import CollectError
from ..model import Reason
from ..timeutil import utc_now_iso
from .base import DEFAULT_MAX_OUTPUT, CommandResult, check_argv

# A predictable environment: C locale so that tools print parseable English,
# and the usual sbin directories so that `sshd` is found when not root.
_ENV = {
    "LC_ALL": "C",
    "LANG": "C",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}


class LocalConnection:
    transport = "local"

    def __init__(self, sudo_argv: Sequence[str] = ("sudo", "-n", "--")):
        self._sudo = tuple(sudo_argv)

    def run(self, argv: Sequence[str], *, timeout: float, sudo: bool = False, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        argv = check_argv(argv)
        full = (self._sudo + argv) if sudo and os.geteuid() != 0 else argv
        started, t0 = utc_now_iso(), time.monotonic()
        env = dict(_ENV)
        env["HOME"] = os.environ.get("HOME", "/")
        try:
            proc = subprocess.run(  # noqa: S603 - argv list, no shell
                list(full),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                env=env,
                check=False,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise CollectError(Reason.NOT_FOUND, f"{full[0]}: command not found") from None
        except PermissionError as exc:
            raise CollectError(Reason.PERMISSION_DENIED, f"{full[0]}: {exc.strerror}") from None
        except subprocess.TimeoutExpired:
            raise CollectError(Reason.TIMEOUT, f"{' '.join(full)} did not finish within {timeout:g}s") from None
        stdout = proc.stdout
        truncated = len(stdout) > max_output
        return CommandResult(
            argv=full,
            exit_status=proc.returncode,
            stdout=stdout[:max_output],
            stderr=proc.stderr[:65536],
            started_at=started,
            duration_ms=int((time.monotonic() - t0) * 1000),
            truncated=truncated,
        )

    def close(self) -> None:
        pass
