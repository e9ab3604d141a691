"""Password hashing: the schemes of /etc/shadow, per account.

Only the account name and the *scheme* of each hash leave the target's
output: the evidence excerpt is rewritten to ``account: scheme`` before it is
recorded, and the digest is taken of that rewrite, never of the hashes.

>>> hash_scheme("$y$j9T$salt$hash")
('yescrypt', False)
>>> hash_scheme("!$6$salt$hash")
('sha512-crypt', True)
>>> hash_scheme("*")
('none', True)
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from auditor.collect import Context, rooted
from auditor.errors import CollectError
from auditor.model import Reason, Target
from auditor.registry import Outcome, collector, control, failed, parameter, passed, sv
from auditor.shellreads import Reads

allowed_schemes = parameter(
    "password_hash_schemes_allowed", list,
    ["yescrypt", "gost-yescrypt", "sha512-crypt", "bcrypt", "scrypt", "argon2"],
    "Password hash schemes accepted for accounts that can log in with a password.",
)

_PREFIXES = (
    ("$y$", "yescrypt"),
    ("$gy$", "gost-yescrypt"),
    ("$7$", "scrypt"),
    ("$argon2", "argon2"),
    ("$2a$", "bcrypt"), ("$2b$", "bcrypt"), ("$2y$", "bcrypt"), ("$2x$", "bcrypt"),
    ("$6$", "sha512-crypt"),
    ("$5$", "sha256-crypt"),
    ("$sha1$", "sha1-crypt"),
    ("$md5", "sun-md5-crypt"),
    ("$1$", "md5-crypt"),
    ("$3$", "nt-hash"),
)
_DES = re.compile(r"[./0-9A-Za-z]{13}")
_BSDI = re.compile(r"_[./0-9A-Za-z]{19}")


def hash_scheme(field: str) -> tuple[str, bool]:
    """Classify a shadow password field → (scheme, locked).

    ``none``: no password at all (``*``, ``!``, ``!!``); ``empty``: the field is
    empty, so no password is needed; ``unknown``: not a crypt(3) format we
    know, possibly a plaintext password.
    """
    locked = field.startswith(("!", "*"))
    rest = field.lstrip("!")
    if field == "":
        return "empty", False
    if rest in ("", "*", "*LK*", "*NP*", "x") or rest.startswith("*"):
        return "none", True
    for prefix, scheme in _PREFIXES:
        if rest.startswith(prefix):
            return scheme, locked
    if _BSDI.fullmatch(rest):
        return "bsdi-crypt", locked
    if _DES.fullmatch(rest):
        return "des-crypt", locked
    return "unknown", locked


def parse_shadow(text: str) -> list[dict[str, Any]]:
    accounts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 2:
            raise CollectError(Reason.PARSE_ERROR, f"shadow line {number} has no password field")
        scheme, locked = hash_scheme(parts[1])
        accounts.append({"account": parts[0], "scheme": scheme, "locked": locked})
    return accounts


def redact_shadow(text: str) -> str:
    """The shadow file as evidence may show it: account and scheme only."""
    try:
        rows = parse_shadow(text)
    except CollectError:
        return "[shadow content withheld: unparseable]"
    return "\n".join(f"{r['account']}: {r['scheme']}{' (locked)' if r['locked'] else ''}" for r in rows)


@collector("shadow.hash_schemes", kinds=("server",), timeout=15, reads=lambda t, h: Reads(files=(rooted(h, "/etc/shadow"),)))
def shadow_hash_schemes(ctx: Context) -> list[dict[str, Any]]:
    path = ctx.rooted("/etc/shadow")
    text = ctx.reads.file(ctx, path, redact=redact_shadow)
    if text is None:  # every Linux server has one: a wrong root_dir, not a server without passwords
        raise CollectError(Reason.NOT_FOUND, f"{path} does not exist; password hashes cannot be checked")
    accounts = parse_shadow(text)
    if not accounts:
        raise CollectError(Reason.PARSE_ERROR, f"{path} lists no accounts")
    return accounts


_COMMON: dict[str, Any] = dict(family="password_hashing", kinds=("server",), facts=("shadow.hash_schemes",))


@control(
    "PWHASH-SHADOW-SCHEMES", **_COMMON, severity="high", params=("password_hash_schemes_allowed",),
    references=("GDPR Art. 32(1)(a)", "NIST SP 800-63B 5.1.1.2", "OWASP Password Storage Cheat Sheet"),
    title="System account passwords are stored with strong one-way hashes",
    title_sv="Systemkontonas lösenord lagras med starka envägshashar",
    rationale_sv="Policyerna utlovar envägshashar för lösenord. MD5-crypt, DES-crypt och osaltade eller okända format knäcks snabbt eller kan till och med vara klartext; konton som kan logga in med lösenord måste använda ett långsamt, saltat schema.",
    remediation="Have the listed accounts set a new password (passwd -e forces it at the next login) after the server uses a strong scheme.",
    remediation_sv="Låt de listade kontona sätta ett nytt lösenord (passwd -e tvingar fram det vid nästa inloggning) när servern använder ett starkt schema.",
    plain="{n} server(s) have accounts whose password is stored with a weak hash",
    plain_sv="{n} server(ar) har konton vars lösenord lagras med en svag hash",
    rationale="The policies promise one-way hash algorithms for passwords. MD5-crypt, DES-crypt and unsalted or unknown formats "
    "can be cracked quickly or may even be plaintext; accounts that can log in with a password must use a slow, salted scheme.",
)
def shadow_schemes(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    accounts = facts["shadow.hash_schemes"]
    allowed = set(params["password_hash_schemes_allowed"])
    usable = [a for a in accounts if not a["locked"] and a["scheme"] not in ("none", "empty")]
    weak = [a for a in usable if a["scheme"] not in allowed]
    weak_locked = [a for a in accounts if a["locked"] and a["scheme"] not in ("none", "empty") and a["scheme"] not in allowed]
    counts: dict[str, int] = {}
    for a in accounts:
        counts[a["scheme"]] = counts.get(a["scheme"], 0) + 1
    details = {"schemes": counts, "accounts_with_password": len(usable), "locked_with_weak_hash": [a["account"] for a in weak_locked]}
    if weak:
        listing = ", ".join(f"{a['account']} ({a['scheme']})" for a in weak[:20])
        return failed(sv(f"{len(weak)} account(s) can log in with a password stored in a scheme the policy does not accept: {listing}",
                         f"{len(weak)} konto(n) kan logga in med ett lösenord som lagras med ett schema som policyn inte godtar: {listing}"), weak=[{"account": a["account"], "scheme": a["scheme"]} for a in weak], **details)
    if not usable:
        return passed(sv(f"No account has a usable password ({len(accounts)} accounts, all locked or without password)",
                         f"Inget konto har ett användbart lösenord ({len(accounts)} konton, alla låsta eller utan lösenord)"), **details)
    schemes = ", ".join(sorted({a["scheme"] for a in usable}))
    return passed(sv(f"All {len(usable)} account(s) with a password use accepted schemes ({schemes})",
                     f"Alla konton med lösenord ({len(usable)} st.) använder godtagna scheman ({schemes})"), **details)


@control(
    "PWHASH-SHADOW-EMPTY", **_COMMON, severity="critical",
    references=("GDPR Art. 32(1)(b)", "CIS Distribution Independent Linux 6.2.1"),
    title="No system account has an empty password",
    title_sv="Inget systemkonto har tomt lösenord",
    rationale_sv="Ett tomt lösenordsfält låter vem som helst logga in på kontot utan lösenord överallt där lösenordsinloggning är tillåten (konsol, su, tjänster som använder PAM).",
    remediation="Lock the listed accounts (passwd -l) or give them a password.",
    remediation_sv="Lås de listade kontona (passwd -l) eller ge dem ett lösenord.",
    plain="{n} server(s) have accounts with an empty password",
    plain_sv="{n} server(ar) har konton med tomt lösenord",
    rationale="An empty password field lets anyone log in as that account without a password wherever password logins are allowed (console, su, services using PAM).",
)
def shadow_empty(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    empty = [a["account"] for a in facts["shadow.hash_schemes"] if a["scheme"] == "empty"]
    if empty:
        names = ", ".join(empty[:20])
        return failed(sv(f"{len(empty)} account(s) have an empty password: {names}", f"{len(empty)} konto(n) har tomt lösenord: {names}"), accounts=empty)
    total = len(facts["shadow.hash_schemes"])
    return passed(sv(f"None of the {total} accounts has an empty password", f"Inget konto har tomt lösenord ({total} granskade)"))
