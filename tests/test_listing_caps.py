"""A count taken from a capped listing is stated as a lower bound ("at least N"), never as if it were exact.

Real listings above the real caps: 20,050 backup files through the local
transport (find, cut at MAX_ENTRIES per root), and an S3 bucket in moto with
more old versions than the fact keeps (OLDEST_KEPT) and more versions than
the listing reads (MAX_VERSIONS, lowered for the test; the same code reads it).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from auditor.shellreads import MAX_ENTRIES

from helpers import audit, verdicts, write

FILES = MAX_ENTRIES + 50


def _many_backups(folder: Path, n: int, age_days: float) -> None:
    folder.mkdir()
    old = time.time() - age_days * 86400
    for i in range(n):
        path = folder / f"db-{i:05d}.sql.gz"
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)  # readable by other users: every one is a violation
        os.close(fd)
        os.chmod(path, 0o644)
        os.utime(path, (old, old))


def test_counts_from_a_cut_file_listing_say_at_least(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    _many_backups(backups, FILES, age_days=90)
    inv = write(str(tmp_path / "inventory.yaml"), f"""
        servers:
          - name: here
            connection: local
            country: SE
            backup_paths: ['{backups}']
        """)
    found = {c: f for (c, _t), f in verdicts(audit(inv, only=["ACCESS-BACKUP-FILE-PERMISSIONS", "BACKUP-MAX-AGE"])).items()}
    listed = MAX_ENTRIES - 1  # the root folder is the first entry of its listing
    perms, age = found["ACCESS-BACKUP-FILE-PERMISSIONS"], found["BACKUP-MAX-AGE"]
    assert perms.status.value == "fail" and age.status.value == "fail"
    assert perms.message.startswith(f"at least {listed} backup file(s) readable or writable by other users (the listing was cut at {MAX_ENTRIES} entries; there may be more): "), perms.message
    assert age.message.startswith(f"at least {listed} backup file(s) older than 35 days (the listing was cut at {MAX_ENTRIES} entries; there may be more); oldest listed: "), age.message
    assert perms.details["truncated"] is True and perms.details["count"] == listed
    assert age.details["truncated"] is True


def test_counts_from_a_whole_listing_stay_exact(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    _many_backups(backups, 30, age_days=90)
    inv = write(str(tmp_path / "inventory.yaml"), f"servers:\n  - {{name: here, connection: local, backup_paths: ['{backups}']}}\n")
    found = {c: f for (c, _t), f in verdicts(audit(inv, only=["ACCESS-BACKUP-FILE-PERMISSIONS", "BACKUP-MAX-AGE"])).items()}
    assert found["ACCESS-BACKUP-FILE-PERMISSIONS"].message.startswith("30 backup file(s) readable or writable by other users: ")
    assert found["BACKUP-MAX-AGE"].message.startswith("30 backup file(s) older than 35 days; oldest: ")
    assert not re.search("at least|cut", found["BACKUP-MAX-AGE"].message)


# -- S3 object versions (moto) -------------------------------------------------------------------

import pytest  # noqa: E402
import yaml  # noqa: E402

import checks.aws_backup as aws_backup  # noqa: E402
from auditor.inventory import load_inventory  # noqa: E402
from auditor.policy import load_policy  # noqa: E402
from auditor.runner import Runner, RunOptions  # noqa: E402

from aws_rig import AUDIT_ENV, AUDIT_ENV_UNSET, MotoRig, _bucket  # noqa: E402
from helpers import registry  # noqa: E402


@pytest.fixture(scope="module")
def moto() -> object:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in AUDIT_ENV.items():
            mp.setenv(key, value)
        for key in AUDIT_ENV_UNSET:
            mp.delenv(key, raising=False)
        rig = MotoRig()
        try:
            yield rig
        finally:
            rig.stop()


def _oldest_object_message(rig: MotoRig, folder: Path, bucket: str) -> str:
    inv = folder / "inventory.yaml"
    inv.write_text(yaml.safe_dump({"version": 1, "aws": [{"name": "main", "endpoint_url": rig.endpoint, "regions": ["eu-north-1"], "backup_buckets": [bucket]}]}))
    reg = registry()
    run = Runner(reg, load_inventory(str(inv)), load_policy("baseline-eu", reg), RunOptions(only=("BACKUP-AWS-S3-OLDEST-OBJECT",))).run()
    (finding,) = run.findings
    assert finding.status.value == "fail", finding.message
    return finding.message


def test_more_old_versions_than_the_fact_keeps_says_at_least(moto: MotoRig, tmp_path: Path) -> None:
    s3 = moto.client("s3")
    _bucket(s3, "many-old", "eu-north-1")
    for i in range(aws_backup.OLDEST_KEPT + 3):
        s3.put_object(Bucket="many-old", Key=f"db-{i:02d}.sql.gz", Body=b"dump")
        moto.backdate("many-old", f"db-{i:02d}.sql.gz", 100 + i)
    message = _oldest_object_message(moto, tmp_path, "many-old")
    assert f": many-old: at least {aws_backup.OLDEST_KEPT} version(s) older than 35 days, oldest db-12.sql.gz 112.0 days" in message, message


def test_a_cut_version_listing_says_at_least(moto: MotoRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = moto.client("s3")
    _bucket(s3, "cut-listing", "eu-north-1")
    for i in range(1005):  # more than one page of 1,000
        s3.put_object(Bucket="cut-listing", Key=f"db-{i:04d}.sql.gz", Body=b"")
    for i in range(3):
        moto.backdate("cut-listing", f"db-{i:04d}.sql.gz", 90)
    monkeypatch.setattr(aws_backup, "MAX_VERSIONS", 1000)  # the cap, lowered: the listing stops after its first page
    message = _oldest_object_message(moto, tmp_path, "cut-listing")
    assert ": cut-listing: at least 3 version(s) older than 35 days (the listing stopped after 1000 versions; there may be more), oldest listed db-0000.sql.gz 90.0 days" in message, message
