"""PostgreSQL: password hashing, required TLS and access rules, read through a read-only SQL session.

Four facts, each from one query, each needing as little as possible (the
privilege is written into the evidence of every query):

* ``postgres.settings``: ``password_encryption``, ``ssl``,
  ``listen_addresses`` from ``pg_settings`` and per-role/per-database
  ``password_encryption`` overrides from ``pg_db_role_setting``; any login.
* ``postgres.roles``: who is a superuser and who can log in (``pg_roles``);
  any login.
* ``postgres.role_passwords``: the *scheme* of each role's stored password.
  It is computed by the server (``CASE ... END`` on ``pg_authid.rolpassword``),
  so no hash ever leaves the database; needs ``SELECT`` on those columns of
  ``pg_authid`` (superuser by default).
* ``postgres.hba_rules``: ``pg_hba_file_rules``, the parsed ``pg_hba.conf``
  as the server reads it from disk; needs ``SELECT`` on that view and
  ``EXECUTE`` on the function behind it. The ``options`` column (which can
  hold an LDAP bind password) is never kept.

A rule is *local* when it can only match this machine: ``local`` (unix
socket), or an address inside 127.0.0.0/8 or ::1, ``samehost`` or
``localhost``. Everything else (other networks, ``samenet``, ``all``, host
names) is non-local. Rules are judged as PostgreSQL reads them: the first
line that matches a connection decides it, so a line that an earlier line
certainly shadows is reported as unreachable and not judged (see
:func:`covers`; when shadowing cannot be told for sure, the line is judged).

>>> hba_network({"address": "10.1.0.0", "netmask": "255.255.0.0"}).with_prefixlen
'10.1.0.0/16'
>>> is_local_rule({"type": "host", "address": "127.0.0.1", "netmask": "255.255.255.255"})
True
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, Text, collector, control, failed, parameter, passed, sv, unverified
from auditor.transports.db import QueryResult, recorded_query

DB_LISTEN_ADDRESSES_ALLOWED = parameter(
    "db_listen_addresses_allowed", list,
    ["localhost", "127.0.0.0/8", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    "Addresses a database server may listen on (PostgreSQL listen_addresses, MySQL bind_address): addresses, host names or networks "
    "(CIDR). The wildcards '*', '0.0.0.0' and '::' are accepted only when listed literally.",
)
PG_HBA_OPEN_TO_ALL_ALLOWED = parameter(
    "pg_hba_open_to_all_allowed", bool, False,
    "Whether pg_hba.conf may accept logins from any address (0.0.0.0/0, ::/0 or 'all'), e.g. behind a firewall that the policy relies on.",
)
PG_SUPERUSERS_ALLOWED = parameter(
    "pg_superusers_allowed", list, ["postgres"],
    "PostgreSQL superuser roles that may log in (the bootstrap superuser by default).",
)
PG_HBA_LOCAL_TRUST_ROLES_ALLOWED = parameter(
    "pg_hba_local_trust_roles_allowed", list, [],
    "PostgreSQL roles a 'local' (unix socket) pg_hba line may let in with trust, i.e. without any authentication. A line is accepted only when "
    "every entry of its user column is listed ('all' and '+group' only when listed literally). 'trust' on host lines always fails, loopback included.",
)
PG_ROLES_WITHOUT_PASSWORD_ALLOWED = parameter(
    "pg_roles_without_password_allowed", list, [],
    "No longer read by any control (kept so that policies setting it still load): a role without a stored password cannot "
    "log in with a password at all, so PWHASH-PG-ROLE-PASSWORDS lists it in its details instead of judging it.",
)

SHOWN = 20
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"), ipaddress.ip_network("::ffff:127.0.0.0/104"))
WILDCARDS = ("*", "0.0.0.0", "::")
SETTINGS = ("password_encryption", "ssl", "listen_addresses", "port")

SETTINGS_SQL = "SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ('password_encryption', 'ssl', 'listen_addresses', 'port') ORDER BY name"
OVERRIDES_SQL = (
    "SELECT COALESCE(r.rolname, '(every role)') AS role, COALESCE(d.datname, '(every database)') AS database, split_part(c.cfg, '=', 2) AS value "
    "FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole "
    "LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) AS c(cfg) "
    "WHERE c.cfg LIKE 'password_encryption=%' ORDER BY 1, 2"
)
ROLES_SQL = (
    "SELECT r.rolname, r.rolsuper, r.rolcanlogin, ARRAY(SELECT g.rolname FROM pg_catalog.pg_auth_members m "
    "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS member_of FROM pg_catalog.pg_roles r ORDER BY 1"
)
ROLE_PASSWORDS_SQL = (
    "SELECT rolname, rolcanlogin, CASE WHEN rolpassword IS NULL THEN 'none' WHEN rolpassword = '' THEN 'empty' "
    "WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256' WHEN rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5' "
    "ELSE 'plaintext' END AS scheme FROM pg_catalog.pg_authid WHERE rolcanlogin OR rolpassword IS NOT NULL ORDER BY rolname"
)
HBA_SQL = "SELECT * FROM pg_catalog.pg_hba_file_rules"

PRIV_ANY = "nothing beyond LOGIN (pg_settings, pg_roles, pg_auth_members and pg_db_role_setting are readable by every role)"
PRIV_AUTHID = "SELECT on pg_catalog.pg_authid (columns rolname, rolcanlogin, rolpassword); only superusers have it by default"
PRIV_HBA = "SELECT on pg_catalog.pg_hba_file_rules and EXECUTE on function pg_catalog.pg_hba_file_rules(); only superusers have them by default"
MAX_ROWS = 10000


def _postgres_only(ctx: Context) -> None:
    if ctx.target.get("engine") != "postgresql":
        raise NotApplicable(f"the database engine is {ctx.target.get('engine')}; PostgreSQL checks do not apply")


# -- collectors --------------------------------------------------------------------


@collector("postgres.settings", kinds=("database",), transport="db", timeout=20)
def postgres_settings(ctx: Context) -> dict[str, Any]:
    _postgres_only(ctx)
    settings = recorded_query(ctx, SETTINGS_SQL, max_rows=len(SETTINGS), privilege=PRIV_ANY)
    found = {str(name): str(value) for name, value in settings.rows}
    missing = [s for s in SETTINGS if s not in found]
    if missing:
        raise CollectError(Reason.PARSE_ERROR, f"pg_settings has no {', '.join(missing)} for this role; the server hides settings the audit account may not read")
    overrides = recorded_query(ctx, OVERRIDES_SQL, max_rows=MAX_ROWS, privilege=PRIV_ANY)
    session = ctx.conn.session()
    return {
        "settings": found,
        "password_encryption_overrides": [{"role": r, "database": d, "value": v} for r, d, v in overrides.rows],
        "server_version": session["server_version"],
        "session_tls": session["tls"],
    }


@collector("postgres.roles", kinds=("database",), transport="db", timeout=20)
def postgres_roles(ctx: Context) -> list[dict[str, Any]]:
    _postgres_only(ctx)
    result = recorded_query(ctx, ROLES_SQL, max_rows=MAX_ROWS, privilege=PRIV_ANY)
    _not_cut(result, "roles")
    return [{"role": r, "superuser": bool(s), "login": bool(lg), "member_of": list(m or [])} for r, s, lg, m in result.rows]


@collector("postgres.role_passwords", kinds=("database",), transport="db", timeout=20)
def postgres_role_passwords(ctx: Context) -> list[dict[str, Any]]:
    _postgres_only(ctx)
    result = recorded_query(ctx, ROLE_PASSWORDS_SQL, max_rows=MAX_ROWS, privilege=PRIV_AUTHID)
    _not_cut(result, "roles")
    return [{"role": r, "login": bool(lg), "scheme": str(s)} for r, lg, s in result.rows]


HBA_KEPT = ("line_number", "file_name", "type", "database", "user_name", "address", "netmask", "auth_method", "error")


def _show_hba(result: QueryResult) -> list[str]:
    lines = []
    for rule in hba_rows(result):
        where = f"{rule['file_name']}:" if rule.get("file_name") else "line "
        if rule["type"] is None:
            lines.append(f"{where}{rule['line_number']}: ERROR {rule['error']}")
            continue
        net = hba_network(rule)
        addr = net.with_prefixlen if net is not None else (rule["address"] or "")
        text = f"{where}{rule['line_number']}: {rule['type']} {','.join(rule['database'] or [])} {','.join(rule['user_name'] or [])} {addr} {rule['auth_method']}"
        lines.append(" ".join(text.split()) + (f"  [{rule['error']}]" if rule["error"] else ""))
    lines.append("(options are not shown: they can hold an LDAP bind password)")
    return lines


def hba_rows(result: QueryResult) -> list[dict[str, Any]]:
    """pg_hba_file_rules rows → dicts of the kept columns (``options`` dropped)."""
    rows = []
    for row in result.rows:
        full = dict(zip(result.columns, row))
        rows.append({k: (list(full[k]) if isinstance(full.get(k), (list, tuple)) else full.get(k)) for k in HBA_KEPT})
    return rows


@collector("postgres.hba_rules", kinds=("database",), transport="db", timeout=20)
def postgres_hba_rules(ctx: Context) -> list[dict[str, Any]]:
    _postgres_only(ctx)
    result = recorded_query(ctx, HBA_SQL, max_rows=MAX_ROWS, privilege=PRIV_HBA, show=_show_hba, redacted=True)
    _not_cut(result, "pg_hba rules")
    return hba_rows(result)


def _not_cut(result: QueryResult, what: str) -> None:
    if result.truncated:
        raise CollectError(Reason.PARSE_ERROR, f"more than {MAX_ROWS} {what}: the list was cut, so no verdict can rest on it")


# -- helpers -----------------------------------------------------------------------


def _prefix_of(netmask: str) -> int:
    bits = bin(int(ipaddress.ip_address(netmask)))[2:]
    return bits.count("1")


def hba_network(rule: Mapping[str, Any]) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network an address rule matches, or None for keywords and host names."""
    address = rule.get("address")
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    netmask = rule.get("netmask")
    prefix = _prefix_of(netmask) if netmask else ip.max_prefixlen
    return ipaddress.ip_network(f"{ip}/{prefix}", strict=False)


