"""AWS accounts through boto3: read-only API calls, each one recorded as evidence.

One :class:`AWSConnection` per audited ``aws:`` account (and per ``backups:``
entry of type ``s3``, which is read through the account it names).

* **Credentials.** A boto3 session from the entry's ``profile`` (else the
  default chain: environment, shared files, instance role). With
  ``role_arn`` the session assumes that role (``external_id``, a secret
  reference, is revealed only now and never recorded); the role is assumed
  when the connection opens, so a role that cannot be assumed fails the
  connection, and again before its credentials expire.
* **Clients.** botocore ``Config(retries={"mode": "standard"})`` with
  connect/read timeouts; one client per (service, region), created once
  under a lock and shared by the collector threads. ``endpoint_url`` goes to
  every client (an S3-compatible service, a local emulator such as moto);
  with it, S3 uses path-style addressing and S3 Control requests go to the
  endpoint itself (without the account-id host prefix AWS uses).
* **Regions.** ``regions: all-enabled`` asks ``ec2:DescribeRegions``
  (``AllRegions``) and audits the regions whose ``OptInStatus`` is
  ``opt-in-not-required`` or ``opted-in``; the others are *not audited*, with
  the reason, never an error. An explicit list is checked against the same
  answer: a region the account has not enabled is not audited, a name that
  is no AWS region of the account's partition is an error naming it. A call
  refused in one region while the same call succeeded in another (an SCP
  or ``aws:RequestedRegion`` condition) makes that region *not audited*; a
  refusal nothing contradicts is a missing permission, an error. Regions
  are read in parallel (:meth:`AWSConnection.each_region`).
* **Evidence.** :meth:`AWSConnection.call` and :meth:`AWSConnection.paginate`
  record every call as ``api`` evidence: ``service:Operation``, region,
  request parameters (secret-looking ones removed), a bounded excerpt of the
  answer and the SHA-256 of the whole answer. Pagination is followed to the
  end (or to a stated bound, and then the answer says it was cut). How the
  session was obtained (the ``sts:AssumeRole`` call, without credentials or
  external id; or the credential source) heads the evidence of every fact.
* **Instrumentation.** botocore event handlers given as ``event_hooks`` (or
  set as ``transports.aws_event_hooks``) are registered on every client:
  the tests record every operation with them and inject faults.
* **Failures are reasons.** AccessDenied / UnauthorizedOperation →
  ``permission_denied`` naming the operation and the IAM action the audit
  role lacks; throttling that outlives the retries → an error saying so; an
  endpoint that cannot be reached → ``unreachable`` naming the region. An
  answer that says "there is none" (``NoSuchBucketPolicy``...) is an answer,
  recorded as such; a failed call is never turned into an empty list.

>>> iam_action("s3", "GetBucketLifecycleConfiguration")
's3:GetLifecycleConfiguration'
>>> iam_action("ec2", "DescribeInstances")
'ec2:DescribeInstances'
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import json
import re
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol, Sequence

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.credentials import RefreshableCredentials

from ..errors import CollectError
from ..evidence import EvidenceLog, observation
from ..model import Evidence, Reason, Target
from ..timeutil import utc_now_iso

if TYPE_CHECKING:
    from . import Transports

READ_TIMEOUT = 60.0
MAX_WORKERS = 8  # regions or buckets read at once by one collector
GLOBAL_REGION = "us-east-1"  # where global calls go when nothing else says
ROLE_SESSION_SECONDS = 3600
ENABLED_STATUSES = ("opt-in-not-required", "opted-in")

# IAM actions whose name is not "<service>:<Operation>" (service ids as botocore hyphenizes them).
IAM_ACTIONS: dict[tuple[str, str], str | None] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3-control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("sts", "GetCallerIdentity"): None,  # allowed to every principal; needs no permission
    ("sts", "AssumeRole"): None,  # a permission of the caller, not of the audit role
}
_IAM_PREFIX = {"s3-control": "s3"}

DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError",
    "AccessDeniedFault", "AllAccessDisabled", "Forbidden", "403",
})
REGION_REFUSED_CODES = frozenset({"OptInRequired", "AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException"})
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "RequestThrottled",
    "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "BandwidthLimitExceeded", "EC2ThrottledException",
    "ProvisionedThroughputExceededException", "PriorRequestNotComplete", "TransactionInProgressException",
})
_SECRET_PARAM = re.compile(r"(secret|password|passphrase|externalid|sessiontoken|credential|privatekey)", re.I)
_ACCOUNT_HOST = re.compile(r"^(https?://)[0-9]{12}\.")

EventHook = tuple[str, Callable[..., Any]]


def iam_action(service_id: str, operation: str) -> str | None:
    """The IAM action that allows ``service_id:operation`` (None: no permission needed)."""
    if (service_id, operation) in IAM_ACTIONS:
        return IAM_ACTIONS[(service_id, operation)]
    return f"{_IAM_PREFIX.get(service_id, service_id)}:{operation}"


def public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Request parameters as evidence may show them (secret-looking keys removed).

    >>> public_params({"RoleArn": "arn:aws:iam::1:role/a", "ExternalId": "s3cret"})
    {'RoleArn': 'arn:aws:iam::1:role/a', 'ExternalId': '(hidden)'}
    """
    return {k: ("(hidden)" if _SECRET_PARAM.search(k) else v) for k, v in params.items()}


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, sort_keys=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    return str(value)


