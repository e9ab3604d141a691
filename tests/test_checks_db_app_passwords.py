"""checks/db_app_passwords.py: application password columns classified by format, counts only.

The classifier on literal values of every format; then the rig's
application tables (the same planted mix in PostgreSQL and MariaDB) audited
through the real runner: exact counts per scheme, exact violations, and
per-column errors (no grant, no such table) that are never a pass.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from auditor.model import Status
from checks import db_app_passwords as app
from db_rig import APP_HASHES, APP_NULLS, APP_WEAK, app_counts, inventory, maria_rig, my_entry, pg_entry, pg_rig  # noqa: F401 - fixtures
from helpers import audit, statuses, verdicts

CONTROL = "PWHASH-DB-APP-PASSWORDS"
ALLOWED = app.APP_PASSWORD_SCHEMES_ALLOWED.default


@pytest.mark.parametrize(
    "value, scheme",
    [(v, s) for s, values in APP_HASHES.items() for v in values]
    + [
        (None, "null"),
        ("", "empty"),
        ("   ", "empty"),
        ("$wp$2y$10$" + "a" * 53, "bcrypt"),
        ("$7$CU..../....2Q9fBvjKq9nAvZ8MBVHMq.$w1Sb5YjZWc9nRfI5bO2ux5pvDc6yN0VCu7ykp5Yk1C6", "scrypt"),
        ("scrypt:32768:8:1$salt$" + "ab" * 32, "scrypt"),
        ("pbkdf2:sha256:600000$salt$" + "ab" * 32, "pbkdf2"),
        ("$y$j9T$F5Jx5fExrKuJdvN3V8Xa8.$M3Z0/eHU2x5zRbnd3xt6GQHrSw1YR7oLcD6NMqFx8C3", "yescrypt"),
        ("$5$saltsalt$Gcm6FsVtF/Qa77ZKD.iwsJlCVPY0XSMgLJL0Hnww/c1", "sha256-crypt"),
        ("$1$saltsalt$lHG3xVfBJNlE8WZ1Yn4lM.", "md5-crypt"),
        ("argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA", "django-argon2"),
        ("bcrypt_sha256$$2b$12$" + "a" * 53, "django-bcrypt"),
        ("sha1$salt$" + "a" * 40, "django-sha1"),
        ("md5$salt$" + "a" * 32, "django-md5"),
        ("unsalted_md5$" + "a" * 32, "md5-hex"),
        ("5F4DCC3B5AA765D61D8327DEB882CF99", "md5-hex"),
        (hashlib.sha512(b"password").hexdigest(), "sha512-hex"),
        ("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", "mysql41-sha1"),
        (hashlib.md5(b"password").digest(), "md5-raw"),
        (memoryview(hashlib.sha256(b"password").digest()), "sha256-raw"),
        (b"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "bcrypt"),
        ("deadbeef", "unknown"),
        ("hunter2", "unknown"),
    ],
)
def test_classify(value: Any, scheme: str) -> None:
    assert app.classify(value) == scheme


def test_default_policy_accepts_slow_hashes_only() -> None:
    assert set(ALLOWED) >= {"bcrypt", "argon2", "scrypt", "pbkdf2", "sha512-crypt", "phpass", "drupal-sha512", "django-pbkdf2"}
    assert not set(ALLOWED) & {"md5-hex", "sha1-hex", "sha256-hex", "sha512-hex", "mysql41-sha1", "md5-crypt", "django-sha1", "unknown"}


def test_sample_sql_quotes_identifiers_and_binds_the_limit() -> None:
    assert app.sample_sql("postgresql", "public", "users", "password_hash") == 'SELECT "password_hash" FROM "public"."users" LIMIT %s'
    assert app.sample_sql("mysql", None, "wp_users", "user_pass") == "SELECT `user_pass` FROM `wp_users` LIMIT %s"


def test_evaluator_on_recorded_columns() -> None:
    columns = [
        {"column": "a.p", "status": "ok", "sampled": 3, "sample_limit": 1000, "truncated": False, "schemes": {"bcrypt": 2, "null": 1}},
        {"column": "b.p", "status": "error", "reason": "permission_denied", "message": "denied; it needs SELECT on column p of b"},
    ]
    out = app.app_passwords.evaluate({"db.password_columns": columns}, {"app_password_schemes_allowed": ALLOWED}, None)
    assert (out.status, out.reason) == (Status.ERROR, "permission_denied")
    assert "it needs SELECT on column p of b" in out.message
    columns[1] = {"column": "b.p", "status": "ok", "sampled": 2, "sample_limit": 1000, "truncated": False, "schemes": {"sha1-hex": 2}}
    out = app.app_passwords.evaluate({"db.password_columns": columns}, {"app_password_schemes_allowed": ALLOWED}, None)
    assert out.status is Status.FAIL and out.details["violations"] == [{"column": "b.p", "weak": {"sha1-hex": 2}, "sampled": 2}]


# -- the rig's application tables ----------------------------------------------------------------

EXPECTED_WEAK = {s: len(APP_HASHES[s]) for s in APP_WEAK}
SAMPLED_WEAK = sum(len(v) for v in APP_HASHES.values()) + APP_NULLS


@pytest.fixture(scope="module")
def app_run(pg_rig, maria_rig, tmp_path_factory) -> Any:
    folder = tmp_path_factory.mktemp("app")
    inv = inventory(
        str(folder / "inventory.yaml"),
        pg_entry("pg-weak", pg_rig.weak, password_columns=["public.users.password_hash", "users.password_hash", "public.secrets_denied.pw", "public.nosuch.pw"]),
        pg_entry("pg-strong", pg_rig.strong, password_columns=["public.users.password_hash"]),
        my_entry("my-weak", maria_rig.weak, database="wordpress", password_columns=["wp_users.user_pass", "wordpress.secrets_denied.pw"]),
        my_entry("my-strong", maria_rig.strong, tls_ca=maria_rig.certs.ca, password_columns=["wordpress.wp_users.user_pass"]),
        my_entry("my-nodb", maria_rig.strong, tls_ca=maria_rig.certs.ca, password_columns=["wp_users.user_pass"]),
        pg_entry("pg-none", pg_rig.strong),
    )
    return audit(inv, only=[CONTROL])


@pytest.mark.integration
def test_every_planted_column_gets_its_verdict(app_run) -> None:
    got = statuses(app_run)
    assert got == {
        (CONTROL, "database:pg-weak"): "fail",
        (CONTROL, "database:pg-strong"): "pass",
        (CONTROL, "database:my-weak"): "fail",
        (CONTROL, "database:my-strong"): "pass",
        (CONTROL, "database:my-nodb"): "error",
        (CONTROL, "database:pg-none"): "skipped",
    }
    found = verdicts(app_run)
    for target in ("database:pg-weak", "database:my-weak"):
        columns = {c["column"]: c for c in found[(CONTROL, target)].details["columns"]}
        ok = [c for c in columns.values() if c["status"] == "ok"]
        for c in ok:
            assert c["schemes"] == app_counts(), c["column"]
            assert (c["sampled"], c["truncated"], c["sample_limit"]) == (SAMPLED_WEAK, False, 1000)
        assert [v["weak"] for v in found[(CONTROL, target)].details["violations"]] == [EXPECTED_WEAK] * len(ok)
    pg_cols = {c["column"]: c for c in found[(CONTROL, "database:pg-weak")].details["columns"]}
    assert (pg_cols["public.secrets_denied.pw"]["reason"], pg_cols["public.nosuch.pw"]["reason"]) == ("permission_denied", "not_found")
    assert pg_cols["public.secrets_denied.pw"]["message"].endswith("it needs SELECT on column pw of public.secrets_denied")
    my_cols = {c["column"]: c for c in found[(CONTROL, "database:my-weak")].details["columns"]}
    assert my_cols["wordpress.secrets_denied.pw"]["reason"] == "permission_denied"
    assert "it needs SELECT on column pw of wordpress.secrets_denied" in my_cols["wordpress.secrets_denied.pw"]["message"]
    assert found[(CONTROL, "database:pg-weak")].message == (
        "Passwords stored in formats the policy does not accept: "
        "public.users.password_hash: 1 md5-hex, 1 sha1-hex, 1 sha256-hex, 2 unknown (of 17 sampled); "
        "users.password_hash: 1 md5-hex, 1 sha1-hex, 1 sha256-hex, 2 unknown (of 17 sampled); 2 column(s) could not be read"
    )
    for target, column in (("database:pg-strong", "public.users.password_hash"), ("database:my-strong", "wordpress.wp_users.user_pass")):
        (only,) = found[(CONTROL, target)].details["columns"]
        assert (only["column"], only["schemes"]) == (column, app_counts(strong_only=True))


@pytest.mark.integration
def test_unreadable_columns_are_errors_never_passes(app_run) -> None:
    finding = verdicts(app_run)[(CONTROL, "database:my-nodb")]
    assert finding.reason == "config_error"
    (column,) = finding.details["columns"]
    assert "set the inventory's database or qualify the table" in column["message"]
    assert verdicts(app_run)[(CONTROL, "database:pg-none")].message == "Not applicable: the inventory names no password_columns for this database"


@pytest.mark.integration
def test_evidence_is_counts_only(app_run) -> None:
    fact = next(f for f in app_run.facts if f.id == "database:my-weak/db.password_columns")
    ev = fact.evidence[0]
    assert ev.source == "SELECT `user_pass` FROM `wp_users` LIMIT %s" and ev.redacted
    assert ev.excerpt.splitlines()[:2] == ["-- needs: SELECT on column user_pass of wp_users", "-- parameters: 1000"]
    assert "bcrypt: 2" in ev.excerpt.splitlines() and "unknown: 2" in ev.excerpt.splitlines()
    text = repr([(f.value, [e.excerpt for e in f.evidence]) for f in app_run.facts])
    for values in APP_HASHES.values():
        for value in values:
            assert value not in text


@pytest.mark.integration
def test_policy_decides_what_is_accepted(pg_rig, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("id: p\ntitle: P\nextends: baseline-eu\nparameters:\n  app_password_schemes_allowed: [bcrypt]\n", encoding="utf-8")
    inv = inventory(str(tmp_path / "inventory.yaml"), pg_entry("pg-strong", pg_rig.strong, password_columns=["public.users.password_hash"]))
    finding = verdicts(audit(inv, policy=str(policy), only=[CONTROL]))[(CONTROL, "database:pg-strong")]
    assert finding.status.value == "fail"
    assert finding.details["violations"][0]["weak"] == {s: n for s, n in app_counts(strong_only=True).items() if s not in ("bcrypt", "null")}
