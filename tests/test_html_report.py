"""The HTML report (and summary.md) as a DPO reads them: promises first, in English or Swedish,
waivers, trend, filters' hooks, no URLs, deterministic, hostile text escaped.

Pure rendering tests on constructed run documents (schema 1.1, and 1.0 for
runs recorded before it); tests/test_browser.py opens the page in Chromium.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import re
import string
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from auditor.registry import Registry
from auditor.report import render_json
from auditor.report.html import render_html
from auditor.report.i18n import CATALOGUE, LANGUAGES, Translator, format_when, localized
from auditor.report.markdown import render_markdown

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "reports" / "examples"
AT = "2026-03-02T10:15:30.123Z"
SV_QUOTE = "Vi delar inga uppgifter med företag utanför EU."
HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)> {n} {label} %s"


# --- building run documents -------------------------------------------------------------------


def ev(source: str, excerpt: str, kind: str = "command", **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "source": source, "at": AT, "exit_status": 0 if kind == "command" else None, "excerpt": excerpt, "sha256": "e" * 64, "truncated": False, "redacted": False, "argv": source.split() if kind == "command" else None, "duration_ms": 9, **extra}


def fact(fid: str, *evidence: dict[str, Any], status: str = "ok", reason: str | None = None, message: str | None = None, sha: str | None = None) -> dict[str, Any]:
    target, _, name = fid.partition("/")
    out = {"id": fid, "target": target, "name": name, "collector": f"checks.{name}", "status": status, "collected_at": AT, "duration_ms": 41, "value": None, "reason": reason, "message": message, "transport": "ssh", "evidence": list(evidence)}
    if sha:
        out.update(tool_version="0.1.0", sha256=sha)
    return out


def finding(control: str, target: str, status: str, message: str, family: str, facts: tuple[str, ...] = (), reason: str | None = None, waiver: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"control": control, "target": target, "status": status, "message": message, "severity": "high", "family": family, "facts": list(facts), "details": {"k": "v"}, "reason": reason, "waiver": waiver}


def control(cid: str, family: str, title: str, kinds: tuple[str, ...] = ("server",)) -> dict[str, Any]:
    """A control entry as a run records it; a built-in control carries the Swedish texts it declares, a plug-in's none."""
    entry = {"id": cid, "family": family, "kinds": list(kinds), "title": title, "severity": "high", "rationale": f"Rationale of {cid}.", "references": ["GDPR Art. 32"], "facts": [], "params": []}
    known = _builtin_controls().get(cid)
    if known is not None:
        entry.update(title_sv=known.info.title_sv, remediation=known.info.remediation, remediation_sv=known.info.remediation_sv, plain=known.info.plain, plain_sv=known.info.plain_sv)
    return entry


@functools.lru_cache(maxsize=1)
def _builtin_controls() -> dict[str, Any]:
    return Registry.load(entry_points=False).controls


def waiver(wid: str, cid: str, target: str, expires: str, matched: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"id": wid, "control": cid, "target": target, "justification": f"Motivering för {wid}", "approver": "Anna Lindqvist", "expires": expires, "source": f"waivers.yaml:{len(wid)}", "matched": list(matched), **extra}


def summarise(findings: list[dict[str, Any]]) -> dict[str, Any]:
    statuses = ("pass", "fail", "error", "skipped", "waived")
    by_status = {s: 0 for s in statuses}
    by_family: dict[str, dict[str, int]] = {}
    for f in findings:
        by_status[f["status"]] += 1
        by_family.setdefault(f["family"], {s: 0 for s in statuses})[f["status"]] += 1
    return {"total": len(findings), "by_status": by_status, "by_family": by_family}


W_APPLIED = {"id": "W-1", "control": "TLS-PROTOCOLS", "target": "mail:*", "justification": "Kassasystem byts ut i januari", "approver": "Anna Lindqvist", "expires": "2027-01-31", "source": "waivers.yaml:3", "original_status": "fail"}


