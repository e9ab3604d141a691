"""moto in server mode for the AWS checks: a real HTTP endpoint on 127.0.0.1 that boto3 talks to.

:class:`MotoRig` starts ``moto.server.ThreadedMotoServer`` on a free loopback
port (in this process, on its own threads) and seeds it with boto3 through
that endpoint, exactly as the auditor will read it: every call goes through
botocore's serialisers, HTTP, moto's parsers and back. Two accounts:

* **main** (123456789012, the credentials ``testing``/``testing``): a mix of
  compliant and violating resources in eu-north-1, eu-west-1 and us-east-1
  (and a bucket in eu-west-2), named after what they are (:func:`seed_main`);
* **clean** (111111111111, reached by assuming ``CLEAN_ROLE`` with an
  external id, which moto maps to that account): only compliant resources
  (:func:`seed_clean`).

Where moto offers no API for a state the tests need, the rig says so and
reaches into moto's in-process backend (the server runs in this process):
:meth:`MotoRig.backdate` sets an object version's LastModified in the past
(S3 has no API to write it).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

MAIN_ACCOUNT = "123456789012"
CLEAN_ACCOUNT = "111111111111"
CLEAN_ROLE = f"arn:aws:iam::{CLEAN_ACCOUNT}:role/auditor-read-only"
EXTERNAL_ID = "ext-id-Kx7-never-in-a-report-3319"
MAIN_REGIONS = ["eu-north-1", "eu-west-1", "us-east-1"]
CLEAN_REGIONS = ["eu-north-1", "eu-west-1"]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# What the auditor's environment holds during the tests (set with monkeypatch):
# dummy keys, and no shared files or instance metadata of this machine.
AUDIT_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "eu-north-1",
}
AUDIT_ENV_UNSET = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoRig:
    """One moto server on 127.0.0.1 for a test module."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # moto would otherwise load ~1,000 public AMIs (and their snapshots) into every region.
        self._saved_env = {k: os.environ.get(k) for k in ("MOTO_EC2_LOAD_DEFAULT_AMIS",)}
        os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._clean_credentials: dict[str, str] | None = None

    def stop(self) -> None:
        self.server.stop()
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def client(self, service: str, region: str = "eu-north-1", account: str = "main") -> Any:
        creds = CREDENTIALS if account == "main" else self.clean_credentials()
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint, **creds)

    def clean_credentials(self) -> dict[str, str]:
        if self._clean_credentials is None:
            sts = boto3.client("sts", region_name="eu-north-1", endpoint_url=self.endpoint, **CREDENTIALS)
            c = sts.assume_role(RoleArn=CLEAN_ROLE, RoleSessionName="rig-seed", ExternalId=EXTERNAL_ID)["Credentials"]
            self._clean_credentials = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"], "aws_session_token": c["SessionToken"]}
        return self._clean_credentials

    def backdate(self, bucket: str, key: str, days: float, version: int = 0, account: str = MAIN_ACCOUNT) -> None:
        """Make version ``version`` (0: the first written) of ``key`` ``days`` old. No S3 API can; moto's backend can."""
        from moto.s3.models import s3_backends

        stored = s3_backends[account]["aws"].buckets[bucket].keys.getlist(key)[version]
        stored.last_modified = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days)


@dataclass
class Seeded:
    """Ids moto chose for what the rig created, by logical name."""

    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def _bucket(s3: Any, name: str, region: str | None, **extra: Any) -> None:
    """Create a bucket (sent to us-east-1, which takes any constraint); region None: no LocationConstraint, the legacy us-east-1."""
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=s3.meta.endpoint_url, **_credentials_of(s3))
    if region is None:
        client.create_bucket(Bucket=name, **extra)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}, **extra)


def _credentials_of(client: Any) -> dict[str, str]:
    c = client._request_signer._credentials.get_frozen_credentials()
    return {"aws_access_key_id": c.access_key, "aws_secret_access_key": c.secret_key, **({"aws_session_token": c.token} if c.token else {})}


def _lifecycle(s3: Any, bucket: str, *rules: dict[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{"Status": "Enabled", **r} for r in rules]})


def _versioned(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _encrypt(s3: Any, bucket: str, algorithm: str = "AES256") -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]})


