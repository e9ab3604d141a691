"""The AWS evaluators on recorded facts, for what moto cannot produce, and the transport's error mapping.

moto 5 has no cross-region ``CopyDBSnapshot`` (the copy looks its source up in
the target region), no ``StartDBInstanceAutomatedBackupsReplication`` (so no
``DBInstanceAutomatedBackupsReplications`` on an instance), no ``Region`` or
ARN on ``DescribeDBInstanceAutomatedBackups`` answers, and ignores
``OwnerIds`` on ``DescribeSnapshots``. Those controls are judged here on
facts shaped as the collectors record them from real AWS answers, together
with edge cases that would need many seeded accounts (throttled regions,
truncated listings, policy conditions, other policies' parameters).
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from auditor.model import Reason, Target
from auditor.transports.aws import api_error, iam_action, public_params
from checks import aws_access, aws_backup, aws_location
from checks.aws_location import EU_EEA_REGIONS, bucket_region, region_allowed

from helpers import registry

AWS = Target(id="aws:prod", kind="aws", name="prod", settings={}, source="inventory.yaml:3")


def params(**over: Any) -> dict[str, Any]:
    return {**registry().defaults(), **over}


def regional(items: list[dict[str, Any]], regions: list[str] = ("eu-north-1", "us-west-2"), failed: dict[str, Any] | None = None,
             not_audited: dict[str, str] | None = None) -> dict[str, Any]:
    return {"regions": list(regions), "not_audited": dict(not_audited or {}), "failed": dict(failed or {}), "items": items}


def buckets(values: dict[str, Any], failed: dict[str, Any] | None = None, declared: dict[str, str] | None = None) -> dict[str, Any]:
    fact = {"buckets": values, "failed": dict(failed or {})}
    if declared is not None:
        fact["declared"] = declared
    return fact


def status(outcome: Any) -> str:
    return outcome.status.value


# -- RDS copies and replication (moto has neither) ---------------------------------------------

def rds_facts(instances: list[dict[str, Any]], snapshots: list[dict[str, Any]] = (), backups: list[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"rds.instances": regional(list(instances)), "rds.snapshots": regional(list(snapshots)), "rds.automated_backups": regional(list(backups))}


def db(name: str, region: str, replications: list[str] = ()) -> dict[str, Any]:
    return {"id": name, "arn": f"arn:aws:rds:{region}:123456789012:db:{name}", "engine": "postgres", "public": False, "encrypted": True,
            "backup_replications": list(replications), "read_replica_of": None, "region": region}


def test_cross_region_snapshot_copy_and_backup_replication_outside_the_eu_fail() -> None:
    facts = rds_facts(
        [db("orders", "eu-north-1", ["arn:aws:rds:us-west-2:123456789012:auto-backup:ab-7xq"])],
        snapshots=[
            {"id": "orders-copy", "instance": "orders", "type": "manual", "source_region": "eu-north-1", "encrypted": True, "region": "us-west-2"},
            {"id": "orders-back", "instance": "orders", "type": "manual", "source_region": "us-west-2", "encrypted": True, "region": "eu-north-1"},
        ],
        backups=[{"id": "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-7xq", "instance": "orders", "source_region": "eu-north-1", "status": "replicating",
                  "encrypted": True, "region": "us-west-2"}],
    )
    out = aws_location.rds_location_allowed.evaluate(facts, params(), AWS)
    assert status(out) == "fail"
    assert out.details["resources"] == {
        "automated-backups:us-west-2/arn:aws:rds:us-west-2:123456789012:auto-backup:ab-7xq": "fail",
        "backup-replication:eu-north-1/orders -> us-west-2": "fail",
        "db-snapshot:eu-north-1/orders-back": "pass",
        "db-snapshot:us-west-2/orders-copy": "fail",
        "db:eu-north-1/orders": "pass",
    }
    assert "database orders replicates its automated backups to us-west-2 (US), not an allowed region" in out.message
    assert "manual snapshot orders-copy of database orders is in us-west-2 (US), not an allowed region, copied from eu-north-1" in out.message
    assert "automated backups of orders are in us-west-2 (US), not an allowed region (database in eu-north-1)" in out.message


def test_replication_within_the_eu_passes() -> None:
    facts = rds_facts([db("orders", "eu-north-1", ["arn:aws:rds:eu-west-1:123456789012:auto-backup:ab-1"])])
    out = aws_location.rds_location_allowed.evaluate(facts, params(), AWS)
    assert status(out) == "pass" and out.details["resources"]["backup-replication:eu-north-1/orders -> eu-west-1"] == "pass"


# -- which regions a policy allows ------------------------------------------------------------------

def test_default_regions_are_those_in_eu_eea_countries() -> None:
    assert EU_EEA_REGIONS == ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3", "eusc-de-east-1"]
    assert registry().parameters["allowed_aws_regions"].default == EU_EEA_REGIONS
    assert region_allowed("eu-central-2", params()) == (False, "eu-central-2 (CH), not an allowed region")


def test_a_policy_accepting_london_must_accept_the_uk_too() -> None:
    only_region = params(allowed_aws_regions=[*EU_EEA_REGIONS, "eu-west-2"])
    assert region_allowed("eu-west-2", only_region) == (False, "eu-west-2 (GB), and GB is not an allowed country")
    both = params(allowed_aws_regions=[*EU_EEA_REGIONS, "eu-west-2"], allowed_countries=["SE", "IE", "GB"])
    assert region_allowed("eu-west-2", both) == (True, "eu-west-2 (GB)")
    assert region_allowed("eu-central-1", both) == (False, "eu-central-1 (DE), and DE is not an allowed country")
    assert region_allowed("ap-nowhere-9", params(allowed_aws_regions=["ap-nowhere-9"])) == (True, "ap-nowhere-9 (country unknown)")


def test_legacy_bucket_locations() -> None:
    assert [bucket_region(c) for c in (None, "", "EU", "eu-west-2")] == ["us-east-1", "us-east-1", "eu-west-1", "eu-west-2"]
    fact = buckets({"old": {"constraint": None, "region": "us-east-1"}, "ie": {"constraint": "EU", "region": "eu-west-1"}})
    out = aws_location.s3_bucket_region_allowed.evaluate({"s3.bucket_regions": fact}, params(), AWS)
    assert out.details["resources"] == {"ie": "pass", "old": "fail"}
    assert out.message == "1 of 2 buckets are outside the allowed regions: old is in us-east-1 (US), not an allowed region (GetBucketLocation answered None)"


# -- incomplete evidence never passes ------------------------------------------------------------------

THROTTLED = {"reason": "command_failed", "message": "ec2:DescribeVolumes in us-west-2 was throttled (RequestLimitExceeded) and still failed after 3 attempt(s)"}


def volumes(*items: dict[str, Any], failed: dict[str, Any] | None = None) -> dict[str, Any]:
    return regional(list(items), regions=["eu-north-1"], failed=failed)


def test_a_failed_region_makes_a_clean_result_an_error_but_keeps_a_violation() -> None:
    good = {"id": "vol-1", "encrypted": True, "region": "eu-north-1"}
    bad = {"id": "vol-2", "encrypted": False, "region": "eu-north-1"}
    unsure = aws_access.ebs_encrypted.evaluate({"ec2.volumes": volumes(good, failed={"us-west-2": THROTTLED})}, params(), AWS)
    assert status(unsure) == "error" and unsure.reason == "command_failed"
    assert unsure.message == f"Could not read ec2:DescribeVolumes in us-west-2: {THROTTLED['message']}"
    sure = aws_access.ebs_encrypted.evaluate({"ec2.volumes": volumes(good, bad, failed={"us-west-2": THROTTLED})}, params(), AWS)
    assert status(sure) == "fail" and sure.message.endswith("(1 part(s) could not be read)")
    assert sure.details["incomplete"] == {"ec2:DescribeVolumes in us-west-2": THROTTLED}


def test_no_region_audited_at_all_is_skipped_not_passed() -> None:
    none = {"regions": [], "not_audited": {"eu-south-2": "not enabled for this account (OptInStatus not-opted-in)"}, "failed": {}, "items": []}
    out = aws_access.ebs_encrypted.evaluate({"ec2.volumes": none}, params(), AWS)
    assert status(out) == "skipped" and "eu-south-2" in out.message


def test_truncated_version_listing_is_unverified_unless_an_old_version_was_seen() -> None:
    def listing(age: float, truncated: bool) -> dict[str, Any]:
        oldest = [{"key": "db.sql", "version_id": "v1", "is_latest": True, "last_modified": "2026-01-01T00:00:00Z", "age_days": age}]
        return buckets({"b": {"now": 0, "versions": 100000, "delete_markers": 0, "truncated": truncated, "oldest": oldest}}, declared={"b": "backup"})

    cut = aws_backup.s3_backup_oldest_object.evaluate({"s3.object_versions": listing(3.0, True)}, params(), AWS)
    assert status(cut) == "error" and cut.reason == "incomplete_evidence" and "stopped after 100000 versions" in cut.message
    old = aws_backup.s3_backup_oldest_object.evaluate({"s3.object_versions": listing(90.0, True)}, params(), AWS)
    assert status(old) == "fail"


# -- lifecycle rules -------------------------------------------------------------------------------------

def rule(rid: str = "r", scope: str | None = None, days: int | None = None, date: str | None = None, noncurrent: int | None = None, enabled: bool = True) -> dict[str, Any]:
    return {"id": rid, "enabled": enabled, "scope": scope, "expiration_days": days, "expiration_date": date, "noncurrent_days": noncurrent, "newer_noncurrent_versions": None}


def config(purpose: str, rules: list[dict[str, Any]], versioning: str | None = None, lock: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"purpose": purpose, "versioning": versioning, "lifecycle": rules, "lifecycle_configured": bool(rules), "object_lock": lock}


def lifecycle(cfg: dict[str, Any], **p: Any) -> Any:
    return aws_backup.s3_backup_lifecycle.evaluate({"s3.retention_config": buckets({"b": cfg}, declared={"b": cfg["purpose"]})}, params(**p), AWS)


@pytest.mark.parametrize("cfg, verdict, words", [
    (config("backup", [rule(days=30)]), "pass", "expire objects within 35 days"),
    (config("backup", [rule(days=40)]), "fail", "objects expire after 40 days, more than 35"),
    (config("backup", [rule(date="2027-01-01T00:00:00Z")]), "fail", "(rules r expire on a fixed date, not by age)"),
    (config("backup", [rule(days=30, enabled=False)]), "fail", "no enabled lifecycle rule expires every object by age"),
    (config("backup", [rule(scope="tag class=tmp", days=1)]), "fail", "(rules r on tag class=tmp cover only part of the bucket)"),
    (config("backup", [rule(days=20, noncurrent=10)], versioning="Enabled"), "pass", "expire objects within 35 days"),
    (config("backup", [rule(days=30, noncurrent=10)], versioning="Suspended"), "fail", "a backup can remain 40 days (30 as current object, then 10 as noncurrent version), more than 35"),
    (config("backup", [rule(days=30)], lock={"enabled": True, "mode": "COMPLIANCE", "days": 30, "years": None, "retention_days": 30}), "pass", "within 35 days"),
])
def test_backup_lifecycle_rules(cfg: dict[str, Any], verdict: str, words: str) -> None:
    out = lifecycle(cfg)
    assert status(out) == verdict and words in out.message, out.message


def test_the_policy_maximum_is_read_from_the_policy() -> None:
    assert status(lifecycle(config("backup", [rule(days=30)]), backup_max_age_days=14)) == "fail"


@pytest.mark.parametrize("cfg, verdict, words", [
    (config("bookkeeping", []), "pass", "keep records at least 7 years"),
    (config("bookkeeping", [rule(days=2557)]), "pass", "keep records at least 7 years"),
    (config("bookkeeping", [rule(scope="prefix 'tmp/'", days=30)]), "fail", "rule r (on prefix 'tmp/') expires objects after 30 days"),
    (config("bookkeeping", [rule(date="2030-01-01T00:00:00Z")]), "fail", "expires objects on 2030-01-01T00:00:00Z, whatever their age"),
    (config("bookkeeping", [rule(noncurrent=90)], versioning="Enabled"), "fail", "removes overwritten or deleted records (noncurrent versions) after 90 days"),
    (config("bookkeeping", [rule(noncurrent=90)]), "pass", "keep records"),  # never versioned: no noncurrent versions exist
    (config("bookkeeping", [], lock={"enabled": True, "mode": "GOVERNANCE", "days": None, "years": 5, "retention_days": 1827}), "fail", "Object Lock default retention (GOVERNANCE) is 1827 days"),
])
def test_bookkeeping_minimum(cfg: dict[str, Any], verdict: str, words: str) -> None:
    fact = buckets({"ledger": cfg}, declared={"ledger": "bookkeeping"})
    out = aws_backup.s3_bookkeeping_retention.evaluate({"s3.retention_config": fact}, params(), AWS)
    assert status(out) == verdict and words in out.message, out.message


def test_bookkeeping_years_come_from_the_policy() -> None:
    fact = buckets({"ledger": config("bookkeeping", [rule(days=2000)])}, declared={"ledger": "bookkeeping"})
    assert status(aws_backup.s3_bookkeeping_retention.evaluate({"s3.retention_config": fact}, params(bookkeeping_min_retention_years=5), AWS)) == "pass"
    assert status(aws_backup.s3_bookkeeping_retention.evaluate({"s3.retention_config": fact}, params(), AWS)) == "fail"


def test_rule_scopes() -> None:
    scope = aws_backup._scope_of
    assert scope({"Filter": {}}) is None and scope({"Filter": {"Prefix": ""}}) is None and scope({"Prefix": ""}) is None
    assert scope({"Prefix": "logs/"}) == "prefix 'logs/'"
    assert scope({"Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}]}}}) == "prefix 'a/', tag k=v"
    assert scope({"Filter": {"ObjectSizeGreaterThan": 1024}}) == "ObjectSizeGreaterThan 1024"


def test_backup_plan_copy_without_lifecycle_is_kept_forever() -> None:
    plan = {"id": "p", "name": "nightly", "region": "eu-north-1", "rules": [
        {"name": "r", "vault": "v", "delete_after_days": 7, "copies": [{"destination": "arn:aws:backup:eu-west-1:1:backup-vault:dr", "region": "eu-west-1", "delete_after_days": None}]}]}
    out = aws_backup.backup_plan_retention.evaluate({"aws_backup.plans": regional([plan])}, params(), AWS)
    assert status(out) == "fail" and "copies to arn:aws:backup:eu-west-1:1:backup-vault:dr are never deleted" in out.message


# -- access ------------------------------------------------------------------------------------------------

PAB_ON = {k: True for k in aws_access.PAB_SETTINGS}
PAB_OFF = {k: False for k in aws_access.PAB_SETTINGS}


def test_account_level_block_public_access_covers_every_bucket() -> None:
    facts = {"s3.account_public_access_block": {"account": "1", "configured": True, "settings": PAB_ON},
             "s3.public_access_block": buckets({"a": {"configured": False, "settings": PAB_OFF}, "b": {"configured": True, "settings": PAB_OFF}})}
    out = aws_access.s3_public_access_block_on.evaluate(facts, params(), AWS)
    assert status(out) == "pass" and out.details["resources"] == {"a": "pass", "b": "pass"}
    facts["s3.account_public_access_block"]["settings"] = PAB_OFF
    assert status(aws_access.s3_public_access_block_on.evaluate(facts, params(), AWS)) == "fail"


def statement(**st: Any) -> str:
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **st}]})


@pytest.mark.parametrize("policy, public", [
    (statement(Principal="*"), True),
    (statement(Principal={"AWS": ["arn:aws:iam::111122223333:root", "*"]}), True),
    (statement(NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"}), True),
    (statement(Principal="*", Condition={"Bool": {"aws:SecureTransport": "true"}}), True),  # says how, not who
    (statement(Principal="*", Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}), True),  # everyone but a few
    (statement(Principal="*", Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "0.0.0.0/0"]}}), True),
    (statement(Principal="*", Condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"}}), True),
    (statement(Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}), False),
    (statement(Principal="*", Condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b"}}), False),
    (statement(Principal={"AWS": "arn:aws:iam::111122223333:root"}), False),
    (statement(Principal="*", Effect="Deny"), False),
])
def test_bucket_policy_statements(policy: str, public: bool) -> None:
    assert bool(aws_access.public_statements(policy)) is public


def test_an_unparseable_policy_is_unverified() -> None:
    fact = buckets({"a": {"policy": "{not json"}, "b": {"policy": None}})
    out = aws_access.s3_public_policy.evaluate({"s3.bucket_policies": fact}, params(), AWS)
    assert status(out) == "error" and out.reason == "parse_error" and out.details["resources"] == {"b": "pass"}


@pytest.mark.parametrize("permission, ports", [
    ({"protocol": "tcp", "from": 22, "to": 22, "cidrs": ["0.0.0.0/0"]}, [22]),
    ({"protocol": "6", "from": 3300, "to": 3400, "cidrs": ["::/0"]}, [3306, 3389]),
    ({"protocol": "udp", "from": 3389, "to": 3389, "cidrs": ["0.0.0.0/0"]}, [3389]),
    ({"protocol": "icmp", "from": -1, "to": -1, "cidrs": ["0.0.0.0/0"]}, []),
    ({"protocol": "-1", "from": None, "to": None, "cidrs": ["10.0.0.0/8"]}, []),
    ({"protocol": "tcp", "from": 0, "to": 65535, "cidrs": ["0.0.0.0/0"]}, [22, 3306, 3389, 5432]),
])
def test_open_ports(permission: dict[str, Any], ports: list[int]) -> None:
    assert aws_access.open_ports(permission, [22, 3306, 3389, 5432]) == ports


def test_admin_ports_come_from_the_policy() -> None:
    group = {"id": "sg-1", "name": "web", "vpc": "vpc-1", "region": "eu-north-1", "ingress": [{"protocol": "tcp", "from": 8080, "to": 8080, "cidrs": ["0.0.0.0/0"], "prefix_lists": [], "groups": []}]}
    facts = {"ec2.security_groups": regional([group], regions=["eu-north-1"])}
    assert status(aws_access.security_group_admin_ports.evaluate(facts, params(), AWS)) == "pass"
    out = aws_access.security_group_admin_ports.evaluate(facts, params(admin_ingress_ports=["22", "8080"]), AWS)
    assert status(out) == "fail" and "sg-1 (web) in eu-north-1 opens 8080 to 0.0.0.0/0" in out.message


# -- the transport's vocabulary -----------------------------------------------------------------------------

def client_error(code: str, message: str = "no", attempts: int = 0) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"RetryAttempts": attempts}}, "Op")


@pytest.mark.parametrize("exc, reason, words", [
    (client_error("AccessDenied"), Reason.PERMISSION_DENIED, "s3:GetBucketAcl in eu-north-1 (Bucket b) was refused: AccessDenied: no; the audit role needs IAM action s3:GetBucketAcl"),
    (client_error("UnauthorizedOperation"), Reason.PERMISSION_DENIED, "was refused: UnauthorizedOperation"),
    (client_error("OptInRequired"), Reason.AUTH_FAILED, "is the region enabled for this account?"),
    (client_error("Throttling", attempts=2), Reason.COMMAND_FAILED, "was throttled (Throttling) and still failed after 3 attempt(s)"),
    (client_error("NoSuchBucket"), Reason.NOT_FOUND, "s3:GetBucketAcl in eu-north-1 (Bucket b): NoSuchBucket: no"),
    (client_error("InternalError"), Reason.COMMAND_FAILED, "failed: InternalError: no"),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="https://s3.eu-north-1.amazonaws.com/b"), Reason.UNREACHABLE, "cannot reach https://s3.eu-north-1.amazonaws.com/b"),
    (botocore.exceptions.ReadTimeoutError(endpoint_url="https://x"), Reason.TIMEOUT, "timed out"),
    (botocore.exceptions.NoCredentialsError(), Reason.AUTH_FAILED, "no AWS credentials found"),
])
def test_api_errors_become_reasons_naming_the_call(exc: Exception, reason: Reason, words: str) -> None:
    err = api_error("s3", "GetBucketAcl", "eu-north-1", {"Bucket": "b"}, exc)
    assert err.reason is reason and words in err.message, err.message
    assert (err.service_id, err.operation, err.region) == ("s3", "GetBucketAcl", "eu-north-1")


def test_iam_actions_and_hidden_parameters() -> None:
    assert iam_action("s3-control", "GetPublicAccessBlock") == "s3:GetAccountPublicAccessBlock"
    assert iam_action("s3", "GetPublicAccessBlock") == "s3:GetBucketPublicAccessBlock"
    assert iam_action("sts", "GetCallerIdentity") is None
    assert iam_action("rds", "DescribeDBSnapshots") == "rds:DescribeDBSnapshots"
    assert public_params({"ExternalId": "x", "SecretAccessKey": "y", "Bucket": "b"}) == {"ExternalId": "(hidden)", "SecretAccessKey": "(hidden)", "Bucket": "b"}
