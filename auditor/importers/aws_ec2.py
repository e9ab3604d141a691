"""``auditor import aws-ec2 --regions ... [--tag KEY=VALUE]``: running EC2 instances as servers.

Read-only: ``ec2:DescribeInstances`` (state ``running``, each ``--tag`` a
filter ``tag:KEY=VALUE``) in each region, plus ``ec2:DescribeRegions`` for
``--regions all-enabled``. Credentials come from boto3's usual chain or
``--profile``; ``--endpoint-url`` talks to another endpoint (a local
emulator).

Each instance becomes a server named by its ``Name`` tag (else its
instance id; names made unique), ``host`` its private address (``--address
public`` for the public one, or the private/public DNS name), ``region``
its region, ``country`` the country of the region's data centres (the
table the data-location controls use, ``checks.aws_location.REGION_COUNTRY``),
``provider: Amazon Web Services``, and one group per region
(``aws-eu-north-1``). An instance without the chosen address is not
imported, with the reason. EC2 knows nothing about the login: ``--user``
and ``--key-file`` give them.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from ..errors import InputError, Problem
from . import Imported, ImportedServer, Skipped, safe_name, setting_problem

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
ADDRESSES = {"private": "PrivateIpAddress", "public": "PublicIpAddress", "private-dns": "PrivateDnsName", "public-dns": "PublicDnsName"}


def parse_tags(specs: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not eq or not key:
            raise InputError(Problem("--tag", None, None, f"{spec!r}: expected KEY=VALUE (e.g. --tag env=production)"))
        out.append((key, value))
    return out


def _client(session: Any, region: str, endpoint_url: str | None) -> Any:
    from botocore.config import Config

    return session.client("ec2", region_name=region, endpoint_url=endpoint_url,
                          config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10, read_timeout=30))


def import_ec2(regions: Sequence[str], tags: Sequence[str] = (), address: str = "private", profile: str | None = None,
               endpoint_url: str | None = None, user: str | None = None, key_file: str | None = None) -> Imported:
    import boto3
    import botocore.exceptions

    filters = [{"Name": "instance-state-name", "Values": ["running"]}] + [{"Name": f"tag:{k}", "Values": [v]} for k, v in parse_tags(tags)]
    problems = [Problem("--regions", None, None, f"{r!r} is not an AWS region name (e.g. eu-north-1)") for r in regions if r != "all-enabled" and not REGION.fullmatch(r)]
    for key, value in (("user", user), ("key_file", key_file)):
        why = setting_problem(key, value) if value else None
        if why:
            problems.append(Problem(f"--{key.replace('_', '-')}", None, None, f"{value!r}: {why}"))
    if problems:
        raise InputError(problems)
    try:
        session = boto3.Session(profile_name=profile)
        if "all-enabled" in regions:
            answer = _client(session, session.region_name or "us-east-1", endpoint_url).describe_regions(
                Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}])
            regions = sorted({r["RegionName"] for r in answer["Regions"]} | {r for r in regions if r != "all-enabled"})
        found: list[tuple[str, dict[str, Any]]] = []
        for region in regions:
            pages = _client(session, region, endpoint_url).get_paginator("describe_instances").paginate(Filters=filters)
            found += [(region, i) for page in pages for r in page["Reservations"] for i in r["Instances"]]
    except botocore.exceptions.ProfileNotFound as exc:
        raise InputError(Problem("--profile", None, None, str(exc))) from None
    except botocore.exceptions.NoCredentialsError:
        raise InputError(Problem("AWS", None, None, "no AWS credentials found; give --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")) from None
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        raise InputError(Problem("AWS", None, None, f"{exc.operation_name} refused: {err.get('Code')}: {err.get('Message')} (the import needs ec2:DescribeInstances and, for all-enabled, ec2:DescribeRegions)")) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise InputError(Problem("AWS", None, None, f"cannot read EC2: {exc}")) from None
    return _build(found, address, user, key_file, regions)


def _build(found: list[tuple[str, dict[str, Any]]], address: str, user: str | None, key_file: str | None, regions: Sequence[str]) -> Imported:
    from checks.aws_location import REGION_COUNTRY

    taken: set[str] = set()
    servers: list[ImportedServer] = []
    skipped: list[Skipped] = []
    groups: dict[str, list[str]] = {}
    field = ADDRESSES[address]
    for region, inst in sorted(found, key=lambda f: (f[0], _name_tag(f[1]) or "", f[1].get("InstanceId", ""))):
        iid = inst.get("InstanceId", "?")
        label = _name_tag(inst)
        where = f"EC2 instance {iid} in {region}" + (f" (Name {label!r})" if label else " (no Name tag)")
        if inst.get("Platform", "").lower() == "windows":
            skipped.append(Skipped(label or iid, where, "a Windows instance; auditor audits Linux servers over SSH"))
            continue
        host = inst.get(field) or ""
        if not host:
            skipped.append(Skipped(label or iid, where, f"it has no {address} address ({field}); try --address {'public' if address.startswith('private') else 'private'}"))
            continue
        why = setting_problem("host", host)
        if why:
            skipped.append(Skipped(label or iid, where, f"address {host!r}: {why}"))
            continue
        name = safe_name(label or iid, taken)
        notes = [f"Name {label!r} written as {name!r} (names must be unique and use letters, digits, '.', '_', '-')"] if label and name != label else []
        settings: dict[str, Any] = {"host": host, "region": region, "provider": "Amazon Web Services",
                                    "description": f"EC2 {iid} ({inst.get('InstanceType', '?')}, {inst.get('Placement', {}).get('AvailabilityZone', region)})"}
        country = REGION_COUNTRY.get(region)
        if country:
            settings["country"] = country
        else:
            notes.append(f"region {region} is not in auditor's region → country table; set country here")
        if user:
            settings["user"] = user
        if key_file:
            settings["key_file"] = key_file
        servers.append(ImportedServer(name, where, settings, tuple(notes)))
        groups.setdefault(f"aws-{region}", []).append(name)
    return Imported(origin=f"AWS EC2, running instances in {', '.join(regions)}", servers=tuple(servers),
                    groups={g: tuple(m) for g, m in groups.items()}, skipped=tuple(skipped))


def _name_tag(inst: dict[str, Any]) -> str | None:
    for tag in inst.get("Tags") or []:
        if tag.get("Key") == "Name" and tag.get("Value"):
            return str(tag["Value"])
    return None