def make_doc(lang: str | None = "en", **changes: Any) -> dict[str, Any]:
    """A run with every kind of result: pass, fail, error (fact error), skipped, waived; five promises."""
    findings = [
        finding("ACCESS-SSH-ROOT-LOGIN", "server:web-1", "fail", "PermitRootLogin is yes", "access", ("server:web-1/sshd.effective_config",)),
        finding("ACCESS-SSH-ROOT-LOGIN", "server:db-1", "pass", "PermitRootLogin is no", "access", ("server:db-1/sshd.effective_config",)),
        finding("DATA-PROCESSOR-LOCATION", "processor:google", "fail", "Google is in US", "data_location", ("processor:google/inventory.processor",)),
        finding("TLS-PROTOCOLS", "web:shop", "error", "Could not verify: no answer from shop.example:443", "tls", ("web:shop/tls.protocols",), "timeout"),
        finding("TLS-PROTOCOLS", "mail:mx1", "waived", "mx1 accepts TLS 1.0", "tls", ("mail:mx1/tls.protocols",), waiver=dict(W_APPLIED)),
        finding("BACKUP-MAX-AGE", "server:web-1", "skipped", "Not applicable: no backup folder", "backup_retention", (), "not_applicable"),
        finding("PWHASH-SHADOW-SCHEMES", "server:web-1", "pass", "All accounts use yescrypt", "password_hashing", ("server:web-1/shadow.hash_schemes",)),
    ]
    doc: dict[str, Any] = {
        "schema_version": "1.1",
        "tool_version": "0.1.0",
        "run_id": "00000000-0000-4000-8000-00000000000a",
        "started_at": "2026-03-02T10:15:00.000Z",
        "finished_at": "2026-03-02T10:15:42.900Z",
        "complete": False,
        "lang": lang,
        "inventory": {"name": "hosting", "path": "inventories/hosting.yaml", "sha256": "a" * 64},
        "policy": {"id": "acme", "title": "ACME integritetspolicy", "path": "policies/acme.yaml", "sha256": "b" * 64, "language": "sv", "chain": ["baseline-eu", "acme"], "document": {"name": "Integritetspolicy", "retrieved": "2026-01-05"}, "parameters": {"backup_max_age_days": 35}},
        "options": {"concurrency": 4},
        "targets": [
            {"id": "server:web-1", "kind": "server", "name": "web-1", "address": "10.0.0.5", "tags": ["prod"], "groups": ["web"], "source": "inventories/hosting.yaml:4"},
            {"id": "server:db-1", "kind": "server", "name": "db-1", "address": "10.0.0.6", "tags": [], "groups": [], "source": "inventories/hosting.yaml:9"},
            {"id": "web:shop", "kind": "web", "name": "shop", "address": "shop.example", "tags": [], "groups": [], "source": "inventories/hosting.yaml:14"},
            {"id": "mail:mx1", "kind": "mail", "name": "mx1", "address": "mx1.example", "tags": [], "groups": [], "source": "inventories/hosting.yaml:18"},
            {"id": "processor:google", "kind": "processor", "name": "google", "address": None, "tags": [], "groups": [], "source": "inventories/hosting.yaml:22"},
        ],
        "controls": [
            control("ACCESS-SSH-ROOT-LOGIN", "access", "SSH does not allow root to log in"),
            control("DATA-PROCESSOR-LOCATION", "data_location", "Sub-processors receiving personal data are in the EU/EEA or covered by a safeguard", ("processor",)),
            control("TLS-PROTOCOLS", "tls", "Endpoints accept only current TLS versions", ("web", "mail")),
            control("BACKUP-MAX-AGE", "backup_retention", "Backups are deleted according to the backup schedule", ("backup", "server")),
            control("PWHASH-SHADOW-SCHEMES", "password_hashing", "System account passwords are stored with strong one-way hashes"),
            control("PLUGIN-UNTRANSLATED", "access", "A plug-in control without a Swedish title"),
        ],
        "promises": [
            {"id": "P-ACCESS", "quote": "Endast behörig personal når våra servrar.", "language": "sv", "source": {"document": "Integritetspolicy", "section": "5"}, "summary": {"en": "No root login over SSH.", "sv": "Ingen inloggning som root över SSH."}, "controls": ["ACCESS-SSH-ROOT-LOGIN"]},
            {"id": "P-EU", "quote": SV_QUOTE, "language": "sv", "source": {"document": "Integritetspolicy", "section": "4", "url": "https://example.se/integritet"}, "summary": "Personal data stays in the EU.", "controls": ["DATA-PROCESSOR-LOCATION"]},
            {"id": "P-TLS", "quote": "Data is encrypted in transit.", "language": "en", "source": {"document": "ACME terms"}, "summary": {"de": "Nur aktuelles TLS."}, "controls": ["TLS-PROTOCOLS"]},
            {"id": "P-WAIVED", "quote": "Vi krypterar e-post.", "language": "sv", "source": {"document": "Integritetspolicy"}, "summary": None, "controls": ["PLUGIN-UNTRANSLATED", "TLS-PROTOCOLS-MAIL-ONLY"]},
            {"id": "P-KEPT", "quote": "Lösenord lagras som hashar.", "language": "sv", "source": {"document": "Integritetspolicy"}, "summary": {"en": "Hashed passwords.", "sv": "Hashade lösenord."}, "controls": ["PWHASH-SHADOW-SCHEMES", "BACKUP-MAX-AGE"]},
        ],
        "findings": findings,
        "facts": [
            fact("server:web-1/sshd.effective_config", ev("sshd -T", "permitrootlogin yes\n")),
            fact("server:db-1/sshd.effective_config", ev("sshd -T", "permitrootlogin no\n", truncated=True), sha="f" * 64),
            fact("processor:google/inventory.processor", ev("inventories/hosting.yaml:22", "country: US", kind="inventory")),
            fact("web:shop/tls.protocols", status="error", reason="timeout", message="no answer from shop.example:443 within 10 s"),
            fact("mail:mx1/tls.protocols", ev("STARTTLS mx1.example:587", "TLSv1: accepted", kind="network")),
            fact("server:web-1/shadow.hash_schemes", ev("cat -- /etc/shadow", "root: yescrypt", kind="file", redacted=True), sha="c" * 64),
        ],
        "summary": summarise(findings),
        "notices": ["target backup:offsite was not audited: no control applies to it"],
        "waivers": {
            "file": "waivers.yaml",
            "sha256": "d" * 64,
            "applied": [waiver("W-1", "TLS-PROTOCOLS", "mail:*", "2027-01-31", ("TLS-PROTOCOLS|mail:mx1",))],
            "expired": [waiver("W-2", "DATA-PROCESSOR-LOCATION", "processor:google", "2026-02-28", ("DATA-PROCESSOR-LOCATION|processor:google",))],
            "unmatched": [waiver("W-3", "ACCESS-SSH-ROOT-LOGIN", "server:gone-*", "2026-12-31")],
            "not_needed": [waiver("W-4", "PWHASH-SHADOW-SCHEMES", "server:*", "2026-12-31", ("PWHASH-SHADOW-SCHEMES|server:web-1",))],
        },
        "trend": [
            {"run_id": "r1", "started_at": "2026-01-02T10:15:00.000Z", "complete": True, "by_status": {"pass": 2, "fail": 3, "error": 0, "skipped": 1, "waived": 0}, "by_family": {"access": {"pass": 1, "fail": 1, "error": 0}, "data_location": {"pass": 0, "fail": 1, "error": 0}, "tls": {"pass": 0, "fail": 1, "error": 0}, "backup_retention": {"skipped": 1}}},
            {"run_id": "r2", "started_at": "2026-02-02T10:15:00.000Z", "complete": False, "by_status": {"pass": 3, "fail": 1, "error": 2, "skipped": 1, "waived": 0}, "by_family": {"access": {"pass": 2, "fail": 0, "error": 0}, "data_location": {"pass": 0, "fail": 1, "error": 0}, "tls": {"pass": 0, "fail": 0, "error": 2}, "backup_retention": {"skipped": 1}}},
        ],
    }
    doc.update(changes)
    return doc


