"""Evidence: the one way every transport records what it observed.

A fact's evidence is an :class:`EvidenceLog`: the commands run, files read,
queries, API calls and protocol dialogues behind it, in order. Every entry is
made by :func:`observation`, so there is one excerpt rule (the first
:data:`EXCERPT_CHARS` characters of what may be shown, marked ``truncated``
beyond) and one digest rule (SHA-256 of the raw bytes, or of the shown text
when it was redacted, so that no digest of a secret leaves the target).
A credential that :func:`auditor.redact.mask_credentials` recognises (a URL's
password, ``password=...``) is masked in every observation, which is then
marked redacted.

>>> log = EvidenceLog()
>>> e = log.add("file", "/etc/hostname", "web1\\n")
>>> e.excerpt, len(log)
('web1\\n', 1)
"""

from __future__ import annotations

import threading
from typing import Iterable, Iterator, Protocol, Sequence, overload

from .model import Evidence, sha256_hex
from .redact import mask_credentials
from .timeutil import utc_now_iso

EXCERPT_CHARS = 4000  # characters of an observation a report shows
STDERR_CHARS = 1000  # characters of a failed command's stderr added to its excerpt


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> tuple[str, bool]:
    """The first ``limit`` characters of ``text`` and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit] + f"\n… ({len(text) - limit} more characters)", True


def observation(
    kind: str,
    source: str,
    shown: str,
    *,
    raw: bytes | str | None = None,
    redacted: bool = False,
    at: str | None = None,
    exit_status: int | None = None,
    argv: Sequence[str] | None = None,
    duration_ms: int | None = None,
    truncated: bool = False,
    note: str = "",
) -> Evidence:
    """One piece of evidence: ``shown`` (already redacted if need be) is excerpted,
    ``raw`` (default: ``shown``) is digested, unless ``redacted``: then only ``shown``
    is. ``note`` is appended to the excerpt unbounded-but-small (a stderr line)."""
    masked = mask_credentials(shown)
    if masked != shown:  # a credential in what was observed: show and digest the masked text only
        shown, redacted = masked, True
    body, cut = excerpt(shown)
    if note:
        note = mask_credentials(note)
    if note:
        body += ("\n" if body else "") + note
    digest = sha256_hex(shown if redacted or raw is None else raw)
    return Evidence(
        kind=kind, source=mask_credentials(source), at=at or utc_now_iso(), exit_status=exit_status, excerpt=body, sha256=digest,
        truncated=cut or truncated, redacted=redacted, argv=tuple(mask_credentials(a) for a in argv) if argv is not None else None, duration_ms=duration_ms,
    )


class CommandLike(Protocol):
    @property
    def argv(self) -> tuple[str, ...]: ...

    @property
    def exit_status(self) -> int: ...

    @property
    def stdout(self) -> bytes: ...

    @property
    def started_at(self) -> str: ...

    @property
    def duration_ms(self) -> int: ...

    @property
    def truncated(self) -> bool: ...

    @property
    def text(self) -> str: ...

    @property
    def error_text(self) -> str: ...

    @property
    def display(self) -> str: ...


def command_observation(result: CommandLike, *, shown: str | None = None, raw: bytes | str | None = None, redacted: bool = False, source: str | None = None) -> Evidence:
    """A command as evidence: its argv, exit status and output (or the part of it ``shown``)."""
    note = ""
    if result.exit_status != 0 and result.error_text:
        note = "[stderr] " + excerpt(result.error_text, STDERR_CHARS)[0]
    return observation(
        "command", source or result.display, result.text if shown is None else shown,
        raw=(result.stdout if shown is None else raw), redacted=redacted, at=result.started_at, exit_status=result.exit_status,
        argv=result.argv, duration_ms=result.duration_ms, truncated=result.truncated, note=note,
    )


class EvidenceLog:
    """The evidence of one fact, in order; safe to add to from several threads."""

    def __init__(self, items: Iterable[Evidence] = ()) -> None:
        self._items: list[Evidence] = list(items)
        self._lock = threading.Lock()

    def add(self, kind: str, source: str, shown: str, **options: object) -> Evidence:
        """Record an observation (see :func:`observation` for the options)."""
        return self.append(observation(kind, source, shown, **options))  # type: ignore[arg-type]

    def command(self, result: CommandLike, **options: object) -> Evidence:
        """Record a command (see :func:`command_observation`)."""
        return self.append(command_observation(result, **options))  # type: ignore[arg-type]

    def append(self, evidence: Evidence) -> Evidence:
        with self._lock:
            self._items.append(evidence)
        return evidence

    def extend(self, items: Iterable[Evidence]) -> None:
        items = list(items)
        with self._lock:
            self._items.extend(items)

    def __iter__(self) -> Iterator[Evidence]:
        with self._lock:
            return iter(list(self._items))

    @overload
    def __getitem__(self, index: int) -> Evidence: ...

    @overload
    def __getitem__(self, index: slice) -> list[Evidence]: ...

    def __getitem__(self, index: int | slice) -> Evidence | list[Evidence]:
        """An entry (``log[-1]``: the latest) or a list of entries, as a list would give them."""
        with self._lock:
            return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._items