def is_local_rule(rule: Mapping[str, Any]) -> bool:
    """Can this rule only match connections from this machine?"""
    if rule.get("type") == "local":
        return True
    address = (rule.get("address") or "").lower()
    if address in ("samehost", "localhost"):
        return True
    net = hba_network(rule)
    if net is None:
        return False
    return any(net.version == lo.version and net.subnet_of(lo) for lo in LOOPBACK)  # type: ignore[arg-type]


def is_open_to_all(rule: Mapping[str, Any]) -> bool:
    if (rule.get("address") or "").lower() == "all":
        return True
    net = hba_network(rule)
    return net is not None and net.prefixlen == 0


def describe_rule(rule: Mapping[str, Any]) -> str:
    return rule_text(rule).en


def rule_text(rule: Mapping[str, Any]) -> Text:
    """A pg_hba line as findings name it, in English and Swedish: "line 3 (host 0.0.0.0/0 md5)", "rad 3 (...)"."""
    addr = rule.get("address") or ""
    net = hba_network(rule)
    if net is not None:
        addr = net.with_prefixlen
    what = f"({rule['type']} {addr} {rule['auth_method']})".replace("  ", " ")
    if rule.get("file_name"):
        return sv(f"{rule['file_name']}:{rule['line_number']} {what}", f"{rule['file_name']}:{rule['line_number']} {what}")
    return sv(f"line {rule['line_number']} {what}", f"rad {rule['line_number']} {what}")


