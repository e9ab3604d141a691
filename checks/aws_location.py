"""Data location in AWS: where buckets, copies, instances, volumes, snapshots and backups are.

Measured, not declared: every resource is listed through the AWS API in
every audited region (``regions:`` of the ``aws:`` entry; ``all-enabled``,
the default, means every region the account has enabled), and judged by
the region it is in.

Which regions are allowed: a region passes when it is listed in the policy's
``allowed_aws_regions`` **and** the country its data centres are in
(:data:`REGION_COUNTRY`) is in ``allowed_countries``. The default list is
the regions in EU/EEA countries: Stockholm, Ireland, Paris, Frankfurt,
Milan, Spain (and the European Sovereign Cloud in Brandenburg). London
(eu-west-2, GB) and Zurich (eu-central-2, CH) are *not* in it: the UK and
Switzerland are third countries under GDPR Chapter V with an adequacy
decision; a policy that accepts them adds the region to
``allowed_aws_regions`` and the country to ``allowed_countries``. A policy
narrowing ``allowed_countries`` (webbplats-nu: EU only; or one country)
narrows the regions with it.

Legacy answers of ``GetBucketLocation`` are read as AWS documents them: no
constraint (``None`` or ``""``) is us-east-1, ``EU`` is eu-west-1.

The evaluation helpers here (:func:`conclude`, :func:`region_allowed`) are
shared by checks/aws_backup.py and checks/aws_access.py.

>>> bucket_region(None), bucket_region("EU"), bucket_region("eu-north-1")
('us-east-1', 'eu-west-1', 'eu-north-1')
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError
from auditor.model import Target
from auditor.registry import Outcome, Text, collector, control, failed, parameter, passed, skipped, sv, unverified

from checks.location import EU_EEA

SHOWN = 20  # offenders listed in a message
KEPT = 200  # offenders kept in a finding's details

# Where each region's data centres are (ISO 3166). A region missing here has
# an unknown country: it passes only when allowed_aws_regions names it.
REGION_COUNTRY = {
    "us-east-1": "US", "us-east-2": "US", "us-west-1": "US", "us-west-2": "US",
    "us-gov-east-1": "US", "us-gov-west-1": "US",
    "ca-central-1": "CA", "ca-west-1": "CA", "mx-central-1": "MX", "sa-east-1": "BR",
    "af-south-1": "ZA", "il-central-1": "IL", "me-south-1": "BH", "me-central-1": "AE",
    "ap-east-1": "HK", "ap-east-2": "TW", "ap-south-1": "IN", "ap-south-2": "IN",
    "ap-northeast-1": "JP", "ap-northeast-2": "KR", "ap-northeast-3": "JP",
    "ap-southeast-1": "SG", "ap-southeast-2": "AU", "ap-southeast-3": "ID", "ap-southeast-4": "AU",
    "ap-southeast-5": "MY", "ap-southeast-6": "NZ", "ap-southeast-7": "TH",
    "cn-north-1": "CN", "cn-northwest-1": "CN",
    "eu-north-1": "SE",  # Stockholm
    "eu-west-1": "IE",  # Ireland
    "eu-west-2": "GB",  # London: third country (adequacy decision), not EU/EEA
    "eu-west-3": "FR",  # Paris
    "eu-central-1": "DE",  # Frankfurt
    "eu-central-2": "CH",  # Zurich: third country (adequacy decision), not EU/EEA
    "eu-south-1": "IT",  # Milan
    "eu-south-2": "ES",  # Spain (Aragón)
    "eusc-de-east-1": "DE",  # AWS European Sovereign Cloud, Brandenburg
}
EU_EEA_REGIONS = sorted(r for r, c in REGION_COUNTRY.items() if c in EU_EEA)

ALLOWED_AWS_REGIONS = parameter(
    "allowed_aws_regions", list, list(EU_EEA_REGIONS),
    "AWS regions where personal data may be stored (default: the regions in EU/EEA countries; not London eu-west-2 or Zurich eu-central-2, "
    "third countries with adequacy decisions). A region must also be in a country of allowed_countries.",
)


def bucket_region(constraint: str | None) -> str:
    """``GetBucketLocation``'s LocationConstraint as a region name (legacy answers included)."""
    if not constraint:
        return "us-east-1"
    if constraint == "EU":
        return "eu-west-1"
    return constraint


def arn_region(arn: str) -> str | None:
    """The region field of an ARN (``arn:aws:rds:eu-north-1:...``), or None."""
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 else None


