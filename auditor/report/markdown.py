"""A short Markdown summary of a run, for a CI job summary or a pull-request comment.

Counts overall and per family, then the failures and errors (capped) and
the waivers; the evidence stays in ``report.html`` next to it. Every fixed
string comes from :mod:`auditor.report.i18n`, in the language ``doc["lang"]``
names (English when absent); finding messages are data and stay as recorded.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from ..text import printable
from ..verdicts import recorded_results, verdict
from . import i18n

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


def _label(t: i18n.Translator, prefix: str, code: Any) -> str:
    found = t.get(prefix, code)
    return found if found is not None else str(code)


def _promises(t: i18n.Translator, doc: Mapping[str, Any]) -> list[str]:
    """Each promise with its recorded verdict; for a broken one the failing checks in plain words with what to do,
    for one not checked the reason."""
    promises = [p for p in doc.get("promises") or () if isinstance(p, Mapping)]
    if not promises:
        return []
    controls = {c.get("id"): c for c in doc.get("controls") or () if isinstance(c, Mapping)}
    lines = ["", f"## {t('md.promises')}", ""]
    for p, rec in zip(promises, recorded_results(doc)):
        lines.append("- " + t("md.promise", verdict=f"**{t('verdict.' + (rec.get('verdict') or 'none'))}**", promise=md(p.get("id"))))
        for item in rec.get("failing") or ():
            control = controls.get(item.get("control")) or {"id": item.get("control")}
            n = int(item.get("n") or 0)
            if item.get("status") == "fail":
                plain, _ = t.control_text(control, "plain")
                remediation, _ = t.control_text(control, "remediation")
                text = t("md.failing", plain=plain.format(n=n) if "{n}" in plain else f"{t.control_title(control)[0]} ({n})", remediation=remediation or "-")
            else:
                text = t("md.unverified", title=t.control_title(control)[0], n=n)
            lines.append(f"  - {md(text)}")
        reason = rec.get(f"not_checked_{t.lang}") or rec.get("not_checked")
        if rec.get("verdict") == "none" and reason:
            lines.append(f"  - {md(t('md.not_checked', reason=reason))}")
    return lines


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The run as a Markdown summary, in the language ``doc["lang"]`` names (English when absent)."""
    t = i18n.Translator(doc.get("lang"))
    policy, inventory, summary = doc.get("policy") or {}, doc.get("inventory") or {}, doc.get("summary") or {}
    by_status = summary.get("by_status") or {}
    overall = verdict(s for s, n in by_status.items() if n)
    statuses = i18n.STATUSES
    lines = [
        "# " + t("md.title", policy=md(policy.get("title") or policy.get("id")), inventory=md(inventory.get("name"))),
        "",
        f"**{t('verdict.' + overall)}.** {t('verdict.' + overall + '.explain')}",
        "",
        t("md.run", run_id=md(doc.get("run_id")), started=md(i18n.format_when(doc.get("started_at"))), finished=md(i18n.format_when(doc.get("finished_at"))), version=md(doc.get("tool_version"))),
    ]
    if (note := i18n.shard_note(doc, t)) is not None:
        lines += ["", md(note)]
    if not doc.get("complete"):
        lines += ["", f"> **{t('md.interrupted')}**"]
    lines += ["", *_table([t("md.result"), t("md.checks")], [[t(f"status.{s}"), by_status.get(s, 0)] for s in statuses] + [[t("results.total"), summary.get("total", 0)]], 1)]
    families = summary.get("by_family") or {}
    if families:
        order = [f for f in i18n.FAMILY_ORDER if f in families] + sorted(set(families) - set(i18n.FAMILY_ORDER))
        rows = [[_label(t, "family", family), *(families[family].get(s, 0) for s in statuses)] for family in order]
        lines += ["", f"## {t('md.by_family')}", "", *_table([t("md.family"), *(t(f"status.{s}") for s in statuses)], rows, 1)]

    lines += _promises(t, doc)
    problems = [f for f in doc.get("findings") or () if f.get("status") in ("fail", "error")]
    problems.sort(key=lambda f: (f["status"] != "fail", _SEVERITY_ORDER.get(f.get("severity"), 9)))
    if problems:
        lines += ["", f"## {t('md.problems')}", ""]
        for f in problems[:MAX_LISTED]:
            severity = _label(t, "severity", f.get("severity"))
            problem = t("md.problem", control=md(f["control"]), target=md(f["target"]), message=md(t.message(f)[0]))
            lines.append(f"- **{t('status.' + f['status'])}** ({md(severity)}) {problem}")
        if len(problems) > MAX_LISTED:
            lines.append("- " + t("md.more", n=len(problems) - MAX_LISTED))
    waivers = doc.get("waivers")
    if isinstance(waivers, Mapping):
        groups = {g: list(waivers.get(g) or ()) for g in ("applied", "expired", "unmatched", "not_needed")}
        lines += ["", f"## {t('md.waivers')}", "", t("md.waivers.line", **{g: len(v) for g, v in groups.items()})]
        if groups["expired"]:
            lines.append("")
        for w in groups["expired"]:
            lines.append("- " + t("md.waivers.expired", id=md(w.get("id")), control=md(w.get("control")), target=md(w.get("target")), date=md(w.get("expires"))))
    notices = doc.get("notices") or ()
    if notices:
        lines += ["", f"## {t('notices.heading')}", "", *(f"- {md(n)}" for n in notices)]
    lines += ["", t("md.full"), ""]
    return "\n".join(lines)