def rules_text(rules: list[Mapping[str, Any]], sep: str = ", ") -> Text:
    texts = [rule_text(r) for r in rules]
    return sv(sep.join(t.en for t in texts), sep.join(t.sv for t in texts))


# -- first-match semantics ---------------------------------------------------------
#
# PostgreSQL takes the first pg_hba line whose connection type, database, user
# and client address match, and that line alone decides (a failed login does
# not fall through). A line is *shadowed* when one earlier line matches every
# connection it could match; it never decides anything and is reported as
# unreachable instead of being judged. Shadowing is claimed only when it is
# certain from the lines themselves: '+group' against a role name, a regular
# expression, a host name against an address, samehost/samenet against a
# network, or several earlier lines that together cover a later one are left
# alone (the later line is judged).

# Which connections each line type matches: plain, SSL or GSSAPI-encrypted TCP, or the unix socket.
CONNECTIONS = {
    "local": frozenset({"socket"}), "host": frozenset({"plain", "ssl", "gss"}), "hostssl": frozenset({"ssl"}),
    "hostnossl": frozenset({"plain", "gss"}), "hostgssenc": frozenset({"gss"}), "hostnogssenc": frozenset({"plain", "ssl"}),
}
DATABASE_KEYWORDS_NOT_IN_ALL = ("replication",)  # 'all' does not match physical replication connections


def _database_covered(token: str, earlier: list[str]) -> bool:
    return token in earlier or ("all" in earlier and token not in DATABASE_KEYWORDS_NOT_IN_ALL)


def _user_covered(token: str, earlier: list[str]) -> bool:
    return token in earlier or "all" in earlier


def _address_covered(later: Mapping[str, Any], earlier: Mapping[str, Any]) -> bool:
    e_addr, l_addr = (earlier.get("address") or "").lower(), (later.get("address") or "").lower()
    if e_addr == "all":
        return True
    e_net, l_net = hba_network(earlier), hba_network(later)
    if e_net is not None and l_net is not None:
        return e_net.version == l_net.version and l_net.subnet_of(e_net)  # type: ignore[arg-type]
    if e_net is not None or l_net is not None or not e_addr or not l_addr:
        return False
    if e_addr == l_addr:  # the same keyword (samehost, samenet) or host name
        return True
    # '.example.se' matches every name ending in it: a later name (or suffix) ending in it is covered.
    return e_addr.startswith(".") and l_addr.endswith(e_addr) and l_addr not in ("samehost", "samenet")


