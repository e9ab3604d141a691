"""``auditor diff``: categories, warnings, exit codes, renderers and loading, on constructed runs
(plus one pair of real runs made by ``auditor run``)."""

from __future__ import annotations

import json
import os
import random
import re

import pytest

from auditor.cli import main
from auditor.diff import (
    CATEGORIES,
    LAPSED,
    Change,
    RunDiff,
    diff_exit_code,
    diff_runs,
    load_run,
    render_json,
    render_markdown,
    render_text,
    to_dict,
)
from auditor.errors import InputError
from auditor.report import render_json as render_run_json, write_report

FAMILY = {"ACCESS": "access", "TLS": "tls", "BACKUP": "backup_retention", "PWHASH": "password_hashing", "DATA": "data_location"}


# ------------------------------------------------------------------ builder


def finding(control: str, target: str, status: str, *, severity: str = "high", message: str | None = None, waiver: dict | None = None) -> dict:
    f = {
        "control": control,
        "target": target,
        "status": status,
        "message": message if message is not None else f"{control} on {target} is {status}",
        "severity": severity,
        "family": FAMILY[control.split("-")[0]],
        "facts": [f"{target}/fact"],
        "details": {},
        "reason": "timeout" if status == "error" else None,
    }
    if waiver is not None or status == "waived":
        f["waiver"] = waiver
    return f


def waiver(wid: str, control: str, target: str, *, original: str = "fail", expires: str = "2026-03-31") -> dict:
    return {"id": wid, "control": control, "target": target, "justification": "migration to the new cluster in progress", "approver": "dpo@example.se", "expires": expires, "source": "waivers.yaml:3", "original_status": original}


def run_doc(findings: list[dict], *, run_id: str | None = None, started_at: str = "2026-01-01T00:00:00.000Z", targets: list[str] | None = None, controls: list[str] | None = None,
            policy: str = "baseline-eu", policy_sha: str = "a" * 64, inventory: str = "prod", inventory_sha: str = "b" * 64, complete: bool = True,
            schema: str = "1.1", tool_version: str = "0.1.0", parameters: dict | None = None, options: dict | None = None, waivers: dict | None = None) -> dict:
    """A run document as ``auditor run`` writes it (schema 1.1 keys only when ``schema`` is 1.1)."""
    run_id = run_id or started_at.replace("-", "").replace(":", "")[:15] + "Z"  # like the report folder name
    targets = targets if targets is not None else sorted({f["target"] for f in findings})
    controls = controls if controls is not None else sorted({f["control"] for f in findings})
    by_status = {s: sum(f["status"] == s for f in findings) for s in ("pass", "fail", "error", "skipped", "waived")}
    doc = {
        "schema_version": schema,
        "tool_version": tool_version,
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": started_at.replace("00.000Z", "42.000Z"),
        "complete": complete,
        "inventory": {"name": inventory, "path": "/srv/audit/prod.yaml", "sha256": inventory_sha},
        "policy": {"id": policy, "title": policy, "path": None, "sha256": policy_sha, "language": "en", "chain": [policy], "document": {}, "parameters": parameters or {"ssh_max_auth_tries": 4}},
        "options": options or {"concurrency": 16, "timeout": None, "host_timeout": 300, "only": [], "limit": [], "trust_on_first_use": False},
        "targets": [{"id": t, "kind": t.split(":")[0], "name": t.split(":")[1], "address": None, "tags": [], "groups": [], "source": "prod.yaml:3"} for t in targets],
        "controls": [{"id": c, "family": FAMILY[c.split("-")[0]], "kinds": ["server"], "title": c, "severity": "high", "rationale": "", "references": [], "facts": [], "params": []} for c in controls],
        "promises": [],
        "findings": findings,
        "facts": [{"id": f"{f['target']}/fact", "target": f["target"], "name": "fact", "collector": "checks.x", "status": "ok", "collected_at": started_at, "duration_ms": 3, "value": None, "reason": None, "message": None, "transport": "local", "evidence": []} for f in findings],
        "summary": {"total": len(findings), "by_status": by_status, "by_family": {}},
        "notices": [],
    }
    if schema == "1.1":
        for fact in doc["facts"]:
            fact["tool_version"] = tool_version
            fact["sha256"] = "c" * 64
        for f in findings:
            f.setdefault("waiver", None)
        doc["waivers"] = waivers
        doc["trend"] = []
        doc["lang"] = "en"
    return doc


LATER = "2026-02-01T00:00:00.000Z"


def keys(changes: tuple[Change, ...]) -> list[tuple[str, str]]:
    return [(c.control, c.target) for c in changes]


