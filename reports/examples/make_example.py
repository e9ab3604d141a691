"""The example run behind the report screenshots: Webbplats Nu AB against its own privacy policy.

A constructed, realistic run document (schema 1.1): the five promises of the
``webbplats-nu`` policy quoted in its own words, two servers, a website, a mail
server, a database, a backup folder and the sub-processors the policy names;
passes, failures, an error, a waived finding, evidence for each, a waiver file
with one waiver applied and one expired, and three earlier runs as the trend.
Control metadata comes from the registry, so titles and rationales are the real ones.

Everything is fixed (ids, times, digests), so the output is the same on every
machine: ``python reports/examples/make_example.py`` rewrites the report folder
``20261121T030004Z/`` beside this file (``run.json``, ``report.html`` in Swedish
as the policy, ``junit.xml``, ``summary.md`` and ``manifest.json``) with the
writer ``auditor run`` uses, so ``auditor verify reports/examples/20261121T030004Z``
finds it intact; ``tests/test_browser.py`` imports :func:`build` and takes the
screenshots ``report-first-screen-sv.png`` and ``report-first-screen-en.png``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if ROOT not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, ROOT)

from auditor import verdicts
from auditor.model import canonical_json, to_jsonable
from auditor.registry import Registry
from auditor.report import write_report

TOOL_VERSION = "0.1.0"
RUN_ID = "6b1f0d52-8a43-4c1e-9f0e-2d7c5e9a1b30"
STARTED = "2026-11-21T03:00:04.211Z"
FOLDER = "20261121T030004Z"  # the name `auditor run` gives the folder of a run started then
FINISHED = "2026-11-21T03:00:19.870Z"
INVENTORY = "inventories/example-webbplats-nu.yaml"
DOCUMENT = "Integritets- och dataskyddspolicy Webbplats Nu AB"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def at(seconds: float) -> str:
    """A moment ``seconds`` after the run started (the run starts at 03:00:04.211)."""
    millis = 4211 + round(seconds * 1000)
    return f"2026-11-21T03:00:{millis // 1000:02d}.{millis % 1000:03d}Z"


TARGETS = [
    {"id": "server:web1", "kind": "server", "name": "web1", "address": "web1.webbplats-nu.example", "tags": ["production", "personal-data"], "groups": ["frontends"], "source": f"{INVENTORY}:36"},
    {"id": "server:db1", "kind": "server", "name": "db1", "address": "db1.webbplats-nu.example", "tags": ["production", "personal-data"], "groups": [], "source": f"{INVENTORY}:46"},
    {"id": "web:kontrollpanel", "kind": "web", "name": "kontrollpanel", "address": "https://kontrollpanel.webbplats-nu.example/", "tags": ["production", "personal-data"], "groups": [], "source": f"{INVENTORY}:68"},
    {"id": "mail:mx1", "kind": "mail", "name": "mx1", "address": "mx1.webbplats-nu.example", "tags": [], "groups": [], "source": f"{INVENTORY}:73"},
    {"id": "database:customers", "kind": "database", "name": "customers", "address": "db1.webbplats-nu.example:3306", "tags": [], "groups": [], "source": f"{INVENTORY}:78"},
    {"id": "backup:nightly", "kind": "backup", "name": "nightly", "address": "db1:/var/backups", "tags": ["personal-data"], "groups": [], "source": f"{INVENTORY}:54"},
    {"id": "processor:google", "kind": "processor", "name": "google", "address": None, "tags": ["marketing", "third-party-cookie"], "groups": ["analytics"], "source": f"{INVENTORY}:103"},
    {"id": "processor:facebook", "kind": "processor", "name": "facebook", "address": None, "tags": ["marketing", "third-party-cookie"], "groups": ["analytics"], "source": f"{INVENTORY}:113"},
    {"id": "processor:fortnox", "kind": "processor", "name": "fortnox", "address": None, "tags": ["billing"], "groups": [], "source": f"{INVENTORY}:122"},
]

PROMISES = [
    {
        "id": "WN-SECURITY-STANDARDS",
        "quote": "Vi använder oss av industristandarder för att lagra, behandla och kommunicera känslig information som exempelvis personuppgifter och lösenord på ett säkert sätt. Till exempel SSL/TLS, PGP och hashalgoritmer.",
        "section": "Så här skyddar vi dina personuppgifter",
        "summary": {
            "en": "Passwords are stored as one-way hashes; traffic carrying personal data is encrypted with current TLS and strong algorithms.",
            "sv": "Lösenord lagras som envägshashar; trafik med personuppgifter krypteras med aktuell TLS och starka algoritmer.",
        },
        "controls": ["PWHASH-SHADOW-SCHEMES", "PWHASH-MYSQL-AUTH-PLUGINS", "ACCESS-SSH-CRYPTO", "TLS-PROTOCOLS", "TLS-CERT-EXPIRY", "TLS-WEB-HSTS"],
    },
    {
        "id": "WN-NO-TRANSFERS-OUTSIDE-EU",
        "quote": "Vi har avtal med samtliga samarbetspartner och underleverantörer inom EU. Vi delar inga uppgifter med företag utanför EU.",
        "section": "Till vem lämnar vi ut personuppgifter",
        "summary": {
            "en": "Every system and every sub-processor that receives personal data is in the EU.",
            "sv": "Alla system och alla underbiträden som tar emot personuppgifter finns inom EU.",
        },
        "controls": ["DATA-DECLARED-LOCATION", "DATA-PROCESSOR-LOCATION"],
    },
    {
        "id": "WN-BACKUP-SCHEDULE",
        "quote": "säkerhetskopior av ovanstående tas bort enligt vårt schema för säkerhetskopior.",
        "section": "Så här behandlar vi dina personuppgifter när du inte längre är kund",
        "summary": {
            "en": "Backups expire on schedule (nothing older than 35 days) and keep being made.",
            "sv": "Säkerhetskopior tas bort enligt schemat (inget äldre än 35 dagar) och fortsätter att tas.",
        },
        "controls": ["BACKUP-MAX-AGE", "BACKUP-FRESHNESS", "ACCESS-BACKUP-FILE-PERMISSIONS"],
    },
    {
        "id": "WN-SAFEGUARDS",
        "quote": "Vi har vidtagit, och vidtar löpande, skyddsåtgärder för att säkerställa att inga personuppgifter hanteras i strid med gällande lag rörande såväl säkerhet som personlig integritet.",
        "section": "Till vem lämnar vi ut personuppgifter",
        "summary": {
            "en": "Administrative access is restricted: no root or password logins over SSH, no sudo to everything without a password, no database listening beyond loopback.",
            "sv": "Administrativ åtkomst är begränsad: ingen inloggning som root eller med lösenord över SSH, ingen sudo till allt utan lösenord, ingen databas som lyssnar utanför loopback.",
        },
        "controls": ["ACCESS-SSH-ROOT-LOGIN", "ACCESS-SSH-PASSWORD-AUTH", "ACCESS-SUDO-NOPASSWD-ALL", "ACCESS-EXPOSED-SERVICE-PORTS"],
    },
    {
        "id": "WN-BOOKKEEPING-KEPT",
        "quote": "Bland det som inte tas bort finns bland annat: - uppgifter som krävs enligt bokföringslagen",
        "section": "Så här behandlar vi dina personuppgifter när du inte längre är kund",
        "summary": {
            "en": "Bookkeeping records are kept as Bokföringslagen requires (seven years).",
            "sv": "Bokföringsunderlag sparas så länge bokföringslagen kräver (sju år).",
        },
        "controls": ["BACKUP-AWS-BOOKKEEPING-RETENTION"],
    },
]

SSHD_T = {
    "server:web1": "permitrootlogin no\npasswordauthentication no\nkbdinteractiveauthentication no\nmaxauthtries 4\nciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr\nmacs hmac-sha2-256-etm@openssh.com,hmac-sha2-512,hmac-sha1\nkexalgorithms curve25519-sha256,diffie-hellman-group14-sha256\n",
    "server:db1": "permitrootlogin no\npasswordauthentication no\nkbdinteractiveauthentication no\nmaxauthtries 3\nciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\nmacs hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com\nkexalgorithms curve25519-sha256,sntrup761x25519-sha512@openssh.com\n",
}

# (control, target, status, message, details, facts: [(fact name, evidence spec)], reason)
# evidence spec: (kind, source, excerpt, exit_status, redacted)
FINDINGS: list[tuple[Any, ...]] = [
    ("PWHASH-SHADOW-SCHEMES", "server:web1", "pass", "All 4 accounts with a password use yescrypt or sha512-crypt", {"schemes": {"yescrypt": 3, "sha512-crypt": 1}},
     [("shadow.hash_schemes", ("file", "sudo -n -- env LC_ALL=C LANG=C cat -- /etc/shadow", "root: locked\ndeploy: yescrypt\nanna: yescrypt\nerik: yescrypt\nbackup: sha512-crypt\n", 0, True))], None),
    ("PWHASH-SHADOW-SCHEMES", "server:db1", "pass", "All 2 accounts with a password use yescrypt", {"schemes": {"yescrypt": 2}},
     [("shadow.hash_schemes", ("file", "sudo -n -- env LC_ALL=C LANG=C cat -- /etc/shadow", "root: locked\nanna: yescrypt\nerik: yescrypt\n", 0, True))], None),
    ("PWHASH-MYSQL-AUTH-PLUGINS", "database:customers", "error", "Could not verify: SELECT command denied to user 'auditor'@'192.0.2.10' for table 'global_priv' (grant SELECT ON mysql.global_priv)", {},
     [("mysql.accounts", ("query", "SELECT user, host, plugin FROM mysql.global_priv", "ERROR 1142 (42000): SELECT command denied to user 'auditor'@'192.0.2.10' for table 'global_priv'", None, False))], "permission_denied"),
    ("ACCESS-SSH-CRYPTO", "server:web1", "fail", "sshd offers algorithms outside the policy's allowlist (macs: hmac-sha1)", {"outside_allowlist": {"macs": ["hmac-sha1"]}},
     [("sshd.effective_config", ("command", "sudo -n -- env LC_ALL=C LANG=C sshd -T", SSHD_T["server:web1"], 0, False))], None),
    ("ACCESS-SSH-CRYPTO", "server:db1", "pass", "sshd offers only allowlisted ciphers, MACs and key exchanges", {},
     [("sshd.effective_config", ("command", "sudo -n -- env LC_ALL=C LANG=C sshd -T", SSHD_T["server:db1"], 0, False))], None),
    ("TLS-PROTOCOLS", "web:kontrollpanel", "pass", "kontrollpanel.webbplats-nu.example:443 accepts TLS 1.2 and TLS 1.3 only (SSLv3, TLS 1.0 and TLS 1.1 refused)", {"accepted": ["TLSv1.2", "TLSv1.3"]},
     [("tls.protocols", ("network", "TLS handshakes with kontrollpanel.webbplats-nu.example:443 (SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", "SSLv3: refused (handshake failure)\nTLSv1: refused (protocol version)\nTLSv1.1: refused (protocol version)\nTLSv1.2: accepted ECDHE-RSA-AES128-GCM-SHA256\nTLSv1.3: accepted TLS_AES_256_GCM_SHA384\n", None, False))], None),
    ("TLS-PROTOCOLS", "mail:mx1", "waived", "mx1.webbplats-nu.example:587 accepts TLS 1.0 and TLS 1.1 after STARTTLS", {"accepted": ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]},
     [("tls.protocols", ("network", "STARTTLS handshakes with mx1.webbplats-nu.example:587 (SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", "SSLv3: refused (handshake failure)\nTLSv1: accepted ECDHE-RSA-AES128-SHA\nTLSv1.1: accepted ECDHE-RSA-AES128-SHA\nTLSv1.2: accepted ECDHE-RSA-AES256-GCM-SHA384\nTLSv1.3: accepted TLS_AES_256_GCM_SHA384\n", None, False))], None),
    ("TLS-CERT-EXPIRY", "web:kontrollpanel", "pass", "Certificate valid until 2027-02-14 (85 days left; at least 21 required)", {"not_after": "2027-02-14T23:59:59Z", "days_left": 85},
     [("tls.certificate", ("network", "TLS handshake with kontrollpanel.webbplats-nu.example:443", "subject: CN=kontrollpanel.webbplats-nu.example\nissuer: C=US, O=Let's Encrypt, CN=R11\nnot after: 2027-02-14 23:59:59 UTC\nkey: RSA 2048\nsignature: sha256WithRSAEncryption\n", None, False))], None),
    ("TLS-CERT-EXPIRY", "mail:mx1", "pass", "Certificate valid until 2027-01-30 (70 days left; at least 21 required)", {"not_after": "2027-01-30T12:00:00Z", "days_left": 70},
     [("tls.certificate", ("network", "STARTTLS handshake with mx1.webbplats-nu.example:587", "subject: CN=mx1.webbplats-nu.example\nissuer: C=US, O=Let's Encrypt, CN=R10\nnot after: 2027-01-30 12:00:00 UTC\n", None, False))], None),
    ("TLS-WEB-HSTS", "web:kontrollpanel", "pass", "Strict-Transport-Security: max-age=31536000; includeSubDomains", {"max_age": 31536000},
     [("web.https_headers", ("network", "GET https://kontrollpanel.webbplats-nu.example/", "HTTP/1.1 200 OK\nstrict-transport-security: max-age=31536000; includeSubDomains\n", None, False))], None),
    ("DATA-DECLARED-LOCATION", "server:web1", "pass", "Declared in SE (EU)", {"country": "SE"},
     [("inventory.location", ("inventory", f"{INVENTORY}:32", "country: SE  (from defaults:)", None, False))], None),
    ("DATA-DECLARED-LOCATION", "server:db1", "pass", "Declared in SE (EU)", {"country": "SE"},
     [("inventory.location", ("inventory", f"{INVENTORY}:32", "country: SE  (from defaults:)", None, False))], None),
    ("DATA-PROCESSOR-LOCATION", "processor:google", "fail", "Google (Google LLC, Mountain View) processes personal data in US, outside the EU; the policy allows no transfer outside the EU (safeguard: none)", {"country": "US", "safeguard": "none"},
     [("inventory.processor", ("inventory", f"{INVENTORY}:103", "entity: Google (Google LLC, Mountain View)\ncountry: US\npurpose: Analysdata via tredjepartscookie för marknadsföring och webbanalys för att förbättra våra tjänster.\nsafeguard: none\n", None, False))], None),
    ("DATA-PROCESSOR-LOCATION", "processor:facebook", "fail", "Facebook (Meta Platforms, Inc.) processes personal data in US, outside the EU; the policy allows no transfer outside the EU (safeguard: none)", {"country": "US", "safeguard": "none"},
     [("inventory.processor", ("inventory", f"{INVENTORY}:113", "entity: Facebook (Meta Platforms, Inc.)\ncountry: US\npurpose: Analysdata via tredjepartscookie i marknadsföringssyfte.\nsafeguard: none\n", None, False))], None),
    ("DATA-PROCESSOR-LOCATION", "processor:fortnox", "pass", "Fortnox AB processes personal data in SE (EU)", {"country": "SE"},
     [("inventory.processor", ("inventory", f"{INVENTORY}:122", "entity: Fortnox AB\ncountry: SE\n", None, False))], None),
    ("BACKUP-MAX-AGE", "backup:nightly", "pass", "Oldest backup file is 34 days old (2026-10-18); at most 35 allowed", {"oldest_days": 34},
     [("backup.file_ages", ("command", "sudo -n -- env LC_ALL=C LANG=C find /var/backups -type f -printf '%T@ %s %p\\n'", "1792292400 81233920 /var/backups/mysql/customers-2026-10-18.sql.gz\n…\n1795143600 84410368 /var/backups/mysql/customers-2026-11-20.sql.gz\n", 0, False))], None),
    ("BACKUP-FRESHNESS", "backup:nightly", "pass", "Newest backup file is 1 day old (2026-11-20); at most 2 allowed", {"newest_days": 1},
     [("backup.file_ages", ("command", "sudo -n -- env LC_ALL=C LANG=C find /var/backups -type f -printf '%T@ %s %p\\n'", "1792292400 81233920 /var/backups/mysql/customers-2026-10-18.sql.gz\n…\n1795143600 84410368 /var/backups/mysql/customers-2026-11-20.sql.gz\n", 0, False))], None),
    ("ACCESS-BACKUP-FILE-PERMISSIONS", "server:db1", "error", "Could not verify: find /var/backups did not finish within 20 s", {},
     [("files.backup_permissions", ("command", "sudo -n -- env LC_ALL=C LANG=C find /var/backups -printf '%m %u %g %p\\n'", "", None, False))], "timeout"),
    ("ACCESS-SSH-ROOT-LOGIN", "server:web1", "pass", "PermitRootLogin is no", {"permitrootlogin": "no"},
     [("sshd.effective_config", ("command", "sudo -n -- env LC_ALL=C LANG=C sshd -T", SSHD_T["server:web1"], 0, False))], None),
    ("ACCESS-SSH-ROOT-LOGIN", "server:db1", "pass", "PermitRootLogin is no", {"permitrootlogin": "no"},
     [("sshd.effective_config", ("command", "sudo -n -- env LC_ALL=C LANG=C sshd -T", SSHD_T["server:db1"], 0, False))], None),
    ("ACCESS-SSH-PASSWORD-AUTH", "server:web1", "pass", "PasswordAuthentication is no", {"passwordauthentication": "no"},
     [("sshd.effective_config", ("command", "sudo -n -- env LC_ALL=C LANG=C sshd -T", SSHD_T["server:web1"], 0, False))], None),
    ("ACCESS-SSH-PASSWORD-AUTH", "server:db1", "pass", "PasswordAuthentication is no", {"passwordauthentication": "no"},
     [("sshd.effective_config", ("command", "sudo -n -- env LC_ALL=C LANG=C sshd -T", SSHD_T["server:db1"], 0, False))], None),
    ("ACCESS-SUDO-NOPASSWD-ALL", "server:web1", "pass", "No sudoers rule grants NOPASSWD: ALL", {},
     [("sudo.rules", ("file", "sudo -n -- env LC_ALL=C LANG=C cat -- /etc/sudoers /etc/sudoers.d/deploy", "root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\ndeploy ALL=(root) NOPASSWD: /usr/bin/systemctl reload nginx\n", 0, False))], None),
    ("ACCESS-EXPOSED-SERVICE-PORTS", "server:db1", "pass", "MariaDB (3306) listens on 127.0.0.1 and 10.0.0.12 (the private network the policy allows)", {},
     [("net.listening", ("command", "sudo -n -- env LC_ALL=C LANG=C ss -tlnpH", "LISTEN 0 80 127.0.0.1:3306 0.0.0.0:* users:((\"mariadbd\",pid=812,fd=21))\nLISTEN 0 80 10.0.0.12:3306 0.0.0.0:* users:((\"mariadbd\",pid=812,fd=22))\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:((\"sshd\",pid=640,fd=3))\n", 0, False))], None),
]

WAIVER_FILE = "waivers.yaml"
WAIVER_APPLIED = {
    "id": "W-2026-004",
    "control": "TLS-PROTOCOLS",
    "target": "mail:*",
    "justification": "Två kunders kassasystem skickar e-post med TLS 1.0; de byts ut i januari. Övriga klienter använder TLS 1.2 eller senare.",
    "approver": "Anna Lindqvist, dataskyddsombud",
    "expires": "2027-01-31",
    "source": f"{WAIVER_FILE}:4",
}
WAIVER_EXPIRED = {
    "id": "W-2026-001",
    "control": "DATA-PROCESSOR-LOCATION",
    "target": "processor:google",
    "justification": "Google Analytics ersätts av en egen analystjänst i Sverige under hösten.",
    "approver": "Anna Lindqvist, dataskyddsombud",
    "expires": "2026-10-31",
    "source": f"{WAIVER_FILE}:12",
}

# Earlier runs of the same inventory and policy, oldest first: (run id, started, complete, by_family).
TREND = [
    ("1c9a7e20-4f5b-4d0e-8a61-7b3e2f9d0c11", "2026-08-21T03:00:03.902Z", True,
     {"tls": (4, 2, 0, 0, 0), "password_hashing": (2, 0, 1, 0, 0), "data_location": (3, 2, 0, 0, 0), "backup_retention": (1, 1, 0, 0, 0), "access": (5, 2, 0, 0, 0)}),
    ("5e2d8b41-0a7c-4f3e-b2d9-6c1a0e7f5b22", "2026-09-21T03:00:04.117Z", True,
     {"tls": (5, 1, 0, 0, 0), "password_hashing": (2, 0, 1, 0, 0), "data_location": (3, 1, 0, 0, 1), "backup_retention": (2, 0, 0, 0, 0), "access": (6, 1, 0, 0, 0)}),
    ("9f4c3a60-7d1e-4b8a-a5f2-0e6b9c3d7a33", "2026-10-21T03:00:03.988Z", False,
     {"tls": (5, 0, 0, 0, 1), "password_hashing": (2, 0, 1, 0, 0), "data_location": (3, 1, 0, 0, 1), "backup_retention": (2, 0, 0, 0, 0), "access": (6, 1, 1, 0, 0)}),
]
STATUSES = ("pass", "fail", "error", "skipped", "waived")


def _controls(ids: list[str]) -> list[dict[str, Any]]:
    registry = Registry.load(entry_points=False)
    out = []
    for cid in ids:
        out.append(to_jsonable(registry.controls[cid].info))  # as a run records it: every text, in English and Swedish
    return out


def _promises(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The promises with the verdicts a run records (computed as the runner does, by auditor.verdicts)."""
    registry = Registry.load(entry_points=False)
    kinds = frozenset(t["kind"] for t in TARGETS)
    scope = verdicts.Scope(
        controls={cid: {"kinds": c.info.kinds, "severity": c.info.severity.value} for cid, c in registry.controls.items()},
        excluded=frozenset(), only=(), limit=(), kinds_declared=kinds, kinds_audited=kinds,
    )
    results = [verdicts.Result(f["control"], f["target"], f["status"], f["message"], f.get("message_sv")) for f in findings]
    promises = [
        {"id": p["id"], "quote": p["quote"], "language": "sv", "source": {"document": DOCUMENT, "section": p["section"]}, "summary": dict(p["summary"]), "controls": list(p["controls"])}
        for p in PROMISES
    ]
    return [{**p, **r} for p, r in zip(promises, verdicts.promise_results(promises, results, scope))]


