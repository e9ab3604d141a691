"""The three renderers (HTML, JUnit, Markdown) and the report folder, on a realistic run."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from auditor.model import ControlInfo, Evidence, Fact, Finding, Promise, Run, Severity, Status, sha256_hex, summarise, to_jsonable
from auditor.report import render_json, write_report
from auditor.report.html import render_html, verdict
from auditor.report.junit import render_junit
from auditor.text import printable
from auditor.report.markdown import MAX_LISTED, render_markdown

XSD = Path(__file__).parent / "data" / "junit.xsd"
AT = "2026-01-01T00:00:01.000Z"
SV_QUOTE = "Vi delar inga uppgifter med företag utanför EU."
HOSTILE_EXCERPT = "PermitRootLogin yes\n<script>alert(1)</script>\x07bell\n"


def evidence(source: str, excerpt: str, *, kind: str = "command", exit_status: int | None = 0, redacted: bool = False) -> Evidence:
    return Evidence(kind=kind, source=source, at=AT, exit_status=exit_status, excerpt=excerpt, sha256=sha256_hex(excerpt), redacted=redacted, argv=tuple(source.split()) if kind == "command" else None, duration_ms=12)


def fact(fid: str, target: str, name: str, *evs: Evidence, status: str = "ok", reason: str | None = None, message: str | None = None) -> Fact:
    return Fact(id=fid, target=target, name=name, collector=f"checks.{name}", status=status, collected_at=AT, duration_ms=40, value={"ok": status == "ok"}, reason=reason, message=message, transport="ssh", evidence=evs)


def control(cid: str, family: str, kinds: tuple[str, ...], title: str, severity: Severity) -> ControlInfo:
    return ControlInfo(id=cid, family=family, kinds=kinds, title=title, severity=severity, rationale=f"Rationale of {cid}.", references=("GDPR Art. 32",), facts=(), params=())


FACTS = (
    fact("f1", "server:web-1", "sshd.effective_config", evidence("sshd -T", HOSTILE_EXCERPT)),
    fact("f2", "server:web-1", "shadow.hash_schemes", evidence("/etc/shadow", "root:$6$***", kind="file", exit_status=None, redacted=True)),
    fact("f3", "web:shop", "tls.offered_protocols", status="error", reason="timeout", message="no answer from shop.example:443 within 10 s"),
    fact("f4", "aws:prod", "s3.bucket_region", evidence("s3:GetBucketLocation customer-data", '{"LocationConstraint": "us-east-1"}', kind="api", exit_status=None)),
    fact("f5", "backup:nightly", "backup.snapshot_ages", evidence("restic snapshots --json", "[]")),
)
FINDINGS = (
    Finding("ACCESS-SSH-ROOT-LOGIN", "server:web-1", Status.FAIL, "root can log in over SSH | PermitRootLogin is yes", Severity.HIGH, "access", ("f1",), {"PermitRootLogin": "yes"}),
    Finding("PASSWORD-HASH-SCHEME", "server:web-1", Status.PASS, "all accounts use SHA-512 crypt or stronger", Severity.MEDIUM, "password_hashing", ("f2",), {"schemes": ["6"]}),
    Finding("TLS-PROTOCOLS", "web:shop", Status.ERROR, "could not reach shop.example:443 to list its protocols", Severity.HIGH, "tls", ("f3",), {}, "timeout"),
    Finding("DATA-LOCATION-EU", "aws:prod", Status.FAIL, "bucket customer-data is in us-east-1, outside the EU", Severity.CRITICAL, "data_location", ("f4",), {"region": "us-east-1"}),
    Finding("BACKUP-RETENTION", "backup:nightly", Status.WAIVED, "waived until 2026-06-30: migration in progress", Severity.MEDIUM, "backup_retention", ("f5",)),
    Finding("BACKUP-RETENTION", "server:web-1", Status.SKIPPED, "no backup repository configured on this host", Severity.MEDIUM, "backup_retention", (), {}, "not_applicable"),
)
CONTROLS = (
    control("ACCESS-SSH-ROOT-LOGIN", "access", ("server",), "Nobody can log in as root over SSH", Severity.HIGH),
    control("BACKUP-RETENTION", "backup_retention", ("backup", "server"), "Backups are not kept longer than promised", Severity.MEDIUM),
    control("DATA-LOCATION-EU", "data_location", ("aws",), "Personal data is stored in the EU", Severity.CRITICAL),
    control("PASSWORD-HASH-SCHEME", "password_hashing", ("server",), "Passwords are stored with a strong hash", Severity.MEDIUM),
    control("TLS-PROTOCOLS", "tls", ("web",), "Only modern TLS versions are offered", Severity.HIGH),
)
PROMISES = (
    Promise("access", "Only authorised staff can reach our servers.", "en", {"document": "Privacy policy", "section": "5 Security"}, "No direct root login.", ("ACCESS-SSH-ROOT-LOGIN",)),
    Promise("eu-only", SV_QUOTE, "sv", {"document": "Integritetspolicy", "section": "4", "url": "https://example.se/integritet"}, "Personal data stays in the EU.", ("DATA-LOCATION-EU",)),
    Promise("transit", "Data is encrypted in transit.", "en", {"document": "Privacy policy"}, "Modern TLS only.", ("TLS-PROTOCOLS",)),
    Promise("retention", "Backups are deleted after 30 days.", "en", {"document": "Privacy policy"}, "Backups at most 30 days old.", ("BACKUP-RETENTION",)),
    Promise("future", "We will never sell your data.", "en", {"document": "Privacy policy"}, "Not testable yet.", ("SALES-NONE",)),
)
TARGETS = (
    {"id": "server:web-1", "kind": "server", "name": "web-1", "address": "10.0.0.5", "tags": ["prod"], "groups": ["web"], "source": "inventory.yaml:3"},
    {"id": "web:shop", "kind": "web", "name": "shop", "address": "shop.example", "tags": [], "groups": [], "source": "inventory.yaml:9"},
    {"id": "aws:prod", "kind": "aws", "name": "prod", "address": None, "tags": [], "groups": [], "source": "inventory.yaml:12"},
    {"id": "backup:nightly", "kind": "backup", "name": "nightly", "address": "/srv/restic", "tags": [], "groups": [], "source": "inventory.yaml:15"},
)


def make_run(*, complete: bool = False, findings: tuple[Finding, ...] = FINDINGS) -> Run:
    return Run(
        schema_version="1.0",
        tool_version="0.1.0",
        run_id="3f0c6a1e-0000-4000-8000-000000000001",
        started_at="2026-01-01T00:00:00.000Z",
        finished_at="2026-01-01T00:00:02.500Z",
        complete=complete,
        inventory={"path": "inventories/example.yaml", "sha256": "a" * 64, "name": "example-hosting", "targets": len(TARGETS), "groups": {"web": ["web-1"]}},
        policy={"id": "acme", "title": "ACME privacy policy", "path": "policies/acme.yaml", "sha256": "b" * 64, "language": "en", "chain": ["baseline-eu", "acme"], "document": {"name": "ACME privacy policy"}, "parameters": {"tls_min_version": "1.2", "backup_max_age_days": 30}},
        options={"concurrency": 16, "timeout": None, "only": [], "limit": [], "trust_on_first_use": False},
        targets=TARGETS,
        controls=CONTROLS,
        promises=PROMISES,
        findings=findings,
        facts=FACTS,
        summary=summarise(findings),
        notices=("the run was interrupted (Ctrl-C); targets not finished are reported as error",),
    )


@pytest.fixture
def doc() -> dict[str, Any]:
    return to_jsonable(make_run())


class Page(HTMLParser):
    """Collects the visible text, every attribute, and the text of <style> and <script>."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self.lang_text: dict[str, list[str]] = {}
        self._stack: list[tuple[str, str | None]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        self._stack.append((tag, dict(attrs).get("lang")))

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        tag = self._stack[-1][0] if self._stack else ""
        if tag in self.raw:
            self.raw[tag].append(data)
            return
        self.text.append(data)
        langs = [lang for _, lang in self._stack if lang]
        if langs:
            self.lang_text.setdefault(langs[-1], []).append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


# --- HTML ---------------------------------------------------------------------------------------


def test_html_shows_every_finding_with_its_evidence(doc: dict[str, Any]) -> None:
    page = Page(render_html(doc))
    text = page.all_text
    for finding in doc["findings"]:
        assert finding["message"] in text
    for f in doc["facts"]:
        for ev in f["evidence"]:
            assert ev["source"] in text
            assert ev["sha256"] in text
    assert "Redacted:" in text
    assert "no answer from shop.example:443 within 10 s" in text and "timeout" in text
    for key in ("inventories/example.yaml", "a" * 64, "policies/acme.yaml", "b" * 64, "tls_min_version", "backup_max_age_days"):
        assert key in text
    assert doc["notices"][0] in text


def test_html_header_and_incomplete_banner(doc: dict[str, Any]) -> None:
    html = render_html(doc)
    text = Page(html).all_text
    for value in ("ACME privacy policy", "example-hosting", "2026-01-01 00:00:00 UTC", "2026-01-01 00:00:02 UTC", doc["run_id"], "auditor 0.1.0"):
        assert value in text
    for value in (doc["started_at"], doc["finished_at"]):  # the machine form stays, in <time datetime>
        assert f'<time datetime="{value}">' in html
    assert "This run was interrupted; results are incomplete" in text
    complete = Page(render_html(to_jsonable(make_run(complete=True)))).all_text
    assert "interrupted" not in complete.replace(doc["notices"][0], "")


def test_html_quotes_promise_in_its_language(doc: dict[str, Any]) -> None:
    html = render_html(doc)
    assert re.search(r'<blockquote lang="sv">\s*' + re.escape(SV_QUOTE), html)
    assert SV_QUOTE in "".join(Page(html).lang_text["sv"])
    assert "https://example.se/integritet" in Page(html).all_text  # shown as text, never as a link


def test_html_escapes_excerpts(doc: dict[str, Any]) -> None:
    html = render_html(doc)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "\x07" not in html and "\\x07bell" in html
    assert "alert(1)" not in "".join(Page(html).raw["script"])


def test_html_is_self_contained(doc: dict[str, Any]) -> None:
    page = Page(render_html(doc))
    assert not [t for t, _, _ in page.attrs if t in ("link", "img", "iframe", "object", "embed", "base")]
    for tag, name, value in page.attrs:
        if name in ("src", "href", "action", "srcset", "poster", "data"):
            assert not re.match(r"\s*(https?:|//|data:|javascript:)", value, re.I), (tag, name, value)
            assert name == "href" and value.startswith("#"), (tag, name, value)
        if name == "style":
            assert "url(" not in value
    assert "url(" not in "".join(page.raw["style"]) and "@import" not in "".join(page.raw["style"])
    script = "".join(page.raw["script"])
    assert not re.search(r"fetch|XMLHttpRequest|import|https?:", script)


def test_html_promise_verdicts_and_other_controls(doc: dict[str, Any]) -> None:
    html = render_html(doc)
    articles = {m[1]: Page(m[0]).all_text for m in re.findall(r'(<article class="promise" id="(promise-\d+)">.*?</article>)', html, re.S)}
    assert len(articles) == len(PROMISES)
    expected = ["Not kept", "Not kept", "Could not verify", "Not checked", "Not checked"]
    for n, label in enumerate(expected, 1):
        assert f"Verdict: {label}." in articles[f"promise-{n}"]
    assert "did not run in this audit" in articles["promise-5"]
    other = Page(html.split('<section id="other-controls">')[1].split("</section>")[0]).all_text
    assert "PASSWORD-HASH-SCHEME" in other and "all accounts use SHA-512 crypt or stronger" in other
    assert not any("PASSWORD-HASH-SCHEME" in text for text in articles.values())
    text = Page(html).all_text
    assert "Not kept. At least one check failed." in text
    for label in ("Pass", "Fail", "Could not check", "Skipped", "Waived"):
        assert label in text  # status is spelled out, not only coloured


def test_verdict_rule() -> None:
    assert verdict(["pass", "fail", "error"]) == "fail"
    assert verdict(["pass", "error", "waived"]) == "error"
    assert verdict(["pass", "skipped"]) == "pass"
    assert verdict(["skipped", "waived"]) == verdict([]) == "none"


# --- JUnit --------------------------------------------------------------------------------------


def test_junit_validates_against_schema(doc: dict[str, Any]) -> None:
    xmlschema.XMLSchema(str(XSD)).validate(render_junit(doc))


def test_junit_counts_match_the_run(doc: dict[str, Any]) -> None:
    root = ET.fromstring(render_junit(doc).encode())
    by_status = doc["summary"]["by_status"]
    assert root.tag == "testsuites"
    assert int(root.get("tests")) == doc["summary"]["total"] == len(root.findall(".//testcase"))
    assert int(root.get("failures")) == by_status["fail"] == len(root.findall(".//failure"))
    assert int(root.get("errors")) == by_status["error"] == len(root.findall(".//error"))
    assert sum(int(s.get("skipped")) for s in root) == by_status["skipped"] + by_status["waived"] == len(root.findall(".//skipped"))
    assert [s.get("name") for s in root] == list(doc["summary"]["by_family"])
    for suite in root:
        counts = doc["summary"]["by_family"][suite.get("name")]
        assert int(suite.get("tests")) == sum(counts.values())
        assert int(suite.get("failures")) == counts["fail"] and int(suite.get("errors")) == counts["error"]


def test_junit_testcases_carry_findings(doc: dict[str, Any]) -> None:
    root = ET.fromstring(render_junit(doc).encode())
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {(f["control"], f["target"]) for f in doc["findings"]}
    failure = cases["DATA-LOCATION-EU", "aws:prod"].find("failure")
    assert failure.get("type") == "critical" and "us-east-1" in failure.get("message")
    assert cases["TLS-PROTOCOLS", "web:shop"].find("error").get("type") == "timeout"
    assert cases["BACKUP-RETENTION", "backup:nightly"].find("skipped").get("message").startswith("waived:")
    out = cases["ACCESS-SSH-ROOT-LOGIN", "server:web-1"].findtext("system-out")
    assert "sshd -T (exit 0)" in out and FACTS[0].evidence[0].sha256 in out
    assert "timeout" in cases["TLS-PROTOCOLS", "web:shop"].findtext("system-out")


def test_junit_strips_characters_illegal_in_xml(doc: dict[str, Any]) -> None:
    doc["findings"][0]["message"] = "bad\x00byte\x1b[31m and \ud83d lone surrogate"
    xml = render_junit(doc)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", xml)
    message = ET.fromstring(xml.encode()).find(".//failure").get("message")
    assert message == "bad\\x00byte\\x1b[31m and \\ud83d lone surrogate"
    assert printable("tab\tand\nnewline") == "tab\tand\nnewline"


# --- Markdown -----------------------------------------------------------------------------------


def test_markdown_lists_failures_and_escapes_pipes(doc: dict[str, Any]) -> None:
    md = render_markdown(doc)
    assert md.startswith("# ")
    assert "root can log in over SSH \\| PermitRootLogin is yes" in md
    problems = md.split("## Failures and errors", 1)[1]
    listed = [line for line in problems.splitlines() if line.startswith("- **")]
    assert len(listed) == 3
    assert listed[0].startswith("- **Fail** (critical) DATA-LOCATION-EU on aws:prod")  # failures first, most severe first
    assert listed[2].startswith("- **Could not check** (high) TLS-PROTOCOLS on web:shop")
    assert "results are incomplete" in md and "`report.html`" in md
    assert "| Fail | 2 |" in md and "| Total | 6 |" in md
    assert "| Password storage | 1 | 0 | 0 | 0 | 0 |" in md and "password\\_hashing" not in md  # the area in plain words, no snake_case id


def test_markdown_caps_the_list() -> None:
    many = tuple(Finding(f"CTRL-{i:03}", "server:web-1", Status.FAIL, f"failure {i}", Severity.LOW, "access", ()) for i in range(MAX_LISTED + 7))
    md = render_markdown(to_jsonable(make_run(findings=many)))
    assert "failure 49" in md and "failure 50" not in md
    assert "… and 7 more (all are in report.html)." in md


# --- Determinism and the report folder ------------------------------------------------------------


@pytest.mark.parametrize("render", [render_html, render_junit, render_markdown])
def test_rendering_is_deterministic_and_reproducible_from_run_json(doc: dict[str, Any], render: Any) -> None:
    first = render(doc)
    assert render(doc) == first
    assert render(json.loads(render_json(doc))) == first


def test_write_report_creates_folder_with_manifest(doc: dict[str, Any], tmp_path: Path) -> None:
    folder = write_report(doc, str(tmp_path), "20260101T000000Z")
    assert folder == os.path.join(str(tmp_path), "20260101T000000Z")
    names = {"run.json", "report.html", "junit.xml", "summary.md", "manifest.json"}
    assert set(os.listdir(folder)) == names
    assert os.listdir(tmp_path) == ["20260101T000000Z"]  # no hidden staging folder left behind
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, entry in manifest["files"].items():
        data = (Path(folder) / name).read_bytes()
        assert entry == {"sha256": sha256_hex(data), "bytes": len(data)}
    assert json.loads((Path(folder) / "run.json").read_text()) == doc
    with pytest.raises(FileExistsError):
        write_report(doc, str(tmp_path), "20260101T000000Z")
    assert os.listdir(tmp_path) == ["20260101T000000Z"]