def categories(d: RunDiff) -> dict[str, list[tuple[str, str, str | None, str | None]]]:
    """Non-empty categories → (control, target, old status, new status)."""
    return {name: [(c.control, c.target, c.old_status, c.new_status) for c in getattr(d, name)] for name, _ in CATEGORIES if getattr(d, name)}


# ------------------------------------------------------------- categories


def test_every_status_transition_lands_in_its_category():
    t = "server:web1"
    pairs = [  # control, OLD status (None: absent), NEW status
        ("ACCESS-A", "pass", "fail"),
        ("ACCESS-B", "fail", "pass"),
        ("ACCESS-C", "fail", "fail"),
        ("ACCESS-D", "pass", "error"),
        ("ACCESS-E", "error", "pass"),
        ("ACCESS-F", "fail", "error"),
        ("ACCESS-G", "fail", "skipped"),
        ("ACCESS-H", "error", "fail"),
        ("ACCESS-I", "error", "error"),
        ("ACCESS-J", "skipped", "fail"),
        ("ACCESS-K", "pass", "pass"),
        ("ACCESS-L", "error", "skipped"),
        ("ACCESS-M", "skipped", "pass"),
        ("ACCESS-N", "pass", "skipped"),
    ]
    old = run_doc([finding(c, t, o) for c, o, _ in pairs])
    new = run_doc([finding(c, t, n) for c, _, n in pairs], run_id="r2", started_at=LATER)
    d = diff_runs(old, new)
    assert categories(d) == {
        "new_violations": [("ACCESS-A", t, "pass", "fail"), ("ACCESS-H", t, "error", "fail"), ("ACCESS-J", t, "skipped", "fail")],
        "new_errors": [("ACCESS-D", t, "pass", "error"), ("ACCESS-F", t, "fail", "error")],
        "still_open": [("ACCESS-C", t, "fail", "fail")],
        "fixed": [("ACCESS-B", t, "fail", "pass")],
        "no_longer_failing": [("ACCESS-G", t, "fail", "skipped")],
        "errors_resolved": [("ACCESS-E", t, "error", "pass"), ("ACCESS-L", t, "error", "skipped")],
        "still_unverified": [("ACCESS-I", t, "error", "error")],
    }
    notes = {c.control: c.note for name, _ in CATEGORIES for c in getattr(d, name)}
    assert notes["ACCESS-F"].startswith("now unverified") and "not verified as fixed" in notes["ACCESS-F"]
    assert "not verified as fixed" in notes["ACCESS-G"]
    assert notes["ACCESS-H"].startswith("was error")
    assert d.headline == "3 new violations, 1 fixed, 1 still open, 2 new errors, 1 no longer failing, 2 errors resolved, 1 still unverified"
    assert d.warnings == ()  # same policy, inventory, order: nothing to warn about
    assert d.targets_appeared == d.targets_disappeared == d.controls_appeared == d.controls_disappeared == ()


def test_messages_come_from_new_except_for_fixed_which_says_what_was_wrong():
    old = run_doc([finding("ACCESS-A", "server:a", "fail", message="PermitRootLogin is yes"), finding("ACCESS-B", "server:a", "pass", message="MaxAuthTries is 3"), finding("ACCESS-C", "server:a", "fail", message="old text")])
    new = run_doc([finding("ACCESS-A", "server:a", "pass", message="PermitRootLogin is no"), finding("ACCESS-B", "server:a", "fail", message="MaxAuthTries is 6"), finding("ACCESS-C", "server:a", "fail", message="new text")], started_at=LATER)
    d = diff_runs(old, new)
    assert [c.message for c in d.fixed] == ["PermitRootLogin is yes"]
    assert [c.message for c in d.new_violations] == ["MaxAuthTries is 6"]
    assert [c.message for c in d.still_open] == ["new text"]
    c = d.new_violations[0]
    assert (c.family, c.severity, c.old_status, c.new_status) == ("access", "high", "pass", "fail")