# --- reading the page ---------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCK = {"p", "div", "li", "ol", "ul", "td", "th", "tr", "table", "caption", "h1", "h2", "h3", "h4", "dl", "dt", "dd", "br", "blockquote", "section", "article", "header", "footer", "main", "summary", "details", "pre", "option", "select", "label", "button", "output", "title"}


class Page(HTMLParser):
    """Visible text (with the innermost lang of each piece), every attribute, <script>/<style> text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.pieces: list[tuple[str, str]] = []  # (lang, text)
        self.attrs: list[tuple[str, str, str]] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self.html_lang = ""
        self._stack: list[tuple[str, str | None]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag in BLOCK:
            self.pieces.append(("", " "))
        lang = dict(attrs).get("lang")
        if tag == "html":
            self.html_lang = lang or ""
        if tag not in VOID:
            self._stack.append((tag, lang))

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK:
            self.pieces.append(("", " "))
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        tag = self._stack[-1][0] if self._stack else ""
        if tag in self.raw:
            self.raw[tag].append(data)
            return
        langs = [lang for _, lang in self._stack if lang]
        self.pieces.append((langs[-1] if langs else "", data))

    def text(self, lang: str | None = None) -> str:
        """The visible text (of the pieces in ``lang`` only, when given), whitespace collapsed."""
        return " ".join("".join(t for l, t in self.pieces if lang is None or l == lang or not l.strip() and not t.strip()).split())


def section(html: str, element_id: str) -> str:
    """The HTML of the element with ``id`` up to its matching close tag (sections and articles nest shallowly)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"', html)
    assert match, f"no element with id {element_id}"
    tag, start, depth = match[1], match.start(), 0
    for m in re.finditer(rf"<(/?){tag}\b[^>]*>", html[start:]):
        depth += -1 if m[1] else 1
        if depth == 0:
            return html[start:start + m.end()]
    raise AssertionError(f"unclosed <{tag} id={element_id}>")


def cards(html: str) -> list[str]:
    return [Page(c).text() for c in re.findall(r'<li class="card v-\w+">.*?</li>', section(html, "answer"), re.S)]


