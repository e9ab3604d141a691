"""A short Markdown summary of a run, for a CI job summary or a pull-request comment.

Counts overall and per family, then the failures and errors (capped); the
evidence stays in ``report.html`` next to it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .html import STATUS_LABELS, VERDICTS, verdict
from .junit import printable

MAX_LISTED = 50
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")


def md(text: Any) -> str:
    """``text`` on one line with Markdown (and table) syntax escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(printable("" if text is None else str(text)).split()))


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(md(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]], numeric_from: int) -> list[str]:
    """A GFM table whose columns from ``numeric_from`` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return [_row(header), "| " + " | ".join(align) + " |", *(_row(r) for r in rows)]


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The run as a Markdown summary."""
    policy, inventory, summary = doc.get("policy") or {}, doc.get("inventory") or {}, doc.get("summary") or {}
    by_status = summary.get("by_status") or {}
    label, explanation = VERDICTS[verdict(s for s, n in by_status.items() if n)]
    lines = [
        f"# Privacy promise audit: {md(policy.get('title') or policy.get('id'))} on {md(inventory.get('name'))}",
        "",
        f"**{label}.** {explanation}",
        "",
        f"Run {md(doc.get('run_id'))}, {md(doc.get('started_at'))} to {md(doc.get('finished_at'))} (UTC), auditor {md(doc.get('tool_version'))}.",
    ]
    if not doc.get("complete"):
        lines += ["", "> **Warning: this run was interrupted; results are incomplete.**"]
    lines += ["", *_table(["Result", "Checks"], [[STATUS_LABELS[s], by_status.get(s, 0)] for s in STATUS_LABELS] + [["Total", summary.get("total", 0)]], 1)]
    families = summary.get("by_family") or {}
    if families:
        rows = [[family, *(counts.get(s, 0) for s in STATUS_LABELS)] for family, counts in families.items()]
        lines += ["", "## By family", "", *_table(["Family", *STATUS_LABELS.values()], rows, 1)]

    problems = [f for f in doc.get("findings") or () if f.get("status") in ("fail", "error")]
    problems.sort(key=lambda f: (f["status"] != "fail", _SEVERITY_ORDER.get(f.get("severity"), 9)))
    if problems:
        lines += ["", "## Failures and errors", ""]
        for f in problems[:MAX_LISTED]:
            lines.append(f"- **{STATUS_LABELS[f['status']]}** ({md(f.get('severity'))}) {md(f['control'])} on {md(f['target'])}: {md(f.get('message'))}")
        if len(problems) > MAX_LISTED:
            lines.append(f"- … and {len(problems) - MAX_LISTED} more (all are in report.html).")
    notices = doc.get("notices") or ()
    if notices:
        lines += ["", "## Notices", "", *(f"- {md(n)}" for n in notices)]
    lines += ["", "The full report, with the evidence for every result, is `report.html` in the same folder as this summary.", ""]
    return "\n".join(lines)
