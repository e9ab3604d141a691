"""The collector's view of a target: run commands, record evidence.

Every command a collector runs through :meth:`Context.run` is recorded as
:class:`~auditor.model.Evidence` (argv, exit status, time, an excerpt of the
output and its SHA-256). Output that may contain secrets is passed through
the collector's ``redact`` function first; then only the redacted text is
kept and digested.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

from .errors import CollectError
from .evidence import EXCERPT_CHARS, EvidenceLog, excerpt
from .model import Reason, Target
from .transports.base import CommandResult

__all__ = ["Context", "EXCERPT_CHARS", "excerpt", "sudo_refusal", "command_error"]

_DENIED = ("permission denied", "operation not permitted", "a password is required", "a terminal is required", "sudo: ")


class Context:
    """Passed to a collector: the target, its connection, a deadline."""

    def __init__(self, target: Target, conn: Any, params: Mapping[str, Any], deadline: float, host: Target | None = None):
        self.target = target
        self.host = host or target  # the server whose shell runs the commands (a backup's server)
        self.conn = conn
        self.params = params
        self.deadline = deadline
        self.evidence = EvidenceLog()

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CollectError(Reason.TIMEOUT, "collector ran out of time")
        return left

    def rooted(self, path: str) -> str:
        """``path`` under the server's ``root_dir`` (a mounted image or container root), if it has one."""
        return self.host.get("root_dir", "").rstrip("/") + path

    def run(
        self,
        argv: Sequence[str],
        *,
        sudo: bool | None = None,
        ok: Sequence[int] = (0,),
        redact: Callable[[str], str] | None = None,
        input: bytes | None = None,
    ) -> CommandResult:
        """Run ``argv`` on the target and record it as evidence.

        An exit status outside ``ok`` raises :class:`CollectError`: with
        reason ``permission_denied`` when stderr says so, ``not_found`` for
        exit 127, else ``command_failed``. ``sudo`` defaults to the target's
        ``sudo`` setting (of the server, for a backup). ``input`` goes to the command's stdin and is never
        recorded (use it for passphrases, never argv or environment).
        """
        use_sudo = bool(self.host.get("sudo", False)) if sudo is None else sudo
        result = self.conn.run(list(argv), timeout=self.remaining(), sudo=use_sudo, **({"input": input} if input is not None else {}))
        self.record_command(result, redact=redact)
        if use_sudo and (refusal := sudo_refusal(result)):
            # sudo's own exit status (1) can look like the program's: judge it before `ok`.
            raise CollectError(Reason.PERMISSION_DENIED, f"sudo refused `{result.display}`: {refusal} (grant the audit user NOPASSWD sudo for this command, or audit as root)")
        if result.exit_status not in ok:
            raise command_error(result)
        return result

    def record_command(self, result: CommandResult, *, redact: Callable[[str], str] | None = None) -> None:
        if redact is not None:
            self.evidence.command(result, shown=redact(result.text), redacted=True)
        else:
            self.evidence.command(result)

    def record(self, kind: str, source: str, content: str, *, redacted: bool = False) -> None:
        """Record evidence that is not a command (an inventory entry, an API answer)."""
        self.evidence.add(kind, source, content, redacted=redacted)


_SUDO_REFUSALS = ("a password is required", "a terminal is required", "is not allowed to execute", "is not in the sudoers file", "may not run sudo", "sorry, user", "no tty present", "command not allowed")


def sudo_refusal(result: CommandResult) -> str | None:
    """sudo's own refusal line, if sudo (not the program it ran) failed."""
    if result.exit_status == 0:
        return None
    for line in result.error_text.splitlines():
        low = line.lower()
        if low.startswith("sudo:") and any(marker in low for marker in _SUDO_REFUSALS):
            return line.strip()
    return None


def command_error(result: CommandResult) -> CollectError:
    err = result.error_text
    first = err.splitlines()[0] if err else f"exit status {result.exit_status}"
    low = err.lower()
    if result.exit_status == 127 or "command not found" in low:
        return CollectError(Reason.NOT_FOUND, f"{result.argv[0]}: command not found")
    if any(marker in low for marker in _DENIED):
        return CollectError(Reason.PERMISSION_DENIED, f"`{result.display}` was refused: {first}")
    return CollectError(Reason.COMMAND_FAILED, f"`{result.display}` exited with status {result.exit_status}: {first}")
