"""Sudoers lines for the audit account: exactly the commands an audit runs, nothing more.

Used twice: ``auditor sudoers`` prints a drop-in for a whole inventory, and a
refused command's error names the line that would allow it. Every rule is
``NOPASSWD:NOEXEC`` (the readers never start another program) with the full
argument list, escaped so that sudo matches it literally (sudoers(5): ``\\``
before ``, : = \\`` and before the wildcard characters ``* ? [ ]``).

Where an argument list cannot be known in advance (the files of
``/etc/sudoers.d``, whose names only the server knows), the rule is an
anchored regular expression (sudo >= 1.9.10) that allows nothing but plain
names directly in that folder.

>>> sudoers_command(["find", "-H", "/etc/shadow", "-printf", "%p\\\\0"])
'/usr/bin/find -H /etc/shadow -printf %p\\\\\\\\0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

# Where the programs live on Debian, Ubuntu, RHEL, SUSE (merged /usr: /bin is /usr/bin).
PROGRAM_PATHS = {
    "cat": "/usr/bin/cat",
    "find": "/usr/bin/find",
    "sshd": "/usr/sbin/sshd",
    "borg": "/usr/bin/borg",
    "restic": "/usr/bin/restic",
    "ss": "/usr/bin/ss",
    "head": "/usr/bin/head",
}
_GLOB = re.compile(r"([\\*?\[\]])")  # fnmatch(3) specials: sudo matches arguments with fnmatch when any is present
_LEXER = re.compile(r"([\\,:= ])")  # characters the sudoers lexer wants escaped in a command
_PLAIN_NAME = r"[A-Za-z0-9_@+%-]+"  # sudo reads drop-ins whose names have no '.' and do not end in '~'


def program_path(program: str) -> str:
    return program if program.startswith("/") else PROGRAM_PATHS.get(program, f"/usr/bin/{program}")


def escape(arg: str) -> str:
    """An argument as sudoers must spell it to match it literally.

    Two levels: fnmatch's (a literal ``\\`` or ``*`` is escaped with a
    backslash), then the sudoers lexer's (every backslash doubled again, and
    ``, : = # ( ) !``, quote and space escaped). So one literal backslash is
    written as four, as sudo's own matching needs it.
    """
    if '"' in arg or "\n" in arg:
        raise ValueError(f"{arg!r}: sudoers cannot match a double quote or line break in an argument exactly")
    return _LEXER.sub(r"\\\1", _GLOB.sub(r"\\\1", arg))


def sudoers_command(argv: Sequence[str]) -> str:
    """``argv`` as a sudoers Cmnd: full program path, every argument literal (``""``: no arguments)."""
    args = " ".join(escape(a) for a in argv[1:])
    return f"{program_path(argv[0])} {args}" if args else f'{program_path(argv[0])} ""'


def _regex_literal(text: str) -> str:
    """``text`` as a POSIX extended regular expression that matches only itself."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def dropin_reader(prefix: Sequence[str], folder: str) -> str:
    """A Cmnd allowing ``prefix... FILE...`` for plain-named files directly in ``folder``.

    An anchored regular expression (sudo >= 1.9.10 reads ``^...$`` arguments
    as one): no other folder, no ``..``, no option can slip in.
    """
    head = " ".join(_regex_literal(a) for a in prefix[1:])
    name = _regex_literal(folder.rstrip("/")) + "/" + _PLAIN_NAME
    regex = f"^{head} {name}( {name})*$"
    return f"{program_path(prefix[0])} " + re.sub(r"([,:=])", r"\\\1", regex)


# A path segment a tree reader's rule allows: no "." or ".." (it cannot start with a dot), no blank, no option.
TREE_SEGMENT = r"[A-Za-z0-9_@+%-][A-Za-z0-9._@+%-]*"
_TREE_SEGMENT_RE = re.compile(TREE_SEGMENT)


def tree_reader(prefix: Sequence[str], folder: str) -> str:
    """A Cmnd allowing ``prefix... FILE...`` for files anywhere below ``folder`` whose every segment is plain (:data:`TREE_SEGMENT`)."""
    head = " ".join(_regex_literal(a) for a in prefix[1:])
    name = _regex_literal(folder.rstrip("/")) + f"(/{TREE_SEGMENT})+"
    regex = f"^{head} {name}( {name})*$"
    return f"{program_path(prefix[0])} " + re.sub(r"([,:=])", r"\\\1", regex)


def tree_reader_allows(folder: str, path: str) -> bool:
    """Whether :func:`tree_reader`'s rule for ``folder`` matches ``path`` (a file the collector may name)."""
    base = folder.rstrip("/") + "/"
    return path.startswith(base) and all(_TREE_SEGMENT_RE.fullmatch(seg) for seg in path[len(base):].split("/"))


def rule(user: str, commands: Iterable[str]) -> str:
    return f"{user} ALL=(root) NOPASSWD:NOEXEC: " + ", ".join(commands)


def allow_line(user: str, argv: Sequence[str]) -> str:
    """The one sudoers line that allows exactly ``argv`` (without the ``sudo -n --`` prefix)."""
    try:
        return rule(user, [sudoers_command(argv)])
    except ValueError as exc:
        return f"(none: {exc}; rename the path)"


# -- the drop-in for a whole inventory ----------------------------------------------------


@dataclass(frozen=True)
class SudoPattern:
    """A command whose file arguments only the server knows, as the sudoers Cmnd that allows it (see :func:`tree_reader`)."""

    cmnd: str


@dataclass(frozen=True)
class SudoCommand:
    """A command a collector runs through sudo, and the variables sudo must keep for it."""

    argv: tuple[str, ...]
    env_keep: tuple[str, ...] = ()
