"""Files on a server: who can read secrets and backups, and how old backups are.

The server's one shared ``find -printf`` (auditor/shellreads.py) lists type,
mode, owner, size and modification time of everything below the declared
paths (never the content); the clock is ``date +%s``, without sudo.
Controls judge "readable by other users" by the *effective* permissions:
a file with mode o+r inside a directory without o+x is not reachable.

Families: access (permissions of /etc/shadow, private keys, backups) and
backup_retention (oldest and newest backup file).

The backup controls also judge the targets of ``backups:``: their
``files.backup_listing`` (checks/backup_repos.py) has the same shape, with
entries of type ``a`` for the archives of a borg or restic repository.
"""

from __future__ import annotations

import fnmatch
import posixpath
import stat
from typing import Any, Iterable, Mapping

from auditor.collect import Context, rooted
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, Text, collector, control, count_sv, failed, parameter, passed, skipped, sv, unverified
from auditor.shellreads import MAX_ENTRIES, Reads

SHOWN = 20  # offenders listed in a message

BACKUP_MAX_AGE = parameter("backup_max_age_days", int, 35, "Oldest backup file allowed, in days (the backup schedule's maximum age).")
BACKUP_FRESHNESS = parameter("backup_freshness_days", int, 2, "The newest backup file must be younger than this, in days (backups actually happen).")

PRIVATE_KEY_PATTERNS = ("*_key", "*.key", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "*.p12", "*.pfx", "*-key.pem", "*_key.pem", "privkey*.pem", "*.ppk")
SYSTEM_FILES = ("/etc/shadow", "/etc/gshadow")


def is_private_key(path: str) -> bool:
    """Judged by name only: a key's content is never read."""
    name = posixpath.basename(path)
    return any(fnmatch.fnmatch(name, p) for p in PRIVATE_KEY_PATTERNS)


def combine(listings: list[dict[str, Any]]) -> dict[str, Any]:
    """Listings of several roots as one (the shape the controls judge)."""
    return {
        "roots": [r for x in listings for r in x["roots"]],
        "entries": [e for x in listings for e in x["entries"]],
        "missing": [m for x in listings for m in x["missing"]],
        "unreadable": [u for x in listings for u in x["unreadable"]],
        "truncated": any(x["truncated"] for x in listings),
    }


def list_tree(ctx: Context, paths: Iterable[str]) -> dict[str, Any]:
    """The server's shared listing (one ``find`` per server, see auditor.shellreads) of ``paths``."""
    return combine([ctx.reads.listing(ctx, p) for p in paths])


def target_clock(ctx: Context) -> int:
    """Seconds since the epoch on the target's own clock (mtimes are on that clock too); needs no root."""
    result = ctx.run(["date", "+%s"], sudo=False)
    try:
        return int(result.text.strip())
    except ValueError:
        raise CollectError(Reason.PARSE_ERROR, f"`date +%s` printed {result.text.strip()!r}") from None


def _system_reads(target: Target, host: Target) -> Reads:
    return Reads(trees=tuple(rooted(host, p) for p in SYSTEM_FILES))


def _declared(target: Target, key: str) -> list[str]:
    return [str(p) for p in (target.get(key) or [])]


@collector("files.system_permissions", kinds=("server",), timeout=15, reads=_system_reads)
def system_permissions(ctx: Context) -> dict[str, Any]:
    paths = [ctx.rooted(p) for p in SYSTEM_FILES]
    listing = list_tree(ctx, paths)
    if paths[0] in listing["missing"]:
        raise NotApplicable(f"{paths[0]} does not exist on this server")
    return listing


@collector("files.key_listing", kinds=("server",), timeout=30, reads=lambda t, h: Reads(trees=tuple(rooted(h, p) for p in _declared(t, "key_paths"))))
def key_listing(ctx: Context) -> dict[str, Any]:
    paths = _declared(ctx.target, "key_paths")
    if not paths:
        raise NotApplicable("no key_paths are declared for this server in the inventory")
    return list_tree(ctx, [ctx.rooted(p) for p in paths])


