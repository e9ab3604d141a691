"""A third-party check module for the tests: collectors that misbehave on purpose.

Every evaluator here returns passed(): the engine must still report error
whenever the evidence behind it is missing. Loaded directly, or through the
``auditor.checks`` entry point of a dist-info the tests write.
"""

from __future__ import annotations

import os
import threading
import time

from auditor.registry import collector, control, passed

CALLS: dict[str, int] = {}
_lock = threading.Lock()


def _count(name: str) -> None:
    with _lock:
        CALLS[name] = CALLS.get(name, 0) + 1


@collector("test.good", kinds=("server",), timeout=10)
def good(ctx):
    _count("test.good")
    return ctx.run(["echo", "fine"]).text.strip()


@collector("test.raises", kinds=("server",), timeout=10)
def raises(ctx):
    ctx.run(["true"])
    raise RuntimeError("boom")


@collector("test.hangs_python", kinds=("server",), timeout=1)
def hangs_python(ctx):
    time.sleep(30)


@collector("test.hangs_command", kinds=("server",), timeout=1)
def hangs_command(ctx):
    ctx.run(["sleep", "30"])


@collector("test.denied", kinds=("server",), timeout=10)
def denied(ctx):
    # A real refusal: an unprivileged user reading a root-only file.
    return ctx.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "cat", "/etc/shadow"]).text


@collector("test.no_evidence", kinds=("server",), timeout=10)
def no_evidence(ctx):
    return 42


@collector("test.window", kinds=("server",), timeout=20)
def window(ctx):
    start = time.monotonic()
    ctx.run(["sleep", "0.3"])
    return [start, time.monotonic()]


@collector("test.slow", kinds=("server",), timeout=120)
def slow(ctx):
    return ctx.run(["sleep", "60"]).text


def _ok(facts, params, target):
    return passed("the evaluator always says pass")


def _meta(cid, fact):
    return dict(family="access", kinds=("server",), severity="low", facts=(fact,), title=f"Test control {cid}", rationale="Exists only to prove the engine's error isolation.",
                title_sv=f"Testkontroll {cid}", rationale_sv="Finns bara för att visa att motorn isolerar fel.",
                remediation="Nothing to do: a test control.", remediation_sv="Inget att göra: en testkontroll.",
                plain="{n} test server(s) fail " + cid, plain_sv="{n} testserver(ar) underkänns av " + cid)


TEST_GOOD = control("TEST-GOOD", **_meta("TEST-GOOD", "test.good"))(_ok)
TEST_GOOD_TWICE = control("TEST-GOOD-TWICE", **_meta("TEST-GOOD-TWICE", "test.good"))(_ok)
TEST_RAISES = control("TEST-RAISES", **_meta("TEST-RAISES", "test.raises"))(_ok)
TEST_HANGS_PYTHON = control("TEST-HANGS-PYTHON", **_meta("TEST-HANGS-PYTHON", "test.hangs_python"))(_ok)
TEST_HANGS_COMMAND = control("TEST-HANGS-COMMAND", **_meta("TEST-HANGS-COMMAND", "test.hangs_command"))(_ok)
TEST_DENIED = control("TEST-DENIED", **_meta("TEST-DENIED", "test.denied"))(_ok)
TEST_NO_EVIDENCE = control("TEST-NO-EVIDENCE", **_meta("TEST-NO-EVIDENCE", "test.no_evidence"))(_ok)
TEST_WINDOW = control("TEST-WINDOW", **_meta("TEST-WINDOW", "test.window"))(_ok)
TEST_SLOW = control("TEST-SLOW", **_meta("TEST-SLOW", "test.slow"))(_ok)


@collector("test.gate", kinds=("server",), timeout=120)
def gate(ctx):
    """Says it waits (file $AUDITOR_TEST_GATE.waiting.PID), then waits until $AUDITOR_TEST_GATE exists: runs in several processes finish together."""
    path = os.environ["AUDITOR_TEST_GATE"]
    with open(f"{path}.waiting.{os.getpid()}", "w"):
        pass
    while not os.path.exists(path):
        time.sleep(0.01)
    return ctx.run(["echo", "open"]).text.strip()


TEST_GATE = control("TEST-GATE", **_meta("TEST-GATE", "test.gate"))(_ok)


@control("TEST-EVALUATOR-RAISES", **_meta("TEST-EVALUATOR-RAISES", "test.good"))
def evaluator_raises(facts, params, target):
    raise ValueError("evaluator bug")


@control("TEST-EVALUATOR-RETURNS-NONE", **_meta("TEST-EVALUATOR-RETURNS-NONE", "test.good"))
def evaluator_returns_none(facts, params, target):
    return None


@control("TEST-EVALUATOR-UNDECLARED-PARAM", **_meta("TEST-EVALUATOR-UNDECLARED-PARAM", "test.good"))
def evaluator_undeclared_param(facts, params, target):
    return passed(str(params["backup_max_age_days"]))
