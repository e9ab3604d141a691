"""The nouns of an audit, as plain data.

Everything here is a frozen dataclass or an enum, serialisable to JSON with
:func:`to_jsonable`. The runner produces them; reports only read them.

>>> Status.PASS.value
'pass'
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

SCHEMA_VERSION = "1.1"

FAMILIES = ("tls", "password_hashing", "data_location", "backup_retention", "access")
TARGET_KINDS = ("server", "web", "mail", "database", "backup", "aws", "processor")


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"
    WAIVED = "waived"

    def __str__(self) -> str:
        return self.value


class Severity(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def __str__(self) -> str:
        return self.value


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


def severity_rank(value: Any) -> int:
    """The rank of a severity given as a Severity or its text (``"high"``: 3); 0 for anything else.

    >>> severity_rank("critical"), severity_rank(Severity.LOW), severity_rank(None)
    (4, 1, 0)
    """
    try:
        return _SEVERITY_RANK.get(value, 0)
    except TypeError:  # unhashable: not a severity
        return 0


class Reason(str, enum.Enum):
    """Why a fact could not be gathered (after sslyze's error_reason)."""

    UNREACHABLE = "unreachable"
    HOST_KEY = "host_key_rejected"
    AUTH_FAILED = "auth_failed"
    TIMEOUT = "timeout"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    PARSE_ERROR = "parse_error"
    COMMAND_FAILED = "command_failed"
    CONFIG_ERROR = "config_error"
    INTERRUPTED = "interrupted"
    BUG = "bug"
    NOT_APPLICABLE = "not_applicable"
    DECIDED_AT_APPLY = "decided_at_apply"  # a Terraform plan leaves the value to apply time (auditor plan)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Target:
    """One thing named in the inventory.

    ``settings`` holds the validated inventory keys of the entry (secrets stay
    :class:`auditor.secrets.SecretRef` objects until a transport resolves them).
    """

    id: str  # "<kind>:<name>", unique in an inventory
    kind: str
    name: str
    address: str | None = None
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""  # "file:line" of the inventory entry

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def public(self) -> dict[str, Any]:
        """What a report may show about the target (no secrets, no settings)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "address": self.address,
            "tags": list(self.tags),
            "groups": list(self.groups),
            "source": self.source,
        }


@dataclass(frozen=True)
class Evidence:
    """One raw observation behind a fact: a command run, a file read, an API call.

    ``excerpt`` is what a reader sees (bounded, already redacted by the
    collector when the raw output is sensitive); ``sha256`` is the digest of
    the raw output, or of the excerpt when ``redacted`` is true (so that no
    digest of a secret ever leaves the target).
    """

    kind: str  # "command" | "file" | "api" | "inventory"
    source: str  # display form: argv joined with shlex, a path, "s3:GetBucketLocation"
    at: str  # ISO-8601 UTC
    exit_status: int | None = None
    excerpt: str = ""
    sha256: str = ""
    truncated: bool = False
    redacted: bool = False
    argv: tuple[str, ...] | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class Fact:
    """A named observation gathered from one target, with its provenance.

    A fact that could not be gathered is a fact too: ``status`` is ``error``
    (or ``skipped`` when it does not apply) and ``reason``/``message`` say why.
    """

    id: str
    target: str
    name: str
    collector: str
    status: str  # "ok" | "error" | "skipped"
    collected_at: str
    duration_ms: int
    value: Any = None
    reason: str | None = None
    message: str | None = None
    transport: str = ""
    evidence: tuple[Evidence, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Finding:
    control: str
    target: str
    status: Status
    message: str
    severity: Severity
    family: str
    facts: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None  # for error / skipped
    waiver: Mapping[str, Any] | None = None  # set when status is waived: the waiver and the original_status
    message_sv: str | None = None  # the message in Swedish, when the evaluator gave one


@dataclass(frozen=True)
class ControlInfo:
    """Control metadata as recorded in a run (the evaluate function stays behind)."""

    id: str
    family: str
    kinds: tuple[str, ...]
    title: str
    severity: Severity
    rationale: str
    references: tuple[str, ...]
    facts: tuple[str, ...]
    params: tuple[str, ...]
    title_sv: str = ""
    rationale_sv: str = ""
    remediation: str = ""  # one sentence: what to do when it fails
    remediation_sv: str = ""
    plain: str = ""  # the failing check in plain words, with {n} for the number of targets
    plain_sv: str = ""


@dataclass(frozen=True)
class Promise:
    id: str
    quote: str
    language: str
    source: Mapping[str, str]
    summary: str
    controls: tuple[str, ...]
    # Computed once by the runner (auditor.verdicts); empty in a Promise read from a policy file.
    verdict: str | None = None  # fail | error | pass | none (not checked)
    failing: tuple[Mapping[str, Any], ...] = ()  # {control, status, targets, n}: fail first, then error, by severity
    counts: Mapping[str, int] = field(default_factory=dict)
    not_checked: str | None = None  # why, when verdict is none
    not_checked_sv: str | None = None


@dataclass(frozen=True)
class Run:
    schema_version: str
    tool_version: str
    run_id: str
    started_at: str
    finished_at: str
    complete: bool
    inventory: Mapping[str, Any]
    policy: Mapping[str, Any]
    options: Mapping[str, Any]
    targets: tuple[Mapping[str, Any], ...]
    controls: tuple[ControlInfo, ...]
    promises: tuple[Promise, ...]
    findings: tuple[Finding, ...]
    facts: tuple[Fact, ...]
    summary: Mapping[str, Any]
    notices: tuple[str, ...] = ()
    waivers: Mapping[str, Any] | None = None  # the run's "waivers" section; None when no waiver file was given
    shard: Mapping[str, Any] | None = None  # --shard I/N: which slice (auditor.shard.shard_section); left out of run.json when None


def summarise(findings: list[Finding] | tuple[Finding, ...]) -> dict[str, Any]:
    """Counts by status, overall and per family."""
    overall = {s.value: 0 for s in Status}
    by_family: dict[str, dict[str, int]] = {}
    for f in findings:
        overall[f.status.value] += 1
        fam = by_family.setdefault(f.family, {s.value: 0 for s in Status})
        fam[f.status.value] += 1
    return {"total": len(findings), "by_status": overall, "by_family": by_family}


_PLAIN = (str, int, float, bool, type(None))


def to_jsonable(obj: Any) -> Any:
    """Turn model objects into plain JSON types (enums to values, tuples to lists).

    Plain JSON (a loaded run.json, a run document) is walked on a fast path:
    exact ``dict``/``list``/scalar types are checked before the generic
    dataclass, enum and ``Mapping`` tests, which cost most of the time.
    """
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is dict:
        return {k if type(k) is str else str(k): to_jsonable(v) for k, v in obj.items()}
    if kind is list:
        return [to_jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [to_jsonable(v) for v in obj]
        return sorted(items) if isinstance(obj, (set, frozenset)) else items
    return obj


def canonical_json(obj: Any) -> bytes:
    return json.dumps(to_jsonable(obj), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()
