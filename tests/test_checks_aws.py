"""The AWS checks against moto in server mode, through the normal ``aws:`` inventory path.

One moto server per module (tests/aws_rig.py), seeded with boto3 over HTTP:
the main account holds compliant and violating resources side by side, the
clean account (reached by assuming a role with an external id) only
compliant ones. Audits run through the real runner with ``endpoint_url``
and dummy credentials from the environment. Faults are injected with
botocore event handlers (``transports.aws_event_hooks``): AccessDenied on
each API operation in turn, a region refused, throttling.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml
from botocore.awsrequest import AWSResponse

from auditor.inventory import load_inventory
from auditor.model import Run, canonical_json
from auditor.policy import load_policy
from auditor.runner import Runner, RunOptions
from auditor.transports.aws import iam_action

from aws_rig import AUDIT_ENV, AUDIT_ENV_UNSET, CLEAN_REGIONS, CLEAN_ROLE, EXTERNAL_ID, MAIN_REGIONS, MotoRig, Seeded, seed_clean, seed_main
from helpers import registry, statuses, verdicts

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "docs" / "aws-audit-policy.json"

AWS_CONTROLS = sorted(c for c in registry().controls if "-AWS-" in c)
LOCATION = ["DATA-AWS-S3-BUCKET-REGION", "DATA-AWS-S3-REPLICATION", "DATA-AWS-EC2-LOCATION", "DATA-AWS-RDS-LOCATION", "DATA-AWS-BACKUP-LOCATION"]
RETENTION = ["BACKUP-AWS-S3-LIFECYCLE", "BACKUP-AWS-S3-OLDEST-OBJECT", "BACKUP-AWS-PLAN-RETENTION", "BACKUP-AWS-BOOKKEEPING-RETENTION"]
ACCESS = ["ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", "ACCESS-AWS-S3-PUBLIC-ACL", "ACCESS-AWS-S3-PUBLIC-POLICY", "ACCESS-AWS-SG-OPEN-ADMIN-PORTS",
          "ACCESS-AWS-RDS-PUBLIC", "ACCESS-AWS-S3-ENCRYPTION", "ACCESS-AWS-EBS-ENCRYPTION", "ACCESS-AWS-RDS-ENCRYPTION"]
S3_BACKUP_CONTROLS = ["BACKUP-AWS-S3-LIFECYCLE", "BACKUP-AWS-S3-OLDEST-OBJECT", "BACKUP-AWS-BOOKKEEPING-RETENTION"]

MAIN_BACKUP_BUCKETS = ["backups-ok", "backups-forever", "backups-noncurrent-kept", "backups-locked", "backups-prefix-only"]
MAIN_BOOKS = ["books-ok", "books-expiring", "books-short-lock"]

Hook = tuple[str, Callable[..., Any]]


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def aws_env() -> Iterator[None]:
    """Dummy credentials in the environment, no shared files of this machine."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in AUDIT_ENV.items():
            mp.setenv(key, value)
        for key in AUDIT_ENV_UNSET:
            mp.delenv(key, raising=False)
        mp.setenv("AUDITOR_TEST_EXTERNAL_ID", EXTERNAL_ID)
        yield


@pytest.fixture(scope="module")
def rig(aws_env: None) -> Iterator[MotoRig]:
    server = MotoRig()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seeded(rig: MotoRig) -> dict[str, Seeded]:
    return {"main": seed_main(rig), "clean": seed_clean(rig)}


def aws_entry(rig: MotoRig, name: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "endpoint_url": rig.endpoint, **settings}


def main_entry(rig: MotoRig, **over: Any) -> dict[str, Any]:
    return aws_entry(rig, "main", regions=MAIN_REGIONS, backup_buckets=MAIN_BACKUP_BUCKETS, bookkeeping_buckets=MAIN_BOOKS) | over


def clean_entry(rig: MotoRig, **over: Any) -> dict[str, Any]:
    return aws_entry(rig, "clean", role_arn=CLEAN_ROLE, external_id="${AUDITOR_TEST_EXTERNAL_ID}", regions=CLEAN_REGIONS,
                     backup_buckets=["clean-backups"], bookkeeping_buckets=["clean-books"]) | over


def write_inventory(folder: Path, name: str = "inventory.yaml", **sections: Any) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump({"version": 1, **sections}, sort_keys=False), encoding="utf-8")
    return str(path)


def aws_audit(inventory: str, hooks: list[Hook] | tuple[Hook, ...] = (), only: list[str] | None = None, policy: str = "baseline-eu") -> Run:
    """The real runner on an inventory, with botocore event handlers on every AWS client."""
    reg = registry()
    runner = Runner(reg, load_inventory(inventory), load_policy(policy, reg), RunOptions(only=tuple(only or AWS_CONTROLS)))
    runner.transports.aws_event_hooks = list(hooks)  # type: ignore[attr-defined]
    return runner.run()


def recorder(calls: list[tuple[str, str, dict[str, Any], str]]) -> Hook:
    """Record (service id, operation, API parameters, region) of every call a client makes."""

    def handler(params: Any, model: Any, context: Any = None, **_: Any) -> None:
        calls.append((model.service_model.service_id.hyphenize(), model.name, dict(params or {}), (context or {}).get("client_region")))

    return ("before-parameter-build", handler)


