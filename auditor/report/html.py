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


def _compact_json(value: Any) -> Markup:
    """Technical details as element text: only ``&``, ``<`` and ``>`` need escaping there, not the many quotes."""
    text = printable(json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": ")))
    return Markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


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
_ENV.filters["compact_json"] = _compact_json
_ENV.filters["clock"] = lambda value: i18n.format_when(value)[11:] if isinstance(value, str) and len(i18n.format_when(value)) > 11 else i18n.format_when(value)
_ENV.filters["when"] = _time


def _code(value: Any) -> Markup:
    return Markup("<code>{}</code>").format(_clean(value))


def _link(href: str, text: Any) -> Markup:
    return Markup('<a href="{}">{}</a>').format(href, _clean(text))


def _lang_span(text: Any, lang: Any) -> Markup:
    return Markup('<span lang="{}">{}</span>').format(_clean(lang), _clean(text))


_ENV.globals.update(code=_code, lang_span=_lang_span, link=_link)


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


_NAMES_SHOWN = 5  # target names listed on a card; the rest are counted


def _in_language(record: Mapping[str, Any], key: str, lang: str) -> tuple[str, str] | None:
    """(text, its language) of ``key`` / ``key_sv`` in a control or promise of the run: the report's language when recorded, else English."""
    for code, name in ((lang, f"{key}_{lang}" if lang != i18n.DEFAULT_LANGUAGE else key), (i18n.DEFAULT_LANGUAGE, key)):
        text = record.get(name)
        if isinstance(text, str) and text.strip():
            return text, code
    return None


