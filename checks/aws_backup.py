"""Retention in AWS: backups expire on schedule, bookkeeping records do not expire too early.

Which buckets hold what is declared in the inventory: an ``aws:`` account's
``backup_buckets`` and ``bookkeeping_buckets``, and each ``backups:`` entry
of type ``s3`` (its ``bucket``, read through the ``aws:`` account it names,
with its ``purpose``). Buckets nobody declared are not judged here.

* **Backup buckets**: a lifecycle rule covering the whole bucket expires
  objects within ``backup_max_age_days``. With versioning on, an expired or
  deleted object stays as a noncurrent version until a
  NoncurrentVersionExpiration removes it: the oldest copy can then be as old
  as both periods together, and that sum must be within the maximum. Object
  Lock default retention longer than the maximum keeps objects that the
  schedule says are gone. The oldest object version actually present
  (``s3:ListObjectVersions``, bounded at :data:`MAX_VERSIONS`) must be within
  the maximum too, measured on the service's own clock.
* **AWS Backup plans**: every rule and every copy action has
  ``DeleteAfterDays`` within the maximum (no lifecycle means kept forever).
* **Bookkeeping buckets**: nothing expires before ``bookkeeping_min_retention_years``
  (Bokföringslagen: 7 years; a year counted as 365.25 days): no lifecycle
  expiration of current or noncurrent versions earlier than that, whatever
  part of the bucket a rule covers; and where Object Lock has a default
  retention, it covers at least that long.

>>> min_retention_days(7)
2557
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, Text, collector, control, parameter, skipped, sv
from auditor.transports.aws import answer_time

from checks.aws_location import Judged, conclude, no_regions

MAX_VERSIONS = 100_000  # object versions listed per backup bucket
OLDEST_KEPT = 10
DAY = 86400

BOOKKEEPING_MIN_YEARS = parameter(
    "bookkeeping_min_retention_years", int, 7,
    "Bookkeeping records must be kept at least this many years (Bokföringslagen 7 kap. 2 §: 7 years); nothing in a bookkeeping bucket may expire earlier.",
)


def min_retention_days(years: int) -> int:
    return math.ceil(years * 365.25)


def _declared_buckets(ctx: Context) -> dict[str, str]:
    """Bucket → purpose ("backup" or "bookkeeping") declared for this target."""
    target = ctx.target
    if target.kind == "backup":
        if target.get("type") != "s3":
            raise NotApplicable(f"backup {target.name} is of type {target.get('type')}, not s3")
        return {target.get("bucket"): target.get("purpose", "backup")}
    buckets: dict[str, str] = {}
    both = sorted(set(target.get("backup_buckets") or []) & set(target.get("bookkeeping_buckets") or []))
    if both:
        raise CollectError(Reason.CONFIG_ERROR, f"bucket(s) {', '.join(both)} are declared both in backup_buckets and bookkeeping_buckets of {target.source}; a bucket has one purpose")
    for name in target.get("backup_buckets") or []:
        buckets[name] = "backup"
    for name in target.get("bookkeeping_buckets") or []:
        buckets[name] = "bookkeeping"
    if not buckets:
        raise NotApplicable(f"no backup_buckets or bookkeeping_buckets are declared for aws account {target.name}")
    return buckets


def _record_declaration(ctx: Context, buckets: Mapping[str, str]) -> None:
    shown = "\n".join(f"{name}: {purpose}" for name, purpose in buckets.items())
    ctx.record("inventory", ctx.target.source, f"{ctx.target.kind} {ctx.target.name}: buckets by purpose\n{shown}")


_BOTH: dict[str, Any] = dict(kinds=("aws", "backup"), transport="aws")


@collector("s3.retention_config", **_BOTH, timeout=120)
def s3_retention_config(ctx: Context) -> dict[str, Any]:
    """``s3:GetBucketVersioning``, ``s3:GetBucketLifecycleConfiguration`` and ``s3:GetObjectLockConfiguration`` of each declared bucket."""
    buckets = _declared_buckets(ctx)
    _record_declaration(ctx, buckets)
    conn = ctx.conn

    def read(bucket: str) -> dict[str, Any]:
        region = conn.bucket_client_region(bucket)
        versioning = conn.call(ctx, "s3", "GetBucketVersioning", region, Bucket=bucket)
        lifecycle = conn.call(ctx, "s3", "GetBucketLifecycleConfiguration", region, absent=("NoSuchLifecycleConfiguration",), Bucket=bucket)
        lock = conn.call(ctx, "s3", "GetObjectLockConfiguration", region, absent=("ObjectLockConfigurationNotFoundError",), Bucket=bucket)
        lock_config = (lock or {}).get("ObjectLockConfiguration") or None
        return {
            "purpose": buckets[bucket],
            "versioning": versioning.get("Status"),
            "lifecycle": [_plain_rule(r) for r in (lifecycle or {}).get("Rules", [])],
            "lifecycle_configured": lifecycle is not None,
            "object_lock": _lock(lock_config) if lock_config else None,
        }

    value = conn.each_bucket(ctx, list(buckets), read)
    value["declared"] = dict(buckets)
    return value


def _plain_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    exp = rule.get("Expiration") or {}
    nce = rule.get("NoncurrentVersionExpiration") or {}
    return {
        "id": rule.get("ID") or "(no id)",
        "enabled": rule.get("Status") == "Enabled",
        "scope": _scope_of(rule),
        "expiration_days": exp.get("Days"),
        "expiration_date": exp["Date"].isoformat() if hasattr(exp.get("Date"), "isoformat") else exp.get("Date"),
        "noncurrent_days": nce.get("NoncurrentDays"),
        "newer_noncurrent_versions": nce.get("NewerNoncurrentVersions"),
    }


def _scope_of(rule: Mapping[str, Any]) -> str | None:
    """None when the rule covers the whole bucket, else a description of its filter."""
    if "Filter" not in rule:
        prefix = rule.get("Prefix") or ""
        return f"prefix {prefix!r}" if prefix else None
    flt = rule.get("Filter") or {}
    parts = flt.get("And", flt)
    shown = []
    if parts.get("Prefix"):
        shown.append(f"prefix {parts['Prefix']!r}")
    tags = list(parts.get("Tags") or []) + ([parts["Tag"]] if parts.get("Tag") else [])
    shown += [f"tag {t.get('Key')}={t.get('Value')}" for t in tags]
    for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if parts.get(key) is not None:
            shown.append(f"{key} {parts[key]}")
    return ", ".join(shown) or None


def _lock(config: Mapping[str, Any]) -> dict[str, Any]:
    retention = (config.get("Rule") or {}).get("DefaultRetention") or {}
    days = retention.get("Days") or 0
    years = retention.get("Years") or 0
    total = days or (min_retention_days(years) if years else 0)
    return {"enabled": config.get("ObjectLockEnabled") == "Enabled", "mode": retention.get("Mode"), "days": days or None, "years": years or None, "retention_days": total or None}


@collector("s3.object_versions", **_BOTH, timeout=300)
def s3_object_versions(ctx: Context) -> dict[str, Any]:
    """``s3:ListObjectVersions`` of each declared backup bucket (every version and delete marker, up to MAX_VERSIONS)."""
    buckets = {b: p for b, p in _declared_buckets(ctx).items() if p == "backup"}
    if not buckets:
        raise NotApplicable("only bookkeeping buckets are declared: no maximum age applies to them")
    _record_declaration(ctx, buckets)
    conn = ctx.conn

    def read(bucket: str) -> dict[str, Any]:
        answer, truncated = conn.paginate(ctx, "s3", "ListObjectVersions", conn.bucket_client_region(bucket), max_items=MAX_VERSIONS, show=_show_versions, Bucket=bucket)
        now = answer_time(answer) or time.time()
        versions = answer.get("Versions", [])
        oldest = sorted(versions, key=lambda v: v["LastModified"])[:OLDEST_KEPT]
        return {
            "now": int(now),
            "versions": len(versions),
            "delete_markers": len(answer.get("DeleteMarkers", [])),
            "truncated": truncated,
            "oldest": [{"key": v["Key"], "version_id": v.get("VersionId"), "is_latest": v.get("IsLatest"),
                        "last_modified": _iso(v["LastModified"]), "age_days": round((now - v["LastModified"].timestamp()) / DAY, 1)} for v in oldest],
        }

    value = conn.each_bucket(ctx, list(buckets), read)
    value["declared"] = dict(buckets)
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _show_versions(body: Mapping[str, Any]) -> str:
    versions = body.get("Versions", [])
    oldest = sorted(versions, key=lambda v: v.get("LastModified", ""))[:OLDEST_KEPT]
    lines = [f"{len(versions)} version(s), {len(body.get('DeleteMarkers', []))} delete marker(s); oldest:"]
    lines += [f"  {v.get('LastModified')}  {v.get('Key')}  version {v.get('VersionId')}{'' if v.get('IsLatest') else ' (noncurrent)'}  {v.get('Size')} bytes" for v in oldest]
    return "\n".join(lines)


# -- controls ---------------------------------------------------------------------------

_RETENTION: dict[str, Any] = dict(family="backup_retention", kinds=("aws", "backup"), severity="medium")


def _whole_bucket_rules(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r for r in config["lifecycle"] if r["enabled"] and r["scope"] is None]


@control(
    "BACKUP-AWS-S3-LIFECYCLE", **_RETENTION, facts=("s3.retention_config",), params=("backup_max_age_days",),
    references=("GDPR Art. 5(1)(e)", "GDPR Art. 17"),
    title="S3 backup buckets expire every object, and every old version, within the backup schedule",
    title_sv="S3-buckets för säkerhetskopior låter varje objekt, och varje gammal version, gå ut inom schemat för säkerhetskopior",
    rationale_sv="Säkerhetskopior av raderade kunduppgifter ska 'tas bort enligt vårt schema för säkerhetskopior'. I S3 är det en livscykelregel för hela bucketen; med versionshantering ligger ett utgånget objekt kvar som äldre version tills även den går ut, och Object Lock kan förbjuda att det raderas alls.",
    remediation="Add a lifecycle rule to each backup bucket that expires current and noncurrent versions within the schedule's maximum age.",
    remediation_sv="Lägg till en livscykelregel i varje backup-bucket som låter aktuella och äldre versioner gå ut inom schemats längsta lagringstid.",
    plain="{n} AWS account(s) or backup(s) keep S3 objects longer than the backup schedule allows",
    plain_sv="{n} AWS-konto(n) eller backupmål behåller S3-objekt längre än schemat för säkerhetskopior tillåter",
    rationale="Backups of deleted customer data must be 'removed according to our backup schedule'. In S3 that is a lifecycle rule on the whole bucket; "
    "with versioning on, an expired object lingers as a noncurrent version until it expires too, and Object Lock can forbid deleting it at all.",
)
def s3_backup_lifecycle(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    limit = params["backup_max_age_days"]
    fact = facts["s3.retention_config"]
    if not any(p == "backup" for p in fact["declared"].values()):
        return skipped(sv("Only bookkeeping buckets are declared here: they must be kept for their legal minimum, so no maximum age applies (see BACKUP-AWS-BOOKKEEPING-RETENTION)",
                          "Här anges bara bokföringsbuckets: de ska sparas under sin lagstadgade minsta tid, så ingen längsta lagringstid gäller "
                          "(se BACKUP-AWS-BOOKKEEPING-RETENTION)"))
    j = Judged()
    for bucket, config in j.per_bucket(fact, LIFECYCLE).items():
        if config["purpose"] != "backup":
            continue
        problems = _backup_problems(config, limit)
        j.verdict(bucket, not problems, _joined(bucket, problems))
        if not problems:
            j.notes.append(f"{bucket}: {_backup_summary(config)}")
    return conclude(j, BACKUP_BUCKETS, sv(f"keep objects beyond {limit} days", f"behåller objekt längre än {limit} dagar"),
                    sv(f"expire objects within {limit} days", f"låter objekt gå ut inom {limit} dagar"))


LIFECYCLE = sv("the lifecycle configuration", "livscykelkonfigurationen")
BACKUP_BUCKETS = sv("backup buckets", "backup-buckets")
VERSIONING_SV = {"Enabled": "påslagen", "Suspended": "pausad"}


def _joined(head: str | Text, problems: list[Text], tail: Text = Text("", "")) -> Text:
    """"bucket: problem; problem<tail>" in both languages."""
    said = head if isinstance(head, Text) else sv(head, head)
    return sv(f"{said.en}: {'; '.join(p.en for p in problems)}{tail.en}", f"{said.sv}: {'; '.join(p.sv for p in problems)}{tail.sv}")


def _backup_problems(config: Mapping[str, Any], limit: int) -> list[Text]:
    whole = _whole_bucket_rules(config)
    partial = [r for r in config["lifecycle"] if r["enabled"] and r["scope"] is not None and (r["expiration_days"] or r["noncurrent_days"])]
    problems: list[Text] = []
    expiry = min((r["expiration_days"] for r in whole if r["expiration_days"]), default=None)
    dated = [r for r in config["lifecycle"] if r["enabled"] and r["expiration_date"]]
    if expiry is None:
        if not config["lifecycle_configured"]:
            en, sv_text = "no lifecycle configuration: objects are never deleted", "ingen livscykelkonfiguration: objekten raderas aldrig"
        else:
            en, sv_text = "no enabled lifecycle rule expires every object by age", "ingen aktiv livscykelregel låter alla objekt gå ut efter ålder"
        if partial:
            en += f" (rules {', '.join(r['id'] + ' on ' + r['scope'] for r in partial)} cover only part of the bucket)"
            sv_text += f" (reglerna {', '.join(r['id'] + ' på ' + r['scope'] for r in partial)} täcker bara en del av bucketen)"
        if dated:
            en += f" (rules {', '.join(r['id'] for r in dated)} expire on a fixed date, not by age)"
            sv_text += f" (reglerna {', '.join(r['id'] for r in dated)} går ut på ett fast datum, inte efter ålder)"
        problems.append(sv(en, sv_text))
    elif expiry > limit:
        problems.append(sv(f"objects expire after {expiry} days, more than {limit}", f"objekten går ut efter {expiry} dagar, mer än {limit}"))
    if config["versioning"] in ("Enabled", "Suspended"):
        noncurrent = min((r["noncurrent_days"] for r in whole if r["noncurrent_days"]), default=None)
        if noncurrent is None:
            problems.append(sv(f"versioning is {config['versioning']} and no rule expires noncurrent versions: deleted and expired backups stay as old versions",
                               f"versionshanteringen är {VERSIONING_SV[config['versioning']]} och ingen regel låter äldre versioner gå ut: "
                               "raderade och utgångna säkerhetskopior ligger kvar som gamla versioner"))
        elif expiry is not None and expiry + noncurrent > limit:
            problems.append(sv(f"a backup can remain {expiry + noncurrent} days ({expiry} as current object, then {noncurrent} as noncurrent version), more than {limit}",
                               f"en säkerhetskopia kan ligga kvar i {expiry + noncurrent} dagar ({expiry} som aktuellt objekt, sedan {noncurrent} som äldre version), "
                               f"mer än {limit}"))
    lock = config["object_lock"]
    if lock and lock["enabled"] and lock["retention_days"] and lock["retention_days"] > limit:
        problems.append(sv(f"Object Lock ({lock['mode']}) keeps every new object {lock['retention_days']} days, longer than {limit}: the schedule cannot delete it",
                           f"Object Lock ({lock['mode']}) behåller varje nytt objekt i {lock['retention_days']} dagar, längre än {limit}: schemat kan inte radera det"))
    return problems


def _backup_summary(config: Mapping[str, Any]) -> str:
    whole = _whole_bucket_rules(config)
    expiry = min((r["expiration_days"] for r in whole if r["expiration_days"]), default=None)
    text = f"objects expire after {expiry} days"
    if config["versioning"] in ("Enabled", "Suspended"):
        noncurrent = min((r["noncurrent_days"] for r in whole if r["noncurrent_days"]), default=None)
        text += f", noncurrent versions {noncurrent} days later"
    return text


@control(
    "BACKUP-AWS-S3-OLDEST-OBJECT", **_RETENTION, facts=("s3.object_versions",), params=("backup_max_age_days",),
    references=("GDPR Art. 5(1)(e)", "GDPR Art. 17"),
    title="No object version in an S3 backup bucket is older than the backup schedule allows",
    title_sv="Ingen objektversion i en S3-bucket för säkerhetskopior är äldre än schemat tillåter",
    rationale_sv="En livscykelregel säger vad som borde hända; objekten som finns säger vad som faktiskt hände. Varje version, aktuell eller äldre, som är äldre än schemats längsta lagringstid behåller personuppgifter längre än vad som utlovats.",
    remediation="Delete the object versions older than the schedule allows and check that the bucket's lifecycle rule runs.",
    remediation_sv="Radera de objektversioner som är äldre än schemat tillåter och kontrollera att bucketens livscykelregel verkligen körs.",
    plain="{n} AWS account(s) or backup(s) hold S3 object versions older than the backup schedule allows",
    plain_sv="{n} AWS-konto(n) eller backupmål har S3-objektversioner som är äldre än schemat för säkerhetskopior tillåter",
    rationale="A lifecycle rule says what should happen; the objects present say what did. Any version, current or noncurrent, "
    "older than the schedule's maximum age keeps personal data longer than promised.",
)
def s3_backup_oldest_object(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    limit = params["backup_max_age_days"]
    j = Judged()
    for bucket, found in j.per_bucket(facts["s3.object_versions"], sv("the object versions", "objektversionerna")).items():
        too_old = [o for o in found["oldest"] if o["age_days"] > limit]
        if too_old:
            shown = ", ".join(f"{o['key']}{'' if o['is_latest'] else ' (noncurrent)'} {o['age_days']} days" for o in too_old[:5])
            shown_sv = ", ".join(f"{o['key']}{'' if o['is_latest'] else ' (äldre version)'} {o['age_days']} dagar" for o in too_old[:5])
            # the fact keeps the OLDEST_KEPT oldest versions of at most MAX_VERSIONS listed: a count at either cap is a lower bound
            truncated = found["truncated"]
            cut = f" (the listing stopped after {found['versions']} versions; there may be more)" if truncated else ""
            cut_sv = f" (listningen stoppades efter {found['versions']} versioner; det kan finnas fler)" if truncated else ""
            lower_bound = truncated or len(too_old) == OLDEST_KEPT
            at_least, at_least_sv = ("at least ", "minst ") if lower_bound else ("", "")
            j.bad(bucket, sv(f"{bucket}: {at_least}{len(too_old)} version(s) older than {limit} days{cut}, oldest{' listed' if cut else ''} {shown}",
                             f"{bucket}: {at_least_sv}{len(too_old)} version(er) äldre än {limit} dagar{cut_sv}, de äldsta{' listade' if cut else ''}: {shown_sv}"))
        elif found["truncated"]:
            j.unreadable(sv(f"every version of bucket {bucket}", f"alla versioner i bucket {bucket}"), "incomplete_evidence",
                         sv(f"{bucket}: the listing stopped after {found['versions']} versions; older ones may exist",
                            f"{bucket}: listningen stoppades efter {found['versions']} versioner; äldre kan finnas"))
        elif found["oldest"]:
            oldest = found["oldest"][0]
            j.ok(bucket)
            j.notes.append(f"{bucket}: oldest of {found['versions']} version(s) is {oldest['key']} ({oldest['age_days']} days)")
        else:
            j.ok(bucket)
            j.notes.append(f"{bucket}: empty")
    return conclude(j, BACKUP_BUCKETS, sv(f"hold versions older than {limit} days", f"har versioner äldre än {limit} dagar"),
                    sv(f"hold no version older than {limit} days", f"har ingen version äldre än {limit} dagar"))


@control(
    "BACKUP-AWS-PLAN-RETENTION", family="backup_retention", kinds=("aws",), severity="medium", facts=("aws_backup.plans",), params=("backup_max_age_days",),
    references=("GDPR Art. 5(1)(e)", "GDPR Art. 17"),
    title="AWS Backup plans delete recovery points, and their copies, within the backup schedule",
    title_sv="AWS Backup-planer raderar återställningspunkter, och kopiorna av dem, inom schemat för säkerhetskopior",
    rationale_sv="En backupregel utan DeleteAfterDays behåller återställningspunkter för alltid; en kopieringsåtgärd har sin egen livscykel. Båda måste radera inom schemats längsta lagringstid.",
    remediation="Set DeleteAfterDays on every backup rule and on every copy action, within the schedule's maximum age.",
    remediation_sv="Ange DeleteAfterDays på varje backupregel och varje kopieringsåtgärd, inom schemats längsta lagringstid.",
    plain="{n} AWS account(s) have backup plans that keep recovery points longer than the schedule allows",
    plain_sv="{n} AWS-konto(n) har backupplaner som behåller återställningspunkter längre än schemat tillåter",
    rationale="A backup rule without DeleteAfterDays keeps recovery points forever; a copy action has its own lifecycle. "
    "Both must delete within the schedule's maximum age.",
)
def backup_plan_retention(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    limit = params["backup_max_age_days"]
    if (none := no_regions(facts["aws_backup.plans"])) is not None:
        return none
    j = Judged()
    for plan in j.regional(facts["aws_backup.plans"], "backup:ListBackupPlans/GetBackupPlan"):
        for rule in plan["rules"]:
            where = f"rule:{plan['region']}/{plan['name']}/{rule['name']}"
            problems: list[Text] = []
            days = rule["delete_after_days"]
            if days is None:
                problems.append(sv("recovery points are never deleted (no DeleteAfterDays)", "återställningspunkterna raderas aldrig (ingen DeleteAfterDays)"))
            elif days > limit:
                problems.append(sv(f"recovery points are deleted after {days} days, more than {limit}", f"återställningspunkterna raderas efter {days} dagar, mer än {limit}"))
            for copy in rule["copies"]:
                cdays = copy["delete_after_days"]
                if cdays is None:
                    problems.append(sv(f"copies to {copy['destination']} are never deleted", f"kopiorna till {copy['destination']} raderas aldrig"))
                elif cdays > limit:
                    problems.append(sv(f"copies to {copy['destination']} are deleted after {cdays} days, more than {limit}",
                                       f"kopiorna till {copy['destination']} raderas efter {cdays} dagar, mer än {limit}"))
            head = sv(f"plan {plan['name']} rule {rule['name']} ({plan['region']})", f"planen {plan['name']}, regel {rule['name']} ({plan['region']})")
            j.verdict(where, not problems, _joined(head, problems))
    return conclude(j, sv("backup plan rules", "regler i backupplaner"), sv(f"keep recovery points beyond {limit} days", f"behåller återställningspunkter längre än {limit} dagar"),
                    sv(f"delete recovery points within {limit} days", f"raderar återställningspunkter inom {limit} dagar"))


@control(
    "BACKUP-AWS-BOOKKEEPING-RETENTION", **_RETENTION, facts=("s3.retention_config",), params=("bookkeeping_min_retention_years",),
    references=("Bokföringslagen (1999:1078) 7 kap. 2 §", "GDPR Art. 6(1)(c)"),
    title="Nothing in an S3 bookkeeping bucket expires before the legal minimum retention",
    title_sv="Inget i en S3-bucket för bokföring raderas före den lagstadgade minsta lagringstiden",
    rationale_sv="Uppgifter som sparas på grund av en rättslig förpliktelse (transaktioner: sju år i Sverige) får inte raderas tidigare: ingen livscykelregel får låta dem, eller deras tidigare versioner, gå ut tidigare, och en standardlagringstid i Object Lock måste, där den används, täcka hela perioden.",
    remediation="Change the lifecycle rules (and any Object Lock default retention) of the bookkeeping buckets so that nothing expires before the legal minimum retention.",
    remediation_sv="Ändra livscykelreglerna (och en eventuell standardlagringstid i Object Lock) för bokföringsbucketarna så att inget går ut före den lagstadgade minsta lagringstiden.",
    plain="{n} AWS account(s) or backup(s) may delete bookkeeping records before the legal minimum retention",
    plain_sv="{n} AWS-konto(n) eller backupmål kan radera bokföringsunderlag före den lagstadgade minsta lagringstiden",
    rationale="Records kept for a legal obligation (transactions: 7 years in Sweden) must not be deleted earlier: no lifecycle rule may expire them, "
    "or their previous versions, sooner, and an Object Lock default retention, where used, must cover the whole period.",
)
def s3_bookkeeping_retention(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    years = params["bookkeeping_min_retention_years"]
    need = min_retention_days(years)
    fact = facts["s3.retention_config"]
    if not any(p == "bookkeeping" for p in fact["declared"].values()):
        return skipped(sv("No bookkeeping bucket is declared here (bookkeeping_buckets, or backups: with purpose: bookkeeping)",
                          "Ingen bokföringsbucket är angiven här (bookkeeping_buckets, eller backups: med purpose: bookkeeping)"))
    j = Judged()
    for bucket, config in j.per_bucket(fact, LIFECYCLE).items():
        if config["purpose"] != "bookkeeping":
            continue
        problems: list[Text] = []
        versioned = config["versioning"] in ("Enabled", "Suspended")
        for rule in config["lifecycle"]:
            if not rule["enabled"]:
                continue
            on = f" (on {rule['scope']})" if rule["scope"] else ""
            on_sv = f" (på {rule['scope']})" if rule["scope"] else ""
            if rule["expiration_days"] is not None and rule["expiration_days"] < need:
                problems.append(sv(f"rule {rule['id']}{on} expires objects after {rule['expiration_days']} days",
                                   f"regeln {rule['id']}{on_sv} låter objekt gå ut efter {rule['expiration_days']} dagar"))
            if rule["expiration_date"]:
                problems.append(sv(f"rule {rule['id']}{on} expires objects on {rule['expiration_date']}, whatever their age",
                                   f"regeln {rule['id']}{on_sv} låter objekt gå ut den {rule['expiration_date']}, oavsett ålder"))
            if versioned and rule["noncurrent_days"] is not None and rule["noncurrent_days"] < need:
                problems.append(sv(f"rule {rule['id']}{on} removes overwritten or deleted records (noncurrent versions) after {rule['noncurrent_days']} days",
                                   f"regeln {rule['id']}{on_sv} tar bort överskrivna eller raderade underlag (äldre versioner) efter {rule['noncurrent_days']} dagar"))
        lock = config["object_lock"]
        if lock and lock["enabled"] and lock["retention_days"] and lock["retention_days"] < need:
            problems.append(sv(f"Object Lock default retention ({lock['mode']}) is {lock['retention_days']} days",
                               f"standardlagringstiden i Object Lock ({lock['mode']}) är {lock['retention_days']} dagar"))
        if problems:
            j.bad(bucket, _joined(bucket, problems, sv(f", less than {years} years ({need} days)", f", kortare än {years} år ({need} dagar)")))
        else:
            j.ok(bucket)
            locked = f"Object Lock {lock['mode']} {lock['retention_days']} days" if lock and lock["enabled"] and lock["retention_days"] else "no Object Lock default retention"
            j.notes.append(f"{bucket}: no expiration before {need} days; {locked}")
    return conclude(j, sv("bookkeeping buckets", "bokföringsbuckets"), sv(f"let records expire before {years} years", f"låter underlag gå ut före {years} år"),
                    sv(f"keep records at least {years} years", f"behåller underlag i minst {years} år"))