def region_label(region: str) -> str:
    return region_text(region).en


def region_text(region: str) -> Text:
    """A region as messages show it, with its country: "eu-north-1 (SE)", "ap-nowhere-9 (country unknown)"."""
    country = REGION_COUNTRY.get(region)
    if country is None:
        return sv(f"{region} (country unknown)", f"{region} (okänt land)")
    return sv(f"{region} ({country})", f"{region} ({country})")


def region_allowed(region: str, params: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether the policy allows data in ``region``, and the region as a message shows it (with why not).

    >>> region_allowed("eu-west-2", {"allowed_aws_regions": EU_EEA_REGIONS, "allowed_countries": list(EU_EEA)})
    (False, 'eu-west-2 (GB), not an allowed region')
    """
    ok, why = region_judged(region, params)
    return ok, why.en


def region_judged(region: str, params: Mapping[str, Any]) -> tuple[bool, Text]:
    """:func:`region_allowed` in both languages.

    >>> region_judged("eu-west-2", {"allowed_aws_regions": EU_EEA_REGIONS, "allowed_countries": list(EU_EEA)})[1].sv
    'eu-west-2 (GB), inte en tillåten region'
    """
    country = REGION_COUNTRY.get(region)
    label = region_text(region)
    if region not in params["allowed_aws_regions"]:
        return False, sv(f"{label.en}, not an allowed region", f"{label.sv}, inte en tillåten region")
    if country is not None and country not in params["allowed_countries"]:
        return False, sv(f"{label.en}, and {country} is not an allowed country", f"{label.sv}, och {country} är inte ett tillåtet land")
    return True, label


# -- judging many resources in one finding ------------------------------------------

class Judged:
    """Per-resource verdicts of one control on one account, and what could not be read.

    Offender and unreadable-part texts come in both languages (:class:`Text`); the English ones go into the
    finding's details, the Swedish ones only into its Swedish message.
    """

    def __init__(self) -> None:
        self.resources: dict[str, str] = {}
        self.offenders: list[str] = []
        self.offenders_sv: list[str] = []
        self.notes: list[str] = []
        self.incomplete: dict[str, dict[str, str]] = {}
        self.incomplete_sv: dict[str, tuple[str, str]] = {}  # English part -> (Swedish part, Swedish message)
        self.not_audited: dict[str, str] = {}
        self.regions: set[str] = set()

    def ok(self, resource: str) -> None:
        self.resources.setdefault(resource, "pass")

    def bad(self, resource: str, why: Text) -> None:
        if self.resources.get(resource) != "fail":
            self.offenders.append(why.en)
            self.offenders_sv.append(why.sv)
        self.resources[resource] = "fail"

    def verdict(self, resource: str, good: bool, why: Text) -> None:
        if good:
            self.ok(resource)
        else:
            self.bad(resource, why)

    def unreadable(self, part: Text, reason: str, message: "str | Text") -> None:
        """``part`` could not be read; ``message`` is ours (a Text) or the transport's (quoted as is in both languages)."""
        said = message if isinstance(message, Text) else sv(message, message)
        self.incomplete[part.en] = {"reason": reason, "message": said.en}
        self.incomplete_sv[part.en] = (part.sv, said.sv)

    def regional(self, fact: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
        """Take in a fact made by AWSConnection.each_region (``what``: the API call); returns its items."""
        self.regions.update(fact["regions"])
        for region, why in fact["not_audited"].items():
            self.not_audited.setdefault(region, why)
        for region, err in fact["failed"].items():
            self.unreadable(sv(f"{what} in {region}", f"{what} i {region}"), err["reason"], err["message"])
        return list(fact["items"])

    def per_bucket(self, fact: Mapping[str, Any], what: Text) -> dict[str, Any]:
        """Take in a fact made by AWSConnection.each_bucket (``what``: the setting read); returns bucket → value."""
        for bucket, err in fact["failed"].items():
            self.unreadable(sv(f"{what.en} of bucket {bucket}", f"{what.sv} för bucket {bucket}"), err["reason"], err["message"])
        return dict(fact["buckets"])


def _scope(j: Judged) -> Text:
    en: list[str] = []
    sv_parts: list[str] = []
    if j.regions:
        regions = ", ".join(sorted(j.regions))
        en.append(f"{len(j.regions)} region(s) audited: {regions}")
        sv_parts.append(f"{len(j.regions)} region(er) granskade: {regions}")
    if j.not_audited:
        skipped_regions = ", ".join(sorted(j.not_audited))
        en.append(f"not audited: {skipped_regions}")
        sv_parts.append(f"ej granskade: {skipped_regions}")
    if not en:
        return sv("", "")
    return sv(f" ({'; '.join(en)})", f" ({'; '.join(sv_parts)})")


def conclude(j: Judged, noun: Text, bad: Text, good: Text) -> Outcome:
    """One outcome out of many resources: fail if any fails; error if some part was unreadable; else pass.

    ``noun`` is plural ("buckets"), ``bad``/``good`` complete "N of M buckets ..." / "All M buckets ...", each in both languages.
    """
    total = len(j.resources)
    failing = [r for r, s in j.resources.items() if s == "fail"]
    details: dict[str, Any] = {"resources": dict(sorted(j.resources.items()))}
    if j.regions or j.not_audited:
        details["regions"] = sorted(j.regions)
        details["not_audited"] = dict(sorted(j.not_audited.items()))
    if j.incomplete:
        details["incomplete"] = dict(j.incomplete)
    if j.notes:
        details["notes"] = j.notes[:KEPT]
    if failing:
        shown = "; ".join(j.offenders[:SHOWN]) + (f"; … and {len(j.offenders) - SHOWN} more" if len(j.offenders) > SHOWN else "")
        shown_sv = "; ".join(j.offenders_sv[:SHOWN]) + (f"; … och {len(j.offenders_sv) - SHOWN} till" if len(j.offenders_sv) > SHOWN else "")
        unread = f" ({len(j.incomplete)} part(s) could not be read)" if j.incomplete else ""
        unread_sv = f" ({len(j.incomplete)} del(ar) kunde inte läsas)" if j.incomplete else ""
        return failed(sv(f"{len(failing)} of {total} {noun.en} {bad.en}: {shown}{unread}",
                         f"{len(failing)} av {total} {noun.sv} {bad.sv}: {shown_sv}{unread_sv}"), offenders=j.offenders[:KEPT], **details)
    if j.incomplete:
        first = next(iter(j.incomplete.values()))
        first_sv = next(iter(j.incomplete_sv.values()))[1]
        parts = ", ".join(list(j.incomplete)[:SHOWN])
        parts_sv = ", ".join(part for part, _ in list(j.incomplete_sv.values())[:SHOWN])
        return unverified(sv(f"Could not read {parts}: {first['message']}", f"Kunde inte läsa {parts_sv} ({first_sv})"), reason=first["reason"], **details)
    scope = _scope(j)
    if total == 0:
        return passed(sv(f"No {noun.en} found{scope.en}", f"Inga {noun.sv} hittades{scope.sv}"), **details)
    return passed(sv(f"All {total} {noun.en} {good.en}{scope.en}", f"Alla {total} {noun.sv} {good.sv}{scope.sv}"), **details)


def no_regions(*facts: Mapping[str, Any]) -> Outcome | None:
    """Skipped when no region could be audited at all (every one disabled for the account)."""
    if all(not f["regions"] and not f["failed"] for f in facts):
        not_audited = {r: w for f in facts for r, w in f["not_audited"].items()}
        listed = ", ".join(sorted(not_audited))
        return skipped(sv(f"No region was audited: {listed or 'none declared'} (not enabled for this account)",
                          f"Ingen region granskades: {listed or 'ingen angiven'} (inte aktiverade för det här kontot)"), not_audited=not_audited)
    return None


# -- collectors: S3 -------------------------------------------------------------------

_AWS: dict[str, Any] = dict(kinds=("aws",), transport="aws")


@collector("s3.bucket_regions", **_AWS, timeout=120)
def s3_bucket_regions(ctx: Context) -> dict[str, Any]:
    """``s3:ListBuckets``, then ``s3:GetBucketLocation`` of each bucket."""
    conn = ctx.conn

    def locate(bucket: str) -> dict[str, Any]:
        answer = conn.call(ctx, "s3", "GetBucketLocation", conn.bucket_client_region(bucket), Bucket=bucket)
        constraint = answer.get("LocationConstraint")
        region = bucket_region(constraint)
        conn.bucket_regions.setdefault(bucket, region)
        return {"constraint": constraint, "region": region}

    return conn.each_bucket(ctx, conn.buckets(ctx), locate)


@collector("s3.replication", **_AWS, timeout=120)
def s3_replication(ctx: Context) -> dict[str, Any]:
    """``s3:GetBucketReplication`` of each bucket; the region of each destination bucket (``s3:GetBucketLocation``)."""
    conn = ctx.conn
    located: dict[str, Any] = {}
    lock = threading.Lock()

    def destination_region(bucket: str) -> dict[str, Any]:
        with lock:
            if bucket in located:
                return located[bucket]
        try:
            answer = conn.call(ctx, "s3", "GetBucketLocation", conn.bucket_client_region(bucket), Bucket=bucket)
            found: dict[str, Any] = {"region": bucket_region(answer.get("LocationConstraint"))}
        except CollectError as exc:
            found = {"error": {"reason": exc.reason.value, "message": exc.message}}
        with lock:
            located[bucket] = found
        return found

    def replication(bucket: str) -> dict[str, Any]:
        answer = conn.call(ctx, "s3", "GetBucketReplication", conn.bucket_client_region(bucket), absent=("ReplicationConfigurationNotFoundError",), Bucket=bucket)
        if answer is None:
            return {"configured": False, "rules": []}
        rules = []
        for rule in answer.get("ReplicationConfiguration", {}).get("Rules", []):
            dest = rule.get("Destination", {})
            name = str(dest.get("Bucket", "")).split(":::")[-1]
            entry = {"id": rule.get("ID") or f"priority {rule.get('Priority')}", "status": rule.get("Status"), "destination": name, "account": dest.get("Account")}
            if rule.get("Status") == "Enabled":
                entry.update(destination_region(name))
            rules.append(entry)
        return {"configured": True, "rules": rules}

    return conn.each_bucket(ctx, conn.buckets(ctx), replication)


# -- collectors: EC2, RDS, AWS Backup (regional) -------------------------------------------

@collector("ec2.instances", **_AWS, timeout=180)
def ec2_instances(ctx: Context) -> dict[str, Any]:
    """``ec2:DescribeInstances`` in every audited region (terminated instances left out)."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "ec2", "DescribeInstances", region)
        out = []
        for reservation in answer.get("Reservations", []):
            for i in reservation.get("Instances", []):
                state = i.get("State", {}).get("Name")
                if state in ("terminated", "shutting-down"):
                    continue
                out.append({"id": i["InstanceId"], "state": state, "zone": i.get("Placement", {}).get("AvailabilityZone"), "name": _name_tag(i)})
        return out

    return conn.each_region(ctx, read)


@collector("ec2.volumes", **_AWS, timeout=180)
def ec2_volumes(ctx: Context) -> dict[str, Any]:
    """``ec2:DescribeVolumes`` in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "ec2", "DescribeVolumes", region)
        return [{"id": v["VolumeId"], "encrypted": bool(v.get("Encrypted")), "kms_key": v.get("KmsKeyId"), "state": v.get("State"),
                 "attached_to": [a.get("InstanceId") for a in v.get("Attachments", [])], "name": _name_tag(v)} for v in answer.get("Volumes", [])]

    return conn.each_region(ctx, read)


@collector("ec2.snapshots", **_AWS, timeout=180)
def ec2_snapshots(ctx: Context) -> dict[str, Any]:
    """``ec2:DescribeSnapshots`` (``OwnerIds=["self"]``: the account's own) in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "ec2", "DescribeSnapshots", region, OwnerIds=["self"])
        return [{"id": s["SnapshotId"], "volume": s.get("VolumeId"), "encrypted": bool(s.get("Encrypted")), "description": s.get("Description", ""), "name": _name_tag(s)}
                for s in answer.get("Snapshots", [])]

    return conn.each_region(ctx, read)


@collector("rds.instances", **_AWS, timeout=180)
def rds_instances(ctx: Context) -> dict[str, Any]:
    """``rds:DescribeDBInstances`` in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "rds", "DescribeDBInstances", region)
        return [{
            "id": d["DBInstanceIdentifier"], "arn": d.get("DBInstanceArn"), "engine": d.get("Engine"),
            "public": d.get("PubliclyAccessible"), "encrypted": d.get("StorageEncrypted"),
            "backup_replications": [r.get("DBInstanceAutomatedBackupsArn") for r in d.get("DBInstanceAutomatedBackupsReplications") or []],
            "read_replica_of": d.get("ReadReplicaSourceDBInstanceIdentifier"), "name": _name_tag(d),
        } for d in answer.get("DBInstances", [])]

    return conn.each_region(ctx, read)


