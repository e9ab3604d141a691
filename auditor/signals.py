"""SIGINT and SIGTERM during ``auditor run``: the run ends, its report is written.

The first signal while targets are being audited asks the runner to stop
(:meth:`~auditor.runner.Runner.stop`): what is unfinished becomes ``error``
(interrupted), the report is written marked ``complete: false``, and the exit
code is 130 (SIGINT) or 143 (SIGTERM, e.g. systemd stopping a timer unit).
Further signals change nothing: a second Ctrl-C no longer cuts the writing of
the report short. A signal before any target is contacted ends the program at
once (KeyboardInterrupt, nothing audited, nothing written); one after the
audit finished is noted and the run's own verdict stands.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Any, Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES: dict[int, str] = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class StopSignals:
    """Handlers for SIGINT and SIGTERM, installed for the life of the ``with`` block (main thread only)."""

    def __init__(self) -> None:
        self.received: int | None = None  # the first signal, if any
        self.audited = False  # True once the audit is over (signals then wait for the report)
        self._stop: Callable[[str], None] | None = None
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()

    @property
    def exit_code(self) -> int | None:
        """128 + the first signal's number (130 for SIGINT, 143 for SIGTERM), or None."""
        return None if self.received is None else 128 + self.received

    @property
    def name(self) -> str | None:
        return None if self.received is None else NAMES.get(self.received, f"signal {self.received}")

    @contextlib.contextmanager
    def stopping(self, stop: Callable[[str], None]) -> Iterator[None]:
        """While the block runs (the audit), the first signal calls ``stop(why)``; after it, signals are only noted."""
        self._stop = stop
        try:
            yield
        finally:
            self._stop = None
            self.audited = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.received is None
        if first:
            self.received = signum
        if self._stop is not None:
            if first:
                self._stop(self.name or "")
            return
        if not self.audited and first:
            raise KeyboardInterrupt  # nothing contacted yet: end now, as Ctrl-C always did
