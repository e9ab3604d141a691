"""checks/db_postgres.py: PostgreSQL password hashing, TLS and access rules.

Evaluators first, on recorded facts; then real clusters from the rig
(tests/db_rig.py): a *weak* one with every misconfiguration planted and a
*strong* one, audited through the real runner with the README's audit
account. Every planted role and pg_hba line is asserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.model import Status
from auditor.registry import Outcome
from checks import db_postgres as pg
from db_rig import PG_HBA_LINES, inventory, pg_entry, pg_rig  # noqa: F401 - fixture
from helpers import audit, statuses, verdicts

PG_CONTROLS = [
    "PWHASH-PG-PASSWORD-ENCRYPTION", "PWHASH-PG-ROLE-PASSWORDS", "TLS-PG-SSL", "TLS-PG-HBA-HOSTSSL", "TLS-PG-ROLE-TLS",
    "ACCESS-PG-HBA-TRUST", "ACCESS-PG-HBA-OPEN", "ACCESS-PG-LISTEN-ADDRESSES", "ACCESS-PG-SUPERUSERS",
]
WEAK, STRONG = "database:pg-weak", "database:pg-strong"
DEFAULTS = {"pg_hba_open_to_all_allowed": False, "pg_superusers_allowed": ["postgres"], "pg_roles_without_password_allowed": [],
            "db_listen_addresses_allowed": pg.DB_LISTEN_ADDRESSES_ALLOWED.default, "pg_hba_local_trust_roles_allowed": []}


def rule(line: int, type_: str | None, address: str | None = None, netmask: str | None = None, method: str | None = "scram-sha-256", error: str | None = None,
         database: list[str] | None = None, users: list[str] | None = None) -> dict[str, Any]:
    return {"line_number": line, "file_name": None, "type": type_, "database": database or ["all"], "user_name": users or ["all"], "address": address,
            "netmask": netmask, "auth_method": method, "error": error}


def evaluate(control: Any, facts: dict[str, Any], **params: Any) -> Outcome:
    return control.evaluate(facts, {**DEFAULTS, **params}, None)


# -- evaluators on recorded facts ---------------------------------------------------------


@pytest.mark.parametrize(
    "r, local, open_",
    [
        (rule(1, "local", method="trust"), True, False),
        (rule(2, "host", "127.0.0.1", "255.255.255.255"), True, False),
        (rule(3, "host", "127.0.0.0", "255.0.0.0"), True, False),
        (rule(4, "host", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), True, False),
        (rule(5, "host", "samehost"), True, False),
        (rule(6, "host", "localhost"), True, False),
        (rule(7, "host", "10.0.0.0", "255.0.0.0"), False, False),
        (rule(8, "host", "samenet"), False, False),
        (rule(9, "host", "all"), False, True),
        (rule(10, "host", "0.0.0.0", "0.0.0.0"), False, True),
        (rule(11, "host", "::", "::"), False, True),
        (rule(12, "host", ".example.com"), False, False),
        (rule(13, "host", "126.0.0.0", "254.0.0.0"), False, False),  # 126.0.0.0/7 reaches beyond loopback
    ],
)
def test_rule_locality(r: dict[str, Any], local: bool, open_: bool) -> None:
    assert pg.is_local_rule(r) is local
    assert pg.is_open_to_all(r) is open_


def test_hba_controls_on_recorded_rules() -> None:
    rules = [
        rule(1, "local", method="trust"),
        rule(2, "host", "127.0.0.1", "255.255.255.255", "trust"),
        rule(3, "hostssl", "10.0.0.0", "255.0.0.0"),
        rule(4, "hostgssenc", "10.9.0.0", "255.255.0.0", "gss"),
        rule(5, "host", "10.1.0.0", "255.255.0.0", "reject"),
        rule(6, "hostnossl", "0.0.0.0", "0.0.0.0", "reject"),
        rule(7, "hostnogssenc", "192.0.2.0", "255.255.255.0", "md5"),
        rule(8, "hostssl", "::", "::", "trust"),
    ]
    facts = {"postgres.hba_rules": rules}
    hostssl = evaluate(pg.pg_hba_hostssl, facts)
    assert (hostssl.status, hostssl.details["lines"]) == (Status.FAIL, [7])
    trust = evaluate(pg.pg_hba_trust, facts)
    assert (trust.status, trust.details["lines"]) == (Status.FAIL, [1, 2, 8])  # a unix socket or loopback is no excuse
    assert trust.message.startswith("3 pg_hba rule(s) let clients in without any authentication (trust): line 1 (local trust) for every role, ")
    open_ = evaluate(pg.pg_hba_open, facts)
    assert (open_.status, open_.details["lines"]) == (Status.FAIL, [8])
    assert open_.details["rejecting_catch_all"] == ["line 6 (hostnossl 0.0.0.0/0 reject)"]
    assert evaluate(pg.pg_hba_open, facts, pg_hba_open_to_all_allowed=True).status is Status.PASS


@pytest.mark.parametrize(
    "earlier, later, shadowed",
    [
        (rule(1, "host", "0.0.0.0", "0.0.0.0"), rule(2, "hostssl", "10.1.0.0", "255.255.0.0", users=["+staff"], database=["app"]), True),
        (rule(1, "host", "0.0.0.0", "0.0.0.0"), rule(2, "host", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), False),  # IPv4 only
        (rule(1, "hostssl", "0.0.0.0", "0.0.0.0"), rule(2, "host", "10.0.0.0", "255.0.0.0"), False),  # plain connections get past hostssl
        (rule(1, "hostnossl", "10.0.0.0", "255.0.0.0"), rule(2, "hostnogssenc", "10.1.0.0", "255.255.0.0"), False),  # SSL gets past hostnossl
        (rule(1, "host", "10.0.0.0", "255.0.0.0"), rule(2, "hostgssenc", "10.1.0.0", "255.255.0.0"), True),
        (rule(1, "host", "10.1.0.0", "255.255.0.0"), rule(2, "host", "10.0.0.0", "255.0.0.0"), False),  # a wider line after a narrower one
        (rule(1, "host", "all"), rule(2, "host", "samenet"), True),
        (rule(1, "host", "0.0.0.0", "0.0.0.0"), rule(2, "host", "samenet"), False),  # which networks samenet means is not known here
        (rule(1, "host", ".example.se"), rule(2, "host", "db.example.se"), True),
        (rule(1, "host", "db.example.se"), rule(2, "host", "10.0.0.1", "255.255.255.255"), False),  # a host name vs an address: cannot tell
        (rule(1, "host", "all", database=["all"]), rule(2, "host", "all", database=["replication"]), False),  # all does not match replication
        (rule(1, "host", "all", database=["replication"]), rule(2, "host", "all", database=["replication"]), True),
        (rule(1, "host", "all", database=["all"]), rule(2, "host", "all", database=["sameuser", "samerole"]), True),
        (rule(1, "host", "all", database=["sameuser"]), rule(2, "host", "all", database=["app"]), False),  # app might not be the user's name
        (rule(1, "host", "all", users=["+staff"]), rule(2, "host", "all", users=["alice"]), False),  # membership is not judged from pg_hba
        (rule(1, "host", "all", users=["alice", "bob"]), rule(2, "host", "all", users=["bob"]), True),
        (rule(1, "host", "all", users=["/^app"]), rule(2, "host", "all", users=["app1"]), False),  # a regular expression is not evaluated
        (rule(1, "local", method="peer", users=["postgres"]), rule(2, "local", method="trust"), False),
        (rule(1, "local", method="peer"), rule(2, "local", method="trust", users=["postgres"]), True),
        (rule(1, "local", method="peer"), rule(2, "host", "127.0.0.1", "255.255.255.255"), False),
    ],
)
def test_first_match_shadowing_is_claimed_only_when_certain(earlier: dict[str, Any], later: dict[str, Any], shadowed: bool) -> None:
    assert pg.covers(earlier, later) is shadowed
    assert (1 in pg.shadowing([earlier, later])) is shadowed


def test_a_shadowed_line_is_unreachable_not_judged() -> None:
    rules = [
        rule(1, "host", "0.0.0.0", "0.0.0.0", "reject"),
        rule(2, "host", "192.168.0.0", "255.255.0.0", "trust"),
        rule(3, "local", method="peer", users=["postgres"]),
        rule(4, "local", method="trust", users=["postgres"]),
        rule(5, "local", method="trust", users=["backup", "postgres"]),
    ]
    facts = {"postgres.hba_rules": rules}
    trust = evaluate(pg.pg_hba_trust, facts)
    assert (trust.status, trust.details["lines"]) == (Status.FAIL, [5])
    assert trust.details["unreachable"] == [
        "line 2 (host 192.168.0.0/16 trust): unreachable, every connection it could match is decided by line 1 first",
        "line 4 (local trust): unreachable, every connection it could match is decided by line 3 first",
    ]
    assert evaluate(pg.pg_hba_hostssl, facts).status is Status.PASS
    # A unix-socket trust line passes only when the policy names every role on it.
    assert evaluate(pg.pg_hba_trust, facts, pg_hba_local_trust_roles_allowed=["backup"]).status is Status.FAIL
    accepted = evaluate(pg.pg_hba_trust, facts, pg_hba_local_trust_roles_allowed=["backup", "postgres"])
    assert (accepted.status, accepted.details["accepted_local_trust"]) == (Status.PASS, ["line 5 (local trust)"])
    everyone = evaluate(pg.pg_hba_trust, {"postgres.hba_rules": [rule(1, "local", method="trust")]}, pg_hba_local_trust_roles_allowed=["backup", "postgres"])
    assert everyone.status is Status.FAIL and "for every role" in everyone.message
    host = evaluate(pg.pg_hba_trust, {"postgres.hba_rules": [rule(1, "host", "127.0.0.1", "255.255.255.255", "trust", users=["backup"])]}, pg_hba_local_trust_roles_allowed=["backup"])
    assert host.status is Status.FAIL  # the parameter is for unix sockets only


def test_role_tls_follows_groups_and_first_match() -> None:
    roles = [
        {"role": "alice", "superuser": False, "login": True, "member_of": ["staff"]},
        {"role": "bob", "superuser": False, "login": True, "member_of": ["ops"]},
        {"role": "ops", "superuser": False, "login": False, "member_of": ["staff"]},  # bob is in staff through ops
        {"role": "carol", "superuser": False, "login": True, "member_of": []},
        {"role": "staff", "superuser": False, "login": False, "member_of": []},
        {"role": "svc", "superuser": False, "login": True, "member_of": []},
    ]
    rules = [
        rule(1, "hostssl", "10.0.0.0", "255.0.0.0", users=["all"]),
        rule(2, "host", "10.1.0.0", "255.255.0.0", users=["+staff"]),
        rule(3, "hostssl", "10.2.0.0", "255.255.0.0", users=["carol"]),
        rule(4, "host", "127.0.0.1", "255.255.255.255", users=["all"]),  # loopback: not the network
        rule(5, "host", "0.0.0.0", "0.0.0.0", "reject"),
        rule(6, "host", "192.168.0.0", "255.255.0.0", users=["svc"]),  # shadowed by line 5
        rule(7, "hostnossl", "fd00::", "ff00::", users=["carol", "nosuchrole"]),
    ]
    out = evaluate(pg.pg_role_tls, {"postgres.hba_rules": rules, "postgres.roles": roles})
    assert out.status is Status.FAIL
    assert out.details["roles_without_tls"] == [
        {"role": "alice", "lines": ["line 2 (host 10.1.0.0/16 scram-sha-256)"]},
        {"role": "bob", "lines": ["line 2 (host 10.1.0.0/16 scram-sha-256)"]},
        {"role": "carol", "lines": ["line 7 (hostnossl fd00::/8 scram-sha-256)"]},
    ]
    assert out.message.startswith("3 of 4 login role(s) can connect over the network without TLS: alice (by line 2 (host 10.1.0.0/16 scram-sha-256)); ")
    safe = evaluate(pg.pg_role_tls, {"postgres.hba_rules": [rules[0], rules[3], rules[4], rules[5]], "postgres.roles": roles})
    assert (safe.status, safe.message) == (Status.PASS, "None of the 4 login role(s) can connect over the network without TLS")
    regex = evaluate(pg.pg_role_tls, {"postgres.hba_rules": [rule(1, "host", "10.0.0.0", "255.0.0.0", users=["/^app"])], "postgres.roles": roles})
    assert (regex.status, regex.reason) == (Status.ERROR, "incomplete_evidence")


def test_unparseable_hba_line_is_an_error_not_a_verdict() -> None:
    rules = [rule(1, "host", "10.0.0.0", "255.0.0.0", "trust"), rule(2, None, method=None, error='invalid authentication method "trusty"')]
    for control in (pg.pg_hba_hostssl, pg.pg_hba_trust, pg.pg_hba_open, pg.pg_role_tls):
        out = evaluate(control, {"postgres.hba_rules": rules, "postgres.roles": []})
        assert (out.status, out.reason) == (Status.ERROR, "incomplete_evidence")
        assert 'line 2: invalid authentication method "trusty"' in out.message


def test_only_local_rules_pass_hostssl() -> None:
    out = evaluate(pg.pg_hba_hostssl, {"postgres.hba_rules": [rule(1, "local", method="peer"), rule(2, "host", "127.0.0.1", "255.255.255.255")]})
    assert (out.status, out.message) == (Status.PASS, "pg_hba accepts no non-local connection at all (local and loopback rules only)")


@pytest.mark.parametrize(
    "value, allowed, status, reason",
    [
        ("localhost", None, Status.PASS, None),
        ("127.0.0.1, 10.1.2.3", None, Status.PASS, None),
        ("*", None, Status.FAIL, None),
        ("0.0.0.0", None, Status.FAIL, None),
        ("::", None, Status.FAIL, None),
        ("198.51.100.7", None, Status.FAIL, None),
        ("*", ["*"], Status.PASS, None),
        ("db.internal", None, Status.ERROR, "config_error"),
        ("db.internal", ["db.internal"], Status.PASS, None),
        ("", None, Status.PASS, None),
        ("127.0.0.1", ["localhost"], Status.FAIL, None),
    ],
)
def test_listen_addresses(value: str, allowed: list[str] | None, status: Status, reason: str | None) -> None:
    facts = {"postgres.settings": {"settings": {"listen_addresses": value}}}
    out = evaluate(pg.pg_listen_addresses, facts, **({"db_listen_addresses_allowed": allowed} if allowed else {}))
    assert (out.status, out.reason) == (status, reason)


def test_password_encryption_overrides_count() -> None:
    base = {"settings": {"password_encryption": "scram-sha-256"}, "password_encryption_overrides": [{"role": "app", "database": "(every database)", "value": "md5"}]}
    out = evaluate(pg.pg_password_encryption, {"postgres.settings": base})
    assert out.status is Status.FAIL
    assert out.message == "overridden to md5 for role app in (every database); it must be scram-sha-256"


def test_role_passwords_on_recorded_roles() -> None:
    roles = [
        {"role": "a", "login": True, "scheme": "scram-sha-256"},
        {"role": "b", "login": True, "scheme": "md5"},
        {"role": "peer_only", "login": True, "scheme": "none"},
        {"role": "c", "login": False, "scheme": "plaintext"},
    ]
    out = evaluate(pg.pg_role_passwords, {"postgres.role_passwords": roles})
    assert out.details["weak"] == [{"role": "b", "scheme": "md5"}]  # a role without a password is not a hashing failure
    assert out.details["login_roles_without_password"] == ["peer_only"]
    assert out.details["nologin_with_weak_password"] == ["c"]


def test_roles_without_a_password_are_listed_not_judged() -> None:
    roles = [{"role": "app", "login": True, "scheme": "scram-sha-256"}, {"role": "postgres", "login": True, "scheme": "none"}]
    out = evaluate(pg.pg_role_passwords, {"postgres.role_passwords": roles})
    assert out.status is Status.PASS
    assert out.message == ("All 1 login role(s) with a password store it as SCRAM-SHA-256; "
                           "1 login role(s) have no stored password and cannot log in with one: postgres")
    only = evaluate(pg.pg_role_passwords, {"postgres.role_passwords": roles[1:]})
    assert only.status is Status.PASS and only.message.startswith("No login role has a stored password (1 login role(s)")


# -- real clusters ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_runs(pg_rig, tmp_path_factory) -> dict[str, Any]:
    """One audit of both clusters (default policy), shared by the verdict tests below."""
    folder = tmp_path_factory.mktemp("pg")
    inv = inventory(
        str(folder / "inventory.yaml"),
        pg_entry("pg-weak", pg_rig.weak),
        pg_entry("pg-strong", pg_rig.strong, tls_ca=pg_rig.certs.ca),
    )
    return {"inventory": inv, "run": audit(inv, only=PG_CONTROLS)}


@pytest.mark.integration
def test_every_control_on_both_clusters(pg_runs) -> None:
    got = statuses(pg_runs["run"])
    # The test clusters listen on loopback only (tests never bind other addresses), which the default
    # policy accepts: a listen address outside the policy is shown with a strict policy below.
    assert {c: got[(c, WEAK)] for c in PG_CONTROLS} == {c: "pass" if c == "ACCESS-PG-LISTEN-ADDRESSES" else "fail" for c in PG_CONTROLS}
    assert {c: got[(c, STRONG)] for c in PG_CONTROLS} == {c: "pass" for c in PG_CONTROLS}


@pytest.mark.integration
def test_every_planted_role_gets_its_verdict(pg_runs) -> None:
    found = verdicts(pg_runs["run"])
    roles = found[("PWHASH-PG-ROLE-PASSWORDS", WEAK)]
    assert roles.details["weak"] == [
        {"role": "app_md5", "scheme": "md5"},
        {"role": "app_plain", "scheme": "plaintext"},
    ]
    # app_nopass (a peer-only role) cannot log in with a password at all: listed, not a hashing failure
    assert roles.message == ("2 login role(s) have a password not stored as SCRAM-SHA-256: app_md5 (md5), app_plain (stored in plaintext); "
                             "1 login role(s) have no stored password and cannot log in with one: app_nopass")
    assert roles.details["login_roles_without_password"] == ["app_nopass"]
    # app_scram, dba_super, postgres and the audit accounts are SCRAM; a NOLOGIN role's md5 is reported, not failed.
    assert roles.details["schemes"] == {"md5": 1, "none": 1, "plaintext": 1, "scram-sha-256": 5}
    assert roles.details["nologin_with_weak_password"] == ["old_md5_nologin"]
    supers = found[("ACCESS-PG-SUPERUSERS", WEAK)]
    assert supers.details["unexpected"] == ["dba_super"]
    assert supers.details["login_superusers"] == ["dba_super", "postgres"]
    assert supers.details["nologin_superusers"] == ["super_nologin"]
    strong = found[("PWHASH-PG-ROLE-PASSWORDS", STRONG)]
    assert strong.message == "All 3 login role(s) with a password store it as SCRAM-SHA-256"
    assert strong.details["nologin_with_weak_password"] == ["old_md5_nologin"]
    assert found[("ACCESS-PG-SUPERUSERS", STRONG)].message == "Superusers that can log in: postgres; all expected"


@pytest.mark.integration
def test_every_planted_hba_line_gets_its_verdict(pg_runs) -> None:
    found = verdicts(pg_runs["run"])
    flagged = {
        "TLS-PG-HBA-HOSTSSL": set(found[("TLS-PG-HBA-HOSTSSL", WEAK)].details["lines"]),
        "ACCESS-PG-HBA-TRUST": set(found[("ACCESS-PG-HBA-TRUST", WEAK)].details["lines"]),
        "ACCESS-PG-HBA-OPEN": set(found[("ACCESS-PG-HBA-OPEN", WEAK)].details["lines"]),
    }
    expected = {  # line -> the controls that must flag it (and no other)
        "local_peer": set(), "local_trust": {"ACCESS-PG-HBA-TRUST"}, "loopback_host": set(), "loopback6_trust": {"ACCESS-PG-HBA-TRUST"}, "hostssl_private": set(),
        "host_private": {"TLS-PG-HBA-HOSTSSL"}, "hostnossl": {"TLS-PG-HBA-HOSTSSL"}, "hostssl_trust": {"ACCESS-PG-HBA-TRUST"},
        "hostssl_any4": {"ACCESS-PG-HBA-OPEN"}, "hostssl_any6": {"ACCESS-PG-HBA-OPEN"}, "host_any_reject": set(), "hostssl_samenet": set(),
        "host_netmask_trust": set(), "hostssl_all": {"ACCESS-PG-HBA-OPEN"}, "hostssl_localhost_trust": set(),  # both shadowed: see below
    }
    assert set(expected) == set(PG_HBA_LINES)
    for name, line in PG_HBA_LINES.items():
        assert {c for c, lines in flagged.items() if line in lines} == expected[name], f"pg_hba line {line} ({name})"
    trust = found[("ACCESS-PG-HBA-TRUST", WEAK)]
    # First match decides: line 14 comes after 'host all all 0.0.0.0/0 reject', line 16 after 'hostssl all all all'.
    assert trust.details["unreachable"] == [
        "line 14 (host 192.168.0.0/16 trust): unreachable, every connection it could match is decided by line 12 first",
        "line 16 (hostssl localhost trust): unreachable, every connection it could match is decided by line 15 first",
    ]
    for control in ("TLS-PG-HBA-HOSTSSL", "ACCESS-PG-HBA-OPEN"):
        assert found[(control, WEAK)].details["unreachable"] == trust.details["unreachable"]
    assert trust.message.startswith("3 pg_hba rule(s) let clients in without any authentication (trust): line 3 (local trust) for every role, line 5 (host ::1/128 trust) for every role, ")
    # ssl is off in the weak cluster: PostgreSQL warns about every hostssl line, and the warnings are kept.
    assert {w["line"] for w in trust.details["warnings"]} == {6, 9, 10, 11, 13, 15, 16}
    assert found[("TLS-PG-HBA-HOSTSSL", STRONG)].message == "All 1 pg_hba rule(s) for non-local connections require TLS (hostssl)"


@pytest.mark.integration
def test_every_login_role_reached_without_tls_is_named(pg_runs) -> None:
    found = verdicts(pg_runs["run"])
    weak = found[("TLS-PG-ROLE-TLS", WEAK)]
    reached = {r["role"]: r["lines"] for r in weak.details["roles_without_tls"]}
    login = ["app_md5", "app_nopass", "app_plain", "app_scram", "auditor", "auditor_nogrant", "dba_super", "postgres"]
    assert sorted(reached) == login  # 'all' on lines 7 and 8; line 14 (host trust) is shadowed and adds nothing
    assert reached["app_md5"] == ["line 7 (host 10.2.0.0/16 scram-sha-256)", "line 8 (hostnossl 10.3.0.0/16 md5)"]
    assert weak.message.startswith("8 of 8 login role(s) can connect over the network without TLS: app_md5 (by line 7 (host 10.2.0.0/16 scram-sha-256), line 8 (hostnossl 10.3.0.0/16 md5)); ")
    assert found[("TLS-PG-ROLE-TLS", STRONG)].message == "None of the 3 login role(s) can connect over the network without TLS"


@pytest.mark.integration
def test_first_match_trust_and_roles_on_a_real_pg_hba(pg_rig, tmp_path: Path) -> None:
    """pg_hba_file_rules reads the file on disk: a second pg_hba.conf is judged without reloading the server (and put back after)."""
    hba = """\
