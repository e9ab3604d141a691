"""Access in AWS: no public buckets, no admin or database port open to the internet, no public database, encryption at rest.

* **S3 Public Access Block**: a bucket is protected when each of the four
  settings is on at account level (``s3control:GetPublicAccessBlock``) or on
  the bucket (``s3:GetPublicAccessBlock``): S3 applies the more restrictive.
* **Bucket ACLs**: no grant to the AllUsers or AuthenticatedUsers groups
  (the latter is *any* AWS account, not "our users").
* **Bucket policies**: no ``Allow`` to ``Principal: "*"`` (or ``NotPrincipal``)
  unless a condition pins the caller down: a source IP range other than
  0.0.0.0/0, a VPC or VPC endpoint, an organisation, account, ARN or user id
  (``aws:SourceIp``, ``aws:SourceVpc(e)``, ``aws:PrincipalOrgID``,
  ``aws:PrincipalAccount``, ``aws:SourceAccount``, ``aws:SourceArn``...),
  with a non-negated operator and without ``IfExists``.
* **Security groups**: no inbound rule from 0.0.0.0/0 or ::/0 reaching an
  administration port (``admin_ingress_ports``: SSH, RDP) or a database or
  admin-interface port (``restricted_ports``, the same list the server
  control ACCESS-EXPOSED-SERVICE-PORTS uses). Every security group is judged,
  attached or not: an unused open group is one attachment away from exposure.
* **RDS**: no instance ``PubliclyAccessible``.
* **Encryption at rest**: default encryption on every bucket, ``Encrypted`` on
  every EBS volume, ``StorageEncrypted`` on every RDS instance.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from auditor.collect import Context
from auditor.model import Target
from auditor.registry import Outcome, Text, collector, control, parameter, sv

from checks.aws_location import Judged, _name_tag, conclude, named, no_regions

PAB_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "everyone (AllUsers)",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "any AWS account (AuthenticatedUsers)",
}
PUBLIC_GROUPS_SV = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "alla (AllUsers)",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "vilket AWS-konto som helst (AuthenticatedUsers)",
}
BUCKETS = sv("buckets", "buckets")
DATABASES = sv("databases", "databaser")
RESTRICTING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceIp", "aws:VpcSourceIp", "aws:SourceVpc", "aws:SourceVpce", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount", "aws:PrincipalArn", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOwner", "aws:SourceOrgID",
    "aws:SourceOrgPaths", "aws:userid", "aws:username", "s3:DataAccessPointAccount", "s3:DataAccessPointArn",
))
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
ALL_TRAFFIC = "all traffic"

ADMIN_INGRESS_PORTS = parameter(
    "admin_ingress_ports", list, [22, 3389],
    "Administration ports (SSH, RDP) that no cloud firewall rule (AWS security group) may open to the whole internet; "
    "database and admin-interface ports come from restricted_ports.",
)

_AWS: dict[str, Any] = dict(kinds=("aws",), transport="aws")


# -- collectors -------------------------------------------------------------------------

@collector("s3.account_public_access_block", **_AWS, timeout=60)
def s3_account_public_access_block(ctx: Context) -> dict[str, Any]:
    """``s3control:GetPublicAccessBlock`` for the account (its id from ``sts:GetCallerIdentity``)."""
    conn = ctx.conn
    account = conn.account_id(ctx)
    answer = conn.call(ctx, "s3control", "GetPublicAccessBlock", absent=("NoSuchPublicAccessBlockConfiguration",), AccountId=account)
    config = (answer or {}).get("PublicAccessBlockConfiguration")
    return {"account": account, "configured": config is not None, "settings": {k: bool((config or {}).get(k)) for k in PAB_SETTINGS}}


def _per_bucket(ctx: Context, operation: str, absent: tuple[str, ...], shape: Any) -> dict[str, Any]:
    conn = ctx.conn

    def read(bucket: str) -> Any:
        return shape(conn.call(ctx, "s3", operation, conn.bucket_client_region(bucket), absent=absent, Bucket=bucket))

    return conn.each_bucket(ctx, conn.buckets(ctx), read)


@collector("s3.public_access_block", **_AWS, timeout=120)
def s3_public_access_block(ctx: Context) -> dict[str, Any]:
    """``s3:GetPublicAccessBlock`` of each bucket."""

    def shape(answer: Mapping[str, Any] | None) -> dict[str, Any]:
        config = (answer or {}).get("PublicAccessBlockConfiguration")
        return {"configured": config is not None, "settings": {k: bool((config or {}).get(k)) for k in PAB_SETTINGS}}

    return _per_bucket(ctx, "GetPublicAccessBlock", ("NoSuchPublicAccessBlockConfiguration",), shape)


@collector("s3.bucket_acls", **_AWS, timeout=120)
def s3_bucket_acls(ctx: Context) -> dict[str, Any]:
    """``s3:GetBucketAcl`` of each bucket."""

    def shape(answer: Mapping[str, Any]) -> dict[str, Any]:
        return {"grants": [{"type": g.get("Grantee", {}).get("Type"), "uri": g.get("Grantee", {}).get("URI"), "id": g.get("Grantee", {}).get("ID"),
                            "permission": g.get("Permission")} for g in answer.get("Grants", [])]}

    return _per_bucket(ctx, "GetBucketAcl", (), shape)


@collector("s3.bucket_policies", **_AWS, timeout=120)
def s3_bucket_policies(ctx: Context) -> dict[str, Any]:
    """``s3:GetBucketPolicy`` of each bucket."""
    return _per_bucket(ctx, "GetBucketPolicy", ("NoSuchBucketPolicy",), lambda a: {"policy": None if a is None else a.get("Policy")})


@collector("s3.bucket_encryption", **_AWS, timeout=120)
def s3_bucket_encryption(ctx: Context) -> dict[str, Any]:
    """``s3:GetBucketEncryption`` of each bucket."""

    def shape(answer: Mapping[str, Any] | None) -> dict[str, Any]:
        rules = ((answer or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules", [])
        algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
        return {"configured": answer is not None, "algorithms": [a for a in algorithms if a]}

    return _per_bucket(ctx, "GetBucketEncryption", ("ServerSideEncryptionConfigurationNotFoundError",), shape)


@collector("ec2.security_groups", **_AWS, timeout=180)
def ec2_security_groups(ctx: Context) -> dict[str, Any]:
    """``ec2:DescribeSecurityGroups`` in every audited region."""
    conn = ctx.conn

    def read(region: str) -> list[dict[str, Any]]:
        answer, _ = conn.paginate(ctx, "ec2", "DescribeSecurityGroups", region)
        return [{"id": g["GroupId"], "group_name": g.get("GroupName"), "name": _name_tag(g), "vpc": g.get("VpcId"), "ingress": [_permission(p) for p in g.get("IpPermissions", [])]}
                for g in answer.get("SecurityGroups", [])]

    return conn.each_region(ctx, read)


def _permission(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "protocol": str(p.get("IpProtocol")),
        "from": p.get("FromPort"),
        "to": p.get("ToPort"),
        "cidrs": [r.get("CidrIp") for r in p.get("IpRanges", [])] + [r.get("CidrIpv6") for r in p.get("Ipv6Ranges", [])],
        "prefix_lists": [r.get("PrefixListId") for r in p.get("PrefixListIds", [])],
        "groups": [r.get("GroupId") for r in p.get("UserIdGroupPairs", [])],
    }


# -- evaluation helpers ---------------------------------------------------------------------

def open_ports(permission: Mapping[str, Any], watched: Iterable[int]) -> list[int]:
    """Watched ports a rule opens to the whole internet.

    >>> open_ports({"protocol": "-1", "from": None, "to": None, "cidrs": ["0.0.0.0/0"]}, [22, 5432])
    [22, 5432]
    >>> open_ports({"protocol": "tcp", "from": 20, "to": 30, "cidrs": ["10.0.0.0/8"]}, [22])
    []
    """
    if not any(c in OPEN_CIDRS for c in permission["cidrs"]):
        return []
    protocol = permission["protocol"].lower()
    if protocol in ("-1", "all"):
        return sorted(set(watched))
    if protocol not in ("tcp", "udp", "6", "17"):
        return []
    low, high = permission["from"], permission["to"]
    if low is None or high is None or low == -1:
        return sorted(set(watched))
    return sorted({p for p in watched if low <= p <= high})


def public_statements(policy_text: str) -> list[str]:
    """Sids (or positions) of Allow statements open to anyone, with no condition restricting the caller.

    >>> public_statements('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}')
    ['statement 1']
    >>> public_statements('{"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}}')
    []
    """
    doc = json.loads(policy_text)
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    found = []
    for i, st in enumerate(statements, 1):
        if st.get("Effect") != "Allow":
            continue
        if not (_anyone(st.get("Principal")) or "NotPrincipal" in st):
            continue
        if _restricted(st.get("Condition") or {}):
            continue
        found.append(st.get("Sid") or f"statement {i}")
    return found


def _anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        values = principal.get("AWS", [])
        values = [values] if isinstance(values, str) else values
        return "*" in values
    return False


def _restricted(condition: Mapping[str, Any]) -> bool:
    for operator, tests in condition.items():
        op = operator.lower()
        if "not" in op or op.endswith("ifexists") or op.startswith("forallvalues:") or not isinstance(tests, Mapping):
            continue
        for key, values in tests.items():
            values = [values] if isinstance(values, (str, int, bool)) else list(values or [])
            if key.lower() in RESTRICTING_KEYS and values and not any(str(v) in ("*", *OPEN_CIDRS) for v in values):
                return True
    return False


def _attached(volume: Mapping[str, Any]) -> Text:
    ids = [i for i in volume.get("attached_to") or [] if i]
    return sv(f" (attached to {', '.join(ids)})", f" (ansluten till {', '.join(ids)})") if ids else sv("", "")


def _port_order(port: str) -> tuple[int, str]:
    return (int(port), "") if port.isdigit() else (-1, port)


# -- controls -----------------------------------------------------------------------------

_ACCESS: dict[str, Any] = dict(family="access", kinds=("aws",))
_S3_REFS = ("GDPR Art. 32(1)(b)", "GDPR Art. 5(1)(f)", "CIS AWS Foundations 2.1.4")


@control(
    "ACCESS-AWS-S3-PUBLIC-ACCESS-BLOCK", **_ACCESS, severity="high", facts=("s3.account_public_access_block", "s3.public_access_block"),
    references=_S3_REFS,
    title="S3 Block Public Access is on for every bucket (account or bucket level)",
    title_sv="S3 Block Public Access är påslaget för alla buckets (på konto- eller bucketnivå)",
    rationale_sv="Block Public Access får S3 att vägra och bortse från publika ACL:er och policyer, så att en enda slarvig behörighet inte kan publicera personuppgifter; alla fyra inställningarna måste gälla, på kontonivå eller på bucketen.",
    remediation="Turn on all four S3 Block Public Access settings at account level (or on each bucket).",
    remediation_sv="Slå på alla fyra inställningarna för S3 Block Public Access på kontonivå (eller på varje bucket).",
    plain="{n} AWS account(s) have S3 buckets without Block Public Access",
    plain_sv="{n} AWS-konto(n) har S3-buckets utan Block Public Access",
    rationale="Block Public Access makes S3 refuse and ignore public ACLs and policies, so one careless grant cannot publish personal data; "
    "all four settings must be in force, at account level or on the bucket.",
)
def s3_public_access_block_on(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    account = facts["s3.account_public_access_block"]["settings"]
    j = Judged()
    for bucket, found in j.per_bucket(facts["s3.public_access_block"], sv("Block Public Access", "Block Public Access")).items():
        missing = [k for k in PAB_SETTINGS if not (account[k] or found["settings"][k])]
        off = "avslagen" if len(missing) == 1 else "avslagna"
        j.verdict(bucket, not missing, sv(f"{bucket}: {', '.join(missing)} off (account and bucket)", f"{bucket}: {', '.join(missing)} {off} (både på kontot och på bucketen)"))
    on = [k for k in PAB_SETTINGS if account[k]]
    j.notes.append(f"account level: {', '.join(on) if on else 'nothing'} on")
    return conclude(j, BUCKETS, sv("are not fully covered by Block Public Access", "omfattas inte helt av Block Public Access"),
                    sv("are covered by Block Public Access", "omfattas av Block Public Access"))


@control(
    "ACCESS-AWS-S3-PUBLIC-ACL", **_ACCESS, severity="high", facts=("s3.bucket_acls",), references=_S3_REFS,
    title="No S3 bucket ACL grants access to everyone or to any AWS account",
    title_sv="Ingen S3-bucket ger alla, eller vilket AWS-konto som helst, åtkomst genom sin ACL",
    rationale_sv="En ACL-behörighet för AllUsers publicerar bucketen; en för AuthenticatedUsers öppnar den för alla AWS-kunder. Ingen av dem är 'starkt begränsad' åtkomst.",
    remediation="Remove the AllUsers and AuthenticatedUsers grants from the bucket ACLs, or set Object Ownership to 'bucket owner enforced' so that ACLs are ignored.",
    remediation_sv="Ta bort behörigheterna för AllUsers och AuthenticatedUsers ur bucketarnas ACL:er, eller sätt Object Ownership till 'bucket owner enforced' så att ACL:er inte används.",
    plain="{n} AWS account(s) have S3 buckets whose ACL lets everyone in",
    plain_sv="{n} AWS-konto(n) har S3-buckets vars ACL släpper in vem som helst",
    rationale="An ACL grant to AllUsers publishes the bucket; one to AuthenticatedUsers opens it to every AWS customer. Neither is 'strongly restricted' access.",
)
def s3_public_acl(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    j = Judged()
    for bucket, found in j.per_bucket(facts["s3.bucket_acls"], sv("the ACL", "ACL:en")).items():
        grants = [g for g in found["grants"] if g.get("uri") in PUBLIC_GROUPS]
        public = [f"{g['permission']} to {PUBLIC_GROUPS[g['uri']]}" for g in grants]
        public_sv = [f"{g['permission']} till {PUBLIC_GROUPS_SV[g['uri']]}" for g in grants]
        j.verdict(bucket, not public, sv(f"{bucket} grants {', '.join(public)}", f"{bucket} ger {', '.join(public_sv)}"))
    return conclude(j, BUCKETS, sv("grant access to everyone or any AWS account", "ger alla, eller vilket AWS-konto som helst, åtkomst"),
                    sv("grant access to named accounts only", "ger bara namngivna konton åtkomst"))


@control(
    "ACCESS-AWS-S3-PUBLIC-POLICY", **_ACCESS, severity="high", facts=("s3.bucket_policies",), references=_S3_REFS,
    title="No S3 bucket policy allows anyone in without a restricting condition",
    title_sv="Ingen S3-bucketpolicy släpper in vem som helst utan ett begränsande villkor",
    rationale_sv="En sats i en bucketpolicy som tillåter Principal \"*\" utan villkor om nätverk, organisation eller konto låter vem som helst på internet utföra dess åtgärder på bucketen.",
    remediation="Restrict every bucket policy statement with Principal \"*\" by a condition on source network, organisation or account, or name the principals instead.",
    remediation_sv="Begränsa varje sats med Principal \"*\" i bucketpolicyerna med ett villkor om nätverk, organisation eller konto, eller ange de behöriga uttryckligen.",
    plain="{n} AWS account(s) have S3 bucket policies that let anyone in",
    plain_sv="{n} AWS-konto(n) har S3-bucketpolicyer som släpper in vem som helst",
    rationale="A bucket policy statement allowing Principal \"*\" with no condition on source network, organisation or account lets anyone on the internet "
    "perform its actions on the bucket.",
)
def s3_public_policy(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    j = Judged()
    for bucket, found in j.per_bucket(facts["s3.bucket_policies"], sv("the bucket policy", "bucketpolicyn")).items():
        if found["policy"] is None:
            j.ok(bucket)
            continue
        try:
            public = public_statements(found["policy"])
        except (ValueError, AttributeError, TypeError) as exc:
            j.unreadable(sv(f"the policy of bucket {bucket}", f"policyn för bucket {bucket}"), "parse_error",
                         sv(f"the policy of bucket {bucket} could not be parsed: {exc}", f"policyn för bucket {bucket} kunde inte tolkas: {exc}"))
            continue
        j.verdict(bucket, not public, sv(f"{bucket} allows anyone ({', '.join(public)})", f"{bucket} släpper in vem som helst ({', '.join(public)})"))
    return conclude(j, BUCKETS, sv("have a policy open to anyone", "har en bucketpolicy som släpper in vem som helst"),
                    sv("have no policy open to anyone", "har ingen bucketpolicy som släpper in vem som helst"))


@control(
    "ACCESS-AWS-SG-OPEN-ADMIN-PORTS", **_ACCESS, severity="high", facts=("ec2.security_groups",), params=("admin_ingress_ports", "restricted_ports"),
    references=("GDPR Art. 32(1)(b)", "CIS AWS Foundations 5.2", "CIS AWS Foundations 5.3"),
    title="No security group opens SSH, RDP, database or admin ports to the whole internet",
    title_sv="Ingen säkerhetsgrupp öppnar SSH, RDP, databas- eller administrationsportar mot hela internet",
    rationale_sv="En regel i en säkerhetsgrupp från 0.0.0.0/0 eller ::/0 på en administrations- eller databasport exponerar den för varje skanner på internet; åtkomsten måste komma från kända nätverk.",
    remediation="Limit the security group rules for SSH, RDP, database and admin ports to known networks (a VPN, a bastion or office addresses).",
    remediation_sv="Begränsa säkerhetsgruppernas regler för SSH-, RDP-, databas- och administrationsportar till kända nätverk (VPN, bastionvärd eller kontorets adresser).",
    plain="{n} AWS account(s) open SSH, RDP, database or admin ports to the whole internet",
    plain_sv="{n} AWS-konto(n) öppnar SSH-, RDP-, databas- eller administrationsportar mot hela internet",
    rationale="A security group rule from 0.0.0.0/0 or ::/0 on an administration or database port exposes it to every scanner on the internet; "
    "access must come from known networks only.",
)
def security_group_admin_ports(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    if (none := no_regions(facts["ec2.security_groups"])) is not None:
        return none
    watched = sorted({int(p) for p in [*params["admin_ingress_ports"], *params["restricted_ports"]]})
    j = Judged()
    for group in j.regional(facts["ec2.security_groups"], "ec2:DescribeSecurityGroups"):
        exposed: dict[str, set[str]] = {}
        for perm in group["ingress"]:
            ports = open_ports(perm, watched)
            if ports:
                shown_ports = {ALL_TRAFFIC} if perm["protocol"] in ("-1", "all") else {str(p) for p in ports}
                for cidr in perm["cidrs"]:
                    if cidr in OPEN_CIDRS:
                        exposed.setdefault(cidr, set()).update(shown_ports)
        shown = "; ".join(f"{', '.join(sorted(ports, key=_port_order))} to {cidr}" for cidr, ports in sorted(exposed.items()))
        shown_sv = "; ".join(f"{', '.join(sorted(ports, key=_port_order)).replace(ALL_TRAFFIC, 'all trafik')} för {cidr}" for cidr, ports in sorted(exposed.items()))
        j.verdict(f"sg:{group['region']}/{group['id']}", not exposed,
                  sv(f"{named(group)} in {group['region']} opens {shown}", f"{named(group)} i {group['region']} öppnar {shown_sv}"))
    return conclude(j, sv("security groups", "säkerhetsgrupper"), sv("open administration or database ports to the internet", "öppnar administrations- eller databasportar mot internet"),
                    sv("keep administration and database ports closed to the internet", "håller administrations- och databasportar stängda mot internet"))


@control(
    "ACCESS-AWS-RDS-PUBLIC", **_ACCESS, severity="high", facts=("rds.instances",),
    references=("GDPR Art. 32(1)(b)", "CIS AWS Foundations 2.3.3"),
    title="No RDS database is publicly accessible",
    title_sv="Ingen RDS-databas är åtkomlig från internet",
    rationale_sv="PubliclyAccessible ger databasen en publik adress; tillsammans med en öppen säkerhetsgrupp kan den nås från internet, raka motsatsen till 'inga databaser öppna mot internet'.",
    remediation="Turn off PubliclyAccessible on the RDS databases and reach them from inside the VPC.",
    remediation_sv="Stäng av PubliclyAccessible på RDS-databaserna och nå dem inifrån VPC:n.",
    plain="{n} AWS account(s) have publicly accessible RDS databases",
    plain_sv="{n} AWS-konto(n) har RDS-databaser som är åtkomliga från internet",
    rationale="PubliclyAccessible gives a database a public address; together with an open security group it is reachable from the internet, "
    "the opposite of 'no databases open to the internet'.",
)
def rds_not_public(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    if (none := no_regions(facts["rds.instances"])) is not None:
        return none
    j = Judged()
    for db in j.regional(facts["rds.instances"], "rds:DescribeDBInstances"):
        j.verdict(f"db:{db['region']}/{db['id']}", not db["public"],
                  sv(f"{named(db)} ({db['engine']}) in {db['region']} is publicly accessible", f"{named(db)} ({db['engine']}) i {db['region']} är åtkomlig från internet"))
    return conclude(j, DATABASES, sv("are publicly accessible", "är åtkomliga från internet"), sv("are private", "saknar publik åtkomst"))


_ENCRYPTION_REFS = ("GDPR Art. 32(1)(a)", "GDPR Art. 34(3)(a)")


@control(
    "ACCESS-AWS-S3-ENCRYPTION", **_ACCESS, severity="medium", facts=("s3.bucket_encryption",),
    references=(*_ENCRYPTION_REFS, "CIS AWS Foundations 2.1.1"),
    title="Every S3 bucket encrypts objects at rest by default",
    title_sv="Alla S3-buckets krypterar lagrade objekt som standard",
    rationale_sv="Kryptering av lagrade data är en av de åtgärder som art. 32.1 a nämner; en bucket utan standardkryptering kan lagra personuppgifter okrypterat på AWS diskar.",
    remediation="Turn on default encryption (SSE-S3 or SSE-KMS) on every S3 bucket.",
    remediation_sv="Slå på standardkryptering (SSE-S3 eller SSE-KMS) på varje S3-bucket.",
    plain="{n} AWS account(s) have S3 buckets without default encryption",
    plain_sv="{n} AWS-konto(n) har S3-buckets utan standardkryptering",
    rationale="Encryption at rest is one of the measures Art. 32(1)(a) names; a bucket without default encryption may store personal data in clear on AWS's disks.",
)
def s3_encrypted(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    j = Judged()
    for bucket, found in j.per_bucket(facts["s3.bucket_encryption"], sv("the default encryption", "standardkrypteringen")).items():
        j.verdict(bucket, bool(found["algorithms"]), sv(f"{bucket} has no default encryption", f"{bucket} saknar standardkryptering"))
    return conclude(j, BUCKETS, sv("do not encrypt by default", "krypterar inte som standard"), sv("encrypt by default", "krypterar som standard"))


@control(
    "ACCESS-AWS-EBS-ENCRYPTION", **_ACCESS, severity="medium", facts=("ec2.volumes",),
    references=(*_ENCRYPTION_REFS, "CIS AWS Foundations 2.2.1"),
    title="Every EBS volume is encrypted",
    title_sv="Alla EBS-volymer är krypterade",
    rationale_sv="En volym lagrar allt som dess instans skriver, databaser och säkerhetskopior inräknade; okrypterad innehåller den, och dess ögonblicksbilder, personuppgifter i klartext.",
    remediation="Turn on EBS encryption by default, and replace each unencrypted volume with an encrypted copy of its snapshot.",
    remediation_sv="Slå på EBS-kryptering som standard och ersätt varje okrypterad volym med en krypterad kopia av dess ögonblicksbild.",
    plain="{n} AWS account(s) have unencrypted EBS volumes",
    plain_sv="{n} AWS-konto(n) har okrypterade EBS-volymer",
    rationale="A volume stores whatever its instance writes, databases and backups included; unencrypted, its snapshots and disks hold personal data in clear.",
)
def ebs_encrypted(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    if (none := no_regions(facts["ec2.volumes"])) is not None:
        return none
    j = Judged()
    for vol in j.regional(facts["ec2.volumes"], "ec2:DescribeVolumes"):
        attached = _attached(vol)
        j.verdict(f"volume:{vol['region']}/{vol['id']}", vol["encrypted"],
                  sv(f"volume {named(vol)} in {vol['region']} is not encrypted{attached.en}", f"volymen {named(vol)} i {vol['region']} är inte krypterad{attached.sv}"))
    return conclude(j, sv("volumes", "volymer"), sv("are not encrypted", "är inte krypterade"), sv("are encrypted", "är krypterade"))


@control(
    "ACCESS-AWS-RDS-ENCRYPTION", **_ACCESS, severity="medium", facts=("rds.instances",),
    references=(*_ENCRYPTION_REFS, "CIS AWS Foundations 2.3.1"),
    title="Every RDS database encrypts its storage",
    title_sv="Alla RDS-databaser krypterar sin lagring",
    rationale_sv="StorageEncrypted skyddar databasfilerna, de automatiska säkerhetskopiorna, läsrepliker och ögonblicksbilder; det kan bara väljas när databasen skapas.",
    remediation="Restore each unencrypted RDS database from an encrypted copy of its snapshot and retire the old one.",
    remediation_sv="Återställ varje okrypterad RDS-databas från en krypterad kopia av dess ögonblicksbild och avveckla den gamla.",
    plain="{n} AWS account(s) have RDS databases with unencrypted storage",
    plain_sv="{n} AWS-konto(n) har RDS-databaser med okrypterad lagring",
    rationale="StorageEncrypted protects the database files, its automated backups, read replicas and snapshots; it can only be chosen when the database is created.",
)
def rds_encrypted(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    if (none := no_regions(facts["rds.instances"])) is not None:
        return none
    j = Judged()
    for db in j.regional(facts["rds.instances"], "rds:DescribeDBInstances"):
        j.verdict(f"db:{db['region']}/{db['id']}", bool(db["encrypted"]),
                  sv(f"database {named(db)} in {db['region']} does not encrypt its storage", f"databasen {named(db)} i {db['region']} krypterar inte sin lagring"))
    return conclude(j, DATABASES, sv("do not encrypt their storage", "krypterar inte sin lagring"), sv("encrypt their storage", "krypterar sin lagring"))