def _failing_line(t: _HtmlTranslator, item: Mapping[str, Any], controls: Mapping[str, Mapping[str, Any]], targets: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One failing check on a card: the sentence in plain words, its language, the targets and what to do."""
    cid = str(item.get("control", ""))
    control = controls.get(cid) or {"id": cid}
    ids = [str(x) for x in item.get("targets") or ()]
    n = item.get("n") if isinstance(item.get("n"), int) else len(ids)
    kinds = [targets.get(x, {}).get("kind") for x in ids] or list(control.get("kinds") or ())
    kind_word = t.label("kind", kinds[0]) if kinds and len(set(kinds)) == 1 else t.plain("card.targets_word")
    plain = _in_language(control, "plain", t.lang) if item.get("status") == "fail" else None
    if plain:
        text, text_lang = plain[0].replace("{n}", str(n)).replace("{targets}", kind_word), plain[1]
    else:
        title, title_lang = t.plain.control_title(control)
        key = "card.fail" if item.get("status") == "fail" else "card.error"
        text = t.plural(key, n, title=title if title_lang == t.lang else _lang_span(title, title_lang))
        text_lang = t.lang
    names = [targets.get(x, {}).get("name") or x for x in ids]
    return {
        "control": cid,
        "status": item.get("status"),
        "text": text,
        "text_lang": text_lang,
        "names": names[:_NAMES_SHOWN],
        "more": max(0, len(names) - _NAMES_SHOWN),
        "remedy": _in_language(control, "remediation", t.lang) if item.get("status") == "fail" else None,
    }


LONG_EXCERPT_LINES = 40  # an excerpt longer than this shows only the lines the checks read (when they can be told)
SHARED_EXCERPT_CHARS = 120
LONG_SOURCE_CHARS, SHORT_SOURCE_CHARS = 100, 24  # a long command line shown before: its start and a link  # an excerpt at least this long, shown before, is referred to rather than repeated


def _keys(value: Any) -> Iterator[str]:
    """Every mapping key in a finding's details, at any depth, lower-cased: the settings a check read."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield str(key).lower()
            yield from _keys(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _keys(inner)


def _read_lines(excerpt: str, keys: set[str]) -> tuple[str, int, int] | None:
    """For a long excerpt of ``keyword value`` lines (``sshd -T``): (the lines whose keyword a check read,
    how many, out of how many); None when the excerpt is short or no line can be told to matter."""
    lines = excerpt.splitlines()
    if len(lines) <= LONG_EXCERPT_LINES or not keys:
        return None
    kept = [line for line in lines if line.split(None, 1)[:1] and line.split(None, 1)[0].lower() in keys]
    return ("\n".join(kept) + "\n", len(kept), len(lines)) if kept else None


def _evidence_views(facts: list[Mapping[str, Any]], findings: list[Mapping[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """How each piece of evidence is shown, keyed by (fact id, index): its excerpt (only the lines the
    checks read, for long keyword listings), or a reference to the same excerpt shown earlier in the page.
    Digest and source stay with every piece; run.json keeps the full text."""
    keys: dict[str, set[str]] = {}
    for f in findings:
        for fid in f.get("facts") or ():
            keys.setdefault(fid, set()).update(_keys(f.get("details")))
    seen: dict[str, str] = {}
    sources: dict[str, str] = {}
    views: dict[tuple[str, int], dict[str, Any]] = {}
    for fact in facts:
        fid = fact.get("id", "")
        for i, ev in enumerate(fact.get("evidence") or ()):
            if not isinstance(ev, Mapping):
                continue
            text = ev.get("excerpt") or ""
            picked = _read_lines(text, keys.get(fid, set())) if isinstance(text, str) else None
            shown = picked[0] if picked else text
            anchor = f"ex-{len(views)}"
            same = seen.get(shown) if isinstance(shown, str) and len(shown) >= SHARED_EXCERPT_CHARS else None
            if same is None and isinstance(shown, str) and len(shown) >= SHARED_EXCERPT_CHARS:
                seen[shown] = anchor
            view = {"anchor": anchor, "text": shown, "picked": picked and picked[1:], "same": same}
            source = ev.get("source")
            if isinstance(source, str) and len(source) >= LONG_SOURCE_CHARS:
                if source in sources:
                    view.update(source_same=sources[source], source_short=source[:SHORT_SOURCE_CHARS])
                else:
                    sources[source] = view["source_id"] = f"src-{len(sources)}"
            views[(fid, i)] = view
    return views


def _appendix(doc: Mapping[str, Any], facts: list[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The facts per target, targets in inventory order (then any other), facts in run order."""
    order = {t.get("id"): n for n, t in enumerate(doc.get("targets") or ())}
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for fact in facts:
        grouped.setdefault(fact.get("target", ""), []).append(fact)
    return sorted(grouped.items(), key=lambda item: (order.get(item[0], len(order)), str(item[0])))


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
        promises.append({
            "n": n,
            "p": p,
            "verdict": rec.get("verdict") if rec.get("verdict") in VERDICT_SYMBOLS else "none",
            "nonzero": [(s, counts.get(s, 0)) for s in (*i18n.STATUSES, *sorted(set(counts) - set(i18n.STATUSES))) if counts.get(s, 0)],
            "summary": i18n.localized(summary, lang),
            "summary_lang": i18n.localized_language(summary, lang),
            "failing": [_failing_line(t, item, controls, targets) for item in rec.get("failing") or () if isinstance(item, Mapping)],
            "not_checked": _in_language(rec, "not_checked", lang),
        })
    tally = {v: sum(1 for p in promises if p["verdict"] == v) for v in i18n.VERDICT_ORDER}

    finding_targets = sorted({f.get("target", "") for f in findings})
    filters = {
        "families": _family_order(f.get("family", "") for f in findings),
        "statuses": _counts(f.get("status") for f in findings),
        "targets": [(tid, targets.get(tid, {}).get("name") or tid) for tid in finding_targets],
    }
    waivers = _waivers(doc)
    facts = [f for f in doc.get("facts") or () if isinstance(f, Mapping) and "id" in f]
    appendix = _appendix(doc, facts)
    return {
        "doc": doc,
        "t": t,
        "lang": lang,
        "controls": controls,
        "in_language": lambda record, key: _in_language(record, key, lang),
        "control_title": lambda cid: t.plain.control_title(controls.get(cid) or {"id": cid}),
        # (text, language) of a control's recorded text (title, rationale, remediation, plain) and of a finding's message
        "control_text": lambda cid, name: t.plain.control_text(controls.get(cid) or {"id": cid}, name),
        "finding_message": lambda finding: t.plain.message(finding),
        "findings_by_control": by_control,
        "findings_total": len(findings),
        "facts": {f["id"]: f for f in facts},
        "fact_anchor": {f["id"]: f"fact-{n}" for n, f in enumerate(f for _, group in appendix for f in group)},
        "appendix": appendix,
        "run_day": str(doc.get("started_at") or "")[:10],
        "target_anchor": {tid: f"evidence-{n}" for n, (tid, _) in enumerate(appendix, 1)},
        "shared_chars": SHARED_EXCERPT_CHARS,
        "views": _evidence_views([f for _, group in appendix for f in group], findings),
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
        "shard_note": i18n.shard_note(doc, t.plain),
        "trend": _trend(doc),
    }


def html_chunks(doc: Mapping[str, Any]) -> Iterator[str]:
    """The run as one self-contained HTML page, in the language ``doc["lang"]`` names,
    piece by piece as the template produces it.

    A fact is cited by several findings (a server's ``sshd -T`` by six); its
    evidence is shown once, in the evidence section per target, and the
    findings link to it. An excerpt shown before is referred to, not repeated.
    """
    context = _context(doc)
    return _ENV.get_template("report.html.j2").generate(context)


def render_html(doc: Mapping[str, Any]) -> str:
    """The run as one self-contained HTML page (see :func:`html_chunks`)."""
    return "".join(html_chunks(doc))
