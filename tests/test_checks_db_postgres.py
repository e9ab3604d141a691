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
    "PWHASH-PG-PASSWORD-ENCRYPTION", "PWHASH-PG-ROLE-PASSWORDS", "TLS-PG-SSL", "TLS-PG-HBA-HOSTSSL",
    "ACCESS-PG-HBA-TRUST", "ACCESS-PG-HBA-OPEN", "ACCESS-PG-LISTEN-ADDRESSES", "ACCESS-PG-SUPERUSERS",
]
WEAK, STRONG = "database:pg-weak", "database:pg-strong"
DEFAULTS = {"pg_hba_open_to_all_allowed": False, "pg_superusers_allowed": ["postgres"], "pg_roles_without_password_allowed": [],
            "db_listen_addresses_allowed": pg.DB_LISTEN_ADDRESSES_ALLOWED.default}


def rule(line: int, type_: str | None, address: str | None = None, netmask: str | None = None, method: str | None = "scram-sha-256", error: str | None = None) -> dict[str, Any]:
    return {"line_number": line, "file_name": None, "type": type_, "database": ["all"], "user_name": ["all"], "address": address, "netmask": netmask, "auth_method": method, "error": error}


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
    assert (trust.status, trust.details["lines"]) == (Status.FAIL, [8])
    assert trust.details["local_trust_rules"] == ["line 1 (local trust)", "line 2 (host 127.0.0.1/32 trust)"]
    open_ = evaluate(pg.pg_hba_open, facts)
    assert (open_.status, open_.details["lines"]) == (Status.FAIL, [8])
    assert open_.details["rejecting_catch_all"] == ["line 6 (hostnossl 0.0.0.0/0 reject)"]
    assert evaluate(pg.pg_hba_open, facts, pg_hba_open_to_all_allowed=True).status is Status.PASS


def test_unparseable_hba_line_is_an_error_not_a_verdict() -> None:
    rules = [rule(1, "host", "10.0.0.0", "255.0.0.0", "trust"), rule(2, None, method=None, error='invalid authentication method "trusty"')]
    for control in (pg.pg_hba_hostssl, pg.pg_hba_trust, pg.pg_hba_open):
        out = evaluate(control, {"postgres.hba_rules": rules})
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
        "local_peer": set(), "local_trust": set(), "loopback_host": set(), "loopback6_trust": set(), "hostssl_private": set(),
        "host_private": {"TLS-PG-HBA-HOSTSSL"}, "hostnossl": {"TLS-PG-HBA-HOSTSSL"}, "hostssl_trust": {"ACCESS-PG-HBA-TRUST"},
        "hostssl_any4": {"ACCESS-PG-HBA-OPEN"}, "hostssl_any6": {"ACCESS-PG-HBA-OPEN"}, "host_any_reject": set(), "hostssl_samenet": set(),
        "host_netmask_trust": {"TLS-PG-HBA-HOSTSSL", "ACCESS-PG-HBA-TRUST"}, "hostssl_all": {"ACCESS-PG-HBA-OPEN"}, "hostssl_localhost_trust": set(),
    }
    assert set(expected) == set(PG_HBA_LINES)
    for name, line in PG_HBA_LINES.items():
        assert {c for c, lines in flagged.items() if line in lines} == expected[name], f"pg_hba line {line} ({name})"
    trust = found[("ACCESS-PG-HBA-TRUST", WEAK)]
    assert trust.details["local_trust_rules"] == ["line 3 (local trust)", "line 5 (host ::1/128 trust)", "line 16 (hostssl localhost trust)"]
    # ssl is off in the weak cluster: PostgreSQL warns about every hostssl line, and the warnings are kept.
    assert {w["line"] for w in trust.details["warnings"]} == {6, 9, 10, 11, 13, 15, 16}
    assert found[("TLS-PG-HBA-HOSTSSL", STRONG)].message == "All 1 pg_hba rule(s) for non-local connections require TLS (hostssl)"


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