@collector("rds.snapshots", **_AWS, timeout=180)
def rds_snapshots(ctx: Context) -> dict[str, Any]:
    """``rds:DescribeDBSnapshots`` (manual and automated, including cross-region copies) in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "rds", "DescribeDBSnapshots", region)
        return [{"id": s["DBSnapshotIdentifier"], "instance": s.get("DBInstanceIdentifier"), "type": s.get("SnapshotType"),
                 "source_region": s.get("SourceRegion"), "encrypted": s.get("Encrypted"), "name": _name_tag(s)} for s in answer.get("DBSnapshots", [])]

    return conn.each_region(ctx, read)


@collector("rds.automated_backups", **_AWS, timeout=180)
def rds_automated_backups(ctx: Context) -> dict[str, Any]:
    """``rds:DescribeDBInstanceAutomatedBackups`` (retained and replicated automated backups) in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "rds", "DescribeDBInstanceAutomatedBackups", region)
        return [{"id": b.get("DBInstanceAutomatedBackupsArn") or b.get("DbiResourceId") or b.get("DBInstanceIdentifier"),
                 "instance": b.get("DBInstanceIdentifier"), "source_region": b.get("Region"), "status": b.get("Status"),
                 "encrypted": b.get("Encrypted")} for b in answer.get("DBInstanceAutomatedBackups", [])]

    return conn.each_region(ctx, read)


