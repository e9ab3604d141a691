"""The sudoers drop-in for a whole inventory: what each server's audit runs through sudo.

Built from the same declarations the runner uses (the merged reads of the
collectors: one ``find``, one ``cat`` of small files, the drop-in folder
reader; and each collector's ``sudo_commands``), rendered with
:mod:`auditor.sudoers_file`. ``auditor sudoers INVENTORY`` prints it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from .collect import account_of, rooted
from .shellreads import cat_argv, find_argv, merge
from .sudoers_file import SudoCommand, SudoPattern, dropin_reader, rule, sudoers_command


def _alias_name(text: str) -> str:
    name = re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_") or "SERVERS"
    return "AUDIT_" + (name if name[0].isalpha() else "S" + name)


def server_commands(registry: Any, plans: Sequence[Any], transports: Any) -> dict[str, dict[str, Any]]:
    """Per server (id): its user and the exact sudo commands its audit (and its backups' audits) runs.

    Built from the same declarations the runner uses: the merged reads of the
    collectors (one ``find``, one ``cat`` of small files, the drop-in folder
    reader) and each collector's ``sudo_commands``.
    """
    out: dict[str, dict[str, Any]] = {}
    for plan in plans:
        shell = [c for c in plan.collectors if c.transport == "shell"]
        if not shell:
            continue
        try:
            host = transports.shell_host(plan.target)
        except Exception:  # noqa: BLE001 - a backup not on a server: nothing to grant
            continue
        if not host.get("sudo"):
            continue
        entry = out.setdefault(host.id, {"server": host, "user": account_of(host), "exact": [], "dropins": [], "backup": [], "patterns": []})
        reads = merge(c.reads(plan.target, host) for c in shell if c.reads is not None)
        if reads.files or reads.dirs or reads.trees:
            entry["exact"].append(find_argv(reads, rooted(host, "")))
        if reads.files:
            entry["exact"].append(cat_argv(reads.files))
        for folder in reads.dirs:
            entry["dropins"].append(folder)
        for col in shell:
            for command in (col.sudo_commands(plan.target, host) if col.sudo_commands else []):
                if isinstance(command, SudoPattern):
                    entry["patterns"].append(command.cmnd)
                elif isinstance(command, SudoCommand) and command.env_keep:
                    entry["backup"].append(command)
                else:
                    entry["exact"].append(list(command.argv) if isinstance(command, SudoCommand) else list(command))
    return out


def render_inventory(servers: Mapping[str, Mapping[str, Any]], *, inventory_path: str, version: str, user: str | None = None) -> str:
    """The sudoers drop-in granting exactly these servers' audit commands (``visudo -cf`` clean)."""
    lines = [
        f"# sudoers drop-in for the audit account, made by auditor {version} from {inventory_path}.",
        "# It grants exactly the read commands the audit runs (NOPASSWD, NOEXEC: none of them may start",
        "# another program) and nothing else: no shell, no wildcard, no env. Install it with",
        "#   visudo -cf auditor.sudoers && install -o root -g root -m 0440 auditor.sudoers /etc/sudoers.d/auditor",
        "# Program paths are those of Debian, Ubuntu, RHEL and SUSE (merged /usr); check with `command -v`.",
        "# The reader of /etc/sudoers.d names its files by a regular expression (sudo >= 1.9.10): only",
        "# plain names directly in that folder match. Regenerate after changing the inventory's paths.",
        "",
    ]
    if not servers:
        lines.append("# No server of this inventory reads through sudo (set sudo: true on servers audited as a non-root account).")
        return "\n".join(lines) + "\n"
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    backup: dict[str, None] = {}
    keep: dict[str, None] = {}
    for entry in servers.values():
        commands = []
        for argv in entry["exact"]:
            try:
                commands.append(sudoers_command(argv))
            except ValueError as exc:
                lines.append(f"# {entry['server'].id}: not granted, {exc}")
        commands += [dropin_reader(["cat", "--"], d) for d in dict.fromkeys(entry["dropins"])]
        commands += list(dict.fromkeys(entry.get("patterns", [])))
        groups.setdefault(tuple(dict.fromkeys(commands)), []).append(entry)
        backup.update(dict.fromkeys(sudoers_command(c.argv) for c in entry["backup"]))
        keep.update(dict.fromkeys(v for c in entry["backup"] for v in c.env_keep))
    aliases_by_user: dict[str, list[str]] = {}
    used: set[str] = set()
    for granted, members in groups.items():
        common = set(members[0]["server"].groups) | set(members[0]["server"].tags)
        for m in members[1:]:
            common &= set(m["server"].groups) | set(m["server"].tags)
        base = _alias_name(sorted(common)[0] if common and len(groups) > 1 else (members[0]["server"].name if len(groups) > 1 else "reads"))
        name, n = base, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        lines.append(f"# {', '.join(m['server'].id for m in members)}")
        lines.append(f"Cmnd_Alias {name} = \\\n    " + ", \\\n    ".join(granted))
        for m in members:
            who = user or m["user"]
            if name not in aliases_by_user.setdefault(who, []):
                aliases_by_user[who].append(name)
    if backup:
        lines.append("# commands that need variables kept (a backup tool's passphrase: in the environment, never in argv)")
        lines.append("Cmnd_Alias AUDIT_KEEP_ENV = \\\n    " + ", \\\n    ".join(backup))
        lines.append(f'Defaults!AUDIT_KEEP_ENV env_keep += "{" ".join(keep)}"')
        for who in aliases_by_user:
            aliases_by_user[who].append("AUDIT_KEEP_ENV")
    lines.append("")
    for who, names in aliases_by_user.items():
        lines.append(rule(who, names))
    return "\n".join(lines) + "\n"
