"""``auditor import aws-ec2``: running EC2 instances → servers, against moto in server mode (tests/aws_rig.py).

The instances are made with boto3 over HTTP; ``auditor import`` runs as a
separate process with ``--endpoint-url`` and the rig's dummy credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from auditor.inventory import load_inventory

from aws_rig import AUDIT_ENV, AUDIT_ENV_UNSET, MotoRig

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rig() -> Iterator[MotoRig]:
    server = MotoRig()
    try:
        yield server
    finally:
        server.stop()


def run(rig: MotoRig, region: str, name: str | None, tags: dict[str, str] | None = None, stop: bool = False) -> str:
    ec2 = rig.client("ec2", region)
    tag_list = [{"Key": k, "Value": v} for k, v in ({"Name": name} if name else {}).items()] + [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    extra: dict[str, Any] = {"TagSpecifications": [{"ResourceType": "instance", "Tags": tag_list}]} if tag_list else {}
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro", **extra)["Instances"][0]["InstanceId"]
    if stop:
        ec2.stop_instances(InstanceIds=[iid])
    return iid


@pytest.fixture(scope="module")
def fleet(rig: MotoRig) -> dict[str, str]:
    return {
        "web-1": run(rig, "eu-north-1", "web-1", {"env": "production"}),
        "web-2": run(rig, "eu-north-1", "web 2 (old)", {"env": "production"}),
        "db-1": run(rig, "eu-west-1", "db-1", {"env": "production"}),
        "staging": run(rig, "eu-west-1", "staging-1", {"env": "staging"}),
        "unnamed": run(rig, "us-east-1", None, {"env": "production"}),
        "stopped": run(rig, "eu-north-1", "stopped-1", {"env": "production"}, stop=True),
    }


def cli(rig: MotoRig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in AUDIT_ENV_UNSET} | AUDIT_ENV | {"PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "auditor", "import", "aws-ec2", "--endpoint-url", rig.endpoint, *args],
                          capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=180, check=False)


def test_running_instances_become_located_servers(rig: MotoRig, fleet: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "aws.yaml"
    p = cli(rig, "--regions", "eu-north-1,eu-west-1", "--regions", "us-east-1", "--tag", "env=production", "--user", "audit", "--out", str(out))
    assert p.returncode == 0, p.stderr
    v = subprocess.run([sys.executable, "-m", "auditor", "validate", str(out)], capture_output=True, text=True, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert v.returncode == 0, v.stderr
    inv = load_inventory(str(out))
    s = {t.name: t.settings for t in inv.targets}
    unnamed = fleet["unnamed"]
    assert set(s) == {"web-1", "web-2-old", "db-1", unnamed}  # running and tagged env=production only
    ec2 = rig.client("ec2", "eu-north-1")
    web1 = ec2.describe_instances(InstanceIds=[fleet["web-1"]])["Reservations"][0]["Instances"][0]
    assert s["web-1"]["host"] == web1["PrivateIpAddress"]
    assert (s["web-1"]["region"], s["web-1"]["country"], s["web-1"]["user"]) == ("eu-north-1", "SE", "audit")
    assert (s["db-1"]["region"], s["db-1"]["country"]) == ("eu-west-1", "IE")
    assert (s[unnamed]["region"], s[unnamed]["country"]) == ("us-east-1", "US")
    assert {g: set(m) for g, m in inv.groups.items()} == {"aws-eu-north-1": {"web-1", "web-2-old"}, "aws-eu-west-1": {"db-1"}, "aws-us-east-1": {unnamed}}
    text = out.read_text()
    assert f"# from EC2 instance {fleet['web-1']} in eu-north-1 (Name 'web-1')" in text
    assert "Name 'web 2 (old)' written as 'web-2-old'" in text

    p = cli(rig, "--regions", "eu-north-1", "--address", "public")
    assert p.returncode == 0, p.stderr
    assert web1["PublicIpAddress"] in p.stdout


def test_bad_arguments_and_unreachable_endpoint_exit_2_without_traceback(rig: MotoRig) -> None:
    p = cli(rig, "--regions", "eu-nort-one", "--tag", "env")
    assert p.returncode == 2 and "'eu-nort-one' is not an AWS region name" not in p.stdout
    assert "--tag: 'env': expected KEY=VALUE" in p.stderr and "Traceback" not in p.stderr
    p = cli(rig, "--regions", "eu-nort-one")
    assert p.returncode == 2 and "--regions: 'eu-nort-one' is not an AWS region name" in p.stderr
    p = cli(rig, "--regions", "eu-north-1", "--tag", "env=nowhere")
    assert p.returncode == 2 and "found no server to import" in p.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT)} | AUDIT_ENV
    dead = subprocess.run([sys.executable, "-m", "auditor", "import", "aws-ec2", "--regions", "eu-north-1", "--endpoint-url", "http://127.0.0.1:9"],
                          capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=180, check=False)
    assert dead.returncode == 2 and "cannot read EC2" in dead.stderr and "Traceback" not in dead.stderr
