"""A fleet of real OpenSSH servers audited end to end through the inventory.

``tests/fleet.py`` starts one sshd per host on its own loopback address,
each in a private mount namespace where /etc/passwd, /etc/shadow, sudoers,
/etc/ssh, /root, /home and /srv are that host's own, and each host's ``ss``
lists the sockets of a network namespace of its own. The audit logs in as the
non-root user ``auditor`` and reads root-only files through ``sudo -n``.

The whole fleet is audited once, with ``auditor run`` (the CLI, the normal
inventory path), and the test asserts the exact verdict of every server
control on every host, the reason of every error, and key fragments of the
messages. Faults are real: nothing listens at ``gone``; ``impostor`` serves
a key other than the one known_hosts lists; ``no-sudo`` has no sudo rule;
on ``hang`` ``sshd -T`` never answers; on ``cut`` the fleet kills the sshd
session while a command runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest

from auditor.cli import main
from fleet import Fleet, HostSpec, fleet, standard_fleet  # noqa: F401 - fleet is a fixture
from helpers import registry

pytestmark = pytest.mark.integration

# One column per host, one row per server control. P pass, F fail, S skipped;
# errors by reason: U unreachable, K host_key_rejected, D permission_denied,
# T timeout; u: unreachable, or pass if that fact's command finished before the cut.
#
# no-sudo: every fact that needs a command through sudo is D, naming the refused
# argv; `ss -tln` needs no root and runs without sudo, so the ports control passes.
# cut: a server's collectors run at once on its connection; the fleet kills the
# session as soon as the shared `find` starts, so every fact resting on that
# listing (permissions, backups, the files read by the shared `cat`) is
# unreachable; `sshd -T` and `ss` ran beside it and may have finished first.
VERDICTS = """
                                 good  weak-ssh  weak-hashes  leaky-files  stale-backups  lax-access  impostor  gone  no-sudo  hang  cut