def deny(operation: str, region: str | None = None, code: str = "AccessDenied") -> Hook:
    """AccessDenied for ``service:Operation`` (in ``region`` only, if given), answered before any request is sent."""
    service, name = operation.split(":")

    def handler(model: Any, context: Any = None, **_: Any) -> Any:
        if model.service_model.service_id.hyphenize() != service or model.name != name:
            return None
        if region is not None and (context or {}).get("client_region") != region:
            return None
        body = {"Error": {"Code": code, "Message": f"User: arn:aws:sts::123456789012:assumed-role/auditor/x is not authorized to perform: {operation}"},
                "ResponseMetadata": {"HTTPStatusCode": 403}}
        return AWSResponse("https://denied.invalid/", 403, {}, None), body

    return ("before-call", handler)


@pytest.fixture(scope="module")
def full(rig: MotoRig, seeded: dict[str, Seeded], tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, list[tuple[str, str, dict[str, Any], str]], str]:
    """Both accounts, two backups: entries in S3 and one on a server, every AWS control, every API call recorded."""
    folder = tmp_path_factory.mktemp("full")
    inventory = write_inventory(
        folder,
        servers=[{"name": "box", "connection": "local"}],
        aws=[main_entry(rig), clean_entry(rig)],
        backups=[
            {"name": "offsite", "type": "s3", "bucket": "offsite-backups", "aws": "main"},
            {"name": "ledger", "type": "s3", "bucket": "books-expiring", "aws": "main", "purpose": "bookkeeping"},
            {"name": "dumps", "type": "path", "server": "box", "path": "/var/backups"},
        ],
    )
    calls: list[tuple[str, str, dict[str, Any], str]] = []
    return aws_audit(inventory, [recorder(calls)]), calls, inventory


# -- every seeded resource, its exact verdict ------------------------------------------------

EXPECTED_FINDINGS = {
    **{(c, "aws:main"): "fail" for c in AWS_CONTROLS},
    **{(c, "aws:clean"): "pass" for c in AWS_CONTROLS},
    ("BACKUP-AWS-S3-LIFECYCLE", "backup:offsite"): "pass",
    ("BACKUP-AWS-S3-OLDEST-OBJECT", "backup:offsite"): "pass",
    ("BACKUP-AWS-BOOKKEEPING-RETENTION", "backup:offsite"): "skipped",
    ("BACKUP-AWS-S3-LIFECYCLE", "backup:ledger"): "skipped",
    ("BACKUP-AWS-S3-OLDEST-OBJECT", "backup:ledger"): "skipped",
    ("BACKUP-AWS-BOOKKEEPING-RETENTION", "backup:ledger"): "fail",
    **{(c, "backup:dumps"): "skipped" for c in S3_BACKUP_CONTROLS},
}

ALL_BUCKETS = [
    "customer-data-eu", "legacy-us-east", "legacy-eu", "london-assets", "public-acl", "authenticated-acl", "public-policy", "policy-office-only",
    "replicated-to-us", "replica-us", "replicated-to-eu", "replica-eu", *MAIN_BACKUP_BUCKETS, "offsite-backups", *MAIN_BOOKS,
]


def buckets(failing: list[str]) -> dict[str, str]:
    return {b: ("fail" if b in failing else "pass") for b in sorted(ALL_BUCKETS)}


