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
    "TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", "TLS-MYSQL-SSL",
]
WEAK, STRONG = "database:my-weak", "database:my-strong"
DEFAULTS = {"mysql_auth_plugins_allowed": my.MYSQL_AUTH_PLUGINS_ALLOWED.default, "db_listen_addresses_allowed": my.DB_LISTEN_ADDRESSES_ALLOWED.default}


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
    columns = ("Host", "User", "Select_priv", "Insert_priv", "Super_priv", "plugin", "authentication_string", "account_locked")
    rows = [
        ("%", "app", "N", "N", "N", "caching_sha2_password", "$A$005$" + "x" * 60, "N"),
        ("%", "dba", "Y", "Y", "Y", "mysql_native_password", "*0D3CED9BEC10A777AEC23CCC353A8C08A633045E", "N"),
        ("localhost", "mysql.sys", "N", "N", "N", "caching_sha2_password", "$A$005$THISISACOMBINATIONOFINVALIDSALTANDPASSWORDTHATMUSTNEVERBRBEUSED", "Y"),
        ("localhost", "blank", "N", "N", "N", "caching_sha2_password", "", "N"),
    ]
    accounts = my._user_table_accounts(result(columns, rows))
    facts = {"mysql.accounts": accounts}
    plugins = my.mysql_auth_plugins.evaluate(facts, DEFAULTS, None)
    assert (plugins.status, plugins.details["weak"]) == (Status.FAIL, [{"account": "dba@%", "plugin": "mysql_native_password"}])
    wild = my.mysql_wildcard_hosts.evaluate(facts, DEFAULTS, None)
    assert wild.details["offenders"] == [{"account": "dba@%", "global_privileges": ["SELECT", "INSERT", "SUPER"]}]
    empty = my.mysql_empty_passwords.evaluate(facts, DEFAULTS, None)
    assert empty.details["accounts"] == ["blank@localhost"]
    assert "$A$005$" not in json.dumps(accounts)


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
    flagged = {
        "PWHASH-MYSQL-AUTH-PLUGINS": {w["account"] for w in plugins.details["weak"]},
        "PWHASH-MYSQL-EMPTY-PASSWORDS": set(empty.details["accounts"]),
        "ACCESS-MYSQL-WILDCARD-HOSTS": {o["account"] for o in wild.details["offenders"]},
    }
    expected = {
        "native@localhost": {"PWHASH-MYSQL-AUTH-PLUGINS"},
        "empty_native@localhost": {"PWHASH-MYSQL-AUTH-PLUGINS", "PWHASH-MYSQL-EMPTY-PASSWORDS"},
        "ed@localhost": set(),
        "ed_empty@localhost": {"PWHASH-MYSQL-EMPTY-PASSWORDS"},
        "sha2@localhost": set(),  # caching_sha2_password is accepted (planted in the grant table: MariaDB has no such server plugin)
        "socket_user@localhost": set(),
        "wild_admin@%": {"ACCESS-MYSQL-WILDCARD-HOSTS"},
        "wild_app@%": set(),
        "net_admin@10.0.0.%": set(),
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
    assert plugins.details["password_plugins"] == {"caching_sha2_password": 1, "ed25519": 8, "mysql_native_password": 3}
    assert empty.details["locked_with_empty_password"] == ["mariadb.sys@localhost"]
    assert wild.details["offenders"] == [{"account": "wild_admin@%", "global_privileges": ["SELECT", "RELOAD", "PROCESS"]}]
    assert wild.details["wildcard_accounts"] == ["wild_admin@%", "wild_app@%"]
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
    assert statuses(run) == {("TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", STRONG): "fail", ("TLS-MYSQL-SSL", STRONG): "pass"}


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
def test_bind_address_outside_a_strict_policy(maria_rig, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("id: strict\ntitle: Strict\nextends: baseline-eu\nparameters:\n  db_listen_addresses_allowed: [localhost]\n  mysql_auth_plugins_allowed: [ed25519, caching_sha2_password, mysql_native_password]\n", encoding="utf-8")
    inv = inventory(str(tmp_path / "inventory.yaml"), my_entry("my-weak", maria_rig.weak))
    run = audit(inv, policy=str(policy), only=["ACCESS-MYSQL-BIND-ADDRESS", "PWHASH-MYSQL-AUTH-PLUGINS"])
    found = verdicts(run)
    assert found[("ACCESS-MYSQL-BIND-ADDRESS", WEAK)].message == "bind_address ('127.0.0.1') includes 127.0.0.1, outside the addresses the policy allows (localhost)"
    assert found[("PWHASH-MYSQL-AUTH-PLUGINS", WEAK)].status.value == "pass"
