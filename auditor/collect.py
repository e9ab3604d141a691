"""The collector's view of a target: run commands, record evidence.

Every command a collector runs through :meth:`Context.run` is recorded as
:class:`~auditor.model.Evidence` (argv, exit status, time, an excerpt of the
output and its SHA-256). Output that may contain secrets is passed through
the collector's ``redact`` function first; then only the redacted text is
kept and digested.
"""

from __future__ import annotations

import getpass
import shlex
import time
from typing import Any, Callable, Mapping, Sequence

from .errors import CollectError
from .evidence import EXCERPT_CHARS, EvidenceLog, excerpt
from .model import Reason, Target
from .transports.base import CommandResult

__all__ = ["Context", "EXCERPT_CHARS", "excerpt", "sudo_refusal", "command_error", "execute"]

_DENIED = ("permission denied", "operation not permitted", "a password is required", "a terminal is required", "sudo: ")


class Context:
    """Passed to a collector: the target, its connection, a deadline."""

    def __init__(self, target: Target, conn: Any, params: Mapping[str, Any], deadline: float, host: Target | None = None, reads: Any = None):
        self.target = target
        self.host = host or target  # the server whose shell runs the commands (a backup's server)
        self.conn = conn
        self.params = params
        self.deadline = deadline
        self.evidence = EvidenceLog()
        self.reads = reads  # the server's SharedReads (auditor.shellreads), for collectors that declared reads

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CollectError(Reason.TIMEOUT, "collector ran out of time")
        return left

    def rooted(self, path: str) -> str:
        """``path`` under the server's ``root_dir`` (a mounted image or container root), if it has one."""
        return rooted(self.host, path)

    def run(
        self,
        argv: Sequence[str],
        *,
        sudo: bool | None = None,
        ok: Sequence[int] = (0,),
        redact: Callable[[str], str] | None = None,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run ``argv`` on the target and record it as evidence.

        An exit status outside ``ok`` raises :class:`CollectError`: with
        reason ``permission_denied`` when sudo refused it (the message names
        the refused argv and the sudoers line that would allow it), ``not_found``
        for exit 127, else ``command_failed``. ``sudo`` defaults to the target's
        ``sudo`` setting (of the server, for a backup). ``input`` goes to the
        command's stdin and ``env`` to its environment; neither is ever
        recorded (use them for passphrases, never argv).
        """
        use_sudo = bool(self.host.get("sudo", False)) if sudo is None else sudo
        result = execute(self.conn, argv, sudo=use_sudo, user=self.user, timeout=self.remaining(), input=input, env=env, record=lambda r: self.record_command(r, redact=redact))
        if result.exit_status not in ok:
            raise command_error(result)
        return result

    @property
    def user(self) -> str:
        """The account the commands run as on the target (for sudoers lines in messages)."""
        return account_of(self.host)

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
    """sudo's own refusal line, if sudo (not the program it ran) failed.

    sudo's messages are translated, but always start with ``sudo:`` (its
    program name), which the programs it runs never print: any such line on
    a failed sudo command is sudo's. "command not found" is not a refusal.
    """
    if result.exit_status == 0 or result.argv[:1] != ("sudo",):
        return None
    for line in result.error_text.splitlines():
        low = line.lower().strip()
        if low.startswith("sudo:") and not low.endswith("command not found"):
            return line.strip()
    return None


def rooted(host: Target, path: str) -> str:
    """``path`` under the server's ``root_dir`` (a mounted image or container root), if it has one."""
    return str(host.get("root_dir") or "").rstrip("/") + path


def account_of(host: Target) -> str:
    """The account commands run as on a server: its ``user`` (SSH), else this machine's user."""
    if host.get("user") and host.get("connection", "ssh") != "local":
        return str(host.get("user"))
    try:
        return getpass.getuser()
    except OSError:
        return "auditor"


def execute(
    conn: Any, argv: Sequence[str], *, sudo: bool, user: str, timeout: float,
    input: bytes | None = None, env: Mapping[str, str] | None = None, record: Callable[[CommandResult], None] | None = None,
) -> CommandResult:
    """Run ``argv`` on ``conn`` (through sudo when asked); a refusal by sudo raises, naming what would allow it."""
    options: dict[str, Any] = {}
    if input is not None:
        options["input"] = input
    if env:
        options["env"] = env
    result = conn.run(list(argv), timeout=timeout, sudo=sudo, **options)
    if record is not None:
        record(result)
    if sudo and (refusal := sudo_refusal(result)):
        # sudo's own exit status (1) can look like the program's: judge it before the program's.
        from .sudoers_file import allow_line

        inner = list(result.argv[3:]) if result.argv[:3] == ("sudo", "-n", "--") else list(argv)
        raise CollectError(
            Reason.PERMISSION_DENIED,
            f"sudo refused `{shlex.join(inner)}` ({refusal}); the sudoers line that allows exactly this: `{allow_line(user, inner)}` (or print the whole drop-in with `auditor sudoers INVENTORY`)",
        )
    return result


def command_error(result: CommandResult) -> CollectError:
    err = result.error_text
    first = err.splitlines()[0] if err else f"exit status {result.exit_status}"
    low = err.lower()
    if result.exit_status == 127 or "command not found" in low:
        return CollectError(Reason.NOT_FOUND, f"{result.argv[0]}: command not found")
    if any(marker in low for marker in _DENIED):
        return CollectError(Reason.PERMISSION_DENIED, f"`{result.display}` was refused: {first}")
    return CollectError(Reason.COMMAND_FAILED, f"`{result.display}` exited with status {result.exit_status}: {first}")