def expected_main_resources(ids: Seeded) -> dict[str, dict[str, str]]:
    auto = {name: ids[f"auto-snap-{name}"] for name in ("orders-eu", "public-db", "orders-us")}
    vault = {name: ids[name].rsplit(":", 1)[-1] for name in ("vault-ie", "vault-us")}
    return {
        "DATA-AWS-S3-BUCKET-REGION": buckets(["legacy-us-east", "london-assets", "replica-us"]),
        "DATA-AWS-S3-REPLICATION": {"replicated-to-eu -> replica-eu (to-eu)": "pass", "replicated-to-us -> replica-us (to-us)": "fail"},
        "DATA-AWS-EC2-LOCATION": {
            f"instance:eu-north-1/{ids['web-eu']}": "pass",
            f"instance:us-east-1/{ids['web-us']}": "fail",
            f"volume:eu-north-1/{ids['web-eu-root']}": "pass",
            f"volume:us-east-1/{ids['web-us-root']}": "fail",
            f"volume:eu-north-1/{ids['data-eu']}": "pass",
            f"volume:eu-west-1/{ids['data-ie']}": "pass",
            f"volume:eu-west-1/{ids['plain-ie']}": "pass",
            f"snapshot:eu-north-1/{ids['data-eu-snap']}": "pass",
            f"snapshot:us-east-1/{ids['data-eu-snap-us-copy']}": "fail",  # the cross-region copy
        },
        "DATA-AWS-RDS-LOCATION": {
            "db:eu-north-1/orders-eu": "pass",
            "db:eu-west-1/public-db": "pass",
            "db:us-east-1/orders-us": "fail",
            "db-snapshot:eu-north-1/orders-eu-manual": "pass",
            f"db-snapshot:eu-north-1/{auto['orders-eu']}": "pass",
            f"db-snapshot:eu-west-1/{auto['public-db']}": "pass",
            f"db-snapshot:us-east-1/{auto['orders-us']}": "fail",
            "automated-backups:eu-north-1/orders-eu": "pass",
            "automated-backups:eu-west-1/public-db": "pass",
            "automated-backups:us-east-1/orders-us": "fail",
        },
        "DATA-AWS-BACKUP-LOCATION": {
            "vault:eu-north-1/vault-eu": "pass",
            "vault:eu-west-1/vault-ie": "pass",
            "vault:us-east-1/vault-us": "fail",
            f"copy:eu-north-1/daily-eu/daily -> eu-west-1/{vault['vault-ie']}": "pass",
            f"copy:eu-north-1/copy-to-us/daily -> us-east-1/{vault['vault-us']}": "fail",
        },
        "BACKUP-AWS-S3-LIFECYCLE": {"backups-ok": "pass", "backups-forever": "fail", "backups-noncurrent-kept": "fail", "backups-locked": "fail", "backups-prefix-only": "fail"},
        "BACKUP-AWS-S3-OLDEST-OBJECT": {"backups-ok": "pass", "backups-forever": "fail", "backups-noncurrent-kept": "fail", "backups-locked": "pass", "backups-prefix-only": "pass"},
        "BACKUP-AWS-PLAN-RETENTION": {"rule:eu-north-1/daily-eu/daily": "pass", "rule:eu-north-1/forever/keep": "fail", "rule:eu-north-1/copy-to-us/daily": "fail"},
        "BACKUP-AWS-BOOKKEEPING-RETENTION": {"books-ok": "pass", "books-expiring": "fail", "books-short-lock": "fail"},
        # the account blocks public ACLs; only two buckets add the policy half themselves
        "ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK": {b: ("pass" if b in ("customer-data-eu", "policy-office-only") else "fail") for b in sorted(ALL_BUCKETS)},
        "ACCESS-AWS-S3-PUBLIC-ACL": buckets(["public-acl", "authenticated-acl"]),
        "ACCESS-AWS-S3-PUBLIC-POLICY": buckets(["public-policy"]),
        "ACCESS-AWS-SG-OPEN-ADMIN-PORTS": {
            **{f"sg:{r}/{ids[f'default-sg-{r}']}": "pass" for r in MAIN_REGIONS},
            **{f"sg:eu-north-1/{ids[name]}": ("pass" if name in ("https-world", "ssh-office") else "fail")
               for name in ("ssh-world", "https-world", "postgres-v6", "all-traffic", "ssh-office", "range-20-30")},
        },
        "ACCESS-AWS-RDS-PUBLIC": {"db:eu-north-1/orders-eu": "pass", "db:eu-west-1/public-db": "fail", "db:us-east-1/orders-us": "pass"},
        "ACCESS-AWS-S3-ENCRYPTION": buckets([b for b in ALL_BUCKETS if b not in ("customer-data-eu", "legacy-eu", "london-assets", "policy-office-only", "backups-ok")]),
        "ACCESS-AWS-EBS-ENCRYPTION": {
            f"volume:eu-north-1/{ids['web-eu-root']}": "fail",
            f"volume:us-east-1/{ids['web-us-root']}": "fail",
            f"volume:eu-north-1/{ids['data-eu']}": "pass",
            f"volume:eu-west-1/{ids['data-ie']}": "pass",
            f"volume:eu-west-1/{ids['plain-ie']}": "fail",
        },
        "ACCESS-AWS-RDS-ENCRYPTION": {"db:eu-north-1/orders-eu": "pass", "db:eu-west-1/public-db": "fail", "db:us-east-1/orders-us": "pass"},
    }


def test_every_finding_has_its_exact_verdict(full: tuple[Run, Any, str]) -> None:
    run, _, _ = full
    assert statuses(run) == EXPECTED_FINDINGS
    assert any("server:box" in n and "not audited" in n for n in run.notices)


def test_every_seeded_resource_gets_its_exact_verdict(full: tuple[Run, Any, str], seeded: dict[str, Seeded]) -> None:
    found = verdicts(full[0])
    expected = expected_main_resources(seeded["main"])
    assert sorted(expected) == AWS_CONTROLS
    for control, resources in expected.items():
        assert found[(control, "aws:main")].details["resources"] == dict(sorted(resources.items())), control


def test_clean_account_resources_all_pass(full: tuple[Run, Any, str], seeded: dict[str, Seeded]) -> None:
    found = verdicts(full[0])
    clean = {c: found[(c, "aws:clean")].details["resources"] for c in AWS_CONTROLS}
    assert all(set(r.values()) <= {"pass"} for r in clean.values()), clean
    assert clean["ACCESS-AWS-EBS-ENCRYPTION"] == {f"volume:eu-west-1/{seeded['clean']['clean-volume']}": "pass"}
    assert clean["BACKUP-AWS-S3-LIFECYCLE"] == {"clean-backups": "pass"}
    assert clean["BACKUP-AWS-BOOKKEEPING-RETENTION"] == {"clean-books": "pass"}
    assert clean["DATA-AWS-S3-REPLICATION"] == {}
    assert found[("DATA-AWS-S3-REPLICATION", "aws:clean")].message == "No enabled replication rules found"
    assert found[("ACCESS-AWS-RDS-PUBLIC", "aws:clean")].message == "All 1 databases are private (2 region(s) audited: eu-north-1, eu-west-1)"


