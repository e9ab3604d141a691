"""Swedish finding messages for the service controls: TLS (web, mail, databases), PostgreSQL, MySQL/MariaDB,
application passwords, AWS (location, backup retention, access).

Each case constructs the facts that reach one branch of a control (pass, each fail variant, skipped,
unverified) and asserts the finding carries a Swedish message that is a translation (tests/test_messages_sv.py:
assert_translated). The last test derives the controls from the registry, so a new control in these modules
without a case fails.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from auditor.model import Target
from auditor.registry import Registry
from auditor.runner import Runner
from checks.aws_location import region_allowed, region_judged
from test_messages_sv import ENGLISH_WORDS, _judge, _unquoted, assert_translated, registry, runner  # noqa: F401 - fixtures

MODULES = ("checks.tls", "checks.tls_web", "checks.tls_mail", "checks.tls_db", "checks.db_mysql", "checks.db_postgres", "checks.db_app_passwords",
           "checks.aws_location", "checks.aws_backup", "checks.aws_access")
UNTRANSLATED_MODULES: set[str] = set()

WEB = Target("web:shop", "web", "shop", "shop.example.se")
MAIL = Target("mail:mx", "mail", "mx", "mx.example.se")
DB = Target("database:db1", "database", "db1", "db1.example.se")

# -- TLS ----------------------------------------------------------------------------------


def _versions(**answers: bool | None) -> dict[str, dict[str, object]]:
    names = {"SSLv3": "SSLv3", "TLS10": "TLSv1.0", "TLS11": "TLSv1.1", "TLS12": "TLSv1.2", "TLS13": "TLSv1.3"}
    return {names[k]: {"accepted": v, "answer": "accepted" if v else ("no answer within 10s" if v is None else "alert protocol_version(70)")} for k, v in answers.items()}


def _protocols(*endpoints: dict[str, Any]) -> dict[str, Any]:
    return {"tls.protocols": {"endpoints": list(endpoints)}}


OK_VERSIONS = _versions(SSLv3=False, TLS10=False, TLS11=False, TLS12=True, TLS13=True)
DOWN = {"endpoint": "imaps 192.0.2.1:993", "error": {"reason": "unreachable", "message": "connection to 192.0.2.1:993 refused (nothing listens there)"}}


def _cert(**changes: Any) -> dict[str, Any]:
    leaf = {"subject": "CN=shop.example.se", "issuer": "CN=R3", "dns_names": ["shop.example.se"], "ip_addresses": [], "not_before": "2024-01-01T00:00:00.000Z",
            "not_after": "2026-01-01T00:00:00.000Z", "sha256": "AA", "key_type": "RSA", "key_bits": 2048, "curve": None,
            "signature_algorithm": "sha256WithRSAEncryption", "signature_hash": "sha256", "self_signed": False, "ca": False}
    return {**leaf, **changes}


def _certs(*chain: dict[str, Any], at: str = "2025-01-01T00:00:00.000Z", **rec: Any) -> dict[str, Any]:
    endpoint = {"endpoint": "https shop.example.se:443", "host": "shop.example.se", "server_name": "shop.example.se", "tls": True, "verified": True,
                "trust_store": "system store (/etc/ssl/certs/ca-certificates.crt / /etc/ssl/certs)", "chain": list(chain), **rec}
    return {"tls.certificates": {"checked_at": at, "endpoints": [endpoint]}}


NO_TLS = {"endpoint": "https shop.example.se:443", "tls": False, "no_tls": "served over plain HTTP: the inventory names the site by its http:// URL http://shop.example.se/ (no HTTPS port probed)"}


def _starttls(**rec: Any) -> dict[str, Any]:
    return {"tls.mail_starttls": {"endpoints": [{"endpoint": "smtp mx.example.se:25", "protocol": "smtp", **rec}]}}


def _hsts(hsts: list[str], parsed: dict[str, Any] | None, **more: Any) -> dict[str, Any]:
    return {"tls.hsts": {"url": "https://shop.example.se/", "status": 200, "status_line": "HTTP/1.1 200 OK", "hsts": hsts, "parsed": parsed, **more}}


def _redirect(status: int | None, location: str | None, **more: Any) -> dict[str, Any]:
    return {"tls.http_redirect": {"url": "http://shop.example.se/", "status": status, "status_line": f"HTTP/1.1 {status} X", "location": location, **more}}


TLS_CASES: list[tuple[str, Target, dict[str, Any], str]] = [
    ("TLS-PROTOCOLS", WEB, _protocols({"endpoint": "https 192.0.2.1:443", "tls": True, "versions": OK_VERSIONS}), "pass"),
    ("TLS-PROTOCOLS", WEB, _protocols({"endpoint": "https 192.0.2.1:443", "tls": True, "versions": _versions(SSLv3=False, TLS10=True, TLS11=True, TLS12=True)}), "fail"),
    ("TLS-PROTOCOLS", WEB, _protocols({"endpoint": "https 192.0.2.1:443", "tls": True, "versions": _versions(SSLv3=False, TLS10=False, TLS11=False, TLS12=False, TLS13=False)}), "fail"),
    ("TLS-PROTOCOLS", WEB, _protocols(NO_TLS), "fail"),
    ("TLS-PROTOCOLS", MAIL, _protocols({"endpoint": "smtp mx.example.se:25", "tls": False, "no_tls": "STARTTLS is not offered (EHLO keywords: PIPELINING, SIZE)"}), "fail"),
    ("TLS-PROTOCOLS", WEB, _protocols({"endpoint": "https 192.0.2.1:443", "tls": True, "versions": _versions(SSLv3=False, TLS10=None, TLS11=False, TLS12=True)}), "error"),
    ("TLS-PROTOCOLS", MAIL, _protocols({"endpoint": "smtp 192.0.2.1:25", "tls": True, "versions": _versions(SSLv3=False, TLS10=True, TLS12=True)}, DOWN), "fail"),
    ("TLS-PROTOCOLS", MAIL, _protocols(DOWN), "error"),
    ("TLS-PROTOCOLS", WEB, _protocols(), "skipped"),
    ("TLS-CERT-TRUSTED", WEB, _certs(_cert()), "pass"),
    ("TLS-CERT-TRUSTED", WEB, _certs(_cert(), verified=False, verify_error="self-signed certificate"), "fail"),
    ("TLS-CERT-TRUSTED", WEB, _certs(_cert(), verified=False, verify_error="unable to get local issuer certificate",
                                     trust_store="CA bundle /etc/auditor/ca.pem"), "fail"),
    ("TLS-CERT-TRUSTED", WEB, _certs(), "error"),
    ("TLS-CERT-TRUSTED", WEB, _certs({"error": "ValueError: bad DER"}), "error"),
    ("TLS-CERT-TRUSTED", WEB, {"tls.certificates": {"checked_at": "2025-01-01T00:00:00.000Z", "endpoints": [NO_TLS]}}, "skipped"),
    ("TLS-CERT-TRUSTED", MAIL, {"tls.certificates": {"checked_at": "2025-01-01T00:00:00.000Z", "endpoints": [
        {"endpoint": "smtp mx.example.se:25", "tls": False, "no_tls": "mx.example.se:25: the TLS handshake failed: wrong version number"}]}}, "skipped"),
    ("TLS-CERT-HOSTNAME", WEB, _certs(_cert()), "pass"),
    ("TLS-CERT-HOSTNAME", WEB, _certs(_cert(dns_names=["www.example.se"])), "fail"),
    ("TLS-CERT-HOSTNAME", WEB, _certs(_cert(dns_names=[])), "fail"),
    ("TLS-CERT-EXPIRY", WEB, _certs(_cert()), "pass"),
    ("TLS-CERT-EXPIRY", WEB, _certs(_cert(not_after="2024-12-01T00:00:00.000Z")), "fail"),
    ("TLS-CERT-EXPIRY", WEB, _certs(_cert(not_before="2025-02-01T00:00:00.000Z")), "fail"),
    ("TLS-CERT-EXPIRY", WEB, _certs(_cert(not_after="2025-01-10T00:00:00.000Z")), "fail"),
    ("TLS-CERT-KEY-STRENGTH", WEB, _certs(_cert()), "pass"),
    ("TLS-CERT-KEY-STRENGTH", WEB, _certs(_cert(key_type="EC", key_bits=256, curve="secp256r1")), "pass"),
    ("TLS-CERT-KEY-STRENGTH", WEB, _certs(_cert(key_bits=1024), _cert(subject="CN=R3", key_type="EC", key_bits=192), _cert(subject="CN=X", key_type="GOST", key_bits=256)), "fail"),
    ("TLS-CERT-SIGNATURE", WEB, _certs(_cert()), "pass"),
    ("TLS-CERT-SIGNATURE", WEB, _certs(_cert(signature_algorithm="sha1WithRSAEncryption", signature_hash="sha1")), "fail"),
    ("TLS-WEB-HSTS", WEB, _hsts(["max-age=31536000; includeSubDomains"], {"max_age": 31536000, "include_subdomains": True, "problems": []}), "pass"),
    ("TLS-WEB-HSTS", WEB, _hsts(["max-age=300", "max-age=1"], {"max_age": 300, "include_subdomains": False, "problems": []}), "fail"),
    ("TLS-WEB-HSTS", WEB, _hsts(["max-age=abc; max-age=abc"], {"max_age": None, "problems": ["max-age 'abc' is not a number", "directive max-age repeated"]}), "fail"),
    ("TLS-WEB-HSTS", WEB, _hsts(["includeSubDomains"], {"max_age": None, "problems": ["no max-age directive"]}), "fail"),
    ("TLS-WEB-HSTS", WEB, _hsts([], None), "fail"),
    ("TLS-WEB-HSTS", WEB, _hsts([], None, url="http://shop.example.se/", plain_http=True), "fail"),
    ("TLS-WEB-HTTP-REDIRECT", WEB, _redirect(301, "https://shop.example.se/"), "pass"),
    ("TLS-WEB-HTTP-REDIRECT", WEB, _redirect(None, None, listener=False, refusal="connection to shop.example.se:80 refused (nothing listens there)"), "pass"),
    ("TLS-WEB-HTTP-REDIRECT", WEB, _redirect(302, "http://shop.example.se/login"), "fail"),
    ("TLS-WEB-HTTP-REDIRECT", WEB, _redirect(200, None), "fail"),
    ("TLS-MAIL-STARTTLS", MAIL, _starttls(upgraded=True, starttls=True, starttls_answer="220 2.0.0 Ready to start TLS"), "pass"),
    ("TLS-MAIL-STARTTLS", MAIL, _starttls(upgraded=False, refusal="STARTTLS is not offered (EHLO keywords: PIPELINING, SIZE 10240000)"), "fail"),
    ("TLS-MAIL-STARTTLS", MAIL, _starttls(upgraded=False, starttls_answer="454 4.7.0 TLS not available", refusal="STARTTLS is advertised but refused: 454 4.7.0 TLS not available"), "fail"),
    ("TLS-MAIL-STARTTLS", MAIL, _starttls(upgraded=False), "fail"),
    ("TLS-MAIL-STARTTLS", MAIL, _starttls(implicit_tls=True), "skipped"),
    ("TLS-MAIL-STARTTLS", MAIL, {"tls.mail_starttls": {"endpoints": [{**DOWN, "endpoint": "smtp 192.0.2.1:25"}]}}, "error"),
    ("TLS-MAIL-PLAINTEXT-AUTH", MAIL, _starttls(auth_before_tls=None), "pass"),
    ("TLS-MAIL-PLAINTEXT-AUTH", MAIL, _starttls(protocol="imap", logindisabled=True, auth_before_tls=[]), "pass"),
    ("TLS-MAIL-PLAINTEXT-AUTH", MAIL, _starttls(protocol="pop3", user_before_tls=False, auth_before_tls=[]), "pass"),
    ("TLS-MAIL-PLAINTEXT-AUTH", MAIL, _starttls(auth_before_tls=[]), "fail"),
    ("TLS-MAIL-PLAINTEXT-AUTH", MAIL, _starttls(protocol="imap", logindisabled=False, auth_before_tls=["PLAIN"]), "fail"),
    ("TLS-MAIL-PLAINTEXT-AUTH", MAIL, _starttls(protocol="pop3", user_before_tls=True, auth_before_tls=["LOGIN"]), "fail"),
    ("TLS-DB-OFFERED", DB, {"tls.db_offer": {"protocol": "postgresql", "endpoint": "postgresql db1.example.se:5432", "tls_offered": True, "answer": "S"}}, "pass"),
    ("TLS-DB-OFFERED", DB, {"tls.db_offer": {"protocol": "postgresql", "endpoint": "postgresql db1.example.se:5432", "tls_offered": False, "answer": "N"}}, "fail"),
    ("TLS-DB-OFFERED", DB, {"tls.db_offer": {"protocol": "mysql", "endpoint": "mysql db1.example.se:3306", "tls_offered": True, "server_version": "10.11.6-MariaDB"}}, "pass"),
    ("TLS-DB-OFFERED", DB, {"tls.db_offer": {"protocol": "mysql", "endpoint": "mysql db1.example.se:3306", "tls_offered": False, "server_version": "10.11.6-MariaDB"}}, "fail"),
]

# -- PostgreSQL ---------------------------------------------------------------------------


def _rule(line: int, type_: str | None, address: str | None = None, netmask: str | None = None, method: str | None = "scram-sha-256", error: str | None = None,
          users: list[str] | None = None, file_name: str | None = None) -> dict[str, Any]:
    return {"line_number": line, "file_name": file_name, "type": type_, "database": ["all"], "user_name": users or ["all"], "address": address,
            "netmask": netmask, "auth_method": method, "error": error}


def _settings(**settings: Any) -> dict[str, Any]:
    base = {"password_encryption": "scram-sha-256", "ssl": "on", "listen_addresses": "localhost"}
    overrides = settings.pop("overrides", [])
    session = settings.pop("session_tls", None)
    return {"postgres.settings": {"settings": {**base, **settings}, "password_encryption_overrides": overrides, "session_tls": session}}


def _role(name: str, login: bool = True, superuser: bool = False, member_of: list[str] | None = None) -> dict[str, Any]:
    return {"role": name, "login": login, "superuser": superuser, "member_of": member_of or []}


def _hba(*rules: dict[str, Any], roles: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    facts: dict[str, Any] = {"postgres.hba_rules": list(rules)}
    if roles is not None:
        facts["postgres.roles"] = roles
    return facts


LOCAL = _rule(1, "local", method="peer")
SSL_NET = _rule(2, "hostssl", "10.0.0.0", "255.0.0.0")
CLEAR_NET = _rule(3, "host", "10.0.0.0", "255.0.0.0", file_name="/etc/postgresql/16/main/pg_hba.conf")
OPEN = _rule(4, "hostssl", "0.0.0.0", "0.0.0.0")
BROKEN = _rule(5, None, error='invalid authentication method "md4"')
ROLES = [_role("app"), _role("staff", login=False), _role("anna", member_of=["staff"]), _role("postgres", superuser=True)]

PG_CASES: list[tuple[str, Target, dict[str, Any], str]] = [
    ("PWHASH-PG-PASSWORD-ENCRYPTION", DB, _settings(), "pass"),
    ("PWHASH-PG-PASSWORD-ENCRYPTION", DB, _settings(overrides=[{"value": "scram-sha-256", "role": "app", "database": "shop"}]), "pass"),
    ("PWHASH-PG-PASSWORD-ENCRYPTION", DB, _settings(password_encryption="md5", overrides=[{"value": "md5", "role": "app", "database": "shop"}]), "fail"),
    ("PWHASH-PG-ROLE-PASSWORDS", DB, {"postgres.role_passwords": [{"role": "app", "login": True, "scheme": "scram-sha-256"}, {"role": "postgres", "login": True, "scheme": "none"}]}, "pass"),
    ("PWHASH-PG-ROLE-PASSWORDS", DB, {"postgres.role_passwords": [{"role": "postgres", "login": True, "scheme": "none"}]}, "pass"),
    ("PWHASH-PG-ROLE-PASSWORDS", DB, {"postgres.role_passwords": [{"role": "app", "login": True, "scheme": "md5"}, {"role": "old", "login": True, "scheme": "plaintext"},
                                                                  {"role": "blank", "login": True, "scheme": "empty"}, {"role": "postgres", "login": True, "scheme": "none"}]}, "fail"),
    ("TLS-PG-SSL", DB, _settings(), "pass"),
    ("TLS-PG-SSL", DB, _settings(session_tls="TLSv1.3"), "pass"),
    ("TLS-PG-SSL", DB, _settings(ssl="off"), "fail"),
    ("TLS-PG-HBA-HOSTSSL", DB, _hba(LOCAL, SSL_NET), "pass"),
    ("TLS-PG-HBA-HOSTSSL", DB, _hba(LOCAL), "pass"),
    ("TLS-PG-HBA-HOSTSSL", DB, _hba(LOCAL, CLEAR_NET, _rule(6, "hostnossl", "192.168.0.0", "255.255.0.0")), "fail"),
    ("TLS-PG-HBA-HOSTSSL", DB, _hba(LOCAL, BROKEN), "error"),
    ("ACCESS-PG-HBA-TRUST", DB, _hba(LOCAL, SSL_NET), "pass"),
    ("ACCESS-PG-HBA-TRUST", DB, _hba(_rule(1, "local", method="trust"), _rule(2, "host", "10.0.0.0", "255.0.0.0", "trust", users=["app", "anna"])), "fail"),
    ("ACCESS-PG-HBA-TRUST", DB, _hba(BROKEN), "error"),
    ("TLS-PG-ROLE-TLS", DB, _hba(LOCAL, SSL_NET, roles=ROLES), "pass"),
    ("TLS-PG-ROLE-TLS", DB, _hba(LOCAL, _rule(3, "host", "10.0.0.0", "255.0.0.0", users=["+staff", "app"]), roles=ROLES), "fail"),
    ("TLS-PG-ROLE-TLS", DB, _hba(LOCAL, _rule(3, "host", "10.0.0.0", "255.0.0.0", users=["/^app"]), roles=ROLES), "error"),
    ("TLS-PG-ROLE-TLS", DB, _hba(BROKEN, roles=ROLES), "error"),
    ("ACCESS-PG-HBA-OPEN", DB, _hba(LOCAL, SSL_NET), "pass"),
    ("ACCESS-PG-HBA-OPEN", DB, _hba(LOCAL, OPEN), "fail"),
    ("ACCESS-PG-HBA-OPEN", DB, _hba(BROKEN), "error"),
    ("ACCESS-PG-LISTEN-ADDRESSES", DB, _settings(), "pass"),
    ("ACCESS-PG-LISTEN-ADDRESSES", DB, _settings(listen_addresses=""), "pass"),
    ("ACCESS-PG-LISTEN-ADDRESSES", DB, _settings(listen_addresses="*"), "fail"),
    ("ACCESS-PG-LISTEN-ADDRESSES", DB, _settings(listen_addresses="localhost, 203.0.113.5"), "fail"),
    ("ACCESS-PG-LISTEN-ADDRESSES", DB, _settings(listen_addresses="db1.internal"), "error"),
    ("ACCESS-PG-SUPERUSERS", DB, {"postgres.roles": ROLES}, "pass"),
    ("ACCESS-PG-SUPERUSERS", DB, {"postgres.roles": [_role("app", superuser=False)]}, "pass"),
    ("ACCESS-PG-SUPERUSERS", DB, {"postgres.roles": [*ROLES, _role("dba", superuser=True)]}, "fail"),
]

# -- MySQL / MariaDB ----------------------------------------------------------------------


def _account(user: str, host: str, plugin: str = "ed25519", password: str = "set", locked: bool = False, tls: str | None = None, privileges: list[str] | None = None) -> dict[str, Any]:
    return {"account": f"{user}@{host}", "user": user, "host": host, "role": False, "locked": locked, "methods": [{"plugin": plugin, "password": password}],
            "global_privileges": privileges or [], "tls_required": tls}


def _mysql(accounts: list[dict[str, Any]] | None = None, session_tls: str | None = None, server_version: str = "10.11.6-MariaDB", **variables: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {"mysql.variables": {"variables": variables, "session_tls": session_tls, "server_version": server_version}}
    if accounts is not None:
        facts["mysql.accounts"] = accounts
    return facts


SOCKET = _account("root", "localhost", plugin="unix_socket", password="none")
MANY = [_account(f"app{i}", f"10.0.0.{i}") for i in range(1, 25)]

MYSQL_CASES: list[tuple[str, Target, dict[str, Any], str]] = [
    ("PWHASH-MYSQL-AUTH-PLUGINS", DB, _mysql([_account("app", "10.0.0.5"), SOCKET]), "pass"),
    ("PWHASH-MYSQL-AUTH-PLUGINS", DB, _mysql([SOCKET]), "pass"),
    ("PWHASH-MYSQL-AUTH-PLUGINS", DB, _mysql([_account("app", "10.0.0.5", plugin="mysql_old_password")]), "fail"),
    ("PWHASH-MYSQL-EMPTY-PASSWORDS", DB, _mysql([_account("app", "10.0.0.5"), SOCKET]), "pass"),
    ("PWHASH-MYSQL-EMPTY-PASSWORDS", DB, _mysql([_account("blank", "localhost", password="empty")]), "fail"),
    ("ACCESS-MYSQL-WILDCARD-HOSTS", DB, _mysql([_account("app", "10.0.0.5")]), "pass"),
    ("ACCESS-MYSQL-WILDCARD-HOSTS", DB, _mysql([_account("app", "10.0.0.5"), _account("backup", "%")], mysql_wildcard_accounts_allowed=None), "fail"),
    ("ACCESS-MYSQL-WILDCARD-HOSTS", DB, _mysql([_account("", "localhost"), _account("", "10.%"), _account("app", "%", privileges=["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "FILE"]),
                                                *[_account(f"x{i}", "%.example.se") for i in range(22)]]), "fail"),
    ("TLS-MYSQL-ACCOUNT-TLS", DB, _mysql([_account("app", "10.0.0.5")], require_secure_transport="ON"), "pass"),
    ("TLS-MYSQL-ACCOUNT-TLS", DB, _mysql([_account("app", "10.0.0.5"), *MANY], require_secure_transport="OFF"), "fail"),
    ("TLS-MYSQL-ACCOUNT-TLS", DB, _mysql([_account("app", "10.0.0.5")]), "fail"),
    ("TLS-MYSQL-ACCOUNT-TLS", DB, _mysql([_account("app", "10.0.0.5", tls="unknown ssl_type FOO")], require_secure_transport="OFF"), "error"),
    ("TLS-MYSQL-ACCOUNT-TLS", DB, _mysql([SOCKET, _account("local", "localhost")], require_secure_transport="OFF"), "pass"),
    ("TLS-MYSQL-ACCOUNT-TLS", DB, _mysql([_account("app", "10.0.0.5", tls="X509")], require_secure_transport="OFF"), "pass"),
    ("ACCESS-MYSQL-BIND-ADDRESS", DB, _mysql(skip_networking="ON"), "pass"),
    ("ACCESS-MYSQL-BIND-ADDRESS", DB, _mysql(bind_address="127.0.0.1"), "pass"),
    ("ACCESS-MYSQL-BIND-ADDRESS", DB, _mysql(bind_address="0.0.0.0"), "fail"),
    ("ACCESS-MYSQL-BIND-ADDRESS", DB, _mysql(), "error"),
    ("TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", DB, _mysql(require_secure_transport="ON"), "pass"),
    ("TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", DB, _mysql(require_secure_transport="OFF"), "fail"),
    ("TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", DB, _mysql(server_version="10.3.39-MariaDB"), "fail"),
    ("TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", DB, _mysql(server_version=""), "fail"),
    ("TLS-MYSQL-SSL", DB, _mysql(have_ssl="YES", tls_version="TLSv1.2,TLSv1.3", session_tls="TLSv1.3"), "pass"),
    ("TLS-MYSQL-SSL", DB, _mysql(have_ssl="YES"), "pass"),
    ("TLS-MYSQL-SSL", DB, _mysql(have_ssl="DISABLED"), "fail"),
    ("TLS-MYSQL-SSL", DB, _mysql(session_tls="TLSv1.3", server_version="8.4.0"), "pass"),
    ("TLS-MYSQL-SSL", DB, _mysql(), "fail"),
    ("TLS-MYSQL-SSL", DB, _mysql(ssl_cert="/etc/mysql/cert.pem"), "error"),
]

APP_CASES: list[tuple[str, Target, dict[str, Any], str]] = [
    ("PWHASH-DB-APP-PASSWORDS", DB, {"db.password_columns": [{"column": "shop.users.password", "status": "ok", "sampled": 12, "sample_limit": 500, "truncated": False,
                                                              "schemes": {"argon2": 12}}, {"column": "shop.admins.pw", "status": "ok", "sampled": 0, "schemes": {}}]}, "pass"),
    ("PWHASH-DB-APP-PASSWORDS", DB, {"db.password_columns": [{"column": "shop.users.password", "status": "ok", "sampled": 12, "schemes": {"md5": 3, "bcrypt": 9}},
                                                             {"column": "shop.x.pw", "status": "error", "reason": "permission_denied", "message": "permission denied for table x"}]}, "fail"),
    ("PWHASH-DB-APP-PASSWORDS", DB, {"db.password_columns": [{"column": "shop.x.pw", "status": "error", "reason": "permission_denied", "message": "permission denied for table x"}]}, "error"),
]

# -- AWS ----------------------------------------------------------------------------------

AWS = Target("aws:prod", "aws", "prod")
REFUSED = {"reason": "permission_denied", "message": "ec2:DescribeVolumes in us-west-2 was refused: UnauthorizedOperation: denied; the audit role needs IAM action ec2:DescribeVolumes"}
THROTTLED = {"reason": "command_failed", "message": "ec2:DescribeVolumes in us-west-2 was throttled (RequestLimitExceeded) and still failed after 3 attempt(s)"}
NO_BUCKET = {"reason": "permission_denied", "message": "s3:GetBucketLocation in eu-north-1 (Bucket logs) was refused: AccessDenied: denied; the audit role needs IAM action s3:GetBucketLocation"}
OFF_REGIONS = {"eu-south-2": "not enabled for this account (OptInStatus not-opted-in)"}


def _regional(*items: dict[str, Any], regions: tuple[str, ...] = ("eu-north-1", "us-west-2"), failed: dict[str, Any] | None = None,
              not_audited: dict[str, str] | None = None) -> dict[str, Any]:
    return {"regions": list(regions), "not_audited": dict(not_audited or {}), "failed": dict(failed or {}), "items": list(items)}


NONE_AUDITED = _regional(regions=(), not_audited=OFF_REGIONS)


def _buckets(values: dict[str, Any], failed: dict[str, Any] | None = None, declared: dict[str, str] | None = None) -> dict[str, Any]:
    fact: dict[str, Any] = {"buckets": values, "failed": dict(failed or {})}
    if declared is not None:
        fact["declared"] = declared
    return fact


def _ec2(instances: list[dict[str, Any]] = [], volumes: list[dict[str, Any]] = [], snapshots: list[dict[str, Any]] = [], **rec: Any) -> dict[str, Any]:  # noqa: B006
    return {"ec2.instances": _regional(*instances, **rec), "ec2.volumes": _regional(*volumes, **rec), "ec2.snapshots": _regional(*snapshots, **rec)}


def _db(name: str, region: str, replications: tuple[str, ...] = (), public: bool = False, encrypted: bool = True) -> dict[str, Any]:
    return {"id": name, "arn": f"arn:aws:rds:{region}:123456789012:db:{name}", "engine": "postgres", "public": public, "encrypted": encrypted,
            "backup_replications": list(replications), "read_replica_of": None, "name": None, "region": region}


def _rds(instances: list[dict[str, Any]] = [], snapshots: list[dict[str, Any]] = [], backups: list[dict[str, Any]] = [], **rec: Any) -> dict[str, Any]:  # noqa: B006
    return {"rds.instances": _regional(*instances, **rec), "rds.snapshots": _regional(*snapshots, **rec), "rds.automated_backups": _regional(*backups, **rec)}


def _snapshot(name: str, region: str, kind: str | None = "manual", source: str | None = None) -> dict[str, Any]:
    return {"id": name, "instance": "orders", "type": kind, "source_region": source, "encrypted": True, "name": None, "region": region}


def _plan(region: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"id": "p1", "name": "nightly", "region": region, "rules": list(rules)}


def _plan_rule(days: int | None, *copies: tuple[str, int | None]) -> dict[str, Any]:
    return {"name": "daily", "vault": "main", "delete_after_days": days,
            "copies": [{"destination": f"arn:aws:backup:{r}:123456789012:backup-vault:dr", "region": r, "delete_after_days": d} for r, d in copies]}


def _vaults(*vaults: tuple[str, str], **rec: Any) -> dict[str, Any]:
    return _regional(*({"name": n, "arn": None, "recovery_points": 3, "locked": False, "region": r} for n, r in vaults), **rec)


def _lc(rid: str = "r", scope: str | None = None, days: int | None = None, date: str | None = None, noncurrent: int | None = None, enabled: bool = True) -> dict[str, Any]:
    return {"id": rid, "enabled": enabled, "scope": scope, "expiration_days": days, "expiration_date": date, "noncurrent_days": noncurrent, "newer_noncurrent_versions": None}


def _retention(purpose: str, rules: list[dict[str, Any]], versioning: str | None = None, lock: dict[str, Any] | None = None, configured: bool | None = None,
               failed: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = {"purpose": purpose, "versioning": versioning, "lifecycle": rules, "lifecycle_configured": bool(rules) if configured is None else configured, "object_lock": lock}
    return {"s3.retention_config": _buckets({"vault-b": cfg}, failed=failed, declared={"vault-b": purpose, **{b: purpose for b in failed or {}}})}


def _lock(mode: str, days: int) -> dict[str, Any]:
    return {"enabled": True, "mode": mode, "days": days, "years": None, "retention_days": days}


def _versions(*oldest: tuple[str, float, bool], count: int = 40, truncated: bool = False) -> dict[str, Any]:
    listed = [{"key": k, "version_id": "v1", "is_latest": latest, "last_modified": "2025-01-01T00:00:00Z", "age_days": age} for k, age, latest in oldest]
    return {"s3.object_versions": _buckets({"vault-b": {"now": 0, "versions": count, "delete_markers": 0, "truncated": truncated, "oldest": listed}}, declared={"vault-b": "backup"})}


PAB = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _pab(account: tuple[str, ...], bucket: tuple[str, ...], failed: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"s3.account_public_access_block": {"account": "123456789012", "configured": bool(account), "settings": {k: k in account for k in PAB}},
            "s3.public_access_block": _buckets({"web-assets": {"configured": bool(bucket), "settings": {k: k in bucket for k in PAB}}}, failed=failed)}


ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def _acl(*grants: tuple[str, str]) -> dict[str, Any]:
    return {"s3.bucket_acls": _buckets({"web-assets": {"grants": [{"type": "Group", "uri": u, "id": None, "permission": p} for u, p in grants]}})}


def _policy(policy: str | None) -> dict[str, Any]:
    return {"s3.bucket_policies": _buckets({"web-assets": {"policy": policy}, "logs": {"policy": None}})}


OPEN_POLICY = '{"Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}'


def _sg(*ingress: dict[str, Any], **rec: Any) -> dict[str, Any]:
    group = {"id": "sg-0a1", "group_name": "bastion", "name": None, "vpc": "vpc-1", "region": "eu-north-1", "ingress": list(ingress)}
    return {"ec2.security_groups": _regional(group, **rec)}


def _perm(protocol: str, low: int | None, high: int | None, *cidrs: str) -> dict[str, Any]:
    return {"protocol": protocol, "from": low, "to": high, "cidrs": list(cidrs), "prefix_lists": [], "groups": []}


def _volumes(*vols: tuple[str, bool, list[str]], **rec: Any) -> dict[str, Any]:
    return {"ec2.volumes": _regional(*({"id": v, "encrypted": e, "kms_key": None, "state": "in-use", "attached_to": a, "name": None, "region": "eu-north-1"}
                                       for v, e, a in vols), **rec)}


def _encryption(**algorithms: list[str]) -> dict[str, Any]:
    return {"s3.bucket_encryption": _buckets({b.replace("_", "-"): {"configured": bool(a), "algorithms": a} for b, a in algorithms.items()})}


INSTANCE = {"id": "i-0a74", "state": "running", "zone": "eu-north-1a", "name": "web-1", "region": "eu-north-1"}
VOLUME = {"id": "vol-1", "encrypted": True, "kms_key": None, "state": "in-use", "attached_to": ["i-0a74"], "name": None, "region": "eu-north-1"}
SNAPSHOT = {"id": "snap-1", "volume": "vol-1", "encrypted": True, "description": "", "name": None, "region": "eu-north-1"}

AWS_CASES: list[tuple[str, Target, dict[str, Any], str]] = [
    # location
    ("DATA-AWS-S3-BUCKET-REGION", AWS, {"s3.bucket_regions": _buckets({"shop-data": {"constraint": "eu-north-1", "region": "eu-north-1"}})}, "pass"),
    ("DATA-AWS-S3-BUCKET-REGION", AWS, {"s3.bucket_regions": _buckets({})}, "pass"),
    ("DATA-AWS-S3-BUCKET-REGION", AWS, {"s3.bucket_regions": _buckets({"old": {"constraint": None, "region": "us-east-1"}, "ie": {"constraint": "EU", "region": "eu-west-1"},
                                                                       "uk": {"constraint": "eu-west-2", "region": "eu-west-2"}}, failed={"logs": NO_BUCKET})}, "fail"),
    ("DATA-AWS-S3-BUCKET-REGION", AWS, {"s3.bucket_regions": _buckets({"shop-data": {"constraint": "ap-nowhere-9", "region": "ap-nowhere-9"},
                                                                       **{f"b{i}": {"constraint": "us-west-2", "region": "us-west-2"} for i in range(22)}})}, "fail"),
    ("DATA-AWS-S3-BUCKET-REGION", AWS, {"s3.bucket_regions": _buckets({}, failed={"logs": NO_BUCKET})}, "error"),
    ("DATA-AWS-S3-REPLICATION", AWS, {"s3.replication": _buckets({"src": {"configured": True, "rules": [
        {"id": "r1", "status": "Enabled", "destination": "dr", "account": None, "region": "eu-west-1"},
        {"id": "r2", "status": "Disabled", "destination": "x", "account": None}]}})}, "pass"),
    ("DATA-AWS-S3-REPLICATION", AWS, {"s3.replication": _buckets({"src": {"configured": False, "rules": []}})}, "pass"),
    ("DATA-AWS-S3-REPLICATION", AWS, {"s3.replication": _buckets({"src": {"configured": True, "rules": [
        {"id": "r1", "status": "Enabled", "destination": "dr-us", "account": None, "region": "us-east-1"}]}})}, "fail"),
    ("DATA-AWS-S3-REPLICATION", AWS, {"s3.replication": _buckets({"src": {"configured": True, "rules": [
        {"id": "r1", "status": "Enabled", "destination": "dr", "account": None, "error": {**NO_BUCKET, "message": NO_BUCKET["message"].replace("logs", "dr")}}]}})}, "error"),
    ("DATA-AWS-EC2-LOCATION", AWS, _ec2([INSTANCE], [VOLUME], [SNAPSHOT], regions=("eu-north-1",), not_audited=OFF_REGIONS), "pass"),
    ("DATA-AWS-EC2-LOCATION", AWS, _ec2(regions=("eu-north-1",)), "pass"),
    ("DATA-AWS-EC2-LOCATION", AWS, _ec2([INSTANCE, {**INSTANCE, "id": "i-9", "region": "us-west-2"}], [{**VOLUME, "region": "us-west-2"}], [{**SNAPSHOT, "region": "eu-west-2"}]), "fail"),
    ("DATA-AWS-EC2-LOCATION", AWS, {"ec2.instances": NONE_AUDITED, "ec2.volumes": NONE_AUDITED, "ec2.snapshots": NONE_AUDITED}, "skipped"),
    ("DATA-AWS-EC2-LOCATION", AWS, {"ec2.instances": NONE_AUDITED, "ec2.volumes": _regional(regions=(), failed={"us-west-2": THROTTLED}), "ec2.snapshots": NONE_AUDITED}, "error"),
    ("DATA-AWS-EC2-LOCATION", AWS, _ec2([INSTANCE], regions=("eu-north-1",), failed={"us-west-2": REFUSED}), "error"),
    ("DATA-AWS-RDS-LOCATION", AWS, _rds([_db("orders", "eu-north-1", ("arn:aws:rds:eu-west-1:123456789012:auto-backup:ab-1",))], [_snapshot("orders-1", "eu-north-1")],
                                        [{"id": "ab-1", "instance": "orders", "source_region": "eu-north-1", "status": "replicating", "encrypted": True, "region": "eu-west-1"}]), "pass"),
    ("DATA-AWS-RDS-LOCATION", AWS, _rds([_db("orders", "eu-north-1", ("arn:aws:rds:us-west-2:123456789012:auto-backup:ab-7",)), _db("crm", "us-east-1")],
                                        [_snapshot("orders-copy", "us-west-2", source="eu-north-1"), _snapshot("auto-1", "us-east-1", "automated"),
                                         _snapshot("bk-1", "us-east-1", "awsbackup"), {**_snapshot("x-1", "us-east-1", None), "instance": None}],
                                        [{"id": "ab-7", "instance": "orders", "source_region": "eu-north-1", "status": "replicating", "encrypted": True, "region": "us-west-2"}]), "fail"),
    ("DATA-AWS-RDS-LOCATION", AWS, {"rds.instances": NONE_AUDITED, "rds.snapshots": NONE_AUDITED, "rds.automated_backups": NONE_AUDITED}, "skipped"),
    ("DATA-AWS-RDS-LOCATION", AWS, _rds(regions=("eu-north-1",), failed={"us-west-2": REFUSED}), "error"),
    ("DATA-AWS-BACKUP-LOCATION", AWS, {"aws_backup.vaults": _vaults(("main", "eu-north-1")), "aws_backup.plans": _regional(_plan("eu-north-1", _plan_rule(30, ("eu-west-1", 30))))}, "pass"),
    ("DATA-AWS-BACKUP-LOCATION", AWS, {"aws_backup.vaults": _vaults(("main", "eu-north-1"), ("us-copy", "us-east-1")),
                                       "aws_backup.plans": _regional(_plan("eu-north-1", _plan_rule(30, ("us-west-2", 30))))}, "fail"),
    ("DATA-AWS-BACKUP-LOCATION", AWS, {"aws_backup.vaults": NONE_AUDITED, "aws_backup.plans": NONE_AUDITED}, "skipped"),
    ("DATA-AWS-BACKUP-LOCATION", AWS, {"aws_backup.vaults": _vaults(failed={"us-west-2": REFUSED}), "aws_backup.plans": _regional()}, "error"),
    # retention
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("backup", [_lc(days=30)]), "pass"),
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("backup", [_lc(days=20, noncurrent=10)], versioning="Enabled"), "pass"),
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("backup", []), "fail"),
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("backup", [_lc("tmp", scope="prefix 'tmp/'", days=1), _lc("end", date="2027-01-01T00:00:00Z"), _lc("off", days=30, enabled=False)],
                                                versioning="Suspended"), "fail"),
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("backup", [_lc(days=40)]), "fail"),
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("backup", [_lc(days=30, noncurrent=10)], versioning="Enabled", lock=_lock("COMPLIANCE", 90)), "fail"),
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("bookkeeping", []), "skipped"),
    ("BACKUP-AWS-S3-LIFECYCLE", AWS, _retention("backup", [_lc(days=30)], failed={"logs": NO_BUCKET}), "error"),
    ("BACKUP-AWS-S3-OLDEST-OBJECT", AWS, _versions(("db.sql", 3.5, True)), "pass"),
    ("BACKUP-AWS-S3-OLDEST-OBJECT", AWS, _versions(), "pass"),
    ("BACKUP-AWS-S3-OLDEST-OBJECT", AWS, _versions(("db.sql", 400.5, False), ("db2.sql", 90.0, True)), "fail"),
    ("BACKUP-AWS-S3-OLDEST-OBJECT", AWS, _versions(("db.sql", 90.0, True), count=100000, truncated=True), "fail"),
    ("BACKUP-AWS-S3-OLDEST-OBJECT", AWS, _versions(("db.sql", 3.0, True), count=100000, truncated=True), "error"),
    ("BACKUP-AWS-PLAN-RETENTION", AWS, {"aws_backup.plans": _regional(_plan("eu-north-1", _plan_rule(30, ("eu-west-1", 30))))}, "pass"),
    ("BACKUP-AWS-PLAN-RETENTION", AWS, {"aws_backup.plans": _regional(regions=("eu-north-1",))}, "pass"),
    ("BACKUP-AWS-PLAN-RETENTION", AWS, {"aws_backup.plans": _regional(_plan("eu-north-1", _plan_rule(None, ("eu-west-1", None)), {**_plan_rule(90, ("eu-west-1", 60)), "name": "weekly"}))}, "fail"),
    ("BACKUP-AWS-PLAN-RETENTION", AWS, {"aws_backup.plans": NONE_AUDITED}, "skipped"),
    ("BACKUP-AWS-PLAN-RETENTION", AWS, {"aws_backup.plans": _regional(failed={"us-west-2": REFUSED})}, "error"),
    ("BACKUP-AWS-BOOKKEEPING-RETENTION", AWS, _retention("bookkeeping", []), "pass"),
    ("BACKUP-AWS-BOOKKEEPING-RETENTION", AWS, _retention("bookkeeping", [_lc(days=2557)], lock=_lock("COMPLIANCE", 2557)), "pass"),
    ("BACKUP-AWS-BOOKKEEPING-RETENTION", AWS, _retention("bookkeeping", [_lc("tmp", scope="prefix 'tmp/'", days=30), _lc("end", date="2030-01-01T00:00:00Z"), _lc("nc", noncurrent=90)],
                                                         versioning="Enabled", lock=_lock("GOVERNANCE", 1827)), "fail"),
    ("BACKUP-AWS-BOOKKEEPING-RETENTION", AWS, _retention("backup", []), "skipped"),
    ("BACKUP-AWS-BOOKKEEPING-RETENTION", AWS, _retention("bookkeeping", [], failed={"logs": NO_BUCKET}), "error"),
    # access
    ("ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", AWS, _pab(PAB, ()), "pass"),
    ("ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", AWS, _pab((), PAB[:3]), "fail"),
    ("ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", AWS, _pab((), ()), "fail"),
    ("ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", AWS, _pab(PAB, PAB, failed={"logs": NO_BUCKET}), "error"),
    ("ACCESS-AWS-S3-PUBLIC-ACL", AWS, _acl(), "pass"),
    ("ACCESS-AWS-S3-PUBLIC-ACL", AWS, _acl((ALL_USERS, "READ"), (AUTHENTICATED, "WRITE")), "fail"),
    ("ACCESS-AWS-S3-PUBLIC-POLICY", AWS, _policy(None), "pass"),
    ("ACCESS-AWS-S3-PUBLIC-POLICY", AWS, _policy(OPEN_POLICY), "fail"),
    ("ACCESS-AWS-S3-PUBLIC-POLICY", AWS, _policy("{not json"), "error"),
    ("ACCESS-AWS-SG-OPEN-ADMIN-PORTS", AWS, _sg(_perm("tcp", 22, 22, "10.0.0.0/8"), _perm("tcp", 443, 443, "0.0.0.0/0")), "pass"),
    ("ACCESS-AWS-SG-OPEN-ADMIN-PORTS", AWS, _sg(_perm("-1", None, None, "0.0.0.0/0"), _perm("tcp", 22, 22, "::/0"), _perm("tcp", 5432, 5432, "::/0")), "fail"),
    ("ACCESS-AWS-SG-OPEN-ADMIN-PORTS", AWS, {"ec2.security_groups": NONE_AUDITED}, "skipped"),
    ("ACCESS-AWS-SG-OPEN-ADMIN-PORTS", AWS, {"ec2.security_groups": _regional(failed={"us-west-2": REFUSED})}, "error"),
    ("ACCESS-AWS-RDS-PUBLIC", AWS, {"rds.instances": _regional(_db("orders", "eu-north-1"))}, "pass"),
    ("ACCESS-AWS-RDS-PUBLIC", AWS, {"rds.instances": _regional(_db("orders", "eu-north-1", public=True))}, "fail"),
    ("ACCESS-AWS-RDS-PUBLIC", AWS, {"rds.instances": NONE_AUDITED}, "skipped"),
    ("ACCESS-AWS-RDS-PUBLIC", AWS, {"rds.instances": _regional(failed={"us-west-2": THROTTLED})}, "error"),
    ("ACCESS-AWS-S3-ENCRYPTION", AWS, _encryption(web_assets=["AES256"]), "pass"),
    ("ACCESS-AWS-S3-ENCRYPTION", AWS, _encryption(web_assets=["aws:kms"], logs=[]), "fail"),
    ("ACCESS-AWS-EBS-ENCRYPTION", AWS, _volumes(("vol-1", True, ["i-0a74"])), "pass"),
    ("ACCESS-AWS-EBS-ENCRYPTION", AWS, _volumes(("vol-1", True, []), ("vol-2", False, ["i-0a74"]), ("vol-3", False, [])), "fail"),
    ("ACCESS-AWS-EBS-ENCRYPTION", AWS, _volumes(("vol-2", False, []), failed={"us-west-2": THROTTLED}), "fail"),
    ("ACCESS-AWS-EBS-ENCRYPTION", AWS, {"ec2.volumes": NONE_AUDITED}, "skipped"),
    ("ACCESS-AWS-EBS-ENCRYPTION", AWS, _volumes(("vol-1", True, []), failed={"us-west-2": THROTTLED}), "error"),
    ("ACCESS-AWS-RDS-ENCRYPTION", AWS, {"rds.instances": _regional(_db("orders", "eu-north-1"))}, "pass"),
    ("ACCESS-AWS-RDS-ENCRYPTION", AWS, {"rds.instances": _regional(_db("orders", "eu-north-1", encrypted=False), _db("crm", "us-west-2", encrypted=False))}, "fail"),
    ("ACCESS-AWS-RDS-ENCRYPTION", AWS, {"rds.instances": NONE_AUDITED}, "skipped"),
]

CASES = TLS_CASES + PG_CASES + MYSQL_CASES + APP_CASES + AWS_CASES


@pytest.mark.parametrize("cid, target, values, expected", CASES, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)])
def test_service_controls_give_every_message_in_both_languages(runner: Runner, registry: Registry, cid: str, target: Target, values: dict[str, Any], expected: str) -> None:
    f = _judge(runner, registry, cid, target, values)
    assert f.status.value == expected, f.message
    assert_translated(f)


def test_every_control_of_the_service_modules_has_a_case_with_a_failing_branch(registry: Registry) -> None:
    """Derived from the registry: a control added to one of these modules without a case here fails."""
    defined = {c.id for c in registry.controls.values() if c.module in MODULES and c.module not in UNTRANSLATED_MODULES}
    covered = {cid for cid, *_ in CASES}
    assert defined == covered, (sorted(defined - covered), sorted(covered - defined))
    assert all(any(c == cid and e == "fail" for c, _, _, e in CASES) for cid in defined)
    assert {c.module for c in registry.controls.values() if c.module in MODULES} == set(MODULES)


@pytest.mark.parametrize("region, allowed, countries", [
    ("eu-north-1", ["eu-north-1"], ["SE"]),
    ("us-east-1", ["eu-north-1"], ["SE"]),
    ("eu-west-2", ["eu-north-1", "eu-west-2"], ["SE"]),
    ("ap-nowhere-9", ["ap-nowhere-9"], ["SE"]),
])
def test_aws_regions_are_described_in_both_languages(region: str, allowed: list[str], countries: list[str]) -> None:
    """Every branch of region_judged (the policy's own lists, not only baseline-eu's) gives a Swedish text with the same region and country."""
    ok, why = region_judged(region, {"allowed_aws_regions": allowed, "allowed_countries": countries})
    assert region_allowed(region, {"allowed_aws_regions": allowed, "allowed_countries": countries}) == (ok, why.en)
    assert why.sv.startswith(region) and re.findall(r"\d+|[A-Z]{2}", why.sv) == re.findall(r"\d+|[A-Z]{2}", why.en)
    assert not ENGLISH_WORDS.findall(_unquoted(why.sv)), why.sv
