"""Waivers: the loader on real files, expiry around the date, matching like --limit, and a real run."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

import checks.location
from auditor.errors import InputError
from auditor.inventory import load_inventory
from auditor.model import Finding, Severity, Status, summarise
from auditor.policy import load_policy
from auditor.registry import Registry
from auditor.report import run_document
from auditor.runner import RunOptions, Runner
from auditor.waivers import WaiverSet, apply_waivers, load_waivers

from helpers import registry as full_registry
from helpers import write

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "waivers.yaml"
DOCS = ROOT / "docs" / "waivers.md"

VALID = """
waivers:
  - id: W-2026-014
    control: ACCESS-SUDO-NOPASSWD-ALL
    target: "server:web-*"
    justification: >-
      Deploy user needs passwordless sudo
      until the CI migration (ticket OPS-311).
    approver: "Anna Berg, DPO"
    expires: 2027-03-31
  - control: BACKUP-FRESHNESS
    target: frontend
    justification: Backups paused during the move.
    approver: Erik Lund
    expires: "2026-12-15"
"""


def waiver_file(tmp_path, text: str, name: str = "waivers.yaml") -> str:
    return write(str(tmp_path / name), text)


def problems_of(path: str, reg: Registry | None = None) -> list[str]:
    with pytest.raises(InputError) as info:
        load_waivers(path, reg or full_registry())
    return [str(p) for p in info.value.problems]


def only_problem(path: str, reg: Registry | None = None) -> str:
    found = problems_of(path, reg)
    assert len(found) == 1, found
    return found[0]


# --- loading --------------------------------------------------------------------


def test_a_valid_file_loads_with_defaults_sources_and_digest(tmp_path):
    path = waiver_file(tmp_path, VALID)
    ws = load_waivers(path, full_registry())
    assert ws.path == os.path.abspath(path)
    assert ws.sha256 == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    first, second = ws.waivers
    assert first.id == "W-2026-014" and first.control == "ACCESS-SUDO-NOPASSWD-ALL" and first.target == "server:web-*"
    assert first.justification == "Deploy user needs passwordless sudo until the CI migration (ticket OPS-311)."
    assert first.approver == "Anna Berg, DPO"
    assert first.expires == datetime.date(2027, 3, 31)
    assert first.source == f"{path}:2"
    # no id: W<n> by position (from 1); a quoted date is a date too
    assert second.id == "W2" and second.expires == datetime.date(2026, 12, 15) and second.source == f"{path}:10"


def test_an_empty_list_or_an_empty_key_means_no_waivers(tmp_path):
    assert load_waivers(waiver_file(tmp_path, "waivers: []\n"), full_registry()).waivers == ()
    assert load_waivers(waiver_file(tmp_path, "waivers:\n# all withdrawn\n", "b.yaml"), full_registry()).waivers == ()


def test_missing_expiry_says_where_and_what_is_expected(tmp_path):
    path = waiver_file(tmp_path, """
        waivers:
          - control: BACKUP-FRESHNESS
            target: web1
            justification: paused
            approver: Anna
        """)
    assert only_problem(path) == f"{path}:2:5: waivers[0]: missing required key 'expires': the last day the waiver applies (UTC), YYYY-MM-DD: every waiver must end"


@pytest.mark.parametrize("value, expected", [
    ("31/03/2027", "expected a date YYYY-MM-DD (e.g. 2027-03-31), the last day the waiver applies, found the string '31/03/2027'"),
    ("20270331", "expected a date YYYY-MM-DD (e.g. 2027-03-31), the last day the waiver applies, found the integer 20270331"),
    ("next spring", "found the string 'next spring'"),
    ('"2027-02-30"', "'2027-02-30' is not a real date (day is out of range for month)"),
    ("2027-03-31T10:00:00", "found a date with a time (2027-03-31T10:00:00); a waiver lasts through its whole expiry day (UTC), drop the time"),
    ("1999-12-31", "1999-12-31 is before 2000; expected a date YYYY-MM-DD"),
    ("null", "found nothing (null)"),
])
def test_a_bad_expiry_is_an_error_at_its_position(tmp_path, value, expected):
    path = waiver_file(tmp_path, f"""
        waivers:
          - control: BACKUP-FRESHNESS
            target: web1
            justification: paused
            approver: Anna
            expires: {value}
        """)
    problem = only_problem(path)
    assert problem.startswith(f"{path}:6:14: waivers[0].expires: "), problem
    assert expected in problem, problem


def test_an_impossible_unquoted_date_is_reported_with_its_position_not_a_traceback(tmp_path):
    # PyYAML itself raises a bare ValueError for these; the loader must still say where.
    path = waiver_file(tmp_path, """
        waivers:
          - control: BACKUP-FRESHNESS
            target: web1
            justification: paused
            approver: Anna
            expires: 2027-02-30
          - {control: BACKUP-MAX-AGE, target: web1, justification: j, approver: a, expires: 2027-13-01}
        """)
    assert problems_of(path) == [
        f"{path}:6:14: '2027-02-30' is not a real date (day is out of range for month); expected a date YYYY-MM-DD (e.g. 2027-03-31)",
        f"{path}:7:85: '2027-13-01' is not a real date (month must be in 1..12); expected a date YYYY-MM-DD (e.g. 2027-03-31)",
    ]


def test_unknown_control_gets_a_suggestion(tmp_path):
    path = waiver_file(tmp_path, """
        waivers:
          - control: ACCESS-SUDO-NOPASSWD
            target: web1
            justification: deploy user
            approver: Anna
            expires: 2027-03-31
        """)
    assert only_problem(path) == (
        f"{path}:2:14: waivers[0].control: no control named 'ACCESS-SUDO-NOPASSWD'; did you mean 'ACCESS-SUDO-NOPASSWD-ALL'? "
        "Run `auditor controls` for the list"
    )


def test_a_control_pattern_is_refused_naming_what_it_would_cover(tmp_path):
    path = waiver_file(tmp_path, """
        waivers:
          - control: "PWHASH-SHADOW-*"
            target: web1
            justification: j
            approver: a
            expires: 2027-03-31
        """)
    problem = only_problem(path)
    assert problem.startswith(f"{path}:2:14: waivers[0].control: 'PWHASH-SHADOW-*' is a pattern; a waiver names exactly one control id")
    assert "PWHASH-SHADOW-EMPTY, PWHASH-SHADOW-SCHEMES" in problem and "one waiver per control" in problem


def test_unknown_key_gets_a_suggestion_and_the_allowed_keys(tmp_path):
    path = waiver_file(tmp_path, """
        waivers:
          - control: BACKUP-FRESHNESS
            target: web1
            justification: paused
            approver: Anna
            aprover: Anna
            expires: 2027-03-31
        """)
    assert only_problem(path) == (
        f"{path}:6:5: waivers[0]: unknown key 'aprover'; did you mean 'approver'? "
        "Allowed keys: approver, control, expires, id, justification, target"
    )


@pytest.mark.parametrize("key, value, line, col", [
    ("justification", '"   "', 4, 20),
    ("approver", '""', 5, 15),
    ("target", '""', 3, 13),
])
def test_empty_required_text_is_an_error(tmp_path, key, value, line, col):
    fields = {"control": "BACKUP-FRESHNESS", "target": "web1", "justification": "paused", "approver": "Anna", "expires": "2027-03-31"}
    fields[key] = value
    body = "waivers:\n" + "".join(f"{'  - ' if i == 0 else '    '}{k}: {v}\n" for i, (k, v) in enumerate(fields.items()))
    path = waiver_file(tmp_path, body)
    problem = only_problem(path)
    assert problem.startswith(f"{path}:{line}:{col}: waivers[0].{key}: expected ") and problem.endswith(", found an empty string"), problem


def test_duplicate_ids_are_errors_including_a_default_id(tmp_path):
    path = waiver_file(tmp_path, """
        waivers:
          - {id: W-1, control: BACKUP-FRESHNESS, target: a, justification: j, approver: x, expires: 2027-01-01}
          - {id: W-1, control: BACKUP-MAX-AGE, target: a, justification: j, approver: x, expires: 2027-01-01}
          - {id: W4, control: BACKUP-MAX-AGE, target: b, justification: j, approver: x, expires: 2027-01-01}
          - {control: BACKUP-FRESHNESS, target: b, justification: j, approver: x, expires: 2027-01-01}
        """)
    assert problems_of(path) == [
        f"{path}:3:10: waivers[1]: id 'W-1' is already used by the waiver on line 2; waiver ids must be unique",
        f"{path}:5:5: waivers[3]: id 'W4' (the default id of the waiver at position 4) is already used by the waiver on line 4; waiver ids must be unique",
    ]


def test_waivers_must_be_a_list(tmp_path):
    path = waiver_file(tmp_path, """
        waivers:
          control: BACKUP-FRESHNESS
          target: web1
        """)
    assert only_problem(path) == f"{path}:2:3: waivers: expected a list of waivers (each starting with '- control: ...'), found a mapping"


def test_an_item_must_be_a_mapping(tmp_path):
    path = waiver_file(tmp_path, "waivers:\n  - BACKUP-FRESHNESS\n")
    assert only_problem(path) == f"{path}:2:5: waivers[0]: expected a mapping (one waiver), found the string 'BACKUP-FRESHNESS'"


@pytest.mark.parametrize("text, expected", [
    ("", "1:1: the waiver file is empty; expected a mapping with a 'waivers:' list"),
    ("- control: BACKUP-FRESHNESS\n", "1:1: expected a mapping (the waiver file, with a 'waivers:' list), found a list"),
    ("waiver: []\n", "1:1: unknown key 'waiver'; did you mean 'waivers'?"),
])
def test_the_top_level_is_a_mapping_with_waivers(tmp_path, text, expected):
    path = waiver_file(tmp_path, text)
    found = problems_of(path)
    assert found[0].startswith(f"{path}:{expected}"), found


def test_yaml_syntax_errors_and_duplicate_keys_have_positions(tmp_path):
    broken = waiver_file(tmp_path, "waivers:\n  - control: [BACKUP-FRESHNESS\n    target: web1\n", "broken.yaml")
    problem = only_problem(broken)
    assert re.match(rf"{re.escape(broken)}:\d+:\d+: not valid YAML: ", problem), problem
    twice = waiver_file(tmp_path, """
        waivers:
          - control: BACKUP-FRESHNESS
            target: web1
            target: web2
        """, "twice.yaml")
    assert only_problem(twice) == f"{twice}:4:5: duplicate key 'target' (first given on line 3); each key may appear once"


def test_a_missing_file_is_an_input_error(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    assert only_problem(missing) == f"{missing}: file not found"


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    path = waiver_file(tmp_path, """
        waivers:
          - control: ACCESS-SUDO-NOPASSWD
            target: web1
            justification: ""
            approver: Anna
            expires: 2027-03-31
          - control: BACKUP-FRESHNESS
            target: web1
            approved_by: Anna
            justification: j
        """)
    found = problems_of(path)
    assert [p.split(": ", 1)[0] for p in found] == [f"{path}:2:14", f"{path}:4:20", f"{path}:7:5", f"{path}:7:5", f"{path}:9:5"]
    assert "did you mean 'approver'" in found[-1]


def test_the_documented_example_loads_and_is_the_one_in_the_docs():
    ws = load_waivers(str(EXAMPLE), full_registry())
    assert [w.id for w in ws.waivers] == ["W-2026-014", "W-2026-015", "W3"]
    docs = DOCS.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(waivers:\n.*?)```", docs, re.S).group(1)
    assert block in EXAMPLE.read_text(encoding="utf-8"), "docs/waivers.md's example differs from docs/examples/waivers.yaml"


# --- applying -------------------------------------------------------------------

INVENTORY = """
servers:
  - {name: web-1, connection: local, tags: [frontend]}
  - {name: web-2, connection: local, tags: [frontend]}
  - {name: db-1, connection: local}