@pytest.fixture(params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    return request.param


# --- the first screen ---------------------------------------------------------------------------


def test_promise_summary_comes_first_in_the_body(lang: str) -> None:
    html = render_html(make_doc(lang))
    body = html[html.index("<body>"):]
    answer = body.index('<section id="answer">')
    for later in ("<table", '<section id="promises"', '<section id="results"', '<section id="trend"', '<section id="waivers"', 'id="filters"', "<details"):
        assert answer < body.index(later), later
    t = Translator(lang)
    first = Page(body[:body.index("</section>", answer)])
    assert t("answer.heading") in first.text()
    quotes = re.findall(r'<blockquote lang="(\w+)">(.*?)</blockquote>', section(html, "answer"), re.S)
    assert quotes == [(p["language"], p["quote"]) for p in make_doc()["promises"]]  # every promise, in its own words and language


def test_each_promise_gets_its_verdict_and_counts() -> None:
    html = render_html(make_doc("en"))
    got = cards(html)
    assert len(got) == 5
    expected = [
        ("Not kept", "1 passed · 1 failed"),
        ("Not kept", "1 failed"),
        ("Could not verify", "1 could not be checked · 1 waived"),
        ("Not checked", "No result"),  # only a control that did not run and one that does not exist
        ("Kept", "1 passed · 1 skipped"),
    ]
    for text, (label, counts) in zip(got, expected):
        assert text.startswith(f"{ {'Not kept': '✗', 'Could not verify': '?', 'Not checked': '○', 'Kept': '✓'}[label]} {label}"), text
        assert counts in text, (counts, text)
    assert re.findall(r'<li class="card v-(\w+)">', html) == ["fail", "fail", "error", "none", "pass"]
    assert "Overall: Not kept. At least one check failed." in Page(section(html, "answer")).text()
    assert "Promises (5): Not kept: 2 · Could not verify: 1 · Kept: 1 · Not checked: 1" in Page(html).text()


def test_a_waiver_never_makes_a_promise_not_kept() -> None:
    doc = make_doc("en")
    mail_only = [f for f in doc["findings"] if f["target"] == "mail:mx1"]  # the waived finding alone
    doc["findings"] = mail_only + [finding("ACCESS-SSH-ROOT-LOGIN", "server:db-1", "pass", "PermitRootLogin is no", "access")]
    doc["promises"] = [dict(doc["promises"][2], controls=["TLS-PROTOCOLS"]), dict(doc["promises"][0])]
    doc["summary"] = summarise(doc["findings"])
    html = render_html(doc)
    waived_only, passed_only = cards(html)
    assert waived_only.startswith("○ Not checked") and "1 waived" in waived_only and "Not kept" not in waived_only
    assert passed_only.startswith("✓ Kept")
    doc["findings"].append(finding("TLS-PROTOCOLS", "web:shop", "pass", "TLS 1.2+", "tls"))
    waived_and_pass = cards(render_html(doc))[0]
    assert waived_and_pass.startswith("✓ Kept") and "1 passed · 1 waived" in waived_and_pass


def test_promise_summary_in_the_report_language() -> None:
    assert localized({"en": "E", "sv": "S"}, "sv") == "S"
    assert localized({"en": "E", "de": "D"}, "sv") == "E"
    assert localized({"fr": "F", "de": "D"}, "sv") == "D"  # any, deterministically
    assert localized("plain", "sv") == "plain" and localized(None, "sv") is None
    sv = Page(section(render_html(make_doc("sv")), "promises"))  # on the first screen a broken promise shows what fails instead
    text = sv.text()
    assert "Ingen inloggning som root över SSH." in text and "No root login over SSH." not in text
    assert "Personal data stays in the EU." in text  # a plain string is shown as written
    assert "Nur aktuelles TLS." in sv.text("de")  # neither sv nor en: the one there is, marked with its language
    en = Page(section(render_html(make_doc("en")), "promises")).text()
    assert "No root login over SSH." in en and "Ingen inloggning" not in en
    kept_sv, kept_en = cards(render_html(make_doc("sv")))[4], cards(render_html(make_doc("en")))[4]
    assert "Hashade lösenord." in kept_sv and "Hashed passwords." in kept_en  # a kept promise keeps its summary on the card


def with_interface(doc: dict[str, Any]) -> dict[str, Any]:
    """The run as the engine records it since issue 15: control texts in both languages, per-promise verdicts."""
    plain = {
        "ACCESS-SSH-ROOT-LOGIN": ("{n} server(s) let root log in over SSH", "{n} server(ar) låter root logga in över SSH",
                                  "Set PermitRootLogin no in sshd_config and reload sshd.", "Sätt PermitRootLogin no i sshd_config och läs om sshd."),
        "DATA-PROCESSOR-LOCATION": ("{n} sub-processor(s) outside the EU/EEA without a safeguard", "{n} underbiträde(n) utanför EU/EES utan skyddsåtgärd",
                                    "Sign standard contractual clauses or choose a processor in the EU/EEA.", "Teckna standardavtalsklausuler eller välj ett underbiträde inom EU/EES."),
    }
    for c in doc["controls"]:
        if c["id"] in plain:
            c.update(zip(("plain", "plain_sv", "remediation", "remediation_sv"), plain[c["id"]]))
            c.update(rationale_sv=f"Motivering för {c['id']}.", title_sv=f"Svensk titel {c['id']}")
    recorded = {
        "P-ACCESS": ("fail", [{"control": "ACCESS-SSH-ROOT-LOGIN", "status": "fail", "targets": ["server:web-1"], "n": 1}], None, None),
        "P-EU": ("fail", [{"control": "DATA-PROCESSOR-LOCATION", "status": "fail", "targets": ["processor:google"], "n": 1}], None, None),
        "P-TLS": ("error", [{"control": "TLS-PROTOCOLS", "status": "error", "targets": ["web:shop"], "n": 1}], None, None),
        "P-WAIVED": ("none", [], "no mail server is declared in the inventory", "ingen e-postserver är angiven i inventariet"),
        "P-KEPT": ("pass", [], None, None),
    }
    for p in doc["promises"]:
        v, failing, why, why_sv = recorded[p["id"]]
        p.update(verdict=v, failing=failing, not_checked=why, not_checked_sv=why_sv)
    return doc


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_each_card_says_what_fails_what_to_do_and_why_not_checked(lang: str) -> None:
    html = render_html(with_interface(make_doc(lang)))
    access, eu, tls, waived, kept = cards(html)
    if lang == "en":
        assert "Fail 1 server(s) let root log in over SSH (On: web-1) What to do: Set PermitRootLogin no in sshd_config and reload sshd." in access
        assert "1 sub-processor(s) outside the EU/EEA without a safeguard (On: google)" in eu
        assert "Could not check Endpoints accept only current TLS versions: could not be checked on 1 target (On: shop)" in tls
        assert "What to do" not in tls  # a control's remediation is for a failure, not for a check that could not run
        assert "Why: no mail server is declared in the inventory" in waived
    else:
        assert "Underkänd 1 server(ar) låter root logga in över SSH (Gäller: web-1) Åtgärd: Sätt PermitRootLogin no i sshd_config och läs om sshd." in access
        assert "Åtgärd: Teckna standardavtalsklausuler eller välj ett underbiträde inom EU/EES." in eu
        assert "Kunde inte kontrolleras Tjänsterna tar bara emot aktuella TLS-versioner: kunde inte kontrolleras på 1 system (Gäller: shop)" in tls
        assert "Varför: ingen e-postserver är angiven i inventariet" in waived
        assert "server(s)" not in access and "Why" not in waived
    assert not re.search(r"Fail |Underkänd ", kept)
    # each card names its source: the policy document and section
    t = Translator(lang)
    assert f"{t('promise.source')} {t('promise.section', section='5')}" in access  # the policy's own document: its section
    assert f"{t('promise.source')} Integritetspolicy, {t('promise.section', section='5')}" in Page(section(html, "promise-1")).text()
    assert f"{t('promise.source')} ACME terms" in tls


def test_cards_degrade_for_runs_recorded_before_the_engine_gave_verdicts() -> None:
    """No plain/remediation on the controls, no verdict/failing/not_checked on the promises (older run.json)."""
    def old(lang: str) -> dict[str, Any]:
        doc = make_doc(lang)
        for c in doc["controls"]:
            for key in ("title_sv", "rationale_sv", "remediation", "remediation_sv", "plain", "plain_sv"):
                c.pop(key, None)
        for p in doc["promises"]:
            for key in ("verdict", "failing", "counts", "not_checked", "not_checked_sv"):
                p.pop(key, None)
        return doc

    access, eu, tls, waived, kept = cards(render_html(old("sv")))
    # a run recorded before controls declared their Swedish texts shows the English title (marked as English)
    assert "Underkänd SSH does not allow root to log in: underkänd på 1 system (Gäller: web-1)" in access
    assert "Åtgärd:" not in access  # no remediation recorded: none invented
    assert "Varför: ingen av dess kontroller gav något resultat i den här körningen" in waived
    en = Page(section(render_html(old("en")), "answer"))
    assert "A plug-in control" not in en.text()


def test_recorded_verdicts_are_read_not_recomputed() -> None:
    doc = with_interface(make_doc("en"))
    doc["promises"][4]["verdict"] = "error"  # the engine's word is the renderer's
    doc["promises"][4]["counts"] = {"pass": 3, "error": 1}
    assert re.findall(r'<li class="card v-(\w+)">', render_html(doc)) == ["fail", "fail", "error", "none", "error"]
    assert "3 passed · 1 could not be checked" in cards(render_html(doc))[4]


def test_swedish_card_marks_english_fallbacks_with_their_language() -> None:
    doc = with_interface(make_doc("sv"))
    for c in doc["controls"]:
        c.pop("plain_sv", None), c.pop("remediation_sv", None), c.pop("rationale_sv", None)
    html = render_html(doc)
    answer = Page(section(html, "answer"))
    assert "1 server(s) let root log in over SSH" in answer.text("en")
    assert "Set PermitRootLogin no in sshd_config and reload sshd." in answer.text("en")
    assert "Rationale of ACCESS-SSH-ROOT-LOGIN." in Page(section(html, "promises")).text("en")
    sv = Page(section(render_html(with_interface(make_doc("sv"))), "promises"))
    assert "Motivering för ACCESS-SSH-ROOT-LOGIN." in sv.text() and "Motivering för" not in sv.text("en") and "Rationale of ACCESS-SSH-ROOT-LOGIN" not in sv.text()


def test_swedish_finding_messages_when_recorded() -> None:
    doc = make_doc("sv")
    doc["findings"][0]["message_sv"] = "PermitRootLogin är yes"
    sv = Page(section(render_html(doc), "promises"))
    assert "PermitRootLogin är yes" in sv.text() and "PermitRootLogin är yes" not in sv.text("en") and "PermitRootLogin is yes" not in sv.text()
    assert "PermitRootLogin is no" in sv.text("en")  # no Swedish recorded: the English, marked as such
    en = Page(section(render_html(dict(doc, lang="en")), "promises")).text()
    assert "PermitRootLogin is yes" in en and "PermitRootLogin är yes" not in en


# --- languages ----------------------------------------------------------------------------------


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogues_have_exactly_the_same_keys_and_placeholders() -> None:
    assert set(CATALOGUE) == set(LANGUAGES) == {"en", "sv"}
    assert set(CATALOGUE["sv"]) == set(CATALOGUE["en"])
    for key, en in CATALOGUE["en"].items():
        sv = CATALOGUE["sv"][key]
        assert en.strip() and sv.strip(), key
        assert _fields(en) == _fields(sv), key
    # the words the brief names
    sv = CATALOGUE["sv"]
    assert (sv["promise.label"], sv["verdict.pass"], sv["verdict.fail"], sv["verdict.error"], sv["verdict.none"]) == ("Löfte {n}", "Hålls", "Hålls inte", "Kunde inte verifieras", "Ej kontrollerat")
    assert [sv[f"status.{s}"] for s in ("pass", "fail", "error", "skipped", "waived")] == ["Godkänd", "Underkänd", "Kunde inte kontrolleras", "Hoppades över", "Undantagen"]


def test_reasons_and_evidence_kinds_the_engine_records_are_translated() -> None:
    from auditor.model import Reason

    keys = set(CATALOGUE["sv"])
    assert {f"reason.{r.value}" for r in Reason} <= keys
    assert {"reason.incomplete_evidence"} <= keys
    assert {f"evidence.{k}" for k in ("command", "file", "api", "inventory", "network", "query", "connection")} <= keys
    assert {f"family.{f}" for f in ("tls", "password_hashing", "data_location", "backup_retention", "access")} <= keys


def _english_fragments() -> dict[str, list[str]]:
    """key → literal pieces of its English string that differ from Swedish (placeholders cut out)."""
    shared = " ".join(CATALOGUE["sv"].values())
    out: dict[str, list[str]] = {}
    for key, en in CATALOGUE["en"].items():
        if en == CATALOGUE["sv"][key]:
            continue
        pieces = [p.strip(" .,:;()“”\"'·→/-") for p in re.split(r"\{\w+\}", en)]
        pieces = [p for p in pieces if len(re.findall(r"[A-Za-z]", p)) >= 4 and p not in shared]
        if pieces:
            out[key] = pieces
    return out


def _found(fragment: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(fragment)}(?!\w)", text) is not None


def test_swedish_report_leaks_no_english_fixed_string() -> None:
    doc = make_doc()
    en_page, sv_page = Page(render_html(dict(doc, lang="en"))), Page(render_html(dict(doc, lang="sv")))
    assert (en_page.html_lang, sv_page.html_lang) == ("en", "sv")
    fragments = _english_fragments()
    en_text = en_page.text("en")
    used = {key for key, pieces in fragments.items() if any(_found(p, en_text) for p in pieces)}
    assert len(used) >= 120, f"the document exercises only {len(used)} catalogue strings: the check below would prove little"
    sv_text = sv_page.text("sv")  # fixed strings; data recorded in English (messages, rationales) is marked lang="en"
    leaked = {key: p for key, pieces in fragments.items() for p in pieces if _found(p, sv_text)}
    assert leaked == {}
    assert "Hålls inte" in sv_text and "Löfte 1" in sv_text
    templates = [v for t, k, v in sv_page.attrs if k == "data-template"]
    assert templates == [CATALOGUE["sv"]["filters.shown"]]


def test_swedish_report_shows_swedish_control_titles() -> None:
    swedish = _builtin_controls()["ACCESS-SSH-ROOT-LOGIN"].info.title_sv
    sv = Page(render_html(make_doc("sv")))
    assert swedish in sv.text("sv")
    assert "SSH does not allow root to log in" not in sv.text()
    assert "A plug-in control without a Swedish title" in sv.text("en")  # no translation: the recorded title, marked English
    en = Page(render_html(make_doc("en"))).text()
    assert "SSH does not allow root to log in" in en and swedish not in en


def test_unknown_or_missing_language_renders_english() -> None:
    old = make_doc()
    del old["lang"]
    for doc in (old, make_doc(None), make_doc("de")):
        page = Page(render_html(doc))
        assert page.html_lang == "en" and "Are we keeping our promises?" in page.text()


def test_markdown_summary_in_swedish() -> None:
    doc = make_doc()
    en, sv = render_markdown(dict(doc, lang="en")), render_markdown(dict(doc, lang="sv"))
    assert sv.startswith("# Granskning av integritetslöften: ACME integritetspolicy på hosting")
    assert "**Hålls inte.** Minst en kontroll blev underkänd." in sv
    assert "| Underkänd | 2 |" in sv and "| Totalt | 7 |" in sv and "## Per område" in sv
    assert "| Åtkomstkontroll | 1 | 1 | 0 | 0 | 0 |" in sv
    assert "- **Underkänd** (hög) ACCESS-SSH-ROOT-LOGIN på server:web-1: PermitRootLogin is yes" in sv  # the message is data
    assert "2026-03-02 10:15:00 UTC till 2026-03-02 10:15:42 UTC" in sv
    assert "Undantaget W-2 (DATA-PROCESSOR-LOCATION, processor:google) gick ut 2026-02-28 och gäller inte längre." in sv
    assert "Expired" not in sv
    messages = " ".join(f["message"] for f in doc["findings"])
    leaked = {key: p for key, pieces in _english_fragments().items() for p in pieces if _found(p, sv) and not _found(p, messages)}
    assert leaked == {}
    assert "Applied: 1 · expired: 1 · matched nothing: 1 · not needed: 1" in en


# --- dates, integrity, self-containment ------------------------------------------------------------


def test_dates_are_iso_with_the_machine_form_kept(lang: str) -> None:
    html = render_html(make_doc(lang))
    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html)
    assert times and all(shown == format_when(raw) for raw, shown in times)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", shown) for _, shown in times)
    # an observation gathered on the run's day shows its time alone (the run's date heads the page)
    assert ", 10:15:30 UTC, via ssh" in Page(section(html, "evidence")).text()
    assert "T10:15" not in Page(html).text()  # no raw timestamp in the visible text
    assert format_when("2026-03-02T12:15:30+02:00") == "2026-03-02 10:15:30 UTC"
    assert format_when("2026-03-02") == "2026-03-02" and format_when("yesterday") == "yesterday"


