"""Per-promise verdicts are computed once, by the runner, and recorded in run.json; renderers only read them."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from auditor.inventory import load_inventory
from auditor.policy import load_policy
from auditor.registry import Registry
from auditor.report import run_document
from auditor.report.html import render_html
from auditor.runner import RunOptions, Runner
from auditor.verdicts import Result, Scope, promise_result, recorded_results, results_from_document

PROCESSORS = """
    processors:
      - name: ilait
        entity: ilait AB
        country: SE
        purpose: Drift.
        data_categories: [kontaktuppgifter]
      - name: google
        entity: Google LLC
        country: US
        purpose: Analys.
        data_categories: [analysdata]
      - name: other
        entity: Other Inc
        country: US
        purpose: Analys.
        data_categories: [analysdata]
"""
SERVER = """
    servers:
      - name: here
        connection: local
        country: SE
"""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(entry_points=False)


def _run(registry: Registry, path: str, **options: Any) -> dict[str, Any]:
    policy = load_policy("baseline-eu", registry)
    run = Runner(registry, load_inventory(path), policy, RunOptions(**options)).run()
    return run_document(run)


def _promise(doc: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in doc["promises"] if p["id"] == pid)


def test_the_run_records_each_promise_verdict_failing_checks_and_why_one_was_not_checked(registry, local_inventory) -> None:
    doc = _run(registry, local_inventory(PROCESSORS))
    transfers = _promise(doc, "GDPR-44-TRANSFERS")
    assert transfers["verdict"] == "fail"
    assert transfers["failing"] == [{"control": "DATA-PROCESSOR-LOCATION", "status": "fail", "targets": ["processor:google", "processor:other"], "n": 2}]
    assert transfers["counts"] == {"pass": 1, "fail": 2, "error": 0, "skipped": 0, "waived": 0}
    assert transfers["not_checked"] is None and transfers["not_checked_sv"] is None
    storage = _promise(doc, "GDPR-5-1-E-STORAGE-LIMITATION")
    assert storage["verdict"] == "none" and storage["failing"] == []
    assert storage["not_checked"] == "no server, backup or AWS account is declared in the inventory"
    assert storage["not_checked_sv"] == "inventariet anger inga servrar, säkerhetskopior eller AWS-konton"


def test_not_checked_because_of_only_or_limit_says_so(registry, local_inventory) -> None:
    path = local_inventory(SERVER + PROCESSORS)
    limited = _promise(_run(registry, path, limit=("google",)), "GDPR-32-SECURITY")
    assert limited["verdict"] == "none"
    assert limited["not_checked"] == "--limit google selected no server"
    assert limited["not_checked_sv"] == "--limit google valde inga servrar"
    only = _promise(_run(registry, path, only=("DATA-PROCESSOR-LOCATION",), limit=("processor:*",)), "GDPR-5-1-E-STORAGE-LIMITATION")
    assert only["verdict"] == "none"
    assert only["not_checked"] == "its checks were left out of this run by --only DATA-PROCESSOR-LOCATION"
    assert "--only DATA-PROCESSOR-LOCATION" in only["not_checked_sv"]


SCOPE = Scope(controls={"A-X": {"kinds": ["server"], "severity": "low"}, "B-Y": {"kinds": ["server"], "severity": "critical"}},
              excluded=frozenset(), only=(), limit=(), kinds_declared=frozenset({"server"}), kinds_audited=frozenset({"server"}))


def test_every_finding_skipped_gives_the_skip_reasons_in_both_languages() -> None:
    results = [Result("A-X", "server:a", "skipped", "Not applicable: no backup_paths declared", "Ej tillämplig: inga backup_paths angivna"),
               Result("A-X", "server:b", "skipped", "Not applicable: no backup_paths declared", "Ej tillämplig: inga backup_paths angivna"),
               Result("B-Y", "server:a", "skipped", "Not applicable: no MySQL")]
    got = promise_result(["A-X", "B-Y"], results, SCOPE)
    assert got["verdict"] == "none"
    assert got["not_checked"] == "every check was skipped: Not applicable: no backup_paths declared; Not applicable: no MySQL"
    assert got["not_checked_sv"] == "alla kontroller hoppades över: Ej tillämplig: inga backup_paths angivna; Not applicable: no MySQL"
    waived = promise_result(["A-X"], [Result("A-X", "server:a", "waived")], SCOPE)
    assert (waived["verdict"], waived["not_checked"]) == ("none", "every result is covered by a waiver (an accepted exception)")


def test_failing_lists_fail_before_error_then_by_severity() -> None:
    results = [Result("A-X", "server:a", "fail"), Result("B-Y", "server:a", "error"), Result("B-Y", "server:b", "fail"),
               Result("A-X", "server:b", "fail"), Result("A-X", "server:c", "pass")]
    got = promise_result(["A-X", "B-Y"], results, SCOPE)
    assert got["verdict"] == "fail"
    assert got["failing"] == [
        {"control": "B-Y", "status": "fail", "targets": ["server:b"], "n": 1},
        {"control": "A-X", "status": "fail", "targets": ["server:a", "server:b"], "n": 2},
        {"control": "B-Y", "status": "error", "targets": ["server:a"], "n": 1},
    ]
    assert promise_result(["A-X"], [Result("A-X", "server:a", "error"), Result("A-X", "server:b", "pass")], SCOPE)["verdict"] == "error"


def _verdict_shown(html: str, n: int) -> str:
    box = re.search(rf'<div class="verdict-box">.*?</span> ([^<]+)<span class="pnum">Promise {n}</span>', html)
    assert box, html[:2000]
    return box.group(1).strip()


def test_renderers_read_the_recorded_verdict_and_an_old_run_json_gets_the_same_from_the_same_function(registry, local_inventory) -> None:
    doc = _run(registry, local_inventory(PROCESSORS))
    old = copy.deepcopy(doc)
    for p in old["promises"]:
        for key in ("verdict", "failing", "counts", "not_checked", "not_checked_sv"):
            del p[key]
    recomputed, recorded = results_from_document(old), recorded_results(doc)
    keys = ("verdict", "failing", "counts")
    assert [{k: r[k] for k in keys} for r in recomputed] == [{k: r[k] for k in keys} for r in recorded]
    # an old run.json does not say which kinds of target the controls that did not run apply to: the reason is general
    assert [bool(r["not_checked"] and r["not_checked_sv"]) for r in recomputed] == [r["verdict"] == "none" for r in recorded]
    assert "<html" in render_html(old)  # `auditor render` of a run.json written before verdicts were recorded
    n = [p["id"] for p in doc["promises"]].index("GDPR-44-TRANSFERS") + 1
    assert _verdict_shown(render_html(doc), n) == "Not kept"
    doc["promises"][n - 1]["verdict"] = "pass"  # the renderer believes the run, it does not recompute
    assert _verdict_shown(render_html(doc), n) == "Kept"
