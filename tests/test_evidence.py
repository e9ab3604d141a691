"""One evidence path: every transport's evidence is made by auditor.evidence.observation.

* The same long text recorded by ``Context.record``, ``Context.run`` (a
  command), an AWS API call and a network ``Transcript`` gets the same
  excerpt and the same ``truncated`` flag: there is one excerpt rule.
* No module under ``auditor/transports`` imports ``auditor.collect`` (the
  transports sit below the collector's context, not beside it).
"""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.stub import Stubber

from auditor.collect import Context
from auditor.evidence import EXCERPT_CHARS, EvidenceLog, excerpt, observation
from auditor.model import Evidence, Target, sha256_hex
from auditor.transports.aws import AWSConnection
from auditor.transports.base import CommandResult
from auditor.transports.net import Transcript

ROOT = Path(__file__).resolve().parent.parent
TRANSPORTS = ROOT / "auditor" / "transports"

LONG = "".join(f"line {i:05d} of a long answer\n" for i in range(400))  # ~10,000 characters
SHORT = "web1\n"


# -- the one excerpt rule, across paths -----------------------------------------------


class _Shell:
    """A connection whose every command prints ``out``."""

    transport = "local"

    def __init__(self, out: str):
        self.out = out

    def run(self, argv: list[str], *, timeout: float, sudo: bool = False, **_: Any) -> CommandResult:
        return CommandResult(argv=tuple(argv), exit_status=0, stdout=self.out.encode(), stderr=b"", started_at="2026-01-01T00:00:00.000Z", duration_ms=1)

    def close(self) -> None:
        pass


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AWSConnection]:
    """A real AWSConnection on static credentials (no network: its calls are stubbed)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    account = Target(id="aws:main", kind="aws", name="main", settings={"regions": ["eu-north-1"]}, source="t.yaml:1")
    conn = AWSConnection(account, account)
    try:
        yield conn
    finally:
        conn.close()


def _every_path(conn: AWSConnection, text: str) -> dict[str, Evidence]:
    """``text`` recorded by each path; the evidence each one made."""
    target = Target(id="server:web1", kind="server", name="web1", settings={}, source="t.yaml:2")
    out: dict[str, Evidence] = {}

    ctx = Context(target, _Shell(text), {}, time.monotonic() + 30)
    ctx.record("inventory", "t.yaml:2", text)
    out["Context.record"] = list(ctx.evidence)[-1]

    ctx.run(["cat", "/etc/hostname"])
    out["Context.run"] = list(ctx.evidence)[-1]

    actx = Context(conn.target, conn, {}, time.monotonic() + 30)
    client = conn.client("s3", "eu-north-1")
    with Stubber(client) as stub:
        stub.add_response("list_buckets", {"Buckets": [{"Name": "ledger"}], "Owner": {"ID": "o"}})
        conn.call(actx, "s3", "ListBuckets", show=lambda body: text)
    api = [e for e in actx.evidence if e.kind == "api"]
    assert len(api) == 1 and api[0].source.startswith("s3:ListBuckets eu-north-1")
    out["aws call"] = api[0]

    out["net Transcript"] = Transcript("TLSv1.2 handshake with https web1:443", lines=[text]).evidence()
    return out


@pytest.mark.parametrize("text", [LONG, SHORT], ids=["long", "short"])
def test_the_same_text_gets_the_same_excerpt_on_every_path(aws: AWSConnection, text: str) -> None:
    made = _every_path(aws, text)
    expected, cut = excerpt(text)
    assert cut == (len(text) > EXCERPT_CHARS)
    for path, evidence in made.items():
        assert (evidence.excerpt, evidence.truncated) == (expected, cut), path
    if cut:
        assert all(len(e.excerpt) < len(text) and e.excerpt.startswith(text[:EXCERPT_CHARS]) for e in made.values())
    # one digest rule too: the raw bytes (here the text itself, but for the API call, whose raw is the whole answer)
    assert made["Context.record"].sha256 == made["Context.run"].sha256 == made["net Transcript"].sha256 == sha256_hex(text)


def test_aws_evidence_is_made_by_observation(aws: AWSConnection) -> None:
    """The session note and a failed call (its message longer than an excerpt): the fields the AWS transport always gave, by the one rule."""
    session = aws.session_evidence[0]
    assert session.kind == "connection" and session.excerpt.startswith("credentials from the default credential chain")
    assert session.sha256 == sha256_hex(session.excerpt)
    ctx = Context(aws.target, aws, {}, time.monotonic() + 30)
    client = aws.client("s3", "eu-north-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_bucket_policy", service_error_code="NoSuchBucketPolicy", service_message="x" * (2 * EXCERPT_CHARS))
        assert aws.call(ctx, "s3", "GetBucketPolicy", absent=["NoSuchBucketPolicy"], Bucket="ledger") is None
    failed = list(ctx.evidence)[-1]
    assert failed.kind == "api" and failed.excerpt.startswith("[error] NoSuchBucketPolicy: xxx") and failed.truncated
    assert failed.sha256 == sha256_hex("NoSuchBucketPolicy: " + "x" * (2 * EXCERPT_CHARS))
    assert failed.duration_ms is not None and failed.at
    assert list(ctx.evidence)[0] == session  # how the session was obtained heads the fact's evidence


def test_a_shared_lookup_needs_no_collector_context(aws: AWSConnection) -> None:
    """memo() runs its computation in a context of its own; every caller gets its evidence."""
    calls = []

    def compute(c: Any) -> str:
        calls.append(c)
        assert not isinstance(c, Context) and isinstance(c.evidence, EvidenceLog) and c.remaining() > 0
        c.record("inventory", "t.yaml:1", "computed once")
        return "value"

    first = Context(aws.target, aws, {}, time.monotonic() + 30)
    second = Context(aws.target, aws, {}, time.monotonic() + 30)
    assert aws.memo("k", first, compute) == aws.memo("k", second, compute) == "value"
    assert len(calls) == 1
    for ctx in (first, second):
        assert [e.excerpt for e in ctx.evidence][-1] == "computed once"


def test_observation_is_the_excerpt_rule() -> None:
    e = observation("file", "/etc/motd", LONG)
    assert (e.excerpt, e.truncated) == excerpt(LONG) and e.truncated
    assert e.excerpt.endswith(f"… ({len(LONG) - EXCERPT_CHARS} more characters)")


# -- no transport imports the collector's context ---------------------------------------


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved.

    ``from .. import collect`` counts as importing ``auditor.collect`` (a name
    imported from a package may be its submodule).
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
            found.update(arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return found


def _imports_collect(modules: set[str]) -> bool:
    return any(m == "auditor.collect" or m.startswith("auditor.collect.") for m in modules)


@pytest.mark.parametrize("source, module, hit", [
    ("from ..collect import Context\n", "auditor.transports.aws", True),
    ("from .. import collect\n", "auditor.transports.aws", True),
    ("import auditor.collect as c\n", "auditor.transports.aws", True),
    ("def f():\n    from auditor.collect import excerpt\n", "auditor.transports.aws", True),
    ("import importlib\nimportlib.import_module('auditor.collect')\n", "auditor.transports.aws", True),
    ("from ...collect import Context\n", "auditor.transports.dialogues.smtp", True),
    ("from ..evidence import observation\nfrom .base import CommandResult\n", "auditor.transports.aws", False),
    ("from .collect import x\n", "auditor.transports.aws", False),  # auditor.transports.collect, not auditor.collect
])
def test_the_import_reader_sees_an_import_of_collect(source: str, module: str, hit: bool) -> None:
    assert _imports_collect(imported_modules(source, module)) is hit


def test_no_transport_imports_auditor_collect() -> None:
    files = sorted(p for p in TRANSPORTS.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(files) >= 6 and TRANSPORTS / "aws.py" in files and TRANSPORTS / "net.py" in files
    offenders = [
        str(p.relative_to(ROOT))
        for p in files
        if _imports_collect(imported_modules(p.read_text(encoding="utf-8"), _module_of(p), is_package=p.name == "__init__.py"))
    ]
    assert offenders == [], f"transports must not import auditor.collect: {offenders}"