ACCESS-BACKUP-FILE-PERMISSIONS    P     P         P            F            P              P           K         U     D        P     U
ACCESS-EXPOSED-SERVICE-PORTS      P     P         P            P            P              F           K         U     P        P     u
ACCESS-PRIVATE-KEY-PERMISSIONS    P     P         S            F            P              P           K         U     D        P     U
ACCESS-ROOT-AUTHORIZED-KEYS       P     P         P            P            P              F           K         U     D        P     U
ACCESS-SHADOW-PERMISSIONS         P     P         P            F            P              P           K         U     D        P     U
ACCESS-SSH-CRYPTO                 P     F         P            P            P              P           K         U     D        T     u
ACCESS-SSH-EMPTY-PASSWORDS        P     F         P            P            P              P           K         U     D        T     u
ACCESS-SSH-KBD-INTERACTIVE        P     F         P            P            P              P           K         U     D        T     u
ACCESS-SSH-MAX-AUTH-TRIES         P     F         P            P            P              P           K         U     D        T     u
ACCESS-SSH-PASSWORD-AUTH          P     F         P            P            P              P           K         U     D        T     u
ACCESS-SSH-ROOT-LOGIN             P     F         P            P            P              P           K         U     D        T     u
ACCESS-SUDO-AUDIT-ACCOUNT         P     P         P            P            P              P           K         U     D        P     U
ACCESS-SUDO-NOPASSWD-ALL          P     P         P            P            P              F           K         U     D        P     U
BACKUP-FRESHNESS                  P     P         P            P            F              F           K         U     D        P     U
BACKUP-MAX-AGE                    P     P         P            P            F              S           K         U     D        P     U
DATA-DECLARED-LOCATION            P     P         P            P            P              F           P         P     P        P     P
PWHASH-NEW-PASSWORD-SCHEME        P     P         F            P            P              P           K         U     D        P     U
PWHASH-SHADOW-EMPTY               P     P         F            P            P              P           K         U     D        P     U
PWHASH-SHADOW-SCHEMES             P     P         F            P            P              P           K         U     D        P     U
"""

CELL = {
    "P": ("pass", None),
    "F": ("fail", None),
    "S": ("skipped", "not_applicable"),
    "U": ("error", "unreachable"),
    "K": ("error", "host_key_rejected"),
    "D": ("error", "permission_denied"),
    "T": ("error", "timeout"),
    "u": ("error", "unreachable"),  # or pass: see the table's note on cut
}
EITHER = {"u": ("pass", None)}


def parse_verdicts(table: str) -> dict[str, dict[str, tuple[str, str | None]]]:
    """The table above → host → control id → (status, reason): one dict per host."""
    lines = [ln.split() for ln in table.strip().splitlines()]
    hosts, rows = lines[0], lines[1:]
    expected: dict[str, dict[str, tuple[str, str | None]]] = {h: {} for h in hosts}
    for control, *cells in rows:
        assert len(cells) == len(hosts), f"row {control} has {len(cells)} cells for {len(hosts)} hosts"
        for host, cell in zip(hosts, cells):
            expected[host][control] = CELL[cell]
    return expected


EXPECTED = parse_verdicts(VERDICTS)

# Fragments each message must contain: (host, control) → fragments.
MESSAGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("good", "ACCESS-SHADOW-PERMISSIONS"): ("/etc/shadow 0640 root:shadow",),
    ("good", "ACCESS-SUDO-NOPASSWD-ALL"): ("/etc/sudoers.d/auditor",),
    ("good", "BACKUP-MAX-AGE"): ("27.0 days old",),
    ("good", "PWHASH-SHADOW-SCHEMES"): ("sha512-crypt, yescrypt",),
    ("weak-ssh", "ACCESS-SSH-ROOT-LOGIN"): ("PermitRootLogin is yes",),
    ("weak-ssh", "ACCESS-SSH-PASSWORD-AUTH"): ("PasswordAuthentication is yes",),
    ("weak-ssh", "ACCESS-SSH-KBD-INTERACTIVE"): ("KbdInteractiveAuthentication is yes",),
    ("weak-ssh", "ACCESS-SSH-EMPTY-PASSWORDS"): ("PermitEmptyPasswords is yes",),
    ("weak-ssh", "ACCESS-SSH-MAX-AUTH-TRIES"): ("MaxAuthTries is 6",),
    ("weak-ssh", "ACCESS-SSH-CRYPTO"): ("aes128-cbc", "hmac-sha1", "diffie-hellman-group14-sha1"),
    ("weak-hashes", "PWHASH-SHADOW-SCHEMES"): ("1 account(s)", "carol (md5-crypt)"),
    ("weak-hashes", "PWHASH-SHADOW-EMPTY"): ("1 account(s) have an empty password: dave",),
    ("weak-hashes", "PWHASH-NEW-PASSWORD-SCHEME"): ("md5-crypt, decided by /etc/pam.d/common-password:2: password [success=1 default=ignore] pam_unix.so obscure md5",),
    ("stale-backups", "PWHASH-NEW-PASSWORD-SCHEME"): ("sha512-crypt (/etc/pam.d/system-auth:5: password sufficient pam_unix.so sha512", "/etc/pam.d/password-auth:5"),
    ("good", "PWHASH-NEW-PASSWORD-SCHEME"): ("/etc/pam.d/common-password:",),
    ("weak-hashes", "ACCESS-PRIVATE-KEY-PERMISSIONS"): ("no key_paths are declared",),
    ("leaky-files", "ACCESS-SHADOW-PERMISSIONS"): ("/etc/shadow is mode 0644",),
    ("leaky-files", "ACCESS-PRIVATE-KEY-PERMISSIONS"): ("/etc/ssh/ssh_host_legacy_rsa_key (0644)",),
    ("leaky-files", "ACCESS-BACKUP-FILE-PERMISSIONS"): ("1 backup file(s)", "/srv/backups/site.sql.gz (0644)"),
    ("stale-backups", "BACKUP-MAX-AGE"): ("/srv/backups/db-2024.tar.gz (40.0 days)",),
    ("stale-backups", "BACKUP-FRESHNESS"): ("/srv/backups/db-last.tar.gz is 9.0 days old",),
    ("lax-access", "ACCESS-EXPOSED-SERVICE-PORTS"): ("2 database or admin port(s)", "0.0.0.0:3306", "[::]:9200"),
    ("lax-access", "ACCESS-ROOT-AUTHORIZED-KEYS"): ("1 of 2 key(s)", "intruder@fleet"),
    ("lax-access", "ACCESS-SUDO-NOPASSWD-ALL"): ("/etc/sudoers.d/90-admins", "%sudo ALL=(ALL:ALL) NOPASSWD: ALL"),
    ("lax-access", "BACKUP-FRESHNESS"): ("No backup files found",),
    ("lax-access", "DATA-DECLARED-LOCATION"): ("Declared location US",),
    ("impostor", "ACCESS-SSH-ROOT-LOGIN"): ("CHANGED",),
    ("impostor", "DATA-DECLARED-LOCATION"): ("Declared location SE",),
    ("gone", "PWHASH-SHADOW-SCHEMES"): ("Connection refused",),
    ("gone", "DATA-DECLARED-LOCATION"): ("Declared location SE",),
    ("hang", "ACCESS-SSH-ROOT-LOGIN"): ("sshd -T` did not finish within",),
    ("cut", "ACCESS-SHADOW-PERMISSIONS"): ("lost while", "find"),
    ("no-sudo", "PWHASH-SHADOW-SCHEMES"): ("sudo refused `find -H ", "/etc/shadow", "NOPASSWD:NOEXEC: /usr/bin/find -H "),
    ("no-sudo", "ACCESS-SSH-ROOT-LOGIN"): ("sudo refused `sshd -T`", "auditor ALL=(root) NOPASSWD:NOEXEC: /usr/sbin/sshd -T"),
    ("cut", "PWHASH-SHADOW-SCHEMES"): ("lost",),
}


# -- one audit of the whole fleet ------------------------------------------------------------


@pytest.fixture(scope="module")
def audited(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``auditor run`` over the fleet's inventory; returns run.json plus the exit code and wall time."""
    out = tmp_path_factory.mktemp("fleet-report")
    t0 = time.monotonic()
    code = main(["run", fleet.inventory_path, "--out", str(out), "--format", "json", "--quiet", "--concurrency", "16", "--connect-timeout", "5"])
    wall = time.monotonic() - t0
    (run_json,) = [os.path.join(root, f) for root, _, files in os.walk(out) for f in files if f == "run.json"]
    with open(run_json, encoding="utf-8") as fh:
        doc = json.load(fh)
    return {"run": doc, "code": code, "wall": wall}


