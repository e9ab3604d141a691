"""The facts the AWS controls read, built from a plan's planned resources instead of API calls.

Each fact has the shape its live collector gives (checks/aws_location.py,
checks/aws_backup.py, checks/aws_access.py), so the controls judge a plan
unchanged. Resources are named by their Terraform address (and their planned
name, when known): ``module.storage.aws_s3_bucket.eu_backups (acme-eu-backups)``.

A value known only after apply is never read as a pass: the resource goes to
the fact's ``failed`` part ("decided at apply time"), which makes the control
``error`` unless another resource already fails it. Where AWS itself decides
a default the plan does not show, it is said in the evidence: a bucket
without an encryption resource gets SSE-S3 (S3 encrypts every new bucket so
since January 2023).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from auditor.model import Reason
from checks.aws_access import PAB_SETTINGS
from checks.aws_location import arn_region

from .reader import Plan, Resource, Unknown, blocks, known

DECIDED_AT_APPLY = Reason.DECIDED_AT_APPLY.value
CANNED_ACLS = {
    "public-read": [("AllUsers", "READ")],
    "public-read-write": [("AllUsers", "READ"), ("AllUsers", "WRITE")],
    "authenticated-read": [("AuthenticatedUsers", "READ")],
}
GROUP_URI = "http://acs.amazonaws.com/groups/global/"


@dataclass
class Built:
    """One fact: its value (or why it cannot be had) and the resources it was built from."""

    value: Any = None
    error: str | None = None  # the fact as a whole cannot be known
    not_applicable: str | None = None
    used: list[Resource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Facts:
    """Every AWS fact of one plan (one target)."""

    def __init__(self, plan: Plan, declared: Mapping[str, str] | None = None):
        self.plan = plan
        self.declared = dict(declared or {})  # bucket name -> purpose, from the inventory
        self.by_type: dict[str, list[Resource]] = {}
        for res in plan.resources:
            self.by_type.setdefault(res.type, []).append(res)
        self.region_of: dict[str, str | Unknown] = {res.address: self._region(res) for res in plan.resources if res.type.startswith("aws_")}
        self.regions = sorted({r for r in self.region_of.values() if isinstance(r, str)})

    # -- helpers ----------------------------------------------------------------------

    def _region(self, res: Resource) -> str | Unknown:
        own = known(res, "region")
        if isinstance(own, str) and own:
            return own
        if isinstance(own, Unknown) and "region" in (res.config.get("expressions") or {}):
            return own
        return self.plan.provider_region(res)

    def label(self, res: Resource, *names: str) -> str:
        for key in names or ("bucket", "name", "identifier"):
            value = known(res, key)
            if isinstance(value, str) and value and value != res.address:
                return f"{res.address} ({value})"
        return res.address

    def of(self, *types: str) -> list[Resource]:
        return [r for t in types for r in self.by_type.get(t, [])]

    def bucket_of(self, res: Resource, built: Built) -> Resource | None | Unknown:
        """The planned bucket a bucket configuration resource belongs to: by configuration reference, else by known name."""
        linked = self.plan.referenced(res, "aws_s3_bucket", "bucket")
        if len(linked) == 1:
            return linked[0]
        name = known(res, "bucket")
        if isinstance(name, str):
            named = [b for b in self.of("aws_s3_bucket") if known(b, "bucket") == name]
            if len(named) == 1:
                return named[0]
            if not named:
                built.notes.append(f"{res.address}: configures bucket {name}, which this plan does not create or change; not judged")
                return None
        return Unknown(f"{res.address}: the bucket it configures is decided at apply time and no configuration reference names it")

    def buckets(self) -> dict[str, Resource]:
        return {b.address: b for b in self.of("aws_s3_bucket")}

    # -- S3 ------------------------------------------------------------------------------

    def per_bucket(self, types: tuple[str, ...], read: Callable[[Resource, list[Resource]], Any], built: Built) -> dict[str, Any]:
        """{"buckets": {label: read(bucket, its config resources)}, "failed": {label: ...}}."""
        buckets = self.buckets()
        attached: dict[str, list[Resource]] = {a: [] for a in buckets}
        failed: dict[str, dict[str, str]] = {}
        for res in self.of(*types):
            built.used.append(res)
            owner = self.bucket_of(res, built)
            if isinstance(owner, Unknown):
                failed[res.address] = {"reason": DECIDED_AT_APPLY, "message": owner.why}
            elif owner is not None:
                attached[owner.address].append(res)
        out: dict[str, Any] = {}
        for address, bucket in buckets.items():
            built.used.append(bucket)
            try:
                out[self.label(bucket)] = read(bucket, attached[address])
            except Undecided as exc:
                failed[self.label(bucket)] = {"reason": DECIDED_AT_APPLY, "message": exc.why}
        return {"buckets": out, "failed": failed}

    def s3_bucket_regions(self) -> Built:
        built = Built()

        def read(bucket: Resource, _: list[Resource]) -> dict[str, Any]:
            region = need(self.region_of[bucket.address])
            return {"constraint": region, "region": region}

        built.value = self.per_bucket((), read, built)
        return built

    def s3_public_access_block(self) -> Built:
        built = Built()

        def read(bucket: Resource, configs: list[Resource]) -> dict[str, Any]:
            settings = {k: False for k in PAB_SETTINGS}
            for res in configs:
                for key in PAB_SETTINGS:
                    settings[key] = settings[key] or bool(need(known(res, _snake(key))))
            return {"configured": bool(configs), "settings": settings}

        built.value = self.per_bucket(("aws_s3_bucket_public_access_block",), read, built)
        return built

    def s3_account_public_access_block(self) -> Built:
        built = Built()
        found = self.of("aws_s3_account_public_access_block")
        built.used += found
        settings = {k: False for k in PAB_SETTINGS}
        try:
            for res in found:
                for key in PAB_SETTINGS:
                    settings[key] = settings[key] or bool(need(known(res, _snake(key))))
        except Undecided as exc:
            built.error = exc.why
            return built
        if not found:
            built.notes.append("the plan does not manage the account's S3 Block Public Access (aws_s3_account_public_access_block): counted as off; "
                               "each bucket needs its own aws_s3_bucket_public_access_block")
        built.value = {"account": "(from the plan)", "configured": bool(found), "settings": settings}
        return built

    def s3_bucket_acls(self) -> Built:
        built = Built()

        def read(bucket: Resource, configs: list[Resource]) -> dict[str, Any]:
            grants: list[dict[str, Any]] = []
            inline = known(bucket, "acl")
            if isinstance(inline, str):
                grants += _canned(inline)
            for res in configs:
                acl = need(known(res, "acl"))
                if isinstance(acl, str) and acl:
                    grants += _canned(acl)
                    if isinstance(blocks(res, "access_control_policy"), Unknown):
                        continue  # computed from the canned ACL: it cannot grant more than the ACL says
                for i, _policy in enumerate(need(blocks(res, "access_control_policy"))):
                    for j, _grant in enumerate(need(blocks(res, "access_control_policy", i, "grant"))):
                        grantee = need(known(res, "access_control_policy", i, "grant", j, "grantee", 0)) or {}
                        grants.append({"type": grantee.get("type"), "uri": grantee.get("uri"), "id": grantee.get("id"),
                                       "permission": need(known(res, "access_control_policy", i, "grant", j, "permission"))})
            return {"grants": grants}

        built.value = self.per_bucket(("aws_s3_bucket_acl",), read, built)
        return built

    def s3_bucket_policies(self) -> Built:
        built = Built()

        def read(bucket: Resource, configs: list[Resource]) -> dict[str, Any]:
            texts = [need(known(res, "policy")) for res in configs]
            inline = known(bucket, "policy")
            if isinstance(inline, str) and inline:
                texts.append(inline)
            texts = [t for t in texts if t]
            if not texts:
                return {"policy": None}
            if len(texts) == 1:
                return {"policy": texts[0]}
            statements: list[Any] = []
            for t in texts:  # several policies for one bucket: the last applied wins; judge every statement of each
                doc = json.loads(t)
                found = doc.get("Statement", [])
                statements += found if isinstance(found, list) else [found]
            return {"policy": json.dumps({"Statement": statements})}

        built.value = self.per_bucket(("aws_s3_bucket_policy",), read, built)
        return built

    def s3_bucket_encryption(self) -> Built:
        built = Built()

        def read(bucket: Resource, configs: list[Resource]) -> dict[str, Any]:
            algorithms: list[str] = []
            for res in configs:
                for i, _rule in enumerate(need(blocks(res, "rule"))):
                    algo = need(known(res, "rule", i, "apply_server_side_encryption_by_default", 0, "sse_algorithm"))
                    if algo:
                        algorithms.append(str(algo))
            if not configs:
                algorithms = ["AES256"]  # S3 applies SSE-S3 to every new bucket (since 2023-01-05)
            return {"configured": True, "algorithms": algorithms}

        built.value = self.per_bucket(("aws_s3_bucket_server_side_encryption_configuration",), read, built)
        built.notes.append("a bucket without aws_s3_bucket_server_side_encryption_configuration gets S3's default, SSE-S3 (AES256), as every bucket since 2023-01-05")
        return built

    def s3_replication(self) -> Built:
        built = Built()

        def read(bucket: Resource, configs: list[Resource]) -> dict[str, Any]:
            rules = []
            for res in configs:
                for i, _rule in enumerate(need(blocks(res, "rule"))):
                    status = need(known(res, "rule", i, "status"))
                    entry: dict[str, Any] = {"id": known(res, "rule", i, "id") or f"rule {i + 1} of {res.address}", "status": status}
                    dest = self.plan.referenced(res, "aws_s3_bucket", "rule", i, "destination", 0, "bucket")
                    arn = known(res, "rule", i, "destination", 0, "bucket")
                    if len(dest) == 1:
                        entry["destination"] = self.label(dest[0])
                        region = self.region_of[dest[0].address]
                        if isinstance(region, Unknown):
                            entry["error"] = {"reason": DECIDED_AT_APPLY, "message": region.why}
                        else:
                            entry["region"] = region
                    elif isinstance(arn, str):
                        name = arn.split(":::")[-1]
                        planned = [b for b in self.of("aws_s3_bucket") if known(b, "bucket") == name]
                        entry["destination"] = self.label(planned[0]) if planned else name
                        region = self.region_of[planned[0].address] if planned else Unknown(f"destination bucket {name} of {res.address} is not in this plan: its region is not known here")
                        if isinstance(region, Unknown):
                            entry["error"] = {"reason": DECIDED_AT_APPLY if planned else "incomplete_evidence", "message": region.why}
                        else:
                            entry["region"] = region
                    else:
                        entry["destination"] = "(decided at apply time)"
                        entry["error"] = {"reason": DECIDED_AT_APPLY, "message": f"the destination bucket of {res.address} rule {i + 1} is decided at apply time"}
                    entry["account"] = known(res, "rule", i, "destination", 0, "account") if isinstance(known(res, "rule", i, "destination", 0, "account"), str) else None
                    rules.append(entry)
            return {"configured": bool(configs), "rules": rules}

        built.value = self.per_bucket(("aws_s3_bucket_replication_configuration",), read, built)
        return built

    def s3_retention_config(self) -> Built:
        built = Built()
        if not self.declared:
            built.not_applicable = "no backup_buckets or bookkeeping_buckets are declared (the inventory's aws: entry, --inventory) for this plan"
            return built
        named = {known(b, "bucket"): b for b in self.of("aws_s3_bucket") if isinstance(known(b, "bucket"), str)}
        chosen = {name: b for name, b in named.items() if name in self.declared}
        missing = sorted(set(self.declared) - set(chosen))
        if missing:
            built.notes.append(f"declared bucket(s) not in this plan, not judged: {', '.join(missing)}")
        if not chosen:
            built.not_applicable = f"none of the declared buckets ({', '.join(sorted(self.declared))}) is created or changed by this plan"
            return built
        purposes = {bucket.address: self.declared[name] for name, bucket in chosen.items()}

        def read(bucket: Resource, configs: list[Resource]) -> dict[str, Any]:
            versioning = None
            lifecycle: list[dict[str, Any]] = []
            lock = None
            for res in configs:
                if res.type == "aws_s3_bucket_versioning":
                    status = need(known(res, "versioning_configuration", 0, "status"))
                    versioning = None if status == "Disabled" else status
                elif res.type == "aws_s3_bucket_lifecycle_configuration":
                    lifecycle += [_lifecycle_rule(res, i) for i, _ in enumerate(need(blocks(res, "rule")))]
                elif res.type == "aws_s3_bucket_object_lock_configuration":
                    lock = _object_lock(res, bucket)
            return {"purpose": purposes[bucket.address], "versioning": versioning, "lifecycle": lifecycle,
                    "lifecycle_configured": any(r.type == "aws_s3_bucket_lifecycle_configuration" for r in configs), "object_lock": lock}

        types = ("aws_s3_bucket_versioning", "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_object_lock_configuration")
        everything = self.per_bucket(types, read, built)
        labels = {self.label(b): b.address for b in chosen.values()}
        value = {"buckets": {k: v for k, v in everything["buckets"].items() if k in labels},
                 "failed": {k: v for k, v in everything["failed"].items() if k in labels or k not in {self.label(b) for b in self.of("aws_s3_bucket")}},
                 "declared": {label: purposes[address] for label, address in labels.items()}}
        built.value = value
        return built

    # -- regional resources ----------------------------------------------------------------

    def regional(self, types: tuple[str, ...], read: Callable[[Resource], dict[str, Any] | list[dict[str, Any]]], built: Built) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        failed: dict[str, dict[str, str]] = {}
        for res in self.of(*types):
            built.used.append(res)
            try:
                region = need(self.region_of[res.address])
                got = read(res)
            except Undecided as exc:
                failed[res.address] = {"reason": DECIDED_AT_APPLY, "message": exc.why}
                continue
            for item in got if isinstance(got, list) else [got]:
                items.append({"region": region, **item})
        return {"regions": self.regions, "not_audited": {}, "failed": failed, "items": items}

    def ec2_instances(self) -> Built:
        built = Built()
        built.value = self.regional(("aws_instance",), lambda r: {"id": r.address, "state": "planned", "zone": _str(known(r, "availability_zone")), "name": _tag_name(r)}, built)
        return built

    def ec2_volumes(self) -> Built:
        built = Built()

        def read(res: Resource) -> list[dict[str, Any]]:
            if res.type == "aws_ebs_volume":
                return [{"id": res.address, "encrypted": bool(need(known(res, "encrypted"), "the account's EBS encryption by default decides")),
                         "kms_key": _str(known(res, "kms_key_id")), "state": "planned", "attached_to": [], "name": _tag_name(res)}]
            out = []
            for part in ("root_block_device", "ebs_block_device"):
                for i, _ in enumerate(need(blocks(res, part))):
                    out.append({"id": f"{res.address}.{part}[{i}]", "encrypted": bool(need(known(res, part, i, "encrypted"), "the account's EBS encryption by default decides")),
                                "kms_key": _str(known(res, part, i, "kms_key_id")), "state": "planned", "attached_to": [res.address], "name": None})
            return out

        built.value = self.regional(("aws_ebs_volume", "aws_instance"), read, built)
        return built

    def ec2_snapshots(self) -> Built:
        built = Built()
        built.value = self.regional(("aws_ebs_snapshot", "aws_ebs_snapshot_copy"), lambda r: {
            "id": r.address, "volume": _str(known(r, "volume_id")) or _str(known(r, "source_snapshot_id")), "encrypted": known(r, "encrypted") is True,
            "description": _str(known(r, "description")) or "", "name": _tag_name(r)}, built)
        return built

    def rds_instances(self) -> Built:
        built = Built()

        def read(res: Resource) -> dict[str, Any]:
            return {"id": res.address, "arn": None, "engine": _str(known(res, "engine")),
                    "public": bool(need(known(res, "publicly_accessible"))), "encrypted": bool(need(known(res, "storage_encrypted"))),
                    "backup_replications": [], "read_replica_of": _str(known(res, "replicate_source_db")), "name": _str(known(res, "identifier"))}

        built.value = self.regional(("aws_db_instance",), read, built)
        return built

    def rds_snapshots(self) -> Built:
        built = Built()
        built.value = self.regional(("aws_db_snapshot", "aws_db_snapshot_copy"), lambda r: {
            "id": r.address, "instance": _str(known(r, "db_instance_identifier")), "type": "manual",
            "source_region": arn_region(_str(known(r, "source_db_snapshot_identifier")) or ""), "encrypted": known(r, "encrypted") is True,
            "name": _str(known(r, "db_snapshot_identifier")) or _str(known(r, "target_db_snapshot_identifier"))}, built)
        return built

    def rds_automated_backups(self) -> Built:
        built = Built()

        def read(res: Resource) -> dict[str, Any]:
            source = known(res, "source_db_instance_arn")
            linked = self.plan.referenced(res, "aws_db_instance", "source_db_instance_arn")
            source_region = arn_region(source) if isinstance(source, str) else (self.region_of[linked[0].address] if linked else None)
            return {"id": res.address, "instance": linked[0].address if linked else _str(source) or "(decided at apply time)",
                    "source_region": source_region if isinstance(source_region, str) else None, "status": "planned", "encrypted": None}

        built.value = self.regional(("aws_db_instance_automated_backups_replication",), read, built)
        return built

    def backup_vaults(self) -> Built:
        built = Built()
        built.value = self.regional(("aws_backup_vault",), lambda r: {"name": self.label(r, "name"), "arn": None, "recovery_points": None, "locked": None}, built)
        return built

    def backup_plans(self) -> Built:
        built = Built()

        def read(res: Resource) -> dict[str, Any]:
            rules = []
            for i, _ in enumerate(need(blocks(res, "rule"))):
                copies = []
                for j, _c in enumerate(need(blocks(res, "rule", i, "copy_action"))):
                    arn = known(res, "rule", i, "copy_action", j, "destination_vault_arn")
                    if isinstance(arn, str):
                        destination, region = arn, arn_region(arn)
                    else:
                        vaults = self.plan.referenced(res, "aws_backup_vault", "rule", i, "copy_action", j, "destination_vault_arn")
                        if len(vaults) != 1:
                            raise Undecided(f"{res.address}: the destination vault of rule {i + 1} copy {j + 1} is decided at apply time and no configuration reference names a vault of this plan")
                        destination = f"{self.label(vaults[0], 'name')}"
                        region = need(self.region_of[vaults[0].address])
                    copies.append({"destination": destination, "region": region, "delete_after_days": _days(res, "rule", i, "copy_action", j, "lifecycle")})
                rules.append({"name": need(known(res, "rule", i, "rule_name")), "vault": _str(known(res, "rule", i, "target_vault_name")),
                              "delete_after_days": _days(res, "rule", i, "lifecycle"), "copies": copies})
            return {"id": res.address, "name": self.label(res, "name"), "rules": rules}

        built.value = self.regional(("aws_backup_plan",), read, built)
        return built

    def security_groups(self) -> Built:
        built = Built()
        groups = {g.address: g for g in self.of("aws_security_group")}
        extra: dict[str, list[dict[str, Any]]] = {a: [] for a in groups}
        loose: list[Resource] = []
        undecided: dict[str, str] = {}
        for rule in self.of("aws_security_group_rule", "aws_vpc_security_group_ingress_rule"):
            built.used.append(rule)
            if rule.type == "aws_security_group_rule" and known(rule, "type") != "ingress":
                continue
            try:
                perm = _rule_permission(rule)
            except Undecided as exc:
                undecided[rule.address] = exc.why
                continue
            owner = self.plan.referenced(rule, "aws_security_group", "security_group_id")
            if len(owner) == 1:
                extra[owner[0].address].append(perm)
            else:
                loose.append(rule)

        def read(res: Resource) -> dict[str, Any]:
            if res.type != "aws_security_group":
                return {"id": res.address, "group_name": _str(known(res, "security_group_id")), "name": None, "vpc": None, "ingress": [_rule_permission(res)]}
            ingress = [_block_permission(res, i) for i, _ in enumerate(need(blocks(res, "ingress")))]
            return {"id": res.address, "group_name": _str(known(res, "name")), "name": _tag_name(res), "vpc": _str(known(res, "vpc_id")), "ingress": ingress + extra[res.address]}

        value = self.regional(("aws_security_group",), read, built)
        for rule in loose:
            try:
                value["items"].append({"region": need(self.region_of[rule.address]), **read(rule)})
            except Undecided as exc:
                undecided[rule.address] = exc.why
        for address, why in undecided.items():
            value["failed"][address] = {"reason": DECIDED_AT_APPLY, "message": why}
        built.value = value
        return built


class Undecided(Exception):
    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def need(value: Any, hint: str = "") -> Any:
    """The value, or :class:`Undecided` when the plan leaves it to apply time."""
    if isinstance(value, Unknown):
        raise Undecided(value.why + (f" ({hint})" if hint else ""))
    return value


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tag_name(res: Resource) -> str | None:
    tags = known(res, "tags")
    return _str(tags.get("Name")) if isinstance(tags, Mapping) else None


def _canned(acl: str) -> list[dict[str, Any]]:
    return [{"type": "Group", "uri": GROUP_URI + group, "id": None, "permission": perm} for group, perm in CANNED_ACLS.get(acl, [])]


def _days(res: Resource, *path: Any) -> int | None:
    lifecycle = need(blocks(res, *path))
    if not lifecycle:
        return None
    days = need(known(res, *path, 0, "delete_after"))
    return int(days) if isinstance(days, (int, float)) and days else None


def _lifecycle_rule(res: Resource, i: int) -> dict[str, Any]:
    def get(*path: Any) -> Any:
        return need(known(res, "rule", i, *path))

    scope_parts: list[str] = []
    prefix = get("prefix")
    if prefix:
        scope_parts.append(f"prefix {prefix!r}")
    for f, _ in enumerate(need(blocks(res, "rule", i, "filter"))):
        if get("filter", f, "prefix"):
            scope_parts.append(f"prefix {get('filter', f, 'prefix')!r}")
        for t, tag in enumerate(need(blocks(res, "rule", i, "filter", f, "tag"))):
            scope_parts.append(f"tag {get('filter', f, 'tag', t, 'key')}={get('filter', f, 'tag', t, 'value')}")
        for key in ("object_size_greater_than", "object_size_less_than"):
            if get("filter", f, key):
                scope_parts.append(f"{key} {get('filter', f, key)}")
        for a, _and in enumerate(need(blocks(res, "rule", i, "filter", f, "and"))):
            if get("filter", f, "and", a, "prefix"):
                scope_parts.append(f"prefix {get('filter', f, 'and', a, 'prefix')!r}")
            tags = get("filter", f, "and", a, "tags") or {}
            scope_parts += [f"tag {k}={v}" for k, v in sorted(tags.items())]
            for key in ("object_size_greater_than", "object_size_less_than"):
                if get("filter", f, "and", a, key):
                    scope_parts.append(f"{key} {get('filter', f, 'and', a, key)}")
    expiration = need(blocks(res, "rule", i, "expiration"))
    noncurrent = need(blocks(res, "rule", i, "noncurrent_version_expiration"))
    return {
        "id": get("id") or f"rule {i + 1} of {res.address}",
        "enabled": get("status") == "Enabled",
        "scope": ", ".join(scope_parts) or None,
        "expiration_days": (get("expiration", 0, "days") or None) if expiration else None,
        "expiration_date": (get("expiration", 0, "date") or None) if expiration else None,
        "noncurrent_days": (get("noncurrent_version_expiration", 0, "noncurrent_days") or None) if noncurrent else None,
        "newer_noncurrent_versions": (get("noncurrent_version_expiration", 0, "newer_noncurrent_versions") or None) if noncurrent else None,
    }


def _object_lock(res: Resource, bucket: Resource) -> dict[str, Any] | None:
    rules = need(blocks(res, "rule"))
    if not rules:
        return {"enabled": True, "mode": None, "days": None, "years": None, "retention_days": None}
    days = need(known(res, "rule", 0, "default_retention", 0, "days")) or 0
    years = need(known(res, "rule", 0, "default_retention", 0, "years")) or 0
    total = days or (int(-(-years * 365.25 // 1)) if years else 0)
    return {"enabled": True, "mode": need(known(res, "rule", 0, "default_retention", 0, "mode")), "days": days or None, "years": years or None, "retention_days": total or None}


def _block_permission(res: Resource, i: int) -> dict[str, Any]:
    def get(key: str) -> Any:
        return need(known(res, "ingress", i, key))

    return {"protocol": str(get("protocol")), "from": get("from_port"), "to": get("to_port"),
            "cidrs": [*(get("cidr_blocks") or []), *(get("ipv6_cidr_blocks") or [])],
            "prefix_lists": list(get("prefix_list_ids") or []), "groups": list(known(res, "ingress", i, "security_groups") or []) if not isinstance(known(res, "ingress", i, "security_groups"), Unknown) else []}


def _rule_permission(res: Resource) -> dict[str, Any]:
    def get(key: str) -> Any:
        return need(known(res, key))

    if res.type == "aws_vpc_security_group_ingress_rule":
        cidrs = [c for c in (get("cidr_ipv4"), get("cidr_ipv6")) if c]
        protocol = str(get("ip_protocol"))
        return {"protocol": protocol, "from": get("from_port"), "to": get("to_port"), "cidrs": cidrs, "prefix_lists": [c for c in [_str(known(res, "prefix_list_id"))] if c], "groups": []}
    return {"protocol": str(get("protocol")), "from": get("from_port"), "to": get("to_port"),
            "cidrs": [*(get("cidr_blocks") or []), *(get("ipv6_cidr_blocks") or [])], "prefix_lists": list(get("prefix_list_ids") or []), "groups": []}


# fact name -> how it is built; facts a plan cannot hold are not applicable
BUILDERS: dict[str, Callable[[Facts], Built]] = {
    "s3.bucket_regions": Facts.s3_bucket_regions,
    "s3.replication": Facts.s3_replication,
    "s3.public_access_block": Facts.s3_public_access_block,
    "s3.account_public_access_block": Facts.s3_account_public_access_block,
    "s3.bucket_acls": Facts.s3_bucket_acls,
    "s3.bucket_policies": Facts.s3_bucket_policies,
    "s3.bucket_encryption": Facts.s3_bucket_encryption,
    "s3.retention_config": Facts.s3_retention_config,
    "ec2.instances": Facts.ec2_instances,
    "ec2.volumes": Facts.ec2_volumes,
    "ec2.snapshots": Facts.ec2_snapshots,
    "rds.instances": Facts.rds_instances,
    "rds.snapshots": Facts.rds_snapshots,
    "rds.automated_backups": Facts.rds_automated_backups,
    "aws_backup.vaults": Facts.backup_vaults,
    "aws_backup.plans": Facts.backup_plans,
    "ec2.security_groups": Facts.security_groups,
}
NOT_IN_A_PLAN = {
    "s3.object_versions": "the objects a bucket holds are not in a plan; `auditor run` on the live account checks their age",
}


def build(facts: Facts, name: str) -> Built:
    if name in NOT_IN_A_PLAN:
        return Built(not_applicable=NOT_IN_A_PLAN[name])
    builder = BUILDERS.get(name)
    if builder is None:
        return Built(not_applicable=f"fact {name} cannot be built from a Terraform plan")
    try:
        return builder(facts)
    except Undecided as exc:
        return Built(error=exc.why)