@collector("aws_backup.vaults", **_AWS, timeout=180)
def backup_vaults(ctx: Context) -> dict[str, Any]:
    """``backup:ListBackupVaults`` in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "backup", "ListBackupVaults", region)
        return [{"name": v["BackupVaultName"], "arn": v.get("BackupVaultArn"), "recovery_points": v.get("NumberOfRecoveryPoints"),
                 "locked": v.get("Locked")} for v in answer.get("BackupVaultList", [])]

    return conn.each_region(ctx, read)


@collector("aws_backup.plans", **_AWS, timeout=180)
def backup_plans(ctx: Context) -> dict[str, Any]:
    """``backup:ListBackupPlans`` and ``backup:GetBackupPlan`` of each plan, in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        listed, _ = conn.paginate(ctx, "backup", "ListBackupPlans", region)
        plans = []
        for p in listed.get("BackupPlansList", []):
            doc = conn.call(ctx, "backup", "GetBackupPlan", region, BackupPlanId=p["BackupPlanId"])["BackupPlan"]
            rules = []
            for r in doc.get("Rules", []):
                copies = [{"destination": c.get("DestinationBackupVaultArn"), "region": arn_region(c.get("DestinationBackupVaultArn") or ""),
                           "delete_after_days": (c.get("Lifecycle") or {}).get("DeleteAfterDays")} for c in r.get("CopyActions", [])]
                rules.append({"name": r.get("RuleName"), "vault": r.get("TargetBackupVaultName"),
                              "delete_after_days": (r.get("Lifecycle") or {}).get("DeleteAfterDays"), "copies": copies})
            plans.append({"id": p["BackupPlanId"], "name": doc.get("BackupPlanName") or p.get("BackupPlanName"), "rules": rules})
        return plans

    return conn.each_region(ctx, read)


