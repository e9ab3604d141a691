"""``auditor import ssh-config [FILE] [--host PATTERN]``: the hosts of an OpenSSH client configuration as servers.

The file is read by paramiko's :class:`paramiko.SSHConfig` (the library
auditor connects with), so a host gets what paramiko resolves for it:
``Host`` patterns and negations, ``Match host/originalhost/user/localuser/
all/final/canonical``, first value wins. Every ``Host`` name without a
wildcard is one server (with ``--host``, those matching the pattern; a
plain name that no ``Host`` line lists is looked up as ``ssh NAME`` would).

``HostName`` → ``host``, ``Port`` → ``port``, ``User`` → ``user``, the
first ``IdentityFile`` → ``key_file``, ``UserKnownHostsFile`` →
``known_hosts``, ``ProxyJump`` (or ``ProxyCommand ssh -W %h:%p HOST``) →
``proxy_jump``: the jump host's own name when it is imported too, else its
resolved ``user@host:port``.

Not done, said so: ``Match exec`` is never evaluated (it would run a
command; its block is left out, with a note), ``Include`` is not followed
(paramiko does not read it), a multi-hop ProxyJump or any other
ProxyCommand makes the host not imported (with the reason).
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Any, Sequence

import paramiko

from ..errors import InputError, Problem
from . import Imported, ImportedServer, Skipped, read_text, safe_name, setting_problem
from .jump import proxy_command

WILDCARD = re.compile(r"[*?!]")


def default_config() -> str:
    return os.path.expanduser("~/.ssh/config")


def _parse(path: str, text: str) -> tuple[paramiko.SSHConfig, list[str], dict[str, int]]:
    """The parsed configuration, notes, and the line of the Host line naming each alias."""
    notes: list[str] = []
    aliases: dict[str, int] = {}
    regex = re.compile(paramiko.SSHConfig.SETTINGS_REGEX)
    exec_lines: list[int] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = regex.match(line)
        if not m:
            raise InputError(Problem(path, n, None, f"cannot read {line[:60]!r}; expected KEYWORD VALUE or KEYWORD=VALUE (ssh_config(5))"))
        key, value = m.group(1).lower(), m.group(2)
        if key == "host":
            for alias in value.split():
                if not WILDCARD.search(alias):
                    aliases.setdefault(alias.strip('"'), n)
        elif key == "match":
            try:
                matches = paramiko.SSHConfig()._get_matches(value)
            except (paramiko.ConfigParseError, ValueError) as exc:
                raise InputError(Problem(path, n, None, f"Match {value!r}: {exc}; expected criteria such as `Match host PATTERN user NAME`")) from None
            if any(c["type"] == "exec" for c in matches):
                exec_lines.append(n)
        elif key == "include":
            notes.append(f"{path}:{n}: Include {value} is not followed (paramiko does not read Include); import that file on its own")
    config = paramiko.SSHConfig()
    try:
        config.parse(text.splitlines())
    except (paramiko.ConfigParseError, ValueError) as exc:
        raise InputError(Problem(path, None, None, f"not a valid ssh_config file: {exc}")) from None
    if exec_lines:
        # Match exec would run a command on this machine for each lookup: its blocks are dropped, never evaluated.
        config._config = [c for c in config._config if not any(m["type"] == "exec" for m in c.get("matches", []))]
        notes += [f"{path}:{n}: Match exec is not evaluated (it would run a command); the settings of its block were not applied" for n in exec_lines]
    return config, notes, aliases


def import_ssh_config(path: str, patterns: Sequence[str] = ()) -> Imported:
    text = read_text(path, "an OpenSSH client configuration (ssh_config)")
    config, notes, aliases = _parse(path, text)
    chosen = [a for a in aliases if not patterns or any(fnmatch.fnmatchcase(a, p) for p in patterns)]
    for p in patterns:
        if not WILDCARD.search(p) and p not in aliases:
            chosen.append(p)  # a name no Host line lists: as `ssh NAME` would resolve it
    if patterns and not chosen:
        raise InputError(Problem("--host", None, None, f"{', '.join(patterns)} matches no Host of {path}; its hosts are {', '.join(aliases) or 'none (only wildcard patterns)'}"))
    taken: set[str] = set()
    names = {a: safe_name(a, taken) for a in chosen}
    servers: list[ImportedServer] = []
    skipped: list[Skipped] = []
    for alias in chosen:
        where = f"{path}:{aliases[alias]} (Host {alias})" if alias in aliases else f"{path} (--host {alias}, no Host line of its own)"
        try:
            opts = config.lookup(alias)
        except Exception as exc:  # noqa: BLE001 - paramiko raises many kinds (canonicalization, tokens); each is a reason
            skipped.append(Skipped(alias, where, f"paramiko could not resolve it: {exc}"))
            continue
        settings, host_notes, reason = _server(alias, opts, config, names)
        if reason:
            skipped.append(Skipped(alias, where, reason))
            continue
        if names[alias] != alias:
            host_notes.append(f"Host {alias!r} written as {names[alias]!r} (inventory names allow letters, digits, '.', '_', '-')")
        servers.append(ImportedServer(names[alias], where, settings, tuple(host_notes)))
    by_name = {s.name: s for s in servers}
    final = []
    for s in servers:
        hop = by_name.get(str(s.settings.get("proxy_jump")))
        if hop is not None and hop.settings.get("proxy_jump"):
            skipped.append(Skipped(s.name, s.source, f"its jump host {hop.name!r} is itself behind a jump host; auditor reaches a server through one jump host"))
        else:
            final.append(s)
    return Imported(origin=f"OpenSSH client configuration {path}", servers=tuple(final), skipped=tuple(skipped), notes=tuple(notes))


def _server(alias: str, opts: Any, config: paramiko.SSHConfig, names: dict[str, str]) -> tuple[dict[str, Any], list[str], str | None]:
    settings: dict[str, Any] = {}
    notes: list[str] = []
    host = str(opts.get("hostname") or alias)
    problem = setting_problem("host", host)
    if problem:
        return {}, [], f"HostName {host!r}: {problem}"
    settings["host"] = host
    port = str(opts.get("port", "22"))
    if not port.isdigit() or setting_problem("port", int(port)):
        return {}, [], f"Port {port!r} is not a port number 1-65535"
    if int(port) != 22:
        settings["port"] = int(port)
    jump = opts.get("proxyjump")
    if jump and jump.lower() != "none":
        if "," in jump:
            return {}, [], f"ProxyJump {jump!r} has several hops; auditor reaches a server through one jump host"
        settings["proxy_jump"] = _jump(jump.removeprefix("ssh://"), config, names)
    elif opts.get("proxycommand"):
        spec, why = proxy_command(str(opts["proxycommand"]), f"{host}:{port}")
        if why or not spec:
            return {}, [], why or "unreadable ProxyCommand"
        settings["proxy_jump"] = _jump(spec, config, names)
    user = opts.get("user")
    if user:
        problem = setting_problem("user", user)
        if problem:
            notes.append(f"User {user!r} left out: {problem}")
        else:
            settings["user"] = user
    identities = opts.get("identityfile") or []
    if identities:
        settings["key_file"] = identities[0]
        if len(identities) > 1:
            notes.append(f"{len(identities)} IdentityFile lines; the first is used ({', '.join(identities[1:])} left out)")
    known = str(opts.get("userknownhostsfile") or "").split()
    if known and known[0] != "/dev/null":
        settings["known_hosts"] = known[0]
    if str(opts.get("stricthostkeychecking", "")).lower() in ("no", "off", "accept-new"):
        notes.append(f"StrictHostKeyChecking {opts['stricthostkeychecking']} is ignored: auditor always verifies host keys (see `auditor known-hosts`)")
    return settings, notes, None


def _jump(spec: str, config: paramiko.SSHConfig, names: dict[str, str]) -> str:
    """A jump host as proxy_jump: its name when imported too, else what the config resolves it to (``user@host:port``)."""
    if spec in names:
        return names[spec]
    if "@" in spec or ":" in spec:
        return spec
    try:
        opts = config.lookup(spec)
    except Exception:  # noqa: BLE001 - unresolvable: keep it as written, with the port said
        return f"{spec}:22"
    user = opts.get("user")
    return f"{user + '@' if user else ''}{opts.get('hostname') or spec}:{opts.get('port', '22')}"