def test_messages_a_dpo_can_read(full: tuple[Run, Any, str]) -> None:
    v = verdicts(full[0])
    region = v[("DATA-AWS-S3-BUCKET-REGION", "aws:main")].message
    assert region.startswith("3 of 21 buckets are outside the allowed regions: ")
    assert "legacy-us-east is in us-east-1 (US), not an allowed region (GetBucketLocation answered None)" in region
    assert "london-assets is in eu-west-2 (GB), not an allowed region" in region
    assert "legacy-eu" not in region  # "EU" is eu-west-1, Ireland
    assert v[("DATA-AWS-S3-REPLICATION", "aws:main")].message == (
        "1 of 2 enabled replication rules copy data outside the allowed regions: replicated-to-us replicates to replica-us in us-east-1 (US), not an allowed region")
    sg = v[("ACCESS-AWS-SG-OPEN-ADMIN-PORTS", "aws:main")].message
    assert "(ssh-world, Name Bastion) in eu-north-1 opens 22 to 0.0.0.0/0" in sg and "(postgres-v6) in eu-north-1 opens 5432 to ::/0" in sg
    assert "(all-traffic) in eu-north-1 opens all traffic to 0.0.0.0/0" in sg and "(range-20-30) in eu-north-1 opens 22 to 0.0.0.0/0" in sg
    lifecycle = v[("BACKUP-AWS-S3-LIFECYCLE", "aws:main")].message
    assert "backups-forever: no lifecycle configuration: objects are never deleted" in lifecycle
    assert "backups-noncurrent-kept: versioning is Enabled and no rule expires noncurrent versions" in lifecycle
    assert "backups-locked: Object Lock (GOVERNANCE) keeps every new object 365 days, longer than 35" in lifecycle
    assert "backups-prefix-only: no enabled lifecycle rule expires every object by age (rules tmp-only on prefix 'tmp/' cover only part of the bucket)" in lifecycle
    oldest = v[("BACKUP-AWS-S3-OLDEST-OBJECT", "aws:main")].message
    assert "backups-forever: 1 version(s) older than 35 days, oldest db/old.sql.gz 100.0 days" in oldest
    assert "backups-noncurrent-kept: 1 version(s) older than 35 days, oldest db.sql.gz (noncurrent) 50.0 days" in oldest
    books = v[("BACKUP-AWS-BOOKKEEPING-RETENTION", "backup:ledger")]
    assert books.message == ("1 of 1 bookkeeping buckets let records expire before 7 years: books-expiring: rule invoices-1y (on prefix 'invoices/') "
                             "expires objects after 365 days, less than 7 years (2557 days)")
    assert "books-short-lock: Object Lock default retention (GOVERNANCE) is 366 days" in v[("BACKUP-AWS-BOOKKEEPING-RETENTION", "aws:main")].message
    plans = v[("BACKUP-AWS-PLAN-RETENTION", "aws:main")].message
    assert "plan forever rule keep (eu-north-1): recovery points are never deleted (no DeleteAfterDays)" in plans
    assert "are deleted after 90 days, more than 35" in plans
    assert v[("BACKUP-AWS-S3-LIFECYCLE", "backup:dumps")].message == "Not applicable: backup dumps is of type path, not s3"


def test_findings_name_resources_as_people_know_them(full: tuple[Run, Any, str], seeded: dict[str, Seeded]) -> None:
    """The Name tag (and the RDS identifier, the security group name) next to each id a person reads."""
    v = verdicts(full[0])
    ids = seeded["main"].ids
    assert f"{ids['web-us']} (web-us) is in us-east-1" in v[("DATA-AWS-EC2-LOCATION", "aws:main")].message
    assert f"snapshot {ids['data-eu-snap-us-copy']} (kundregister-kopia) is in us-east-1" in v[("DATA-AWS-EC2-LOCATION", "aws:main")].message
    assert f"volume {ids['plain-ie']} (scratch-ie) in eu-west-1 is not encrypted" in v[("ACCESS-AWS-EBS-ENCRYPTION", "aws:main")].message
    assert f"{ids['ssh-world']} (ssh-world, Name Bastion) in eu-north-1 opens 22 to 0.0.0.0/0" in v[("ACCESS-AWS-SG-OPEN-ADMIN-PORTS", "aws:main")].message
    assert "public-db (Kundregister) (postgres) in eu-west-1 is publicly accessible" in v[("ACCESS-AWS-RDS-PUBLIC", "aws:main")].message
    assert "database public-db (Kundregister) in eu-west-1 does not encrypt its storage" in v[("ACCESS-AWS-RDS-ENCRYPTION", "aws:main")].message
    assert "snapshot orders-eu-manual of database orders-eu" not in v[("DATA-AWS-RDS-LOCATION", "aws:main")].message  # allowed: not in the failure list
    assert "database orders-us is in us-east-1" in v[("DATA-AWS-RDS-LOCATION", "aws:main")].message


