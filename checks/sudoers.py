"""Access: sudo rules that run every command without a password.

``/etc/sudoers`` (under the server's ``root_dir``) is read with ``cat``, and
so is every file it includes: ``@include``/``#include`` files and the files
of ``@includedir``/``#includedir`` folders (listed with ``find``; as sudo
does, names ending in ``~`` or containing ``.`` are skipped). sudoers files
are readable only by root: set ``sudo: true`` when auditing as another user.

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
from auditor.registry import Outcome, collector, control, failed, parameter, passed, unverified
from auditor.shellreads import Reads

SUDO_NOPASSWD_ALLOWED = parameter(
    "sudo_nopasswd_allowed", list, [],
    "Users and %groups allowed to run every command through sudo without a password (an audit account should get a few NOPASSWD commands, not ALL).",
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
    """``Defaults[:@>!]scope a, !b, c=d`` → the scope and the value of ``authenticate`` if set (else None)."""
    m = _DEFAULTS.match(text)
    if not m:
        return None
    kind = {":": "user", "@": "host", ">": "runas", "!": "command", None: "global"}[m.group(1)]
    scope = _items(m.group(2)) if m.group(2) else []
    authenticate = None
    for setting in _items(m.group(3) or ""):
        sm = re.match(r"^(!*)\s*([A-Za-z_]+)\s*(.*)$", setting)
        if sm and sm.group(2) == "authenticate" and not sm.group(3).startswith(("=", "+=", "-=")):
            authenticate = len(sm.group(1)) % 2 == 0
    return {"kind": kind, "scope": scope, "authenticate": authenticate}


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
            elif parsed["authenticate"] is not None:
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

    visit(SUDOERS, 0, True)
    fact["audit_account"] = audit_account(ctx)
    return fact


# -- evaluation -------------------------------------------------------------------------------------


def _aliases(entries: Iterable[Mapping[str, Any]], kind: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in entries:
        if e["entry"] == "alias" and e["kind"] == kind:
            out.update(e["aliases"])
    return out


def resolves_to_all(item: str, cmnd_aliases: Mapping[str, list[str]], _seen: frozenset[str] = frozenset()) -> bool:
    """Does a command (or Cmnd_Alias) mean every command?"""
    item = item.strip()
    if item.startswith("!"):
        return False
    if item == "ALL":
        return True
    if _ALIAS_NAME.match(item) and item in cmnd_aliases and item not in _seen:
        return any(resolves_to_all(i, cmnd_aliases, _seen | {item}) for i in cmnd_aliases[item])
    return False


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


def nopasswd_all_grants(fact: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every rule and Defaults entry that lets its users run any command without a password."""
    entries = fact["entries"]
    cmnd_aliases = _aliases(entries, "cmnd")
    user_aliases = _aliases(entries, "user")
    grants: list[dict[str, Any]] = []
    for e in entries:
        if e["entry"] != "rule":
            continue
        for c in e["commands"]:
            if c["nopasswd"] and not c["negated"] and resolves_to_all(c["command"], cmnd_aliases):
                grants.append({"file": e["file"], "line": e["line"], "users": expand_users(e["users"], user_aliases), "runas": c["runas"], "command": c["command"], "text": e["text"], "how": "NOPASSWD"})
                break
    last: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    for e in entries:
        if e["entry"] == "defaults":
            last[(e["kind"], tuple(e["scope"]))] = e
    for (kind, scope), e in last.items():
        if e["authenticate"]:
            continue
        if kind == "command" and not any(resolves_to_all(s, cmnd_aliases) for s in scope):
            continue
        users = expand_users(scope, user_aliases) if kind == "user" else ["ALL"]
        grants.append({"file": e["file"], "line": e["line"], "users": users, "runas": "", "command": "ALL", "text": e["text"], "how": "!authenticate"})
    return grants


@control(
    "ACCESS-SUDO-NOPASSWD-ALL", family="access", kinds=("server",), severity="high",
    facts=("sudo.sudoers",), params=("sudo_nopasswd_allowed",),
    references=("GDPR Art. 32(1)(b)", "CIS Benchmarks: users must provide password for privilege escalation", "sudoers(5)"),
    title="sudo asks for a password before running any command as root",
    rationale="A NOPASSWD: ALL rule (or Defaults !authenticate) turns any session of that account, including a stolen SSH key or a compromised web application, "
    "into root without a second factor; service and audit accounts should get the few commands they need, not ALL.",
)
def sudo_nopasswd_all(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["sudo.sudoers"]
    allowed = {str(a).strip() for a in params["sudo_nopasswd_allowed"]}
    grants = nopasswd_all_grants(fact)
    offenders = [g for g in grants if not g["users"] or any(u not in allowed for u in g["users"])]
    accepted = [g for g in grants if g not in offenders]
    shown = [f"{g['file']}:{g['line']}: {g['text']}" for g in offenders]
    details = {"files": fact["files"], "missing": fact["missing"], "ignored": fact["ignored"]}
    if offenders:
        return failed(
            f"{len(offenders)} sudoers rule(s) let users run every command without a password: " + "; ".join(shown[:SHOWN]),
            offenders=[{"file": g["file"], "line": g["line"], "users": g["users"], "runas": g["runas"], "how": g["how"], "text": g["text"]} for g in offenders],
            **details,
        )
    unparsed = [f"{e['file']}:{e['line']}" for e in fact["entries"] if e["entry"] == "unparsed"]
    if unparsed or fact["unresolved"]:
        parts = []
        if unparsed:
            parts.append(f"{len(unparsed)} entr(y/ies) could not be parsed ({', '.join(unparsed[:SHOWN])})")
        if fact["unresolved"]:
            parts.append("includes not followed: " + ", ".join(f"{u['path']} ({u['why']})" for u in fact["unresolved"][:SHOWN]))
        return unverified("cannot confirm that no sudoers rule grants ALL without a password: " + "; ".join(parts), reason="parse_error", unparsed=unparsed, unresolved=fact["unresolved"], **details)
    allowed_at = ", ".join(f"{g['file']}:{g['line']}" for g in accepted)
    note = f"; allowed by policy: {allowed_at}" if accepted else ""
    return passed(
        f"No sudoers rule lets a user run every command without a password ({len(fact['files'])} file(s) read: {', '.join(fact['files'])}{note})",
        allowed=[f"{g['file']}:{g['line']}: {g['text']}" for g in accepted], **details,
    )