def test_fact_digests_and_the_verify_footer(lang: str) -> None:
    doc = make_doc(lang)
    next(f for f in doc["facts"] if f.get("sha256"))["tool_version"] = "0.0.9"  # recorded by another version than the run's: said so
    html = render_html(doc)
    text = Page(html).text()
    t = Translator(lang)
    assert "f" * 64 in text and "c" * 64 in text  # fact digests, when the run has them
    assert text.count(t("fact.tool", version="0.0.9")) == 1
    assert t("footer.source", run_json="run.json", verify=f"auditor verify <{t('footer.folder')}>") in Page(section(html, "about").split("</section>")[0] + html[html.index("<footer>"):]).text()
    for digest in ("a" * 64, "b" * 64, "d" * 64, "e" * 64):
        assert digest in text


def test_page_is_self_contained(lang: str) -> None:
    page = Page(render_html(make_doc(lang)))
    assert not [t for t, _, _ in page.attrs if t in ("link", "img", "iframe", "object", "embed", "base", "source", "audio", "video")]
    for tag, name, value in page.attrs:
        if name in ("src", "href", "action", "srcset", "poster", "data", "formaction", "xlink:href"):
            assert name == "href" and re.fullmatch(r"#[\w-]+", value), (tag, name, value)
        assert "url(" not in value
    csp = [v for t, k, v in page.attrs if k == "content" and "default-src" in v]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"]
    style, script = "".join(page.raw["style"]), "".join(page.raw["script"])
    assert "url(" not in style and "@import" not in style
    assert not re.search(r"fetch|XMLHttpRequest|import|https?:|WebSocket|sendBeacon|\.src\b|location", script)
    assert "https://example.se/integritet" in page.text()  # a URL from the data is text, never a link


