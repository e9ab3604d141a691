"""Jump hosts from ssh arguments and configuration: ``-J``, ``ProxyJump``, ``ProxyCommand ssh -W``."""

from __future__ import annotations

import re
import shlex


def proxy_from_args(args: str) -> tuple[str | None, str | None]:
    """The jump host named by ssh arguments (``-J X``, ``-o ProxyJump=X``, ``-o ProxyCommand="ssh -W %h:%p X"``), and a problem.

    >>> proxy_from_args("-o ProxyCommand='ssh -W %h:%p -q admin@bastion'")
    ('admin@bastion', None)
    """
    try:
        tokens = shlex.split(args)
    except ValueError as exc:
        return None, f"cannot read the ssh arguments {args!r}: {exc}"
    options: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in ("-J", "-o") and i + 1 < len(tokens):
            options.append(("ProxyJump=" if t == "-J" else "") + tokens[i + 1])
            i += 2
            continue
        if t.startswith("-J") and len(t) > 2:
            options.append("ProxyJump=" + t[2:])
        elif t.startswith("-o") and len(t) > 2:
            options.append(t[2:])
        i += 1
    for opt in options:
        m = re.match(r"\s*(\w+)\s*(?:=|\s)\s*(.*)$", opt, re.S)
        if not m:
            continue
        key, value = m.group(1).lower(), m.group(2).strip()
        if key == "proxyjump":
            if value.lower() == "none":
                return None, None
            if "," in value:
                return None, f"ProxyJump {value!r} has several hops; auditor reaches a server through one jump host"
            return value.removeprefix("ssh://"), None
        if key == "proxycommand":
            return proxy_command(value)
    return None, None


def proxy_command(command: str, expanded: str = "%h:%p") -> tuple[str | None, str | None]:
    """The jump host of ``ssh -W %h:%p [-p PORT] [-l USER] [USER@]HOST`` (``expanded``: what %h:%p became, when already expanded)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    if words[:1] == ["ssh"] and "-W" in words:
        rest = [w for w in words[1:]]
        dest, port, user = None, None, None
        i = 0
        while i < len(rest):
            w = rest[i]
            if w in ("-W", "-p", "-l", "-i", "-o", "-F") and i + 1 < len(rest):
                if w == "-p":
                    port = rest[i + 1]
                if w == "-l":
                    user = rest[i + 1]
                i += 2
                continue
            if not w.startswith("-"):
                dest = w
            i += 1
        if dest and rest[rest.index("-W") + 1] in ("%h:%p", "[%h]:%p", expanded):
            if user and "@" not in dest:
                dest = f"{user}@{dest}"
            return (f"{dest}:{port}" if port else dest), None
    return None, f"ProxyCommand {command!r} is not `ssh -W %h:%p HOST`; auditor reaches servers through a jump host (proxy_jump) only"


def jump_setting(spec: str, host_names: set[str]) -> str:
    """A ProxyJump value as proxy_jump: a host of the inventory by its name, else ``[user@]host[:port]``."""
    if spec in host_names:
        return spec
    if "@" not in spec and ":" not in spec and "." not in spec:
        return f"{spec}:22"  # a bare name that is not a server of the inventory: an address, said so
    return spec
