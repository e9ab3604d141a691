"""MySQL and MariaDB: account authentication, wildcard-host accounts, required TLS, read through a read-only SQL session.

Two facts:

* ``mysql.variables``: ``SHOW GLOBAL VARIABLES`` for TLS, secure transport
  and the bind address; any account may run it.
* ``mysql.accounts``: every account's authentication methods, whether its
  password is empty, whether it is locked, its global privileges and the
  TLS it requires (``ssl_type``: REQUIRE SSL/X509/ISSUER/SUBJECT). On
  MariaDB 10.4 and later from ``mysql.global_priv`` (which also holds the
  alternatives of ``IDENTIFIED VIA a OR b``), on MySQL and older MariaDB
  from ``mysql.user``; needs ``SELECT`` on that table. The table holds
  password hashes: they are read into memory only to tell *empty* from
  *set*, and what is recorded (evidence and fact) is ``user@host: plugin
  (password set|empty), locked, N global privileges``, never a hash.

An authentication method *stores a password* when its plugin is one of
:data:`PASSWORD_PLUGINS` (or an unknown plugin with a non-empty
authentication string). ``mysql_native_password`` stores an unsalted
double SHA-1 that is cracked at billions of guesses per second and works
as a password in its own right; ``caching_sha2_password`` (salted,
iterated SHA-256) and ``ed25519`` are accepted by default. Socket, GSSAPI
and PAM logins store no password and are not judged here. MariaDB's
default ``root@localhost`` (``unix_socket OR mysql_native_password
'invalid'``) stores no usable password: ``invalid`` is not a hash any
password can match.

MariaDB has no ``caching_sha2_password`` server plugin; accounts carrying it
(migrated from MySQL) are still classified from the grant table.

>>> password_state("mysql_native_password", "invalid")
'invalid'
>>> password_state("ed25519", "")
'empty'
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, Text, collector, control, failed, parameter, passed, sv, unverified
from auditor.transports.db import QueryResult, recorded_query
from checks.db_postgres import DB_LISTEN_ADDRESSES_ALLOWED, judge_listen  # noqa: F401 - the shared parameter is declared there

MYSQL_AUTH_PLUGINS_ALLOWED = parameter(
    "mysql_auth_plugins_allowed", list, ["caching_sha2_password", "ed25519", "parsec"],
    "MySQL/MariaDB authentication plugins accepted for accounts that log in with a password "
    "(mysql_native_password is SHA-1 based and not accepted by default).",
)

MYSQL_WILDCARD_ACCOUNTS_ALLOWED = parameter(
    "mysql_wildcard_accounts_allowed", list, [],
    "MySQL/MariaDB accounts accepted at a wildcard or pattern host ('%', '10.0.0.%', '%.example.se', a netmask) or without a "
    "user name, spelled user@host exactly as the server stores them (e.g. replica@10.0.0.%; an anonymous account is @host).",
)

PASSWORD_PLUGINS = ("mysql_native_password", "mysql_old_password", "sha256_password", "caching_sha2_password", "ed25519", "client_ed25519", "parsec")
NO_PASSWORD_PLUGINS = ("unix_socket", "auth_socket", "gssapi", "authentication_kerberos", "pam", "auth_pam", "authentication_pam", "authentication_ldap_sasl", "authentication_ldap_simple", "named_pipe")
WILDCARD_HOSTS = ("%", "0.0.0.0/0.0.0.0", "0.0.0.0/0", "::/0")
SOCKET_ONLY_PLUGINS = ("unix_socket", "auth_socket", "named_pipe")  # no login over TCP
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# MariaDB's global_priv "ssl_type" (enum SSL_type) and MySQL's mysql.user.ssl_type.
SSL_TYPES = {0: None, 1: "SSL", 2: "X509", 3: "SPECIFIED", "": None, "ANY": "SSL", "X509": "X509", "SPECIFIED": "SPECIFIED"}
_PATTERN = re.compile(r"(?<!\\)[%_]")
SHOWN = 20
MAX_ROWS = 100000
_NATIVE_HASH = re.compile(r"\*[0-9A-Fa-f]{40}")

# MariaDB privilege bits of global_priv's "access" (sql/privilege.h).
MARIADB_PRIVILEGE_BITS = (
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "RELOAD", "SHUTDOWN", "PROCESS", "FILE", "GRANT OPTION", "REFERENCES",
    "INDEX", "ALTER", "SHOW DATABASES", "SUPER", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "REPLICATION SLAVE",
    "BINLOG MONITOR", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "CREATE USER", "EVENT", "TRIGGER",
    "CREATE TABLESPACE", "DELETE HISTORY", "SET USER", "FEDERATED ADMIN", "CONNECTION ADMIN", "READ_ONLY ADMIN",
    "REPLICATION SLAVE ADMIN", "REPLICATION MASTER ADMIN", "BINLOG ADMIN", "BINLOG REPLAY", "SLAVE MONITOR",
)

VARIABLES = ("have_ssl", "have_openssl", "require_secure_transport", "ssl_cert", "ssl_key", "tls_version", "bind_address", "skip_networking", "version")
VARIABLES_SQL = "SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + ", ".join(f"'{v}'" for v in VARIABLES) + ")"
GLOBAL_PRIV_SQL = "SELECT User, Host, Priv FROM mysql.global_priv ORDER BY User, Host"
USER_SQL = "SELECT * FROM mysql.user"

PRIV_ANY = "nothing beyond the login (SHOW GLOBAL VARIABLES needs no privilege)"
PRIV_GLOBAL_PRIV = "SELECT on mysql.global_priv"
PRIV_USER = "SELECT on mysql.user"


def _mysql_only(ctx: Context) -> None:
    if ctx.target.get("engine") not in ("mysql", "mariadb"):
        raise NotApplicable(f"the database engine is {ctx.target.get('engine')}; MySQL/MariaDB checks do not apply")


def password_state(plugin: str, auth: str | None) -> str:
    """``set``, ``empty``, ``invalid`` (no password can match) or ``none`` (the plugin stores no password)."""
    auth = auth or ""
    if plugin in NO_PASSWORD_PLUGINS or (plugin not in PASSWORD_PLUGINS and not auth):
        return "none"
    if auth == "":
        return "empty"
    if plugin == "mysql_native_password" and not _NATIVE_HASH.fullmatch(auth):
        return "invalid"
    return "set"


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def tls_requirement(ssl_type: Any, issuer: Any = "", subject: Any = "", cipher: Any = "") -> str | None:
    """What an account asks of its connections: None (nothing), ``SSL``, ``X509``, ``ISSUER``, ``SUBJECT`` or ``CIPHER`` (each needs TLS).

    ``ssl_type`` is MariaDB's global_priv number (absent: 0) or MySQL's
    mysql.user enum; an unknown value comes back as ``unknown ...``.

    >>> tls_requirement(3, subject="/CN=app"), tls_requirement("ANY"), tls_requirement(""), tls_requirement(None)
    ('SUBJECT', 'SSL', None, None)
    """
    key = _text(ssl_type).upper() if isinstance(ssl_type, (str, bytes, bytearray)) else (0 if ssl_type is None else ssl_type)
    if key not in SSL_TYPES:
        return f"unknown ssl_type {_text(ssl_type)!r}"
    kind = SSL_TYPES[key]
    if kind != "SPECIFIED":
        return kind
    return "SUBJECT" if _text(subject) else "ISSUER" if _text(issuer) else "CIPHER" if _text(cipher) else "SSL"


def is_pattern_host(host: str) -> bool:
    """Does the host part match more than one host: '%', '_' wildcards, a netmask or CIDR range?

    >>> [is_pattern_host(h) for h in ("%", "10.%", "%.example.se", "db_host", "10.0.0.0/255.255.255.0", "db1.example.se", "localhost")]
    [True, True, True, True, True, False, False]
    """
    return bool(_PATTERN.search(host)) or "/" in host


def is_loopback_host(host: str) -> bool:
    """Can the account only be reached from this machine (localhost, 127.x.y.z, ::1)?"""
    h = host.lower()
    return h in LOOPBACK_HOSTS or bool(re.fullmatch(r"127\.\d{1,3}\.\d{1,3}\.\d{1,3}", h))


def _version_tuple(text: str) -> tuple[int, ...]:
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


# -- collectors --------------------------------------------------------------------


@collector("mysql.variables", kinds=("database",), transport="db", timeout=20)
def mysql_variables(ctx: Context) -> dict[str, Any]:
    _mysql_only(ctx)
    result = recorded_query(ctx, VARIABLES_SQL, max_rows=len(VARIABLES), privilege=PRIV_ANY)
    session = ctx.conn.session()
    return {"variables": {str(k).lower(): str(v) for k, v in result.rows}, "server": session["engine"], "server_version": session["server_version"], "session_tls": session["tls"]}


def _global_priv_accounts(result: QueryResult) -> list[dict[str, Any]]:
    accounts = []
    for user, host, priv in result.rows:
        try:
            doc = json.loads(priv) if priv else {}
        except (TypeError, ValueError):
            raise CollectError(Reason.PARSE_ERROR, f"mysql.global_priv: the Priv column of {user}@{host} is not JSON") from None
        methods = []
        primary = {"plugin": doc.get("plugin", "mysql_native_password"), "authentication_string": doc.get("authentication_string", "")}
        for alt in doc.get("auth_or") or [{}]:
            method = primary if not alt else {"plugin": alt.get("plugin", ""), "authentication_string": alt.get("authentication_string", "")}
            methods.append({"plugin": method["plugin"], "password": password_state(method["plugin"], method["authentication_string"])})
        access = int(doc.get("access", 0) or 0)
        privileges = [name for bit, name in enumerate(MARIADB_PRIVILEGE_BITS) if access >> bit & 1]
        privileges += [f"bit {bit}" for bit in range(len(MARIADB_PRIVILEGE_BITS), 64) if access >> bit & 1]
        accounts.append({
            "account": f"{user}@{host}", "user": user, "host": host, "role": bool(doc.get("is_role")), "locked": bool(doc.get("account_locked")),
            "methods": methods, "global_privileges": privileges,
            "tls_required": tls_requirement(doc.get("ssl_type"), doc.get("x509_issuer"), doc.get("x509_subject"), doc.get("ssl_cipher")),
        })
    return accounts


def _user_table_accounts(result: QueryResult) -> list[dict[str, Any]]:
    cols = [c.lower() for c in result.columns]
    priv_cols = [(i, c[: -len("_priv")]) for i, c in enumerate(cols) if c.endswith("_priv")]
    accounts = []
    for row in result.rows:
        rec = dict(zip(cols, row))
        plugin = str(rec.get("plugin") or "mysql_native_password")
        auth = rec.get("authentication_string")
        if auth in (None, "") and rec.get("password"):  # MySQL < 5.7 / MariaDB < 10.4 keep native hashes in Password
            auth = rec.get("password")
        auth = auth.decode("utf-8", "replace") if isinstance(auth, (bytes, bytearray)) else (auth or "")
        privileges = [name.replace("_", " ").upper() for i, name in priv_cols if str(row[i]).upper() == "Y"]
        accounts.append({
            "account": f"{rec.get('user')}@{rec.get('host')}", "user": rec.get("user"), "host": rec.get("host"),
            "role": str(rec.get("is_role", "N")).upper() == "Y", "locked": str(rec.get("account_locked", "N")).upper() == "Y",
            "methods": [{"plugin": plugin, "password": password_state(plugin, auth)}], "global_privileges": privileges,
            "tls_required": tls_requirement(rec.get("ssl_type"), rec.get("x509_issuer"), rec.get("x509_subject"), rec.get("ssl_cipher")),
        })
    return accounts


def _describe_account(a: Mapping[str, Any]) -> str:
    methods = " or ".join(f"{m['plugin']} (password {m['password']})" if m["password"] != "none" else f"{m['plugin']} (no stored password)" for m in a["methods"])
    flags = (", ROLE" if a["role"] else "") + (", LOCKED" if a["locked"] else "") + (f", REQUIRE {a['tls_required']}" if a.get("tls_required") else "")
    privs = f", {len(a['global_privileges'])} global privilege(s): {', '.join(a['global_privileges'][:8])}{' ...' if len(a['global_privileges']) > 8 else ''}" if a["global_privileges"] else ""
    return f"{a['account']}: {methods}{flags}{privs}"


@collector("mysql.accounts", kinds=("database",), transport="db", timeout=30)
def mysql_accounts(ctx: Context) -> list[dict[str, Any]]:
    _mysql_only(ctx)
    session = ctx.conn.session()
    use_global_priv = session["engine"] == "mariadb" and _version_tuple(session["server_version"] or "") >= (10, 4, 0)
    holder: dict[str, list[dict[str, Any]]] = {}

    def show(result: QueryResult) -> list[str]:  # never a hash: built from the parsed accounts only
        holder["accounts"] = accounts = _global_priv_accounts(result) if use_global_priv else _user_table_accounts(result)
        return [_describe_account(a) for a in accounts] + ["(authentication strings are read only to tell empty from set; they are never shown)"]

    if use_global_priv:
        result = recorded_query(ctx, GLOBAL_PRIV_SQL, max_rows=MAX_ROWS, privilege=PRIV_GLOBAL_PRIV, show=show, redacted=True)
    else:
        result = recorded_query(ctx, USER_SQL, max_rows=MAX_ROWS, privilege=PRIV_USER, show=show, redacted=True)
    if result.truncated:
        raise CollectError(Reason.PARSE_ERROR, f"more than {MAX_ROWS} accounts: the list was cut, so no verdict can rest on it")
    return holder["accounts"]


# -- controls ----------------------------------------------------------------------

_DB: dict[str, Any] = dict(kinds=("database",))


def _login_accounts(accounts: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [a for a in accounts if not a["role"] and not a["locked"]]


@control(
    "PWHASH-MYSQL-AUTH-PLUGINS", family="password_hashing", **_DB, severity="high", facts=("mysql.accounts",), params=("mysql_auth_plugins_allowed",),
    references=("GDPR Art. 32(1)(a)", "MySQL 8.0 Reference Manual 8.4.1 Authentication Plugins", "MariaDB docs: Authentication Plugin - ed25519"),
    title="MySQL/MariaDB accounts store passwords with a strong authentication plugin",
    title_sv="MySQL/MariaDB-konton lagrar lösenord med ett starkt autentiseringsinsticksprogram",
    rationale_sv="mysql_native_password lagrar SHA1(SHA1(lösenord)) utan salt: lika lösenord får lika hashar, grafikkort provar miljarder per sekund, och hashen räcker i sig för att logga in. caching_sha2_password och ed25519 lagrar saltade former eller publika nycklar som inte har de bristerna.",
    remediation="Move the accounts to caching_sha2_password (MySQL) or ed25519 (MariaDB) with ALTER USER ... IDENTIFIED WITH.",
    remediation_sv="Byt kontona till caching_sha2_password (MySQL) eller ed25519 (MariaDB) med ALTER USER ... IDENTIFIED WITH.",
    plain="{n} database(s) have accounts with a weak password plugin",
    plain_sv="{n} databas(er) har konton med ett svagt insticksprogram för lösenord",
    rationale="mysql_native_password stores SHA1(SHA1(password)) without salt: identical passwords have identical hashes, GPUs test billions "
    "per second, and the hash itself is enough to log in. caching_sha2_password and ed25519 store salted or public-key forms that are not.",
)
def mysql_auth_plugins(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    accounts = facts["mysql.accounts"]
    allowed = set(params["mysql_auth_plugins_allowed"])
    counts: dict[str, int] = {}
    weak = []
    for a in _login_accounts(accounts):
        for m in a["methods"]:
            if m["password"] in ("set", "empty"):
                counts[m["plugin"]] = counts.get(m["plugin"], 0) + 1
                if m["plugin"] not in allowed:
                    weak.append({"account": a["account"], "plugin": m["plugin"]})
    locked_weak = sorted({a["account"] for a in accounts if a["locked"] and not a["role"] and any(m["password"] == "set" and m["plugin"] not in allowed for m in a["methods"])})
    details = {"password_plugins": counts, "accounts": len(_login_accounts(accounts)), "locked_with_weak_plugin": locked_weak}
    if weak:
        listing = ", ".join(f"{w['account']} ({w['plugin']})" for w in weak[:SHOWN])
        return failed(sv(f"{len(weak)} account login method(s) store the password with a plugin the policy does not accept: {listing}",
                         f"{len(weak)} inloggningsmetod(er) för konton lagrar lösenordet med ett insticksprogram som policyn inte godtar: {listing}"), weak=weak, **details)
    if not counts:
        return passed(sv("No unlocked account logs in with a stored password (socket, GSSAPI or PAM logins only)",
                         "Inget olåst konto loggar in med ett lagrat lösenord (bara inloggning via socket, GSSAPI eller PAM)"), **details)
    plugins = ", ".join(sorted(counts))
    return passed(sv(f"Every account that logs in with a password uses an accepted plugin ({plugins})",
                     f"Varje konto som loggar in med lösenord använder ett godtaget insticksprogram ({plugins})"), **details)


@control(
    "PWHASH-MYSQL-EMPTY-PASSWORDS", family="password_hashing", **_DB, severity="critical", facts=("mysql.accounts",),
    references=("GDPR Art. 32(1)(b)", "CIS Oracle MySQL 8.0 Benchmark 7.3", "MariaDB docs: mariadb-secure-installation"),
    title="No MySQL/MariaDB account has an empty password",
    title_sv="Inget MySQL/MariaDB-konto har tomt lösenord",
    rationale_sv="Ett konto med ett lösenordsbaserat insticksprogram och en tom autentiseringssträng låter alla som når servern (från de värdar kontot anger) logga in utan lösenord.",
    remediation="Give each such account a strong password, or drop it if it is not needed.",
    remediation_sv="Ge varje sådant konto ett starkt lösenord, eller ta bort det om det inte behövs.",
    plain="{n} database(s) have accounts with an empty password",
    plain_sv="{n} databas(er) har konton med tomt lösenord",
    rationale="An account with a password-based plugin and an empty authentication string lets anyone who can reach the server "
    "(from the hosts the account names) log in without any password.",
)
def mysql_empty_passwords(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    accounts = facts["mysql.accounts"]
    empty = [a["account"] for a in _login_accounts(accounts) if any(m["password"] == "empty" for m in a["methods"])]
    locked_empty = [a["account"] for a in accounts if a["locked"] and any(m["password"] == "empty" for m in a["methods"])]
    details = {"locked_with_empty_password": locked_empty}
    if empty:
        return failed(sv(f"{len(empty)} account(s) log in with an empty password: {', '.join(empty[:SHOWN])}",
                         f"{len(empty)} konto(n) loggar in med tomt lösenord: {', '.join(empty[:SHOWN])}"), accounts=empty, **details)
    n = len(_login_accounts(accounts))
    return passed(sv(f"None of the {n} unlocked account(s) has an empty password", f"Inget av de {n} olåsta kontona har tomt lösenord"), **details)


def _network_login(a: Mapping[str, Any]) -> bool:
    """Can the account log in over TCP at all (a method other than a socket login or an 'invalid' password)?"""
    return any(m["password"] in ("set", "empty") or (m["password"] == "none" and m["plugin"] not in SOCKET_ONLY_PLUGINS) for m in a["methods"])


def _why_wild(a: Mapping[str, Any]) -> str:
    return _why_wild_text(a).en


def _why_wild_text(a: Mapping[str, Any]) -> Text:
    if a["user"] == "":
        if is_pattern_host(a["host"]):
            return sv(f"anonymous (any user name), at host pattern '{a['host']}'", f"anonymt (vilket användarnamn som helst), från värdmönstret '{a['host']}'")
        return sv("anonymous (any user name)", "anonymt (vilket användarnamn som helst)")
    return sv("any host", "vilken värd som helst") if a["host"] in WILDCARD_HOSTS else sv(f"host pattern '{a['host']}'", f"värdmönstret '{a['host']}'")


@control(
    "ACCESS-MYSQL-WILDCARD-HOSTS", family="access", **_DB, severity="high", facts=("mysql.accounts",), params=("mysql_wildcard_accounts_allowed",),
    references=("GDPR Art. 32(1)(b)", "CIS Oracle MySQL 8.0 Benchmark 7.5 and 7.6", "CIS MariaDB Benchmark 7.x", "MySQL 8.0 Reference Manual 6.2.4 Specifying Account Names"),
    title="No MySQL/MariaDB account logs in from a wildcard host or without a user name",
    title_sv="Inget MySQL/MariaDB-konto loggar in från en jokerteckensvärd eller utan användarnamn",
    rationale_sv="Ett konto på värden '%' eller ett mönster ('10.%', '%.example.se') tar emot inloggningar från varje adress som mönstret matchar, och ett anonymt konto ('') godtar vilket användarnamn som helst: ett gissat eller läckt lösenord når allt som kontot får läsa, med eller utan globala behörigheter.",
    remediation="Drop the anonymous accounts and recreate each wildcard account for the exact hosts that need it.",
    remediation_sv="Ta bort de anonyma kontona och skapa om varje konto med jokertecken för exakt de värdar som behöver det.",
    plain="{n} database(s) have accounts that log in from any host or without a user name",
    plain_sv="{n} databas(er) har konton som loggar in från vilken värd som helst eller utan användarnamn",
    rationale="An account at host '%' or a pattern ('10.%', '%.example.se') accepts logins from every address the pattern matches, and an "
    "anonymous account ('') accepts any user name: one guessed or leaked password reaches whatever the account may read, global privileges or not.",
)
def mysql_wildcard_hosts(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    accounts = facts["mysql.accounts"]
    allowed = {str(p) for p in params["mysql_wildcard_accounts_allowed"]}
    wild = [a for a in _login_accounts(accounts) if a["user"] == "" or is_pattern_host(a["host"])]
    accepted = [a for a in wild if a["account"] in allowed]
    offenders = [a for a in wild if a["account"] not in allowed]
    details = {
        "wildcard_accounts": [a["account"] for a in wild], "accepted": [a["account"] for a in accepted],
        "locked_wildcard_accounts": [a["account"] for a in accounts if a["locked"] and not a["role"] and (a["user"] == "" or is_pattern_host(a["host"]))],
    }
    if offenders:
        def privileges(a: Mapping[str, Any], label: str) -> str:
            return f", {label}: " + ", ".join(a["global_privileges"][:6]) + (" ..." if len(a["global_privileges"]) > 6 else "") if a["global_privileges"] else ""

        listing = sv("; ".join(f"{a['account']} ({_why_wild_text(a).en}{privileges(a, 'global privileges')})" for a in offenders[:SHOWN]),
                     "; ".join(f"{a['account']} ({_why_wild_text(a).sv}{privileges(a, 'globala privilegier')})" for a in offenders[:SHOWN]))
        more = sv(f" (and {len(offenders) - SHOWN} more)", f" (och {len(offenders) - SHOWN} till)") if len(offenders) > SHOWN else sv("", "")
        return failed(
            sv(f"{len(offenders)} account(s) log in from a wildcard host or without a user name: {listing.en}{more.en}",
               f"{len(offenders)} konto(n) loggar in från en jokerteckenvärd eller utan användarnamn: {listing.sv}{more.sv}"),
            offenders=[{"account": a["account"], "why": _why_wild(a), "global_privileges": a["global_privileges"]} for a in offenders], **details,
        )
    shown = ", ".join(details["accepted"][:SHOWN])
    note = sv(f" ({len(accepted)} accepted by the policy: {shown})", f" ({len(accepted)} godtas av policyn: {shown})") if accepted else sv("", "")
    return passed(sv(f"Every unlocked account names its user and a single host{note.en}", f"Varje olåst konto anger sin användare och en enda värd{note.sv}"), **details)


@control(
    "TLS-MYSQL-ACCOUNT-TLS", family="tls", **_DB, severity="high", facts=("mysql.variables", "mysql.accounts"),
    references=("GDPR Art. 32(1)(a)", "MySQL 8.0 Reference Manual 15.7.1.3 CREATE USER: SSL/TLS Options", "MariaDB docs: Securing Connections for Client and Server"),
    title="Every MySQL/MariaDB account that logs in over the network must use TLS",
    title_sv="Varje MySQL/MariaDB-konto som loggar in över nätet måste använda TLS",
    rationale_sv="När require_secure_transport är avslaget är det bara kontots egen REQUIRE SSL, X509, ISSUER eller SUBJECT som får servern att neka det en anslutning utan TLS; alla andra kontons frågor, svar och (för äldre insticksprogram) lösenord går okrypterade över nätet.",
    remediation="Turn on require_secure_transport, or give each network account REQUIRE SSL with ALTER USER.",
    remediation_sv="Slå på require_secure_transport, eller ge varje konto som loggar in över nätet REQUIRE SSL med ALTER USER.",
    plain="{n} database(s) have network accounts that may connect without TLS",
    plain_sv="{n} databas(er) har konton som kan ansluta över nätet utan TLS",
    rationale="With require_secure_transport off, only an account's own REQUIRE SSL, X509, ISSUER or SUBJECT makes the server refuse it a "
    "connection without TLS; any other account's queries, results and (for older plugins) password cross the network in clear text.",
)
def mysql_account_tls(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    variables = facts["mysql.variables"]["variables"]
    accounts = facts["mysql.accounts"]
    network = [a for a in _login_accounts(accounts) if _network_login(a) and not is_loopback_host(a["host"])]
    details = {
        "require_secure_transport": variables.get("require_secure_transport"),
        "network_accounts": [{"account": a["account"], "tls_required": a.get("tls_required")} for a in network],
        "loopback_only": sorted(a["account"] for a in _login_accounts(accounts) if _network_login(a) and is_loopback_host(a["host"])),
    }
    if (variables.get("require_secure_transport") or "").upper() in ("ON", "1"):
        return passed(sv(f"require_secure_transport is ON: every TCP connection must use TLS, whatever the account ({len(network)} network account(s))",
                         f"require_secure_transport är ON: varje TCP-anslutning måste använda TLS, oavsett konto ({len(network)} konto(n) över nätet)"), **details)
    setting = (sv(f"require_secure_transport is {variables['require_secure_transport']}", f"require_secure_transport är {variables['require_secure_transport']}")
               if variables.get("require_secure_transport") else sv("the server has no require_secure_transport", "servern saknar require_secure_transport"))
    unknown = [a for a in network if str(a.get("tls_required") or "").startswith("unknown")]
    clear = [a for a in network if not a.get("tls_required")]
    if clear:
        listing = ", ".join(a["account"] for a in clear[:SHOWN])
        more = sv(f" (and {len(clear) - SHOWN} more)", f" (och {len(clear) - SHOWN} till)") if len(clear) > SHOWN else sv("", "")
        return failed(sv(f"{setting.en} and {len(clear)} account(s) that log in over the network do not require TLS (no REQUIRE SSL/X509/ISSUER/SUBJECT): {listing}{more.en}",
                         f"{setting.sv} och {len(clear)} konto(n) som loggar in över nätet kräver inte TLS (inget REQUIRE SSL/X509/ISSUER/SUBJECT): {listing}{more.sv}"),
                      accounts=[a["account"] for a in clear], **details)
    if unknown:
        named = ", ".join(a["account"] + " (" + a["tls_required"] + ")" for a in unknown[:SHOWN])
        return unverified(sv(f"{setting.en}; the TLS requirement of {named} is not one this auditor knows",
                             f"{setting.sv}; TLS-kravet för {named} är inte något som granskningsverktyget känner till"), reason="incomplete_evidence", **details)
    if not network:
        return passed(sv(f"{setting.en}, but no unlocked account logs in over the network (loopback or socket logins only)",
                         f"{setting.sv}, men inget olåst konto loggar in över nätet (bara inloggning via loopback eller socket)"), **details)
    listing = ", ".join(f"{a['account']} (REQUIRE {a['tls_required']})" for a in network[:SHOWN])
    return passed(sv(f"{setting.en}, but each of the {len(network)} account(s) that log in over the network requires TLS: {listing}",
                     f"{setting.sv}, men vart och ett av de {len(network)} konton som loggar in över nätet kräver TLS: {listing}"), **details)


@control(
    "ACCESS-MYSQL-BIND-ADDRESS", family="access", **_DB, severity="medium", facts=("mysql.variables",), params=("db_listen_addresses_allowed",),
    references=("GDPR Art. 32(1)(b)", "CIS Oracle MySQL 8.0 Benchmark 9.x", "MariaDB docs: Configuring MariaDB for Remote Client Access"),
    title="MySQL/MariaDB listens only on the addresses the policy allows",
    title_sv="MySQL/MariaDB lyssnar bara på de adresser som policyn tillåter",
    rationale_sv="bind_address avgör vilka nätverk som når servern; '*' eller ett tomt värde exponerar den på alla gränssnitt, även de publika.",
    remediation="Set bind_address to loopback or to the private addresses the policy allows, and restart the server.",
    remediation_sv="Sätt bind_address till loopback eller till de privata adresser som policyn tillåter och starta om servern.",
    plain="{n} database(s) listen on addresses the policy does not allow",
    plain_sv="{n} databas(er) lyssnar på adresser som policyn inte tillåter",
    rationale="bind_address decides which networks can reach the server; '*' or an empty value exposes it on every interface, "
    "public ones included.",
)
def mysql_bind_address(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    variables = facts["mysql.variables"]["variables"]
    if variables.get("skip_networking", "OFF").upper() == "ON":
        return passed(sv("skip_networking is ON: the server accepts no TCP connections", "skip_networking är ON: servern tar inte emot några TCP-anslutningar"), skip_networking="ON")
    value = variables.get("bind_address")
    if value is None:
        return unverified(sv("The server reports no bind_address variable; where it listens cannot be told",
                             "Servern redovisar ingen bind_address-variabel; var den lyssnar går inte att avgöra"), reason="incomplete_evidence")
    addresses = [a.strip() for a in value.split(",")] if value.strip() else ["*"]
    return judge_listen(addresses, list(params["db_listen_addresses_allowed"]), f"bind_address ({value!r})")


@control(
    "TLS-MYSQL-REQUIRE-SECURE-TRANSPORT", family="tls", **_DB, severity="high", facts=("mysql.variables",),
    references=("GDPR Art. 32(1)(a)", "MySQL 8.0 Reference Manual 6.3.1 Configuring MySQL to Use Encrypted Connections", "MariaDB docs: Secure Connections Overview"),
    title="MySQL/MariaDB refuses unencrypted TCP connections (require_secure_transport)",
    title_sv="MySQL/MariaDB vägrar okrypterade TCP-anslutningar (require_secure_transport)",
    rationale_sv="Även med TLS konfigurerat kan klienter ansluta utan det om servern inte kräver det; då går frågor, svar med personuppgifter och (för äldre insticksprogram) lösenordsutbyten okrypterade över nätet.",
    remediation="Set require_secure_transport = ON in the server configuration.",
    remediation_sv="Sätt require_secure_transport = ON i serverns konfiguration.",
    plain="{n} database(s) accept unencrypted TCP connections",
    plain_sv="{n} databas(er) tar emot okrypterade TCP-anslutningar",
    rationale="Even with TLS configured, clients may connect without it unless the server requires it; then queries, "
    "results with personal data and (for older plugins) password exchanges cross the network in clear text.",
)
def mysql_require_secure_transport(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["mysql.variables"]
    value = fact["variables"].get("require_secure_transport")
    if value is None:
        version = fact.get("server_version")
        return failed(sv(
            f"{version or 'This server'} has no require_secure_transport (MariaDB before 10.5.2, MySQL before 5.7.8): "
            "TLS cannot be required server-wide; require it per account (REQUIRE SSL) and upgrade",
            f"{version or 'Den här servern'} saknar require_secure_transport (MariaDB före 10.5.2, MySQL före 5.7.8): "
            "TLS kan inte krävas för hela servern; kräv det per konto (REQUIRE SSL) och uppgradera"), require_secure_transport=None,
        )
    if value.upper() not in ("ON", "1"):
        return failed(sv(f"require_secure_transport is {value}: clients may connect without TLS", f"require_secure_transport är {value}: klienter får ansluta utan TLS"),
                      require_secure_transport=value)
    return passed(sv("require_secure_transport is ON: unencrypted TCP connections are refused", "require_secure_transport är ON: okrypterade TCP-anslutningar avvisas"),
                  require_secure_transport=value)


@control(
    "TLS-MYSQL-SSL", family="tls", **_DB, severity="high", facts=("mysql.variables",),
    references=("GDPR Art. 32(1)(a)", "MySQL 8.0 Reference Manual 6.3.1 Configuring MySQL to Use Encrypted Connections", "MariaDB docs: Securing Connections for Client and Server"),
    title="MySQL/MariaDB has TLS configured",
    title_sv="MySQL/MariaDB har TLS konfigurerat",
    rationale_sv="Utan certifikat och nyckel kan servern inte kryptera någon anslutning, vad klienterna än begär.",
    remediation="Configure a certificate and key (ssl_cert, ssl_key) for the server.",
    remediation_sv="Konfigurera ett certifikat och en nyckel (ssl_cert, ssl_key) för servern.",
    plain="{n} database(s) have no TLS configured",
    plain_sv="{n} databas(er) saknar TLS-konfiguration",
    rationale="Without a certificate and key the server cannot encrypt any connection, whatever the clients ask for.",
)
def mysql_ssl(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["mysql.variables"]
    variables = fact["variables"]
    have = variables.get("have_ssl")
    details = {"have_ssl": have, "tls_version": variables.get("tls_version"), "ssl_cert": variables.get("ssl_cert"), "audit_session_tls": fact.get("session_tls")}
    session = sv(f"; the audit session itself used {fact['session_tls']}", f"; granskningens egen session använde {fact['session_tls']}") if fact.get("session_tls") else sv("", "")
    if have is not None:
        if have.upper() == "YES":
            protocols = variables.get("tls_version")
            return passed(sv(f"TLS is configured (have_ssl YES, protocols {protocols or 'default'}){session.en}",
                             f"TLS är konfigurerat (have_ssl YES, protokoll {protocols or 'standard'}){session.sv}"), **details)
        return failed(sv(f"TLS is not configured: have_ssl is {have}", f"TLS är inte konfigurerat: have_ssl är {have}"), **details)
    if fact.get("session_tls"):  # MySQL 8.4 dropped have_ssl; the audit session's own encryption proves TLS works
        return passed(sv(f"TLS is configured{session.en}", f"TLS är konfigurerat{session.sv}"), **details)
    if not variables.get("ssl_cert"):
        return failed(sv("TLS is not configured: no ssl_cert, and the audit session was not encrypted",
                         "TLS är inte konfigurerat: ingen ssl_cert, och granskningens session var inte krypterad"), **details)
    return unverified(sv("ssl_cert is set but the audit session was not encrypted and the server reports no have_ssl; whether TLS works cannot be told",
                         "ssl_cert är satt men granskningens session var inte krypterad och servern redovisar ingen have_ssl; om TLS fungerar går inte att avgöra"), **details)
