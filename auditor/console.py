"""Text for the terminal: what a target (or a user's file) says is shown, never obeyed.

File names, messages and values may carry ANSI escape sequences, carriage
returns, newlines, bidirectional overrides or credentials. :func:`terminal`
makes one line of them that a terminal displays as written: control
characters become visible escapes (``\\x1b``, ``\\n``), credentials
``***`` (:func:`auditor.redact.mask_credentials`).

>>> terminal("backup\\x1b[31m.tar\\nFAKE PASS postgresql://u:pw@db/x")
'backup\\\\x1b[31m.tar\\\\nFAKE PASS postgresql://u:***@db/x'
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from .model import severity_rank
from .redact import mask_credentials

# C0 controls (tab, newline and carriage return too), DEL, C1 controls, line/paragraph
# separators, bidirectional embeddings/overrides/isolates, lone surrogates, non-characters
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with every character that could move the cursor, recolour or reorder the terminal written as an escape."""
    def escape(m: re.Match[str]) -> str:
        c = m.group(0)
        return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return _CONTROL.sub(escape, text)


def terminal(text: Any) -> str:
    """``text`` as one safe line for the terminal: credentials masked, control characters escaped."""
    return escape_controls(mask_credentials("" if text is None else str(text)))


MAX_LINES = 30  # finding lines printed after a run; the rest are counted per status
MAX_FAIL_MESSAGE = 200  # a failure's message is cut (at a word) past this; an error's reason is printed whole
_STATUS_ORDER = ("fail", "error")


def finding_lines(findings: Sequence[Mapping[str, Any]], limit: int = MAX_LINES) -> list[str]:
    """The console's lines for the failed and unverified findings of a run, most severe first.

    Failures come first, then errors; within each, by severity (critical
    first), then control id, then target. Errors of one target that share a
    message (an unreachable server, a refused host key, sudo refused: every
    control of the target fails for the same reason) make one line naming how
    many controls they stop, with the message in full. Past ``limit`` lines,
    one line counts what is left per status.
    """
    entries = _failures(findings) + _errors(findings)
    lines = [_line(*e[:4], e[4]) for e in entries[:limit]]
    if len(entries) > limit:
        rest: dict[str, int] = {}
        for entry in entries[limit:]:
            rest[entry[0]] = rest.get(entry[0], 0) + entry[5]
        tally = ", ".join(f"{status} {rest[status]}" for status in _STATUS_ORDER if status in rest)
        lines.append(f"  ... and {sum(rest.values())} more in the report ({tally})")
    return lines


# An entry: (status, severity, control column, target, message, findings it stands for).
_Entry = tuple[str, str, str, str, str, int]


def _order(severity: str, control: str, target: str) -> tuple[int, str, str]:
    return (-severity_rank(severity), control, target)


def _failures(findings: Sequence[Mapping[str, Any]]) -> list[_Entry]:
    fails = [f for f in findings if f["status"] == "fail"]
    fails.sort(key=lambda f: _order(f["severity"], f["control"], f["target"]))
    return [("fail", f["severity"], f["control"], f["target"], _cut(terminal(f["message"]), MAX_FAIL_MESSAGE), 1) for f in fails]


def _errors(findings: Sequence[Mapping[str, Any]]) -> list[_Entry]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for f in findings:
        if f["status"] == "error":
            groups.setdefault((f["target"], f["message"]), []).append(f)
    entries: list[_Entry] = []
    for (target, message), group in groups.items():
        worst = min(group, key=lambda f: _order(f["severity"], f["control"], target))
        control = worst["control"] if len(group) == 1 else f"{len(group)} controls"
        entries.append(("error", worst["severity"], control, target, terminal(message), len(group)))
    entries.sort(key=lambda e: _order(e[1], e[2], e[3]))
    return entries


def _line(status: str, severity: str, control: str, target: str, message: str) -> str:
    return f"  {status.upper():<5} {severity:<8} {control:<32} {terminal(target)}: {message}"


def _cut(text: str, width: int) -> str:
    """``text`` shortened to about ``width`` characters at a word boundary, marked with an ellipsis."""
    if len(text) <= width:
        return text
    head = text[:width].rsplit(" ", 1)[0].rstrip(",;:")
    return head + " …"