def test_hostile_text_is_escaped_everywhere() -> None:
    doc = make_doc("sv")
    doc["promises"][0]["quote"] = HOSTILE
    doc["promises"][0]["summary"] = {"sv": HOSTILE}
    doc["targets"][0]["name"] = HOSTILE
    doc["findings"][0]["message"] = HOSTILE
    doc["findings"][4]["waiver"]["justification"] = HOSTILE
    doc["findings"][4]["waiver"]["approver"] = "{expires}"
    doc["waivers"]["expired"][0]["expires"] = HOSTILE
    doc["trend"][0]["started_at"] = HOSTILE
    doc["controls"][5]["title"] = HOSTILE
    doc["notices"] = [HOSTILE]
    html = render_html(doc)
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = Page(html)
    assert "".join(page.raw["script"]).count("alert") == 0
    text = page.text()
    assert text.count(HOSTILE.replace("  ", " ")) >= 8  # shown literally, placeholders and all
    assert "godkänt av {expires}." in text  # data is never used as a format string
    assert not [a for a in page.attrs if a[1].startswith("on")]


# --- filters' hooks -------------------------------------------------------------------------------


def test_every_finding_carries_its_filter_attributes(lang: str) -> None:
    doc = make_doc(lang)
    html = render_html(doc)
    found = set()  # a finding is one table row of its control's section, which names the family
    for family, rows in re.findall(r'<section class="control" data-family="(\w+)">(.*?)</section>', html, re.S):
        found |= {(int(i), family, st, tg) for st, i, tg in re.findall(r'<tr class="finding s-(\w+)" data-finding="(\d+)" data-target="([^"]+)">', rows)}
    assert found == {(i, f["family"], f["status"], f["target"]) for i, f in enumerate(doc["findings"])}
    filters = section(html, "filters")
    assert re.search(r'<div id="filters" role="search" hidden>', filters)  # shown by the script only: nothing to click without JS
    values = dict.fromkeys(re.findall(r'<select id="filter-(\w+)"', filters))
    assert list(values) == ["family", "status", "target"]
    assert re.findall(r'<option value="([^"]*)">', filters.split('id="filter-family"')[1].split("</select>")[0]) == ["", "tls", "password_hashing", "data_location", "backup_retention", "access"]
    assert "server:web-1" in filters and "processor:google" in filters
    t = Translator(lang)
    assert t("filters.shown", shown=7, total=7) in Page(filters).text()


# --- waivers --------------------------------------------------------------------------------------