def _vault_name(arn: str | None) -> str:
    return (arn or "").rsplit(":", 1)[-1]


def _name_tag(resource: Mapping[str, Any]) -> str | None:
    """The ``Name`` tag of an EC2 resource (``Tags``) or an RDS one (``TagList``)."""
    return next((t.get("Value") for t in resource.get("Tags") or resource.get("TagList") or [] if t.get("Key") == "Name" and t.get("Value")), None)


def named(item: Mapping[str, Any]) -> str:
    """A resource as people know it: its id (an RDS identifier, an instance id...) and, when it has them, its group name and Name tag.

    >>> named({"id": "i-0a74", "name": "web-1"}), named({"id": "sg-1", "group_name": "ssh-world", "name": "Bastion"}), named({"id": "vol-9"})
    ('i-0a74 (web-1)', 'sg-1 (ssh-world, Name Bastion)', 'vol-9')
    """
    labels = [item["group_name"]] if item.get("group_name") else []
    name = item.get("name")
    if name and name != item["id"] and name not in labels:
        labels.append(f"Name {name}" if labels else name)
    return f"{item['id']} ({', '.join(labels)})" if labels else str(item["id"])


# -- controls ---------------------------------------------------------------------------

_LOCATION: dict[str, Any] = dict(family="data_location", kinds=("aws",), severity="high", params=("allowed_aws_regions", "allowed_countries"),
                 references=("GDPR Art. 44", "GDPR Art. 30(1)(e)"))