processors:
  - {name: google, country: US}
groups:
  dbs: [db-1]
"""


@pytest.fixture()
def targets(tmp_path):
    inv = load_inventory(write(str(tmp_path / "inventory.yaml"), INVENTORY))
    return {t.id: t for t in inv.targets}


def finding(control: str, target: str, status: str, message: str = "") -> Finding:
    return Finding(control=control, target=target, status=Status(status), message=message or f"{control} {status} on {target}",
                   severity=Severity.HIGH, family="access", facts=(f"{target}/some.fact",))


def waivers(tmp_path, *entries: str) -> WaiverSet:
    """A waiver file of one-line flow mappings, loaded through the real loader."""
    text = "waivers:\n" + "".join(f"  - {{{e}}}\n" for e in entries)
    return load_waivers(write(str(tmp_path / "w.yaml"), text), full_registry())


W_SUDO = "id: W-SUDO, control: ACCESS-SUDO-NOPASSWD-ALL, target: 'server:web-1', justification: deploy user, approver: Anna, expires: 2027-03-31"


@pytest.mark.parametrize("today, applies", [
    (datetime.date(2027, 3, 30), True),   # the day before
    (datetime.date(2027, 3, 31), True),   # on the expiry date: valid through its end
    (datetime.date(2027, 4, 1), False),   # the day after: expired
])
def test_expiry_boundary(tmp_path, targets, today, applies):
    ws = waivers(tmp_path, W_SUDO)
    original = finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "fail", "deploy may run ALL without a password")
    (result,), section = apply_waivers([original], ws, today, targets)
    assert result.message == original.message
    if applies:
        assert result.status is Status.WAIVED
        assert result.waiver == {"id": "W-SUDO", "control": "ACCESS-SUDO-NOPASSWD-ALL", "target": "server:web-1", "justification": "deploy user",
                                 "approver": "Anna", "expires": "2027-03-31", "source": f"{tmp_path / 'w.yaml'}:2", "original_status": "fail"}
        assert [w["id"] for w in section["applied"]] == ["W-SUDO"] and section["expired"] == []
    else:
        assert result.status is Status.FAIL and result.waiver is None
        assert section["applied"] == []
        (expired,) = section["expired"]
        assert expired["id"] == "W-SUDO" and expired["expires"] == "2027-03-31"
        assert expired["matched"] == ["ACCESS-SUDO-NOPASSWD-ALL|server:web-1"]  # what it would have waived


@pytest.mark.parametrize("pattern, waived", [
    ("server:web-1", {"server:web-1"}),          # target id
    ("web-2", {"server:web-2"}),                 # name
    ("frontend", {"server:web-1", "server:web-2"}),  # tag
    ("dbs", {"server:db-1"}),                    # group
    ("'server:web-*'", {"server:web-1", "server:web-2"}),  # glob on the id
    ("'*-1'", {"server:web-1", "server:db-1"}),  # glob on the name
    ("'server:*'", {"server:web-1", "server:web-2", "server:db-1"}),
    ("web-3", set()),
])
def test_target_patterns_match_like_limit(tmp_path, targets, pattern, waived):
    ws = waivers(tmp_path, f"control: ACCESS-SUDO-NOPASSWD-ALL, target: {pattern}, justification: j, approver: a, expires: 2030-01-01")
    found = [finding("ACCESS-SUDO-NOPASSWD-ALL", t, "fail") for t in ("server:web-1", "server:web-2", "server:db-1")]
    result, section = apply_waivers(found, ws, datetime.date(2027, 1, 1), targets)
    assert {f.target for f in result if f.status is Status.WAIVED} == waived
    assert all(f.status is Status.FAIL for f in result if f.target not in waived)
    group = "applied" if waived else "unmatched"
    assert [w["id"] for w in section[group]] == ["W1"]
    assert section[group][0]["matched"] == [f"ACCESS-SUDO-NOPASSWD-ALL|{t}" for t in ("server:web-1", "server:web-2", "server:db-1") if t in waived]


def test_only_the_named_control_is_waived(tmp_path, targets):
    ws = waivers(tmp_path, W_SUDO)
    found = [finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "fail"), finding("ACCESS-SSH-ROOT-LOGIN", "server:web-1", "fail")]
    result, _ = apply_waivers(found, ws, datetime.date(2027, 1, 1), targets)
    assert [f.status.value for f in result] == ["waived", "fail"]


def test_pass_and_skipped_stay_and_the_waiver_is_not_needed(tmp_path, targets):
    ws = waivers(tmp_path, "control: ACCESS-SUDO-NOPASSWD-ALL, target: frontend, justification: j, approver: a, expires: 2030-01-01")
    found = [finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "pass"), finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-2", "skipped")]
    result, section = apply_waivers(found, ws, datetime.date(2027, 1, 1), targets)
    assert result == tuple(found)
    assert section["applied"] == [] and section["unmatched"] == []
    (nn,) = section["not_needed"]
    assert nn["id"] == "W1" and nn["matched"] == ["ACCESS-SUDO-NOPASSWD-ALL|server:web-1", "ACCESS-SUDO-NOPASSWD-ALL|server:web-2"]


def test_an_error_is_waived_and_keeps_its_original_status(tmp_path, targets):
    ws = waivers(tmp_path, "control: DATA-PROCESSOR-LOCATION, target: google, justification: SCC signed, approver: DPO, expires: 2030-01-01")
    err = Finding(control="DATA-PROCESSOR-LOCATION", target="processor:google", status=Status.ERROR, message="Could not verify: timeout",
                  severity=Severity.HIGH, family="data_location", reason="timeout")
    (result,), section = apply_waivers([err], ws, datetime.date(2027, 1, 1), targets)
    assert result.status is Status.WAIVED and result.waiver["original_status"] == "error"
    assert result.reason == "timeout" and result.message == "Could not verify: timeout"
    assert section["applied"][0]["matched"] == ["DATA-PROCESSOR-LOCATION|processor:google"]


def test_a_waiver_for_a_control_that_did_not_run_is_unmatched(tmp_path, targets):
    ws = waivers(tmp_path, W_SUDO, "control: BACKUP-FRESHNESS, target: web-1, justification: j, approver: a, expires: 2030-01-01")
    result, section = apply_waivers([finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "fail")], ws, datetime.date(2027, 1, 1), targets)
    assert [w["id"] for w in section["applied"]] == ["W-SUDO"]
    (um,) = section["unmatched"]
    assert um["id"] == "W2" and um["control"] == "BACKUP-FRESHNESS" and um["matched"] == []


def test_an_expired_waiver_gives_way_to_a_valid_one_and_is_listed(tmp_path, targets):
    ws = waivers(
        tmp_path,
        "id: OLD, control: ACCESS-SUDO-NOPASSWD-ALL, target: web-1, justification: old, approver: a, expires: 2026-01-01",
        "id: NEW, control: ACCESS-SUDO-NOPASSWD-ALL, target: frontend, justification: renewed, approver: b, expires: 2027-01-01",
    )
    found = [finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "fail"), finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-2", "error")]
    result, section = apply_waivers(found, ws, datetime.date(2026, 6, 1), targets)
    assert [(f.status.value, f.waiver["id"]) for f in result] == [("waived", "NEW"), ("waived", "NEW")]
    assert [w["id"] for w in section["expired"]] == ["OLD"] and section["expired"][0]["matched"] == ["ACCESS-SUDO-NOPASSWD-ALL|server:web-1"]
    assert [w["id"] for w in section["applied"]] == ["NEW"]


def test_when_two_valid_waivers_cover_a_finding_the_first_is_recorded(tmp_path, targets):
    ws = waivers(
        tmp_path,
        "id: A, control: ACCESS-SUDO-NOPASSWD-ALL, target: web-1, justification: first, approver: a, expires: 2030-01-01",
        "id: B, control: ACCESS-SUDO-NOPASSWD-ALL, target: frontend, justification: second, approver: b, expires: 2030-01-01",
    )
    (result,), section = apply_waivers([finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "fail")], ws, datetime.date(2027, 1, 1), targets)
    assert result.waiver["id"] == "A"
    assert [w["id"] for w in section["applied"]] == ["A", "B"]


def test_summary_counts_waived_and_order_is_kept(tmp_path, targets):
    ws = waivers(tmp_path, "control: ACCESS-SUDO-NOPASSWD-ALL, target: 'server:*', justification: j, approver: a, expires: 2030-01-01")
    found = [
        finding("ACCESS-SSH-ROOT-LOGIN", "server:web-1", "fail"),
        finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "fail"),
        finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-2", "pass"),
        finding("ACCESS-SUDO-NOPASSWD-ALL", "server:db-1", "error"),
    ]
    result, section = apply_waivers(found, ws, datetime.date(2027, 1, 1), targets)
    assert [(f.control, f.target) for f in result] == [(f.control, f.target) for f in found]
    summary = summarise(result)
    assert summary["by_status"] == {"pass": 1, "fail": 1, "error": 0, "skipped": 0, "waived": 2}
    assert summary["by_family"]["access"]["waived"] == 2
    assert section["file"] == ws.path and section["sha256"] == ws.sha256
    json.dumps(section)  # plain JSON for run.json


def test_no_waiver_file_changes_nothing(targets):
    found = [finding("ACCESS-SUDO-NOPASSWD-ALL", "server:web-1", "fail")]
    result, section = apply_waivers(found, None, datetime.date(2027, 1, 1), targets)
    assert result == tuple(found) and section is None


# --- a real run -----------------------------------------------------------------

@pytest.fixture()
def small_registry(test_plugin):
    return Registry([checks.location, test_plugin])


def test_a_real_run_waives_a_real_failure_and_a_real_error(tmp_path, local_inventory, small_registry):
    inv = load_inventory(local_inventory("""
        servers:
          - name: here
            connection: local
            country: US
            tags: [lab]
        """))
    ws = load_waivers(write(str(tmp_path / "waivers.yaml"), """
        waivers:
          - id: W-LOC
            control: DATA-DECLARED-LOCATION
            target: here
            justification: Test machine in the US lab, no personal data (DPIA-7).
            approver: Anna Berg, DPO
            expires: 2099-12-31
          - id: W-ERR
            control: TEST-RAISES
            target: lab
            justification: Known collector bug, fix in the next release.
            approver: Erik Lund
            expires: 2099-12-31
          - id: W-OLD
            control: TEST-DENIED
            target: "server:here"
            justification: Expired long ago.
            approver: Erik Lund
            expires: 2001-01-01
          - id: W-GOOD
            control: TEST-GOOD
            target: "server:*"
            justification: Not needed.
            approver: Erik Lund
            expires: 2099-12-31
          - id: W-NONE
            control: TEST-GOOD
            target: elsewhere
            justification: Matches nothing.
            approver: Erik Lund
            expires: 2099-12-31
        """), small_registry)
    policy = load_policy("baseline-eu", full_registry())
    options = RunOptions(only=("DATA-DECLARED-LOCATION", "TEST-RAISES", "TEST-DENIED", "TEST-GOOD"))
    run = Runner(small_registry, inv, policy, options, waivers=ws).run()

    f = {x.control: x for x in run.findings}
    assert f["DATA-DECLARED-LOCATION"].status is Status.WAIVED
    assert f["DATA-DECLARED-LOCATION"].message == "Declared location US is outside the allowed countries"
    assert f["DATA-DECLARED-LOCATION"].waiver["original_status"] == "fail"
    assert f["DATA-DECLARED-LOCATION"].waiver["justification"] == "Test machine in the US lab, no personal data (DPIA-7)."
    assert f["TEST-RAISES"].status is Status.WAIVED and f["TEST-RAISES"].waiver["original_status"] == "error"
    assert f["TEST-DENIED"].status is Status.ERROR and f["TEST-DENIED"].reason == "permission_denied" and f["TEST-DENIED"].waiver is None
    assert f["TEST-GOOD"].status is Status.PASS and f["TEST-GOOD"].waiver is None
    assert run.summary["by_status"] == {"pass": 1, "fail": 0, "error": 1, "skipped": 0, "waived": 2}

    section = run.waivers
    assert {k: [w["id"] for w in v] for k, v in section.items() if isinstance(v, list)} == {
        "applied": ["W-LOC", "W-ERR"], "expired": ["W-OLD"], "unmatched": ["W-NONE"], "not_needed": ["W-GOOD"],
    }
    assert section["expired"][0]["matched"] == ["TEST-DENIED|server:here"]
    # the run document carries it all as plain JSON
    doc = json.loads(json.dumps(run_document(run)))
    waived = [x for x in doc["findings"] if x["status"] == "waived"]
    assert {x["waiver"]["id"] for x in waived} == {"W-LOC", "W-ERR"}
    assert doc["waivers"]["sha256"] == ws.sha256 and doc["waivers"]["applied"][0]["expires"] == "2099-12-31"


def test_a_run_without_waivers_has_no_section(local_inventory, small_registry):
    inv = load_inventory(local_inventory())
    run = Runner(small_registry, inv, load_policy("baseline-eu", full_registry()), RunOptions(only=("TEST-GOOD",))).run()
    assert run.waivers is None and all(f.waiver is None for f in run.findings)


# --- the command line (enabled once `auditor run --waivers FILE` exists) --------

def _cli_has_waivers() -> bool:
    try:
        from auditor.cli import build_parser

        parser = build_parser()
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        return any("--waivers" in a.option_strings for a in sub.choices["run"]._actions)
    except Exception:  # noqa: BLE001 - the CLI is being changed; test_cli.py covers it
        return False


def _report_folders(out) -> list[str]:
    return [d for d in os.listdir(out) if re.fullmatch(r"[0-9]{8}T[0-9]{6}Z(-[0-9]+)?", d)] if os.path.isdir(out) else []


@pytest.mark.skipif(not _cli_has_waivers(), reason="`auditor run --waivers` is not wired into the CLI yet")
class TestCommandLine:
    def test_a_bad_waiver_file_is_exit_2_and_nothing_is_audited(self, tmp_path, local_inventory, capsys):
        from auditor.cli import main

        inv = local_inventory()
        bad = write(str(tmp_path / "w.yaml"), "waivers:\n  - control: DATA-DECLARED-LOCATIO\n    target: here\n")
        out = tmp_path / "reports"
        code = main(["run", inv, "--waivers", bad, "--out", str(out), "--only", "DATA-DECLARED-LOCATION"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"{bad}:2:14: waivers[0].control: no control named 'DATA-DECLARED-LOCATIO'; did you mean 'DATA-DECLARED-LOCATION'?" in err
        assert f"{bad}:2:5: waivers[0]: missing required key 'expires'" in err
        assert "nothing was audited" in err and "Traceback" not in err
        assert not _report_folders(out)

    def test_a_waived_violation_is_in_run_json_and_not_a_violation(self, tmp_path, local_inventory, capsys):
        from auditor.cli import main

        inv = local_inventory("servers:\n  - {name: here, connection: local, country: US}\n")
        w = write(str(tmp_path / "w.yaml"), """
            waivers:
              - {id: W-1, control: DATA-DECLARED-LOCATION, target: here, justification: US lab, approver: DPO, expires: 2099-12-31}
            """)
        out = tmp_path / "reports"
        code = main(["run", inv, "--waivers", w, "--out", str(out), "--only", "DATA-DECLARED-LOCATION", "-q"])
        assert code == 0, capsys.readouterr()
        (folder,) = _report_folders(out)
        doc = json.loads((out / folder / "run.json").read_text())
        (f,) = doc["findings"]
        assert f["status"] == "waived" and f["waiver"]["id"] == "W-1" and f["waiver"]["original_status"] == "fail"
        assert [x["id"] for x in doc["waivers"]["applied"]] == ["W-1"] and doc["waivers"]["file"] == os.path.abspath(w)