local     all          postgres                    peer
local     all          app_nopass                  trust
local     all          all                         trust
host      all          all        127.0.0.1/32     trust
host      all          app_md5    127.0.0.1/32     scram-sha-256
hostssl   all          +staff     10.5.0.0/16      trust
host      all          +staff     10.5.0.0/16      scram-sha-256
host      all          app_md5    10.5.1.0/24      md5
host      replication  all        10.6.0.0/16      scram-sha-256
host      all          all        10.6.0.0/16      trust
host      all          all        10.7.0.0/16      scram-sha-256
host      all          all        10.7.1.0/24      trust
host      all          all        all              reject
hostnossl all          all        192.0.2.0/24     trust
"""
    path = Path(pg_rig.weak.data) / "pg_hba.conf"
    original = path.read_text(encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text("id: p\ntitle: P\nextends: baseline-eu\nparameters:\n  pg_hba_local_trust_roles_allowed: [app_nopass]\n", encoding="utf-8")
    inv = inventory(str(tmp_path / "inventory.yaml"), pg_entry("pg-weak", pg_rig.weak))
    pg_rig.weak.write_hba(hba)
    try:
        run = audit(inv, policy=str(policy), only=["ACCESS-PG-HBA-TRUST", "TLS-PG-ROLE-TLS", "TLS-PG-HBA-HOSTSSL"])
        default = audit(inv, only=["ACCESS-PG-HBA-TRUST"])
    finally:
        pg_rig.weak.write_hba(original)
    found = verdicts(run)
    trust = found[("ACCESS-PG-HBA-TRUST", WEAK)]
    # 3: local for every role; 4: loopback host; 6: hostssl; 10: not shadowed by the replication line 9. Line 2 is accepted by the policy.
    assert (trust.status.value, trust.details["lines"]) == ("fail", [3, 4, 6, 10])
    assert trust.details["accepted_local_trust"] == ["line 2 (local trust)"]
    assert trust.details["unreachable"] == [
        "line 5 (host 127.0.0.1/32 scram-sha-256): unreachable, every connection it could match is decided by line 4 first",
        "line 12 (host 10.7.1.0/24 trust): unreachable, every connection it could match is decided by line 11 first",
        "line 14 (hostnossl 192.0.2.0/24 trust): unreachable, every connection it could match is decided by line 13 first",
    ]
    # Line 8 may or may not be shadowed by '+staff' on line 7 (app_md5 is a member): not claimed, so it is judged.
    assert verdicts(default)[("ACCESS-PG-HBA-TRUST", WEAK)].details["lines"] == [2, 3, 4, 6, 10]  # default policy: no local trust accepted
    roles = {r["role"]: r["lines"] for r in found[("TLS-PG-ROLE-TLS", WEAK)].details["roles_without_tls"]}
    assert roles["app_md5"] == ["line 7 (host 10.5.0.0/16 scram-sha-256)", "line 8 (host 10.5.1.0/24 md5)", "line 9 (host 10.6.0.0/16 scram-sha-256)",
                                "line 10 (host 10.6.0.0/16 trust)", "line 11 (host 10.7.0.0/16 scram-sha-256)"]
    assert roles["app_plain"][0] == "line 7 (host 10.5.0.0/16 scram-sha-256)"  # a member of staff through ops
    assert "line 7 (host 10.5.0.0/16 scram-sha-256)" not in roles["app_scram"]  # not in staff
    assert set(roles) == {"app_md5", "app_nopass", "app_plain", "app_scram", "auditor", "auditor_nogrant", "dba_super", "postgres"}


@pytest.mark.integration
def test_settings_verdicts(pg_runs) -> None:
    found = verdicts(pg_runs["run"])
    assert found[("PWHASH-PG-PASSWORD-ENCRYPTION", WEAK)].message == "password_encryption is md5; overridden to md5 for role app_scram in (every database); it must be scram-sha-256"
    assert found[("PWHASH-PG-PASSWORD-ENCRYPTION", STRONG)].message == "password_encryption is scram-sha-256 (and 1 override(s) too)"
    assert found[("TLS-PG-SSL", WEAK)].message == "ssl is off: the server cannot encrypt connections"
    strong_ssl = found[("TLS-PG-SSL", STRONG)]
    assert strong_ssl.message.startswith("ssl is on; the audit session itself used TLSv1.")
    assert found[("ACCESS-PG-LISTEN-ADDRESSES", STRONG)].message == "The server listens only on 127.0.0.1, within the policy"


@pytest.mark.integration
def test_evidence_names_the_privilege_of_each_query(pg_runs) -> None:
    facts = {f.id: f for f in pg_runs["run"].facts}
    needs = {name: [e.excerpt.splitlines()[0] for e in facts[f"{STRONG}/{name}"].evidence] for name in ("postgres.settings", "postgres.roles", "postgres.role_passwords", "postgres.hba_rules")}
    assert needs["postgres.role_passwords"] == ["-- needs: " + pg.PRIV_AUTHID]
    assert needs["postgres.hba_rules"] == ["-- needs: " + pg.PRIV_HBA]
    assert needs["postgres.settings"] == ["-- needs: " + pg.PRIV_ANY] * 2
    session = facts[f"{STRONG}/postgres.settings"].evidence[0].excerpt.splitlines()[1]
    assert "as 'auditor'" in session and "certificate verified against tls_ca" in session and session.endswith("read-only")
    for f in facts.values():
        for e in f.evidence:
            assert e.kind == "query"


@pytest.mark.integration
def test_listen_address_outside_a_strict_policy(pg_rig, tmp_path: Path) -> None:
    policy = tmp_path / "strict.yaml"
    policy.write_text("id: strict\ntitle: Strict\nextends: baseline-eu\nparameters:\n  db_listen_addresses_allowed: [localhost]\n", encoding="utf-8")
    inv = inventory(str(tmp_path / "inventory.yaml"), pg_entry("pg-weak", pg_rig.weak))
    finding = verdicts(audit(inv, policy=str(policy), only=["ACCESS-PG-LISTEN-ADDRESSES"]))[("ACCESS-PG-LISTEN-ADDRESSES", WEAK)]
    assert finding.status.value == "fail"
    assert finding.details["outside"] == ["127.0.0.1"]


@pytest.mark.integration
def test_policy_can_accept_what_the_defaults_flag(pg_rig, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "id: lenient\ntitle: Lenient\nextends: baseline-eu\nparameters:\n"
        "  pg_hba_open_to_all_allowed: true\n  pg_superusers_allowed: [postgres, dba_super]\n"
        "  pg_roles_without_password_allowed: [app_nopass]\n  db_listen_addresses_allowed: ['*']\n",
        encoding="utf-8",
    )
    inv = inventory(str(tmp_path / "inventory.yaml"), pg_entry("pg-weak", pg_rig.weak))
    run = audit(inv, policy=str(policy), only=PG_CONTROLS)
    got = statuses(run)
    assert got[("ACCESS-PG-HBA-OPEN", WEAK)] == "pass"
    assert got[("ACCESS-PG-SUPERUSERS", WEAK)] == "pass"
    assert got[("ACCESS-PG-LISTEN-ADDRESSES", WEAK)] == "pass"
    roles = verdicts(run)[("PWHASH-PG-ROLE-PASSWORDS", WEAK)]
    assert roles.details["weak"] == [{"role": "app_md5", "scheme": "md5"}, {"role": "app_plain", "scheme": "plaintext"}]
    assert roles.details["login_roles_without_password"] == ["app_nopass"]  # the old parameter still loads; it decides nothing now
