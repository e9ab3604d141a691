"""Finding messages in both languages: an evaluator gives ``sv(english, swedish)``; the run records
``message`` and ``message_sv``; summary.md (and report.html) in Swedish show the Swedish one.

Every control is judged on the facts recorded by a real run (tests/data/readme-sample-facts.json) and
on constructed facts that reach its failing branches; wherever a Swedish message exists it must be a
translation: non-empty, not the English text, with the same numbers and names in it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from auditor.model import Fact, Finding, Severity, Status, Target
from auditor.policy import load_policy
from auditor.registry import Registry, failed, sv
from auditor.report.markdown import render_markdown
from auditor.runner import RunOptions, Runner

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "data" / "readme-sample-facts.json"

# Controls whose evaluators give every message in Swedish too (grow this set as controls are translated).
TRANSLATED = {
    "DATA-DECLARED-LOCATION", "DATA-PROCESSOR-LOCATION", "PWHASH-SHADOW-SCHEMES", "PWHASH-SHADOW-EMPTY",
    "ACCESS-SSH-ROOT-LOGIN", "ACCESS-SSH-PASSWORD-AUTH", "ACCESS-SSH-KBD-INTERACTIVE", "ACCESS-SSH-EMPTY-PASSWORDS",
    "ACCESS-SSH-MAX-AUTH-TRIES", "ACCESS-SSH-CRYPTO",
}
ENGLISH_WORDS = re.compile(r"\b(the|is|are|and|not|with|without|has|have|outside|policy|account|accounts|allowed|only)\b")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(entry_points=False)


@pytest.fixture(scope="module")
def runner(registry: Registry) -> Runner:
    from auditor.inventory import load_inventory

    inventory = load_inventory(str(ROOT / "inventories" / "localhost.yaml"))
    return Runner(registry, inventory, load_policy("baseline-eu", registry), RunOptions())


def _fact(target: Target, name: str, value: Any, status: str = "ok") -> Fact:
    return Fact(id=f"{target.id}/{name}", target=target.id, name=name, collector=name, status=status, collected_at="2026-01-01T00:00:00Z", duration_ms=0, value=value)


def _judge(runner: Runner, registry: Registry, cid: str, target: Target, values: dict[str, Any]) -> Finding:
    return runner.evaluate(registry.controls[cid], target, {name: _fact(target, name, v) for name, v in values.items()})


def _unquoted(text: str) -> str:
    """The text without what it quotes verbatim: `code` and parenthesised parts, nested ones included ("(x (y) z)")."""
    text = re.sub(r"`[^`]*`", "", text)
    while (inner := re.sub(r"\([^()]*\)", "", text)) != text:
        text = inner
    return text


def assert_translated(f: Finding) -> None:
    assert f.message_sv, (f.control, f.message)
    assert f.message_sv != f.message, (f.control, f.message)
    assert re.findall(r"\d+", f.message_sv) == re.findall(r"\d+", f.message), (f.control, f.message, f.message_sv)
    leaked = ENGLISH_WORDS.findall(_unquoted(f.message_sv))
    assert not leaked, (f.control, f.message_sv, leaked)


SERVER = Target("server:web1", "server", "web1", "web1.example.se")
PROCESSOR = Target("processor:google", "processor", "google")


def _sshd(**settings: str) -> dict[str, Any]:
    base = {"permitrootlogin": "no", "passwordauthentication": "no", "kbdinteractiveauthentication": "no", "permitemptypasswords": "no",
            "maxauthtries": "3", "ciphers": "chacha20-poly1305@openssh.com", "macs": "hmac-sha2-512-etm@openssh.com", "kexalgorithms": "curve25519-sha256"}
    base.update(settings)
    return {"sshd.effective_config": {k: [v] for k, v in base.items()}}


CASES: list[tuple[str, Target, dict[str, Any], str]] = [
    ("DATA-PROCESSOR-LOCATION", PROCESSOR, {"inventory.location": {"country": "US", "safeguard": "none"}}, "fail"),
    ("DATA-PROCESSOR-LOCATION", PROCESSOR, {"inventory.location": {"country": "SE"}}, "pass"),
    ("DATA-PROCESSOR-LOCATION", PROCESSOR, {"inventory.location": {"country": "SE", "transfers_personal_data": False}}, "pass"),
    ("DATA-DECLARED-LOCATION", SERVER, {"inventory.location": {"country": "US"}}, "fail"),
    ("DATA-DECLARED-LOCATION", SERVER, {"inventory.location": {"country": "SE", "region": "Stockholm"}}, "pass"),
    ("DATA-DECLARED-LOCATION", SERVER, {"inventory.location": {}}, "skipped"),
    ("PWHASH-SHADOW-SCHEMES", SERVER, {"shadow.hash_schemes": [{"account": "anna", "scheme": "md5crypt", "locked": False}]}, "fail"),
    ("PWHASH-SHADOW-SCHEMES", SERVER, {"shadow.hash_schemes": [{"account": "anna", "scheme": "yescrypt", "locked": False}]}, "pass"),
    ("PWHASH-SHADOW-SCHEMES", SERVER, {"shadow.hash_schemes": [{"account": "root", "scheme": "none", "locked": True}]}, "pass"),
    ("PWHASH-SHADOW-EMPTY", SERVER, {"shadow.hash_schemes": [{"account": "guest", "scheme": "empty", "locked": False}]}, "fail"),
    ("PWHASH-SHADOW-EMPTY", SERVER, {"shadow.hash_schemes": [{"account": "anna", "scheme": "yescrypt", "locked": False}]}, "pass"),
    ("ACCESS-SSH-ROOT-LOGIN", SERVER, _sshd(permitrootlogin="yes"), "fail"),
    ("ACCESS-SSH-ROOT-LOGIN", SERVER, _sshd(), "pass"),
    ("ACCESS-SSH-PASSWORD-AUTH", SERVER, _sshd(passwordauthentication="yes"), "fail"),
    ("ACCESS-SSH-PASSWORD-AUTH", SERVER, _sshd(), "pass"),
    ("ACCESS-SSH-KBD-INTERACTIVE", SERVER, _sshd(kbdinteractiveauthentication="yes"), "fail"),
    ("ACCESS-SSH-EMPTY-PASSWORDS", SERVER, _sshd(permitemptypasswords="yes"), "fail"),
    ("ACCESS-SSH-MAX-AUTH-TRIES", SERVER, _sshd(maxauthtries="10"), "fail"),
    ("ACCESS-SSH-MAX-AUTH-TRIES", SERVER, _sshd(), "pass"),
    ("ACCESS-SSH-CRYPTO", SERVER, _sshd(ciphers="aes128-cbc"), "fail"),
    ("ACCESS-SSH-CRYPTO", SERVER, _sshd(), "pass"),
]


@pytest.mark.parametrize("cid, target, values, expected", CASES, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)])
def test_constructed_facts_give_both_languages(runner: Runner, registry: Registry, cid: str, target: Target, values: dict[str, Any], expected: str) -> None:
    f = _judge(runner, registry, cid, target, values)
    assert f.status.value == expected, f.message
    assert_translated(f)


def test_every_translated_control_has_constructed_cases_for_pass_and_fail() -> None:
    covered = {(cid, expected) for cid, _, _, expected in CASES}
    assert {cid for cid, _ in covered} == TRANSLATED
    assert all((cid, "fail") in covered for cid in TRANSLATED)


def test_every_control_on_recorded_facts_gives_a_swedish_message_where_it_has_one(runner: Runner, registry: Registry) -> None:
    """The facts of a real run, judged by every control that applies: each Swedish message is a translation."""
    stored = json.loads(RECORDED.read_text())
    facts = stored["facts"]["server:localhost"]
    target = Target("server:localhost", "server", "localhost", None)
    judged = 0
    for control in registry.controls_for("server"):
        if not all(name in facts for name in control.info.facts):
            continue
        by_name = {name: Fact(id=f"{target.id}/{name}", target=target.id, name=name, collector=name, collected_at=stored["started_at"], duration_ms=0,
                              status=f["status"], value=f["value"], reason=f["reason"], message=f["message"]) for name, f in facts.items()}
        f = runner.evaluate(control, target, by_name)
        judged += 1
        if f.message_sv is not None:
            assert_translated(f)
        elif f.status in (Status.PASS, Status.FAIL):
            assert control.id not in TRANSLATED, f"{control.id} is listed as translated but gave no Swedish message: {f.message}"
    assert judged >= 15


def test_swedish_summary_shows_the_swedish_message_and_english_the_english(registry: Registry) -> None:
    message = failed(sv("root can log in over SSH", "root kan logga in över SSH"))
    finding = {"control": "ACCESS-SSH-ROOT-LOGIN", "target": "server:web1", "status": "fail", "severity": "high", "family": "access",
               "message": message.message, "message_sv": message.message_sv}
    doc = {"policy": {"id": "p"}, "inventory": {"name": "i"}, "summary": {"by_status": {"fail": 1}, "total": 1}, "findings": [finding], "complete": True}
    sv_md, en_md = render_markdown({**doc, "lang": "sv"}), render_markdown({**doc, "lang": "en"})
    assert "root kan logga in över SSH" in sv_md and "root can log in over SSH" not in sv_md
    assert "root can log in over SSH" in en_md and "root kan logga in" not in en_md
    old = {**doc, "lang": "sv", "findings": [{k: v for k, v in finding.items() if k != "message_sv"}]}
    assert "root can log in over SSH" in render_markdown(old)  # no Swedish recorded: the English message


def test_the_recorded_message_sv_reaches_run_json(registry: Registry) -> None:
    from auditor.model import to_jsonable

    f = Finding("X-Y", "server:a", Status.FAIL, "en", Severity.LOW, "access", message_sv="sv")
    assert to_jsonable(f)["message_sv"] == "sv"


def test_a_fact_that_could_not_be_gathered_is_framed_in_swedish_too(runner: Runner, registry: Registry) -> None:
    """The runner's own frame ("Could not verify: …", "Not applicable: …") is in both languages; the cause
    stays in the transport's words."""
    target = Target(id="server:web1", kind="server", name="web1")
    error = Fact(id="server:web1/sshd.effective_config", target=target.id, name="sshd.effective_config", collector="sshd.effective_config",
                 status="error", collected_at="2026-01-01T00:00:00Z", duration_ms=0, reason="timeout", message="timed out after 15s")
    f = runner.evaluate(registry.controls["ACCESS-SSH-ROOT-LOGIN"], target, {error.name: error})
    assert (f.status, f.message, f.message_sv) == (Status.ERROR, "Could not verify: timed out after 15s", "Kunde inte verifieras: timed out after 15s")
    skipped = Fact(id="server:web1/sshd.effective_config", target=target.id, name="sshd.effective_config", collector="sshd.effective_config",
                   status="skipped", collected_at="2026-01-01T00:00:00Z", duration_ms=0, reason="not_applicable", message="no sshd here")
    f = runner.evaluate(registry.controls["ACCESS-SSH-ROOT-LOGIN"], target, {skipped.name: skipped})
    assert (f.status, f.message_sv) == (Status.SKIPPED, "Ej tillämplig: no sshd here")