def test_findings_present_on_one_side_only_say_why():
    old = run_doc([
        finding("ACCESS-A", "server:gone", "fail", message="was failing on the removed server"),
        finding("TLS-OLD", "server:kept", "fail"),
        finding("ACCESS-A", "server:kept", "fail"),
        finding("ACCESS-B", "server:kept", "error"),
    ], controls=["ACCESS-A", "ACCESS-B", "TLS-OLD"])
    new = run_doc([
        finding("ACCESS-A", "server:kept", "fail"),
        finding("ACCESS-A", "server:new", "fail", severity="critical"),
        finding("TLS-NEW", "server:kept", "error"),
        finding("ACCESS-C", "server:kept", "fail", severity="low"),
    ], controls=["ACCESS-A", "ACCESS-B", "ACCESS-C", "TLS-NEW"], started_at=LATER)
    d = diff_runs(old, new)
    assert d.targets_appeared == ("server:new",) and d.targets_disappeared == ("server:gone",)
    assert d.controls_appeared == ("ACCESS-C", "TLS-NEW") and d.controls_disappeared == ("TLS-OLD",)
    assert [(c.control, c.target, c.old_status, c.note) for c in d.new_violations] == [
        ("ACCESS-A", "server:new", None, "new target"),
        ("ACCESS-C", "server:kept", None, "new control"),
    ]
    assert [(c.control, c.note) for c in d.new_errors] == [("TLS-NEW", "new control")]
    gone = {(c.control, c.target): (c.new_status, c.note, c.message) for c in d.no_longer_failing}
    assert gone == {
        ("ACCESS-A", "server:gone"): (None, "no longer checked: the target is not in the new run", "was failing on the removed server"),
        ("TLS-OLD", "server:kept"): (None, "no longer checked: the control is not in the new run", "TLS-OLD on server:kept is fail"),
    }
    assert [(c.control, c.new_status, c.note) for c in d.errors_resolved] == [("ACCESS-B", None, "not checked in the new run")]
    assert not d.fixed, "a finding that disappeared is never 'fixed'"
    assert d.headline == "2 new violations, 1 still open, 1 new error, 2 no longer failing, 1 error resolved; 1 target appeared, 1 target disappeared, 2 controls appeared, 1 control disappeared"


def test_entries_are_ordered_by_severity_then_control_then_target_whatever_the_input_order():
    rows = [("ACCESS-B", "server:b", "low"), ("ACCESS-B", "server:a", "low"), ("TLS-A", "web:x", "critical"), ("ACCESS-A", "server:z", "medium"), ("ACCESS-Z", "server:a", "critical"), ("ACCESS-A", "server:a", "medium")]
    old = run_doc([finding(c, t, "pass", severity=s) for c, t, s in rows])
    new_findings = [finding(c, t, "fail", severity=s) for c, t, s in rows]
    d = diff_runs(old, run_doc(new_findings, started_at=LATER))
    assert keys(d.new_violations) == [("ACCESS-Z", "server:a"), ("TLS-A", "web:x"), ("ACCESS-A", "server:a"), ("ACCESS-A", "server:z"), ("ACCESS-B", "server:a"), ("ACCESS-B", "server:b")]
    random.Random(7).shuffle(new_findings)
    shuffled = diff_runs(old, run_doc(new_findings, started_at=LATER))
    assert shuffled == d
    assert render_text(shuffled) == render_text(d) and render_json(shuffled) == render_json(d) and render_markdown(shuffled) == render_markdown(d)


# ----------------------------------------------------------------- waivers


def test_a_waiver_that_expired_turns_the_finding_back_into_a_new_violation():
    w = waiver("W-1", "ACCESS-A", "server:*", expires="2026-01-15")
    old = run_doc([finding("ACCESS-A", "server:a", "waived", waiver=w), finding("ACCESS-B", "server:a", "waived", waiver=waiver("W-2", "ACCESS-B", "server:a", original="error"))],
                  waivers={"file": "waivers.yaml", "sha256": "d" * 64, "applied": [w], "expired": [], "unmatched": [], "not_needed": []})
    expired = dict(w, matched=[])
    new = run_doc([finding("ACCESS-A", "server:a", "fail"), finding("ACCESS-B", "server:a", "error")], started_at=LATER,
                  waivers={"file": "waivers.yaml", "sha256": "e" * 64, "applied": [], "expired": [expired], "unmatched": [], "not_needed": []})
    d = diff_runs(old, new)
    assert keys(d.new_violations) == [("ACCESS-A", "server:a")]
    assert keys(d.new_errors) == [("ACCESS-B", "server:a")]
    assert keys(d.waivers_lapsed) == [("ACCESS-A", "server:a"), ("ACCESS-B", "server:a")]
    violation = d.new_violations[0]
    assert violation.note == f"{LAPSED}: waiver W-1 has expired (expiry date 2026-01-15)"
    assert violation.waiver is not None and violation.waiver.id == "W-1" and violation.old_status == "waived"
    assert d.new_errors[0].note.startswith(LAPSED + ": waiver W-2")
    assert diff_exit_code(d, "new-violations") == (1, "1 new violation(s) at or above severity low")
    assert "waiver expired or removed" in render_text(d)


