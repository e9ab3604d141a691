"""Access: sudo rules that make their users root without a password.

``/etc/sudoers`` and every file it includes are read through the server's
shared reads (auditor/shellreads.py): the main file by the one ``cat`` of small
files, the files of ``/etc/sudoers.d`` (as sudo does, names ending in ``~`` or
containing ``.`` are skipped) by one more ``cat`` once the shared listing has
named them; an include elsewhere gets a ``cat`` (or ``find``) of its own.
sudoers files are readable only by root: set ``sudo: true`` when auditing as
another user. Which commands are root in practice (shells, interpreters,
editors, writers with any arguments, command escapes without NOEXEC) is
decided by checks/sudo_escalation.py.

The parser follows sudoers(5) as far as the question needs: continuation
lines, comments (``#`` unless ``#include``/``#includedir`` or a ``#uid``),
``Defaults`` (only ``authenticate`` is kept), aliases, and user
specifications with their runas lists, options and tags (a tag holds for the
commands after it in the same list until the opposite tag). A rule grants
"every command without a password" when its command is ``ALL`` (or a
Cmnd_Alias that contains ``ALL``) under a ``NOPASSWD`` tag;
``Defaults !authenticate`` does the same for every command of its scope.

>>> [c["command"] for c in parse_user_spec("deploy ALL=(ALL) NOPASSWD: /bin/ls, ALL")["commands"] if c["nopasswd"]]
['/bin/ls', 'ALL']
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Iterable, Mapping

from auditor.collect import Context, command_error, rooted
from auditor.errors import NotApplicable
from auditor.model import Target
from auditor.registry import Outcome, Text, collector, control, count_sv, failed, parameter, passed, sv, unverified
from auditor.shellreads import Reads

SUDO_NOPASSWD_ALLOWED = parameter(
    "sudo_nopasswd_allowed", list, [],
    "Users and %groups allowed to become root through sudo without a password (NOPASSWD: ALL or a root-equivalent command); "
    "the audit account should get the exact read commands `auditor sudoers` prints, never a root shell.",
)

SUDOERS = "/etc/sudoers"
DROPINS = "/etc/sudoers.d"  # read with the server's shared reads; other includes get a cat of their own
MAX_FILES = 200  # include loops and runaway include trees stop here
MAX_DEPTH = 128  # sudo's own nesting limit
SHOWN = 20
_MISSING = ("No such file or directory", "Not a directory")

TAGS = {
    "PASSWD", "NOPASSWD", "EXEC", "NOEXEC", "SETENV", "NOSETENV", "LOG_INPUT", "NOLOG_INPUT", "LOG_OUTPUT", "NOLOG_OUTPUT",
    "MAIL", "NOMAIL", "FOLLOW", "NOFOLLOW", "INTERCEPT", "NOINTERCEPT",
}
OPTIONS = {"CWD", "CHROOT", "ROLE", "TYPE", "TIMEOUT", "NOTBEFORE", "NOTAFTER", "APPARMOR_PROFILE", "PRIVS", "LIMITPRIVS"}
ALIAS_KINDS = {"User_Alias": "user", "Runas_Alias": "runas", "Host_Alias": "host", "Cmnd_Alias": "cmnd", "Cmd_Alias": "cmnd"}

_INCLUDE = re.compile(r'^[@#](include|includedir)\s+(?:"((?:[^"\\]|\\.)*)"|(\S+))\s*$')
_DEFAULTS = re.compile(r"^Defaults(?:([:@>!])\s*((?:[^\s\\,]|\\.)+(?:\s*,\s*(?:[^\s\\,]|\\.)+)*))?(?:\s+(.*))?$")
_ALIAS = re.compile(r"^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\s+(.*)$")
_ALIAS_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_TAG = re.compile(r"([A-Za-z_]+)\s*:")  # sudo wants upper case; a lower-case tag is still read as meant
_OPTION = re.compile(r'([A-Z_]+)\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s,:]+)\s*')
_DIGEST = re.compile(r"(sha224|sha256|sha384|sha512)\s*:\s*[A-Za-z0-9+/=]+\s*,?\s*")
_CRYPT_HASH = re.compile(r"\$(1|2[abxy]?|5|6|7|y|gy|md5|sha1|argon2(i|d|id)?)\$[./0-9A-Za-z$=,]{8,}")


# -- lexing -------------------------------------------------------------------------


def _strip_comment(line: str) -> str:
    """Drop a comment: ``#`` outside quotes, not escaped, not a ``#uid`` and not an include directive."""
    stripped = line.strip()
    if _INCLUDE.match(stripped):
        return stripped
    out, quoted, i = [], False, 0
    while i < len(stripped):
        c = stripped[i]
        if c == "\\" and i + 1 < len(stripped):
            out.append(stripped[i : i + 2])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == "#" and not quoted and not (i + 1 < len(stripped) and stripped[i + 1].isdigit()):
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, text) of each entry: comments gone, ``\\``-continued lines joined."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not buf:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, " ".join(buf.split())))
        buf = ""
    if buf.strip():
        out.append((start, " ".join(buf.split())))
    return out


def looks_like_hash(line: str) -> bool:
    return bool(_CRYPT_HASH.search(line))


