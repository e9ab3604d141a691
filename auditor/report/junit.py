"""JUnit XML view of a run, for CI: one testcase per finding (control × target).

Testsuites are control families; follows the Jenkins/Ant ``junit-10.xsd``
schema. ``fail`` becomes <failure>, ``error`` <error>, ``skipped`` and
``waived`` <skipped>; the evidence sources of each finding go to <system-out>.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any, Mapping

from ..text import printable

def _sub(parent: ET.Element | None, tag: str, attrs: Mapping[str, Any], text: str | None = None) -> ET.Element:
    """A new element (appended to ``parent`` unless None), its attributes and text made XML-safe."""
    safe = {k: printable(str(v)) for k, v in attrs.items()}
    el = ET.Element(tag, safe) if parent is None else ET.SubElement(parent, tag, safe)
    if text:
        el.text = printable(text)
    return el


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def _wall_ms(doc: Mapping[str, Any]) -> float | None:
    """Duration of the whole run in milliseconds, from its ISO timestamps."""
    try:
        start = datetime.fromisoformat(doc["started_at"])
        end = datetime.fromisoformat(doc["finished_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return max((end - start).total_seconds() * 1000, 0.0)


def _sources(finding: Mapping[str, Any], facts: Mapping[str, Mapping[str, Any]]) -> str:
    """How each fact behind a finding was gathered: one block per fact, one line per source."""
    lines = []
    for fid in finding.get("facts") or ():
        fact = facts.get(fid)
        if fact is None:
            lines.append(f"fact {fid}: not recorded in this run")
            continue
        head = f"fact {fact.get('name')} [{fact.get('status')}] on {fact.get('target')} via {fact.get('transport') or fact.get('collector')}"
        if fact.get("status") != "ok":
            head += "".join(f": {part}" for part in (fact.get("reason"), fact.get("message")) if part)
        lines.append(head)
        for ev in fact.get("evidence") or ():
            exit_status = "" if ev.get("exit_status") is None else f" (exit {ev['exit_status']})"
            redacted = " [redacted]" if ev.get("redacted") else ""
            lines.append(f"  {ev.get('kind')}: {ev.get('source')}{exit_status} at {ev.get('at')} sha256 {ev.get('sha256')}{redacted}")
    return "\n".join(lines)


def _finding_ms(finding: Mapping[str, Any], facts: Mapping[str, Mapping[str, Any]]) -> float:
    """Time spent gathering the facts behind a finding, in milliseconds."""
    return float(sum((facts.get(fid) or {}).get("duration_ms") or 0 for fid in finding.get("facts") or ()))


def _testcase(suite: ET.Element, finding: Mapping[str, Any], facts: Mapping[str, Mapping[str, Any]]) -> None:
    """Append the testcase of one finding."""
    case = _sub(suite, "testcase", {"classname": finding["control"], "name": finding["target"], "time": _seconds(_finding_ms(finding, facts))})
    status, message = finding["status"], finding.get("message") or ""
    details = finding.get("details")
    body = json.dumps(details, indent=2, sort_keys=True, ensure_ascii=False) if details else None
    if status == "fail":
        _sub(case, "failure", {"message": message, "type": finding.get("severity") or "fail"}, body)
    elif status == "error":
        _sub(case, "error", {"message": message, "type": finding.get("reason") or "error"}, body)
    elif status in ("skipped", "waived"):
        _sub(case, "skipped", {"message": f"{status}: {message}"})
    out = _sources(finding, facts)
    if out:
        _sub(case, "system-out", {}, out)


def _counts(findings: list[Mapping[str, Any]]) -> dict[str, int]:
    statuses = [f["status"] for f in findings]
    return {"tests": len(statuses), "failures": statuses.count("fail"), "errors": statuses.count("error")}


def render_junit(doc: Mapping[str, Any]) -> str:
    """The run as JUnit XML (text with an XML declaration, to be written as UTF-8)."""
    facts = {f["id"]: f for f in doc.get("facts") or ()}
    findings = list(doc.get("findings") or ())
    families: dict[str, list[Mapping[str, Any]]] = {}
    for finding in findings:
        families.setdefault(finding.get("family") or "other", []).append(finding)
    policy, inventory = doc.get("policy") or {}, doc.get("inventory") or {}
    properties = {
        "run_id": doc.get("run_id"),
        "tool_version": doc.get("tool_version"),
        "started_at": doc.get("started_at"),
        "finished_at": doc.get("finished_at"),
        "complete": "true" if doc.get("complete") else "false",
        "policy": policy.get("id"),
        "inventory": inventory.get("name"),
    }
    shard = doc.get("shard")
    if isinstance(shard, Mapping):  # which shard (auditor run --shard I/N), or how many were merged
        properties["shard"] = f"merged from {shard.get('count')}" if shard.get("merged_from") is not None else f"{shard.get('index')}/{shard.get('count')}"
    wall = _wall_ms(doc)
    root = _sub(None, "testsuites", {
        "name": f"auditor: {policy.get('title') or policy.get('id')} on {inventory.get('name')}",
        **_counts(findings),
        "time": _seconds(sum(_finding_ms(f, facts) for f in findings) if wall is None else wall),
    })
    for family, members in families.items():
        statuses = [f["status"] for f in members]
        suite = _sub(root, "testsuite", {
            "name": family,
            **_counts(members),
            "skipped": statuses.count("skipped") + statuses.count("waived"),
            "time": _seconds(sum(_finding_ms(f, facts) for f in members)),
            "timestamp": doc.get("started_at") or "",
        })
        props = _sub(suite, "properties", {})
        for name, value in properties.items():
            _sub(props, "property", {"name": name, "value": "" if value is None else value})
        for finding in members:
            _testcase(suite, finding, facts)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
