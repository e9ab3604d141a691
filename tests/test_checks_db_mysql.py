"""checks/db_mysql.py: MySQL/MariaDB authentication plugins, empty passwords, wildcard hosts, required TLS.

Evaluators and parsers first, on recorded rows (including MySQL 8's
``mysql.user``, which the rig cannot run: Debian ships MariaDB only); then
two real MariaDB servers from the rig, audited through the real runner with
the README's audit account. Every planted account is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.model import Status
from auditor.transports.db import QueryResult
from checks import db_mysql as my
from db_rig import MY_WEAK_ACCOUNTS, inventory, maria_rig, my_entry  # noqa: F401 - fixture
from helpers import audit, statuses, verdicts

MY_CONTROLS = [
    "PWHASH-MYSQL-AUTH-PLUGINS", "PWHASH-MYSQL-EMPTY-PASSWORDS", "ACCESS-MYSQL-WILDCARD-HOSTS", "ACCESS-MYSQL-BIND-ADDRESS",
    "TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", "TLS-MYSQL-ACCOUNT-TLS", "TLS-MYSQL-SSL",
]
WEAK, STRONG = "database:my-weak", "database:my-strong"
DEFAULTS = {"mysql_auth_plugins_allowed": my.MYSQL_AUTH_PLUGINS_ALLOWED.default, "db_listen_addresses_allowed": my.DB_LISTEN_ADDRESSES_ALLOWED.default,
            "mysql_wildcard_accounts_allowed": []}


def result(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> QueryResult:
    return QueryResult("SELECT ...", columns, tuple(rows), False, "2026-01-01T00:00:00Z", 1)


# -- parsers and evaluators on recorded rows -------------------------------------------------


@pytest.mark.parametrize(
    "plugin, auth, state",
    [
        ("mysql_native_password", "*0D3CED9BEC10A777AEC23CCC353A8C08A633045E", "set"),
        ("mysql_native_password", "", "empty"),
        ("mysql_native_password", "invalid", "invalid"),
        ("caching_sha2_password", "$A$005$salt", "set"),
        ("caching_sha2_password", "", "empty"),
        ("ed25519", "Gv2JI8Env2fd5YGonZ082tX3UAW+yJYldOlj4R1bfK4", "set"),
        ("ed25519", "", "empty"),
        ("unix_socket", "", "none"),
        ("auth_socket", "", "none"),
        ("some_vendor_plugin", "", "none"),
        ("some_vendor_plugin", "opaque", "set"),
    ],
)
def test_password_state(plugin: str, auth: str, state: str) -> None:
    assert my.password_state(plugin, auth) == state


def test_global_priv_rows_keep_no_hash() -> None:
    rows = [
        ("root", "localhost", '{"access":18446744073709551615,"plugin":"mysql_native_password","authentication_string":"invalid","auth_or":[{},{"plugin":"unix_socket"}]}'),
        ("either", "localhost", '{"access":65,"plugin":"mysql_native_password","authentication_string":"*7446F64EFCFB1294A6DE20CAE7E49C2377A9AA25","auth_or":[{"plugin":"ed25519","authentication_string":"Gv2JI8Env2fd5YGonZ082tX3UAW+yJYldOlj4R1bfK4"},{}]}'),
        ("r1", "", '{"access":1,"is_role":true}'),
    ]
    accounts = my._global_priv_accounts(result(("User", "Host", "Priv"), rows))
    assert accounts[0]["methods"] == [{"plugin": "mysql_native_password", "password": "invalid"}, {"plugin": "unix_socket", "password": "none"}]
    assert len(accounts[0]["global_privileges"]) == 64
    assert accounts[1]["methods"] == [{"plugin": "ed25519", "password": "set"}, {"plugin": "mysql_native_password", "password": "set"}]
    assert accounts[1]["global_privileges"] == ["SELECT", "RELOAD"]
    assert accounts[2]["role"] is True
    dumped = json.dumps(accounts)
    assert "7446F64E" not in dumped and "Gv2JI8" not in dumped


def test_mysql8_user_table_rows() -> None:
    """MySQL 8 keeps accounts in mysql.user with plugin, authentication_string, account_locked and *_priv columns."""
    columns = ("Host", "User", "Select_priv", "Insert_priv", "Super_priv", "ssl_type", "x509_issuer", "x509_subject", "plugin", "authentication_string", "account_locked")
    rows = [
        ("%", "app", "N", "N", "N", "ANY", b"", b"", "caching_sha2_password", "$A$005$" + "x" * 60, "N"),
        ("%", "dba", "Y", "Y", "Y", "", b"", b"", "mysql_native_password", "*0D3CED9BEC10A777AEC23CCC353A8C08A633045E", "N"),
        ("localhost", "mysql.sys", "N", "N", "N", "", b"", b"", "caching_sha2_password", "$A$005$THISISACOMBINATIONOFINVALIDSALTANDPASSWORDTHATMUSTNEVERBRBEUSED", "Y"),
        ("localhost", "blank", "N", "N", "N", "", b"", b"", "caching_sha2_password", "", "N"),
        ("db1.example.se", "x509", "N", "N", "N", "X509", b"", b"", "caching_sha2_password", "$A$005$" + "y" * 60, "N"),
        ("10.0.0.5", "subj", "N", "N", "N", "SPECIFIED", b"", b"/CN=subj", "caching_sha2_password", "$A$005$" + "z" * 60, "N"),
    ]
    accounts = my._user_table_accounts(result(columns, rows))
    assert [a["tls_required"] for a in accounts] == ["SSL", None, None, None, "X509", "SUBJECT"]
    facts = {"mysql.accounts": accounts, "mysql.variables": {"variables": {"require_secure_transport": "OFF"}}}
    plugins = my.mysql_auth_plugins.evaluate(facts, DEFAULTS, None)
    assert (plugins.status, plugins.details["weak"]) == (Status.FAIL, [{"account": "dba@%", "plugin": "mysql_native_password"}])
    wild = my.mysql_wildcard_hosts.evaluate(facts, DEFAULTS, None)
    assert wild.details["offenders"] == [
        {"account": "app@%", "why": "any host", "global_privileges": []},
        {"account": "dba@%", "why": "any host", "global_privileges": ["SELECT", "INSERT", "SUPER"]},
    ]
    tls = my.mysql_account_tls.evaluate(facts, DEFAULTS, None)
    assert (tls.status, tls.details["accounts"]) == (Status.FAIL, ["dba@%"])
    assert tls.details["network_accounts"] == [
        {"account": "app@%", "tls_required": "SSL"}, {"account": "dba@%", "tls_required": None},
        {"account": "x509@db1.example.se", "tls_required": "X509"}, {"account": "subj@10.0.0.5", "tls_required": "SUBJECT"},
    ]
    assert tls.details["loopback_only"] == ["blank@localhost"]
    empty = my.mysql_empty_passwords.evaluate(facts, DEFAULTS, None)
    assert empty.details["accounts"] == ["blank@localhost"]
    assert "$A$005$" not in json.dumps(accounts)


def _account(user: str, host: str, plugin: str = "ed25519", password: str = "set", locked: bool = False, tls: str | None = None, privileges: list[str] | None = None) -> dict[str, Any]:
    return {"account": f"{user}@{host}", "user": user, "host": host, "role": False, "locked": locked, "methods": [{"plugin": plugin, "password": password}],
            "global_privileges": privileges or [], "tls_required": tls}


def test_wildcard_hosts_and_anonymous_accounts_fail_whatever_their_grants() -> None:
    accounts = [
        _account("app", "%"), _account("app", "10.%"), _account("app", "%.example.se"), _account("app", "10.0.0._"),
        _account("app", "10.0.0.0/255.255.255.0"), _account("", "localhost", password="empty"), _account("replica", "10.0.0.%"),
        _account("app", "db1.example.se"), _account("app", "10.0.0.7"), _account("old", "%", locked=True),
    ]
    out = my.mysql_wildcard_hosts.evaluate({"mysql.accounts": accounts}, DEFAULTS, None)
    assert out.status is Status.FAIL
    assert [o["account"] for o in out.details["offenders"]] == ["app@%", "app@10.%", "app@%.example.se", "app@10.0.0._", "app@10.0.0.0/255.255.255.0", "@localhost", "replica@10.0.0.%"]
    assert out.details["offenders"][5]["why"] == "anonymous (any user name)"
    assert out.details["locked_wildcard_accounts"] == ["old@%"]
    allowed = [a["account"] for a in accounts[:7]]
    ok = my.mysql_wildcard_hosts.evaluate({"mysql.accounts": accounts}, {**DEFAULTS, "mysql_wildcard_accounts_allowed": allowed}, None)
    assert ok.status is Status.PASS and ok.details["accepted"] == allowed


@pytest.mark.parametrize(
    "rst, tls, status",
    [("OFF", None, Status.FAIL), ("OFF", "SSL", Status.PASS), ("OFF", "ISSUER", Status.PASS), (None, None, Status.FAIL), ("ON", None, Status.PASS),
     ("OFF", "unknown ssl_type '7'", Status.ERROR)],
)
def test_account_tls(rst: str | None, tls: str | None, status: Status) -> None:
    accounts = [_account("app", "10.0.0.%", tls=tls), _account("local", "localhost"), _account("sock", "%", plugin="unix_socket", password="none")]
    variables = {"require_secure_transport": rst} if rst else {}
    out = my.mysql_account_tls.evaluate({"mysql.accounts": accounts, "mysql.variables": {"variables": variables}}, DEFAULTS, None)
    assert out.status is status
    assert out.details["network_accounts"] == [{"account": "app@10.0.0.%", "tls_required": tls}]  # socket-only and loopback accounts are not judged


@pytest.mark.parametrize(
    "variables, session_tls, status",
    [
        ({"have_ssl": "YES", "tls_version": "TLSv1.2,TLSv1.3"}, None, Status.PASS),
        ({"have_ssl": "DISABLED"}, None, Status.FAIL),
        ({"ssl_cert": "server-cert.pem"}, "TLSv1.3", Status.PASS),  # MySQL 8.4: no have_ssl
        ({}, None, Status.FAIL),
        ({"ssl_cert": "server-cert.pem"}, None, Status.ERROR),
    ],
)
def test_tls_configured(variables: dict[str, str], session_tls: str | None, status: Status) -> None:
    out = my.mysql_ssl.evaluate({"mysql.variables": {"variables": variables, "session_tls": session_tls}}, DEFAULTS, None)
    assert out.status is status


def test_require_secure_transport_missing_is_a_failure() -> None:
    out = my.mysql_require_secure_transport.evaluate({"mysql.variables": {"variables": {}, "server_version": "10.3.39-MariaDB"}}, DEFAULTS, None)
    assert out.status is Status.FAIL and "has no require_secure_transport" in out.message


@pytest.mark.parametrize("bind, skip, status", [("127.0.0.1", "OFF", Status.PASS), ("*", "OFF", Status.FAIL), ("", "OFF", Status.FAIL), ("0.0.0.0", "ON", Status.PASS), ("::", "OFF", Status.FAIL)])
def test_bind_address(bind: str, skip: str, status: Status) -> None:
    out = my.mysql_bind_address.evaluate({"mysql.variables": {"variables": {"bind_address": bind, "skip_networking": skip}}}, DEFAULTS, None)
    assert out.status is status


# -- real servers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def my_runs(maria_rig, tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("mariadb")
    inv = inventory(
        str(folder / "inventory.yaml"),
        my_entry("my-weak", maria_rig.weak),
        my_entry("my-strong", maria_rig.strong, tls_ca=maria_rig.certs.ca),
    )
    return {"inventory": inv, "run": audit(inv, only=MY_CONTROLS)}


@pytest.mark.integration
def test_every_control_on_both_servers(my_runs) -> None:
    got = statuses(my_runs["run"])
    expected_weak = {c: "fail" for c in MY_CONTROLS} | {"ACCESS-MYSQL-BIND-ADDRESS": "pass"}  # both servers bind 127.0.0.1 only
    assert {c: got[(c, WEAK)] for c in MY_CONTROLS} == expected_weak
    assert {c: got[(c, STRONG)] for c in MY_CONTROLS} == {c: "pass" for c in MY_CONTROLS}


@pytest.mark.integration
def test_every_planted_account_gets_its_verdict(my_runs) -> None:
    found = verdicts(my_runs["run"])
    plugins = found[("PWHASH-MYSQL-AUTH-PLUGINS", WEAK)]
    empty = found[("PWHASH-MYSQL-EMPTY-PASSWORDS", WEAK)]
    wild = found[("ACCESS-MYSQL-WILDCARD-HOSTS", WEAK)]
    tls = found[("TLS-MYSQL-ACCOUNT-TLS", WEAK)]
    flagged = {
        "PWHASH-MYSQL-AUTH-PLUGINS": {w["account"] for w in plugins.details["weak"]},
        "PWHASH-MYSQL-EMPTY-PASSWORDS": set(empty.details["accounts"]),
        "ACCESS-MYSQL-WILDCARD-HOSTS": {o["account"] for o in wild.details["offenders"]},
        "TLS-MYSQL-ACCOUNT-TLS": set(tls.details["accounts"]),
    }
    expected = {
        "native@localhost": {"PWHASH-MYSQL-AUTH-PLUGINS"},
        "empty_native@localhost": {"PWHASH-MYSQL-AUTH-PLUGINS", "PWHASH-MYSQL-EMPTY-PASSWORDS"},
        "ed@localhost": set(),
        "ed_empty@localhost": {"PWHASH-MYSQL-EMPTY-PASSWORDS"},
        "sha2@localhost": set(),  # caching_sha2_password is accepted (planted in the grant table: MariaDB has no such server plugin)
        "socket_user@localhost": set(),
        "wild_admin@%": {"ACCESS-MYSQL-WILDCARD-HOSTS", "TLS-MYSQL-ACCOUNT-TLS"},
        "wild_app@%": {"ACCESS-MYSQL-WILDCARD-HOSTS", "TLS-MYSQL-ACCOUNT-TLS"},  # database privileges only: still a wildcard host (CIS)
        "net_admin@10.0.0.%": {"ACCESS-MYSQL-WILDCARD-HOSTS", "TLS-MYSQL-ACCOUNT-TLS"},
        "tls_app@%": {"ACCESS-MYSQL-WILDCARD-HOSTS"},  # REQUIRE SSL: its own TLS requirement holds
        "x509_app@10.1.%": {"ACCESS-MYSQL-WILDCARD-HOSTS"},
        "issuer_app@%.example.se": {"ACCESS-MYSQL-WILDCARD-HOSTS"},
        "subject_app@db1.example.se": set(),
        "plain_app@192.0.2.7": {"TLS-MYSQL-ACCOUNT-TLS"},
        "under@10.0.0._": {"ACCESS-MYSQL-WILDCARD-HOSTS", "TLS-MYSQL-ACCOUNT-TLS"},
        "@localhost": {"ACCESS-MYSQL-WILDCARD-HOSTS"},  # anonymous; loopback only, so its TLS is not judged
        "locked_native@localhost": set(),  # locked: reported below, never failing
        "either@localhost": {"PWHASH-MYSQL-AUTH-PLUGINS"},  # ed25519 OR mysql_native_password: the weak way in counts
        # MariaDB's own accounts: root/mysql (unix_socket OR native 'invalid'), mariadb.sys (locked, empty)
        "root@localhost": set(), "mysql@localhost": set(), "mariadb.sys@localhost": set(),
        "auditor@127.0.0.1": set(), "auditor_nogrant@127.0.0.1": set(),
    }
    assert set(MY_WEAK_ACCOUNTS) <= set(expected)
    for account, controls in expected.items():
        assert {c for c, accounts in flagged.items() if account in accounts} == controls, account
    assert plugins.details["locked_with_weak_plugin"] == ["locked_native@localhost"]
    assert plugins.details["password_plugins"] == {"caching_sha2_password": 1, "ed25519": 15, "mysql_native_password": 3}
    assert empty.details["locked_with_empty_password"] == ["mariadb.sys@localhost"]
    assert wild.details["offenders"][0] == {"account": "@localhost", "why": "anonymous (any user name)", "global_privileges": []}
    assert {"account": "wild_admin@%", "why": "any host", "global_privileges": ["SELECT", "RELOAD", "PROCESS"]} in wild.details["offenders"]
    assert {"account": "under@10.0.0._", "why": "host pattern '10.0.0._'", "global_privileges": []} in wild.details["offenders"]
    assert wild.message.startswith("8 account(s) log in from a wildcard host or without a user name: @localhost (anonymous (any user name)); ")
    # Each account's own requirement, read from mysql.global_priv's ssl_type (and x509_issuer/x509_subject).
    required = {a["account"]: a["tls_required"] for a in tls.details["network_accounts"]}
    assert {k: required[k] for k in ("tls_app@%", "x509_app@10.1.%", "issuer_app@%.example.se", "subject_app@db1.example.se", "plain_app@192.0.2.7")} == {
        "tls_app@%": "SSL", "x509_app@10.1.%": "X509", "issuer_app@%.example.se": "ISSUER", "subject_app@db1.example.se": "SUBJECT", "plain_app@192.0.2.7": None,
    }
    assert tls.message == (
        "require_secure_transport is OFF and 5 account(s) that log in over the network do not require TLS (no REQUIRE SSL/X509/ISSUER/SUBJECT): "
        "net_admin@10.0.0.%, plain_app@192.0.2.7, under@10.0.0._, wild_admin@%, wild_app@%"
    )
    assert "auditor@127.0.0.1" in tls.details["loopback_only"]
    assert plugins.message == (
        "3 account login method(s) store the password with a plugin the policy does not accept: "
        "either@localhost (mysql_native_password), empty_native@localhost (mysql_native_password), native@localhost (mysql_native_password)"
    )


@pytest.mark.integration
def test_empty_ed25519_password_is_stored_empty(maria_rig) -> None:
    """Why 'empty' is judged on the authentication string for every plugin: MariaDB stores none for PASSWORD('')."""
    assert maria_rig.ed25519_empty == ""


@pytest.mark.integration
def test_tls_verdicts(my_runs) -> None:
    found = verdicts(my_runs["run"])
    assert found[("TLS-MYSQL-SSL", WEAK)].message == "TLS is not configured: have_ssl is DISABLED"
    assert found[("TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", WEAK)].message == "require_secure_transport is OFF: clients may connect without TLS"
    strong = found[("TLS-MYSQL-SSL", STRONG)]
    assert strong.message.startswith("TLS is configured (have_ssl YES") and "the audit session itself used TLSv1." in strong.message
    facts = {f.id: f for f in my_runs["run"].facts}
    session = facts[f"{STRONG}/mysql.variables"].evidence[0].excerpt.splitlines()[1]
    assert "MariaDB 10." in session and "certificate verified against tls_ca" in session


@pytest.mark.integration
def test_require_secure_transport_off_on_a_tls_server(maria_rig, tmp_path: Path) -> None:
    inv = inventory(str(tmp_path / "inventory.yaml"), my_entry("my-strong", maria_rig.strong, tls_ca=maria_rig.certs.ca))
    maria_rig.strong.sql("SET GLOBAL require_secure_transport = OFF")
    try:
        run = audit(inv, only=["TLS-MYSQL-*"])
    finally:
        maria_rig.strong.sql("SET GLOBAL require_secure_transport = ON")
    assert statuses(run) == {("TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", STRONG): "fail", ("TLS-MYSQL-SSL", STRONG): "pass", ("TLS-MYSQL-ACCOUNT-TLS", STRONG): "pass"}
    assert verdicts(run)[("TLS-MYSQL-ACCOUNT-TLS", STRONG)].message == "require_secure_transport is OFF, but no unlocked account logs in over the network (loopback or socket logins only)"


@pytest.mark.integration
def test_evidence_names_the_privilege_and_never_a_hash(my_runs, maria_rig) -> None:
    facts = {f.id: f for f in my_runs["run"].facts}
    ev = facts[f"{WEAK}/mysql.accounts"].evidence[0]
    assert ev.source == my.GLOBAL_PRIV_SQL and ev.redacted
    lines = ev.excerpt.splitlines()
    assert lines[0] == "-- needs: SELECT on mysql.global_priv"
    assert "either@localhost: ed25519 (password set) or mysql_native_password (password set)" in lines
    assert "wild_admin@%: ed25519 (password set), 3 global privilege(s): SELECT, RELOAD, PROCESS" in lines
    stored = [row[0] for row in maria_rig.weak.sql("SELECT JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv") if row[0] and len(row[0]) > 8]
    assert stored, "the weak server has stored authentication strings"
    dumped = json.dumps([{"value": f.value, "evidence": [e.excerpt for e in f.evidence]} for f in facts.values()])
    for value in stored:
        assert value not in dumped
    assert facts[f"{WEAK}/mysql.variables"].evidence[0].excerpt.splitlines()[0] == "-- needs: " + my.PRIV_ANY


@pytest.mark.integration
def test_wildcard_accounts_the_policy_lists_are_accepted(maria_rig, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    accepted = ["@localhost", "issuer_app@%.example.se", "net_admin@10.0.0.%", "tls_app@%", "under@10.0.0._", "wild_admin@%", "wild_app@%", "x509_app@10.1.%"]
    policy.write_text("id: p\ntitle: P\nextends: baseline-eu\nparameters:\n  mysql_wildcard_accounts_allowed: " + json.dumps(accepted) + "\n", encoding="utf-8")
    inv = inventory(str(tmp_path / "inventory.yaml"), my_entry("my-weak", maria_rig.weak))
    finding = verdicts(audit(inv, policy=str(policy), only=["ACCESS-MYSQL-WILDCARD-HOSTS"]))[("ACCESS-MYSQL-WILDCARD-HOSTS", WEAK)]
    assert (finding.status.value, finding.details["accepted"]) == ("pass", accepted)


@pytest.mark.integration
def test_bind_address_outside_a_strict_policy(maria_rig, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("id: strict\ntitle: Strict\nextends: baseline-eu\nparameters:\n  db_listen_addresses_allowed: [localhost]\n  mysql_auth_plugins_allowed: [ed25519, caching_sha2_password, mysql_native_password]\n", encoding="utf-8")
    inv = inventory(str(tmp_path / "inventory.yaml"), my_entry("my-weak", maria_rig.weak))
    run = audit(inv, policy=str(policy), only=["ACCESS-MYSQL-BIND-ADDRESS", "PWHASH-MYSQL-AUTH-PLUGINS"])
    found = verdicts(run)
    assert found[("ACCESS-MYSQL-BIND-ADDRESS", WEAK)].message == "bind_address ('127.0.0.1') includes 127.0.0.1, outside the addresses the policy allows (localhost)"
    assert found[("PWHASH-MYSQL-AUTH-PLUGINS", WEAK)].status.value == "pass"
