"""Import a fleet already described elsewhere as an auditor inventory.

Each importer (:mod:`.ansible`, :mod:`.ssh_config`, :mod:`.aws_ec2`) reads
its source into an :class:`Imported`: servers with the settings the source
gives (host, port, user, key_file, proxy_jump, sudo, ...), where each came
from, and notes about what was not carried over. :func:`render` writes
that as inventory YAML, a comment per server naming its source;
:func:`finish` checks the text with the inventory loader itself (so what
is written is what ``auditor validate`` accepts) and writes it to stdout or,
atomically, to a file.

Every value goes through the inventory's own field checks
(:func:`setting_problem`): a value the inventory would refuse is left out
with a note rather than written. Secrets (passwords, vault-encrypted
values) are never copied: a placeholder comment says what was there.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import yaml

from ..console import escape_controls
from ..errors import InputError, Problem
from ..inventory import NAME, SERVER, load_inventory
from ..yamlsrc import Checker


@dataclass(frozen=True)
class ImportedServer:
    """One server as the source describes it."""

    name: str
    source: str  # where it came from: "hosts.ini:12", "~/.ssh/config:4 (Host web1)"
    settings: Mapping[str, Any]  # inventory keys of servers: (host, port, user, ...)
    notes: tuple[str, ...] = ()  # what was left out and why, written as comments
    placeholders: tuple[str, ...] = ()  # "key: <what was there>" lines written commented out


@dataclass(frozen=True)
class Skipped:
    """A host of the source that could not become a server, and why."""

    name: str
    source: str
    reason: str


@dataclass(frozen=True)
class Imported:
    origin: str  # the header line: "Ansible inventory prod/ (ansible-core INI/YAML syntax)"
    servers: tuple[ImportedServer, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()  # about the whole source


# -- values ---------------------------------------------------------------------------

_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, taken: set[str]) -> str:
    """``text`` as an inventory name (letters, digits, '.', '_', '-'; starting with a letter or digit), unique in ``taken``."""
    name = _NAME_BAD.sub("-", text).strip("-").lstrip("._-")[:120] or "host"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def setting_problem(key: str, value: Any) -> str | None:
    """Why the inventory would refuse ``value`` for server key ``key``; None when it accepts it."""
    chk = Checker("<import>")
    SERVER[key].check(value, key, (1, 1), chk)
    return chk.problems[0].message.split(": ", 1)[-1] if chk.problems else None


def group_name_ok(name: str) -> bool:
    chk = Checker("<import>")
    return NAME(name, "group", (1, 1), chk) is name and not chk.problems


# -- YAML text -------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z0-9_./~@+-][A-Za-z0-9_./~@+:=,-]*")


def scalar(value: Any) -> str:
    """``value`` as a YAML scalar that reads back as exactly this value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and not text.endswith(":"):
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(text, default_style='"', width=1 << 30, allow_unicode=True).strip().removesuffix("\n...").strip()


def comment(text: str) -> str:
    """One comment line's text: no line breaks or control characters, whatever the source held."""
    return escape_controls(text)


SERVER_KEY_ORDER = ("host", "connection", "port", "user", "key_file", "proxy_jump", "sudo", "region", "country", "provider", "description", "tags")


def render(imported: Imported, header: Sequence[str] = ()) -> str:
    out: list[str] = [f"# Imported by `auditor import` from {comment(imported.origin)}."]
    out += [f"# {comment(h)}" for h in header]
    out.append("# Check it with `auditor validate FILE`; then pin host keys (see docs/ssh-account.md) and set the audit user.")
    for n in imported.notes:
        out.append(f"# NOTE: {comment(n)}")
    out.append("version: 1")
    if imported.servers:
        out.append("servers:")
    for s in imported.servers:
        out.append(f"  # from {comment(s.source)}")
        for n in s.notes:
            out.append(f"  # note: {comment(n)}")
        out.append(f"  - name: {scalar(s.name)}")
        for key in sorted(s.settings, key=lambda k: (SERVER_KEY_ORDER.index(k) if k in SERVER_KEY_ORDER else 99, k)):
            value = s.settings[key]
            if isinstance(value, (list, tuple)):
                out.append(f"    {key}: [{', '.join(scalar(v) for v in value)}]")
            else:
                out.append(f"    {key}: {scalar(value)}")
        for p in s.placeholders:
            out.append(f"    # {comment(p)}")
    for sk in imported.skipped:
        out.append(f"  # NOT IMPORTED: {comment(sk.name)} (from {comment(sk.source)}): {comment(sk.reason)}")
    groups = {g: members for g, members in imported.groups.items() if members}
    if groups:
        out.append("groups:")
        for g, members in sorted(groups.items()):
            out.append(f"  {scalar(g)}: [{', '.join(scalar(m) for m in members)}]")
    return "\n".join(out) + "\n"


def finish(imported: Imported, out_path: str | None, header: Sequence[str] = (), stream: Any = None) -> int:
    """Render, check with the inventory loader, write (stdout or atomically to ``out_path``); report on stderr."""
    if not imported.servers:
        why = "; ".join(f"{s.name}: {s.reason}" for s in imported.skipped[:5])
        raise InputError(Problem(imported.origin, None, None, "found no server to import" + (f" ({why})" if why else "")))
    text = render(imported, header)
    check_text(text)
    if out_path:
        from ..integrity import write_atomic

        directory = os.path.dirname(os.path.abspath(out_path))
        if not os.path.isdir(directory):
            raise InputError(Problem("--out", None, None, f"{out_path}: folder {directory} does not exist"))
        write_atomic(out_path, text.encode("utf-8"))
    else:
        (stream or sys.stdout).write(text)
    err = sys.stderr
    print(f"auditor: imported {len(imported.servers)} server(s), {sum(1 for m in imported.groups.values() if m)} group(s)"
          f"{f', {len(imported.skipped)} host(s) not imported' if imported.skipped else ''}{f' into {out_path}' if out_path else ''}", file=err)
    for sk in imported.skipped:
        print(f"auditor: not imported: {escape_controls(sk.name)} ({escape_controls(sk.source)}): {escape_controls(sk.reason)}", file=err)
    for n in imported.notes:
        print(f"auditor: note: {escape_controls(n)}", file=err)
    return 0


def check_text(text: str) -> None:
    """Load ``text`` as an inventory; a problem here is a bug of the importer, reported as such (exit 2, never a traceback)."""
    with tempfile.TemporaryDirectory(prefix="auditor-import-") as tmp:
        path = os.path.join(tmp, "imported.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            load_inventory(path)
        except InputError as exc:
            raise InputError([Problem("the imported inventory", p.line, p.column, f"{p.message} (a bug in auditor import: please report it)") for p in exc.problems]) from None


def read_text(path: str, what: str) -> str:
    """A text file's contents, or an InputError naming the file and what is wrong."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputError(Problem(path, None, None, f"file not found; expected {what}")) from None
    except IsADirectoryError:
        raise InputError(Problem(path, None, None, f"is a folder; expected {what}")) from None
    except OSError as exc:
        raise InputError(Problem(path, None, None, f"cannot read it: {exc.strerror or exc}")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(Problem(path, line, None, f"not UTF-8 text ({exc.reason} at byte {exc.start}); expected {what}")) from None
