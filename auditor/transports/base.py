"""The transport interface: how collectors reach a target.

A transport runs a fixed argv on a target and returns what happened. Local
and SSH connections implement the same :class:`ShellConnection` protocol, so
the same collector code runs over either. Argv lists go end to end: local
runs them with ``subprocess`` (no shell); a remote transport quotes each
element itself with :func:`shlex.quote`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

DEFAULT_MAX_OUTPUT = 8 * 1024 * 1024  # bytes kept of a command's stdout


@dataclass(frozen=True)
class CommandResult:
    """What a command did (after testinfra's CommandResult)."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: bytes
    stderr: bytes
    started_at: str
    duration_ms: int
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def error_text(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()

    @property
    def display(self) -> str:
        return shlex.join(self.argv)


class Connection(Protocol):
    """Any open connection to a target; closed once at the end."""

    transport: str  # "local", "ssh", "inventory", ...

    def close(self) -> None: ...


class ShellConnection(Connection, Protocol):
    def run(self, argv: Sequence[str], *, timeout: float, sudo: bool = False, max_output: int = DEFAULT_MAX_OUTPUT, input: bytes | None = None, env: Mapping[str, str] | None = None) -> CommandResult:
        """Run ``argv`` on the target, with ``input`` (small: a passphrase) on its stdin.

        ``env``: variables the command needs (values never recorded, never in
        argv; through sudo they reach the command only where sudoers'
        ``env_keep`` allows).

        Raises :class:`auditor.errors.CollectError` with reason ``timeout``
        when the command outlives ``timeout``, ``not_found`` when the program
        does not exist, ``unreachable`` when the connection is lost. A
        non-zero exit status is *not* an exception: it is in the result.
        """
        ...


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Reject anything but a non-empty list of strings (no shell strings)."""
    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"argv must be a non-empty list of str, got {argv!r}")
    if any("\x00" in a for a in argv):
        raise ValueError("argv elements cannot contain NUL bytes")
    return tuple(argv)