def test_waived_finding_shows_who_until_when_and_what_it_would_be() -> None:
    html = render_html(make_doc("en"))
    block = re.search(r'<tr class="finding s-waived".*?</tr>', html, re.S)[0]
    text = Page(block).text()
    assert text.startswith("Waived mx1")
    assert "Waived until 2027-01-31, approved by Anna Lindqvist." in text
    assert "Justification: Kassasystem byts ut i januari" in text
    assert "Without the waiver this result would be: Fail" in text
    assert "Waiver W-1, waivers.yaml:3" in text


def test_waivers_section_lists_applied_expired_unmatched_and_not_needed() -> None:
    html = render_html(make_doc("en"))
    text = Page(section(html, "waivers")).text()
    assert "waivers.yaml" in text and "d" * 64 in text
    order = [text.index(h) for h in ("Applied (1)", "Expired (1)", "Matched nothing (1)", "Not needed (1)")]
    assert order == sorted(order)
    applied, expired, unmatched, not_needed = (text[a:b] for a, b in zip(order, order[1:] + [len(text)]))
    assert "W-1" in applied and "mail:*" in applied and "mail:mx1" in applied and "W-2" not in applied
    assert "W-2" in expired and "Expired on 2026-02-28, no longer applies." in expired
    assert "W-3" in unmatched and "server:gone-*" in unmatched and "match no result" in unmatched
    assert "W-4" in not_needed and "only results that passed" in not_needed
    first = Page(section(html, "answer")).text()
    assert "Accepted exceptions (waivers): applied 1, expired 1." in first


@pytest.mark.parametrize("waivers", [None, "absent"])
def test_no_waiver_section_without_a_waiver_file(waivers: Any) -> None:
    doc = make_doc("en")
    if waivers == "absent":
        del doc["waivers"]
    else:
        doc["waivers"] = waivers
    html = render_html(doc)
    assert 'id="waivers"' not in html and "Accepted exceptions" not in html


def test_empty_waiver_file_and_empty_groups() -> None:
    doc = make_doc("sv", waivers={"file": "w.yaml", "sha256": "0" * 64, "applied": [], "expired": [], "unmatched": [], "not_needed": []})
    text = Page(section(render_html(doc), "waivers")).text()
    assert "Undantagsfilen innehåller inga undantag." in text and "w.yaml" in text
    doc["waivers"]["expired"] = [waiver("W-9", "TLS-PROTOCOLS", "web:*", "2026-01-01")]
    text = Page(section(render_html(doc), "waivers")).text()
    assert "Utgångna (1)" in text and "Gick ut 2026-01-01, gäller inte längre." in text
    assert "Tillämpade (0) Inga." in text


# --- trend ----------------------------------------------------------------------------------------


def _rows(html: str) -> list[list[str]]:
    table = section(html, "trend")
    return [[Page(c).text() for c in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row, re.S)] for row in re.findall(r"<tr[^>]*>.*?</tr>", table, re.S)]


def test_trend_table_per_family_with_this_run_and_the_change() -> None:
    html = render_html(make_doc("en"))
    rows = _rows(html)
    header, first, second, this, change = rows
    assert header == ["Run", "Encryption", "Passwords", "Data location", "Backups", "Access"]  # plain-language area names, no snake_case ids
    assert first == ["2026-01-02 10:15:00 UTC", "0 / 1 / 0", "–", "0 / 1 / 0", "0 / 0 / 0", "1 / 1 / 0"]
    assert second == ["2026-02-02 10:15:00 UTC (interrupted)", "0 / 0 / 2", "–", "0 / 1 / 0", "0 / 0 / 0", "2 / 0 / 0"]
    assert this == ["This run 2026-03-02 10:15:00 UTC (interrupted)", "0 / 0 / 1", "1 / 0 / 0", "0 / 1 / 0", "0 / 0 / 0", "1 / 1 / 0"]
    # tls: errors 2 → 1 (better); passwords: not in the previous run (new); data: same; access: a new failure (worse)
    assert change == ["Change since the previous run", "Better", "New", "Unchanged", "Unchanged", "Worse"]
    text = Page(section(html, "trend")).text()
    assert "Compared with the previous run (2026-02-02 10:15:00 UTC): failed 1 → 2, could not check 2 → 1. Mixed" in text


def test_trend_keeps_the_last_ten_earlier_runs() -> None:
    earlier = [{"run_id": f"r{i}", "started_at": f"2025-{i:02d}-01T00:00:00.000Z", "complete": True, "by_status": {"fail": i}, "by_family": {"access": {"fail": i}}} for i in range(1, 13)]
    rows = _rows(render_html(make_doc("en", trend=earlier)))
    dates = [r[0] for r in rows[1:-2]]
    assert dates == [f"2025-{i:02d}-01 00:00:00 UTC" for i in range(3, 13)]


@pytest.mark.parametrize("trend", [[], None, "absent"])
def test_no_trend_section_without_history(trend: Any) -> None:
    doc = make_doc("en")
    if trend == "absent":
        del doc["trend"]
    else:
        doc["trend"] = trend
    html = render_html(doc)
    assert 'id="trend"' not in html and "Since previous runs" not in html


# --- older runs, determinism, the example ------------------------------------------------------------


def test_schema_1_0_run_renders() -> None:
    doc = make_doc()
    for key in ("lang", "waivers", "trend"):
        del doc[key]
    for f in doc["findings"]:
        del f["waiver"]
    for f in doc["facts"]:
        f.pop("sha256", None)
        f.pop("tool_version", None)
    doc["findings"][4]["status"] = "fail"
    doc["summary"] = summarise(doc["findings"])
    html = render_html(doc)
    text = Page(html).text()
    assert "Are we keeping our promises?" in text and "Waived until" not in text and "Digest of this observation" not in text
    assert render_markdown(doc).startswith("# Privacy promise audit: ")