def _fact(target: str, name: str, spec: tuple[Any, ...], n: int, reason: str | None, message: str) -> dict[str, Any]:
    kind, source, excerpt, exit_status, redacted = spec
    when = at(0.4 + n * 0.35)
    error = reason is not None
    fact: dict[str, Any] = {
        "id": f"{target}/{name}",
        "target": target,
        "name": name,
        "collector": f"checks.{name.split('.')[0]}.{name.split('.')[1]}",
        "status": "error" if error else "ok",
        "collected_at": when,
        "duration_ms": 20000 if reason == "timeout" else 40 + 7 * n,
        "value": None if error else {"recorded": True},
        "reason": reason,
        "message": message.removeprefix("Could not verify: ") if error else None,
        "transport": {"server": "ssh", "web": "net", "mail": "net", "database": "db", "backup": "ssh", "processor": "inventory"}[target.split(":")[0]],
        "evidence": [{
            "kind": kind,
            "source": source,
            "at": when,
            "exit_status": exit_status,
            "excerpt": excerpt,
            "sha256": digest(excerpt if redacted else f"raw output of {source} on {target}\n{excerpt}"),
            "truncated": "…" in excerpt,
            "redacted": redacted,
            "argv": source.split() if kind in ("command", "file") else None,
            "duration_ms": 30 + n,
        }],
        "tool_version": TOOL_VERSION,
    }
    fact["sha256"] = hashlib.sha256(canonical_json(fact)).hexdigest()
    return fact


