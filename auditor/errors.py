"""Exceptions with a meaning.

Two worlds: :class:`InputError` is the user's mistake (bad inventory, bad
policy, bad flag) and ends the program with a clear message and exit code 2;
:class:`CollectError` and :class:`NotApplicable` are raised by collectors and
become facts with status ``error`` or ``skipped``; they never end a run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Reason


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, pointing at where it is."""

    file: str
    line: int | None  # 1-based
    column: int | None  # 1-based
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class InputError(Exception):
    """Bad input from the user: every problem found, reported at once."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, (str, Problem)):
            problems = [problems if isinstance(problems, Problem) else Problem("<input>", None, None, problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CollectError(Exception):
    """A fact could not be gathered. ``reason`` is a :class:`Reason`."""

    def __init__(self, reason: Reason, message: str):
        self.reason = Reason(reason)
        self.message = message
        super().__init__(f"{self.reason.value}: {message}")


class NotApplicable(Exception):
    """The fact does not exist on this target (e.g. sshd not installed)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)
