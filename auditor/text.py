"""Text made safe for every output format (HTML, XML, Markdown, the console's reports).

>>> printable("bell\\x07 and tab\\t")
'bell\\\\x07 and tab\\t'
"""

from __future__ import annotations

import re

# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR, surrogates,
# U+FFFE/U+FFFF) plus DEL and C1 controls, which HTML also rejects.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with characters XML 1.0 and HTML cannot carry written as ``\\xNN`` / ``\\uNNNN``."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)