@pytest.mark.parametrize("new_waivers, expected", [
    (None, f"{LAPSED}: no waiver file was given to the new run (waiver W-1)"),
    ({"file": "w.yaml", "sha256": "f" * 64, "applied": [], "expired": [], "unmatched": [], "not_needed": []}, f"{LAPSED}: waiver W-1 is not in the new run's waiver file"),
])
def test_a_removed_waiver_is_named(new_waivers, expected):
    old = run_doc([finding("ACCESS-A", "server:a", "waived", waiver=waiver("W-1", "ACCESS-A", "server:a"))])
    new = run_doc([finding("ACCESS-A", "server:a", "fail")], started_at=LATER, waivers=new_waivers)
    (c,) = diff_runs(old, new).new_violations
    assert c.note == expected


def test_newly_waived_findings_carry_the_justification_and_are_neither_fixed_nor_open():
    w = waiver("W-7", "BACKUP-MAX-AGE", "backup:*")
    old = run_doc([finding("BACKUP-MAX-AGE", "backup:nightly", "fail"), finding("BACKUP-FRESH", "backup:nightly", "error")])
    new = run_doc([finding("BACKUP-MAX-AGE", "backup:nightly", "waived", message="oldest backup is 95 days old", waiver=w),
                   finding("BACKUP-FRESH", "backup:nightly", "waived", waiver=waiver("W-8", "BACKUP-FRESH", "backup:nightly", original="error"))], started_at=LATER)
    d = diff_runs(old, new)
    assert categories(d) == {"newly_waived": [("BACKUP-FRESH", "backup:nightly", "error", "waived"), ("BACKUP-MAX-AGE", "backup:nightly", "fail", "waived")]}
    c = d.newly_waived[1]
    assert c.message == "oldest backup is 95 days old"
    assert c.note == "waiver W-7, approved by dpo@example.se, expires 2026-03-31: migration to the new cluster in progress"
    assert d.headline == "0 new violations, 2 newly waived"
    assert diff_exit_code(d, "any-violations") == (0, "no violation in the new run at or above severity low")


def test_a_waived_failure_that_now_passes_is_fixed_and_a_waiver_still_in_force_is_quiet():
    old = run_doc([finding("ACCESS-A", "server:a", "waived", waiver=waiver("W-1", "ACCESS-A", "server:a")), finding("ACCESS-B", "server:a", "waived", waiver=waiver("W-2", "ACCESS-B", "server:a"))])
    new = run_doc([finding("ACCESS-A", "server:a", "pass"), finding("ACCESS-B", "server:a", "waived", waiver=waiver("W-2", "ACCESS-B", "server:a"))], started_at=LATER)
    d = diff_runs(old, new)
    assert categories(d) == {"fixed": [("ACCESS-A", "server:a", "waived", "pass")]}
    assert d.fixed[0].note == "it was waived in the old run"


# ---------------------------------------------------------------- warnings


def test_comparable_runs_give_no_warning_and_each_difference_gives_one():
    base = dict(findings=[finding("ACCESS-A", "server:a", "pass")])
    old = run_doc(**base)
    assert diff_runs(old, run_doc(**base, run_id="r2", started_at=LATER)).warnings == ()
    cases = {
        "different policies: baseline-eu (OLD) and webbplats-nu (NEW)": dict(policy="webbplats-nu"),
        "the policy baseline-eu changed between the runs (sha256 aaaaaaaaaaaa… -> 999999999999…)": dict(policy_sha="9" * 64),
        "different inventories: prod (OLD) and staging (NEW)": dict(inventory="staging"),
        "the inventory prod changed between the runs": dict(inventory_sha="8" * 64),
        "policy parameters differ (ssh_max_auth_tries: 4 -> 6)": dict(parameters={"ssh_max_auth_tries": 6}),
        "--only (all) in OLD, access in NEW": dict(options={"only": ["access"], "limit": []}),
        "different auditor versions (0.1.0 and 0.2.0)": dict(tool_version="0.2.0"),
        "OLD started after NEW (2026-01-01T00:00:00.000Z > 2025-12-01T00:00:00.000Z): were the arguments swapped?": dict(started_at="2025-12-01T00:00:00.000Z"),
        "the NEW run is incomplete": dict(complete=False),
    }
    for needle, change in cases.items():
        kwargs = dict(run_id="r2", started_at=LATER) | change
        warnings = diff_runs(old, run_doc(**base, **kwargs)).warnings
        assert len(warnings) == 1 and needle in warnings[0], (needle, warnings)
    assert diff_runs(old, old).warnings == ("OLD and NEW are the same run (20260101T000000Z)",)
    assert "the OLD run is incomplete (interrupted): findings missing from it show as new" in diff_runs(run_doc(**base, complete=False), run_doc(**base, run_id="r2", started_at=LATER)).warnings
    assert "the NEW run has no valid started_at (yesterday" in diff_runs(old, run_doc(**base, run_id="r2", started_at="yesterday")).warnings[0]


