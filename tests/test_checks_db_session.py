"""The database session (auditor/transports/db.py) and what every database control owes it.

* A wrong password, a missing grant, a refused or silent port, a
  certificate that does not verify: ``error`` with the reason (and, for a
  missing grant, the privilege), never ``pass``.
* The session is read-only, bounded in time, one per target, and a
  collector of the other engine skips without logging in.
* README's minimal grants are exactly what the rig's audit account holds,
  and the audit works through it with no error.
* No planted password hash, password or application value, and not the
  audit account's password, reaches run.json or any rendered report.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from auditor.errors import CollectError
from auditor.model import Reason, Target
from auditor.report import render_files, run_document
from auditor.secrets import SecretRef
from auditor.transports import ConnectOptions, Transports
from auditor.transports.db import DBConnection, open_db
from db_rig import APP_HASHES, AUDIT_USER, ENV, README, inventory, maria_rig, my_entry, pg_entry, pg_rig, readme_grants, refused_port  # noqa: F401 - fixtures
from helpers import audit, statuses, verdicts

PG_CONTROLS = [
    "PWHASH-PG-PASSWORD-ENCRYPTION", "PWHASH-PG-ROLE-PASSWORDS", "TLS-PG-SSL", "TLS-PG-HBA-HOSTSSL",
    "ACCESS-PG-HBA-TRUST", "ACCESS-PG-HBA-OPEN", "ACCESS-PG-LISTEN-ADDRESSES", "ACCESS-PG-SUPERUSERS",
]
MY_CONTROLS = [
    "PWHASH-MYSQL-AUTH-PLUGINS", "PWHASH-MYSQL-EMPTY-PASSWORDS", "ACCESS-MYSQL-WILDCARD-HOSTS", "ACCESS-MYSQL-BIND-ADDRESS",
    "TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", "TLS-MYSQL-SSL",
]
APP = "PWHASH-DB-APP-PASSWORDS"
DB_CONTROLS = [*PG_CONTROLS, *MY_CONTROLS, APP]


def target(engine: str, port: int, *, user: str = AUDIT_USER, password: str = "audit", **settings: Any) -> Target:
    return Target(
        id="database:t", kind="database", name="t",
        settings={"engine": engine, "host": "127.0.0.1", "port": port, "user": user, "password": SecretRef("env", ENV[password]), **settings},
    )


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


# -- connection failures are errors with their reason --------------------------------------------------


@pytest.mark.integration
def test_wrong_password_refused_port_and_bad_certificates(pg_rig, maria_rig, tmp_path: Path) -> None:
    inv = inventory(
        str(tmp_path / "inventory.yaml"),
        pg_entry("pg-wrong", pg_rig.strong, password="wrong", password_columns=["public.users.password_hash"]),
        my_entry("my-wrong", maria_rig.strong, password="wrong", password_columns=["wordpress.wp_users.user_pass"]),
        pg_entry("pg-refused", pg_rig.strong, port=refused_port()),
        {**my_entry("my-refused", maria_rig.strong), "port": refused_port()},
        pg_entry("pg-other-ca", pg_rig.strong, tls_ca=maria_rig.certs.ca),
        my_entry("my-other-ca", maria_rig.strong, tls_ca=pg_rig.certs.ca),
        pg_entry("pg-no-tls", pg_rig.weak, tls_ca=pg_rig.certs.ca),
        my_entry("my-no-tls", maria_rig.weak, tls_ca=maria_rig.certs.ca),
    )
    run = audit(inv, only=DB_CONTROLS)
    expected = {
        "pg-wrong": ("auth_failed", "PostgreSQL refused the login of 'auditor': password authentication failed for user \"auditor\""),
        "my-wrong": ("auth_failed", "the server refused the login of 'auditor': Access denied for user 'auditor'@'127.0.0.1' (using password: YES)"),
        "pg-refused": ("unreachable", "Connection refused"),
        "my-refused": ("unreachable", "Connection refused"),
        "pg-other-ca": ("host_key_rejected", "could not be verified against tls_ca"),
        "my-other-ca": ("host_key_rejected", "could not be verified against tls_ca"),
        "pg-no-tls": ("host_key_rejected", "tls_ca is set but the server offers no TLS"),
        "my-no-tls": ("host_key_rejected", "tls_ca is set but TLS could not be set up"),
    }
    found = verdicts(run)
    for name, (reason, text) in expected.items():
        engine_controls = PG_CONTROLS if name.startswith("pg") else MY_CONTROLS
        other = MY_CONTROLS if name.startswith("pg") else PG_CONTROLS
        for control in engine_controls + ([APP] if name.endswith("wrong") else []):
            f = found[(control, f"database:{name}")]
            assert (f.status.value, f.reason) == ("error", reason), (name, control, f.message)
            assert text in f.message, (name, control, f.message)
        for control in other:  # the other engine's checks skip without logging in
            assert found[(control, f"database:{name}")].status.value == "skipped"
    for ref in ENV.values():
        assert os.environ[ref] not in json.dumps(run_document(run))


@pytest.mark.integration
def test_missing_grants_are_errors_naming_the_privilege(pg_rig, maria_rig, tmp_path: Path) -> None:
    """auditor_nogrant may log in and nothing more: each control that needs a grant says which."""
    inv = inventory(
        str(tmp_path / "inventory.yaml"),
        pg_entry("pg", pg_rig.strong, user="auditor_nogrant", password="nogrant", password_columns=["public.users.password_hash"]),
        my_entry("my", maria_rig.strong, user="auditor_nogrant", password="nogrant", tls_ca=maria_rig.certs.ca, password_columns=["wordpress.wp_users.user_pass"]),
    )
    found = verdicts(audit(inv, only=DB_CONTROLS))
    needs = {
        ("PWHASH-PG-ROLE-PASSWORDS", "pg"): "SELECT on pg_catalog.pg_authid (columns rolname, rolcanlogin, rolpassword)",
        ("TLS-PG-HBA-HOSTSSL", "pg"): "SELECT on pg_catalog.pg_hba_file_rules and EXECUTE on function pg_catalog.pg_hba_file_rules()",
        ("ACCESS-PG-HBA-TRUST", "pg"): "SELECT on pg_catalog.pg_hba_file_rules and EXECUTE on function pg_catalog.pg_hba_file_rules()",
        ("ACCESS-PG-HBA-OPEN", "pg"): "SELECT on pg_catalog.pg_hba_file_rules and EXECUTE on function pg_catalog.pg_hba_file_rules()",
        (APP, "pg"): "SELECT on column password_hash of public.users",
        ("PWHASH-MYSQL-AUTH-PLUGINS", "my"): "SELECT on mysql.global_priv",
        ("PWHASH-MYSQL-EMPTY-PASSWORDS", "my"): "SELECT on mysql.global_priv",
        ("ACCESS-MYSQL-WILDCARD-HOSTS", "my"): "SELECT on mysql.global_priv",
        (APP, "my"): "SELECT on column user_pass of wordpress.wp_users",
    }
    for (control, name), privilege in needs.items():
        f = found[(control, f"database:{name}")]
        assert (f.status.value, f.reason) == ("error", "permission_denied"), (control, name, f.message)
        assert f"it needs {privilege}" in f.message, f.message
        assert "may not run" in f.message
    # What needs no grant is still judged through the same account.
    no_grant_needed = ["PWHASH-PG-PASSWORD-ENCRYPTION", "TLS-PG-SSL", "ACCESS-PG-LISTEN-ADDRESSES", "ACCESS-PG-SUPERUSERS"]
    assert {c: found[(c, "database:pg")].status.value for c in no_grant_needed} == {c: "pass" for c in no_grant_needed}
    no_grant_needed = ["ACCESS-MYSQL-BIND-ADDRESS", "TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", "TLS-MYSQL-SSL"]
    assert {c: found[(c, "database:my")].status.value for c in no_grant_needed} == {c: "pass" for c in no_grant_needed}


@pytest.mark.integration
def test_silent_server_is_a_connect_timeout(silent_port: int) -> None:
    for engine in ("postgresql", "mariadb"):
        conn = DBConnection(target(engine, silent_port), connect_timeout=1.0)
        t0 = time.monotonic()
        with pytest.raises(CollectError) as caught:
            conn.query("SELECT 1", max_rows=1)
        assert caught.value.reason is Reason.TIMEOUT, caught.value.message
        assert "connect timeout" in caught.value.message
        assert time.monotonic() - t0 < 5
        with pytest.raises(CollectError) as again:  # one attempt per run: the failure is remembered
            conn.query("SELECT 1", max_rows=1)
        assert again.value is caught.value


# -- the session itself ---------------------------------------------------------------------------


@pytest.mark.integration
def test_statement_timeout_and_row_bound(pg_rig, maria_rig) -> None:
    for conn, sleep in (
        (DBConnection(target("postgresql", pg_rig.strong.port)), "SELECT pg_sleep(10)"),
        (DBConnection(target("mariadb", maria_rig.strong.port)), "SELECT SLEEP(10)"),
    ):
        try:
            t0 = time.monotonic()
            with pytest.raises(CollectError) as caught:
                conn.query(sleep, max_rows=1, timeout=1.0)
            assert caught.value.reason is Reason.TIMEOUT, caught.value.message
            assert time.monotonic() - t0 < 5
            rows = conn.query("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3", max_rows=2, timeout=5)
            assert (len(rows.rows), rows.truncated) == (2, True)
            assert [s.sql for s in conn.log if s.sql == sleep] == [sleep]  # what ran is kept, failures too
            assert not next(s for s in conn.log if s.sql == sleep).ok
        finally:
            conn.close()


@pytest.mark.integration
def test_sessions_are_read_only_even_for_an_administrator(pg_rig, maria_rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_TEST_DB_ADMIN", pg_rig.strong.superuser_password)
    admin = Target(id="database:a", kind="database", name="a", settings={"engine": "postgresql", "host": "127.0.0.1", "port": pg_rig.strong.port, "user": "postgres", "password": SecretRef("env", "AUDITOR_TEST_DB_ADMIN")})
    conn = DBConnection(admin)
    try:
        with pytest.raises(CollectError) as caught:
            conn.query("CREATE TABLE auditor_was_here (id int)", max_rows=0, timeout=5)
        assert "read-only transaction" in caught.value.message
        assert conn.query("SHOW default_transaction_read_only", max_rows=1, timeout=5).rows == (("on",),)
        assert conn.query("SHOW transaction_read_only", max_rows=1, timeout=5).rows == (("on",),)
    finally:
        conn.close()
    maria_rig.strong.sql(["CREATE USER 'rw_admin'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('Rw-Admin-Pw-1')", "GRANT ALL PRIVILEGES ON *.* TO 'rw_admin'@'127.0.0.1'"])
    monkeypatch.setenv("AUDITOR_TEST_DB_ADMIN", "Rw-Admin-Pw-1")
    conn = DBConnection(Target(id="database:a", kind="database", name="a", settings={"engine": "mariadb", "host": "127.0.0.1", "port": maria_rig.strong.port, "user": "rw_admin", "password": SecretRef("env", "AUDITOR_TEST_DB_ADMIN")}))
    try:
        with pytest.raises(CollectError) as caught:
            conn.query("INSERT INTO wordpress.wp_users (user_login, user_pass) VALUES ('x', 'y')", max_rows=0, timeout=5)
        assert "READ ONLY transaction" in caught.value.message
        assert conn.query("SELECT @@session.tx_read_only", max_rows=1, timeout=5).rows == ((1,),)
    finally:
        conn.close()
        maria_rig.strong.sql("DROP USER 'rw_admin'@'127.0.0.1'")
    assert maria_rig.strong.sql("SELECT COUNT(*) FROM wordpress.wp_users WHERE user_login = 'x'") == [(0,)]


@pytest.mark.integration
def test_one_session_per_target_and_none_for_the_other_engine(pg_rig, maria_rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    for name in ("_connect_postgres", "_connect_mysql"):
        original = getattr(DBConnection, name)

        def spy(self: DBConnection, _original: Any = original) -> Any:
            opened.append(self.target.id)
            return _original(self)

        monkeypatch.setattr(DBConnection, name, spy)
    inv = inventory(
        str(tmp_path / "inventory.yaml"),
        pg_entry("pg", pg_rig.strong, password_columns=["public.users.password_hash"]),
        my_entry("my", maria_rig.strong, password_columns=["wordpress.wp_users.user_pass"]),
    )
    run = audit(inv, only=DB_CONTROLS)
    assert sorted(opened) == ["database:my", "database:pg"]
    assert {f.status.value for f in run.findings if f.target == "database:pg" and f.control in MY_CONTROLS} == {"skipped"}
    assert {f.status.value for f in run.findings if f.target == "database:my" and f.control in PG_CONTROLS} == {"skipped"}


def test_open_db_refuses_what_it_cannot_audit() -> None:
    transports = Transports(ConnectOptions(connect_timeout=3.0))
    with pytest.raises(CollectError) as caught:
        open_db(Target(id="server:s", kind="server", name="s", settings={}), transports)
    assert caught.value.reason is Reason.CONFIG_ERROR
    conn = open_db(target("postgresql", 5432, timeout=7.5), transports)
    assert (conn.transport, conn.connect_timeout, conn.database) == ("db", 7.5, "postgres")
    assert repr(conn) == "DBConnection(postgresql://auditor@127.0.0.1:5432/postgres)"
    assert open_db(target("mysql", 3306), transports).connect_timeout == 3.0
    conn.close()
    with pytest.raises(CollectError) as closed:
        conn.query("SELECT 1", max_rows=1)
    assert closed.value.reason is Reason.INTERRUPTED


# -- README's minimal grants ----------------------------------------------------------------------------


def test_readme_documents_the_minimal_grants_for_both_engines() -> None:
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    section = text.index("## Database audit account (minimal grants)")
    assert section < text.index("## Layout")
    assert readme_grants("postgresql") == [
        "SET password_encryption = 'scram-sha-256'",
        "CREATE ROLE auditor LOGIN PASSWORD 'change-me'",
        "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO auditor",
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO auditor",
        "GRANT SELECT (rolname, rolcanlogin, rolpassword) ON pg_catalog.pg_authid TO auditor",
        "GRANT SELECT (password_hash) ON public.users TO auditor",
    ]
    assert readme_grants("mariadb") == [
        "CREATE USER 'auditor'@'192.0.2.10' IDENTIFIED VIA ed25519 USING PASSWORD('change-me')",
        "GRANT SELECT ON mysql.global_priv TO 'auditor'@'192.0.2.10'",
        "GRANT SELECT (user_pass) ON wordpress.wp_users TO 'auditor'@'192.0.2.10'",
    ]
    assert "GRANT SELECT ON mysql.user TO" in text[section:]  # MySQL and older MariaDB


@pytest.mark.integration
def test_audit_account_holds_exactly_the_readme_grants(pg_rig, maria_rig) -> None:
    pg = pg_rig.strong
    table = pg.sql("SELECT table_schema || '.' || table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = 'auditor' ORDER BY 1")
    columns = pg.sql("SELECT table_schema || '.' || table_name || '.' || column_name, privilege_type FROM information_schema.column_privileges WHERE grantee = 'auditor' ORDER BY 1")
    routines = pg.sql("SELECT routine_schema || '.' || routine_name, privilege_type FROM information_schema.routine_privileges WHERE grantee = 'auditor' ORDER BY 1")
    members = pg.sql("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'auditor'")
    attrs = pg.sql("SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = 'auditor'")
    assert table == [("pg_catalog.pg_hba_file_rules", "SELECT")]
    # the view's grant shows on each of its columns too; the rest are the README's column grants
    assert [c for c in columns if not c[0].startswith("pg_catalog.pg_hba_file_rules.")] == [
        ("pg_catalog.pg_authid.rolcanlogin", "SELECT"), ("pg_catalog.pg_authid.rolname", "SELECT"), ("pg_catalog.pg_authid.rolpassword", "SELECT"),
        ("public.users.password_hash", "SELECT"),
    ]
    assert routines == [("pg_catalog.pg_hba_file_rules", "EXECUTE")]
    assert members == [(0,)] and attrs == [(False, False, False, False, False)]
    grants = sorted(row[0] for row in maria_rig.strong.sql("SHOW GRANTS FOR 'auditor'@'127.0.0.1'"))
    assert [re.sub(r"IDENTIFIED VIA .*", "IDENTIFIED VIA ...", g) for g in grants] == [
        "GRANT SELECT (`user_pass`) ON `wordpress`.`wp_users` TO `auditor`@`127.0.0.1`",
        "GRANT SELECT ON `mysql`.`global_priv` TO `auditor`@`127.0.0.1`",
        "GRANT USAGE ON *.* TO `auditor`@`127.0.0.1` IDENTIFIED VIA ...",
    ]


@pytest.mark.integration
def test_the_audit_works_with_exactly_those_grants(pg_rig, maria_rig, tmp_path: Path) -> None:
    """Every database control reaches a verdict through the README account: no error, on either server of either engine."""
    inv = inventory(
        str(tmp_path / "inventory.yaml"),
        pg_entry("pg-weak", pg_rig.weak, password_columns=["public.users.password_hash"]),
        pg_entry("pg-strong", pg_rig.strong, tls_ca=pg_rig.certs.ca, password_columns=["public.users.password_hash"]),
        my_entry("my-weak", maria_rig.weak, password_columns=["wordpress.wp_users.user_pass"]),
        my_entry("my-strong", maria_rig.strong, tls_ca=maria_rig.certs.ca, password_columns=["wordpress.wp_users.user_pass"]),
    )
    run = audit(inv, only=DB_CONTROLS)
    errors = [(f.control, f.target, f.message) for f in run.findings if f.status.value == "error"]
    assert errors == []
    got = statuses(run)
    assert {c: got[(c, "database:pg-strong")] for c in [*PG_CONTROLS, APP]} == {c: "pass" for c in [*PG_CONTROLS, APP]}
    assert {c: got[(c, "database:my-strong")] for c in [*MY_CONTROLS, APP]} == {c: "pass" for c in [*MY_CONTROLS, APP]}


# -- the secret-leak test ------------------------------------------------------------------------------


@pytest.mark.integration
def test_no_hash_password_or_value_reaches_any_report(pg_rig, maria_rig, tmp_path: Path) -> None:
    inv = inventory(
        str(tmp_path / "inventory.yaml"),
        pg_entry("pg-weak", pg_rig.weak, password_columns=["public.users.password_hash", "public.secrets_denied.pw"]),
        pg_entry("pg-strong", pg_rig.strong, tls_ca=pg_rig.certs.ca, password_columns=["public.users.password_hash"]),
        my_entry("my-weak", maria_rig.weak, database="wordpress", password_columns=["wp_users.user_pass"]),
        my_entry("my-strong", maria_rig.strong, tls_ca=maria_rig.certs.ca, password_columns=["wordpress.wp_users.user_pass"]),
        pg_entry("pg-wrong", pg_rig.weak, password="wrong"),
    )
    run = audit(inv)  # every control, as a real audit would
    facts = {f.id: f for f in run.facts}
    # The sensitive facts were really gathered: this is not a vacuous search.
    for fid in ("database:pg-weak/postgres.role_passwords", "database:my-weak/mysql.accounts", "database:pg-weak/db.password_columns", "database:my-weak/db.password_columns"):
        assert facts[fid].status == "ok", (fid, facts[fid].message)

    secrets: dict[str, str] = {}
    for cluster in (pg_rig.weak, pg_rig.strong):
        for role, verifier in cluster.sql("SELECT rolname, rolpassword FROM pg_authid WHERE rolpassword IS NOT NULL"):
            secrets[f"{cluster.name} pg_authid.rolpassword of {role}"] = verifier
            for i, part in enumerate(re.split(r"[$:]", verifier)):
                if len(part) >= 12 and part != "SCRAM-SHA-256":  # salt, StoredKey, ServerKey
                    secrets[f"{cluster.name} verifier part {i} of {role}"] = part
    secrets["md5 password"] = pg_rig.md5_password
    secrets["plaintext password"] = pg_rig.plaintext_password
    for server in (maria_rig.weak, maria_rig.strong):
        for user, host, priv in server.sql("SELECT User, Host, Priv FROM mysql.global_priv"):
            doc = json.loads(priv)
            strings = [doc.get("authentication_string", "")] + [a.get("authentication_string", "") for a in doc.get("auth_or", [])]
            for i, s in enumerate(strings):
                if s and s != "invalid":
                    secrets[f"{server.name} auth string {i} of {user}@{host}"] = s
    secrets |= {f"password of {account}": pw for account, pw in maria_rig.passwords.items()}
    secrets |= {f"{scheme} value {i}": v for scheme, values in APP_HASHES.items() for i, v in enumerate(values)}
    secrets |= {f"env {name}": os.environ[var] for name, var in ENV.items()}
    secrets |= {f"sha256 of {what}": hashlib.sha256(value.encode()).hexdigest() for what, value in list(secrets.items())}
    assert sum(1 for k in secrets if "rolpassword" in k) >= 10 and sum(1 for k in secrets if "auth string" in k) >= 10

    doc = run_document(run)
    outputs = {"run_document": json.dumps(doc, ensure_ascii=False)}
    outputs.update({name: data.decode("utf-8") for name, data in render_files(doc).items()})
    assert {"run.json", "report.html", "junit.xml", "summary.md", "manifest.json"} <= set(outputs)
    for where, content in outputs.items():
        for what, secret in secrets.items():
            assert secret not in content, f"{what} appears in {where}"


@pytest.mark.parametrize(
    "code, text, sql, reason",
    [
        (1045, "Access denied for user 'a'@'h' (using password: YES)", None, Reason.AUTH_FAILED),
        (2003, "Can't connect to MySQL server on 'h' ([Errno 111] Connection refused)", None, Reason.UNREACHABLE),
        (2003, "Can't connect to MySQL server on 'h' (timed out)", None, Reason.TIMEOUT),
        (1044, "Access denied for user 'a'@'h' to database 'd'", None, Reason.PERMISSION_DENIED),
        (1142, "SELECT command denied to user 'a'@'h' for table `mysql`.`user`", "SELECT * FROM mysql.user", Reason.PERMISSION_DENIED),
        (1227, "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation", "SHOW ENGINE INNODB STATUS", Reason.PERMISSION_DENIED),
        (1146, "Table 'd.t' doesn't exist", "SELECT c FROM t", Reason.NOT_FOUND),
        (1969, "Query execution was interrupted (max_statement_time exceeded)", "SELECT SLEEP(9)", Reason.TIMEOUT),
        (3024, "Query execution was interrupted, maximum statement execution time exceeded", "SELECT SLEEP(9)", Reason.TIMEOUT),
        (2013, "Lost connection to MySQL server during query", "SELECT 1", Reason.UNREACHABLE),
        (1046, "No database selected", "SELECT c FROM t", Reason.CONFIG_ERROR),
    ],
)
def test_mysql_error_reasons(code: int, text: str, sql: str | None, reason: Reason) -> None:
    import pymysql

    conn = DBConnection(target("mysql", 3306))
    err = conn._my_error(pymysql.err.OperationalError(code, text), sql, "SELECT on mysql.user")
    assert err.reason is reason, err.message
    if reason is Reason.PERMISSION_DENIED and sql:
        assert err.message.endswith("it needs SELECT on mysql.user")
