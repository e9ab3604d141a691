"""The runner's promises: errors never pass, facts are gathered once, targets run concurrently."""

from __future__ import annotations

import time

import pytest

from auditor.inventory import load_inventory
from auditor.policy import load_policy
from auditor.registry import Registry
from auditor.runner import RunOptions, Runner

import checks.location


@pytest.fixture()
def registry(test_plugin):
    return Registry([checks.location, test_plugin])


def run(registry, inventory_path, only, **opts):
    policy = load_policy("baseline-eu", Registry.load())  # the real policy, its controls all exist
    options = RunOptions(only=tuple(only), **opts)
    return Runner(registry, load_inventory(inventory_path), policy, options).run()


def by_control(run_result):
    return {f.control: f for f in run_result.findings}


def test_every_failure_to_gather_is_an_error_never_a_pass(registry, local_inventory):
    only = ["TEST-GOOD", "TEST-RAISES", "TEST-HANGS-PYTHON", "TEST-HANGS-COMMAND", "TEST-DENIED", "TEST-NO-EVIDENCE",
            "TEST-EVALUATOR-RAISES", "TEST-EVALUATOR-RETURNS-NONE", "TEST-EVALUATOR-UNDECLARED-PARAM"]
    result = run(registry, local_inventory(), only)
    f = by_control(result)
    assert f["TEST-GOOD"].status.value == "pass"
    expected_reasons = {
        "TEST-RAISES": ("bug", "RuntimeError: boom"),
        "TEST-HANGS-PYTHON": ("timeout", "did not finish within 1s"),
        "TEST-HANGS-COMMAND": ("timeout", "sleep 30"),
        "TEST-DENIED": ("permission_denied", "Permission denied"),
        "TEST-NO-EVIDENCE": ("bug", "recorded no evidence"),
        "TEST-EVALUATOR-RAISES": ("bug", "ValueError: evaluator bug"),
        "TEST-EVALUATOR-RETURNS-NONE": ("bug", "returned None"),
        "TEST-EVALUATOR-UNDECLARED-PARAM": ("bug", "without declaring it"),
    }
    for cid, (reason, text) in expected_reasons.items():
        assert f[cid].status.value == "error", cid
        assert f[cid].reason == reason, (cid, f[cid].reason, f[cid].message)
        assert text in f[cid].message, (cid, f[cid].message)
        assert f[cid].facts, "an error still names the fact it could not gather"
    # the rest of the run completed and is marked complete
    assert result.complete is True
    assert result.summary["by_status"]["error"] == len(expected_reasons)


def test_facts_are_gathered_once_per_target(registry, local_inventory, test_plugin):
    test_plugin.CALLS.clear()
    result = run(registry, local_inventory(), ["TEST-GOOD", "TEST-GOOD-TWICE", "TEST-EVALUATOR-RAISES"])
    assert test_plugin.CALLS == {"test.good": 1}
    assert [fact.name for fact in result.facts] == ["test.good"]
    assert {f.facts for f in result.findings} == {("server:here/test.good",)}


def test_evidence_records_the_command(registry, local_inventory):
    result = run(registry, local_inventory(), ["TEST-GOOD"])
    (fact,) = result.facts
    (ev,) = fact.evidence
    assert ev.kind == "command" and ev.argv == ("echo", "fine") and ev.exit_status == 0
    assert ev.excerpt.strip() == "fine" and len(ev.sha256) == 64


def _max_overlap(windows):
    events = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows], key=lambda x: (x[0], x[1]))
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    return peak


@pytest.mark.parametrize("concurrency", [1, 3])
def test_targets_run_concurrently_within_the_bound(registry, local_inventory, concurrency):
    servers = "\n".join(f"  - {{name: s{i}, connection: local}}" for i in range(6))
    result = run(registry, local_inventory("servers:\n" + servers + "\n"), ["TEST-WINDOW"], concurrency=concurrency)
    windows = [fact.value for fact in result.facts]
    assert len(windows) == 6
    assert _max_overlap(windows) == concurrency


def test_limit_and_only_select(registry, local_inventory):
    path = local_inventory("servers:\n  - {name: a, connection: local, tags: [web]}\n  - {name: b, connection: local}\n")
    result = run(registry, path, ["TEST-GOOD"], limit=("web",))
    assert [f.target for f in result.findings] == ["server:a"]


def test_target_kind_without_controls_is_noticed_not_silently_dropped(registry, local_inventory):
    path = local_inventory("""
        servers:
          - {name: a, connection: local}
        web:
          - {name: site, url: "https://127.0.0.1:9/", country: SE}
        """)
    result = run(registry, path, ["TEST-GOOD"])
    assert any("web:site" in n and "not audited" in n for n in result.notices)


def test_ssh_server_is_error_until_the_transport_exists(registry, local_inventory):
    """An SSH server that cannot be reached is an error with its reason, never a pass."""
    path = local_inventory("servers:\n  - {name: remote, host: 127.0.0.1, port: 9}\n")
    (finding,) = run(registry, path, ["TEST-GOOD"]).findings
    assert finding.status.value == "error" and finding.reason == "unreachable"
    assert "127.0.0.1:9" in finding.message


def test_a_target_time_budget_caps_every_collector_of_the_target(registry, local_inventory):
    """A server's collectors run at once on its connection; the target's budget cuts each of them, never a pass."""
    t0 = time.monotonic()
    result = run(registry, local_inventory(), ["TEST-SLOW", "TEST-HANGS-COMMAND", "TEST-WINDOW"], host_timeout=1.5)
    elapsed = time.monotonic() - t0
    f = by_control(result)
    assert f["TEST-SLOW"].status.value == "error" and f["TEST-SLOW"].reason == "timeout"
    assert f["TEST-HANGS-COMMAND"].status.value == "error" and f["TEST-HANGS-COMMAND"].reason == "timeout"
    assert f["TEST-WINDOW"].status.value == "pass"  # ran beside the slow ones, not after them
    assert elapsed < 4.0, f"collectors of one target ran one after the other ({elapsed:.1f}s)"
    window = next(x for x in result.facts if x.name == "test.window").value
    slow = next(x for x in result.facts if x.name == "test.slow")
    assert window[0] - t0 < 1.0 and slow.duration_ms < 3000