def covers(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> bool:
    """Does ``earlier`` certainly match every connection ``later`` could match? False when that cannot be told.

    >>> a = {"type": "host", "database": ["all"], "user_name": ["all"], "address": "0.0.0.0", "netmask": "0.0.0.0"}
    >>> covers(a, {"type": "hostssl", "database": ["app"], "user_name": ["+staff"], "address": "10.1.0.0", "netmask": "255.255.0.0"})
    True
    >>> covers(a, {"type": "host", "database": ["replication"], "user_name": ["all"], "address": "10.1.0.0", "netmask": "255.255.0.0"})
    False
    """
    kinds_e, kinds_l = CONNECTIONS.get(earlier.get("type") or ""), CONNECTIONS.get(later.get("type") or "")
    if kinds_e is None or kinds_l is None or not kinds_l <= kinds_e:
        return False
    if not all(_database_covered(t, list(earlier.get("database") or [])) for t in later.get("database") or []):
        return False
    if not all(_user_covered(t, list(earlier.get("user_name") or [])) for t in later.get("user_name") or []):
        return False
    return later.get("type") == "local" or _address_covered(later, earlier)


def shadowing(rules: list[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Index of each shadowed rule -> the first earlier rule that matches everything it could match."""
    out: dict[int, Mapping[str, Any]] = {}
    for i, later in enumerate(rules):
        for earlier in rules[:i]:
            if covers(earlier, later):
                out[i] = earlier
                break
    return out


def reachable(rules: list[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The rules that can decide some connection, in file order, and a description of each unreachable one."""
    shadowed = shadowing(rules)
    kept = [r for i, r in enumerate(rules) if i not in shadowed]
    unreachable = [f"{describe_rule(rules[i])}: unreachable, every connection it could match is decided by line {by['line_number']} first" for i, by in sorted(shadowed.items())]
    return kept, unreachable


def _broken_lines(rules: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rules if r.get("type") is None]


def _hba_unreadable(rules: list[Mapping[str, Any]]) -> Outcome | None:
    broken = _broken_lines(rules)
    if broken:
        listing = "; ".join(f"line {r['line_number']}: {r['error']}" for r in broken[:5])
        listing_sv = "; ".join(f"rad {r['line_number']}: {r['error']}" for r in broken[:5])
        return unverified(sv(
            f"pg_hba.conf has {len(broken)} line(s) PostgreSQL cannot parse ({listing}); the server refuses to load such a file, "
            "so the rules in force are not the ones on disk",
            f"pg_hba.conf har {len(broken)} rad(er) som PostgreSQL inte kan tolka ({listing_sv}); servern vägrar läsa in en sådan fil, "
            "så de regler som gäller är inte de som står på disk"), errors=[{"line": r["line_number"], "error": r["error"]} for r in broken],
        )
    return None


def _warnings(rules: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"line": r["line_number"], "warning": r["error"]} for r in rules if r.get("type") is not None and r.get("error")]


def address_allowed(address: str, allowed: list[str]) -> bool | None:
    """Is a listen address within the policy? None when it cannot be told (a host name not listed)."""
    entry = address.strip().strip("[]")
    listed = [str(a).strip() for a in allowed]
    if entry in listed or entry.lower() in (a.lower() for a in listed):
        return True
    if any(w in listed for w in WILDCARDS):
        return True  # a policy that accepts listening everywhere accepts any one address
    if entry in WILDCARDS or entry == "":
        return False
    try:
        ip = ipaddress.ip_address(entry)
    except ValueError:
        return None
    for item in listed:
        try:
            net = ipaddress.ip_network(item, strict=False)
        except ValueError:
            continue
        if net.version == ip.version and ip in net:
            return True
    return False


def judge_listen(addresses: list[str], allowed: list[str], setting: str) -> Outcome:
    """Shared by PostgreSQL listen_addresses and MySQL bind_address (``setting`` names it the same in both languages: "bind_address ('*')")."""
    outside = [a for a in addresses if address_allowed(a, allowed) is False]
    unknown = [a for a in addresses if address_allowed(a, allowed) is None]
    details = {"addresses": addresses, "allowed": list(allowed)}
    if outside:
        wild = [a for a in outside if a in WILDCARDS]
        why = sv(" (every interface of the server)", " (alla serverns nätverksgränssnitt)") if wild else sv("", "")
        listed, accepted = ", ".join(outside), ", ".join(map(str, allowed))
        return failed(sv(f"{setting} includes {listed}{why.en}, outside the addresses the policy allows ({accepted})",
                         f"{setting} omfattar {listed}{why.sv}, utanför de adresser som policyn tillåter ({accepted})"), outside=outside, **details)
    if unknown:
        named = ", ".join(unknown)
        return unverified(sv(
            f"{setting} names {named}, a host name the policy does not list; list it (or its network) in db_listen_addresses_allowed",
            f"{setting} anger {named}, ett värdnamn som policyn inte listar; lägg till det (eller dess nät) i db_listen_addresses_allowed"),
            reason="config_error", unknown=unknown, **details,
        )
    if not addresses:
        return passed(sv(f"{setting} is empty: the server accepts no TCP connections (unix socket only)",
                         f"{setting} är tom: servern tar inte emot några TCP-anslutningar (bara unix-socket)"), **details)
    return passed(sv(f"The server listens only on {', '.join(addresses)}, within the policy", f"Servern lyssnar bara på {', '.join(addresses)}, inom policyn"), **details)


# -- controls ----------------------------------------------------------------------

_DB: dict[str, Any] = dict(kinds=("database",))
CLEAR_TYPES = ("host", "hostnossl", "hostnogssenc")  # line types that admit a TCP connection without TLS


@control(
    "PWHASH-PG-PASSWORD-ENCRYPTION", family="password_hashing", **_DB, severity="high", facts=("postgres.settings",),
    references=("GDPR Art. 32(1)(a)", "PostgreSQL docs 21.5 Password Authentication", "CIS PostgreSQL Benchmark 3.1"),
    title="PostgreSQL hashes new passwords with SCRAM-SHA-256",
    title_sv="PostgreSQL hashar nya lösenord med SCRAM-SHA-256",
    rationale_sv="password_encryption avgör hur varje lösenord som sätts från och med nu lagras. md5 lagrar en MD5 av lösenord och användarnamn, utan hemligt salt, som fungerar som ett lösenord i sig (pass-the-hash) och knäcks snabbt; SCRAM-SHA-256 är saltat, itererat och kan aldrig spelas upp igen.",
    remediation="Set password_encryption = 'scram-sha-256' in postgresql.conf and reload the server.",
    remediation_sv="Sätt password_encryption = 'scram-sha-256' i postgresql.conf och ladda om konfigurationen.",
    plain="{n} database(s) hash new passwords with md5",
    plain_sv="{n} databas(er) hashar nya lösenord med md5",
    rationale="password_encryption decides how every password set from now on is stored. md5 stores an unsalted-by-secret MD5 of password and "
    "user name that works as a password itself (pass-the-hash) and is cracked quickly; SCRAM-SHA-256 is salted, iterated and never replayable.",
)
def pg_password_encryption(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["postgres.settings"]
    value = fact["settings"]["password_encryption"]
    weak_overrides = [o for o in fact["password_encryption_overrides"] if o["value"].strip("'\"").lower() != "scram-sha-256"]
    details = {"password_encryption": value, "overrides": fact["password_encryption_overrides"]}
    problems: list[Text] = []
    if value.lower() != "scram-sha-256":
        problems.append(sv(f"password_encryption is {value}", f"password_encryption är {value}"))
    if weak_overrides:
        shown = weak_overrides[:SHOWN]
        problems.append(sv("overridden to " + ", ".join(f"{o['value']} for role {o['role']} in {o['database']}" for o in shown),
                           "åsidosatt till " + ", ".join(f"{o['value']} för rollen {o['role']} i {o['database']}" for o in shown)))
    if problems:
        return failed(sv("; ".join(p.en for p in problems) + "; it must be scram-sha-256", "; ".join(p.sv for p in problems) + "; det måste vara scram-sha-256"),
                      weak_overrides=weak_overrides, **details)
    overrides = len(fact["password_encryption_overrides"])
    return passed(sv("password_encryption is scram-sha-256" + (f" (and {overrides} override(s) too)" if overrides else ""),
                     "password_encryption är scram-sha-256" + (f" (liksom {overrides} åsidosättande(n))" if overrides else "")), **details)


@control(
    "PWHASH-PG-ROLE-PASSWORDS", family="password_hashing", **_DB, severity="high", facts=("postgres.role_passwords",),
    references=("GDPR Art. 32(1)(a)", "PostgreSQL docs 21.5 Password Authentication", "OWASP Password Storage Cheat Sheet"),
    title="Every PostgreSQL login role's password is stored as SCRAM-SHA-256",
    title_sv="Varje PostgreSQL-roll med inloggning har sitt lösenord lagrat som SCRAM-SHA-256",
    rationale_sv="En ändrad password_encryption hashar inte om lagrade lösenord: roller behåller md5-verifierare (eller, efter gamla uppgraderingar, klartext) tills lösenordet sätts på nytt. En roll utan lagrat lösenord (den paketerade superanvändaren postgres, tjänsteroller med bara peer) kan inte alls logga in med lösenord: den listas men bedöms inte; pg_hba:s metoder avgör hur den loggar in.",
    remediation="Set each listed role's password again (with password_encryption = 'scram-sha-256'), so that it is stored as SCRAM-SHA-256.",
    remediation_sv="Sätt lösenordet på nytt för varje listad roll (med password_encryption = 'scram-sha-256') så att det lagras som SCRAM-SHA-256.",
    plain="{n} database(s) have login roles whose password is stored as md5 or in clear",
    plain_sv="{n} databas(er) har inloggningsroller vars lösenord lagras som md5 eller i klartext",
    rationale="Changing password_encryption does not rehash stored passwords: roles keep md5 verifiers (or, after old upgrades, plaintext) "
    "until their password is set again. A role without a stored password (the packaged postgres superuser, peer-only service roles) "
    "cannot log in with a password at all: it is listed, not judged; pg_hba's methods decide how it logs in.",
)
def pg_role_passwords(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    roles = facts["postgres.role_passwords"]
    login = [r for r in roles if r["login"]]
    with_password = [r for r in login if r["scheme"] != "none"]
    counts: dict[str, int] = {}
    for r in login:
        counts[r["scheme"]] = counts.get(r["scheme"], 0) + 1
    weak = [r for r in with_password if r["scheme"] != "scram-sha-256"]
    nologin_weak = [r["role"] for r in roles if not r["login"] and r["scheme"] not in ("scram-sha-256", "none")]
    without = sorted(r["role"] for r in login if r["scheme"] == "none")
    details = {"login_roles": len(login), "login_roles_with_password": len(with_password), "schemes": counts,
               "nologin_with_weak_password": nologin_weak, "login_roles_without_password": without}
    nameless = ", ".join(without[:SHOWN])
    also = (sv(f"; {len(without)} login role(s) have no stored password and cannot log in with one: {nameless}",
               f"; {len(without)} inloggningsroll(er) saknar lagrat lösenord och kan inte logga in med lösenord: {nameless}") if without else sv("", ""))
    if weak:
        listing = sv(", ".join(f"{r['role']} ({_scheme_words(r['scheme']).en})" for r in weak[:SHOWN]),
                     ", ".join(f"{r['role']} ({_scheme_words(r['scheme']).sv})" for r in weak[:SHOWN]))
        return failed(sv(f"{len(weak)} login role(s) have a password not stored as SCRAM-SHA-256: {listing.en}{also.en}",
                         f"{len(weak)} inloggningsroll(er) har ett lösenord som inte lagras som SCRAM-SHA-256: {listing.sv}{also.sv}"),
                      weak=[{"role": r["role"], "scheme": r["scheme"]} for r in weak], **details)
    if not with_password:
        return passed(sv(f"No login role has a stored password ({len(login)} login role(s), none can log in with a password){also.en}",
                         f"Ingen inloggningsroll har ett lagrat lösenord ({len(login)} inloggningsroll(er), ingen kan logga in med lösenord){also.sv}"), **details)
    return passed(sv(f"All {len(with_password)} login role(s) with a password store it as SCRAM-SHA-256{also.en}",
                     f"Alla {len(with_password)} inloggningsroll(er) med lösenord lagrar det som SCRAM-SHA-256{also.sv}"), **details)


def _scheme_words(scheme: str) -> Text:
    return {"none": sv("no password", "inget lösenord"), "empty": sv("empty password", "tomt lösenord"),
            "plaintext": sv("stored in plaintext", "lagrat i klartext")}.get(scheme, sv(scheme, scheme))


@control(
    "TLS-PG-SSL", family="tls", **_DB, severity="high", facts=("postgres.settings",),
    references=("GDPR Art. 32(1)(a)", "PostgreSQL docs 19.9 Secure TCP/IP Connections with SSL"),
    title="PostgreSQL has TLS turned on",
    title_sv="PostgreSQL har TLS påslaget",
    rationale_sv="Med ssl avslaget kan servern inte kryptera någon anslutning: lösenord (för metoderna md5 och password) och varje rad med personuppgifter går okrypterade över nätet.",
    remediation="Set ssl = on with a certificate and key in postgresql.conf and reload the server.",
    remediation_sv="Sätt ssl = on med certifikat och nyckel i postgresql.conf och ladda om konfigurationen.",
    plain="{n} database(s) have TLS turned off",
    plain_sv="{n} databas(er) har TLS avslaget",
    rationale="With ssl off the server cannot encrypt any connection: passwords (for md5/password methods) and every row of personal data "
    "cross the network in clear text.",
)
def pg_ssl(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["postgres.settings"]
    value = fact["settings"]["ssl"]
    details = {"ssl": value, "audit_session_tls": fact.get("session_tls")}
    if value.lower() != "on":
        return failed(sv(f"ssl is {value}: the server cannot encrypt connections", f"ssl är {value}: servern kan inte kryptera anslutningar"), **details)
    if fact.get("session_tls"):
        return passed(sv(f"ssl is on; the audit session itself used {fact['session_tls']}", f"ssl är on; granskningens egen session använde {fact['session_tls']}"), **details)
    return passed(sv("ssl is on", "ssl är on"), **details)


@control(
    "TLS-PG-HBA-HOSTSSL", family="tls", **_DB, severity="high", facts=("postgres.hba_rules",),
    references=("GDPR Art. 32(1)(a)", "PostgreSQL docs 21.1 The pg_hba.conf File"),
    title="PostgreSQL accepts non-local connections only over TLS (hostssl)",
    title_sv="PostgreSQL tar bara emot icke-lokala anslutningar över TLS (hostssl)",
    rationale_sv="En rad av typen 'host' eller 'hostnossl' låter en klient från en annan maskin ansluta okrypterat även när ssl är påslaget; bara rader av typen 'hostssl' (eller GSSAPI-krypterade 'hostgssenc') gör TLS till ett krav.",
    remediation="Change the 'host' and 'hostnossl' lines for non-local addresses in pg_hba.conf to 'hostssl'.",
    remediation_sv="Ändra raderna 'host' och 'hostnossl' för icke-lokala adresser i pg_hba.conf till 'hostssl'.",
    plain="{n} database(s) accept non-local connections without TLS",
    plain_sv="{n} databas(er) tar emot icke-lokala anslutningar utan TLS",
    rationale="A 'host' or 'hostnossl' line lets a client from another machine connect without encryption even when ssl is on; "
    "only 'hostssl' lines (or GSSAPI-encrypted 'hostgssenc') make TLS a requirement.",
)
def pg_hba_hostssl(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    rules = facts["postgres.hba_rules"]
    if (broken := _hba_unreadable(rules)) is not None:
        return broken
    live, unreachable = reachable(rules)
    remote = [r for r in live if not is_local_rule(r) and r["auth_method"] != "reject"]
    clear = [r for r in remote if r["type"] in CLEAR_TYPES]
    details = {"non_local_rules": [describe_rule(r) for r in remote], "unreachable": unreachable, "warnings": _warnings(rules)}
    if clear:
        listing = rules_text(clear[:SHOWN])
        return failed(sv(
            f"{len(clear)} pg_hba rule(s) accept non-local connections without TLS: {listing.en} (use hostssl)",
            f"{len(clear)} pg_hba-regel/regler tar emot anslutningar utifrån utan TLS: {listing.sv} (använd hostssl)"),
            lines=[r["line_number"] for r in clear], **details,
        )
    if not remote:
        return passed(sv("pg_hba accepts no non-local connection at all (local and loopback rules only)",
                         "pg_hba tar inte emot några anslutningar utifrån alls (bara regler för lokala anslutningar och loopback)"), **details)
    return passed(sv(f"All {len(remote)} pg_hba rule(s) for non-local connections require TLS (hostssl)",
                     f"Alla {len(remote)} pg_hba-regler för anslutningar utifrån kräver TLS (hostssl)"), **details)


@control(
    "ACCESS-PG-HBA-TRUST", family="access", **_DB, severity="critical", facts=("postgres.hba_rules",), params=("pg_hba_local_trust_roles_allowed",),
    references=("GDPR Art. 32(1)(b)", "PostgreSQL docs 21.4 Trust Authentication", "CIS PostgreSQL Benchmark 4.3"),
    title="PostgreSQL lets no one in without authentication (trust)",
    title_sv="PostgreSQL släpper inte in någon utan autentisering (trust)",
    rationale_sv="'trust' låter alla som når raden logga in som vilken roll den anger som helst, superanvändare inräknade, helt utan lösenord. På en host-rad gäller det varje process på de maskiner som adressen täcker, loopback inräknat: en komprometterad webbapplikation eller vilken skalanvändare som helst väljer själv roll. Bara en unix-socket-rad för roller som policyn anger kan vara godtagbar.",
    remediation="Replace 'trust' in pg_hba.conf by scram-sha-256 (or peer on local socket lines).",
    remediation_sv="Ersätt 'trust' i pg_hba.conf med scram-sha-256 (eller peer på rader för lokala socketar).",
    plain="{n} database(s) let clients in without authentication (trust)",
    plain_sv="{n} databas(er) släpper in klienter utan autentisering (trust)",
    rationale="'trust' lets anyone who reaches the line log in as any role it names, superusers included, with no password at all. On a host line "
    "that is every process of the machines the address covers, loopback included: a compromised web application or any shell user names the role "
    "it wants. Only a unix-socket line for roles the policy names can be tolerable.",
)
def pg_hba_trust(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    rules = facts["postgres.hba_rules"]
    if (broken := _hba_unreadable(rules)) is not None:
        return broken
    allowed = {str(r) for r in params["pg_hba_local_trust_roles_allowed"]}
    live, unreachable = reachable(rules)
    trust = [r for r in live if r["auth_method"] == "trust"]
    accepted = [r for r in trust if r["type"] == "local" and all(u in allowed for u in r["user_name"] or [])]
    offending = [r for r in trust if r not in accepted]
    details = {"accepted_local_trust": [describe_rule(r) for r in accepted], "unreachable": unreachable, "warnings": _warnings(rules)}
    if offending:
        listing = sv(", ".join(f"{rule_text(r).en} for {_roles_named(r).en}" for r in offending[:SHOWN]),
                     ", ".join(f"{rule_text(r).sv} för {_roles_named(r).sv}" for r in offending[:SHOWN]))
        return failed(sv(f"{len(offending)} pg_hba rule(s) let clients in without any authentication (trust): {listing.en}",
                         f"{len(offending)} pg_hba-regel/regler släpper in klienter helt utan autentisering (trust): {listing.sv}"),
                      lines=[r["line_number"] for r in offending], **details)
    if accepted:
        return passed(sv(f"No pg_hba rule in force lets a client in without authentication ({len(accepted)} unix-socket rule(s) trust roles the policy accepts)",
                         f"Ingen gällande pg_hba-regel släpper in en klient utan autentisering ({len(accepted)} regel/regler för unix-socket litar på roller som policyn godtar)"),
                      **details)
    return passed(sv("No pg_hba rule in force lets a client in without authentication", "Ingen gällande pg_hba-regel släpper in en klient utan autentisering"), **details)


def _roles_named(rule: Mapping[str, Any]) -> Text:
    users = list(rule.get("user_name") or [])
    return sv("every role", "alla roller") if "all" in users else sv("role(s) " + ", ".join(users), "rollerna " + ", ".join(users))


@control(
    "TLS-PG-ROLE-TLS", family="tls", **_DB, severity="high", facts=("postgres.hba_rules", "postgres.roles"),
    references=("GDPR Art. 32(1)(a)", "PostgreSQL docs 21.1 The pg_hba.conf File", "PostgreSQL docs 19.9 Secure TCP/IP Connections with SSL"),
    title="No PostgreSQL login role can connect over the network without TLS",
    title_sv="Ingen PostgreSQL-roll med inloggning kan ansluta över nätet utan TLS",
    rationale_sv="Varje rolls sessioner är precis så privata som den pg_hba-rad som släpper in den: en rad av typen 'host' eller 'hostnossl' som gäller en annan maskin släpper in rollen okrypterat, och dess frågor, svar och (för lösenordsmetoder) lösenord går okrypterade över nätet.",
    remediation="Change the pg_hba.conf lines that admit these roles from other machines to 'hostssl'.",
    remediation_sv="Ändra de rader i pg_hba.conf som släpper in rollerna från andra maskiner till 'hostssl'.",
    plain="{n} database(s) have login roles that can connect over the network without TLS",
    plain_sv="{n} databas(er) har inloggningsroller som kan ansluta över nätet utan TLS",
    rationale="Each role's sessions are as private as the pg_hba line that lets it in: a 'host' or 'hostnossl' line in force for another "
    "machine admits that role without encryption, and its queries, results and (for password methods) password cross the network in clear text.",
)
def pg_role_tls(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    rules = facts["postgres.hba_rules"]
    if (broken := _hba_unreadable(rules)) is not None:
        return broken
    roles = facts["postgres.roles"]
    login = sorted(r["role"] for r in roles if r["login"])
    members = _members(roles)
    live, unreachable = reachable(rules)
    clear_rules = [r for r in live if r["type"] in CLEAR_TYPES and not is_local_rule(r) and r["auth_method"] != "reject"]
    reached: dict[str, list[Text]] = {}
    undecided: list[Text] = []
    for r in clear_rules:
        for token in r["user_name"] or []:
            if token.startswith("/"):  # PostgreSQL 16 regular expression: not evaluated here
                undecided.append(sv(f"{rule_text(r).en} user {token}", f"{rule_text(r).sv} användare {token}"))
                continue
            who = login if token == "all" else sorted(members.get(token[1:], set()) & set(login)) if token.startswith("+") else [token] if token in login else []
            for role in who:
                reached.setdefault(role, []).append(rule_text(r))
    details = {"roles_without_tls": [{"role": k, "lines": [t.en for t in v]} for k, v in sorted(reached.items())], "non_tls_rules": [describe_rule(r) for r in clear_rules],
               "undecided": [t.en for t in undecided], "unreachable": unreachable}
    if reached:
        def listing(lang: str, by: str) -> str:
            return "; ".join(f"{role} ({by} {', '.join(getattr(t, lang) for t in lines[:3])}{' ...' if len(lines) > 3 else ''})" for role, lines in sorted(reached.items())[:SHOWN])

        more = sv(f" (and {len(reached) - SHOWN} more)", f" (och {len(reached) - SHOWN} till)") if len(reached) > SHOWN else sv("", "")
        return failed(sv(f"{len(reached)} of {len(login)} login role(s) can connect over the network without TLS: {listing('en', 'by')}{more.en}",
                         f"{len(reached)} av {len(login)} inloggningsroll(er) kan ansluta över nätet utan TLS: {listing('sv', 'genom')}{more.sv}"), roles=sorted(reached), **details)
    if undecided:
        return unverified(sv(f"pg_hba names roles by regular expression on lines without TLS ({'; '.join(t.en for t in undecided[:5])}); which roles they admit is not evaluated",
                             f"pg_hba anger roller med reguljära uttryck på rader utan TLS ({'; '.join(t.sv for t in undecided[:5])}); vilka roller de släpper in bedöms inte"),
                          reason="incomplete_evidence", **details)
    return passed(sv(f"None of the {len(login)} login role(s) can connect over the network without TLS",
                     f"Ingen av de {len(login)} inloggningsrollerna kan ansluta över nätet utan TLS"), **details)


def _members(roles: list[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Role -> every role that is a member of it, directly or through other roles, itself included (pg_hba's '+role')."""
    parents = {r["role"]: set(r.get("member_of") or []) for r in roles}
    out: dict[str, set[str]] = {r: {r} for r in parents}
    for role in parents:
        seen: set[str] = set()
        todo = list(parents[role])
        while todo:
            group = todo.pop()
            if group in seen:
                continue
            seen.add(group)
            out.setdefault(group, {group}).add(role)
            todo.extend(parents.get(group, ()))
    return out


@control(
    "ACCESS-PG-HBA-OPEN", family="access", **_DB, severity="high", facts=("postgres.hba_rules",), params=("pg_hba_open_to_all_allowed",),
    references=("GDPR Art. 32(1)(b)", "PostgreSQL docs 21.1 The pg_hba.conf File", "CIS PostgreSQL Benchmark 4.3"),
    title="PostgreSQL does not accept logins from any address on the internet",
    title_sv="PostgreSQL tar inte emot inloggningar från vilken adress som helst på internet",
    rationale_sv="En rad med 0.0.0.0/0, ::/0 eller 'all' låter hela internet prova lösenord mot databasen; 'starkt begränsad' åtkomst till personuppgifter anger de nätverk som behöver den.",
    remediation="Replace the 0.0.0.0/0, ::/0 and 'all' addresses in pg_hba.conf by the networks that need access.",
    remediation_sv="Ersätt adresserna 0.0.0.0/0, ::/0 och 'all' i pg_hba.conf med de nätverk som behöver åtkomst.",
    plain="{n} database(s) accept logins from any address on the internet",
    plain_sv="{n} databas(er) tar emot inloggningar från vilken adress som helst på internet",
    rationale="A 0.0.0.0/0, ::/0 or 'all' line lets the whole internet try passwords against the database; access to personal data "
    "that is 'strongly restricted' names the networks that need it.",
)
def pg_hba_open(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    rules = facts["postgres.hba_rules"]
    if (broken := _hba_unreadable(rules)) is not None:
        return broken
    live, unreachable = reachable(rules)
    open_rules = [r for r in live if is_open_to_all(r) and r["auth_method"] != "reject"]
    details = {"open_rules": [describe_rule(r) for r in open_rules], "rejecting_catch_all": [describe_rule(r) for r in live if is_open_to_all(r) and r["auth_method"] == "reject"],
               "unreachable": unreachable, "warnings": _warnings(rules)}
    if open_rules and not params["pg_hba_open_to_all_allowed"]:
        listing = rules_text(open_rules[:SHOWN])
        return failed(sv(
            f"{len(open_rules)} pg_hba rule(s) accept logins from any address: {listing.en} (name the client networks instead)",
            f"{len(open_rules)} pg_hba-regel/regler tar emot inloggning från vilken adress som helst: {listing.sv} (ange klienternas nät i stället)"),
            lines=[r["line_number"] for r in open_rules], **details,
        )
    if open_rules:
        return passed(sv(f"{len(open_rules)} pg_hba rule(s) accept any address, which the policy allows (pg_hba_open_to_all_allowed)",
                         f"{len(open_rules)} pg_hba-regel/regler tar emot vilken adress som helst, vilket policyn tillåter (pg_hba_open_to_all_allowed)"), **details)
    return passed(sv("No pg_hba rule accepts logins from any address", "Ingen pg_hba-regel tar emot inloggning från vilken adress som helst"), **details)


@control(
    "ACCESS-PG-LISTEN-ADDRESSES", family="access", **_DB, severity="medium", facts=("postgres.settings",), params=("db_listen_addresses_allowed",),
    references=("GDPR Art. 32(1)(b)", "PostgreSQL docs 20.3 Connections and Authentication", "CIS PostgreSQL Benchmark 3.1.x"),
    title="PostgreSQL listens only on the addresses the policy allows",
    title_sv="PostgreSQL lyssnar bara på de adresser som policyn tillåter",
    rationale_sv="listen_addresses avgör vilka nätverk som över huvud taget når servern; '*' exponerar den på alla gränssnitt, även de publika, så att pg_hba blir det enda skyddet.",
    remediation="Set listen_addresses to localhost or to the private addresses the policy allows, and restart the server.",
    remediation_sv="Sätt listen_addresses till localhost eller till de privata adresser som policyn tillåter och starta om servern.",
    plain="{n} database(s) listen on addresses the policy does not allow",
    plain_sv="{n} databas(er) lyssnar på adresser som policyn inte tillåter",
    rationale="listen_addresses decides which networks can reach the server at all; '*' exposes it on every interface, "
    "public ones included, leaving pg_hba as the only barrier.",
)
def pg_listen_addresses(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    value = facts["postgres.settings"]["settings"]["listen_addresses"]
    addresses = [a.strip() for a in value.split(",") if a.strip()]
    return judge_listen(addresses, list(params["db_listen_addresses_allowed"]), f"listen_addresses ({value!r})")


@control(
    "ACCESS-PG-SUPERUSERS", family="access", **_DB, severity="medium", facts=("postgres.roles",), params=("pg_superusers_allowed",),
    references=("GDPR Art. 32(1)(b)", "CIS PostgreSQL Benchmark 4.2", "PostgreSQL docs 22.2 Role Attributes"),
    title="Only the expected PostgreSQL superusers can log in",
    title_sv="Bara de förväntade superanvändarna i PostgreSQL kan logga in",
    rationale_sv="En superanvändare går förbi varje behörighetskontroll, kan läsa varje tabell och köra program som serverns systemanvändare; varje superanvändare som kan logga in är en huvudnyckel till uppgifterna och måste vara känd, och de ska vara få.",
    remediation="Remove SUPERUSER (or LOGIN) from the unexpected roles, or declare them in the policy if they are needed.",
    remediation_sv="Ta bort SUPERUSER (eller LOGIN) från de oväntade rollerna, eller ange dem i policyn om de behövs.",
    plain="{n} database(s) have unexpected superusers that can log in",
    plain_sv="{n} databas(er) har oväntade superanvändare som kan logga in",
    rationale="A superuser bypasses every permission check, can read every table and run programs as the server's OS user; "
    "each superuser that can log in is a complete key to the data and must be known and few.",
)
def pg_superusers(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    roles = facts["postgres.roles"]
    allowed = set(params["pg_superusers_allowed"])
    supers = [r["role"] for r in roles if r["superuser"] and r["login"]]
    extra = [r for r in supers if r not in allowed]
    details = {"login_superusers": supers, "nologin_superusers": [r["role"] for r in roles if r["superuser"] and not r["login"]], "allowed": sorted(allowed)}
    if extra:
        return failed(sv(f"{len(extra)} superuser role(s) that can log in are not in the policy's list: {', '.join(extra[:SHOWN])} (login superusers: {', '.join(supers)})",
                         f"{len(extra)} superanvändarroll(er) som kan logga in finns inte i policyns lista: {', '.join(extra[:SHOWN])} (superanvändare med inloggning: {', '.join(supers)})"),
                      unexpected=extra, **details)
    return passed(sv(f"Superusers that can log in: {', '.join(supers) or 'none'}; all expected", f"Superanvändare som kan logga in: {', '.join(supers) or 'inga'}; alla väntade"), **details)
