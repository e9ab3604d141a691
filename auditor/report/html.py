"""The human report: one self-contained HTML file a data-protection officer can read.

The first screen answers "are we keeping our promises?": every promise of the
policy, quoted in its own words, with a verdict and the counts behind it.
Then, per promise, the controls, each target's result and the evidence it
rests on; waivers, the trend since earlier runs, and where everything came
from. Every fixed string comes from :mod:`auditor.report.i18n`, in the
language ``doc["lang"]`` names (English when absent).

Everything shown comes from the run document; the page loads nothing from
anywhere (inline CSS, a little optional inline JS for filters, no URLs), and
works without JS (the filters are simply not shown). ``render_html`` is a pure
function: the same document gives the same bytes.
"""

from __future__ import annotations

import functools

import json
from typing import Any, Iterable, Iterator, Mapping

import jinja2
from markupsafe import Markup, escape

from .. import verdicts
from ..verdicts import verdict  # noqa: F401 - re-exported: callers imported it from here
from . import i18n
from ..text import printable

_EN = i18n.Translator("en")
# English labels, for callers that want them without a translator (kept for compatibility).
STATUS_LABELS = {s: _EN(f"status.{s}") for s in i18n.STATUSES}
VERDICTS = {v: (_EN(f"verdict.{v}"), _EN(f"verdict.{v}.explain")) for v in i18n.VERDICT_ORDER}
FAMILY_LABELS = {f: _EN(f"family.{f}") for f in i18n.FAMILY_ORDER}
EVIDENCE_KINDS = {k[len("evidence."):]: v for k, v in i18n.CATALOGUE["en"].items() if k.startswith("evidence.")}
VERDICT_SYMBOLS = {"fail": "✗", "error": "?", "pass": "✓", "none": "○"}


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` output: None shows as nothing, text loses characters HTML cannot carry."""
    if value is None:
        return ""
    return printable(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _time(value: Any) -> Markup:
    """A timestamp shown as ``YYYY-MM-DD HH:MM:SS UTC``, the machine form kept in ``datetime``."""
    if value is None or value == "":
        return Markup("")
    raw = printable(str(value))
    return Markup('<time datetime="{}">{}</time>').format(raw, i18n.format_when(raw))


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("auditor.report", "templates"),
    autoescape=True,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.ChainableUndefined,
)
_ENV.filters["as_json"] = _as_json
_ENV.filters["when"] = _time


def _code(value: Any) -> Markup:
    return Markup("<code>{}</code>").format(_clean(value))


def _lang_span(text: Any, lang: Any) -> Markup:
    return Markup('<span lang="{}">{}</span>').format(_clean(lang), _clean(text))


_ENV.globals.update(code=_code, lang_span=_lang_span)


class _HtmlTranslator:
    """The translator as the template uses it: placeholders escaped unless already markup."""

    def __init__(self, lang: str):
        self.plain = i18n.Translator(lang)
        self.lang = self.plain.lang

    def __call__(self, key: str, /, **values: Any) -> Markup:
        template = escape(self.plain.strings[key])
        return template.format(**{k: _clean(v) for k, v in values.items()}) if values else template

    def plural(self, key: str, n: int, /, **values: Any) -> Markup:
        return self(f"{key}.{'one' if n == 1 else 'other'}", n=n, **values)

    def label(self, prefix: str, code: Any) -> str:
        """A translated code (status, family, reason, evidence kind …), or the code itself when unknown."""
        found = self.plain.get(prefix, code)
        return found if found is not None else ("" if code is None else str(code))


def _clean(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    return printable("" if value is None else str(value))


def _counts(statuses: Iterable[str]) -> dict[str, int]:
    counts = {s: 0 for s in i18n.STATUSES}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return counts


def _family_order(families: Iterable[str]) -> list[str]:
    present = set(families)
    return [f for f in i18n.FAMILY_ORDER if f in present] + sorted(present - set(i18n.FAMILY_ORDER))


def _direction(before: Mapping[str, int] | None, now: Mapping[str, int]) -> str:
    """better / worse / same / mixed / new: fewer (more) failures and errors is better (worse)."""
    if before is None:
        return "new"
    d_fail = now.get("fail", 0) - before.get("fail", 0)
    d_error = now.get("error", 0) - before.get("error", 0)
    if d_fail == 0 and d_error == 0:
        return "same"
    if d_fail <= 0 and d_error <= 0:
        return "better"
    if d_fail >= 0 and d_error >= 0:
        return "worse"
    return "mixed"


def _trend(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    earlier = [r for r in doc.get("trend") or () if isinstance(r, Mapping)][-10:]
    if not earlier:
        return None
    summary = doc.get("summary") or {}
    this = {
        "run_id": doc.get("run_id"),
        "started_at": doc.get("started_at"),
        "complete": doc.get("complete"),
        "by_status": summary.get("by_status") or {},
        "by_family": summary.get("by_family") or {},
        "current": True,
    }
    rows = [*earlier, this]
    families = _family_order(f for r in rows for f in (r.get("by_family") or {}))
    previous = earlier[-1]
    prev_families = previous.get("by_family") or {}
    changes = {f: _direction(prev_families.get(f), this["by_family"].get(f, {})) for f in families}
    prev_status, now_status = previous.get("by_status") or {}, this["by_status"]
    return {
        "rows": rows,
        "families": families,
        "changes": changes,
        "previous": previous,
        "overall": _direction(prev_status, now_status),
        "fail_before": prev_status.get("fail", 0),
        "fail_now": now_status.get("fail", 0),
        "error_before": prev_status.get("error", 0),
        "error_now": now_status.get("error", 0),
    }


_WAIVER_GROUPS = ("applied", "expired", "unmatched", "not_needed")


def _waivers(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    section = doc.get("waivers")
    if not isinstance(section, Mapping):
        return None
    groups = {g: [w for w in section.get(g) or () if isinstance(w, Mapping)] for g in _WAIVER_GROUPS}
    return {"file": section.get("file"), "sha256": section.get("sha256"), "groups": groups, "empty": not any(groups.values())}


def _context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Look-up tables, per-promise verdicts and counts, filters, waivers and trend, all in document order."""
    t = _HtmlTranslator(doc.get("lang"))
    lang = t.lang
    findings = [f for f in doc.get("findings") or () if isinstance(f, Mapping)]
    by_control: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for index, finding in enumerate(findings):
        by_control.setdefault(finding.get("control", ""), []).append((index, finding))
    controls = {c["id"]: c for c in doc.get("controls") or ()}
    targets = {t_["id"]: t_ for t_ in doc.get("targets") or ()}
    mapped = {cid for p in doc.get("promises") or () for cid in p.get("controls") or ()}
    ran = [*controls, *(cid for cid in by_control if cid not in controls)]

    promises = []
    recorded = verdicts.recorded_results(doc)  # computed by the runner; older run.json: the same function, here
    for n, (p, rec) in enumerate(zip((p for p in doc.get("promises") or () if isinstance(p, Mapping)), recorded), 1):
        summary = p.get("summary")
        counts = rec.get("counts") or {}
        reason = rec.get("not_checked_sv") if lang == "sv" and rec.get("not_checked_sv") else rec.get("not_checked")
        promises.append({
            "n": n,
            "p": p,
            "verdict": rec.get("verdict") or "none",
            "nonzero": [(s, counts.get(s, 0)) for s in i18n.STATUSES if counts.get(s)],
            "failing": list(rec.get("failing") or ()),
            "not_checked": reason,
            "not_checked_lang": "sv" if reason and reason == rec.get("not_checked_sv") and lang == "sv" else "en",
            "summary": i18n.localized(summary, lang),
            "summary_lang": i18n.localized_language(summary, lang),
        })
    tally = {v: sum(1 for p in promises if p["verdict"] == v) for v in i18n.VERDICT_ORDER}

    finding_targets = sorted({f.get("target", "") for f in findings})
    filters = {
        "families": _family_order(f.get("family", "") for f in findings),
        "statuses": _counts(f.get("status") for f in findings),
        "targets": [(tid, targets.get(tid, {}).get("name") or tid) for tid in finding_targets],
    }
    waivers = _waivers(doc)
    return {
        "doc": doc,
        "t": t,
        "lang": lang,
        "controls": controls,
        "control_title": lambda cid: t.plain.control_title(controls.get(cid) or {"id": cid}),
        # (text, language) of a control's recorded text (title, rationale, remediation, plain) and of a finding's message
        "control_text": lambda cid, name: t.plain.control_text(controls.get(cid) or {"id": cid}, name),
        "finding_message": lambda finding: t.plain.message(finding),
        "findings_by_control": by_control,
        "findings_total": len(findings),
        "facts": {f["id"]: f for f in doc.get("facts") or ()},
        "targets": targets,
        "promises": promises,
        "promise_tally": tally,
        "other_controls": [cid for cid in ran if cid not in mapped],
        "overall": verdict(f.get("status") for f in findings),
        "statuses": i18n.STATUSES,
        "verdict_order": i18n.VERDICT_ORDER,
        "symbols": VERDICT_SYMBOLS,
        "families_in_summary": _family_order((doc.get("summary") or {}).get("by_family") or {}),
        "filters": filters,
        "waivers": waivers,
        "waiver_groups": _WAIVER_GROUPS,
        "trend": _trend(doc),
    }


def html_chunks(doc: Mapping[str, Any]) -> Iterator[str]:
    """The run as one self-contained HTML page, in the language ``doc["lang"]`` names,
    piece by piece as the template produces it.

    A fact is cited by several findings (a server's ``sshd -T`` by six); its
    evidence block is rendered once and the same markup reused at each place.
    """
    context = _context(doc)
    evidence = _ENV.get_template("evidence.html.j2").make_module(context)
    context["fact_html"] = functools.lru_cache(maxsize=None)(getattr(evidence, "fact_block"))
    return _ENV.get_template("report.html.j2").generate(context)


def render_html(doc: Mapping[str, Any]) -> str:
    """The run as one self-contained HTML page (see :func:`html_chunks`)."""
    return "".join(html_chunks(doc))