def plain(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An API answer without its transport metadata, in JSON types (datetimes as ISO strings)."""
    body = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    return json.loads(to_json(body))


def answer_time(answer: Mapping[str, Any]) -> float | None:
    """The service's own clock (HTTP Date header of the answer), as epoch seconds."""
    date = (answer.get("ResponseMetadata") or {}).get("HTTPHeaders", {}).get("date")
    if not date:
        return None
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RegionPlan:
    """Which regions a collector reads: audited, not audited (with why), unsupported (an error)."""

    audited: tuple[str, ...]
    not_audited: Mapping[str, str] = field(default_factory=dict)
    unsupported: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # "ec2:DescribeRegions" or "inventory"


class CollectorContext(Protocol):
    """What the calls need of a collector's context (:class:`auditor.collect.Context` is one)."""

    target: Target
    params: Mapping[str, Any]
    deadline: float
    evidence: EvidenceLog

    def remaining(self) -> float: ...

    def record(self, kind: str, source: str, content: str, *, redacted: bool = False) -> None: ...


class _Lookup:
    """The context a shared lookup (:meth:`AWSConnection.memo`) runs in: the first caller's
    target, parameters and deadline, and evidence of its own, which every caller then gets."""

    def __init__(self, ctx: CollectorContext, conn: "AWSConnection"):
        self.target = ctx.target
        self.conn = conn
        self.params = ctx.params
        self.deadline = ctx.deadline
        self.evidence = EvidenceLog()

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CollectError(Reason.TIMEOUT, "collector ran out of time")
        return left

    def record(self, kind: str, source: str, content: str, *, redacted: bool = False) -> None:
        self.evidence.add(kind, source, content, redacted=redacted)


class _Memo:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Any = None
        self.error: CollectError | None = None
        self.evidence: list[Evidence] = []


class APIError(CollectError):
    """A failed API call: a :class:`CollectError` that also knows the call (service id, operation, region) and its kind."""

    def __init__(self, reason: Reason, message: str, *, service_id: str, operation: str, region: str, kind: str):
        super().__init__(reason, message)
        self.service_id, self.operation, self.region, self.kind = service_id, operation, region, kind


def classify(exc: BaseException) -> str:
    """denied | region_refused | throttled | other, for a botocore exception."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in DENIED_CODES:
            return "denied"
        if code in REGION_REFUSED_CODES:
            return "region_refused"
        if code in THROTTLING_CODES:
            return "throttled"
    return "other"


def api_error(service_id: str, operation: str, region: str, params: Mapping[str, Any], exc: BaseException) -> APIError:
    """A botocore exception as a :class:`CollectError` whose message names the call."""
    kind = classify(exc)

    def err(reason: Reason, message: str) -> APIError:
        return APIError(reason, message, service_id=service_id, operation=operation, region=region, kind=kind)

    call = f"{service_id}:{operation}"
    subject = _subject(params)
    where = f" in {region}" + (f" ({subject})" if subject else "")
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", "")).strip()
        said = f"{code}: {message}" if message else code
        if kind == "denied":
            action = iam_action(service_id, operation)
            need = f"; the audit role needs IAM action {action} (docs/aws-audit-policy.json)" if action else ""
            return err(Reason.PERMISSION_DENIED, f"{call}{where} was refused: {said}{need}")
        if kind == "region_refused":
            return err(Reason.AUTH_FAILED, f"{call}{where} was refused: {said} (the credentials are not accepted in {region}: is the region enabled for this account?)")
        if kind == "throttled":
            attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
            return err(Reason.COMMAND_FAILED, f"{call}{where} was throttled ({code}) and still failed after {attempts} attempt(s)")
        if code in ("NoSuchBucket", "NotFound", "404", "ResourceNotFoundException"):
            return err(Reason.NOT_FOUND, f"{call}{where}: {said}")
        return err(Reason.COMMAND_FAILED, f"{call}{where} failed: {said}")
    if isinstance(exc, (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError)):
        return err(Reason.TIMEOUT, f"{call}{where} timed out: {exc}")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return err(Reason.UNREACHABLE, f"{call}{where}: cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')} (is {region} a region where this service is offered?)")
    if isinstance(exc, (botocore.exceptions.UnknownRegionError, botocore.exceptions.InvalidRegionError)):
        return err(Reason.CONFIG_ERROR, f"{call}: unsupported region {region}: {exc}")
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return err(Reason.AUTH_FAILED, f"{call}{where}: no AWS credentials found (profile, environment, shared files or instance role)")
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return err(Reason.BUG, f"{call}{where}: invalid request parameters: {exc}")
    return err(Reason.COMMAND_FAILED, f"{call}{where} failed: {type(exc).__name__}: {exc}")


def _subject(params: Mapping[str, Any]) -> str:
    for key in ("Bucket", "BackupPlanId", "AccountId", "DBInstanceIdentifier"):
        if key in params:
            return f"{key} {params[key]}"
    return ""


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


_LOADER_LOCK = threading.Lock()
_LOADER: Any = None


def new_session(*, profile_name: str | None = None, region_name: str | None = None, credentials: Any = None) -> boto3.Session:
    """A boto3 session whose botocore session shares one loader of service models with every other.

    The loader holds read-only data (service models, endpoint rules) read
    from botocore's files; sharing it saves reading them again for every
    account of a run. Sessions, credentials and clients stay per account.
    """
    global _LOADER
    core = botocore.session.Session()
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = botocore.loaders.create_loader(core.get_config_variable("data_path"))
        core.register_component("data_loader", _LOADER)
        if credentials is not None:
            core._credentials = credentials  # how a botocore session is handed refreshable credentials
        session = boto3.Session(botocore_session=core, profile_name=profile_name, region_name=region_name)
        _LOADER.search_paths[:] = list(dict.fromkeys(_LOADER.search_paths))  # boto3 appends its data path each time
    return session


class AWSConnection:
    """A boto3 session on one account, with cached clients and evidence-recording calls."""

    transport = "aws"

    def __init__(self, target: Target, account: Target, *, connect_timeout: float = 10.0, read_timeout: float = READ_TIMEOUT,
                 event_hooks: Sequence[EventHook] = ()):
        self.target = target
        self.account = account
        self.endpoint_url: str | None = account.get("endpoint_url")
        self.event_hooks = tuple(event_hooks)
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._memos: dict[str, _Memo] = {}
        self.bucket_regions: dict[str, str] = {}  # region hints learnt along the way (S3 redirects cover the rest)
        self.answered: set[tuple[str, str, str]] = set()  # (service id, operation, region) that succeeded at least once
        self.session_evidence: list[Evidence] = []  # how the session was obtained (AssumeRole), shown in every fact
        self._noted: "weakref.WeakSet[Any]" = weakref.WeakSet()  # contexts whose evidence starts with the session
        config: dict[str, Any] = {
            "retries": {"mode": "standard"},
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_pool_connections": MAX_WORKERS * 2,
            "user_agent_extra": "auditor",
        }
        if self.endpoint_url:
            config["s3"] = {"addressing_style": "path"}
        self.config = Config(**config)
        declared = account.get("regions", "all-enabled")
        self.declared_regions: str | list[str] = declared if isinstance(declared, str) else list(declared)
        self.session = self._open_session()
        first = self.declared_regions[0] if isinstance(self.declared_regions, list) else None
        self.home = first or self.session.region_name or GLOBAL_REGION
        try:
            self.partition = self.session.get_partition_for_region(self.home)
        except Exception:  # noqa: BLE001 - an unknown home region: assume the commercial partition
            self.partition = "aws"

    def __repr__(self) -> str:
        return f"AWSConnection({self.account.id}, {self.account.address})"

    # -- session ----------------------------------------------------------------

    def _open_session(self) -> boto3.Session:
        profile = self.account.get("profile")
        try:
            base = new_session(profile_name=profile)
            found = base.get_credentials()
        except botocore.exceptions.ProfileNotFound:
            raise CollectError(Reason.CONFIG_ERROR, f"AWS profile {profile!r} (account {self.account.name}, {self.account.source}) is not defined in the AWS configuration files") from None
        role = self.account.get("role_arn")
        if found is None:
            also = f" to assume {role} with" if role else ""
            raise CollectError(Reason.AUTH_FAILED, f"no AWS credentials found{also} for account {self.account.name} (profile, environment, shared files or instance role)")
        if not role:
            how = f"profile {profile}" if profile else "the default credential chain"
            self._session_note(f"credentials from {how} (method {getattr(found, 'method', 'unknown')}); no role assumed")
            return base
        external = self.account.get("external_id")
        external_id = external.reveal() if external is not None else None  # revealed now, kept only in this closure
        region = self.declared_regions[0] if isinstance(self.declared_regions, list) else (base.region_name or GLOBAL_REGION)
        sts = base.client("sts", region_name=region, endpoint_url=self.endpoint_url, config=self.config)
        self._install_hooks(sts)
        session_name = f"auditor-{uuid.uuid4().hex[:12]}"

        def assume() -> dict[str, str]:
            params: dict[str, Any] = {"RoleArn": role, "RoleSessionName": session_name, "DurationSeconds": ROLE_SESSION_SECONDS}
            if external_id is not None:
                params["ExternalId"] = external_id
            started, t0 = utc_now_iso(), time.monotonic()
            try:
                answer = sts.assume_role(**params)
                creds = answer["Credentials"]
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                err = api_error("sts", "AssumeRole", region, {}, exc)
                reason = Reason.AUTH_FAILED if err.reason in (Reason.PERMISSION_DENIED, Reason.COMMAND_FAILED) else err.reason
                raise CollectError(reason, f"cannot assume role {role}: {err.message}") from None
            expiry = creds["Expiration"]
            if not self.session_evidence:  # the first assumption; refreshes repeat it
                shown = to_json({"AssumedRoleUser": answer.get("AssumedRoleUser"), "Credentials": {"Expiration": expiry}})
                self.session_evidence.append(observation(
                    "api", _source("sts", "AssumeRole", region, params), shown, redacted=True, at=started,
                    duration_ms=int((time.monotonic() - t0) * 1000),
                ))
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiry.isoformat() if isinstance(expiry, _dt.datetime) else str(expiry),
            }

        credentials = RefreshableCredentials.create_from_metadata(metadata=assume(), refresh_using=assume, method="sts-assume-role")
        return new_session(region_name=base.region_name, credentials=credentials)

    def _session_note(self, text: str) -> None:
        self.session_evidence.append(observation("connection", f"aws session for account {self.account.name} ({self.account.source})", text))

    def note_session(self, ctx: CollectorContext) -> None:
        """Put how the session was obtained at the head of a fact's evidence, once per fact."""
        with self._lock:
            if ctx in self._noted:
                return
            self._noted.add(ctx)
        ctx.evidence.extend(self.session_evidence)

    def _install_hooks(self, client: Any) -> None:
        for event, handler in self.event_hooks:
            client.meta.events.register(event, handler)
        if self.endpoint_url:
            client.meta.events.register("before-sign.s3-control", _strip_account_host)

    def client(self, service: str, region: str | None = None) -> Any:
        """The client of ``service`` in ``region`` (created once, shared by threads)."""
        region = region or self.home
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                try:
                    client = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=self.config)
                except (botocore.exceptions.UnknownRegionError, botocore.exceptions.InvalidRegionError, ValueError) as exc:
                    raise CollectError(Reason.CONFIG_ERROR, f"cannot make a {service} client for region {region}: {exc}") from None
                self._install_hooks(client)
                self._clients[key] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing must not hide results
                pass

    # -- calls --------------------------------------------------------------------

    def call(self, ctx: CollectorContext, service: str, operation: str, region: str | None = None, *, absent: Iterable[str] = (),
             show: Callable[[dict[str, Any]], str] | None = None, **params: Any) -> dict[str, Any] | None:
        """Call ``operation`` (``"GetBucketAcl"``) and record it as evidence.

        Returns the answer (with ``ResponseMetadata``), or None when the
        service answers with one of the ``absent`` error codes (``"there is
        none"``: recorded too). Any other failure raises :class:`CollectError`.
        """
        region = region or self.home
        client = self.client(service, region)
        sid = client.meta.service_model.service_id.hyphenize()
        started, t0 = utc_now_iso(), time.monotonic()
        ctx.remaining()
        try:
            answer = getattr(client, xform_name(operation))(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            self._record_failure(ctx, sid, operation, region, params, exc, started, t0)
            if _error_code(exc) in set(absent):
                return None
            raise api_error(sid, operation, region, params, exc) from None
        self.answered.add((sid, operation, region))
        body = plain(answer)
        raw = to_json(body)
        self._record(ctx, sid, operation, region, params, raw, show(body) if show else raw, started, t0)
        return answer

    def paginate(self, ctx: CollectorContext, service: str, operation: str, region: str | None = None, *, max_items: int | None = None,
                 show: Callable[[dict[str, Any]], str] | None = None, **params: Any) -> tuple[dict[str, Any], bool]:
        """Follow every page of ``operation``; returns (merged answer, cut short?).

        The result keys of all pages are concatenated; other keys come from
        the first page. With ``max_items`` the listing stops after the page
        that reaches it, and the second value is True.
        """
        region = region or self.home
        client = self.client(service, region)
        sid = client.meta.service_model.service_id.hyphenize()
        started, t0 = utc_now_iso(), time.monotonic()
        merged: dict[str, Any] = {}
        raws: list[str] = []
        pages, count, truncated = 0, 0, False
        try:
            iterator = client.get_paginator(xform_name(operation)).paginate(**params)
            keys = [rk.expression for rk in iterator.result_keys]
            for page in iterator:
                ctx.remaining()
                pages += 1
                if pages == 1:
                    merged = {k: v for k, v in page.items() if k not in keys}
                    for k in keys:
                        merged[k] = []
                for k in keys:
                    got = page.get(k) or []
                    merged[k].extend(got)
                    count += len(got)
                raws.append(to_json(plain(page)))
                if max_items is not None and count >= max_items and _has_more(page):
                    truncated = True
                    break
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            self._record_failure(ctx, sid, operation, region, params, exc, started, t0, pages=pages)
            raise api_error(sid, operation, region, params, exc) from None
        self.answered.add((sid, operation, region))
        for k in _PAGING_KEYS:
            merged.pop(k, None)
        body = plain(merged)
        note = f" ({pages} page(s){', cut short at ' + str(count) + ' items' if truncated else ''})"
        self._record(ctx, sid, operation, region, params, "\n".join(raws), show(body) if show else to_json(body), started, t0, note=note, truncated=truncated)
        return merged, truncated

    def _record(self, ctx: CollectorContext, sid: str, operation: str, region: str, params: Mapping[str, Any], raw: str, shown: str,
                started: str, t0: float, note: str = "", truncated: bool = False) -> None:
        self.note_session(ctx)
        ctx.evidence.append(observation(
            "api", _source(sid, operation, region, params) + note, shown, raw=raw, at=started, truncated=truncated,
            duration_ms=int((time.monotonic() - t0) * 1000),
        ))

    def _record_failure(self, ctx: CollectorContext, sid: str, operation: str, region: str, params: Mapping[str, Any], exc: BaseException,
                        started: str, t0: float, pages: int = 0) -> None:
        if isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error", {})
            text = f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
        else:
            text = f"{type(exc).__name__}: {exc}"
        note = f" (failed after {pages} page(s))" if pages else ""
        self.note_session(ctx)
        ctx.evidence.append(observation(
            "api", _source(sid, operation, region, params) + note, f"[error] {text}", raw=text, at=started,
            duration_ms=int((time.monotonic() - t0) * 1000),
        ))

    # -- shared lookups, made once per connection ----------------------------------

    def memo(self, key: str, ctx: CollectorContext, compute: Callable[[CollectorContext], Any]) -> Any:
        """``compute`` once per connection; every caller gets its value and its evidence."""
        with self._lock:
            entry = self._memos.setdefault(key, _Memo())
        with entry.lock:
            if not entry.done:
                sub = _Lookup(ctx, self)
                with self._lock:
                    self._noted.add(sub)  # the caller's own evidence starts with the session
                try:
                    entry.value = compute(sub)
                    entry.done = True
                except CollectError as exc:
                    if exc.reason is not Reason.TIMEOUT:  # another collector may have more time
                        entry.error, entry.done = exc, True
                    else:
                        self.note_session(ctx)
                        ctx.evidence.extend(sub.evidence)
                        raise
                entry.evidence = list(sub.evidence)
        self.note_session(ctx)
        ctx.evidence.extend(entry.evidence)
        if entry.error is not None:
            raise entry.error
        return entry.value

    def account_id(self, ctx: CollectorContext) -> str:
        def caller_account(c: CollectorContext) -> str:
            answer = self.call(c, "sts", "GetCallerIdentity")
            assert answer is not None  # None only for an `absent` error code, and none is given
            return str(answer["Account"])

        return self.memo("account_id", ctx, caller_account)

    def regions(self, ctx: CollectorContext) -> RegionPlan:
        return self.memo("regions", ctx, self._resolve_regions)

    def buckets(self, ctx: CollectorContext) -> list[str]:
        """Names of the account's buckets (``s3:ListBuckets``, every page)."""

        def list_buckets(c: CollectorContext) -> list[str]:
            answer, _ = self.paginate(c, "s3", "ListBuckets")
            for b in answer.get("Buckets", []):
                if b.get("BucketRegion"):
                    self.bucket_regions.setdefault(b["Name"], b["BucketRegion"])
            return [b["Name"] for b in answer.get("Buckets", [])]

        return self.memo("buckets", ctx, list_buckets)

    def bucket_client_region(self, bucket: str) -> str:
        return self.bucket_regions.get(bucket, self.home)

    def _resolve_regions(self, ctx: CollectorContext) -> RegionPlan:
        declared = self.declared_regions
        try:
            answer = self.call(ctx, "ec2", "DescribeRegions", self.home, AllRegions=True)
        except CollectError as exc:
            if declared == "all-enabled":
                raise CollectError(exc.reason, f"cannot list the account's enabled regions (regions: all-enabled): {exc.message}") from None
            answer = None
        listed: dict[str, str] | None = None
        if answer is not None:
            listed = {}
            for r in answer.get("Regions", []):
                name = r.get("RegionName", "")
                if self._partition_of(name) == self.partition:
                    listed[name] = r.get("OptInStatus", "opt-in-not-required")
        if declared == "all-enabled" and listed is not None:
            audited = tuple(sorted(r for r, s in listed.items() if s in ENABLED_STATUSES))
            not_audited = {r: f"not enabled for this account (OptInStatus {s})" for r, s in sorted(listed.items()) if s not in ENABLED_STATUSES}
            return RegionPlan(audited, not_audited, {}, "ec2:DescribeRegions")
        ctx.record("inventory", self.account.source, f"aws {self.account.name}: regions: {', '.join(declared)}")
        audited_list: list[str] = []
        not_audited, unsupported = {}, {}
        for r in declared:
            part = self._partition_of(r)
            if part is None:
                unsupported[r] = f"unsupported region {r}: no AWS partition has a region of that name"
            elif part != self.partition:
                unsupported[r] = f"unsupported region {r}: it belongs to partition {part}, the account to {self.partition}"
            elif listed is not None and r not in listed:
                unsupported[r] = f"unsupported region {r}: ec2:DescribeRegions does not list it for this account"
            elif listed is not None and listed[r] not in ENABLED_STATUSES:
                not_audited[r] = f"not enabled for this account (OptInStatus {listed[r]})"
            else:
                audited_list.append(r)
        return RegionPlan(tuple(audited_list), not_audited, unsupported, "inventory" if listed is None else "inventory, ec2:DescribeRegions")

    def _partition_of(self, region: str) -> str | None:
        try:
            return self.session.get_partition_for_region(region)
        except Exception:  # noqa: BLE001 - botocore raises UnknownRegionError (and older ones ValueError)
            return None

    # -- fan-out --------------------------------------------------------------------

    def parallel(self, ctx: CollectorContext, keys: Sequence[str], work: Callable[[str], Any]) -> tuple[dict[str, Any], dict[str, CollectError]]:
        """``work(key)`` for every key, MAX_WORKERS at a time, within the collector's deadline."""
        results: dict[str, Any] = {}
        errors: dict[str, CollectError] = {}
        if not keys:
            return results, errors
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(keys)), thread_name_prefix=f"aws {self.account.name}")
        try:
            futures = {pool.submit(work, k): k for k in keys}
            done, pending = concurrent.futures.wait(futures, timeout=ctx.remaining())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if pending:
            raise CollectError(Reason.TIMEOUT, f"{len(pending)} of {len(keys)} reads ({', '.join(sorted(futures[f] for f in pending)[:5])}) did not finish before the collector's deadline")
        for fut in done:
            key = futures[fut]
            try:
                results[key] = fut.result()
            except CollectError as exc:
                errors[key] = exc
        return results, errors

    def each_region(self, ctx: CollectorContext, work: Callable[[str], list[dict[str, Any]]]) -> dict[str, Any]:
        """Resources of every audited region: ``work(region)`` returns a list of dicts.

        The value says which regions were read (``regions``), which were not
        audited and why (``not_audited``), which failed (``failed``: an
        evaluator can then not pass), and the ``items``, each with its
        ``region``. A read that fails in *every* region is an error of the
        whole fact. A call refused in one region that the same credentials
        made successfully in another means the region is restricted (an SCP,
        an ``aws:RequestedRegion`` condition, a region not enabled): that
        region is reported as not audited. A refusal that no other region
        contradicts is a missing permission, and an error.
        """
        plan = self.regions(ctx)
        if not plan.audited and plan.unsupported:
            raise CollectError(Reason.CONFIG_ERROR, "; ".join(plan.unsupported.values()))
        results, errors = self.parallel(ctx, list(plan.audited), work)
        ok = [r for r in plan.audited if r in results]
        if errors and not ok:
            first = errors[sorted(errors)[0]]
            more = f" (and the same in {len(errors) - 1} other region(s))" if len(errors) > 1 else ""
            raise CollectError(first.reason, first.message + more)
        not_audited = dict(plan.not_audited)
        failed: dict[str, dict[str, str]] = {}
        for r, exc in sorted(errors.items()):
            if self._restricted_region(exc):
                not_audited[r] = f"refused here, allowed in other regions (a restricted region, e.g. by an SCP): {exc.message}"
            else:
                failed[r] = {"reason": exc.reason.value, "message": exc.message}
        for r, message in plan.unsupported.items():
            failed[r] = {"reason": Reason.CONFIG_ERROR.value, "message": message}
        items = [{**item, "region": r} for r in ok for item in results[r]]
        return {"regions": ok, "not_audited": not_audited, "failed": failed, "items": items}

    def _restricted_region(self, exc: CollectError) -> bool:
        if not isinstance(exc, APIError) or exc.kind not in ("denied", "region_refused"):
            return False
        return any((exc.service_id, exc.operation, other) in self.answered for other in self.regions_answered(exc.service_id, exc.operation) if other != exc.region)

    def regions_answered(self, service_id: str, operation: str) -> list[str]:
        return [r for (s, op, r) in list(self.answered) if (s, op) == (service_id, operation)]

    def each_bucket(self, ctx: CollectorContext, names: Sequence[str], work: Callable[[str], Any]) -> dict[str, Any]:
        """``work(bucket)`` for every bucket: ``{"buckets": {name: value}, "failed": {name: {reason, message}}}``.

        A call that fails for every bucket is an error of the whole fact.
        """
        results, errors = self.parallel(ctx, list(names), work)
        if errors and not results:
            first = errors[sorted(errors)[0]]
            more = f" (and {len(errors) - 1} other bucket(s) the same way)" if len(errors) > 1 else ""
            raise CollectError(first.reason, first.message + more)
        return {
            "buckets": {n: results[n] for n in names if n in results},
            "failed": {n: {"reason": errors[n].reason.value, "message": errors[n].message} for n in names if n in errors},
        }