@pytest.mark.parametrize("render", [render_html, render_markdown])
def test_rendering_is_deterministic(lang: str, render: Any) -> None:
    doc = make_doc(lang)
    first = render(doc)
    assert render(copy.deepcopy(doc)) == first
    assert render(json.loads(render_json(doc))) == first
    assert render(make_doc(lang)) == first


def _example_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_example", EXAMPLES / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_example_is_a_report_folder_that_verifies(capsys: Any) -> None:
    """`auditor verify` on the example shipped in the repository: intact, every file listed in its manifest."""
    from auditor.cli import main

    folder = EXAMPLES / _example_module().FOLDER
    assert main(["verify", str(folder)]) == 0, "run `python reports/examples/make_example.py` to regenerate"
    out = capsys.readouterr().out
    assert f"{folder}: intact (4 files, " in out and "ALTERED" not in out
    assert sorted(p.name for p in folder.iterdir()) == ["junit.xml", "manifest.json", "report.html", "run.json", "summary.md"]


def test_example_files_are_current_and_reproducible() -> None:
    example = _example_module()
    doc = example.build("sv")
    assert doc == example.build("sv")
    stale = "run `python reports/examples/make_example.py` to regenerate"
    folder = EXAMPLES / example.FOLDER
    assert (folder / "run.json").read_text(encoding="utf-8") == render_json(doc), stale
    assert (folder / "report.html").read_text(encoding="utf-8") == render_html(doc), stale
    assert (folder / "summary.md").read_text(encoding="utf-8") == render_markdown(doc), stale
    statuses = {f["status"] for f in doc["findings"]}
    assert statuses >= {"pass", "fail", "error", "waived"}
    assert len(doc["trend"]) == 3 and len(doc["waivers"]["applied"]) == 1 and len(doc["waivers"]["expired"]) == 1
    policy = (ROOT / "auditor" / "policies" / "webbplats-nu.yaml").read_text(encoding="utf-8")
    flat = " ".join(policy.split())
    for p in doc["promises"]:
        assert p["quote"] in flat, p["id"]  # the policy's own words


# --- fleet size: each fact once, identical excerpts once, long outputs by the lines read ------------


READ = "permitrootlogin no\npasswordauthentication no\nciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr\n"
SSHD_T = "".join(f"setting{i} value{i}\n" for i in range(80)) + READ


def fleet_doc(servers: int) -> dict[str, Any]:
    doc = make_doc("en")
    doc["targets"], doc["facts"], doc["findings"] = [], [], []
    for i in range(servers):
        tid = f"server:s{i}"
        doc["targets"].append({"id": tid, "kind": "server", "name": f"s{i}", "address": f"10.0.1.{i}", "tags": [], "groups": [], "source": f"inv.yaml:{i}"})
        doc["facts"].append(fact(f"{tid}/sshd.effective_config", ev("sudo -n -- sshd -T", SSHD_T), sha=f"{i:064x}"))
        for cid, key in (("ACCESS-SSH-ROOT-LOGIN", "permitrootlogin"), ("TLS-PROTOCOLS", "passwordauthentication")):
            f = finding(cid, tid, "pass", f"{key} is no", "access", (f"{tid}/sshd.effective_config",))
            f["details"] = {key: "no", "offered": {"ciphers": ["aes256-gcm@openssh.com"]}}
            doc["findings"].append(f)
    doc["summary"] = summarise(doc["findings"])
    return doc


def test_each_fact_is_shown_once_and_findings_link_to_it() -> None:
    html = render_html(fleet_doc(3))
    assert html.count('<div class="fact" id="fact-') == 3  # three facts, each cited by two findings
    rows = re.findall(r'<tr class="finding s-pass" data-finding="\d+" data-target="server:(s\d)"><td>Pass</td><td><a href="#(evidence-\d+)">\1</a>', html)
    assert len(rows) == 6 and len(set(rows)) == 3  # each finding links to its target's evidence ...
    for _, anchor in set(rows):
        assert section(html, anchor).count('<div class="fact" id="fact-') == 1  # ... where its one fact is
    evidence = Page(section(html, "evidence")).text()
    for i in range(3):
        assert f"{i:064x}" in evidence  # every fact keeps its digest ...
    assert evidence.count("Command run: sudo -n -- sshd -T") == 3  # ... and its source


def test_long_keyword_output_shows_the_lines_the_checks_read_and_identical_excerpts_once() -> None:
    html = render_html(fleet_doc(3))
    excerpts = re.findall(r'<pre[^>]*>(.*?)</pre>', section(html, "evidence"), re.S)
    assert excerpts == [READ]  # once, for three servers
    text = Page(section(html, "evidence")).text()
    assert text.count("Shown: the 3 of 83 lines the checks read. The whole output is in run.json; the digest covers it.") == 3
    assert text.count("The same output as shown earlier.") == 2
    same = re.findall(r'The same output as <a href="#(ex-\d+)">', html)
    assert same and all(f'id="{anchor}"' in html for anchor in same)
    assert "setting1 value1" not in html


def test_fleet_report_grows_slowly_per_server() -> None:
    small, large = len(render_html(fleet_doc(10))), len(render_html(fleet_doc(110)))
    assert (large - small) / 100 < 3000, (large - small) / 100  # bytes per server with 2 findings and one 4 KB-class output


def test_a_200_server_report_stays_under_3_mb() -> None:
    """Issue 15: a constructed 200-server run (the shipped example's servers replicated, bench/report_size.py) gives ≤ 3 MB."""
    spec = importlib.util.spec_from_file_location("report_size", Path(__file__).parent.parent / "bench" / "report_size.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    doc = bench.constructed_run(json.loads(Path(bench.EXAMPLE).read_text(encoding="utf-8")), 200)
    assert sum(1 for t in doc["targets"] if t["kind"] == "server") == 200 and len(doc["findings"]) > 1000
    size = len(render_html(doc).encode("utf-8"))
    assert size <= 3_000_000, f"{size:,} bytes"
    assert size / 200 <= 6_000  # per server, with room: 4.7 KB when measured; the markup before it gave 8.4 KB (1,685,570 bytes)
