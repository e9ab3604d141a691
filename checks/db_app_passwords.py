"""Application password columns: are user passwords stored as slow, salted hashes?

The inventory names the columns that hold the passwords of an application's
users (``password_columns: [wp_users.user_pass]``, or with a schema or
database: ``public.users.password_hash``, ``wordpress.wp_users.user_pass``).
For each, a bounded sample (the first :data:`SAMPLE_ROWS` rows) is read
through the read-only session and every value is classified by its format:
:func:`classify` knows bcrypt, argon2, scrypt, PBKDF2 (passlib, Werkzeug,
Django), yescrypt and the crypt(3) family, phpass (WordPress, phpBB),
Drupal 7, Django's formats, and the unsalted ones: hex MD5/SHA-1/SHA-256/
SHA-512, MySQL's ``*``-SHA-1 and raw binary digests. A value in no known
format is ``unknown``: it may be plaintext.

The values exist only in memory while they are counted. The fact and the
evidence hold counts per scheme, never a value, a prefix of one or a digest
of one.

>>> classify("$2y$10$abcdefghijklmnopqrstuuJ2ue1Y8pK1S4qD1b5pF7m6kKxW1uN3y")
'bcrypt'
>>> classify("5f4dcc3b5aa765d61d8327deb882cf99"), classify("hunter2"), classify(None)
('md5-hex', 'unknown', 'null')
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, collector, control, failed, parameter, passed, sv, unverified
from auditor.transports.db import QueryResult, recorded_query

APP_PASSWORD_SCHEMES_ALLOWED = parameter(
    "app_password_schemes_allowed", list,
    ["bcrypt", "argon2", "scrypt", "pbkdf2", "yescrypt", "sha512-crypt", "phpass", "drupal-sha512",
     "django-pbkdf2", "django-argon2", "django-bcrypt", "django-scrypt"],
    "Password formats accepted in application password columns (see `auditor controls` for the names the classifier uses).",
)

SAMPLE_ROWS = 1000
NO_PASSWORD = ("null", "empty")  # no password set (e.g. single sign-on users): counted, never a violation

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("$wp$2y$", "bcrypt"),  # WordPress >= 6.8: bcrypt of a SHA-384 pre-hash
    ("$2a$", "bcrypt"), ("$2b$", "bcrypt"), ("$2y$", "bcrypt"), ("$2x$", "bcrypt"),
    ("$argon2id$", "argon2"), ("$argon2i$", "argon2"), ("$argon2d$", "argon2"),
    ("$scrypt$", "scrypt"), ("$7$", "scrypt"), ("scrypt:", "scrypt"),
    ("$pbkdf2", "pbkdf2"), ("pbkdf2:", "pbkdf2"), ("{PBKDF2", "pbkdf2"),
    ("$y$", "yescrypt"), ("$gy$", "yescrypt"),
    ("$6$", "sha512-crypt"), ("$5$", "sha256-crypt"), ("$1$", "md5-crypt"), ("$apr1$", "md5-crypt"),
    ("$P$", "phpass"), ("$H$", "phpass"),
    ("$S$", "drupal-sha512"),
    ("pbkdf2_sha256$", "django-pbkdf2"), ("pbkdf2_sha1$", "django-pbkdf2"),
    ("argon2$", "django-argon2"), ("bcrypt_sha256$", "django-bcrypt"), ("bcrypt$", "django-bcrypt"), ("scrypt$", "django-scrypt"),
    ("sha1$", "django-sha1"), ("md5$", "django-md5"), ("unsalted_md5$", "md5-hex"), ("unsalted_sha1$", "sha1-hex"), ("crypt$", "django-crypt"),
)
_HEX_LENGTHS = {32: "md5-hex", 40: "sha1-hex", 64: "sha256-hex", 128: "sha512-hex"}
_RAW_LENGTHS = {16: "md5-raw", 20: "sha1-raw", 32: "sha256-raw", 64: "sha512-raw"}
_HEX = re.compile(r"[0-9a-fA-F]+")
_MYSQL41 = re.compile(r"\*[0-9A-Fa-f]{40}")


def classify(value: Any) -> str:
    """The format of one stored password value (never returns any part of it)."""
    if value is None:
        return "null"
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return _RAW_LENGTHS.get(len(value), "unknown")
    text = str(value).strip()
    if text == "":
        return "empty"
    if text.startswith("unsalted_"):
        return "md5-hex" if text.startswith("unsalted_md5$") else "sha1-hex"
    for prefix, scheme in _PREFIXES:
        if text.startswith(prefix):
            return scheme
    if _MYSQL41.fullmatch(text):
        return "mysql41-sha1"
    if _HEX.fullmatch(text) and len(text) in _HEX_LENGTHS:
        return _HEX_LENGTHS[len(text)]
    return "unknown"


def split_column(spec: str) -> tuple[str | None, str, str]:
    """``[schema.]table.column`` → (schema or database, table, column)."""
    parts = spec.split(".")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return None, parts[0], parts[1]
    raise CollectError(Reason.CONFIG_ERROR, f"password_columns entry {spec!r} is not table.column or schema.table.column")


def sample_sql(engine: str, schema: str | None, table: str, column: str) -> str:
    """The sampling query; identifiers quoted for the engine (exactly as the catalog spells them), the limit a parameter."""
    quote = '"' if engine == "postgresql" else "`"

    def q(name: str) -> str:
        return quote + name.replace(quote, quote + quote) + quote

    source = f"{q(schema)}.{q(table)}" if schema else q(table)
    return f"SELECT {q(column)} FROM {source} LIMIT %s"


def _counts(values: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        scheme = classify(v)
        counts[scheme] = counts.get(scheme, 0) + 1
    return dict(sorted(counts.items()))


@collector("db.password_columns", kinds=("database",), transport="db", timeout=60)
def password_columns(ctx: Context) -> list[dict[str, Any]]:
    specs = list(ctx.target.get("password_columns") or [])
    if not specs:
        raise NotApplicable("the inventory names no password_columns for this database")
    engine = "postgresql" if ctx.target.get("engine") == "postgresql" else "mysql"
    ctx.conn.session()  # a session that cannot open makes the whole fact an error (unreachable, auth_failed, ...)
    results: list[dict[str, Any]] = []
    for spec in specs:
        try:
            schema, table, column = split_column(spec)
        except CollectError as exc:
            results.append({"column": spec, "status": "error", "reason": exc.reason.value, "message": exc.message})
            continue
        sql = sample_sql(engine, schema, table, column)
        where = f"{schema}.{table}" if schema else table
        privilege = f"SELECT on column {column} of {where}" + (" (and USAGE on its schema)" if engine == "postgresql" and schema not in (None, "public") else "")
        counted: dict[str, Any] = {}

        def show(result: QueryResult, counted: dict[str, Any] = counted) -> list[str]:
            counted["schemes"] = _counts([row[0] for row in result.rows])
            lines = [f"{scheme}: {n}" for scheme, n in counted["schemes"].items()]
            return lines + ["(values are classified where the audit runs and never shown)"]

        try:
            result = recorded_query(ctx, sql, (SAMPLE_ROWS,), max_rows=SAMPLE_ROWS, privilege=privilege, show=show, redacted=True)
        except CollectError as exc:
            if exc.reason in (Reason.UNREACHABLE, Reason.INTERRUPTED):
                raise  # the session was lost: nothing more can be read
            results.append({"column": spec, "status": "error", "reason": exc.reason.value, "message": exc.message})
            continue
        results.append({"column": spec, "status": "ok", "sampled": len(result.rows), "sample_limit": SAMPLE_ROWS, "truncated": result.truncated, "schemes": counted["schemes"]})
    return results


@control(
    "PWHASH-DB-APP-PASSWORDS", family="password_hashing", kinds=("database",), severity="high",
    facts=("db.password_columns",), params=("app_password_schemes_allowed",),
    references=("GDPR Art. 32(1)(a)", "OWASP Password Storage Cheat Sheet", "NIST SP 800-63B 5.1.1.2"),
    title="Application user passwords are stored as slow, salted hashes",
    title_sv="Applikationens användarlösenord lagras som långsamma, saltade hashar",
    rationale_sv="Policyerna utlovar envägshashar för lösenord. Osaltade MD5-, SHA-1- och SHA-256-summor knäcks på ett ögonblick med uppslagstabeller och grafikkort, och ett värde som inte har något hashformat kan vara själva lösenordet; bcrypt, argon2, scrypt, PBKDF2 och liknande är byggda för att stå emot det.",
    remediation="Have the application rehash each user's password with bcrypt, argon2, scrypt or PBKDF2 at the next login, and reset the passwords that are stored in clear.",
    remediation_sv="Låt applikationen hasha om varje användares lösenord med bcrypt, argon2, scrypt eller PBKDF2 vid nästa inloggning och återställ de lösenord som lagras i klartext.",
    plain="{n} database(s) store application passwords as weak or no hashes",
    plain_sv="{n} databas(er) lagrar applikationens lösenord med svaga hashar eller i klartext",
    rationale="The policies promise one-way hash algorithms for passwords. Unsalted MD5/SHA-1/SHA-256 digests are reversed by lookup tables "
    "and GPUs in moments, and a value in no hash format may be the password itself; bcrypt, argon2, scrypt, PBKDF2 and the like are built to resist that.",
)
def app_passwords(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    columns = facts["db.password_columns"]
    allowed = set(params["app_password_schemes_allowed"])
    bad: list[dict[str, Any]] = []
    errors = [c for c in columns if c["status"] != "ok"]
    for c in columns:
        if c["status"] != "ok":
            continue
        weak = {s: n for s, n in c["schemes"].items() if s not in allowed and s not in NO_PASSWORD}
        if weak:
            bad.append({"column": c["column"], "weak": weak, "sampled": c["sampled"]})
    details = {"columns": columns, "allowed": sorted(allowed)}
    if bad:
        def listing(of: str) -> str:
            return "; ".join(f"{b['column']}: " + ", ".join(f"{n} {s}" for s, n in b["weak"].items()) + f" ({of.format(b['sampled'])})" for b in bad)

        note = sv(f"; {len(errors)} column(s) could not be read", f"; {len(errors)} kolumn(er) gick inte att läsa") if errors else sv("", "")
        return failed(sv(f"Passwords stored in formats the policy does not accept: {listing('of {} sampled')}{note.en}",
                         f"Lösenord lagrade i format som policyn inte godtar: {listing('av {} i urvalet')}{note.sv}"), violations=bad, **details)
    if errors:
        first = errors[0]
        return unverified(sv(f"{len(errors)} password column(s) could not be read: " + "; ".join(f"{e['column']}: {e['message']}" for e in errors),
                             f"{len(errors)} lösenordskolumn(er) gick inte att läsa: " + "; ".join(f"{e['column']} ({e['message']})" for e in errors)),
                          reason=first["reason"], **details)

    def summary(empty: str) -> str:
        return "; ".join(f"{c['column']}: " + (", ".join(f"{n} {s}" for s, n in c["schemes"].items()) or empty) for c in columns)

    return passed(sv(f"Every sampled password is in an accepted format ({summary('empty table')})",
                     f"Varje lösenord i urvalet är i ett godtaget format ({summary('tom tabell')})"), **details)