def test_different_policy_is_a_warning_in_every_output_but_not_an_error():
    old = run_doc([finding("ACCESS-A", "server:a", "fail")])
    new = run_doc([finding("ACCESS-A", "server:a", "fail")], policy="webbplats-nu", run_id="r2", started_at=LATER)
    d = diff_runs(old, new)
    assert keys(d.still_open) == [("ACCESS-A", "server:a")]
    assert "warning: the runs used different policies" in render_text(d)
    assert "> **Warning:** the runs used different policies" in render_markdown(d)
    assert json.loads(render_json(d))["warnings"] == list(d.warnings)
    code, why = diff_exit_code(d, "new-violations")
    assert code == 0 and "1 still open" in why and "1 warning(s)" in why


# --------------------------------------------------------------- schema 1.0


def test_schema_1_0_runs_without_the_new_keys_diff_against_1_1():
    old = run_doc([finding("ACCESS-A", "server:a", "fail"), finding("ACCESS-B", "server:a", "waived"), finding("ACCESS-C", "server:a", "waived")], schema="1.0")
    assert "waivers" not in old and "trend" not in old and "lang" not in old and "waiver" not in old["findings"][0] and "sha256" not in old["facts"][0]
    del old["findings"][1]["waiver"], old["findings"][2]["waiver"]
    new = run_doc([finding("ACCESS-A", "server:a", "pass"), finding("ACCESS-B", "server:a", "fail"), finding("ACCESS-C", "server:a", "pass"), finding("ACCESS-D", "server:a", "waived")], started_at=LATER, controls=["ACCESS-A", "ACCESS-B", "ACCESS-C", "ACCESS-D"])
    new["findings"][3]["waiver"] = None
    d = diff_runs(old, new)
    assert categories(d) == {
        "new_violations": [("ACCESS-B", "server:a", "waived", "fail")],
        "waivers_lapsed": [("ACCESS-B", "server:a", "waived", "fail")],
        "fixed": [("ACCESS-A", "server:a", "fail", "pass")],
        "newly_waived": [("ACCESS-D", "server:a", None, "waived")],
    }
    assert d.new_violations[0].note == LAPSED and d.new_violations[0].waiver is None
    assert d.newly_waived[0].note == "new control; waived (the run records no waiver details)"
    # ACCESS-C: waived without a recorded original status → pass: nothing claimed
    assert "ACCESS-C" not in render_text(d)
    # and with the roles swapped
    assert keys(diff_runs(new, run_doc(old["findings"], schema="1.0", started_at="2026-03-01T00:00:00.000Z")).new_violations) == [("ACCESS-A", "server:a")]


def test_runs_without_targets_or_controls_sections_use_the_ids_in_their_findings():
    old = run_doc([finding("ACCESS-A", "server:a", "fail")], schema="1.0")
    new = run_doc([finding("ACCESS-A", "server:b", "fail")], schema="1.0", started_at=LATER)
    for doc in (old, new):
        del doc["targets"], doc["controls"]
    d = diff_runs(old, new)
    assert d.targets_appeared == ("server:b",) and d.targets_disappeared == ("server:a",)
    assert d.new_violations[0].note == "new target" and d.new_violations[0].family == "access"


# --------------------------------------------------------------- exit codes


def _mixed() -> RunDiff:
    old = run_doc([finding("ACCESS-A", "server:a", "pass", severity="low"), finding("ACCESS-B", "server:a", "pass"), finding("ACCESS-C", "server:a", "fail", severity="medium")])
    new = run_doc([finding("ACCESS-A", "server:a", "fail", severity="low"), finding("ACCESS-B", "server:a", "error"), finding("ACCESS-C", "server:a", "fail", severity="medium")], started_at=LATER)
    return diff_runs(old, new)