@control(
    "DATA-AWS-S3-BUCKET-REGION", **_LOCATION, facts=("s3.bucket_regions",),
    title="S3 buckets are in allowed regions",
    title_sv="S3-buckets finns i tillåtna regioner",
    rationale_sv="En buckets region är platsen där dess objekt lagras; en bucket utanför de tillåtna regionerna flyttar personuppgifter till ett tredjeland.",
    remediation="Move the data of each bucket outside the allowed regions to a bucket in an allowed region, then delete the old bucket.",
    remediation_sv="Flytta data från varje bucket utanför de tillåtna regionerna till en bucket i en tillåten region och radera sedan den gamla bucketen.",
    plain="{n} AWS account(s) have S3 buckets outside the allowed regions",
    plain_sv="{n} AWS-konto(n) har S3-buckets utanför de tillåtna regionerna",
    rationale="A bucket's region is where its objects are stored; a bucket outside the allowed regions moves personal data to a third country.",
)
def s3_bucket_region_allowed(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    j = Judged()
    for bucket, found in j.per_bucket(facts["s3.bucket_regions"], sv("the location", "platsen")).items():
        ok, why = region_judged(found["region"], params)
        legacy = sv(f" (GetBucketLocation answered {found['constraint']!r})", f" (GetBucketLocation svarade {found['constraint']!r})") \
            if found["constraint"] in (None, "", "EU") else sv("", "")
        j.verdict(bucket, ok, sv(f"{bucket} is in {why.en}{legacy.en}", f"{bucket} ligger i {why.sv}{legacy.sv}"))
    return conclude(j, sv("buckets", "buckets"), sv("are outside the allowed regions", "ligger utanför de tillåtna regionerna"), sv("are in allowed regions", "ligger i tillåtna regioner"))


@control(
    "DATA-AWS-S3-REPLICATION", **_LOCATION, facts=("s3.replication",),
    title="S3 replication copies data only to buckets in allowed regions",
    title_sv="S3-replikering kopierar bara data till buckets i tillåtna regioner",
    rationale_sv="Replikeringsregler kopierar varje nytt objekt till en annan bucket, kanske i en annan region eller ett annat konto: kopian måste också stanna i tillåtna regioner.",
    remediation="Change or remove the replication rules whose destination bucket is outside the allowed regions.",
    remediation_sv="Ändra eller ta bort de replikeringsregler vars målbucket ligger utanför de tillåtna regionerna.",
    plain="{n} AWS account(s) replicate S3 data to regions that are not allowed",
    plain_sv="{n} AWS-konto(n) replikerar S3-data till regioner som inte är tillåtna",
    rationale="Replication rules copy every new object to another bucket, possibly in another region or account: the copy must stay in allowed regions too.",
)
def s3_replication_allowed(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    j = Judged()
    for bucket, config in j.per_bucket(facts["s3.replication"], sv("the replication configuration", "replikeringsinställningen")).items():
        for rule in config["rules"]:
            resource = f"{bucket} -> {rule['destination']} ({rule['id']})"
            if rule["status"] != "Enabled":
                j.notes.append(f"{resource}: rule is {rule['status']}, not judged")
                continue
            if "error" in rule:
                j.unreadable(sv(f"the region of destination bucket {rule['destination']}", f"regionen för målbucketen {rule['destination']}"),
                             rule["error"]["reason"], rule["error"]["message"])
                continue
            ok, why = region_judged(rule["region"], params)
            j.verdict(resource, ok, sv(f"{bucket} replicates to {rule['destination']} in {why.en}", f"{bucket} replikerar till {rule['destination']} i {why.sv}"))
    return conclude(j, sv("enabled replication rules", "aktiva replikeringsregler"), sv("copy data outside the allowed regions", "kopierar data utanför de tillåtna regionerna"),
                    sv("copy data to allowed regions", "kopierar data till tillåtna regioner"))


@control(
    "DATA-AWS-EC2-LOCATION", **_LOCATION, facts=("ec2.instances", "ec2.volumes", "ec2.snapshots"),
    title="EC2 instances, EBS volumes and EBS snapshots are in allowed regions",
    title_sv="EC2-instanser, EBS-volymer och EBS-ögonblicksbilder finns i tillåtna regioner",
    rationale_sv="Instanser behandlar data, volymer lagrar dem och ögonblicksbilder (även kopior till andra regioner) behåller kopior av dem; var och en utanför de tillåtna regionerna innebär personuppgifter i ett tredjeland.",
    remediation="Move or delete the instances, volumes and snapshots outside the allowed regions.",
    remediation_sv="Flytta eller radera de instanser, volymer och ögonblicksbilder som finns utanför de tillåtna regionerna.",
    plain="{n} AWS account(s) have EC2 instances, volumes or snapshots outside the allowed regions",
    plain_sv="{n} AWS-konto(n) har EC2-instanser, volymer eller ögonblicksbilder utanför de tillåtna regionerna",
    rationale="Instances process data, volumes store it and snapshots (including copies made to other regions) keep copies of it; "
    "each one outside the allowed regions is personal data in a third country.",
)
def ec2_location_allowed(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    if (none := no_regions(facts["ec2.instances"], facts["ec2.volumes"], facts["ec2.snapshots"])) is not None:
        return none
    j = Judged()
    kinds = ((sv("instance", "instansen"), "ec2.instances", "ec2:DescribeInstances"), (sv("volume", "volymen"), "ec2.volumes", "ec2:DescribeVolumes"),
             (sv("snapshot", "ögonblicksbilden"), "ec2.snapshots", "ec2:DescribeSnapshots"))
    for noun, fact, what in kinds:
        for item in j.regional(facts[fact], what):
            ok, why = region_judged(item["region"], params)
            j.verdict(f"{noun.en}:{item['region']}/{item['id']}", ok, sv(f"{noun.en} {named(item)} is in {why.en}", f"{noun.sv} {named(item)} ligger i {why.sv}"))
    return conclude(j, sv("instances, volumes and snapshots", "instanser, volymer och ögonblicksbilder"), sv("are outside the allowed regions", "ligger utanför de tillåtna regionerna"), sv("are in allowed regions", "ligger i tillåtna regioner"))


@control(
    "DATA-AWS-RDS-LOCATION", **_LOCATION, facts=("rds.instances", "rds.snapshots", "rds.automated_backups"),
    title="RDS databases, their snapshots and automated backups (and their replication) are in allowed regions",
    title_sv="RDS-databaser, deras ögonblicksbilder och automatiska säkerhetskopior (och deras replikering) finns i tillåtna regioner",
    rationale_sv="En databas, varje ögonblicksbild av den (även kopior till andra regioner) och dess automatiska säkerhetskopior, också när de replikeras till en annan region, innehåller personuppgifter där de finns.",
    remediation="Move or delete the databases, snapshots and replicated automated backups outside the allowed regions.",
    remediation_sv="Flytta eller radera de databaser, ögonblicksbilder och replikerade automatiska säkerhetskopior som finns utanför de tillåtna regionerna.",
    plain="{n} AWS account(s) have RDS databases or their backups outside the allowed regions",
    plain_sv="{n} AWS-konto(n) har RDS-databaser eller deras säkerhetskopior utanför de tillåtna regionerna",
    rationale="A database, each snapshot of it (including cross-region copies) and its automated backups, also when replicated to another region, "
    "hold personal data where they are.",
)
def rds_location_allowed(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    if (none := no_regions(facts["rds.instances"], facts["rds.snapshots"], facts["rds.automated_backups"])) is not None:
        return none
    j = Judged()
    for item in j.regional(facts["rds.instances"], "rds:DescribeDBInstances"):
        ok, why = region_judged(item["region"], params)
        j.verdict(f"db:{item['region']}/{item['id']}", ok, sv(f"database {named(item)} is in {why.en}", f"databasen {named(item)} ligger i {why.sv}"))
        for arn in item["backup_replications"]:
            dest = arn_region(arn or "")
            ok, why = region_judged(dest or "unknown", params)
            j.verdict(f"backup-replication:{item['region']}/{item['id']} -> {dest}", ok,
                      sv(f"database {named(item)} replicates its automated backups to {why.en}", f"databasen {named(item)} replikerar sina automatiska säkerhetskopior till {why.sv}"))
    for item in j.regional(facts["rds.snapshots"], "rds:DescribeDBSnapshots"):
        ok, why = region_judged(item["region"], params)
        j.verdict(f"db-snapshot:{item['region']}/{item['id']}", ok, _rds_snapshot_text(item, why))
    for item in j.regional(facts["rds.automated_backups"], "rds:DescribeDBInstanceAutomatedBackups"):
        ok, why = region_judged(item["region"], params)
        moved = item.get("source_region") and item["source_region"] != item["region"]
        origin = sv(f" (database in {item['source_region']})", f" (databasen finns i {item['source_region']})") if moved else sv("", "")
        j.verdict(f"automated-backups:{item['region']}/{item['id']}", ok,
                  sv(f"automated backups of {item['instance']} are in {why.en}{origin.en}", f"automatiska säkerhetskopior av {item['instance']} ligger i {why.sv}{origin.sv}"))
    return conclude(j, sv("databases, snapshots and automated backups", "databaser, ögonblicksbilder och automatiska säkerhetskopior"), sv("are outside the allowed regions", "ligger utanför de tillåtna regionerna"), sv("are in allowed regions", "ligger i tillåtna regioner"))


_SNAPSHOT_TYPES_SV = {"manual": "manuella ", "automated": "automatiska ", "shared": "delade ", "public": "publika "}


def _rds_snapshot_text(item: Mapping[str, Any], why: Text) -> Text:
    """"manual snapshot x of database y is in ..., copied from ...", in both languages."""
    kind = item["type"] or ""
    kind_sv = _SNAPSHOT_TYPES_SV.get(kind, f"{kind}-" if kind else "")
    of = sv(f" of database {item['instance']}", f" av databasen {item['instance']}") if item.get("instance") else sv("", "")
    copied = sv(f", copied from {item['source_region']}", f", kopierad från {item['source_region']}") if item.get("source_region") else sv("", "")
    return sv(f"{kind} snapshot {named(item)}{of.en} is in {why.en}{copied.en}".strip(),
              f"{'den ' + kind_sv if kind_sv else ''}ögonblicksbilden {named(item)}{of.sv} ligger i {why.sv}{copied.sv}")


@control(
    "DATA-AWS-BACKUP-LOCATION", **_LOCATION, facts=("aws_backup.vaults", "aws_backup.plans"),
    title="AWS Backup vaults and the copies backup plans make are in allowed regions",
    title_sv="AWS Backup-valv och kopiorna som backupplanerna gör finns i tillåtna regioner",
    rationale_sv="Backupvalv innehåller återställningspunkter (kopior av volymer, databaser och filsystem); en plans kopieringsåtgärd skickar varje återställningspunkt till ett annat valv, kanske i en annan region.",
    remediation="Move the backup vaults, and the destinations of the plans' copy actions, to allowed regions.",
    remediation_sv="Flytta backupvalven, och målen för planernas kopieringsåtgärder, till tillåtna regioner.",
    plain="{n} AWS account(s) keep backups in vaults outside the allowed regions",
    plain_sv="{n} AWS-konto(n) har säkerhetskopior i valv utanför de tillåtna regionerna",
    rationale="Backup vaults hold recovery points (copies of volumes, databases, file systems); a plan's copy action sends each recovery point "
    "to another vault, possibly in another region.",
)
def backup_location_allowed(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    if (none := no_regions(facts["aws_backup.vaults"], facts["aws_backup.plans"])) is not None:
        return none
    j = Judged()
    for vault in j.regional(facts["aws_backup.vaults"], "backup:ListBackupVaults"):
        ok, why = region_judged(vault["region"], params)
        j.verdict(f"vault:{vault['region']}/{vault['name']}", ok, sv(f"backup vault {vault['name']} is in {why.en}", f"backupvalvet {vault['name']} ligger i {why.sv}"))
    for plan in j.regional(facts["aws_backup.plans"], "backup:ListBackupPlans/GetBackupPlan"):
        for rule in plan["rules"]:
            for copy in rule["copies"]:
                ok, why = region_judged(copy["region"] or "unknown", params)
                j.verdict(f"copy:{plan['region']}/{plan['name']}/{rule['name']} -> {copy['region']}/{_vault_name(copy['destination'])}", ok,
                          sv(f"plan {plan['name']} rule {rule['name']} copies recovery points to {why.en}",
                             f"planen {plan['name']}, regel {rule['name']}, kopierar återställningspunkter till {why.sv}"))
    return conclude(j, sv("vaults and copy actions", "valv och kopieringsåtgärder"), sv("are outside the allowed regions", "ligger utanför de tillåtna regionerna"), sv("are in allowed regions", "ligger i tillåtna regioner"))