def findings(audited: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(host, control) → finding of run.json."""
    return {(f["target"].split(":", 1)[1], f["control"]): f for f in audited["run"]["findings"]}


def facts(audited: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in audited["run"]["facts"]}


def test_table_covers_every_server_control_and_every_host(fleet: Fleet) -> None:
    server_controls = sorted(c.id for c in registry().controls.values() if "server" in c.info.kinds)
    for host, row in EXPECTED.items():
        assert sorted(row) == server_controls, f"the VERDICTS table must list every server control (row set differs for {host})"
    assert sorted(EXPECTED) == sorted(s.name for s in standard_fleet())


def test_every_verdict_of_every_host(audited: dict[str, Any]) -> None:
    got = findings(audited)
    actual = {host: {control: (f["status"], f.get("reason")) for (h, control), f in got.items() if h == host} for host in EXPECTED}
    mismatches = [
        f"{host:14} {control:32} expected {exp[0]}{'/' + exp[1] if exp[1] else ''}, got {act[0]}{'/' + str(act[1]) if act[1] else ''}: {got[(host, control)]['message'][:160]}"
        for host, row in EXPECTED.items()
        for control, exp in row.items()
        if (act := actual[host].get(control, ("missing", None))) != exp and not (exp == CELL["u"] and host == "cut" and act == EITHER["u"])
    ]
    assert not mismatches, "verdicts differ from the table:\n" + "\n".join(mismatches)
    assert {h for h, _ in got} == set(EXPECTED), "findings for hosts outside the table"


@pytest.mark.parametrize("key", sorted(MESSAGES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_message_fragments(audited: dict[str, Any], key: tuple[str, str]) -> None:
    message = findings(audited)[key]["message"]
    for fragment in MESSAGES[key]:
        assert fragment in message, f"{key}: {fragment!r} not in {message!r}"


def test_run_completes_and_exits_for_violations(audited: dict[str, Any]) -> None:
    run = audited["run"]
    assert run["complete"] is True
    assert audited["code"] == 1, "violations take precedence over errors"
    assert audited["wall"] < 60, f"the fleet audit took {audited['wall']:.1f}s"
    assert len(run["targets"]) == len(EXPECTED)


def test_no_pass_without_evidence(audited: dict[str, Any]) -> None:
    by_id = facts(audited)
    for f in audited["run"]["findings"]:
        if f["status"] != "pass":
            continue
        assert f["facts"], f"{f['target']} {f['control']} passed on no fact"
        for fid in f["facts"]:
            fact = by_id[fid]
            assert fact["status"] == "ok" and fact["evidence"], f"{fid} behind a pass has no evidence"
            assert all(ev["sha256"] for ev in fact["evidence"])


def test_each_host_was_read_through_its_own_namespace(audited: dict[str, Any], fleet: Fleet) -> None:
    """The evidence shows per-host files: the same path reads differently on each host."""
    by_id = facts(audited)
    shadow = {h: by_id[f"server:{h}/shadow.hash_schemes"]["evidence"][0] for h in ("good", "weak-hashes")}
    assert "carol: md5-crypt" in shadow["weak-hashes"]["excerpt"] and "carol" not in shadow["good"]["excerpt"]
    assert "erin: md5-crypt (locked)" in shadow["weak-hashes"]["excerpt"]
    assert "$" not in shadow["weak-hashes"]["excerpt"], "the shadow evidence must never show a hash"
    # the one shared read of small files, exactly `sudo -n -- cat -- FILE...`; the evidence is /etc/shadow's part
    assert shadow["good"]["argv"][:5] == ["sudo", "-n", "--", "cat", "--"] and "/etc/shadow" in shadow["good"]["argv"]
    assert shadow["good"]["kind"] == "file" and shadow["good"]["source"] == "/etc/shadow"
    sshd = {h: by_id[f"server:{h}/sshd.effective_config"]["value"] for h in ("good", "weak-ssh")}
    for host in ("good", "weak-ssh"):
        assert sshd[host]["listenaddress"] == [f"{fleet.address(host)}:2222"], "sshd -T ran inside the host's own namespace"
    identity = by_id["server:good/ssh.host_key"]["value"] if "server:good/ssh.host_key" in by_id else None
    if identity is not None:
        assert identity["verified_by"] == f"known_hosts:{fleet.known_hosts_path}"


def test_no_sudo_errors_say_sudo_refused(audited: dict[str, Any]) -> None:
    for (host, control), f in findings(audited).items():
        if host == "no-sudo" and f["status"] == "error":
            assert "sudo refused" in f["message"] and "a password is required" in f["message"], f"{control}: {f['message']}"


def test_hang_times_out_at_the_inventory_timeout_and_the_rest_completes(audited: dict[str, Any]) -> None:
    by_id = facts(audited)
    hung = by_id["server:hang/sshd.effective_config"]
    assert hung["status"] == "error" and hung["reason"] == "timeout"
    assert 2500 <= hung["duration_ms"] < 10000, f"timeout: 3 in the inventory, took {hung['duration_ms']} ms"
    others = [f for fid, f in by_id.items() if fid.startswith("server:hang/") and f["name"] != "sshd.effective_config"]
    assert others and all(f["status"] == "ok" for f in others), [(f["name"], f["status"], f.get("message")) for f in others if f["status"] != "ok"]


LISTING_FACTS = ("files.system_permissions", "files.key_listing", "files.backup_listing", "shadow.hash_schemes", "ssh.root_authorized_keys", "sudo.sudoers")


def test_cut_connection_fails_every_fact_resting_on_the_command_in_flight(audited: dict[str, Any], fleet: Fleet) -> None:
    assert fleet.cuts.get("cut"), "the fleet did not kill the session of host cut"
    by_id = facts(audited)
    for name in LISTING_FACTS:
        fact = by_id[f"server:cut/{name}"]
        assert (fact["status"], fact["reason"]) == ("error", "unreachable"), (name, fact.get("message"))
    assert "while" in by_id["server:cut/files.system_permissions"]["message"]


def _running(fleet: Fleet, host: str, needle: str) -> list[str]:
    out = []
    for pid in fleet.namespace_pids(host):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if needle in cmdline:
            out.append(f"{pid}: {cmdline}")
    return out


def _gone(fleet: Fleet, host: str, needle: str, seconds: float = 5.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := _running(fleet, host, needle)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_remote_work_stops_with_the_run(audited: dict[str, Any], fleet: Fleet) -> None:
    """Issue 11, 5: after a timeout (hang: `sshd -T` never answers) and a lost connection (cut: the session is
    killed while `find` prints), nothing the auditor started is still running on the host a few seconds later."""
    assert facts(audited)["server:hang/sshd.effective_config"]["reason"] == "timeout"
    assert not _gone(fleet, "hang", "/usr/sbin/sshd -T"), "the timed-out sshd -T still runs on hang (SIGTERM was not delivered through sudo)"
    assert fleet.cuts.get("cut")
    assert not _gone(fleet, "cut", "/usr/bin/find -H"), "find still runs on cut after its connection was lost"


# -- the harness itself -------------------------------------------------------------------------


def test_fleet_leaves_nothing_behind() -> None:
    """A fleet's processes (sshd, sessions, sleeping fault scripts, socket holders) and files go away on close."""
    with Fleet([HostSpec("solo"), HostSpec("stuck", fault="hang")]) as small:
        root = small.root
        namespaces = {h.mnt_ns for h in small.hosts.values()}
        assert len(namespaces) == 2 and _mnt_ns(os.getpid()) not in namespaces
        # a session left hanging on the host: sshd -T is the sleeping fault script there
        argv = small.ssh_argv("stuck", "sudo", "-n", "--", "sshd", "-T")
        with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as hung:
            deadline = time.monotonic() + 10
            while not _running(small, "stuck", "/usr/sbin/sshd -T") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _running(small, "stuck", "/usr/sbin/sshd -T"), "the hang fault did not start"
            small.close()
            assert hung.wait(10) != 0, "the client saw its session end"
    assert not [pid for pid in _pids() if _mnt_ns(pid) in namespaces], "processes left in the fleet's namespaces"
    assert not os.path.exists(root), "the fleet's folder was not removed"


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def _mnt_ns(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return None


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""
