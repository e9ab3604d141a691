"""The README's sample output of ``auditor run`` is what auditor prints (issue 14 item 2).

The sample came from a real run of the README's main command (the bundled
inventory, policy baseline-eu, as root on a Debian 12 machine); the facts that
run collected are kept in ``tests/data/readme-sample-facts.json``. This test
judges those facts again with today's controls and policy (evaluators are pure
functions of facts and parameters), prints the summary the way ``auditor run``
does, and compares it with the README, line for line. It holds on any machine,
and it fails when a control's message, a severity, the default policy, the
set of controls or the console's layout changes without the README.

To regenerate both after such a change (on a Debian machine, as root)::

    PYTHONPATH=$PWD python tests/test_readme_sample.py --regenerate
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "readme-sample-facts.json"
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- sample-output -->\n```\n)(.*?\n)(```\n)", re.S)
REPORT_LINE = re.compile(r"^report: reports/\d{8}T\d{6}Z/report\.html$", re.M)


def readme_sample() -> str:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README.md has no ``` block after <!-- sample-output -->"
    return match.group(2)


def rejudged_output(stored: dict[str, Any]) -> str:
    """What `auditor run` prints for the stored facts, judged by the current controls and the default policy."""
    from auditor import __version__
    from auditor.cli import _print_summary, default_inventory, exit_code
    from auditor.inventory import load_inventory
    from auditor.model import Fact, summarise
    from auditor.policy import DEFAULT_POLICY, load_policy
    from auditor.registry import Registry
    from auditor.runner import RunOptions, Runner, make_plan

    registry = Registry.load()
    inventory = load_inventory(default_inventory())
    policy = load_policy(DEFAULT_POLICY, registry)
    options = RunOptions()
    plans, notices = make_plan(registry, inventory, options)
    runner = Runner(registry, inventory, policy, options)
    findings = []
    for plan in plans:
        facts = stored["facts"][plan.target.id]
        needed = {c.name for c in plan.collectors}
        assert needed == set(facts), (
            f"the bundled inventory's audit of {plan.target.id} now reads the facts {sorted(needed)}, the stored run has {sorted(facts)}: "
            "regenerate the sample (see this module's docstring)")
        by_name = {name: Fact(id=f"{plan.target.id}/{name}", target=plan.target.id, name=name, collector=name, collected_at=stored["started_at"],
                              duration_ms=0, status=f["status"], value=f["value"], reason=f["reason"], message=f["message"]) for name, f in facts.items()}
        findings += [runner.evaluate(control, plan.target, by_name) for control in plan.controls]
    doc = {
        "tool_version": __version__, "complete": True, "policy": {"id": policy.id}, "inventory": {"name": inventory.name},
        "targets": [p.target.id for p in plans], "notices": notices, "waivers": None, "summary": summarise(findings),
        "findings": [{"control": f.control, "target": f.target, "status": f.status.value, "severity": f.severity.value, "message": f.message} for f in findings],
    }
    code, why = exit_code(doc, "low")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_summary(doc, stored["report_folder"], code, why, quiet=False)
    return out.getvalue()


def test_the_readme_sample_is_what_auditor_prints_for_the_stored_run() -> None:
    stored = json.loads(FIXTURE.read_text(encoding="utf-8"))
    sample = readme_sample()
    assert REPORT_LINE.search(sample), "the sample names its report as reports/<UTC timestamp>/report.html"
    ours = rejudged_output(stored).replace(f"report: {stored['report_folder']}\n", f"report: {stored['report_folder']}/report.html\n")
    assert sample == ours, "README.md's sample output is stale: regenerate it (see tests/test_readme_sample.py)"


def test_the_sample_comes_from_the_readme_main_command() -> None:
    """The stored run is one of the bundled inventory with the default policy: what the README's command runs."""
    stored = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert stored["inventory"] == "localhost" and stored["policy"] == "baseline-eu" and stored["argv"] == ["auditor", "run"]


def regenerate() -> None:
    """Run the README's audit of this machine for real, store its facts and put its output into README.md."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-m", "auditor", "run", "--no-history"], cwd=tmp, env=env, capture_output=True, text=True)
        if done.returncode not in (0, 1, 3):
            sys.exit(f"auditor run exited {done.returncode}:\n{done.stdout}{done.stderr}")
        doc = json.loads((Path(tmp) / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
        folder = REPORT_LINE.search(done.stdout)
        assert folder, done.stdout
    facts: dict[str, dict[str, Any]] = {}
    for f in doc["facts"]:
        facts.setdefault(f["id"].rsplit("/", 1)[0], {})[f["name"]] = {k: f[k] for k in ("status", "value", "reason", "message")}
    stored = {
        "about": "Facts of a real `auditor run` (README main command) on a Debian 12 machine as root; tests/test_readme_sample.py judges them again.",
        "argv": ["auditor", "run"], "inventory": doc["inventory"]["name"], "policy": doc["policy"]["id"], "tool_version": doc["tool_version"],
        "started_at": doc["started_at"], "report_folder": folder.group(0)[len("report: "):-len("/report.html")], "facts": facts,
    }
    FIXTURE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    README.write_text(BLOCK.sub(lambda m: m.group(1) + done.stdout + m.group(3), text, count=1), encoding="utf-8")
    print(done.stdout, end="")


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit(f"usage: {sys.argv[0]} --regenerate")
    regenerate()