class UnusedAWSConnection:
    """For a ``backups:`` entry that is not in S3: no AWS account to open, nothing to read."""

    transport = "aws"

    def close(self) -> None:
        pass


def _source(sid: str, operation: str, region: str, params: Mapping[str, Any]) -> str:
    shown = public_params(params)
    return f"{sid}:{operation} {region}" + (f" {to_json(shown)}" if shown else "")


_MORE_KEYS = ("NextToken", "NextContinuationToken", "NextKeyMarker", "NextMarker", "Marker")
_PAGING_KEYS = ("IsTruncated", "ContinuationToken", "KeyMarker", "VersionIdMarker", "MaxKeys", "MaxItems", "MaxResults", *_MORE_KEYS, "NextVersionIdMarker")


def _has_more(page: Mapping[str, Any]) -> bool:
    """Whether another page follows this one."""
    return page.get("IsTruncated") is True or any(page.get(k) for k in _MORE_KEYS)


def _strip_account_host(request: Any, **_: Any) -> None:
    """S3 Control puts the account id in the host name; a custom endpoint serves it on its own host."""
    request.url = _ACCOUNT_HOST.sub(r"\1", request.url)


def open_aws(target: Target, transports: "Transports", *, event_hooks: Sequence[EventHook] | None = None) -> AWSConnection | UnusedAWSConnection:
    """Open the account of an ``aws:`` target, or the account a ``backups:`` entry of type s3 names.

    ``event_hooks`` (default: the ``aws_event_hooks`` attribute of
    ``transports``, if set) are botocore event handlers registered on every
    client: instrumentation and fault injection in tests.
    """
    account = target
    if target.kind == "backup":
        if target.get("type") != "s3":
            return UnusedAWSConnection()
        account = transports.targets.get(f"aws:{target.get('aws')}")  # type: ignore[assignment]
        if account is None:
            raise CollectError(Reason.CONFIG_ERROR, f"backup {target.name} names aws account {target.get('aws')!r}, which the inventory does not define")
    elif target.kind != "aws":
        raise CollectError(Reason.CONFIG_ERROR, f"{target.id}: AWS connections are for aws: accounts and backups: of type s3")
    hooks = event_hooks if event_hooks is not None else getattr(transports, "aws_event_hooks", ())
    timeout = getattr(getattr(transports, "options", None), "connect_timeout", 10.0)
    try:
        return AWSConnection(target, account, connect_timeout=timeout, event_hooks=hooks)
    except CollectError:
        raise
    except botocore.exceptions.BotoCoreError as exc:
        raise CollectError(Reason.CONFIG_ERROR, f"cannot open an AWS session for account {account.name}: {exc}") from None
