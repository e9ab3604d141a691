"""The human report: one self-contained HTML file a data-protection officer can read.

Organised promise → control → target, each finding with the evidence it rests
on. Everything shown comes from the run document; the page loads nothing from
anywhere (inline CSS, a few lines of optional inline JS, no URLs).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import jinja2
from markupsafe import Markup

from .junit import printable

STATUS_LABELS = {"pass": "Pass", "fail": "Fail", "error": "Could not check", "skipped": "Skipped", "waived": "Waived"}
# verdict → (label, explanation)
VERDICTS = {
    "fail": ("Not kept", "At least one check failed."),
    "error": ("Could not verify", "No check failed, but some could not be carried out."),
    "pass": ("Kept", "Every check that could be carried out passed."),
    "none": ("Not checked", "No check gave a result: none ran, or all were skipped or waived."),
}
FAMILY_LABELS = {
    "tls": "Encryption in transit (tls)",
    "password_hashing": "Password storage (password_hashing)",
    "data_location": "Where data is kept (data_location)",
    "backup_retention": "Backup retention (backup_retention)",
    "access": "Access control (access)",
}
EVIDENCE_KINDS = {
    "command": "Command run",
    "file": "File read",
    "api": "API call",
    "inventory": "Taken from the inventory",
    "network": "Network exchange (handshake, banner)",
    "query": "Database query",
    "connection": "How the target was identified",
}


def verdict(statuses: Iterable[str]) -> str:
    """``fail`` if any finding failed, else ``error`` if any errored, else ``pass`` if any passed, else ``none``."""
    seen = set(statuses)
    return next((s for s in ("fail", "error", "pass") if s in seen), "none")


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` output: None shows as nothing, text loses characters HTML cannot carry."""
    if value is None:
        return ""
    return printable(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("auditor.report", "templates"),
    autoescape=True,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["as_json"] = _as_json


def _context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Look-up tables and per-promise verdicts the template needs, all in document order."""
    findings = list(doc.get("findings") or ())
    by_control: dict[str, list[Mapping[str, Any]]] = {}
    for finding in findings:
        by_control.setdefault(finding["control"], []).append(finding)
    controls = {c["id"]: c for c in doc.get("controls") or ()}
    promises = list(doc.get("promises") or ())
    mapped = {cid for p in promises for cid in p.get("controls") or ()}
    ran = [*controls, *(cid for cid in by_control if cid not in controls)]
    promise_verdicts = [verdict(f["status"] for cid in p.get("controls") or () for f in by_control.get(cid, ())) for p in promises]
    return {
        "doc": doc,
        "controls": controls,
        "findings_by_control": by_control,
        "facts": {f["id"]: f for f in doc.get("facts") or ()},
        "targets": {t["id"]: t for t in doc.get("targets") or ()},
        "promises": list(zip(promises, promise_verdicts)),
        "promise_tally": {v: promise_verdicts.count(v) for v in VERDICTS},
        "other_controls": [cid for cid in ran if cid not in mapped],
        "overall": verdict(f["status"] for f in findings),
        "status_labels": STATUS_LABELS,
        "verdicts": VERDICTS,
        "family_labels": FAMILY_LABELS,
        "evidence_kinds": EVIDENCE_KINDS,
    }


def render_html(doc: Mapping[str, Any]) -> str:
    """The run as one self-contained HTML page."""
    return _ENV.get_template("report.html.j2").render(_context(doc))