def show_sudoers(text: str) -> str:
    """A sudoers file as evidence shows it: numbered entries, no comments, nothing that looks like a password hash."""
    return "\n".join(f"{n}: {'[withheld: looks like a password hash]' if looks_like_hash(line) else line}" for n, line in logical_lines(text))


def split_top(text: str, seps: str) -> list[str]:
    """Split at ``seps`` characters outside quotes and parentheses, not escaped by a backslash."""
    parts, buf, quoted, depth, i = [], [], False, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            buf.append(text[i : i + 2])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and c in seps:
            parts.append("".join(buf).strip())
            buf = []
            i += 1
            continue
        buf.append(c)
        i += 1
    parts.append("".join(buf).strip())
    return parts


def _items(text: str) -> list[str]:
    return [i for i in (p.strip() for p in split_top(text, ",")) if i]


# -- parsing entries ---------------------------------------------------------------------


def parse_user_spec(text: str) -> dict[str, Any] | None:
    """``users hosts = [(runas)] [OPTION=...] [TAG:] cmnd, ... [: hosts = ...]`` → users, hosts, commands.

    Each command carries its runas, tags and ``nopasswd`` (from the NOPASSWD/
    PASSWD tag in force). None when the text is no user specification.
    """
    head, eq, rest = text.partition("=")
    if not eq:
        return None
    words = re.sub(r"\s*,\s*", ",", head.strip()).split()
    if len(words) != 2:
        return None
    users, hosts = _items(words[0]), _items(words[1])
    commands: list[dict[str, Any]] = []
    host_group = ", ".join(hosts)
    runas, tags = "", {}
    while True:
        # one Cmnd_Spec: [(runas)] [OPTION=value...] [TAG:...] [digest:...] command
        rest = rest.lstrip()
        if rest.startswith("("):
            close = rest.find(")")
            if close < 0:
                return None
            runas, rest = rest[: close + 1], rest[close + 1 :].lstrip()
        while True:
            m = _OPTION.match(rest)
            if m and m.group(1) in OPTIONS:
                rest = rest[m.end() :]
                continue
            m = _TAG.match(rest)
            if m and m.group(1).upper() in TAGS:
                name = m.group(1).upper()
                tags = {**tags, name.removeprefix("NO"): not name.startswith("NO")}
                rest = rest[m.end() :].lstrip()
                continue
            break
        while (m := _DIGEST.match(rest)) is not None:
            rest = rest[m.end() :]
        sep_at = _separator_index(rest)
        command = (rest if sep_at is None else rest[:sep_at]).strip()
        if not command:
            return None
        bangs = len(command) - len(command.lstrip("!"))
        commands.append({
            "runas": runas or "(root)", "tags": tags, "nopasswd": tags.get("PASSWD") is False,
            "command": command.lstrip("!").strip(), "negated": bangs % 2 == 1, "hosts": host_group,
        })
        if sep_at is None:
            break
        sep, rest = rest[sep_at], rest[sep_at + 1 :]
        if sep == ":":  # ": Host_List = Cmnd_Spec_List": runas and tags start afresh
            host_text, eq, rest = rest.partition("=")
            if not eq:
                return None
            host_group, runas, tags = ", ".join(_items(host_text)), "", {}
    return {"users": users, "hosts": hosts, "commands": commands}


def _separator_index(text: str) -> int | None:
    """Index of the first ``,`` or ``:`` outside quotes/parentheses and not escaped."""
    quoted, depth, i = False, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and c in ",:":
            return i
        i += 1
    return None


def parse_defaults(text: str) -> dict[str, Any] | None:
    """``Defaults[:@>!]scope a, !b, c=d`` → the scope and the value of ``authenticate`` if set (else None).

    ``noexec`` is there too when the entry sets it (``noexec`` / ``!noexec``).

    >>> parse_defaults("Defaults!/usr/bin/less noexec")
    {'kind': 'command', 'scope': ['/usr/bin/less'], 'authenticate': None, 'noexec': True}
    """
    m = _DEFAULTS.match(text)
    if not m:
        return None
    kind = {":": "user", "@": "host", ">": "runas", "!": "command", None: "global"}[m.group(1)]
    scope = _items(m.group(2)) if m.group(2) else []
    flags: dict[str, bool | None] = {"authenticate": None, "noexec": None}
    for setting in _items(m.group(3) or ""):
        sm = re.match(r"^(!*)\s*([A-Za-z_]+)\s*(.*)$", setting)
        if sm and sm.group(2) in flags and not sm.group(3).startswith(("=", "+=", "-=")):
            flags[sm.group(2)] = len(sm.group(1)) % 2 == 0
    parsed: dict[str, Any] = {"kind": kind, "scope": scope, "authenticate": flags["authenticate"]}
    if flags["noexec"] is not None:
        parsed["noexec"] = flags["noexec"]
    return parsed


