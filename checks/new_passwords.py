"""How the *next* password will be hashed: /etc/login.defs and PAM's pam_unix.

PWHASH-SHADOW-SCHEMES judges the hashes already in /etc/shadow; this module
judges the scheme the system gives a password set from now on:

* ``/etc/login.defs``: ``ENCRYPT_METHOD`` (``DES`` when unset, or ``MD5`` with
  the old ``MD5_CRYPT_ENAB yes``), ``SHA_CRYPT_MIN_ROUNDS`` /
  ``SHA_CRYPT_MAX_ROUNDS``, ``YESCRYPT_COST_FACTOR``: what shadow's own tools
  (chpasswd, newusers, useradd -p...) use, and pam_unix's default;
* PAM: the ``password`` lines of ``pam_unix.so`` with a hash option
  (``yescrypt``, ``gost_yescrypt``, ``sha512``, ``sha256``, ``blowfish``,
  ``md5``, ``bigcrypt``; the last one on a line wins, as pam_unix parses
  them) and ``rounds=N``. A pam_unix line without a hash option takes
  ENCRYPT_METHOD from login.defs (pam_unix(8)). PAM wins where both set one.

PAM files read: ``/etc/pam.d/passwd`` (the service passwd(1) uses),
``common-password`` (Debian, Ubuntu), ``system-auth`` and ``password-auth``
(RHEL family), each expanded through ``@include FILE`` and ``password
include|substack FILE`` (``postlogin``, which RHEL's passwd includes, is read too). All are read by the server's one shared ``cat``
(auditor/shellreads.py), never by a command of their own: an include naming
any other file cannot be followed, and the fact is an error naming it.

>>> pam_scheme(["obscure", "sha512", "yescrypt", "rounds=7"])
('yescrypt', 'yescrypt', 7)
>>> logindefs_scheme({"ENCRYPT_METHOD": ("SHA512", 3, "ENCRYPT_METHOD SHA512")})
('sha512-crypt', 'ENCRYPT_METHOD SHA512')
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Mapping

from auditor.collect import Context, rooted
from auditor.errors import CollectError
from auditor.model import Reason, Target
from auditor.registry import Outcome, Text, collector, control, failed, parameter, passed, sv, unverified
from auditor.shellreads import Reads

LOGIN_DEFS = "/etc/login.defs"
PAM_DIR = "/etc/pam.d"
PAM_ROOTS = ("passwd", "common-password", "system-auth", "password-auth")  # the stacks judged
PAM_FILES = (*PAM_ROOTS, "postlogin")  # and what they include on the common distributions (RHEL's passwd: password substack postlogin)
MAX_DEPTH = 10

SHA_MIN_ROUNDS = parameter(
    "password_hash_sha_crypt_min_rounds", int, 5000,
    "Fewest rounds accepted for SHA-crypt (sha512-crypt, sha256-crypt) new passwords: SHA_CRYPT_MIN_ROUNDS/SHA_CRYPT_MAX_ROUNDS "
    "in /etc/login.defs or pam_unix rounds= (crypt's default, 5000, when neither is set).",
)
YESCRYPT_MIN_COST = parameter(
    "password_hash_yescrypt_min_cost", int, 5,
    "Lowest yescrypt cost factor accepted for new passwords: YESCRYPT_COST_FACTOR in /etc/login.defs or pam_unix rounds= (5 when neither is set).",
)

# pam_unix's hash options → the scheme names of checks/shadow.py (password_hash_schemes_allowed)
PAM_OPTIONS = {"yescrypt": "yescrypt", "gost_yescrypt": "gost-yescrypt", "sha512": "sha512-crypt", "sha256": "sha256-crypt",
               "blowfish": "bcrypt", "md5": "md5-crypt", "bigcrypt": "bigcrypt"}
# login.defs ENCRYPT_METHOD values (shadow's login.defs(5)) → scheme names
ENCRYPT_METHODS = {"YESCRYPT": "yescrypt", "GOST_YESCRYPT": "gost-yescrypt", "SHA512": "sha512-crypt", "SHA256": "sha256-crypt",
                   "BCRYPT": "bcrypt", "MD5": "md5-crypt", "DES": "des-crypt"}
DEFAULT_COST = {"sha512-crypt": 5000, "sha256-crypt": 5000, "yescrypt": 5, "gost-yescrypt": 5}
_LOGIN_DEFS_KEYS = ("ENCRYPT_METHOD", "MD5_CRYPT_ENAB", "SHA_CRYPT_MIN_ROUNDS", "SHA_CRYPT_MAX_ROUNDS", "YESCRYPT_COST_FACTOR")


# -- login.defs ---------------------------------------------------------------------


def parse_login_defs(text: str) -> dict[str, tuple[str, int, str]]:
    """The keys that decide hashing → (value, line number, the line). The last occurrence wins, as in shadow's getdef."""
    out: dict[str, tuple[str, int, str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if parts[0] in _LOGIN_DEFS_KEYS:
            value = parts[1].strip().strip('"') if len(parts) > 1 else ""
            out[parts[0]] = (value, number, stripped)
    return out


def logindefs_scheme(settings: Mapping[str, tuple[str, int, str]]) -> tuple[str, str]:
    """(scheme, the deciding line or what stands in for it) from login.defs settings."""
    scheme, line = logindefs_choice(settings)
    return scheme, line.en


def logindefs_choice(settings: Mapping[str, tuple[str, int, str]]) -> tuple[str, Text]:
    """:func:`logindefs_scheme` with the deciding line in both languages."""
    if "ENCRYPT_METHOD" in settings:
        value, _, line = settings["ENCRYPT_METHOD"]
        return ENCRYPT_METHODS.get(value.upper(), f"unknown ({value})"), sv(line, line)
    md5 = settings.get("MD5_CRYPT_ENAB")
    if md5 is not None and md5[0].lower() == "yes":
        return "md5-crypt", sv(md5[2] + " (no ENCRYPT_METHOD)", md5[2] + " (ENCRYPT_METHOD saknas)")
    return "des-crypt", sv("no ENCRYPT_METHOD and no MD5_CRYPT_ENAB: shadow's default, DES",
                           "varken ENCRYPT_METHOD eller MD5_CRYPT_ENAB är satt: shadows standardval, DES")


def logindefs_cost(scheme: str, settings: Mapping[str, tuple[str, int, str]]) -> tuple[int | None, str | None]:
    """The lowest rounds/cost login.defs gives ``scheme`` (None: not set or unreadable), and the line."""
    if scheme in ("sha512-crypt", "sha256-crypt"):
        found = [(settings[k][0], settings[k][2]) for k in ("SHA_CRYPT_MIN_ROUNDS", "SHA_CRYPT_MAX_ROUNDS") if k in settings]
    elif scheme in ("yescrypt", "gost-yescrypt"):
        found = [(settings[k][0], settings[k][2]) for k in ("YESCRYPT_COST_FACTOR",) if k in settings]
    else:
        return None, None
    values = [(int(v), line) for v, line in found if v.isdigit()]
    return min(values) if values else (None, None)


# -- PAM -------------------------------------------------------------------------------


def pam_lines(text: str) -> list[tuple[int, str, list[str]]]:
    """A PAM file → (line number, the line with blanks collapsed, tokens): comments dropped, ``\\`` continuations joined, ``[...]`` one token."""
    out: list[tuple[int, str, list[str]]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            tokens = re.findall(r"\[[^\]]*\]|\S+", line)
            out.append((start, " ".join(tokens), tokens))
    return out


def pam_scheme(args: list[str]) -> tuple[str | None, str | None, int | None]:
    """pam_unix arguments → (scheme or None, the option that set it, rounds= or None); the last hash option wins."""
    scheme = option = None
    rounds: int | None = None
    for arg in args:
        if arg in PAM_OPTIONS:
            scheme, option = PAM_OPTIONS[arg], arg
        elif arg.startswith("rounds=") and arg[7:].isdigit():
            rounds = int(arg[7:])
    return scheme, option, rounds


def _include_path(pam_dir: str, name: str) -> str:
    """An included name as libpam resolves it: relative to /etc/pam.d; an absolute path under the same root_dir."""
    if name.startswith("/"):
        return posixpath.normpath(pam_dir[: -len(PAM_DIR)] + name)
    return posixpath.normpath(posixpath.join(pam_dir, name))


def expand_password_stack(root: str, files: Mapping[str, str | None], pam_dir: str, shown: Mapping[str, str]) -> list[dict[str, Any]]:
    """The pam_unix ``password`` lines reached from ``root`` (includes followed among ``files``), in stack order.

    ``files``: path → content (None: the file does not exist); ``shown``: path → the path as a person knows it (without root_dir).
    """
    found: list[dict[str, Any]] = []

    def walk(path: str, via: tuple[str, ...]) -> None:
        if len(via) > MAX_DEPTH:
            raise CollectError(Reason.PARSE_ERROR, f"PAM includes nest deeper than {MAX_DEPTH} from {shown[root]}: {' -> '.join(via)}")
        for number, line, tokens in pam_lines(files[path] or ""):
            where = f"{shown[path]}:{number}"
            if tokens[0] == "@include":
                if len(tokens) < 2:
                    raise CollectError(Reason.PARSE_ERROR, f"{where}: '@include' names no file")
                walk(_target(tokens[1], where), (*via, where))
                continue
            kind = tokens[0].lstrip("-").lower()
            if kind != "password" or len(tokens) < 3:
                continue
            if tokens[1] in ("include", "substack"):
                walk(_target(tokens[2], where), (*via, where))
                continue
            if posixpath.basename(tokens[2]) == "pam_unix.so":
                scheme, option, rounds = pam_scheme(tokens[3:])
                found.append({"file": shown[path], "line": number, "text": line, "scheme": scheme, "option": option, "rounds": rounds, "via": list(via)})

    def _target(name: str, where: str) -> str:
        target = _include_path(pam_dir, name)
        if target not in files:
            raise CollectError(Reason.COMMAND_FAILED, f"{where} includes {name}, which the audit does not read (the shared reads hold only "
                               f"{', '.join(shown[p] for p in files)}): the PAM password stack cannot be followed")
        if files[target] is None:
            raise CollectError(Reason.NOT_FOUND, f"{where} includes {shown[target]}, which does not exist: PAM fails this stack")
        return target

    walk(root, ())
    return found


# -- the fact --------------------------------------------------------------------------------


def show_settings(text: str) -> str:
    """A login.defs or PAM file as evidence shows it: its numbered lines, without comments
    and blank lines (login.defs is mostly comments: the settings are what the verdict rests on)."""
    return "\n".join(f"{n}: {line}" for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#"))


def _reads(target: Target, host: Target) -> Reads:
    return Reads(files=(rooted(host, LOGIN_DEFS), *(rooted(host, f"{PAM_DIR}/{name}") for name in PAM_FILES)))


@collector("shadow.new_password_hashing", kinds=("server",), timeout=15, reads=_reads)
def new_password_hashing(ctx: Context) -> dict[str, Any]:
    defs_path = ctx.rooted(LOGIN_DEFS)
    defs_text = ctx.reads.file(ctx, defs_path, redact=show_settings)
    pam_dir = ctx.rooted(PAM_DIR)
    paths = [ctx.rooted(f"{PAM_DIR}/{name}") for name in PAM_FILES]
    shown = {p: f"{PAM_DIR}/{name}" for p, name in zip(paths, PAM_FILES)}
    files = {p: ctx.reads.file(ctx, p, redact=show_settings) for p in paths}
    unix: dict[tuple[str, int], dict[str, Any]] = {}
    stacks: list[dict[str, Any]] = []
    for path, name in zip(paths, PAM_FILES):
        if files[path] is None or name not in PAM_ROOTS:
            continue
        lines = expand_password_stack(path, files, pam_dir, shown)
        stacks.append({"file": shown[path], "pam_unix_lines": [f"{u['file']}:{u['line']}" for u in lines]})
        for u in lines:
            unix.setdefault((u["file"], u["line"]), u)
    if defs_text is None and not stacks:
        raise CollectError(Reason.NOT_FOUND, f"neither {LOGIN_DEFS} nor any of {', '.join(shown.values())} exists: nothing says how new passwords are hashed")
    return {
        "login_defs": None if defs_text is None else {"file": LOGIN_DEFS, "settings": {k: {"value": v, "line": n, "text": t} for k, (v, n, t) in parse_login_defs(defs_text).items()}},
        "pam_stacks": stacks,
        "pam_unix": list(unix.values()),
    }


# -- the control -------------------------------------------------------------------------------


def _settings(fact: Mapping[str, Any]) -> dict[str, tuple[str, int, str]]:
    defs = fact.get("login_defs") or {}
    return {k: (v["value"], v["line"], v["text"]) for k, v in (defs.get("settings") or {}).items()}


def decisions(fact: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every source that decides a new password's scheme: each pam_unix line, else login.defs alone."""
    settings = _settings(fact)
    has_defs = fact.get("login_defs") is not None
    out = []
    for u in fact.get("pam_unix") or []:
        where = f"{u['file']}:{u['line']}"
        if u["scheme"] is not None:
            cost = u["rounds"] if u["rounds"] is not None else None
            out.append({"source": where, "scheme": u["scheme"], "deciding": f"{where}: {u['text']}", "deciding_sv": f"{where}: {u['text']}", "cost": cost,
                        "cost_from": f"{where}: rounds={u['rounds']}" if u["rounds"] is not None else None})
            continue
        if not has_defs:  # pam_unix's default comes from login.defs, which is absent
            out.append({"source": where, "scheme": "des-crypt", "deciding": f"{where}: {u['text']} (no hash option, and no {LOGIN_DEFS}: pam_unix's default, DES)",
                        "deciding_sv": f"{where}: {u['text']} (inget hashval och ingen {LOGIN_DEFS}: pam_unix standardval, DES)", "cost": None, "cost_from": None})
            continue
        scheme, line = logindefs_choice(settings)
        cost, cost_line = (u["rounds"], f"{where}: rounds={u['rounds']}") if u["rounds"] is not None else logindefs_cost(scheme, settings)
        out.append({"source": where, "scheme": scheme, "deciding": f"{where}: {u['text']} (no hash option: {LOGIN_DEFS}: {line.en})",
                    "deciding_sv": f"{where}: {u['text']} (inget hashval: {LOGIN_DEFS}: {line.sv})", "cost": cost, "cost_from": cost_line})
    if not out and has_defs:
        scheme, line = logindefs_choice(settings)
        cost, cost_line = logindefs_cost(scheme, settings)
        out.append({"source": LOGIN_DEFS, "scheme": scheme, "deciding": f"{LOGIN_DEFS}: {line.en}", "deciding_sv": f"{LOGIN_DEFS}: {line.sv}", "cost": cost, "cost_from": cost_line})
    return out


@control(
    "PWHASH-NEW-PASSWORD-SCHEME", family="password_hashing", kinds=("server",), severity="high",
    facts=("shadow.new_password_hashing",), params=("password_hash_schemes_allowed", "password_hash_sha_crypt_min_rounds", "password_hash_yescrypt_min_cost"),
    references=("GDPR Art. 32(1)(a)", "CIS Distribution Independent Linux 5.3.4, 5.4.4", "pam_unix(8)", "login.defs(5)"),
    title="New system passwords will be stored with a strong one-way hash",
    title_sv="Nya systemlösenord kommer att lagras med en stark envägshash",
    rationale_sv="Hasharna i /etc/shadow i dag säger inget om nästa lösenord: /etc/login.defs (ENCRYPT_METHOD) och pam_unix-inställningarna i PAM bestämmer schemat för varje lösenord som sätts från och med nu. MD5-crypt, DES eller för få SHA-crypt-rundor där gör att varje ändrat lösenord åter blir svagt.",
    remediation="Set ENCRYPT_METHOD to YESCRYPT or SHA512 in /etc/login.defs and the same scheme on the pam_unix password line.",
    remediation_sv="Sätt ENCRYPT_METHOD till YESCRYPT eller SHA512 i /etc/login.defs och samma schema på raden för pam_unix password i PAM.",
    plain="{n} server(s) will store new passwords with a weak hash",
    plain_sv="{n} server(ar) kommer att lagra nya lösenord med en svag hash",
    rationale="The hashes in /etc/shadow today say nothing about the next password: /etc/login.defs (ENCRYPT_METHOD) and PAM's pam_unix options "
    "decide the scheme of every password set from now on. MD5-crypt, DES or too few SHA-crypt rounds there mean every changed password is weak again.",
)
def new_password_scheme(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["shadow.new_password_hashing"]
    allowed = set(params["password_hash_schemes_allowed"])
    minimum = {"sha512-crypt": params["password_hash_sha_crypt_min_rounds"], "sha256-crypt": params["password_hash_sha_crypt_min_rounds"],
               "yescrypt": params["password_hash_yescrypt_min_cost"], "gost-yescrypt": params["password_hash_yescrypt_min_cost"]}
    found = decisions(fact)
    details: dict[str, Any] = {"decisions": found, "pam_stacks": fact.get("pam_stacks", [])}
    settings = _settings(fact)
    if fact.get("pam_unix") and "ENCRYPT_METHOD" in settings and all(u["scheme"] for u in fact["pam_unix"]):
        details["login_defs_overridden"] = settings["ENCRYPT_METHOD"][2]
    if not found:
        return unverified(sv("PAM's password stacks reach no pam_unix line and there is no /etc/login.defs: nothing here says how new passwords are hashed",
                             "PAM:s lösenordsstackar når ingen pam_unix-rad och /etc/login.defs finns inte: inget här visar hur nya lösenord hashas"),
                          reason="incomplete_evidence", **details)
    bad: list[Text] = []
    for d in found:
        if d["scheme"] not in allowed:
            bad.append(sv(f"{d['scheme']}, decided by {d['deciding']}", f"{d['scheme']}, bestämt av {d['deciding_sv']}"))
            continue
        floor = minimum.get(d["scheme"])
        cost = d["cost"] if d["cost"] is not None else DEFAULT_COST.get(d["scheme"])
        if floor is not None and cost is not None and cost < floor:
            what, what_sv = ("rounds", "rundor") if "sha" in d["scheme"] else ("cost factor", "kostnadsfaktor")
            source, source_sv = (d["cost_from"], d["cost_from"]) if d["cost_from"] else (d["deciding"], d["deciding_sv"])
            bad.append(sv(f"{d['scheme']} with {what} {cost} (the policy asks at least {floor}), decided by {source}",
                          f"{d['scheme']} med {what_sv} {cost} (policyn kräver minst {floor}), bestämt av {source_sv}"))
    if bad:
        return failed(sv(f"New passwords would be hashed with a scheme the policy does not accept: {'; '.join(b.en for b in bad)}",
                         f"Nya lösenord skulle hashas med ett schema som policyn inte godtar: {'; '.join(b.sv for b in bad)}"), weak=[b.en for b in bad], **details)
    shown = "; ".join(f"{d['scheme']} ({d['deciding']})" for d in found)
    shown_sv = "; ".join(f"{d['scheme']} ({d['deciding_sv']})" for d in found)
    return passed(sv(f"New passwords are hashed with accepted schemes: {shown}", f"Nya lösenord hashas med godtagna scheman: {shown_sv}"), **details)