def test_every_call_is_evidence_and_no_secret_is_recorded(full: tuple[Run, Any, str], rig: MotoRig) -> None:
    run, calls, _ = full
    facts = {f.id: f for f in run.facts}
    acl = facts["aws:main/s3.bucket_acls"]
    assert acl.status == "ok" and acl.transport == "aws"
    session, *api = acl.evidence
    assert (session.kind, session.excerpt) == ("connection", "credentials from the default credential chain (method env); no role assumed")
    sources = [e.source for e in api]
    assert sources[0] == "s3:ListBuckets eu-north-1 (1 page(s))"
    assert 's3:GetBucketAcl eu-north-1 {"Bucket": "public-acl"}' in sources
    assert all(e.kind == "api" and len(e.sha256) == 64 and e.duration_ms is not None for e in api)
    public = next(e for e in acl.evidence if '"public-acl"' in e.source)
    assert "http://acs.amazonaws.com/groups/global/AllUsers" in public.excerpt
    absent = next(e for e in facts["aws:main/s3.bucket_policies"].evidence if '"customer-data-eu"' in e.source)
    assert absent.excerpt.startswith("[error] NoSuchBucketPolicy")  # "there is none" is an answer, recorded as such
    regional = facts["aws:main/ec2.instances"]
    assert regional.evidence[1].source == 'ec2:DescribeRegions eu-north-1 {"AllRegions": true}'
    assert regional.evidence[2].kind == "inventory" and "regions: eu-north-1, eu-west-1, us-east-1" in regional.evidence[2].excerpt
    assert {e.source.split(" ")[1] for e in regional.evidence if e.source.startswith("ec2:DescribeInstances")} == set(MAIN_REGIONS)
    versions = next(e for e in facts["aws:main/s3.object_versions"].evidence if '"backups-forever"' in e.source)
    assert "oldest:" in versions.excerpt and "db/old.sql.gz" in versions.excerpt
    # the role was assumed with the external id, which no fact, evidence or report shows
    assumed_evidence = facts["aws:clean/s3.bucket_acls"].evidence[0]
    assert re.fullmatch(r'sts:AssumeRole eu-north-1 \{"RoleArn": "' + re.escape(CLEAN_ROLE) + r'", "RoleSessionName": "auditor-[0-9a-f]{12}", '
                        r'"DurationSeconds": 3600, "ExternalId": "\(hidden\)"\}', assumed_evidence.source), assumed_evidence.source
    assert "AssumedRoleUser" in assumed_evidence.excerpt and "SecretAccessKey" not in assumed_evidence.excerpt and "SessionToken" not in assumed_evidence.excerpt
    assert all(f.evidence.count(assumed_evidence) == 1 for f in run.facts if f.target == "aws:clean"), "each fact says once how its session was obtained"
    assumed = [p for s, op, p, _ in calls if (s, op) == ("sts", "AssumeRole")]
    assert assumed and assumed[0]["ExternalId"] == EXTERNAL_ID and assumed[0]["RoleArn"] == CLEAN_ROLE
    assert EXTERNAL_ID not in canonical_json(run).decode()


# -- the IAM policy covers every call ---------------------------------------------------------