def _summary(findings: list[dict[str, Any]]) -> dict[str, Any]:
    by_status = {s: 0 for s in STATUSES}
    by_family: dict[str, dict[str, int]] = {}
    for f in findings:
        by_status[f["status"]] += 1
        by_family.setdefault(f["family"], {s: 0 for s in STATUSES})[f["status"]] += 1
    return {"total": len(findings), "by_status": by_status, "by_family": by_family}


def build(lang: str = "sv") -> dict[str, Any]:
    """The example run document, in ``lang`` ("sv" or "en"); the same dict on every call."""
    control_ids = list(dict.fromkeys(cid for p in PROMISES for cid in p["controls"] if cid != "BACKUP-AWS-BOOKKEEPING-RETENTION"))
    controls = _controls(control_ids)
    family = {c["id"]: c["family"] for c in controls}
    severity = {c["id"]: c["severity"] for c in controls}
    facts: dict[str, dict[str, Any]] = {}
    findings = []
    for n, (cid, target, status, message, details, fact_specs, reason) in enumerate(FINDINGS):
        ids = []
        for name, spec in fact_specs:
            fid = f"{target}/{name}"
            if fid not in facts:
                facts[fid] = _fact(target, name, spec, len(facts), reason, message)
            ids.append(fid)
        finding = {"control": cid, "target": target, "status": status, "message": message, "severity": severity[cid], "family": family[cid], "facts": ids, "details": details, "reason": reason, "waiver": None, "message_sv": None}
        if status == "waived":
            finding["waiver"] = {**WAIVER_APPLIED, "original_status": "fail"}
        findings.append(finding)
    applied = {**WAIVER_APPLIED, "matched": ["TLS-PROTOCOLS|mail:mx1"]}
    expired = {**WAIVER_EXPIRED, "matched": ["DATA-PROCESSOR-LOCATION|processor:google"]}
    trend = []
    for run_id, started, complete, families in TREND:
        by_family = {fam: dict(zip(STATUSES, counts)) for fam, counts in families.items()}
        by_status = {s: sum(c[s] for c in by_family.values()) for s in STATUSES}
        trend.append({"run_id": run_id, "started_at": started, "complete": complete, "by_status": by_status, "by_family": by_family})
    doc = {
        "schema_version": "1.1",
        "tool_version": TOOL_VERSION,
        "run_id": RUN_ID,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "complete": True,
        "lang": lang,
        "inventory": {"name": "webbplats-nu", "path": INVENTORY, "sha256": digest("example inventory webbplats-nu")},
        "policy": {
            "id": "webbplats-nu",
            "title": "Webbplats Nu AB: integritets- och dataskyddspolicy",
            "path": "auditor/policies/webbplats-nu.yaml",
            "sha256": digest("example policy webbplats-nu"),
            "language": "sv",
            "chain": ["baseline-eu", "webbplats-nu"],
            "document": {"name": DOCUMENT, "file": "seeds/003_9bdeea660c4dc31e.txt"},
            "parameters": {"allowed_countries": ["SE", "DK", "FI", "DE", "NL", "LU"], "third_country_transfers_allowed": False, "backup_max_age_days": 35, "backup_max_newest_age_days": 2, "tls_min_version": "1.2"},
        },
        "options": {"concurrency": 16, "timeout": 60, "host_timeout": 600, "only": [], "limit": [], "trust_on_first_use": False, "waivers": WAIVER_FILE},
        "targets": copy.deepcopy(TARGETS),
        "controls": controls,
        "promises": _promises(findings),
        "findings": findings,
        "facts": list(facts.values()),
        "summary": _summary(findings),
        "notices": [],
        "waivers": {"file": WAIVER_FILE, "sha256": digest("example waivers"), "applied": [applied], "expired": [expired], "unmatched": [], "not_needed": []},
        "trend": trend,
    }
    return json.loads(json.dumps(doc))  # plain JSON types, exactly what run.json holds


def write(parent: str = HERE) -> str:
    """Write the report folder of the Swedish example as ``parent/20261121T030004Z`` (replacing it); returns its path.

    The files and the manifest are written by ``write_report``, the writer of
    ``auditor run``, so the folder is exactly what a run with this result writes.
    """
    final = os.path.join(parent, FOLDER)
    if os.path.isdir(final):
        shutil.rmtree(final)
    return write_report(build("sv"), parent, FOLDER)


if __name__ == "__main__":
    folder = write()
    for name in sorted(os.listdir(folder)):
        print(f"wrote {os.path.relpath(os.path.join(folder, name))}")