@pytest.mark.parametrize("fail_on, min_severity, expected", [
    ("new-violations", "low", (1, "1 new violation(s) at or above severity low")),
    ("new-violations", "medium", (0, "no new violation at or above severity medium (1 new below it, 1 still open)")),
    ("new-findings", "low", (1, "1 new violation(s) at or above severity low")),
    ("new-findings", "medium", (3, "1 new error(s): could not verify")),
    ("any-violations", "low", (1, "2 violation(s) in the new run at or above severity low (1 new, 1 still open)")),
    ("any-violations", "medium", (1, "1 violation(s) in the new run at or above severity medium (0 new, 1 still open)")),
    ("any-violations", "high", (0, "no violation in the new run at or above severity high (2 below it)")),
    ("never", "low", (0, "--fail-on never: 1 new violation, 1 still open, 1 new error")),
])
def test_exit_code_for_each_fail_on(fail_on, min_severity, expected):
    assert diff_exit_code(_mixed(), fail_on, min_severity) == expected


def test_exit_code_defaults_and_quiet_diffs():
    assert diff_exit_code(_mixed()) == (1, "1 new violation(s) at or above severity low")
    quiet = diff_runs(run_doc([finding("ACCESS-A", "server:a", "pass")]), run_doc([finding("ACCESS-A", "server:a", "pass")], started_at=LATER))
    for fail_on in ("new-violations", "new-findings", "any-violations", "never"):
        assert diff_exit_code(quiet, fail_on)[0] == 0
    assert diff_exit_code(quiet, "new-findings") == (0, "no new violation or new error")
    # a new violation below the threshold is said, never hidden behind "no new violation"
    low = diff_runs(run_doc([finding("ACCESS-A", "server:a", "pass", severity="low")]), run_doc([finding("ACCESS-A", "server:a", "fail", severity="low")], started_at=LATER))
    assert diff_exit_code(low, "new-findings", "high") == (0, "no new violation at or above severity high or new error (1 new below it)")


def test_bad_fail_on_or_severity_is_an_input_error_naming_the_choices():
    with pytest.raises(InputError) as exc:
        diff_exit_code(_mixed(), "new-violation")
    assert str(exc.value) == "--fail-on: unknown value 'new-violation'; expected one of new-violations, new-findings, any-violations, never"
    with pytest.raises(InputError) as exc:
        diff_exit_code(_mixed(), "never", "severe")
    assert "expected one of low, medium, high, critical" in str(exc.value)


# ---------------------------------------------------------------- renderers


def _rich() -> RunDiff:
    old = run_doc([
        finding("ACCESS-A", "server:a", "pass"),
        finding("ACCESS-B", "server:a", "fail", severity="critical"),
        finding("ACCESS-C", "server:a", "fail", severity="low"),
        finding("TLS-X", "server:a", "pass"),
    ])
    new = run_doc([
        finding("ACCESS-A", "server:a", "fail", message="root login | allowed\nsee sshd_config\x1b[31m"),
        finding("ACCESS-B", "server:a", "pass"),
        finding("ACCESS-C", "server:a", "fail", severity="low"),
        finding("TLS-X", "server:a", "error"),
        finding("TLS-X", "web:shop", "fail", severity="medium"),
    ], started_at=LATER, run_id="r2")
    return diff_runs(old, new)


def test_text_has_the_headline_first_then_sections_most_important_first_and_no_empty_ones():
    d = _rich()
    text = render_text(d)
    lines = text.splitlines()
    assert lines[0] == "2 new violations, 1 fixed, 1 still open, 1 new error; 1 target appeared"
    titles = [line for line in lines if re.match(r"^[A-Z][a-z].* \(\d+\)$", line)]
    assert titles == ["New violations (2)", "New errors (could not verify) (1)", "Still open (1)", "Fixed (1)", "Targets appeared (1)"]
    assert "  high      ACCESS-A on server:a (pass -> fail): root login | allowed see sshd_config\\x1b[31m" in lines
    assert "  medium    TLS-X on web:shop (absent -> fail): TLS-X on web:shop is fail [new target]" in lines
    assert "\x1b" not in text, "terminal escape sequences from a message are shown, never sent"
    assert "  + web:shop" in lines
    assert lines[lines.index("OLD  run 20260101T000000Z  started 2026-01-01T00:00:00.000Z  policy baseline-eu  inventory prod  (pass 2  fail 2  error 0  skipped 0  waived 0)") + 1].startswith("NEW  run r2")