def _pab(s3: Any, bucket: str, **settings: bool) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=settings)


ALL_PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def seed_main(rig: MotoRig) -> Seeded:
    """The main account: compliant and violating resources side by side."""
    seeded = Seeded()
    s3 = rig.client("s3", "eu-north-1")

    # -- location, access, encryption -----------------------------------------------
    _bucket(s3, "customer-data-eu", "eu-north-1")
    _pab(s3, "customer-data-eu", **ALL_PAB)
    _encrypt(s3, "customer-data-eu", "aws:kms")
    _bucket(s3, "legacy-us-east", None)  # GetBucketLocation answers None: us-east-1
    _bucket(s3, "legacy-eu", "EU")  # answers "EU": eu-west-1
    _encrypt(s3, "legacy-eu")
    _bucket(s3, "london-assets", "eu-west-2")
    _encrypt(s3, "london-assets")
    _bucket(s3, "public-acl", "eu-west-1")
    s3.put_bucket_acl(Bucket="public-acl", ACL="public-read")
    _bucket(s3, "authenticated-acl", "eu-west-1")
    s3.put_bucket_acl(Bucket="authenticated-acl", ACL="authenticated-read")
    _bucket(s3, "public-policy", "eu-west-1")
    s3.put_bucket_policy(Bucket="public-policy", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-policy/*"}]}))
    _bucket(s3, "policy-office-only", "eu-west-1")
    _pab(s3, "policy-office-only", BlockPublicPolicy=True, RestrictPublicBuckets=True)  # the account level adds the ACL settings
    s3.put_bucket_policy(Bucket="policy-office-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "OfficeRead", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::policy-office-only/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}},
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::policy-office-only/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    _encrypt(s3, "policy-office-only")
    # replication: one rule to the US, one within the EU
    for name, region in (("replicated-to-us", "eu-north-1"), ("replica-us", "us-east-1"), ("replicated-to-eu", "eu-north-1"), ("replica-eu", "eu-west-1")):
        _bucket(s3, name, region if region != "us-east-1" else None)
        _versioned(s3, name)
    for source, dest, rule in (("replicated-to-us", "replica-us", "to-us"), ("replicated-to-eu", "replica-eu", "to-eu")):
        s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={"Role": f"arn:aws:iam::{MAIN_ACCOUNT}:role/replication", "Rules": [
            {"ID": rule, "Priority": 1, "Status": "Enabled", "Filter": {}, "DeleteMarkerReplication": {"Status": "Disabled"},
             "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}}]})

    # -- backup buckets (backup_max_age_days 35) ------------------------------------------
    _bucket(s3, "backups-ok", "eu-north-1")
    _versioned(s3, "backups-ok")
    _encrypt(s3, "backups-ok")
    _lifecycle(s3, "backups-ok", {"ID": "schedule", "Filter": {}, "Expiration": {"Days": 30}, "NoncurrentVersionExpiration": {"NoncurrentDays": 5}})
    s3.put_object(Bucket="backups-ok", Key="db/2026-11-20.sql.gz", Body=b"dump")
    _bucket(s3, "backups-forever", "eu-north-1")
    s3.put_object(Bucket="backups-forever", Key="db/old.sql.gz", Body=b"dump")
    s3.put_object(Bucket="backups-forever", Key="db/new.sql.gz", Body=b"dump")
    rig.backdate("backups-forever", "db/old.sql.gz", 100)
    _bucket(s3, "backups-noncurrent-kept", "eu-north-1")
    _versioned(s3, "backups-noncurrent-kept")
    _lifecycle(s3, "backups-noncurrent-kept", {"ID": "current-only", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}})
    s3.put_object(Bucket="backups-noncurrent-kept", Key="db.sql.gz", Body=b"v1")
    s3.put_object(Bucket="backups-noncurrent-kept", Key="db.sql.gz", Body=b"v2")
    rig.backdate("backups-noncurrent-kept", "db.sql.gz", 50, version=0)  # the overwritten version, still there
    _bucket(s3, "backups-locked", "eu-north-1", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="backups-locked", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}}})
    _lifecycle(s3, "backups-locked", {"ID": "schedule", "Filter": {}, "Expiration": {"Days": 30}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    _bucket(s3, "backups-prefix-only", "eu-north-1")
    _lifecycle(s3, "backups-prefix-only", {"ID": "tmp-only", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}})
    s3.put_object(Bucket="backups-prefix-only", Key="db/today.sql.gz", Body=b"dump")
    _bucket(s3, "offsite-backups", "eu-north-1")  # audited through backups: (type s3)
    _lifecycle(s3, "offsite-backups", {"ID": "schedule", "Filter": {}, "Expiration": {"Days": 35}})
    s3.put_object(Bucket="offsite-backups", Key="nightly.tar.zst", Body=b"tar")

    # -- bookkeeping buckets (7 years: 2557 days) ------------------------------------------
    _bucket(s3, "books-ok", "eu-north-1", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="books-ok", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 7}}})
    _lifecycle(s3, "books-ok", {"ID": "archive", "Filter": {}, "Transitions": [{"Days": 365, "StorageClass": "GLACIER"}]})
    _bucket(s3, "books-expiring", "eu-north-1")
    _lifecycle(s3, "books-expiring", {"ID": "invoices-1y", "Filter": {"Prefix": "invoices/"}, "Expiration": {"Days": 365}})
    _bucket(s3, "books-short-lock", "eu-north-1", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="books-short-lock", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}}})

    # account-level Block Public Access: the ACL half only (buckets must add the policy half)
    control = rig.client("s3control", "eu-north-1")
    control.meta.events.register("before-sign.s3-control", _no_account_host)
    control.put_public_access_block(AccountId=MAIN_ACCOUNT, PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                                                                         "BlockPublicPolicy": False, "RestrictPublicBuckets": False})

    # -- EC2 ------------------------------------------------------------------------------
    for region, name in (("eu-north-1", "web-eu"), ("us-east-1", "web-us")):
        ec2 = rig.client("ec2", region)
        instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                     TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}])["Instances"][0]
        seeded.ids[name] = instance["InstanceId"]
        seeded.ids[f"{name}-root"] = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    eu = rig.client("ec2", "eu-north-1")
    seeded.ids["data-eu"] = eu.create_volume(AvailabilityZone="eu-north-1a", Size=10, Encrypted=True)["VolumeId"]
    seeded.ids["data-eu-snap"] = eu.create_snapshot(VolumeId=seeded["data-eu"], Description="nightly")["SnapshotId"]
    us = rig.client("ec2", "us-east-1")
    seeded.ids["data-eu-snap-us-copy"] = us.copy_snapshot(SourceRegion="eu-north-1", SourceSnapshotId=seeded["data-eu-snap"], Description="cross-region copy",
                                                          TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "Name", "Value": "kundregister-kopia"}]}])["SnapshotId"]
    ie = rig.client("ec2", "eu-west-1")
    seeded.ids["data-ie"] = ie.create_volume(AvailabilityZone="eu-west-1a", Size=10, Encrypted=True)["VolumeId"]
    seeded.ids["plain-ie"] = ie.create_volume(AvailabilityZone="eu-west-1a", Size=10, Encrypted=False,
                                              TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "scratch-ie"}]}])["VolumeId"]
    vpc = eu.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    rules = {
        "ssh-world": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        "https-world": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
        "postgres-v6": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
        "all-traffic": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        "ssh-office": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}],
        "range-20-30": [{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 30, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    for name, permissions in rules.items():
        tags = [{"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": "Bastion"}]}] if name == "ssh-world" else []
        gid = eu.create_security_group(GroupName=name, Description=name, VpcId=vpc, TagSpecifications=tags)["GroupId"]
        eu.authorize_security_group_ingress(GroupId=gid, IpPermissions=permissions)
        seeded.ids[name] = gid
    for region in MAIN_REGIONS:  # moto's default VPC brings a default group (no rule open to the world)
        ec2 = rig.client("ec2", region)
        seeded.ids[f"default-sg-{region}"] = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]

    # -- RDS -------------------------------------------------------------------------------
    for region, name, public, encrypted in (("eu-north-1", "orders-eu", False, True), ("eu-west-1", "public-db", True, False), ("us-east-1", "orders-us", False, True)):
        rig.client("rds", region).create_db_instance(
            DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="dbadmin",
            MasterUserPassword="not-a-real-password-1", AllocatedStorage=20, PubliclyAccessible=public, StorageEncrypted=encrypted, BackupRetentionPeriod=7,
            Tags=[{"Key": "Name", "Value": "Kundregister"}] if name == "public-db" else [],
        )
    rig.client("rds", "eu-north-1").create_db_snapshot(DBInstanceIdentifier="orders-eu", DBSnapshotIdentifier="orders-eu-manual")
    for region in ("eu-north-1", "eu-west-1", "us-east-1"):
        for snap in rig.client("rds", region).describe_db_snapshots(SnapshotType="automated")["DBSnapshots"]:
            seeded.ids[f"auto-snap-{snap['DBInstanceIdentifier']}"] = snap["DBSnapshotIdentifier"]

    # -- AWS Backup ------------------------------------------------------------------------
    vaults = {}
    for region, name in (("eu-north-1", "vault-eu"), ("eu-west-1", "vault-ie"), ("us-east-1", "vault-us")):
        vaults[name] = rig.client("backup", region).create_backup_vault(BackupVaultName=name)["BackupVaultArn"]
    seeded.ids.update(vaults)
    backup = rig.client("backup", "eu-north-1")
    backup.create_backup_plan(BackupPlan={"BackupPlanName": "daily-eu", "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": "vault-eu", "Lifecycle": {"DeleteAfterDays": 30},
         "CopyActions": [{"DestinationBackupVaultArn": vaults["vault-ie"], "Lifecycle": {"DeleteAfterDays": 30}}]}]})
    backup.create_backup_plan(BackupPlan={"BackupPlanName": "forever", "Rules": [{"RuleName": "keep", "TargetBackupVaultName": "vault-eu"}]})
    backup.create_backup_plan(BackupPlan={"BackupPlanName": "copy-to-us", "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": "vault-eu", "Lifecycle": {"DeleteAfterDays": 35},
         "CopyActions": [{"DestinationBackupVaultArn": vaults["vault-us"], "Lifecycle": {"DeleteAfterDays": 90}}]}]})
    return seeded


def seed_clean(rig: MotoRig) -> Seeded:
    """The clean account: one of each, all compliant, in eu-north-1 and eu-west-1."""
    seeded = Seeded()
    s3 = rig.client("s3", "eu-north-1", account="clean")
    for name in ("clean-data", "clean-backups", "clean-books"):
        _bucket(s3, name, "eu-north-1")
        _pab(s3, name, **ALL_PAB)
        _encrypt(s3, name, "aws:kms")
    _lifecycle(s3, "clean-backups", {"ID": "schedule", "Filter": {}, "Expiration": {"Days": 30}})
    s3.put_object(Bucket="clean-backups", Key="nightly.tar", Body=b"x")
    ec2 = rig.client("ec2", "eu-west-1", account="clean")
    seeded.ids["clean-volume"] = ec2.create_volume(AvailabilityZone="eu-west-1a", Size=10, Encrypted=True)["VolumeId"]
    rig.client("rds", "eu-north-1", account="clean").create_db_instance(
        DBInstanceIdentifier="clean-db", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="dbadmin",
        MasterUserPassword="not-a-real-password-2", AllocatedStorage=20, PubliclyAccessible=False, StorageEncrypted=True,
    )
    backup_ie = rig.client("backup", "eu-west-1", account="clean")
    copy_to = backup_ie.create_backup_vault(BackupVaultName="clean-vault-ie")["BackupVaultArn"]
    backup = rig.client("backup", "eu-north-1", account="clean")
    backup.create_backup_vault(BackupVaultName="clean-vault")
    backup.create_backup_plan(BackupPlan={"BackupPlanName": "clean-daily", "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": "clean-vault", "Lifecycle": {"DeleteAfterDays": 14},
         "CopyActions": [{"DestinationBackupVaultArn": copy_to, "Lifecycle": {"DeleteAfterDays": 14}}]}]})
    return seeded


def _no_account_host(request: Any, **_: Any) -> None:
    """S3 Control's account-id host prefix cannot resolve on 127.0.0.1 (the auditor's transport does the same)."""
    import re

    request.url = re.sub(r"^(https?://)[0-9]{12}\.", r"\1", request.url)