def parse_aliases(text: str) -> dict[str, list[str]]:
    """``NAME = a, b : NAME2 = c`` → {NAME: [a, b], NAME2: [c]} (a digest's ``sha256:`` does not split)."""
    out: dict[str, list[str]] = {}
    bounds = [0]
    for m in re.finditer(r"(?<!\\):\s*[A-Z][A-Z0-9_]*\s*=", text):
        if not re.search(r"(sha224|sha256|sha384|sha512)\s*$", text[: m.start()]):
            bounds.append(m.start())
    bounds.append(len(text))
    for a, b in zip(bounds, bounds[1:]):
        chunk = text[a:b].lstrip(":")
        m = re.match(r"^\s*([A-Z][A-Z0-9_]*)\s*=(.*)$", chunk, re.S)
        if m:
            out[m.group(1)] = _items(m.group(2))
    return out


def parse_sudoers(text: str, path: str) -> dict[str, Any]:
    """One sudoers file → its entries (includes are returned, not followed)."""
    entries: list[dict[str, Any]] = []
    for number, line in logical_lines(text):
        where = {"file": path, "line": number}
        m = _INCLUDE.match(line)
        if m:
            target = m.group(2) if m.group(2) is not None else m.group(3)
            entries.append({**where, "entry": m.group(1), "path": target.replace('\\"', '"').replace("\\ ", " ")})
            continue
        if line.startswith("Defaults"):
            parsed = parse_defaults(line)
            if parsed is None:
                entries.append({**where, "entry": "unparsed"})
            elif parsed["authenticate"] is not None or parsed.get("noexec") is not None:
                entries.append({**where, "entry": "defaults", **parsed, "text": line})
            continue
        m = _ALIAS.match(line)
        if m:
            entries.append({**where, "entry": "alias", "kind": ALIAS_KINDS[m.group(1)], "aliases": parse_aliases(m.group(2))})
            continue
        spec = parse_user_spec(line)
        if spec is None:
            entries.append({**where, "entry": "unparsed"})
        else:
            entries.append({**where, "entry": "rule", **spec, "text": "[withheld: looks like a password hash]" if looks_like_hash(line) else line})
    return {"entries": entries}


# -- collecting ------------------------------------------------------------------------------


def _read(ctx: Context, path: str) -> str | None:
    result = ctx.run(["cat", "--", path], ok=(0, 1), redact=show_sudoers)
    if result.exit_status == 0:
        return result.text
    if any(m in result.error_text for m in _MISSING) and "ermission denied" not in result.error_text:
        return None
    raise command_error(result)


def _list_dir(ctx: Context, path: str) -> list[str] | None:
    result = ctx.run(["find", "-L", path, "-mindepth", "1", "-maxdepth", "1", "-type", "f"], ok=(0, 1))
    if result.exit_status != 0:
        if any(m in result.error_text for m in _MISSING) and "ermission denied" not in result.error_text:
            return None
        raise command_error(result)
    return sorted(line for line in result.text.splitlines() if line)


def _include_path(directive: str, including: str) -> str:
    """An include path as sudo resolves it (relative to the including file's folder)."""
    return directive if directive.startswith("/") else posixpath.normpath(posixpath.join(posixpath.dirname(including), directive))


def _sudoers_reads(target: Target, host: Target) -> Reads:
    return Reads(files=(rooted(host, SUDOERS),), dirs=(rooted(host, DROPINS),))


def audit_account(ctx: Context) -> dict[str, Any] | None:
    """The account the audit runs as, when it reads through sudo: its name and groups (``id -Gn``, no root needed)."""
    user = ctx.user
    if not ctx.host.get("sudo") or user == "root":
        return None
    result = ctx.run(["id", "-Gn"], sudo=False)
    return {"user": user, "groups": result.text.split(), "sudo": True}


@collector("sudo.sudoers", kinds=("server",), timeout=30, reads=_sudoers_reads)
def sudoers(ctx: Context) -> dict[str, Any]:
    root = ctx.rooted("")
    fact: dict[str, Any] = {"files": [], "missing": [], "ignored": [], "unresolved": [], "entries": []}
    seen: set[str] = set()
    dropins: dict[str, str] = {}  # files of the drop-in folder, read together

    def read(path: str) -> str | None:
        if path == rooted(ctx.host, SUDOERS):
            return ctx.reads.file(ctx, path, redact=show_sudoers)
        if path in dropins:
            return dropins[path]
        return _read(ctx, path)  # an include outside the planned reads: a cat of its own

    def folder_names(folder: str) -> list[str] | None:
        if folder != rooted(ctx.host, DROPINS):
            return _list_dir(ctx, folder)
        entries = ctx.reads.folder_files(ctx, folder)
        if entries is None:
            return None
        files = [e for e in entries if e["type"] == "f" or (e["type"] == "l" and e.get("target_type") == "f")]
        wanted = [e for e in files if not (posixpath.basename(e["path"]).endswith("~") or "." in posixpath.basename(e["path"]))]
        dropins.update(ctx.reads.read_folder_files(ctx, folder, wanted, redact=show_sudoers) if wanted else {})
        return sorted(e["path"] for e in files)

    def visit(logical: str, depth: int, required: bool) -> None:
        path = root + logical
        if path in seen or len(seen) >= MAX_FILES or depth > MAX_DEPTH:
            if path not in seen:
                fact["unresolved"].append({"path": path, "why": f"include limit reached ({MAX_FILES} files or {MAX_DEPTH} levels)"})
            return
        seen.add(path)
        text = read(path)
        if text is None:
            if required:
                raise NotApplicable(f"{path} does not exist: sudo is not configured on this server")
            fact["missing"].append(path)
            return
        fact["files"].append(path)
        for entry in parse_sudoers(text, path)["entries"]:
            if entry["entry"] == "include":
                target = entry["path"]
                if "%h" in target:
                    fact["unresolved"].append({"path": target, "why": "%h (host name) includes are not followed", "file": path, "line": entry["line"]})
                    continue
                visit(_include_path(target, logical), depth + 1, False)
            elif entry["entry"] == "includedir":
                target = entry["path"]
                if "%h" in target:
                    fact["unresolved"].append({"path": target, "why": "%h (host name) includes are not followed", "file": path, "line": entry["line"]})
                    continue
                folder = _include_path(target, logical)
                names = folder_names(root + folder)
                if names is None:
                    fact["missing"].append(root + folder)
                    continue
                for found in names:
                    base = posixpath.basename(found)
                    if base.endswith("~") or "." in base:
                        fact["ignored"].append(found)
                        continue
                    visit(folder.rstrip("/") + "/" + base, depth + 1, False)
            else:
                fact["entries"].append(entry)

    account = audit_account(ctx)  # first: `id -Gn` needs no root and runs beside the shared reads, not after them
    visit(SUDOERS, 0, True)
    fact["audit_account"] = account
    return fact


