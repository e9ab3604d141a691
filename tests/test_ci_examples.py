"""The CI and Kubernetes examples of docs/ci.md (issue 16, items 7 and 8) are real YAML, and
every ``auditor ...`` command they run parses with the real command-line parser.

Shell expansions (``$CI_NODE_INDEX``, ``${{ matrix.shard }}``, ``$((JOB_COMPLETION_INDEX+1))``)
are replaced by ``1`` before parsing, so ``--shard "$((JOB_COMPLETION_INDEX+1))/4"`` is
checked as ``--shard 1/4``. A command of a subcommand this checkout does not have yet
(``auditor plan``, written beside this change) is skipped only when its line says so
with the marker ``# requires: auditor plan``; once the subcommand exists it is checked too.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from auditor.cli import build_parser

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples" / "ci"
FILES = sorted(EXAMPLES.glob("*.y*ml"))
PENDING = {"plan": "# requires: auditor plan"}  # subcommand -> the marker its lines carry while it may be missing
SHELL_OPERATORS = {"||", "&&", "|", ";", ">", ">>", "2>", "<"}
_EXPANSION = re.compile(r"\$\{\{[^}]*\}\}|\$\(\([^)]*\)\)|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
_DATE = re.compile(r"\$\(date [^)]*\)")


SHELL_KEYS = {"run", "script", "before_script", "after_script", "args", "command"}  # Actions, GitLab, Kubernetes


def strings(node: Any, shell: bool = False) -> Iterator[str]:
    """The shell text of a parsed file: the strings under the keys that hold commands."""
    if isinstance(node, str) and shell:
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, shell or key in SHELL_KEYS)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value, shell)


def auditor_lines(path: Path) -> list[str]:
    """Each shell line of the file that runs auditor (backslash continuations joined)."""
    found = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        for text in strings(doc):
            for line in text.replace("\\\n", " ").splitlines():
                if re.match(r"^\s*auditor\s", line):
                    found.append(line.strip())
    return found


def argv_of(line: str) -> list[str]:
    words = shlex.split(_EXPANSION.sub("1", _DATE.sub("20261207", line)), comments=True)
    end = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
    return words[1:end]


def subcommands() -> set[str]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    return set(action.choices)


def test_the_examples_are_there() -> None:
    assert {p.name for p in FILES} >= {"github-plan-gate.yml", "github-nightly.yml", "gitlab-ci.yml", "k8s-indexed-job.yaml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_auditor_command_exists_with_its_options(path: Path) -> None:
    lines = auditor_lines(path)
    assert lines, f"{path.name} runs no auditor command"
    known = subcommands()
    parser = build_parser()
    for line in lines:
        argv = argv_of(line)
        if argv[0] in PENDING and argv[0] not in known:
            assert PENDING[argv[0]] in line, f"{path.name}: `auditor {argv[0]}` is not a subcommand here and the line lacks the marker {PENDING[argv[0]]!r}: {line}"
            continue
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{path.name}: not a valid auditor command line: {line}")


def load(name: str) -> list[Any]:
    return list(yaml.safe_load_all((EXAMPLES / name).read_text(encoding="utf-8")))


def test_github_plan_gate_runs_on_pull_requests_and_publishes_junit_and_summary() -> None:
    (wf,) = load("github-plan-gate.yml")
    assert "pull_request" in wf[True]  # YAML 1.1 reads the key `on` as true
    steps = wf["jobs"]["plan-gate"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "terraform show -json tfplan" in runs and "auditor plan plan.json" in runs
    assert "summary.md >> \"$GITHUB_STEP_SUMMARY\"" in runs
    assert any("junit" in str(s.get("with", {}).get("report_paths", "")) for s in steps)


def test_github_nightly_is_a_shard_matrix_and_a_signed_merge_with_a_baseline() -> None:
    (wf,) = load("github-nightly.yml")
    assert "schedule" in wf[True]
    shard, merge = wf["jobs"]["shard"], wf["jobs"]["merge"]
    assert shard["strategy"]["matrix"]["shard"] == list(range(1, int(wf["env"]["SHARDS"]) + 1))
    assert merge["needs"] == "shard"
    runs = "\n".join(s.get("run", "") for s in merge["steps"])
    assert "auditor merge" in runs and "--baseline previous" in runs and "--sign" in runs and "--key" in runs
    assert any(s.get("with", {}).get("retention-days") for s in merge["steps"] if "upload-artifact" in s.get("uses", ""))


def test_gitlab_has_the_mr_gate_and_the_nightly() -> None:
    (ci,) = load("gitlab-ci.yml")
    gate = ci["privacy-plan-gate"]
    assert gate["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert gate["artifacts"]["reports"]["junit"] and "merge_requests/$CI_MERGE_REQUEST_IID/notes" in " ".join(gate["after_script"])
    assert ci["nightly-shard"]["parallel"] >= 2 and "$CI_NODE_INDEX/$CI_NODE_TOTAL" in ci["nightly-shard"]["script"][-1]
    assert "--baseline previous" in ci["nightly-merge"]["script"][0] and ci["nightly-merge"]["artifacts"]["when"] == "always"


def test_kubernetes_indexed_job_maps_the_completion_index_to_a_shard() -> None:
    shards, merge = load("k8s-indexed-job.yaml")
    assert shards["spec"]["completionMode"] == "Indexed"
    command = shards["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert f'--shard "$((JOB_COMPLETION_INDEX+1))/{shards["spec"]["completions"]}"' in command
    assert "auditor merge" in merge["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_docs_ci_links_every_example() -> None:
    text = (EXAMPLES.parent.parent / "ci.md").read_text(encoding="utf-8")
    for path in FILES:
        assert f"examples/ci/{path.name}" in text, f"docs/ci.md does not show {path.name}"
