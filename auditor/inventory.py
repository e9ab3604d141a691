"""Load and validate an inventory file into typed targets.

The format is documented in ``docs/inventory.md``. Every problem in a file
is reported at once, each with file:line:column, what was found and what was
expected; unknown keys get a "did you mean".
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError, Problem
from .model import Target
from .secrets import secret
from .yamlsrc import MISSING, boolean, check_mapping, Checker, Field, integer, list_of, LList, LMap, load_document, number, string, suggest

NAME = string(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", "a name of letters, digits, '.', '_' or '-'")
COUNTRY = string(r"[A-Z]{2}", "an ISO 3166 two-letter country code in capitals, e.g. SE")
ABS_PATH = string(r"/.*", "an absolute path")
PATH = string(None, "a file path")
TAGS = list_of(NAME)
FINGERPRINT = string(r"SHA256:[A-Za-z0-9+/]{43}=?", "an OpenSSH SHA256 fingerprint, e.g. SHA256:abc...")

COMMON: dict[str, Field] = {
    "name": Field(NAME, required=True, doc="unique name within its section"),
    "tags": Field(TAGS, doc="free labels, usable with --limit"),
    "description": Field(string(), doc="free text shown in reports"),
    "country": Field(COUNTRY, doc="where the target (and its data) physically is"),
    "region": Field(string(), doc="provider region, e.g. eu-north-1 or fsn1"),
    "provider": Field(string(), doc="hosting provider or data centre operator"),
}

SERVER = COMMON | {
    "host": Field(string(r"[A-Za-z0-9.:_\[\]-]+", "a host name or IP address"), doc="host name or address to connect to"),
    "connection": Field(string(choices=("ssh", "local")), default="ssh", doc="ssh (default) or local (this machine)"),
    "port": Field(integer(1, 65535), doc="SSH port (22)"),
    "user": Field(string(r"[a-z_][a-z0-9_.-]*\$?", "a user name"), doc="SSH user"),
    "key_file": Field(PATH, doc="private key file"),
    "key_passphrase": Field(secret(), doc="passphrase of key_file (secret reference)"),
    "known_hosts": Field(PATH, doc="known_hosts file used to verify the host key"),
    "host_key": Field(FINGERPRINT, doc="pinned host key fingerprint"),
    "proxy_jump": Field(string(), doc="jump host: a server name or user@host:port"),
    "sudo": Field(boolean(), doc="run reads that need root through sudo -n"),
    "timeout": Field(number(0.1), doc="seconds allowed per collector"),
    "root_dir": Field(ABS_PATH, doc="read system files under this directory instead of / (a mounted image or container root)"),
    "sshd_config": Field(ABS_PATH, doc="sshd configuration file to evaluate (default: sshd's own)"),
    "backup_paths": Field(list_of(ABS_PATH), doc="directories holding backups on this server"),
    "key_paths": Field(list_of(ABS_PATH), doc="directories holding private keys and certificates"),
    "authorized_root_keys": Field(list_of(FINGERPRINT), doc="key fingerprints allowed in root's authorized_keys"),
}

WEB = COMMON | {
    "url": Field(string(r"https?://[^\s/]+(/\S*)?", "an http:// or https:// URL"), required=True),
    "sni": Field(string(), doc="TLS server name, if not the URL's host"),
    "ca_bundle": Field(PATH, doc="CA bundle to trust instead of the system store"),
    "http_url": Field(string(r"http://[^\s/]+(/\S*)?", "a plain http:// URL"), doc="plain http:// URL that must redirect to https (default: the URL's host on port 80)"),
    "timeout": Field(number(0.1)),
}

MAIL_SERVICE = string(r"(smtp|submission|smtps|imap|imaps|pop3|pop3s)(:[0-9]{1,5})?", "a service smtp, submission, smtps, imap, imaps, pop3 or pop3s, optionally with :PORT")
MAIL = COMMON | {
    "host": Field(string(), required=True),
    "services": Field(list_of(MAIL_SERVICE, nonempty=True), required=True),
    "ca_bundle": Field(PATH),
    "timeout": Field(number(0.1)),
}

DATABASE = COMMON | {
    "engine": Field(string(choices=("postgresql", "mysql", "mariadb")), required=True),
    "host": Field(string(), required=True),
    "port": Field(integer(1, 65535)),
    "user": Field(string()),
    "password": Field(secret()),
    "database": Field(string()),
    "tls_ca": Field(PATH),
    "password_columns": Field(list_of(string(r"[A-Za-z0-9_$]+(\.[A-Za-z0-9_$]+){1,2}", "a table.column name"))),
    "timeout": Field(number(0.1)),
}

BACKUP = COMMON | {
    "type": Field(string(choices=("path", "borg", "restic", "s3")), required=True),
    "server": Field(NAME, doc="server (from servers:) holding a path/borg/restic backup"),
    "path": Field(ABS_PATH),
    "repository": Field(string()),
    "password": Field(secret(), doc="repository passphrase (borg/restic)"),
    "bucket": Field(string(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name")),
    "aws": Field(NAME, doc="account (from aws:) owning the bucket"),
    "purpose": Field(string(choices=("backup", "bookkeeping")), default="backup"),
}

AWS = COMMON | {
    "profile": Field(string()),
    "role_arn": Field(string(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/.+", "an IAM role ARN")),
    "external_id": Field(secret()),
    "regions": Field(lambda v, p, pos, c: string(choices=("all-enabled",))(v, p, pos, c) if isinstance(v, str) else list_of(string(r"[a-z]{2}(-[a-z]+)+-[0-9]", "an AWS region name"), nonempty=True)(v, p, pos, c), default="all-enabled"),
    "endpoint_url": Field(string(r"https?://\S+", "an http(s) URL")),
    "backup_buckets": Field(list_of(string())),
    "bookkeeping_buckets": Field(list_of(string())),
}

PROCESSOR = COMMON | {
    "country": Field(COUNTRY, required=True, doc="country where the processor holds or processes the data"),
    "purpose": Field(string()),
    "entity": Field(string(), doc="legal entity"),
    "safeguard": Field(string(choices=("none", "adequacy", "scc", "bcr", "derogation")), default="none"),
    "transfers_personal_data": Field(boolean(), default=True),
    "data_categories": Field(list_of(string())),
}

SECTIONS: dict[str, tuple[str, dict[str, Field]]] = {
    "servers": ("server", SERVER),
    "web": ("web", WEB),
    "mail": ("mail", MAIL),
    "databases": ("database", DATABASE),
    "backups": ("backup", BACKUP),
    "aws": ("aws", AWS),
    "processors": ("processor", PROCESSOR),
}

DEFAULTABLE = sorted({k for _, fields in SECTIONS.values() for k in fields} - {"name", "description", "url", "host", "tags", "type", "engine", "services", "bucket", "path", "repository"})

TOP: dict[str, Field] = {
    "version": Field(integer(1, 1), doc="format version (1)"),
    "name": Field(string()),
    "description": Field(string()),
    "defaults": Field(lambda v, p, pos, c: v),  # checked per section below
    "groups": Field(lambda v, p, pos, c: v),
} | {section: Field(lambda v, p, pos, c: v) for section in SECTIONS}


@dataclass(frozen=True)
class Inventory:
    path: str
    sha256: str
    name: str
    targets: tuple[Target, ...]
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def select(self, limits: list[str]) -> list[Target]:
        """Targets matching any of ``limits``: a name, kind:name, tag or group (globs allowed)."""
        if not limits:
            return list(self.targets)
        chosen: list[Target] = []
        for t in self.targets:
            keys = [t.name, t.id, *t.tags, *t.groups]
            if any(fnmatch.fnmatchcase(k, pat) for pat in limits for k in keys):
                chosen.append(t)
        return chosen

    def unknown_limits(self, limits: list[str]) -> list[str]:
        return [pat for pat in limits if not self.select([pat])]

    def public(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "name": self.name, "targets": len(self.targets), "groups": {k: list(v) for k, v in self.groups.items()}}


def load_inventory(path: str) -> Inventory:
    document = load_document(path, TOP, "the inventory", empty="the inventory is empty; expected a mapping with sections such as servers:, web:, processors:")
    raw_doc, top, digest, chk = document.raw, document.top, document.sha256, document.checker

    defaults = {}
    if "defaults" in raw_doc:
        defaults = check_mapping(raw_doc["defaults"], "defaults", raw_doc.where("defaults"), chk, {k: _any_section_field(k) for k in DEFAULTABLE}) or {}

    targets: list[Target] = []
    seen: dict[tuple[str, str], int] = {}
    for section, (kind, fields) in SECTIONS.items():
        if section not in raw_doc or raw_doc[section] is None:
            continue
        items = raw_doc[section]
        if not isinstance(items, list):
            line, col = raw_doc.where(section)
            chk.add((line, col), f"{section}: expected a list of entries (each starting with '- name: ...'), found {_describe(items)}")
            continue
        positions = items.item_pos if isinstance(items, LList) else []
        for i, item in enumerate(items):
            pos = positions[i] if i < len(positions) else raw_doc.where(section)
            merged, unset = _with_defaults(item, defaults, fields)
            for key in unset:
                if fields[key].required:
                    chk.add(item.where(key), f"{section}[{i}].{key}: null unsets the default {key!r}, but every entry of {section} needs {key!r}; give this entry its own value")
            clean = check_mapping(merged, f"{section}[{i}]", pos, chk, fields, f"one entry of {section}")
            if clean is None or "name" not in clean:
                continue
            name = clean["name"]
            if (kind, name) in seen:
                chk.add(pos, f"{section}[{i}]: name {name!r} is already used by entry on line {seen[(kind, name)]}; names must be unique within a section")
                continue
            seen[(kind, name)] = pos[0]
            _section_rules(kind, clean, f"{section}[{i}]", pos, chk)
            targets.append(
                Target(
                    id=f"{kind}:{name}",
                    kind=kind,
                    name=name,
                    address=_address(kind, clean),
                    tags=tuple(clean.pop("tags", []) or ()),
                    settings=clean,
                    source=f"{path}:{pos[0]}",
                )
            )

    names = {t.name for t in targets}
    _cross_references(targets, raw_doc, chk, names)
    groups = _groups(raw_doc, chk, names)
    chk.raise_if_any()
    member_of: dict[str, list[str]] = {}
    for g, members in groups.items():
        for m in members:
            member_of.setdefault(m, []).append(g)
    targets = [Target(t.id, t.kind, t.name, t.address, t.tags, tuple(member_of.get(t.name, ())), t.settings, t.source) for t in targets]
    if not targets:
        raise InputError(Problem(path, 1, 1, f"the inventory names no targets; add at least one entry under {', '.join(SECTIONS)}"))
    return Inventory(path=os.path.abspath(path), sha256=digest, name=(top or {}).get("name") or os.path.basename(path), targets=tuple(targets), groups=groups)


def _describe(v: Any) -> str:
    from .yamlsrc import describe

    return describe(v)


def _any_section_field(key: str) -> Field:
    """A default is valid if it is valid for any section having the key (e.g.
    ``purpose`` means different things for backups and processors); each entry
    that inherits it checks it again against its own section."""
    checks = [fields[key].check for _, fields in SECTIONS.values() if key in fields]
    if not checks:
        raise KeyError(key)

    def check(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        first: list[Problem] | None = None
        for c in checks:
            scratch = Checker(chk.filename)
            out = c(value, path, pos, scratch)
            if not scratch.problems:
                return out
            first = first or scratch.problems
        chk.problems.extend(first or [])
        return MISSING

    return Field(check)


def _with_defaults(item: Any, defaults: dict[str, Any], fields: dict[str, Field]) -> tuple[Any, list[str]]:
    """Defaults fill keys the entry does not set, for sections that have them; ``key: null`` unsets an inherited default.

    Returns the merged entry and the keys the entry unset (an entry that is
    not a mapping, or a null for a key without a default, is left for
    :func:`check_mapping` to report).
    """
    if not isinstance(item, LMap) or not defaults:
        return item, []
    unset = [k for k in item if k in defaults and k in fields and item[k] is None]
    keep = [k for k in unset if fields[k].required]  # reported by the caller; the default stays so that one problem is told once
    merged = LMap()
    merged.line, merged.column = item.line, item.column
    for k, v in defaults.items():
        if k in fields and (k not in item or k in keep):
            merged[k] = _raw_default(v)
            merged.value_pos[k] = (item.line, item.column)
            merged.key_pos[k] = (item.line, item.column)
    for k, v in item.items():
        if k not in unset:
            merged[k] = v
    merged.key_pos.update({k: p for k, p in item.key_pos.items() if k not in unset or k in keep})
    merged.value_pos.update({k: p for k, p in item.value_pos.items() if k not in unset or k in keep})
    return merged, unset


def _raw_default(v: Any) -> Any:
    # Secrets in defaults are already SecretRefs; re-validating them needs the raw form.
    from .secrets import SecretRef

    if isinstance(v, SecretRef):
        return {"file": v.name} if v.kind == "file" else {"env": v.name}
    return v


def _address(kind: str, s: dict[str, Any]) -> str | None:
    if kind == "server":
        return "localhost" if s.get("connection") == "local" else s.get("host")
    if kind == "web":
        return s.get("url")
    if kind in ("mail",):
        return s.get("host")
    if kind == "database":
        return f"{s.get('host')}:{s.get('port') or ('5432' if s.get('engine') == 'postgresql' else '3306')}"
    if kind == "backup":
        return s.get("repository") or s.get("path") or (f"s3://{s['bucket']}" if s.get("bucket") else None)
    if kind == "aws":
        return s.get("role_arn") or s.get("profile") or "default credentials"
    if kind == "processor":
        return s.get("country")
    return None


def _section_rules(kind: str, s: dict[str, Any], path: str, pos: tuple[int, int], chk: Checker) -> None:
    """Rules that tie keys of one entry together."""
    if kind == "server" and s.get("connection", "ssh") == "ssh" and not s.get("host"):
        chk.add(pos, f"{path}: missing required key 'host' (needed for connection: ssh; use connection: local for this machine)")
    if kind == "backup":
        t = s.get("type")
        needs = {"path": ("server", "path"), "borg": ("server", "repository"), "restic": ("server", "repository"), "s3": ("bucket", "aws")}.get(t, ())
        for key in needs:
            if not s.get(key):
                chk.add(pos, f"{path}: type {t} needs key {key!r}")


def _cross_references(targets: list[Target], doc: LMap, chk: Checker, names: set[str]) -> None:
    servers = {t.name for t in targets if t.kind == "server"}
    accounts = {t.name for t in targets if t.kind == "aws"}
    for t in targets:
        line = int(t.source.rsplit(":", 1)[1])
        ref = t.get("server")
        if t.kind == "backup" and ref and ref not in servers:
            chk.add((line, 1), f"backups: {t.name}: server {ref!r} is not in servers:{suggest(ref, sorted(servers))}")
        ref = t.get("aws")
        if t.kind == "backup" and ref and ref not in accounts:
            chk.add((line, 1), f"backups: {t.name}: aws account {ref!r} is not in aws:{suggest(ref, sorted(accounts))}")
        jump = t.get("proxy_jump")
        if t.kind == "server" and jump and "@" not in jump and ":" not in jump and jump not in servers and "." not in jump:
            chk.add((line, 1), f"servers: {t.name}: proxy_jump {jump!r} is neither a server in servers: nor user@host[:port]{suggest(jump, sorted(servers))}")


def _groups(doc: LMap, chk: Checker, names: set[str]) -> dict[str, tuple[str, ...]]:
    raw = doc.get("groups")
    if raw is None:
        return {}
    pos = doc.where("groups")
    if not isinstance(raw, dict):
        chk.add(pos, f"groups: expected a mapping of group name to a list of target names, found {_describe(raw)}")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for g, members in raw.items():
        gpos = raw.where(g) if isinstance(raw, LMap) else pos
        if NAME(g, f"groups.{g}", gpos, Checker(chk.filename)) is not g:
            chk.add(gpos, f"groups: {g!r} is not a valid group name (letters, digits, '.', '_', '-')")
            continue
        clean = list_of(NAME)(members, f"groups.{g}", gpos, chk)
        if not isinstance(clean, list):
            continue
        mpos = getattr(members, "item_pos", [])
        for i, m in enumerate(clean):
            if m not in names:
                chk.add(mpos[i] if i < len(mpos) else gpos, f"groups.{g}: {m!r} is not a target in this inventory{suggest(m, sorted(names))}")
        out[g] = tuple(clean)
    return out


def field_reference() -> dict[str, dict[str, str]]:
    """Section → key → doc, for `auditor validate --explain` and the docs test."""
    return {section: {k: f.doc for k, f in fields.items()} for section, (_, fields) in SECTIONS.items()}