@collector("files.backup_listing", kinds=("server",), timeout=60, reads=lambda t, h: Reads(trees=tuple(rooted(h, p) for p in _declared(t, "backup_paths"))))
def backup_listing(ctx: Context) -> dict[str, Any]:
    paths = _declared(ctx.target, "backup_paths")
    if not paths:
        raise NotApplicable("no backup_paths are declared for this server in the inventory")
    now = target_clock(ctx)  # first: it needs no root and runs beside the shared find, not after it
    listing = list_tree(ctx, [ctx.rooted(p) for p in paths])
    listing["now"] = now
    return listing


# -- evaluation helpers -------------------------------------------------------

def _mode(entry: Mapping[str, Any]) -> int:
    return int(entry["mode"], 8)


def exposed_to_others(listing: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Regular files other users can read (o+r, and o+x on every listed directory above) or write."""
    dirs = {e["path"]: _mode(e) for e in listing["entries"] if e["type"] == "d"}
    roots = [r.rstrip("/") or "/" for r in listing["roots"]]
    out = []
    for e in listing["entries"]:
        if e["type"] != "f":
            continue
        mode = _mode(e)
        reachable = True
        parent = posixpath.dirname(e["path"])
        while parent in dirs:
            if not dirs[parent] & stat.S_IXOTH:
                reachable = False
                break
            if parent in roots:
                break
            parent = posixpath.dirname(parent)
        if reachable and mode & (stat.S_IROTH | stat.S_IWOTH):
            out.append({"path": e["path"], "mode": e["mode"], "owner": e["owner"], "group": e["group"]})
    return out


def _completeness(listing: Mapping[str, Any]) -> Outcome | None:
    if listing["unreadable"]:
        shown = ', '.join(listing['unreadable'][:SHOWN])
        return unverified(sv(f"could not read {len(listing['unreadable'])} path(s): {shown}",
                             f"kunde inte läsa {count_sv(len(listing['unreadable']), 'sökväg', 'sökvägar')}: {shown}"), reason=Reason.PERMISSION_DENIED.value, unreadable=listing["unreadable"])
    if listing["truncated"]:
        return unverified(sv(f"the listing was cut at {MAX_ENTRIES} entries; the rest could not be checked",
                             f"listningen avbröts vid {MAX_ENTRIES} poster; resten kunde inte kontrolleras"), truncated=True)
    return None


def _declared_missing(listing: Mapping[str, Any]) -> Outcome | None:
    """A path the inventory declares that is not there: nothing was judged there, so never a pass (a typo, or a removed folder)."""
    if listing["missing"]:
        shown = ', '.join(listing['missing'][:SHOWN])
        return unverified(sv(f"declared path(s) do not exist: {shown}; nothing there could be judged (check the inventory)",
                             f"angivna sökvägar finns inte: {shown}; ingenting där kunde bedömas (kontrollera inventariet)"),
                          reason=Reason.NOT_FOUND.value, missing=listing["missing"])
    return None


def _at_least(n: int, listing: Mapping[str, Any]) -> str:
    """``n`` as a message states it: "at least n" when the listing was cut (more may lie beyond the cut)."""
    return f"at least {n}" if listing["truncated"] else str(n)


def _at_least_sv(n: int, listing: Mapping[str, Any], one: str, many: str) -> str:
    return ("minst " if listing["truncated"] else "") + count_sv(n, one, many)


def _cut_note(listing: Mapping[str, Any]) -> str:
    return f" (the listing was cut at {MAX_ENTRIES} entries; there may be more)" if listing["truncated"] else ""


def _cut_note_sv(listing: Mapping[str, Any]) -> str:
    return f" (listningen avbröts vid {MAX_ENTRIES} poster; det kan finnas fler)" if listing["truncated"] else ""


_BACKUP_TYPES = ("f", "a")  # a backup is a file, or an archive of a borg/restic repository
_NOUN = {"borg": "archive", "restic": "snapshot"}
# what a Swedish message adds after "säkerhetskopia/säkerhetskopior" for a repository's backups (one, many)
_KIND_SV = {"borg": (" (arkiv)", " (arkiv)"), "restic": (" (ögonblicksbild)", " (ögonblicksbilder)")}


def _backups(listing: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in listing["entries"] if e["type"] in _BACKUP_TYPES]


def _noun(listing: Mapping[str, Any]) -> str:
    return _NOUN.get(listing.get("source", ""), "file")


def _backup_sv(listing: Mapping[str, Any], n: int | None = None, one: str = "säkerhetskopia", many: str = "säkerhetskopior") -> str:
    """Backups in a Swedish message: ``säkerhetskopior (arkiv)`` for a borg repository; with ``n``, counted."""
    kind_one, kind_many = _KIND_SV.get(listing.get("source", ""), ("", ""))
    if n is None:
        return many + kind_many
    return count_sv(n, one + kind_one, many + kind_many)


def _days_sv(age: float) -> str:
    return f"{str(age).replace('.', ',')} dagar"


def _nothing_found(listing: Mapping[str, Any]) -> Text:
    roots = ', '.join(listing['roots'])
    if listing["missing"]:
        missing = ', '.join(listing['missing'])
        return sv(f"declared paths missing: {missing}", f"angivna sökvägar saknas: {missing}")
    if listing.get("source") in _NOUN:
        source = listing['source']
        return sv(f"no {_noun(listing)}s in {source} repository {roots}", f"inga {_backup_sv(listing)} i {source}-förrådet {roots}")
    return sv(f"no files under {roots}", f"inga filer under {roots}")


def _listing_scope(listing: Mapping[str, Any]) -> Text:
    files = sum(1 for e in listing["entries"] if e["type"] == "f")
    roots = ', '.join(listing['roots'])
    return sv(f"{files} file(s) under {roots}", f"{count_sv(files, 'fil', 'filer')} under {roots}")


_ACCESS: dict[str, Any] = dict(family="access", kinds=("server",))


@control(
    "ACCESS-SHADOW-PERMISSIONS", **_ACCESS, severity="high", facts=("files.system_permissions",),
    references=("GDPR Art. 32(1)(b)", "CIS Distribution Independent Linux 6.1.3"),
    title="Password hash files are readable only by root (and the shadow group)",
    title_sv="Filer med lösenordshashar kan bara läsas av root (och gruppen shadow)",
    rationale_sv="/etc/shadow och /etc/gshadow innehåller lösenordshasharna för alla konton; om andra användare kan läsa dem kan hasharna knäckas i lugn och ro på annat håll.",
    remediation="Set /etc/shadow and /etc/gshadow to owner root, group shadow (or root) and mode 0640 or stricter.",
    remediation_sv="Ge /etc/shadow och /etc/gshadow ägaren root, gruppen shadow (eller root) och rättigheterna 0640 eller strängare.",
    plain="{n} server(s) let other users read password hash files",
    plain_sv="{n} server(ar) låter andra användare läsa filer med lösenordshashar",
    rationale="/etc/shadow and /etc/gshadow hold the password hashes of every account; if other users can read them, hashes can be cracked offline.",
)
def shadow_permissions(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    listing = facts["files.system_permissions"]
    bad = []
    for e in listing["entries"]:
        mode = _mode(e)
        problems = []
        if mode & 0o007:
            problems.append(sv("other users have access", "andra användare har åtkomst"))
        if mode & 0o020:
            problems.append(sv("group can write", "gruppen kan skriva"))
        if e["owner"] not in ("root", "0"):
            problems.append(sv(f"owned by {e['owner']}", f"ägs av {e['owner']}"))
        if problems:
            bad.append({"path": e["path"], "mode": e["mode"], "owner": e["owner"], "group": e["group"], "problems": problems})
    checked = [f"{e['path']} {e['mode']} {e['owner']}:{e['group']}" for e in listing["entries"]]
    if bad:
        return failed(sv("; ".join(f"{b['path']} is mode {b['mode']} {b['owner']}:{b['group']} ({', '.join(p.en for p in b['problems'])})" for b in bad),
                         "; ".join(f"{b['path']} har rättigheterna {b['mode']} {b['owner']}:{b['group']} ({', '.join(p.sv for p in b['problems'])})" for b in bad)),
                      offenders=[{**b, "problems": [p.en for p in b["problems"]]} for b in bad])
    if incomplete := _completeness(listing):
        return incomplete
    return passed(sv(f"{', '.join(checked)}: no access for other users", f"{', '.join(checked)}: ingen åtkomst för andra användare"), checked=checked)


@control(
    "ACCESS-PRIVATE-KEY-PERMISSIONS", **_ACCESS, severity="high", facts=("files.key_listing",),
    references=("GDPR Art. 32(1)(a)", "CIS Distribution Independent Linux 5.2.2"),
    title="Private keys are not readable by other users",
    title_sv="Privata nycklar kan inte läsas av andra användare",
    rationale_sv="En privat TLS- eller SSH-nyckel som alla lokala användare kan läsa låter vem som helst av dem utge sig för att vara servern eller dekryptera inspelad trafik.",
    remediation="Make each listed private key readable only by its owner (mode 0600, or 0640 for the service's group).",
    remediation_sv="Gör varje listad privat nyckel läsbar bara för sin ägare (rättigheterna 0600, eller 0640 för tjänstens grupp).",
    plain="{n} server(s) have private keys that other users can read",
    plain_sv="{n} server(ar) har privata nycklar som andra användare kan läsa",
    rationale="A private TLS or SSH key readable by any local user lets that user impersonate the server or decrypt recorded traffic.",
)
def private_key_permissions(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    listing = facts["files.key_listing"]
    exposed = [e for e in exposed_to_others(listing) if is_private_key(e["path"])]
    keys = [e for e in listing["entries"] if e["type"] == "f" and is_private_key(e["path"])]
    if exposed:
        named = ", ".join(f"{e['path']} ({e['mode']})" for e in exposed[:SHOWN])
        return failed(sv(f"{_at_least(len(exposed), listing)} private key file(s) readable or writable by other users{_cut_note(listing)}: " + named,
                         f"{_at_least_sv(len(exposed), listing, 'privat nyckelfil', 'privata nyckelfiler')} kan läsas eller skrivas av andra användare{_cut_note_sv(listing)}: " + named),
                      offenders=exposed, truncated=listing["truncated"])
    if incomplete := _completeness(listing) or _declared_missing(listing):
        return incomplete
    scope = _listing_scope(listing)
    return passed(sv(f"{len(keys)} private key file(s) found, none readable by other users ({scope.en})",
                     f"{count_sv(len(keys), 'privat nyckelfil', 'privata nyckelfiler')} hittades, ingen kan läsas av andra användare ({scope.sv})"),
                  keys=[e["path"] for e in keys[:100]])


@control(
    "ACCESS-BACKUP-FILE-PERMISSIONS", family="access", kinds=("server", "backup"), severity="high", facts=("files.backup_listing",),
    references=("GDPR Art. 32(1)(b)", "GDPR Art. 5(1)(f)"),
    title="Backup files are not readable by other users",
    title_sv="Säkerhetskopior kan inte läsas av andra användare",
    rationale_sv="Säkerhetskopior innehåller kopior av personuppgifter; om vilken lokal användare som helst kan läsa dem är åtkomsten inte 'starkt begränsad' som utlovat.",
    remediation="Remove read access for group and others from the backup files and their directory (chmod o-rwx, and g-rwx unless the group is the backup service's).",
    remediation_sv="Ta bort läsrätten för grupp och övriga från säkerhetskopiorna och deras katalog (chmod o-rwx, och g-rwx om gruppen inte är backuptjänstens).",
    plain="{n} system(s) keep backup files that other users can read",
    plain_sv="{n} system har säkerhetskopior som andra användare kan läsa",
    rationale="Backups hold copies of personal data; if any local user can read them, access is not 'strongly restricted' as promised.",
)
def backup_permissions(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    listing = facts["files.backup_listing"]
    if listing.get("source") in _NOUN:
        source, roots = listing['source'], ', '.join(listing['roots'])
        return skipped(sv(f"{source} repository {roots}: archives are read through {source}, not as files; their file permissions are audited for type path backups only",
                          f"{source}-förrådet {roots}: arkiven läses via {source}, inte som filer; filrättigheterna granskas bara för säkerhetskopior av typen path"))
    exposed = exposed_to_others(listing)
    if exposed:
        named = ", ".join(f"{e['path']} ({e['mode']})" for e in exposed[:SHOWN])
        return failed(sv(f"{_at_least(len(exposed), listing)} backup file(s) readable or writable by other users{_cut_note(listing)}: " + named,
                         f"{_at_least_sv(len(exposed), listing, 'säkerhetskopia', 'säkerhetskopior')} kan läsas eller skrivas av andra användare{_cut_note_sv(listing)}: " + named),
                      offenders=exposed[:100], count=len(exposed), truncated=listing["truncated"])
    if incomplete := _completeness(listing) or _declared_missing(listing):
        return incomplete
    scope = _listing_scope(listing)
    return passed(sv(f"No backup file is readable by other users ({scope.en})", f"Ingen säkerhetskopia kan läsas av andra användare ({scope.sv})"))


_RETENTION: dict[str, Any] = dict(family="backup_retention", kinds=("server", "backup"), facts=("files.backup_listing",))


def _age_days(now: int, mtime: int) -> float:
    return round((now - mtime) / 86400, 1)


@control(
    "BACKUP-MAX-AGE", **_RETENTION, severity="medium", params=("backup_max_age_days",),
    references=("GDPR Art. 5(1)(e)", "GDPR Art. 17"),
    title="Backups are deleted according to the backup schedule",
    title_sv="Säkerhetskopior tas bort enligt schemat för säkerhetskopior",
    rationale_sv="Policyer utlovar att säkerhetskopior av raderade kunduppgifter 'tas bort enligt vårt schema för säkerhetskopior'; en säkerhetskopia som är äldre än schemats längsta lagringstid behåller personuppgifter längre än vad som utlovats.",
    remediation="Delete the backups older than the schedule's maximum age and make the rotation (borg prune, a cron job, logrotate) do it from now on.",
    remediation_sv="Radera de säkerhetskopior som är äldre än schemats längsta lagringstid och se till att rotationen (borg prune, ett cron-jobb, logrotate) gör det framöver.",
    plain="{n} system(s) keep backups longer than the backup schedule allows",
    plain_sv="{n} system behåller säkerhetskopior längre än schemat för säkerhetskopior tillåter",
    rationale="Policies promise that backups of deleted customer data 'are removed according to our backup schedule'; "
    "a backup file older than the schedule's maximum age keeps personal data longer than promised.",
)
def backup_max_age(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    listing = facts["files.backup_listing"]
    limit = params["backup_max_age_days"]
    now = listing["now"]
    if listing.get("purpose") == "bookkeeping":
        roots = ', '.join(listing['roots'])
        return skipped(sv(f"{roots} holds bookkeeping records, which must be kept for their legal minimum: no maximum age applies",
                          f"{roots} innehåller räkenskapsinformation, som måste sparas under den lagstadgade minsta tiden: ingen högsta ålder gäller"))
    noun = _noun(listing)
    files = sorted(_backups(listing), key=lambda e: e["mtime"])
    too_old = [{"path": e["path"], "age_days": _age_days(now, e["mtime"])} for e in files if now - e["mtime"] > limit * 86400]
    if too_old:
        return failed(sv(
            f"{_at_least(len(too_old), listing)} backup {noun}(s) older than {limit} days{_cut_note(listing)}; oldest{' listed' if listing['truncated'] else ''}: "
            + ", ".join(f"{o['path']} ({o['age_days']} days)" for o in too_old[:SHOWN]),
            f"{_at_least_sv(len(too_old), listing, 'säkerhetskopia', 'säkerhetskopior')}{_KIND_SV.get(listing.get('source', ''), ('', ''))[len(too_old) != 1]} "
            f"äldre än {limit} dagar{_cut_note_sv(listing)}; de äldsta{' av de listade' if listing['truncated'] else ''}: "
            + ", ".join(f"{o['path']} ({_days_sv(o['age_days'])})" for o in too_old[:SHOWN])),
            offenders=too_old[:100], count=len(too_old), limit_days=limit, truncated=listing["truncated"],
        )
    if incomplete := _completeness(listing) or _declared_missing(listing):
        return incomplete
    if not files:
        nothing = _nothing_found(listing)
        return skipped(sv(f"no backup {noun}s to judge ({nothing.en}); see BACKUP-FRESHNESS", f"inga {_backup_sv(listing)} att bedöma ({nothing.sv}); se BACKUP-FRESHNESS"))
    oldest = files[0]
    age = _age_days(now, oldest['mtime'])
    return passed(sv(f"Oldest of {len(files)} backup {noun}(s) is {age} days old (limit {limit})",
                     f"Den äldsta av {_backup_sv(listing, len(files))} är {_days_sv(age)} gammal (gräns {limit} dagar)"), oldest=oldest["path"], oldest_age_days=_age_days(now, oldest["mtime"]), limit_days=limit)


@control(
    "BACKUP-FRESHNESS", **_RETENTION, severity="medium", params=("backup_freshness_days",),
    references=("GDPR Art. 32(1)(c)",),
    title="Backups are actually being made",
    title_sv="Säkerhetskopior tas faktiskt",
    rationale_sv="Ett lagringsschema betyder lite om säkerhetskopieringen har stannat: den senaste säkerhetskopian måste vara ny, annars går det inte att återställa personuppgifter 'i rätt tid' (art. 32.1 c).",
    remediation="Find out why the backup job stopped (its log, the cron or systemd timer), run it again and monitor it.",
    remediation_sv="Ta reda på varför säkerhetskopieringen har stannat (dess logg, cron-jobbet eller systemd-timern), kör den igen och övervaka den.",
    plain="{n} system(s) have no recent backup",
    plain_sv="{n} system saknar en ny säkerhetskopia",
    rationale="A retention schedule means little if backups stopped: the newest backup file must be recent, or restoring personal data 'in a timely manner' (Art. 32(1)(c)) is not possible.",
)
def backup_freshness(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    listing = facts["files.backup_listing"]
    limit = params["backup_freshness_days"]
    now = listing["now"]
    noun = _noun(listing)
    files = _backups(listing)
    if not files:
        if incomplete := _completeness(listing) or _declared_missing(listing):
            return incomplete
        nothing = _nothing_found(listing)
        return failed(sv(f"No backup {noun}s found ({nothing.en})", f"Inga {_backup_sv(listing)} hittades ({nothing.sv})"))
    newest = max(files, key=lambda e: e["mtime"])
    age = _age_days(now, newest["mtime"])
    if now - newest["mtime"] > limit * 86400:
        if incomplete := _completeness(listing):
            return incomplete
        return failed(sv(f"Newest backup {noun} {newest['path']} is {age} days old; the policy expects one within {limit} days",
                         f"Den nyaste säkerhetskopian{_KIND_SV.get(listing.get('source', ''), ('', ''))[0]} {newest['path']} är {_days_sv(age)} gammal; policyn kräver en som är högst {limit} dagar gammal"), newest=newest["path"], newest_age_days=age, limit_days=limit)
    if incomplete := _declared_missing(listing):  # the newest backup may be elsewhere, but what was declared here is not there
        return incomplete
    return passed(sv(f"Newest backup {noun} {newest['path']} is {age} days old (limit {limit})",
                     f"Den nyaste säkerhetskopian{_KIND_SV.get(listing.get('source', ''), ('', ''))[0]} {newest['path']} är {_days_sv(age)} gammal (gräns {limit} dagar)"), newest=newest["path"], newest_age_days=age, limit_days=limit)
