"""Finding messages in both languages for the host controls (sudo, root's keys, file permissions, backups,
ports, new password hashing, location, /etc/shadow): every branch of every control in those modules gives a
Swedish message that is a translation (tests/test_messages_sv.py: assert_translated).

The list of controls comes from the registry (a control's module), so a new control in these modules without
cases here fails :func:`test_every_host_control_is_walked_on_every_outcome`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from auditor.model import Finding, Severity, Status, Target
from auditor.policy import load_policy
from auditor.registry import Registry
from auditor.runner import RunOptions, Runner
from checks import sudo_escalation as se
from checks.sudoers import parse_sudoers
from tests.test_messages_sv import CASES as SHARED_CASES
from tests.test_messages_sv import ROOT, _fact, assert_translated, registry  # noqa: F401 - registry is a fixture

MODULES = ("checks.sudoers", "checks.sudo_escalation", "checks.authorized_keys", "checks.files", "checks.ports", "checks.new_passwords",
           "checks.backup_encryption", "checks.backup_repos", "checks.location", "checks.shadow")

SERVER = Target("server:web1", "server", "web1", "web1.example.se")
BACKUP = Target("backup:nightly", "backup", "nightly", settings={"type": "path", "path": "/srv/backup"})
NOW = 1_767_225_600  # 2026-01-01


# -- fact builders ---------------------------------------------------------------------------------


def _sudoers(text: str, account: Any = "absent", unresolved: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    fact: dict[str, Any] = {"files": ["/etc/sudoers"], "missing": [], "ignored": [], "unresolved": unresolved or [],
                            "entries": parse_sudoers(text, "/etc/sudoers")["entries"]}
    if account != "absent":
        fact["audit_account"] = account
    return {"sudo.sudoers": fact}


AUDITOR = {"user": "auditor", "groups": ["auditor"], "sudo": True}
LIMIT = [{"path": "/etc/sudoers.d/deep", "why": "include limit reached (200 files or 128 levels)"}]
HOSTNAME = [{"path": "/etc/sudoers.%h", "why": "%h (host name) includes are not followed"}]


def _keys(keys: list[dict[str, Any]], allowlist: list[str] | None, present: bool = True, invalid: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    files = [{"path": "/root/.ssh/authorized_keys", "present": present}, {"path": "/root/.ssh/authorized_keys2", "present": False}]
    return {"ssh.root_authorized_keys": {"files": files, "keys": keys, "invalid": invalid or [], "allowlist": allowlist}}


KEY = {"file": "/root/.ssh/authorized_keys", "line": 1, "type": "ssh-ed25519", "fingerprint": "SHA256:AbCdEf", "comment": "anna@laptop"}
BARE_KEY = {**KEY, "line": 2, "fingerprint": "SHA256:XyZ", "comment": ""}


def _entry(path: str, mode: str = "0600", owner: str = "root", group: str = "root", kind: str = "f", age_days: float = 1) -> dict[str, Any]:
    return {"path": path, "type": kind, "mode": mode, "owner": owner, "group": group, "size": 10, "mtime": int(NOW - age_days * 86400)}


def _listing(roots: list[str], entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"roots": roots, "entries": entries, "missing": [], "unreadable": [], "truncated": False, "now": NOW, **extra}


def _system(entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"files.system_permissions": _listing(["/etc/shadow", "/etc/gshadow"], entries, **extra)}


def _key_listing(entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"files.key_listing": _listing(["/etc/ssl/private"], [_entry("/etc/ssl/private", "0711", kind="d"), *entries], **extra)}


def _backups(entries: list[dict[str, Any]], roots: tuple[str, ...] = ("/srv/backup",), **extra: Any) -> dict[str, Any]:
    return {"files.backup_listing": _listing(list(roots), entries, **extra)}


def _borg(archives: list[tuple[str, float]], **extra: Any) -> dict[str, Any]:
    entries = [{"path": f"/srv/borg::{name}", "type": "a", "mode": None, "owner": None, "group": None, "size": None, "mtime": int(NOW - age * 86400)}
               for name, age in archives]
    return _backups(entries, roots=("/srv/borg",), source="borg", **extra)


def _restic(snapshots: list[tuple[str, float]]) -> dict[str, Any]:
    entries = [{"path": f"/srv/restic#{name}", "type": "a", "mode": None, "owner": None, "group": None, "size": None, "mtime": int(NOW - age * 86400)}
               for name, age in snapshots]
    return _backups(entries, roots=("/srv/restic",), source="restic")


DUMP = _entry("/srv/backup/db.sql.gz", "0640", "backup", "backup", age_days=2)
OLD_DUMP = _entry("/srv/backup/db-old.sql.gz", "0644", "backup", "backup", age_days=400.5)


def _sockets(*sockets: tuple[str, int, list[str]]) -> dict[str, Any]:
    return {"net.tcp_listeners": {"sockets": [{"local": f"{address}:{port}", "address": address, "port": port, "process": process}
                                              for address, port, process in sockets]}}


def _pam(scheme: str | None, rounds: int | None = None, login_defs: dict[str, str] | None = None, pam: bool = True) -> dict[str, Any]:
    text = "password [success=1 default=ignore] pam_unix.so obscure" + (f" {scheme}" if scheme else "") + (f" rounds={rounds}" if rounds else "")
    unix = [{"file": "/etc/pam.d/common-password", "line": 25, "text": text, "scheme": scheme, "rounds": rounds}] if pam else []
    defs = None if login_defs is None else {"settings": {k: {"value": v, "line": n, "text": f"{k} {v}"} for n, (k, v) in enumerate(login_defs.items(), 10)}}
    return {"shadow.new_password_hashing": {"pam_unix": unix, "login_defs": defs, "pam_stacks": []}}


def _encryption(listing: dict[str, Any], formats: dict[str, Any]) -> dict[str, Any]:
    return {**listing, "backup.file_formats": formats}


def _formats(files: list[tuple[str, str]], unnamed: int = 0) -> dict[str, Any]:
    return {"type": "path", "folder": "/srv/backup", "regular_files": len(files) + unnamed, "listing_truncated": False, "not_nameable": ["x y.tar"] * unnamed,
            "not_nameable_count": unnamed, "sample_bound": 50, "files": [{"path": f"/srv/backup/{p}", "size": 10, "mtime": NOW, "format": f} for p, f in files]}


# -- the cases: (control, target, facts, expected status, policy parameters) ----------------------------

Case = tuple[str, Target, dict[str, Any], str, dict[str, Any]]

CASES: list[Case] = [
    # sudo: root without a password
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("deploy ALL=(ALL) NOPASSWD: ALL\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("Cmnd_Alias SHELLS = /bin/bash\ndeploy ALL=(ALL) NOPASSWD: SHELLS\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("deploy ALL=(ALL) NOPASSWD: /usr/bin/find *, /usr/bin/env *, /usr/bin/vim, /usr/bin/tee *\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("deploy ALL=(ALL) NOPASSWD:NOEXEC: /usr/bin/find *, /usr/bin/py*\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("deploy ALL=(ALL) NOPASSWD: /usr/bin/python3 -m http.server, /usr/bin/bash, /usr/bin/systemctl status nginx\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("deploy ALL=(ALL) NOPASSWD: /usr/bin/crontab -, /usr/bin/at, /usr/bin/passwd, /usr/bin/sudo -s, /usr/local/bin/\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("deploy ALL=(ALL) NOPASSWD: /usr/bin/env /usr/bin/less /var/log/syslog, /usr/bin/apt *, /usr/bin/sh\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("Defaults !authenticate\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("Defaults!/usr/bin/vim !authenticate\n"), "fail", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("root ALL=(ALL) ALL\nthis line parses to nothing\n"), "error", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("root ALL=(ALL) ALL\n", unresolved=LIMIT + HOSTNAME), "error", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("root ALL=(ALL) ALL\n"), "pass", {}),
    ("ACCESS-SUDO-NOPASSWD-ALL", SERVER, _sudoers("ops ALL=(ALL) NOPASSWD: ALL\nbackup ALL=(root) NOPASSWD: /usr/bin/cat /etc/shadow\n"),
     "pass", {"sudo_nopasswd_allowed": ["ops"]}),
    # sudo: the audit account
    ("ACCESS-SUDO-AUDIT-ACCOUNT", SERVER, _sudoers("root ALL=(ALL) ALL\n"), "skipped", {}),
    ("ACCESS-SUDO-AUDIT-ACCOUNT", SERVER, _sudoers("root ALL=(ALL) ALL\n", account=None), "skipped", {}),
    ("ACCESS-SUDO-AUDIT-ACCOUNT", SERVER, _sudoers("auditor ALL=(root) NOPASSWD: /usr/bin/less *, /usr/sbin/sshd -T\n", account=AUDITOR), "fail", {}),
    ("ACCESS-SUDO-AUDIT-ACCOUNT", SERVER, _sudoers("Defaults:auditor !authenticate\nauditor ALL=(root) /usr/bin/tee *\n", account=AUDITOR), "fail", {}),
    ("ACCESS-SUDO-AUDIT-ACCOUNT", SERVER, _sudoers("auditor ALL=(root) NOPASSWD: /usr/sbin/sshd -T\nthis line parses to nothing\n", account=AUDITOR), "error", {}),
    ("ACCESS-SUDO-AUDIT-ACCOUNT", SERVER, _sudoers("root ALL=(ALL) ALL\n", account=AUDITOR), "pass", {}),
    ("ACCESS-SUDO-AUDIT-ACCOUNT", SERVER, _sudoers("auditor ALL=(root) NOPASSWD: /usr/sbin/sshd -T, /usr/bin/cat /etc/shadow\n", account=AUDITOR), "pass", {}),
    # root's authorized_keys
    ("ACCESS-ROOT-AUTHORIZED-KEYS", SERVER, _keys([KEY, BARE_KEY], None), "fail", {}),
    ("ACCESS-ROOT-AUTHORIZED-KEYS", SERVER, _keys([KEY], None), "fail", {}),
    ("ACCESS-ROOT-AUTHORIZED-KEYS", SERVER, _keys([KEY, BARE_KEY], ["SHA256:AbCdEf"]), "fail", {}),
    ("ACCESS-ROOT-AUTHORIZED-KEYS", SERVER, _keys([KEY], ["SHA256:AbCdEf"], invalid=[{"file": "/root/.ssh/authorized_keys", "line": 3}]), "error", {}),
    ("ACCESS-ROOT-AUTHORIZED-KEYS", SERVER, _keys([], None, present=False), "pass", {}),
    ("ACCESS-ROOT-AUTHORIZED-KEYS", SERVER, _keys([], None), "pass", {}),
    ("ACCESS-ROOT-AUTHORIZED-KEYS", SERVER, _keys([KEY, BARE_KEY], ["SHA256:AbCdEf", "SHA256:XyZ"]), "pass", {}),
    # /etc/shadow and /etc/gshadow
    ("ACCESS-SHADOW-PERMISSIONS", SERVER, _system([_entry("/etc/shadow", "0644", "daemon", "shadow"), _entry("/etc/gshadow", "0660", "root", "shadow")]), "fail", {}),
    ("ACCESS-SHADOW-PERMISSIONS", SERVER, _system([_entry("/etc/shadow", "0640", "root", "shadow")], unreadable=["/etc/gshadow"]), "error", {}),
    ("ACCESS-SHADOW-PERMISSIONS", SERVER, _system([_entry("/etc/shadow", "0640", "root", "shadow")], truncated=True), "error", {}),
    ("ACCESS-SHADOW-PERMISSIONS", SERVER, _system([_entry("/etc/shadow", "0640", "root", "shadow"), _entry("/etc/gshadow", "0640", "root", "shadow")]), "pass", {}),
    # private keys
    ("ACCESS-PRIVATE-KEY-PERMISSIONS", SERVER, _key_listing([_entry("/etc/ssl/private/web.key", "0644")]), "fail", {}),
    ("ACCESS-PRIVATE-KEY-PERMISSIONS", SERVER, _key_listing([_entry("/etc/ssl/private/web.key", "0644"), _entry("/etc/ssl/private/b.key", "0604")], truncated=True), "fail", {}),
    ("ACCESS-PRIVATE-KEY-PERMISSIONS", SERVER, _key_listing([_entry("/etc/ssl/private/web.key")], missing=["/etc/pki/tls/private"]), "error", {}),
    ("ACCESS-PRIVATE-KEY-PERMISSIONS", SERVER, _key_listing([_entry("/etc/ssl/private/web.key")]), "pass", {}),
    ("ACCESS-PRIVATE-KEY-PERMISSIONS", SERVER, _key_listing([_entry("/etc/ssl/private/web.key"), _entry("/etc/ssl/private/b.key")]), "pass", {}),
    # backup file permissions
    ("ACCESS-BACKUP-FILE-PERMISSIONS", BACKUP, _borg([("2026-01-01", 1)]), "skipped", {}),
    ("ACCESS-BACKUP-FILE-PERMISSIONS", BACKUP, _backups([_entry("/srv/backup", "0755", kind="d"), DUMP, OLD_DUMP]), "fail", {}),
    ("ACCESS-BACKUP-FILE-PERMISSIONS", BACKUP, _backups([DUMP], missing=["/srv/backup2"]), "error", {}),
    ("ACCESS-BACKUP-FILE-PERMISSIONS", BACKUP, _backups([DUMP]), "pass", {}),
    # backup age
    ("BACKUP-MAX-AGE", BACKUP, _backups([DUMP], purpose="bookkeeping"), "skipped", {}),
    ("BACKUP-MAX-AGE", BACKUP, _backups([DUMP, OLD_DUMP]), "fail", {}),
    ("BACKUP-MAX-AGE", BACKUP, _backups([DUMP, OLD_DUMP], truncated=True), "fail", {}),
    ("BACKUP-MAX-AGE", BACKUP, _borg([("2024-11-01", 426.5)]), "fail", {}),
    ("BACKUP-MAX-AGE", BACKUP, _backups([]), "skipped", {}),
    ("BACKUP-MAX-AGE", BACKUP, _borg([]), "skipped", {}),
    ("BACKUP-MAX-AGE", BACKUP, _backups([DUMP], unreadable=["/srv/backup/private"]), "error", {}),
    ("BACKUP-MAX-AGE", BACKUP, _backups([DUMP]), "pass", {}),
    ("BACKUP-MAX-AGE", BACKUP, _restic([("ab12cd34", 3.5), ("ef56ab78", 10)]), "pass", {}),
    # backup freshness
    ("BACKUP-FRESHNESS", BACKUP, _backups([]), "fail", {}),
    ("BACKUP-FRESHNESS", BACKUP, _restic([]), "fail", {}),
    ("BACKUP-FRESHNESS", BACKUP, _backups([OLD_DUMP]), "fail", {}),
    ("BACKUP-FRESHNESS", BACKUP, _borg([("2025-12-01", 31)]), "fail", {}),
    ("BACKUP-FRESHNESS", BACKUP, _backups([], missing=["/srv/backup"]), "error", {}),
    ("BACKUP-FRESHNESS", BACKUP, _backups([DUMP], missing=["/srv/backup2"]), "error", {}),
    ("BACKUP-FRESHNESS", BACKUP, _backups([DUMP]), "pass", {}),
    ("BACKUP-FRESHNESS", BACKUP, _borg([("2025-12-31", 1)]), "pass", {}),
    # listening ports
    ("ACCESS-EXPOSED-SERVICE-PORTS", SERVER, _sockets(("0.0.0.0", 5432, ["postgres"]), ("127.0.0.1", 6379, ["redis-server"])), "fail", {}),
    ("ACCESS-EXPOSED-SERVICE-PORTS", SERVER, _sockets(("127.0.0.1", 5432, ["postgres"])), "error", {"restricted_ports": ["postgres"]}),
    ("ACCESS-EXPOSED-SERVICE-PORTS", SERVER, _sockets(("127.0.0.1", 5432, ["postgres"])), "error", {"exposed_ports_allowed": ["mysql"]}),
    ("ACCESS-EXPOSED-SERVICE-PORTS", SERVER, _sockets(("127.0.0.1", 5432, ["postgres"]), ("0.0.0.0", 22, ["sshd"])), "pass", {}),
    ("ACCESS-EXPOSED-SERVICE-PORTS", SERVER, _sockets(("10.0.0.5", 5432, ["postgres"])), "pass", {"exposed_ports_allowed": ["10.0.0.5:5432"]}),
    # how new passwords are hashed
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None, pam=False), "error", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam("md5"), "fail", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam("sha512", rounds=1000), "fail", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None, login_defs={"ENCRYPT_METHOD": "YESCRYPT", "YESCRYPT_COST_FACTOR": "3"}), "fail", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None, login_defs={"ENCRYPT_METHOD": "FANCY"}), "fail", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None), "fail", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None, login_defs={"MD5_CRYPT_ENAB": "yes"}), "fail", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None, login_defs={"UMASK": "022"}), "fail", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None, login_defs={"ENCRYPT_METHOD": "SHA512"}, pam=False), "pass", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam(None, login_defs={"ENCRYPT_METHOD": "YESCRYPT"}), "pass", {}),
    ("PWHASH-NEW-PASSWORD-SCHEME", SERVER, _pam("yescrypt"), "pass", {}),
    # backup encryption
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_borg([("2026-01-01", 1)]), {"type": "borg"}), "error", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_borg([("2026-01-01", 1)], encryption="repokey-blake2"), {"type": "borg"}), "pass", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_borg([("2026-01-01", 1)], encryption="authenticated-blake2"), {"type": "borg"}), "fail", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_borg([("2026-01-01", 1)], encryption="none"), {"type": "borg"}), "fail", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_restic([("ab12cd34", 1)]), {"type": "restic"}), "pass", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_backups([DUMP]), _formats([("db.sql.gz", "gzip"), ("db.sql.gpg", "openpgp")], unnamed=2)), "fail", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_backups([DUMP]), _formats([("db.sql.gz", "gzip")])), "fail", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_backups([]), _formats([], unnamed=3)), "error", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_backups([]), _formats([])), "pass", {}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_backups([DUMP]), _formats([("db.sql.gz", "gzip")], unnamed=1)), "pass", {"backup_encrypted_volume_paths": ["/srv"]}),
    ("BACKUP-ENCRYPTED", BACKUP, _encryption(_backups([DUMP]), _formats([("db.sql.gpg", "openpgp"), ("db.age", "age")])), "pass", {}),
    # location and /etc/shadow: the cases of tests/test_messages_sv.py, walked here too
    *[(cid, target, values, expected, {}) for cid, target, values, expected in SHARED_CASES if cid.startswith(("DATA-", "PWHASH-SHADOW-"))],
    ("PWHASH-SHADOW-SCHEMES", SERVER, {"shadow.hash_schemes": [{"account": "anna", "scheme": "md5crypt", "locked": False},
                                                               {"account": "bo", "scheme": "descrypt", "locked": False}]}, "fail", {}),
    ("PWHASH-SHADOW-EMPTY", SERVER, {"shadow.hash_schemes": [{"account": "guest", "scheme": "empty", "locked": False},
                                                             {"account": "demo", "scheme": "empty", "locked": False}]}, "fail", {}),
    ("DATA-PROCESSOR-LOCATION", Target("processor:acme", "processor", "acme"), {"inventory.location": {"country": "IN", "safeguard": "adequacy"}}, "fail", {}),
    ("DATA-PROCESSOR-LOCATION", Target("processor:acme", "processor", "acme"), {"inventory.location": {"country": "US", "safeguard": "scc"}}, "fail",
     {"third_country_transfers_allowed": False}),
    ("DATA-PROCESSOR-LOCATION", Target("processor:acme", "processor", "acme"), {"inventory.location": {"country": "US", "safeguard": "scc"}}, "pass", {}),
]


@pytest.fixture(scope="module")
def judge(registry: Registry) -> Any:  # noqa: F811 - the fixture imported above
    from auditor.inventory import load_inventory

    inventory = load_inventory(str(ROOT / "inventories" / "localhost.yaml"))
    policy = load_policy("baseline-eu", registry)
    runners: dict[str, Runner] = {}

    def judge(cid: str, target: Target, values: dict[str, Any], params: dict[str, Any]) -> Finding:
        key = repr(sorted(params.items()))
        if key not in runners:
            changed = dataclasses.replace(policy, parameters={**policy.parameters, **params})
            runners[key] = Runner(registry, inventory, changed, RunOptions())
        return runners[key].evaluate(registry.controls[cid], target, {name: _fact(target, name, v) for name, v in values.items()})

    return judge


@pytest.mark.parametrize("cid, target, values, expected, params", CASES, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)])
def test_each_branch_gives_a_swedish_translation(judge: Any, cid: str, target: Target, values: dict[str, Any], expected: str, params: dict[str, Any]) -> None:
    f = judge(cid, target, values, params)
    assert f.status.value == expected, f.message
    assert f.reason != "bug", f.message
    assert_translated(f)


def test_every_host_control_is_walked_on_every_outcome(registry: Registry, judge: Any) -> None:  # noqa: F811
    """Every control the host modules define (from the registry) has cases, a pass and a fail among them, and each gives Swedish."""
    ours = {c.id for c in registry.controls.values() if c.module in MODULES}
    assert len(ours) >= 15, ours
    covered = {(cid, expected) for cid, _, _, expected, _ in CASES}
    assert {cid for cid, _ in covered} == ours
    assert [cid for cid in sorted(ours) if (cid, "pass") not in covered or (cid, "fail") not in covered] == []
    for cid, target, values, expected, params in CASES:
        f = judge(cid, target, values, params)
        assert f.message_sv, (cid, expected, f.message)


def test_the_sudo_knowledge_has_a_swedish_word_for_every_effect() -> None:
    """root_reason_text builds its Swedish from VERBS_SV and HOWS_SV: every verb of the tables is there, and no hint is English."""
    tables = (se.CONTROLLERS, se.WRITERS, se.ESCAPES, se.EXEC_EVEN_FIXED)
    verbs = {verb for table in tables for verb, _ in table.values()} | {e[0] for _, e in se.SUBCOMMANDS.values() if e}
    assert verbs <= set(se.VERBS_SV), verbs - set(se.VERBS_SV)
    hows = [how for table in tables for _, how in table.values()] + list(se.EDITORS.values()) + [e[1] for _, e in se.SUBCOMMANDS.values() if e]
    hows.append(se.INTERPRETER_HOW)
    english = [h for h in hows if h not in se.HOWS_SV and any(w in h.split() for w in ("the", "in", "over", "to", "into", "with", "its", "a", "among", "or", "of"))]
    assert english == []


@pytest.mark.parametrize("command, tags", [
    ("/usr/bin/find *", {"PASSWD": False}), ("/usr/bin/find *", {"PASSWD": False, "EXEC": False}), ("/usr/bin/env *", {"PASSWD": False}),
    ("/usr/bin/python3 -m http.server", {}), ("/usr/bin/python3 script.py", {}), ("/usr/bin/bash -i", {}), ("/usr/bin/gdb", {}),
    ("/usr/bin/vim", {}), ("/usr/bin/sudoedit /etc/*", {}), ("/usr/bin/systemctl edit nginx", {}), ("/usr/bin/systemctl status nginx", {}),
    ("/usr/bin/crontab -", {}), ("/usr/bin/crontab -e", {}), ("/usr/bin/at now", {}), ("/usr/bin/make", {}), ("/usr/bin/passwd", {}),
    ("/usr/bin/sudo -s", {}), ("/usr/bin/su root -c id", {}), ("/usr/bin/env /usr/bin/less /var/log/syslog", {}), ("/usr/bin/py*", {}),
    ("/usr/local/bin/", {}), ("^/usr/bin/.*$", {}), ("/usr/bin/find / -exec /bin/sh {} ;", {}), ("/usr/bin/borg list *", {}),
    ("/usr/bin/docker *", {}), ("/usr/bin/journalctl", {}), ("ALL", {}), ("/usr/bin/tar *", {"EXEC": False}),
])
def test_why_a_command_is_root_reads_in_swedish(command: str, tags: dict[str, bool]) -> None:
    text = se.root_reason_text(command, tags)
    if text is None:
        assert se.root_reason(command, tags) is None
        return
    assert text.en == se.root_reason(command, tags)
    assert text.sv != text.en
    assert_translated(Finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web1", Status.FAIL, text.en, Severity.HIGH, "access", message_sv=text.sv))