def test_markdown_tables_escape_pipes_and_newlines():
    md = render_markdown(_rich())
    rows = [line for line in md.splitlines() if line.startswith("| ") and "ACCESS-A" in line]
    assert len(rows) == 1, "the message's newline did not break the row"
    row = rows[0]
    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert [c.strip() for c in cells] == ["high", "ACCESS-A", "server:a", "pass", "fail", r"root login \| allowed see sshd\_config\\x1b\[31m", ""]
    assert "### New violations (2)" in md and "### Still open (1)" in md and "### Targets appeared (1)" in md
    assert "### Errors resolved" not in md
    header = next(line for line in md.splitlines() if line.startswith("| Severity"))
    assert header == "| Severity | Control | Target | Was | Now | Message | Note |"
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| Severity"):  # GFM renders a table only when the delimiter row matches the header
            assert re.fullmatch(r"\|(---\|){%d}" % (line.count("|") - 1), lines[i + 1]), lines[i + 1]
            rows = lines[i + 2:lines.index("", i)] if "" in lines[i:] else lines[i + 2:]
            assert rows and all(row.count("|") - row.count("\\|") == line.count("|") for row in rows)
    assert md.index("### New violations") < md.index("### New errors") < md.index("### Still open") < md.index("### Fixed")


def test_long_markdown_sections_are_capped_and_say_how_many_more(monkeypatch):
    import auditor.diff

    monkeypatch.setattr(auditor.diff, "MAX_ROWS", 2)
    old = run_doc([finding("ACCESS-A", f"server:s{i}", "pass") for i in range(5)])
    new = run_doc([finding("ACCESS-A", f"server:s{i}", "fail") for i in range(5)], started_at=LATER)
    md = render_markdown(diff_runs(old, new))
    assert [line.split(" | ")[2] for line in md.splitlines() if line.startswith("| high")] == ["server:s0", "server:s1"]
    assert "… and 3 more (the JSON output lists all)." in md
    assert "| Note |" not in md, "no empty Note column"


def test_json_round_trips_with_every_documented_key_and_is_stable():
    d = _rich()
    text = render_json(d)
    doc = json.loads(text)
    assert doc == to_dict(d)
    assert json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text, "keys are sorted"
    assert set(doc) == {"format", "format_version", "headline", "warnings", "old", "new", "counts", "targets", "controls", *(name for name, _ in CATEGORIES)}
    assert doc["format"] == "auditor-diff" and doc["headline"] == d.headline
    assert doc["counts"]["new_violations"] == 2 and doc["counts"]["targets_appeared"] == 1 and doc["counts"]["errors_resolved"] == 0
    assert doc["targets"] == {"appeared": ["web:shop"], "disappeared": []}
    assert doc["new"]["by_status"] == {"pass": 1, "fail": 3, "error": 1, "skipped": 0, "waived": 0}
    assert doc["old"]["policy"] == {"id": "baseline-eu", "sha256": "a" * 64}
    (entry,) = [e for e in doc["new_violations"] if e["target"] == "web:shop"]
    assert entry == {"control": "TLS-X", "target": "web:shop", "family": "tls", "severity": "medium", "old_status": None, "new_status": "fail", "message": "TLS-X on web:shop is fail", "note": "new target", "waiver": None}
    assert doc["new_violations"][0]["message"] == "root login | allowed\nsee sshd_config\x1b[31m", "JSON keeps the message whole"


def test_an_empty_diff_still_says_so():
    same = [finding("ACCESS-A", "server:a", "pass")]
    d = diff_runs(run_doc(same), run_doc(same, started_at=LATER, run_id="r2"))
    assert render_text(d).splitlines()[0] == "0 new violations"
    assert "###" not in render_markdown(d)
    assert all(v == [] for k, v in json.loads(render_json(d)).items() if k in dict(CATEGORIES))


# ------------------------------------------------------------------ loading


def test_load_run_reads_a_report_folder_or_its_run_json(tmp_path):
    doc = run_doc([finding("ACCESS-A", "server:a", "fail")])
    folder = write_report(doc, str(tmp_path), "20260101T000000Z", formats=("json",))
    assert load_run(folder) == doc
    assert load_run(os.path.join(folder, "run.json")) == doc
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode())  # as some Windows editors save it
    assert load_run(str(bom)) == doc


def _problem(path) -> str:
    with pytest.raises(InputError) as exc:
        load_run(str(path))
    assert len(exc.value.problems) >= 1
    return str(exc.value)