def policy_actions() -> set[str]:
    doc = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    actions: set[str] = set()
    for st in doc["Statement"]:
        assert st["Effect"] == "Allow" and st["Resource"] == "*"
        actions.update([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    return actions


def test_iam_policy_allows_every_call_of_a_full_audit_and_nothing_else(full: tuple[Run, Any, str]) -> None:
    _, calls, _ = full
    operations = {(s, op) for s, op, *_ in calls}
    needed = {iam_action(s, op) for s, op in operations} - {None}
    granted = policy_actions()
    missing = sorted(needed - granted)
    assert not missing, f"docs/aws-audit-policy.json lacks {missing}: a full audit calls them"
    assert sorted(granted - needed) == [], "the policy grants actions no audit uses"
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in granted), "the audit role must be read-only"
    # what a full audit does, for the record: reads only, through six services
    assert {s for s, _ in operations} == {"s3", "s3-control", "ec2", "rds", "backup", "sts"}
    assert all(op.startswith(("Get", "List", "Describe", "AssumeRole")) for _, op in operations)


# -- AccessDenied on each operation in turn ----------------------------------------------------

S3_LISTED = ["DATA-AWS-S3-BUCKET-REGION", "DATA-AWS-S3-REPLICATION", "ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", "ACCESS-AWS-S3-PUBLIC-ACL", "ACCESS-AWS-S3-PUBLIC-POLICY", "ACCESS-AWS-S3-ENCRYPTION"]
S3_RETENTION = ["BACKUP-AWS-S3-LIFECYCLE", "BACKUP-AWS-BOOKKEEPING-RETENTION"]
AFFECTED = {
    "s3:ListBuckets": S3_LISTED,
    "s3:GetBucketLocation": ["DATA-AWS-S3-BUCKET-REGION"],
    "s3:GetBucketReplication": ["DATA-AWS-S3-REPLICATION"],
    "s3:GetPublicAccessBlock": ["ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK"],
    "s3-control:GetPublicAccessBlock": ["ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK"],
    "s3:GetBucketAcl": ["ACCESS-AWS-S3-PUBLIC-ACL"],
    "s3:GetBucketPolicy": ["ACCESS-AWS-S3-PUBLIC-POLICY"],
    "s3:GetBucketEncryption": ["ACCESS-AWS-S3-ENCRYPTION"],
    "s3:GetBucketVersioning": S3_RETENTION,
    "s3:GetBucketLifecycleConfiguration": S3_RETENTION,
    "s3:GetObjectLockConfiguration": S3_RETENTION,
    "s3:ListObjectVersions": ["BACKUP-AWS-S3-OLDEST-OBJECT"],
    "ec2:DescribeRegions": [],  # regions are listed in the inventory: the answer only checks them
    "ec2:DescribeInstances": ["DATA-AWS-EC2-LOCATION"],
    "ec2:DescribeVolumes": ["DATA-AWS-EC2-LOCATION", "ACCESS-AWS-EBS-ENCRYPTION"],
    "ec2:DescribeSnapshots": ["DATA-AWS-EC2-LOCATION"],
    "ec2:DescribeSecurityGroups": ["ACCESS-AWS-SG-OPEN-ADMIN-PORTS"],
    "rds:DescribeDBInstances": ["DATA-AWS-RDS-LOCATION", "ACCESS-AWS-RDS-PUBLIC", "ACCESS-AWS-RDS-ENCRYPTION"],
    "rds:DescribeDBSnapshots": ["DATA-AWS-RDS-LOCATION"],
    "rds:DescribeDBInstanceAutomatedBackups": ["DATA-AWS-RDS-LOCATION"],
    "backup:ListBackupVaults": ["DATA-AWS-BACKUP-LOCATION"],
    "backup:ListBackupPlans": ["DATA-AWS-BACKUP-LOCATION", "BACKUP-AWS-PLAN-RETENTION"],
    "backup:GetBackupPlan": ["DATA-AWS-BACKUP-LOCATION", "BACKUP-AWS-PLAN-RETENTION"],
}


@pytest.fixture(scope="module")
def clean_inventory(rig: MotoRig, seeded: dict[str, Seeded], tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_inventory(tmp_path_factory.mktemp("clean"), aws=[clean_entry(rig, regions=["eu-north-1"])])  # one region: every operation, half the calls


@pytest.fixture(scope="module")
def clean_baseline(clean_inventory: str) -> tuple[Run, set[tuple[str, str]]]:
    calls: list[tuple[str, str, dict[str, Any], str]] = []
    run = aws_audit(clean_inventory, [recorder(calls)])
    return run, {(s, op) for s, op, *_ in calls}


def test_the_fault_table_names_every_operation_an_audit_performs(clean_baseline: tuple[Run, set[tuple[str, str]]], full: tuple[Run, Any, str]) -> None:
    run, operations = clean_baseline
    assert set(statuses(run).values()) == {"pass"}
    performed = {f"{s}:{op}" for s, op in operations} | {f"{s}:{op}" for s, op, *_ in full[1]}
    assert performed - {"sts:GetCallerIdentity", "sts:AssumeRole"} == set(AFFECTED)


@pytest.mark.parametrize("operation", sorted(AFFECTED))
def test_access_denied_on_one_operation_turns_only_its_findings_into_error(operation: str, clean_inventory: str, clean_baseline: tuple[Run, Any]) -> None:
    baseline, _ = clean_baseline
    ok_facts = {f.id for f in baseline.facts if f.ok}
    before = verdicts(baseline)
    run = aws_audit(clean_inventory, [deny(operation)])
    after = verdicts(run)
    assert set(after) == set(before)
    for key, finding in after.items():
        control, _target = key
        gathered = all(fid in ok_facts for fid in before[key].facts)
        if control in AFFECTED[operation] and gathered:
            assert finding.status.value == "error", (key, finding.message)
            assert finding.reason == "permission_denied", (key, finding.reason)
            assert f"{operation} in " in finding.message and "was refused: AccessDenied" in finding.message, finding.message
            assert f"IAM action {iam_action(*operation.split(':'))}" in finding.message
        else:
            assert finding.status == before[key].status, (key, finding.message)


def test_access_denied_on_a_failing_control_is_error_and_the_rest_keeps_its_verdict(full: tuple[Run, Any, str], rig: MotoRig, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, aws=[main_entry(rig)])
    s3_access = ["ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", "ACCESS-AWS-S3-PUBLIC-ACL", "ACCESS-AWS-S3-PUBLIC-POLICY", "ACCESS-AWS-S3-ENCRYPTION"]
    run = aws_audit(inventory, [deny("s3:GetBucketAcl")], only=s3_access)
    assert statuses(run) == {(c, "aws:main"): ("error" if c == "ACCESS-AWS-S3-PUBLIC-ACL" else "fail") for c in s3_access}
    before = verdicts(full[0])
    for finding in run.findings:
        if finding.control != "ACCESS-AWS-S3-PUBLIC-ACL":
            assert finding.details["resources"] == before[(finding.control, "aws:main")].details["resources"]


def test_a_bucket_that_refuses_one_call_is_unverified_unless_another_fails(rig: MotoRig, seeded: Any, tmp_path: Path) -> None:
    """A bucket policy can deny the auditor one bucket: that bucket is unverified, the others still judged."""
    inventory = write_inventory(tmp_path, aws=[clean_entry(rig)])

    def remember_bucket(params: Any, context: Any, **_: Any) -> None:
        context["test_bucket"] = params.get("Bucket")

    def deny_one(model: Any, context: Any, **_: Any) -> Any:
        if model.name == "GetBucketEncryption" and context.get("test_bucket") == "clean-books":
            return AWSResponse("https://denied.invalid/", 403, {}, None), {"Error": {"Code": "AccessDenied", "Message": "bucket policy says no"}, "ResponseMetadata": {}}
        return None

    hooks = [("before-parameter-build.s3.GetBucketEncryption", remember_bucket), ("before-call.s3.GetBucketEncryption", deny_one)]
    finding = verdicts(aws_audit(inventory, hooks, only=["ACCESS-AWS-S3-ENCRYPTION"]))[("ACCESS-AWS-S3-ENCRYPTION", "aws:clean")]
    assert finding.status.value == "error" and finding.reason == "permission_denied"
    assert finding.message.startswith("Could not read the default encryption of bucket clean-books: s3:GetBucketEncryption in eu-north-1 (Bucket clean-books) was refused")
    assert finding.details["resources"] == {"clean-backups": "pass", "clean-data": "pass"}


# -- regions ------------------------------------------------------------------------------------

REGIONAL = ["DATA-AWS-EC2-LOCATION", "DATA-AWS-RDS-LOCATION", "DATA-AWS-BACKUP-LOCATION", "BACKUP-AWS-PLAN-RETENTION",
            "ACCESS-AWS-SG-OPEN-ADMIN-PORTS", "ACCESS-AWS-RDS-PUBLIC", "ACCESS-AWS-EBS-ENCRYPTION", "ACCESS-AWS-RDS-ENCRYPTION"]


def test_a_region_refused_while_others_answer_is_not_audited(rig: MotoRig, seeded: Any, tmp_path: Path) -> None:
    """An SCP denying eu-west-1: every call there is refused, the region is reported as not audited, no error flood."""
    inventory = write_inventory(tmp_path, aws=[clean_entry(rig)])
    hooks = [deny(op, region="eu-west-1") for op in AFFECTED if op.split(":")[0] in ("ec2", "rds", "backup")]
    run = aws_audit(inventory, hooks, only=REGIONAL)
    found = verdicts(run)
    assert {k: f.status.value for k, f in found.items()} == {(c, "aws:clean"): "pass" for c in REGIONAL}
    for control in REGIONAL:
        f = found[(control, "aws:clean")]
        assert f.details["regions"] == ["eu-north-1"] and list(f.details["not_audited"]) == ["eu-west-1"]
        assert "(1 region(s) audited: eu-north-1; not audited: eu-west-1)" in f.message or f.message.startswith("No ")
        assert "refused here, allowed in other regions" in f.details["not_audited"]["eu-west-1"]
    assert found[("ACCESS-AWS-EBS-ENCRYPTION", "aws:clean")].message == "No volumes found (1 region(s) audited: eu-north-1; not audited: eu-west-1)"


def test_all_enabled_audits_the_enabled_regions_and_names_the_others(rig: MotoRig, seeded: Any, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, aws=[clean_entry(rig, regions="all-enabled")])
    calls: list[tuple[str, str, dict[str, Any], str]] = []
    run = aws_audit(inventory, [recorder(calls)], only=["ACCESS-AWS-EBS-ENCRYPTION"])
    finding = verdicts(run)[("ACCESS-AWS-EBS-ENCRYPTION", "aws:clean")]
    assert finding.status.value == "pass", finding.message
    audited, skipped = finding.details["regions"], finding.details["not_audited"]
    assert {"eu-north-1", "eu-west-1", "us-east-1", "eu-west-2"} <= set(audited)
    # moto marks these as not opted in, like a real account that never enabled them
    assert skipped["eu-south-2"] == skipped["eu-central-2"] == "not enabled for this account (OptInStatus not-opted-in)"
    assert not set(audited) & set(skipped)
    assert not any(r.startswith(("cn-", "us-gov-")) for r in [*audited, *skipped]), "regions of other partitions are not this account's"
    assert ("ec2", "DescribeRegions", {"AllRegions": True}, "eu-north-1") in calls
    described = sorted(region for _, op, _, region in calls if op == "DescribeVolumes")
    assert described == sorted(audited), "one DescribeVolumes per audited region, none elsewhere"
    assert finding.details["resources"] == {f"volume:eu-west-1/{seeded['clean']['clean-volume']}": "pass"}


def test_describe_regions_denied_with_all_enabled_errors_the_regional_findings_only(rig: MotoRig, seeded: Any, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, aws=[clean_entry(rig, regions="all-enabled")])
    run = aws_audit(inventory, [deny("ec2:DescribeRegions")], only=["ACCESS-AWS-EBS-ENCRYPTION", "ACCESS-AWS-S3-ENCRYPTION"])
    found = verdicts(run)
    ebs = found[("ACCESS-AWS-EBS-ENCRYPTION", "aws:clean")]
    assert ebs.status.value == "error" and ebs.reason == "permission_denied"
    assert "cannot list the account's enabled regions (regions: all-enabled): ec2:DescribeRegions in eu-north-1 was refused" in ebs.message
    assert found[("ACCESS-AWS-S3-ENCRYPTION", "aws:clean")].status.value == "pass"


def test_declared_regions_not_enabled_or_unknown(rig: MotoRig, seeded: Any, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, aws=[clean_entry(rig, regions=["eu-north-1", "eu-south-2"]), aws_entry(rig, "typo", regions=["eu-west-2", "eu-nowhere-9", "zz-nowhere-1"])])
    found = verdicts(aws_audit(inventory, only=["ACCESS-AWS-EBS-ENCRYPTION", "ACCESS-AWS-S3-ENCRYPTION"]))
    disabled = found[("ACCESS-AWS-EBS-ENCRYPTION", "aws:clean")]
    assert disabled.status.value == "pass"
    assert disabled.details["not_audited"] == {"eu-south-2": "not enabled for this account (OptInStatus not-opted-in)"}
    unknown = found[("ACCESS-AWS-EBS-ENCRYPTION", "aws:typo")]
    assert unknown.status.value == "error" and unknown.reason == "config_error"
    assert unknown.details["incomplete"] == {
        "ec2:DescribeVolumes in eu-nowhere-9": {"reason": "config_error", "message": "unsupported region eu-nowhere-9: ec2:DescribeRegions does not list it for this account"},
        "ec2:DescribeVolumes in zz-nowhere-1": {"reason": "config_error", "message": "unsupported region zz-nowhere-1: no AWS partition has a region of that name"},
    }
    assert unknown.message.startswith("Could not read ec2:DescribeVolumes in eu-nowhere-9, ec2:DescribeVolumes in zz-nowhere-1: unsupported region eu-nowhere-9")
    assert unknown.details["regions"] == ["eu-west-2"]
    assert found[("ACCESS-AWS-S3-ENCRYPTION", "aws:typo")].status.value == "fail"  # S3 does not depend on regions


# -- credentials, throttling, unreachable -----------------------------------------------------------

def test_role_that_cannot_be_assumed_fails_every_finding_of_its_account(rig: MotoRig, seeded: Any, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, aws=[clean_entry(rig)])
    run = aws_audit(inventory, [deny("sts:AssumeRole")], only=LOCATION)
    for finding in run.findings:
        assert finding.status.value == "error" and finding.reason == "auth_failed"
        assert finding.message.startswith(f"Could not verify: cannot assume role {CLEAN_ROLE}: sts:AssumeRole in eu-north-1 was refused: AccessDenied")
    assert EXTERNAL_ID not in canonical_json(run).decode()


def test_no_credentials_is_an_auth_error(rig: MotoRig, seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    inventory = write_inventory(tmp_path, aws=[aws_entry(rig, "main", regions=["eu-north-1"])])
    finding = verdicts(aws_audit(inventory, only=["DATA-AWS-S3-BUCKET-REGION"]))[("DATA-AWS-S3-BUCKET-REGION", "aws:main")]
    assert finding.status.value == "error" and finding.reason == "auth_failed"
    assert "no AWS credentials found for account main" in finding.message


def test_named_profile_and_unknown_profile(rig: MotoRig, seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[audit]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    inventory = write_inventory(tmp_path, aws=[aws_entry(rig, "main", profile="audit", regions=["eu-north-1"]), aws_entry(rig, "other", profile="nosuch", regions=["eu-north-1"])])
    found = verdicts(aws_audit(inventory, only=["DATA-AWS-S3-BUCKET-REGION"]))
    assert found[("DATA-AWS-S3-BUCKET-REGION", "aws:main")].status.value == "fail"  # it read the main account's buckets
    other = found[("DATA-AWS-S3-BUCKET-REGION", "aws:other")]
    assert other.status.value == "error" and other.reason == "config_error" and "AWS profile 'nosuch'" in other.message


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


THROTTLED = (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
             b"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>r-1</RequestID></Response>")


def test_throttling_that_outlives_the_retries_is_an_error(rig: MotoRig, seeded: Any, tmp_path: Path) -> None:
    attempts: list[str] = []

    def throttle(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.url)
        return AWSResponse(request.url, 503, {"Content-Type": "text/xml"}, _Body(THROTTLED))

    inventory = write_inventory(tmp_path, aws=[clean_entry(rig, regions=["eu-north-1"])])
    finding = verdicts(aws_audit(inventory, [("before-send.ec2.DescribeSecurityGroups", throttle)], only=["ACCESS-AWS-SG-OPEN-ADMIN-PORTS"]))[("ACCESS-AWS-SG-OPEN-ADMIN-PORTS", "aws:clean")]
    assert len(attempts) == 3, "botocore's standard retry mode tries three times"
    assert finding.status.value == "error" and finding.reason == "command_failed"
    assert finding.message == "Could not verify: ec2:DescribeSecurityGroups in eu-north-1 was throttled (RequestLimitExceeded) and still failed after 3 attempt(s)"


def test_unreachable_endpoint_names_the_region(rig: MotoRig, tmp_path: Path) -> None:
    from aws_rig import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    inventory = write_inventory(tmp_path, aws=[{"name": "gone", "endpoint_url": dead, "regions": ["eu-north-1"]}])
    finding = verdicts(aws_audit(inventory, only=["DATA-AWS-S3-BUCKET-REGION"]))[("DATA-AWS-S3-BUCKET-REGION", "aws:gone")]
    assert finding.status.value == "error" and finding.reason == "unreachable"
    assert finding.message == f"Could not verify: s3:ListBuckets in eu-north-1: cannot reach {dead}/ (is eu-north-1 a region where this service is offered?)"


# -- the transport on its own: pagination and its bound -------------------------------------------

def test_pagination_follows_every_page_and_says_when_it_stops(rig: MotoRig, seeded: Any) -> None:
    import time

    from auditor.collect import Context
    from auditor.model import Target
    from auditor.transports import ConnectOptions, Transports
    from auditor.transports.aws import open_aws

    s3 = rig.client("s3", "eu-north-1")
    for key in ("a", "b", "c"):
        s3.put_object(Bucket="legacy-eu", Key=f"page-test/{key}", Body=b"x")
    target = Target(id="aws:main", kind="aws", name="main", settings={"endpoint_url": rig.endpoint, "regions": ["eu-north-1"]}, source="t.yaml:1")
    conn = open_aws(target, Transports(ConnectOptions(), {}))
    try:
        ctx = Context(target, conn, {}, time.monotonic() + 30)
        everything, cut = conn.paginate(ctx, "s3", "ListObjectVersions", Bucket="legacy-eu", Prefix="page-test/", PaginationConfig={"PageSize": 1})
        assert not cut and [v["Key"] for v in everything["Versions"]] == ["page-test/a", "page-test/b", "page-test/c"]
        assert ctx.evidence[-1].source.endswith("(3 page(s))")
        some, cut = conn.paginate(ctx, "s3", "ListObjectVersions", max_items=2, Bucket="legacy-eu", Prefix="page-test/", PaginationConfig={"PageSize": 1})
        assert cut and len(some["Versions"]) == 2
        assert ctx.evidence[-1].source.endswith("(2 page(s), cut short at 2 items)") and ctx.evidence[-1].truncated
    finally:
        conn.close()
        for key in ("a", "b", "c"):
            s3.delete_object(Bucket="legacy-eu", Key=f"page-test/{key}")