# -- evaluation -------------------------------------------------------------------------------------
#
# A grant is a rule (or Defaults entry) that lets its users run, without a
# password, a command that makes them root: ALL, or a command that
# checks/sudo_escalation.py classifies as root in practice. NOEXEC comes from
# the command's tag or from a Defaults noexec in scope (an EXEC tag overrides
# it). Where a Defaults entry only may apply (a host scope, a user scope that
# may or may not cover a %group), its value is taken when it is the less
# safe one (!noexec, !authenticate) and ignored when it is the safer one.

from auditor.registry import skipped  # noqa: E402 - kept with the evaluators that use them
from checks.sudo_escalation import root_reason_text  # noqa: E402

RUNAS_ROOT = ("root", "ALL", "#0")  # runas entries that include root
DEFAULTS_ORDER = ("global", "host", "user", "runas", "command")  # sudo applies them in this order, later wins


def _aliases(entries: Iterable[Mapping[str, Any]], kind: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in entries:
        if e["entry"] == "alias" and e["kind"] == kind:
            out.update(e["aliases"])
    return out


def resolves_to_all(item: str, cmnd_aliases: Mapping[str, list[str]], _seen: frozenset[str] = frozenset()) -> bool:
    """Does a command (or Cmnd_Alias) mean every command?"""
    return any(c == "ALL" for c, _ in expand_commands(item, cmnd_aliases, _seen))


def expand_commands(item: str, cmnd_aliases: Mapping[str, list[str]], _seen: frozenset[str] = frozenset(), _via: str | None = None) -> list[tuple[str, str | None]]:
    """A command (or Cmnd_Alias) → the commands it grants, each with the alias it came through.

    Negated members are denials, not grants: dropped (``!`` on an alias flips its members).
    A digest (``sha256:...``) before a member is dropped.

    >>> expand_commands("READS", {"READS": ["/usr/bin/cat", "!/bin/sh", "SHELLS"], "SHELLS": ["/bin/bash"]})
    [('/usr/bin/cat', 'READS'), ('/bin/bash', 'SHELLS')]
    """
    return [(c, via) for c, negated, via in _members(item, cmnd_aliases, _seen, _via) if not negated]


def _members(item: str, cmnd_aliases: Mapping[str, list[str]], seen: frozenset[str], via: str | None) -> list[tuple[str, bool, str | None]]:
    item = item.strip()
    core = item.lstrip("!").strip()
    negated = (len(item) - len(item.lstrip("!"))) % 2 == 1
    while (m := _DIGEST.match(core)) is not None:
        core = core[m.end():].strip()
    if _ALIAS_NAME.match(core) and core != "ALL" and core in cmnd_aliases:
        if core in seen:
            return []
        return [(c, n != negated, v) for member in cmnd_aliases[core] for c, n, v in _members(member, cmnd_aliases, seen | {core}, core)]
    return [(core, negated, via)]


def expand_users(items: Iterable[str], user_aliases: Mapping[str, list[str]], _seen: frozenset[str] = frozenset()) -> list[str]:
    """User list → the users/%groups it names (User_Aliases expanded, negated members dropped)."""
    out: list[str] = []
    for item in items:
        item = item.strip()
        if item.startswith("!"):
            continue
        if _ALIAS_NAME.match(item) and item != "ALL" and item in user_aliases and item not in _seen:
            out.extend(expand_users(user_aliases[item], user_aliases, _seen | {item}))
        elif item not in out:
            out.append(item)
    return out


def names_account(items: Iterable[str], user_aliases: Mapping[str, list[str]], account: Mapping[str, Any], _seen: frozenset[str] = frozenset()) -> bool | None:
    """Does a user list name ``account`` ({"user", "groups"}) as sudo decides (the last match wins, ``!`` denies)?

    True: named; False: excluded by a negation; None: not mentioned.

    >>> names_account(["ALL", "!auditor"], {}, {"user": "auditor", "groups": []})
    False
    >>> names_account(["OPS"], {"OPS": ["%adm"]}, {"user": "auditor", "groups": ["auditor", "adm"]})
    True
    """
    user, groups = str(account.get("user") or ""), {str(g) for g in account.get("groups") or ()}
    for raw in reversed(list(items)):
        raw = raw.strip()
        item = raw.lstrip("!").strip()
        negated = (len(raw) - len(raw.lstrip("!"))) % 2 == 1
        found: bool | None = None
        if _ALIAS_NAME.match(item) and item != "ALL" and item in user_aliases:
            found = None if item in _seen else names_account(user_aliases[item], user_aliases, account, _seen | {item})
        elif item == "ALL" or item == user or (item.startswith("%") and not item.startswith(("%:", "%#")) and item[1:] in groups):
            found = True
        if found is not None:
            return found != negated
    return None


def _runas_users(runas: str, runas_aliases: Mapping[str, list[str]]) -> list[str]:
    """``(root)``, ``(ALL:ALL)``, ``(:wheel)`` → the accounts a command may run as ([] is the caller itself)."""
    inner = runas.strip()[1:-1] if runas.strip().startswith("(") else runas
    users_part, colon, _ = inner.partition(":")
    users = _items(users_part)
    if not users:
        return [] if colon else ["root"]
    return expand_users(users, runas_aliases)


def _can_be_root(runas: str, runas_aliases: Mapping[str, list[str]]) -> bool:
    return any(u in RUNAS_ROOT for u in _runas_users(runas, runas_aliases))


class _Policy:
    """The sudoers entries of one server, indexed for judging grants."""

    def __init__(self, entries: list[Mapping[str, Any]]):
        self.entries = entries
        self.cmnd_aliases = _aliases(entries, "cmnd")
        self.user_aliases = _aliases(entries, "user")
        self.runas_aliases = _aliases(entries, "runas")
        self.defaults = [e for e in entries if e["entry"] == "defaults"]

    def setting(self, name: str, covers: Any, runas: str, command: str) -> bool | None:
        """The value of a Defaults flag for one command: ``covers(scope)`` says whether a user scope applies ("yes"/"maybe"/"no")."""
        value: bool | None = None
        for kind in DEFAULTS_ORDER:
            for e in self.defaults:
                if e["kind"] != kind or e.get(name) is None:
                    continue
                applies = self._applies(e, covers, runas, command)
                if applies == "yes" or (applies == "maybe" and e[name] is False):
                    value = e[name]
        return value

    def _applies(self, e: Mapping[str, Any], covers: Any, runas: str, command: str) -> str:
        kind, scope = e["kind"], e["scope"]
        if kind == "global":
            return "yes"
        if kind == "host":
            return "maybe"  # host names are not judged here
        if kind == "user":
            return str(covers(scope))
        if kind == "runas":
            root_scope = any(u in RUNAS_ROOT for u in expand_users(scope, self.runas_aliases))
            return "yes" if root_scope and _can_be_root(runas, self.runas_aliases) else "no"
        return self._command_in(scope, command)

    def _command_in(self, scope: Iterable[str], command: str) -> str:
        path, _, args = command.partition(" ")
        best = "no"
        for item in scope:
            for member, _via in expand_commands(item, self.cmnd_aliases):
                m_path, _, m_args = member.partition(" ")
                if member in ("ALL", command) or (m_path == path and not m_args.strip()):
                    return "yes"
                if m_path.endswith("/") and path.startswith(m_path) and "/" not in path[len(m_path):]:
                    return "yes"
                if m_path == path:
                    best = "maybe"
        return best

    def rule_covers(self, users: list[str]) -> Any:
        """For a rule's users: does a Defaults user scope surely cover them all?"""
        def covers(scope: Iterable[str]) -> str:
            named = expand_users(scope, self.user_aliases)
            if "ALL" in named or (users and "ALL" not in users and all(u in named for u in users)):
                return "yes"
            if set(named) & set(users) or any(u == "ALL" or u.startswith("%") for u in [*named, *users]):
                return "maybe"
            return "no"
        return covers

    def account_covers(self, account: Mapping[str, Any]) -> Any:
        def covers(scope: Iterable[str]) -> str:
            return "yes" if names_account(scope, self.user_aliases, account) else "no"
        return covers


def _judge_command(policy: _Policy, command: str, via: str | None, tags: Mapping[str, bool], runas: str, covers: Any) -> Text | None:
    """Why one granted command is root (None if it is not), with the alias it came through."""
    if command == "ALL":
        reason: Text | None = sv("ALL is every command as root", "ALL är alla kommandon som root")
    elif not _can_be_root(runas, policy.runas_aliases):
        return None  # it runs as another account: that account, not root
    else:
        noexec = policy.setting("noexec", covers, runas, command) is True
        reason = root_reason_text(command, tags, noexec)
    if reason is None:
        return None
    return sv(f"{via} ({command}): {reason.en}", f"{via} ({command}): {reason.sv}") if via else reason


def _reasons(reasons: list[Text], suffix: Text | None = None) -> dict[str, Any]:
    """A grant's reasons as it records them: ``reasons`` and ``reason`` in English, ``reason_sv`` in Swedish."""
    en, sv_text = "; ".join(r.en for r in reasons), "; ".join(r.sv for r in reasons)
    if suffix is not None:
        en, sv_text = en + suffix.en, sv_text + suffix.sv
    return {"reasons": [en] if suffix is not None else [r.en for r in reasons], "reason": en, "reason_sv": sv_text}


def _rule_grant(policy: _Policy, e: Mapping[str, Any], covers: Any, nopasswd_of: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """A rule's root-equivalent commands that run without a password, as one grant (None if there are none),
    and its other password-free commands."""
    reasons: list[Text] = []
    runas, every = "", False
    limited: list[str] = []
    for c in e["commands"]:
        if c["negated"]:
            continue
        for command, via in expand_commands(c["command"], policy.cmnd_aliases):
            if not nopasswd_of(c, command):
                continue
            why = _judge_command(policy, command, via, c["tags"], c["runas"], covers)
            if why is None:
                limited.append(command)
                continue
            every = every or command == "ALL"
            runas = runas or c["runas"]
            if why not in reasons:
                reasons.append(why)
    if not reasons:
        return None, limited
    return {
        "file": e["file"], "line": e["line"], "users": expand_users(e["users"], policy.user_aliases), "runas": runas,
        "text": e["text"], "how": "NOPASSWD", "all": every, **_reasons(reasons),
    }, limited


def _authenticate_grants(policy: _Policy) -> list[dict[str, Any]]:
    """``Defaults !authenticate`` entries (the last of each scope) that make a root-equivalent command password-free."""
    last: dict[tuple[str, tuple[str, ...]], Mapping[str, Any]] = {}
    for e in policy.defaults:
        if e.get("authenticate") is not None:
            last[(e["kind"], tuple(e["scope"]))] = e
    grants: list[dict[str, Any]] = []
    for (kind, scope), e in last.items():
        if e["authenticate"]:
            continue
        if kind == "command":
            reasons = []
            for item in scope:
                for command, via in expand_commands(item, policy.cmnd_aliases):
                    why = _judge_command(policy, command, via, {}, "(root)", lambda _scope: "maybe")
                    if why is not None and why not in reasons:
                        reasons.append(why)
            if not reasons:
                continue
            every = any(resolves_to_all(s, policy.cmnd_aliases) for s in scope)
            recorded = _reasons(reasons, sv(", and it asks for no password", ", och sudo frågar inte efter lösenord"))
        else:
            every = True
            recorded = _reasons([sv("no command of these users asks for a password (Defaults !authenticate)",
                                    "inget kommando för dessa användare kräver lösenord (Defaults !authenticate)")])
        users = expand_users(scope, policy.user_aliases) if kind == "user" else ["ALL"]
        grants.append({"file": e["file"], "line": e["line"], "users": users, "runas": "", "command": "ALL", "text": e["text"], "how": "!authenticate", "all": every, **recorded})
    return grants


def nopasswd_rules(fact: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every rule and Defaults entry that lets its users become root without a password, each with why;
    the rules whose NOPASSWD commands are none of them root-equivalent)."""
    policy = _Policy(fact["entries"])
    grants, limited = [], []
    for e in fact["entries"]:
        if e["entry"] != "rule":
            continue
        users = expand_users(e["users"], policy.user_aliases)
        grant, others = _rule_grant(policy, e, policy.rule_covers(users), lambda c, _command: c["nopasswd"])
        if grant is not None:
            grants.append(grant)
        elif others:
            limited.append({"file": e["file"], "line": e["line"], "text": e["text"], "commands": others})
    return grants + _authenticate_grants(policy), limited


def nopasswd_root_grants(fact: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every rule and Defaults entry that lets its users become root without a password, each with why."""
    return nopasswd_rules(fact)[0]


def nopasswd_all_grants(fact: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every rule and Defaults entry that lets its users run any command without a password."""
    return [g for g in nopasswd_root_grants(fact) if g["all"]]


def account_grants(fact: Mapping[str, Any], account: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rules that name ``account`` and run something without a password: (root-equivalent grants, the other rules).

    A command runs without a password when its tag says NOPASSWD, or it has no
    PASSWD tag and a ``Defaults !authenticate`` in scope for the account says so.
    """
    policy = _Policy(fact["entries"])
    covers = policy.account_covers(account)

    def nopasswd(c: Mapping[str, Any], command: str) -> bool:
        tag = c["tags"].get("PASSWD")
        if tag is not None:
            return tag is False
        return policy.setting("authenticate", covers, c["runas"], command) is False

    grants, limited = [], []
    for e in fact["entries"]:
        if e["entry"] != "rule" or names_account(e["users"], policy.user_aliases, account) is not True:
            continue
        grant, others = _rule_grant(policy, e, covers, nopasswd)
        if grant is not None:
            grants.append(grant)
        elif others:
            limited.append({"file": e["file"], "line": e["line"], "text": e["text"], "commands": others})
    return grants, limited


_LIMIT_WHY = re.compile(r"^include limit reached \((\d+) files or (\d+) levels\)$")


def _why_sv(why: str) -> str:
    """Why an include was not followed (as the fact records it, in English), in Swedish."""
    m = _LIMIT_WHY.match(why)
    if m:
        return f"gränsen för inkluderingar är nådd ({m.group(1)} filer eller {m.group(2)} nivåer)"
    if why == "%h (host name) includes are not followed":
        return "inkluderingar med %h (värdnamnet) följs inte"
    return why


def _incomplete(fact: Mapping[str, Any]) -> tuple[list[str], Text] | None:
    """Entries not parsed and includes not followed: what keeps a pass from being certain."""
    unparsed = [f"{e['file']}:{e['line']}" for e in fact["entries"] if e["entry"] == "unparsed"]
    if not unparsed and not fact["unresolved"]:
        return None
    parts: list[Text] = []
    if unparsed:
        where = ', '.join(unparsed[:SHOWN])
        parts.append(sv(f"{len(unparsed)} entr(y/ies) could not be parsed ({where})",
                        f"{count_sv(len(unparsed), 'post', 'poster')} kunde inte tolkas ({where})"))
    if fact["unresolved"]:
        shown = fact["unresolved"][:SHOWN]
        parts.append(sv("includes not followed: " + ", ".join(f"{u['path']} ({u['why']})" for u in shown),
                        "inkluderingar som inte följdes: " + ", ".join(f"{u['path']} ({_why_sv(u['why'])})" for u in shown)))
    return unparsed, sv("; ".join(p.en for p in parts), "; ".join(p.sv for p in parts))


def _shown(g: Mapping[str, Any]) -> str:
    return f"{g['file']}:{g['line']}: {g['text']} — {g['reason']}"


def _shown_sv(g: Mapping[str, Any]) -> str:
    return f"{g['file']}:{g['line']}: {g['text']} — {g['reason_sv']}"


def _files_read(fact: Mapping[str, Any]) -> Text:
    files = ', '.join(fact['files'])
    return sv(f"{len(fact['files'])} file(s) read: {files}", f"{count_sv(len(fact['files']), 'fil läst', 'filer lästa')}: {files}")


@control(
    "ACCESS-SUDO-NOPASSWD-ALL", family="access", kinds=("server",), severity="high",
    facts=("sudo.sudoers",), params=("sudo_nopasswd_allowed",),
    references=("GDPR Art. 32(1)(b)", "CIS Benchmarks: users must provide password for privilege escalation", "sudoers(5)", "GTFOBins (sudo)"),
    title="sudo asks for a password before any command that makes its user root",
    title_sv="sudo kräver lösenord för varje kommando som gör användaren till root",
    rationale_sv="En NOPASSWD-regel för ALL, eller för ett kommando som i praktiken ger root, gör varje session för det kontot, även en stulen SSH-nyckel eller en komprometterad webbapplikation, till root utan någon andra faktor; detsamma gäller Defaults !authenticate. Root i praktiken: ett skal, en tolk eller en editor; ett program som skriver vilken fil som helst när argumenten är fria (tee, cp, tar, find -fprintf), vilket NOEXEC inte hindrar; ett program som startar andra (env, xargs, en pagers !sh, find -exec) om inte NOEXEC gäller. Tjänste- och granskningskonton ska få exakt de kommandon de behöver.",
    remediation="Replace the listed NOPASSWD rules by rules for the exact commands the account needs (with NOEXEC), or require a password.",
    remediation_sv="Ersätt de listade NOPASSWD-reglerna med regler för exakt de kommandon kontot behöver (med NOEXEC), eller kräv lösenord.",
    plain="{n} server(s) let accounts become root through sudo without a password",
    plain_sv="{n} server(ar) låter konton bli root via sudo utan lösenord",
    rationale="A NOPASSWD rule for ALL, or for a command that is root in practice, turns any session of that account, including a stolen SSH key "
    "or a compromised web application, into root without a second factor; so does Defaults !authenticate. Root in practice: a shell, an "
    "interpreter or an editor; a program that writes any file when its arguments are free (tee, cp, tar, find -fprintf), which NOEXEC does "
    "not stop; a program that starts others (env, xargs, a pager's !sh, find -exec) unless NOEXEC. Service and audit accounts should get "
    "the exact commands they need.",
)
def sudo_nopasswd_all(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["sudo.sudoers"]
    allowed = {str(a).strip() for a in params["sudo_nopasswd_allowed"]}
    grants, limited = nopasswd_rules(fact)
    offenders = [g for g in grants if not g["users"] or any(u not in allowed for u in g["users"])]
    accepted = [g for g in grants if g not in offenders]
    details = {"files": fact["files"], "missing": fact["missing"], "ignored": fact["ignored"]}
    if offenders:
        return failed(sv(
            f"{len(offenders)} sudoers rule(s) let users become root without a password: " + "; ".join(_shown(g) for g in offenders[:SHOWN]),
            f"{count_sv(len(offenders), 'sudoers-regel', 'sudoers-regler')} låter användare bli root utan lösenord: " + "; ".join(_shown_sv(g) for g in offenders[:SHOWN])),
            offenders=[{k: g[k] for k in ("file", "line", "users", "runas", "how", "text", "reason")} for g in offenders],
            **details,
        )
    incomplete = _incomplete(fact)
    if incomplete is not None:
        unparsed, why = incomplete
        return unverified(sv("cannot confirm that no sudoers rule lets a user become root without a password: " + why.en,
                             "det går inte att bekräfta att ingen sudoers-regel låter en användare bli root utan lösenord: " + why.sv), reason="parse_error", unparsed=unparsed, unresolved=fact["unresolved"], **details)
    note, note_sv = "", ""
    if accepted:
        where = ", ".join(f"{g['file']}:{g['line']}" for g in accepted)
        note, note_sv = f"; allowed by policy: {where}", f"; tillåtna enligt policyn: {where}"
    if limited:
        where = ", ".join(f"{r['file']}:{r['line']}" for r in limited[:SHOWN])
        note += f"; NOPASSWD rules judged not root-equivalent: {where}"
        note_sv += f"; NOPASSWD-regler som bedömts inte ge root: {where}"
    read = _files_read(fact)
    return passed(sv(
        f"No sudoers rule lets a user become root without a password ({read.en}{note})",
        f"Ingen sudoers-regel låter en användare bli root utan lösenord ({read.sv}{note_sv})"),
        allowed=[f"{g['file']}:{g['line']}: {g['text']}" for g in accepted], limited=limited, **details,
    )


@control(
    "ACCESS-SUDO-AUDIT-ACCOUNT", family="access", kinds=("server",), severity="high",
    facts=("sudo.sudoers",),
    references=("GDPR Art. 32(1)(b)", "CIS Benchmarks: users must provide password for privilege escalation", "sudoers(5)", "GTFOBins (sudo)"),
    title="The audit account cannot become root through its own sudo rules",
    title_sv="Granskningskontot kan inte bli root genom sina egna sudo-regler",
    rationale_sv="Granskningskontot loggar in obevakat med en nyckel som finns på granskningsdatorn, på varje granskad server. Om en av dess NOPASSWD-regler i praktiken ger root (ett skal, en editor, env eller find med fria argument, en pager utan NOEXEC) är den som har nyckeln root överallt. Kontot ska ha exakt de läskommandon som granskningen kör, med NOEXEC (`auditor sudoers` skriver ut dem); sudo_nopasswd_allowed gör inte undantag för det här.",
    remediation="Replace the audit account's sudo rules by the ones `auditor sudoers` prints.",
    remediation_sv="Ersätt granskningskontots sudo-regler med dem som `auditor sudoers` skriver ut.",
    plain="{n} server(s) let the audit account become root through sudo",
    plain_sv="{n} server(ar) låter granskningskontot bli root via sudo",
    rationale="The audit account logs in unattended with a key kept on the auditing machine, on every server audited. If one of its NOPASSWD "
    "rules is root in practice (a shell, an editor, env or find with free arguments, a pager without NOEXEC), whoever holds that key is root "
    "everywhere. It should hold exactly the read commands the audit runs, with NOEXEC (`auditor sudoers` prints them); "
    "sudo_nopasswd_allowed does not exempt it here.",
)
def sudo_audit_account(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["sudo.sudoers"]
    if "audit_account" not in fact:
        return skipped(sv("The sudoers facts do not say which account the audit ran as (recorded by an older collector): no audit account to judge",
                          "Uppgifterna om sudoers visar inte vilket konto granskningen kördes som (insamlade av en äldre version): inget granskningskonto att bedöma"))
    account = fact["audit_account"]
    if not account:
        return skipped(sv("The audit reads this server as root, with no sudo involved: no audit account to judge",
                          "Granskningen läser den här servern som root, utan sudo: inget granskningskonto att bedöma"))
    user = account.get("user") or "?"
    grants, limited = account_grants(fact, account)
    details = {"account": {"user": user, "groups": list(account.get("groups") or [])}, "files": fact["files"]}
    if grants:
        return failed(sv(
            f"The audit account {user} can become root without a password through {len(grants)} sudoers rule(s): " + "; ".join(_shown(g) for g in grants[:SHOWN]),
            f"Granskningskontot {user} kan bli root utan lösenord genom {count_sv(len(grants), 'sudoers-regel', 'sudoers-regler')}: " + "; ".join(_shown_sv(g) for g in grants[:SHOWN])),
            offenders=[{k: g[k] for k in ("file", "line", "users", "runas", "how", "text", "reason")} for g in grants],
            limited=limited, **details,
        )
    incomplete = _incomplete(fact)
    if incomplete is not None:
        unparsed, why = incomplete
        return unverified(sv(f"cannot confirm that the audit account {user} cannot become root through sudo: " + why.en,
                             f"det går inte att bekräfta att granskningskontot {user} inte kan bli root via sudo: " + why.sv), reason="parse_error", unparsed=unparsed, unresolved=fact["unresolved"], **details)
    if not limited:
        read = _files_read(fact)
        return passed(sv(f"The audit account {user} has no sudoers rule that runs without a password ({read.en})",
                         f"Granskningskontot {user} har ingen sudoers-regel som körs utan lösenord ({read.sv})"), limited=[], **details)
    rules = "; ".join(f"{r['file']}:{r['line']}: {r['text']}" for r in limited[:SHOWN])
    return passed(sv(
        f"The audit account {user} has {len(limited)} sudoers rule(s) that run without a password, none root-equivalent: " + rules,
        f"Granskningskontot {user} har {count_sv(len(limited), 'sudoers-regel', 'sudoers-regler')} som körs utan lösenord, ingen av dem ger root: " + rules),
        limited=limited, **details,
    )