def test_load_run_errors_say_where_what_and_what_was_expected(tmp_path):
    assert _problem(tmp_path / "nope") == f"{tmp_path / 'nope'}: no such file or folder; expected a report folder written by `auditor run` (reports/<timestamp>/) or the path of its run.json"
    (tmp_path / "empty").mkdir()
    assert _problem(tmp_path / "empty").startswith(f"{tmp_path / 'empty'}: this folder has no run.json; expected a report folder")

    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "schema_version": "1.1",\n  "findings": [\n    {"control": "A",}\n  ]\n}\n')
    assert _problem(bad) == f"{bad}:4:21: not valid JSON: Expecting property name enclosed in double quotes; expected the run.json written by `auditor run`"

    listing = tmp_path / "list.json"
    listing.write_text("\n  [1, 2]\n")
    assert _problem(listing) == f"{listing}:2:3: not a run document: the file holds a list; expected the run.json written by `auditor run` (an object with schema_version, run_id, findings, ...)"

    other = tmp_path / "package.json"
    other.write_text('{"name": "left-pad", "version": "1.3.0"}')
    assert _problem(other) == f"{other}:1:1: not a run document: no 'schema_version' and no 'findings' key; expected the run.json written by `auditor run` (an object with schema_version, run_id, findings, ...)"

    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"schema_version": "1.0",\n "findings": [], "run_id": "k\xf6rning"}')
    assert _problem(latin1) == f"{latin1}:2:30: not UTF-8 text (byte 0xf6); expected the run.json written by `auditor run`"


def test_load_run_points_at_the_offending_finding(tmp_path):
    doc = run_doc([finding("ACCESS-A", "server:a", "fail"), finding("ACCESS-B", "server:a", "pass"), finding("ACCESS-A", "server:a", "pass")])
    doc["findings"][1]["status"] = "passed"
    doc["schema_version"] = "2.0"
    path = tmp_path / "run.json"
    text = render_run_json(doc)
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        load_run(str(path))
    lines = text.splitlines()
    problems = exc.value.problems
    assert [p.message for p in problems] == [
        "schema_version '2.0' is not supported; expected a string \"1.x\" (run documents of schema 1.0 and 1.1)",
        "findings[1]: unknown status 'passed'; expected one of pass, fail, error, skipped, waived",
        "findings[2]: a second finding for ACCESS-A on server:a (the first is findings[0]); expected one finding per control and target",
    ]
    assert lines[problems[0].line - 1][problems[0].column - 1:].startswith('"2.0"')
    assert lines[problems[1].line - 1][problems[1].column - 1:].startswith('"passed"')
    third = problems[2]
    # run.json holds one finding a line: the position is the opening brace of the third one.
    assert lines[third.line - 1][third.column - 1:].startswith('{"control":"ACCESS-A"')
    assert third.line > problems[1].line, "the third finding, not the first"


def test_load_run_reports_findings_without_their_keys(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"schema_version": "1.0", "findings": [{"control": "A", "target": "t"}, "x"], "targets": {}}')
    with pytest.raises(InputError) as exc:
        load_run(str(path))
    assert [str(p) for p in exc.value.problems] == [
        f"{path}:1:40: findings[0]: 'status' missing or not a string; expected a finding with control, target and status",
        f"{path}:1:73: findings[1] is a string; expected an object with control, target and status",
        f"{path}:1:90: 'targets' is an object; expected a list of objects with an id",
    ]


# --------------------------------------------------------- two real runs


def _only_report(out) -> str:
    (folder,) = [e.path for e in os.scandir(out) if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")]
    return folder


def test_two_real_runs_diff_as_fixed(tmp_path, local_inventory):
    backups = tmp_path / "backups"
    backups.mkdir()
    dump = backups / "db.sql.gz"
    dump.write_text("x")
    os.chmod(dump, 0o644)  # readable by everyone: a violation
    inv = local_inventory(f"servers:\n  - {{name: here, connection: local, country: SE, backup_paths: [{backups}]}}\n")
    only = ["--only", "ACCESS-BACKUP-FILE-PERMISSIONS,DATA-DECLARED-LOCATION", "--format", "json", "-q"]
    assert main(["run", inv, "--out", str(tmp_path / "old"), *only]) == 1
    os.chmod(dump, 0o600)
    assert main(["run", inv, "--out", str(tmp_path / "new"), *only]) == 0
    old_dir, new_dir = (_only_report(tmp_path / side) for side in ("old", "new"))
    d = diff_runs(load_run(old_dir), load_run(os.path.join(new_dir, "run.json")))
    assert categories(d) == {"fixed": [("ACCESS-BACKUP-FILE-PERMISSIONS", "server:here", "fail", "pass")]}
    assert "db.sql.gz" in d.fixed[0].message
    assert d.warnings == ()
    assert d.headline == "0 new violations, 1 fixed"
    assert diff_exit_code(d, "any-violations") == (0, "no violation in the new run at or above severity low")
