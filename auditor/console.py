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
from typing import Any

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
