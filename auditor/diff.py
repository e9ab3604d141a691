"""What changed between two runs: ``auditor diff OLD NEW``.

Both runs are run documents (``run.json``, schema 1.0 or 1.1). Findings are
matched by (control, target) and sorted into honest categories; nothing is
called *fixed* unless the new run shows it passing:

==================== ===========================================================
category             meaning (OLD status → NEW status; "absent" = no such finding)
==================== ===========================================================
new_violations       anything but fail → fail (absent, pass, error, skipped,
                     waived: a waived → fail finding is also a lapsed waiver)
new_errors           anything but error → error ("now unverified" when it was
                     fail: a fail that became error is *not* fixed)
waivers_lapsed       waived → fail or error: the waiver expired or was removed
                     (these findings are also in new_violations / new_errors)
still_open           fail → fail
fixed                fail → pass (or waived with original status fail → pass)
no_longer_failing    fail → skipped or absent: not failing, not verified as fixed
errors_resolved      error → pass, skipped or absent (error → fail is a new
                     violation, error → waived is newly waived)
still_unverified     error → error
newly_waived         anything but waived → waived
==================== ===========================================================

Targets (``doc["targets"][].id``) and controls (``doc["controls"][].id``)
that appeared or disappeared are listed, and :func:`diff_runs` warns (it never
refuses) when the runs are hard to compare: different policies or inventories
(id/name or SHA-256), different policy parameters, --only/--limit or auditor
versions, OLD started after NEW, the same run twice, or an incomplete run.

JSON output (:func:`render_json`, keys sorted, two-space indent)::

    {
      "format": "auditor-diff", "format_version": "1.0",
      "headline": "2 new violations, 1 fixed, ...; 1 target appeared",
      "warnings": ["..."],
      "old": RUN, "new": RUN,
      "counts": {"new_violations": 2, ..., "targets_appeared": 1, ...},
      "new_violations": [ENTRY, ...],   # one key per category above, [] when empty
      ...
      "targets": {"appeared": ["web:shop"], "disappeared": []},
      "controls": {"appeared": [], "disappeared": ["TLS-HSTS"]}
    }
    RUN   = {"run_id", "started_at", "finished_at", "complete", "schema_version",
             "tool_version", "policy": {"id", "sha256"}, "inventory": {"name", "sha256"},
             "by_status": {"pass": n, "fail": n, "error": n, "skipped": n, "waived": n}}
    ENTRY = {"control", "target", "family", "severity",
             "old_status", "new_status",   # null when the finding is absent from that run
             "message",                    # NEW's message; OLD's for fixed and when absent from NEW
             "note",                       # why it is in this category, "" when obvious
             "waiver"}                     # null or {"id", "target", "justification", "approver",
                                           #          "expires", "source", "original_status"}

Entries are ordered by severity (critical first), then control, then target.
Only ids, statuses, severities, messages and waiver texts of the runs are
shown: never facts or evidence.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from .errors import InputError, Problem
from .text import printable
from .report.markdown import md

STATUSES = ("pass", "fail", "error", "skipped", "waived")
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
FAIL_ON = ("new-violations", "new-findings", "any-violations", "never")
DEFAULT_FAIL_ON = "new-violations"
EXIT_OK, EXIT_VIOLATIONS, EXIT_UNVERIFIED = 0, 1, 3
FORMAT_VERSION = "1.0"
SUPPORTED_SCHEMA_MAJOR = "1"
MAX_PROBLEMS = 20
MAX_MESSAGE = 300  # characters of a message in the text and Markdown views (JSON has all)
MAX_ROWS = 100  # rows of one Markdown table

# (field, title), most important first: the order of the text and Markdown sections.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("new_violations", "New violations"),
    ("new_errors", "New errors (could not verify)"),
    ("waivers_lapsed", "Waivers expired or removed"),
    ("still_open", "Still open"),
    ("fixed", "Fixed"),
    ("no_longer_failing", "No longer failing (not verified as fixed)"),
    ("errors_resolved", "Errors resolved"),
    ("still_unverified", "Still unverified"),
    ("newly_waived", "Newly waived"),
)
STRUCTURE: tuple[tuple[str, str], ...] = (
    ("targets_appeared", "Targets appeared"),
    ("targets_disappeared", "Targets disappeared"),
    ("controls_appeared", "Controls appeared"),
    ("controls_disappeared", "Controls disappeared"),
)
# headline wording: field → (singular, plural)
_HEADLINE = {
    "new_violations": ("new violation", "new violations"),
    "fixed": ("fixed", "fixed"),
    "still_open": ("still open", "still open"),
    "new_errors": ("new error", "new errors"),
    "no_longer_failing": ("no longer failing", "no longer failing"),
    "errors_resolved": ("error resolved", "errors resolved"),
    "still_unverified": ("still unverified", "still unverified"),
    "newly_waived": ("newly waived", "newly waived"),
    "waivers_lapsed": ("waiver lapsed", "waivers lapsed"),
    "targets_appeared": ("target appeared", "targets appeared"),
    "targets_disappeared": ("target disappeared", "targets disappeared"),
    "controls_appeared": ("control appeared", "controls appeared"),
    "controls_disappeared": ("control disappeared", "controls disappeared"),
}
LAPSED = "waiver expired or removed"


# --------------------------------------------------------------------- model


@dataclass(frozen=True)
class WaiverRef:
    """The waiver a finding carried (schema 1.1), as far as a diff shows it."""

    id: str
    target: str
    justification: str
    approver: str
    expires: str
    source: str
    original_status: str | None


@dataclass(frozen=True)
class Change:
    """One finding that moved between the runs."""

    control: str
    target: str
    family: str
    severity: str
    old_status: str | None  # None: no such finding in OLD
    new_status: str | None  # None: no such finding in NEW
    message: str
    note: str = ""
    waiver: WaiverRef | None = None


@dataclass(frozen=True)
class RunInfo:
    """Identity of one side of the diff."""

    run_id: str
    started_at: str
    finished_at: str
    complete: bool | None
    schema_version: str
    tool_version: str
    policy_id: str
    policy_sha256: str
    inventory_name: str
    inventory_sha256: str
    by_status: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class RunDiff:
    old: RunInfo
    new: RunInfo
    new_violations: tuple[Change, ...] = ()
    new_errors: tuple[Change, ...] = ()
    waivers_lapsed: tuple[Change, ...] = ()
    still_open: tuple[Change, ...] = ()
    fixed: tuple[Change, ...] = ()
    no_longer_failing: tuple[Change, ...] = ()
    errors_resolved: tuple[Change, ...] = ()
    still_unverified: tuple[Change, ...] = ()
    newly_waived: tuple[Change, ...] = ()
    targets_appeared: tuple[str, ...] = ()
    targets_disappeared: tuple[str, ...] = ()
    controls_appeared: tuple[str, ...] = ()
    controls_disappeared: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name, _ in (*CATEGORIES, *STRUCTURE)}

    @property
    def headline(self) -> str:
        """``2 new violations, 1 fixed, 5 still open, 1 new error; 1 target appeared``."""
        counts = self.counts()
        order = ("new_violations", "fixed", "still_open", "new_errors", "no_longer_failing", "errors_resolved", "still_unverified", "newly_waived", "waivers_lapsed")
        findings = [_count(n, name) for name in order if (n := counts[name]) or name == "new_violations"]
        structure = [_count(n, name) for name, _ in STRUCTURE if (n := counts[name])]
        return ", ".join(findings) + ("; " + ", ".join(structure) if structure else "")


def _count(n: int, name: str) -> str:
    one, many = _HEADLINE[name]
    return f"{n} {one if n == 1 else many}"


# ------------------------------------------------------------------- loading


def load_run(path: str) -> dict[str, Any]:
    """The run document in ``path``: a report folder (its ``run.json``) or a run.json file.

    Raises :class:`InputError` (file:line:column, what is wrong, what was
    expected) when the path is missing, the file is not JSON or not a run.
    """
    expected = "expected a report folder written by `auditor run` (reports/<timestamp>/) or the path of its run.json"
    if os.path.isdir(path):
        file = os.path.join(path, "run.json")
        if not os.path.isfile(file):
            raise InputError(Problem(path, None, None, f"this folder has no run.json; {expected}"))
    elif not os.path.exists(path):
        raise InputError(Problem(path, None, None, f"no such file or folder; {expected}"))
    else:
        file = path
    try:
        with open(file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(Problem(file, None, None, f"cannot be read: {exc.strerror or exc}; {expected}")) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        col = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise InputError(Problem(file, line, col, f"not UTF-8 text (byte 0x{data[start]:02x}); expected the run.json written by `auditor run`")) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(file, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}; expected the run.json written by `auditor run`")) from None
    except RecursionError:
        raise InputError(Problem(file, None, None, "not valid JSON for a run: nested too deeply; expected the run.json written by `auditor run`")) from None
    problems = _check_document(doc)
    if problems:
        raise InputError(_locate(file, text, problems))
    return doc


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


Path = tuple[Any, ...]


def _check_document(doc: Any) -> list[tuple[Path, str]]:
    """Problems (JSON path, message) that keep ``doc`` from being read as a run."""
    what = "the run.json written by `auditor run` (an object with schema_version, run_id, findings, ...)"
    if not isinstance(doc, dict):
        return [((), f"not a run document: the file holds {_kind(doc)}; expected {what}")]
    missing = [k for k in ("schema_version", "findings") if k not in doc]
    if missing:
        return [((), f"not a run document: no {' and no '.join(repr(k) for k in missing)} key; expected {what}")]
    problems: list[tuple[Path, str]] = []
    version = doc["schema_version"]
    if not isinstance(version, str) or version.split(".")[0] != SUPPORTED_SCHEMA_MAJOR:
        what_is = f"schema_version {version!r} is not supported" if isinstance(version, str) else f"schema_version is {_kind(version)}"
        problems.append((("schema_version",), f"{what_is}; expected a string \"1.x\" (run documents of schema 1.0 and 1.1)"))
    findings = doc["findings"]
    if not isinstance(findings, list):
        problems.append((("findings",), f"'findings' is {_kind(findings)}; expected a list of findings"))
        findings = []
    seen: dict[tuple[str, str], int] = {}
    for i, f in enumerate(findings):
        where = ("findings", i)
        if not isinstance(f, dict):
            problems.append((where, f"findings[{i}] is {_kind(f)}; expected an object with control, target and status"))
            continue
        bad = [k for k in ("control", "target", "status") if not isinstance(f.get(k), str) or not f.get(k)]
        if bad:
            problems.append((where, f"findings[{i}]: {', '.join(repr(k) for k in bad)} missing or not a string; expected a finding with control, target and status"))
            continue
        if f["status"] not in STATUSES:
            problems.append(((*where, "status"), f"findings[{i}]: unknown status {f['status']!r}; expected one of {', '.join(STATUSES)}"))
        if f.get("severity") is not None and f.get("severity") not in SEVERITY_RANK:
            problems.append(((*where, "severity"), f"findings[{i}]: unknown severity {f['severity']!r}; expected one of {', '.join(SEVERITY_RANK)}"))
        if f.get("waiver") is not None and not isinstance(f.get("waiver"), dict):
            problems.append(((*where, "waiver"), f"findings[{i}]: 'waiver' is {_kind(f['waiver'])}; expected null or an object"))
        key = (f["control"], f["target"])
        if key in seen:
            problems.append((where, f"findings[{i}]: a second finding for {key[0]} on {key[1]} (the first is findings[{seen[key]}]); expected one finding per control and target"))
        else:
            seen[key] = i
    for section in ("targets", "controls"):
        if section not in doc:
            continue
        items = doc[section]
        if not isinstance(items, list):
            problems.append(((section,), f"{section!r} is {_kind(items)}; expected a list of objects with an id"))
            continue
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                problems.append(((section, i), f"{section}[{i}] has no string 'id'; expected an object with an id"))
    if "complete" in doc and not isinstance(doc["complete"], bool):
        problems.append((("complete",), f"'complete' is {_kind(doc['complete'])}; expected true or false"))
    for section in ("policy", "inventory"):
        if doc.get(section) is not None and not isinstance(doc[section], dict):
            problems.append(((section,), f"{section!r} is {_kind(doc[section])}; expected an object"))
    return problems


class _LocDict(dict):
    __slots__ = ("offset", "offsets")


class _LocList(list):
    __slots__ = ("offset", "offsets")


def _parse_located(text: str) -> Any:
    """``json.loads`` whose objects and lists remember where they and their members start."""
    decoder = json.JSONDecoder()

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo):  # noqa: ANN001
        starts: list[int] = []

        def scan(s: str, idx: int) -> Any:
            starts.append(idx)
            return scan_once(s, idx)

        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan, None, list, memo)
        obj = _LocDict(pairs)
        obj.offset = s_and_end[1] - 1
        obj.offsets = {k: starts[n] for n, (k, _) in enumerate(pairs)}
        return obj, end

    def parse_array(s_and_end, scan_once):  # noqa: ANN001
        starts: list[int] = []

        def scan(s: str, idx: int) -> Any:
            starts.append(idx)
            return scan_once(s, idx)

        values, end = json.decoder.JSONArray(s_and_end, scan)
        arr = _LocList(values)
        arr.offset = s_and_end[1] - 1
        arr.offsets = starts
        return arr, end

    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.parse_array = parse_array  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


def _locate(file: str, text: str, problems: list[tuple[Path, str]]) -> list[Problem]:
    """Problems with the line and column of the JSON value each one is about."""
    try:
        root = _parse_located(text)
    except (RecursionError, ValueError):
        root = None
    top = len(text) - len(text.lstrip())
    out: list[Problem] = []
    for path, message in problems[:MAX_PROBLEMS]:
        offset = top
        node = root
        for step in path:
            if isinstance(node, (_LocDict, _LocList)):
                try:
                    offset, node = node.offsets[step], node[step]
                except (KeyError, IndexError):
                    break
            else:
                break
        line = text.count("\n", 0, offset) + 1
        col = offset - (text.rfind("\n", 0, offset) + 1) + 1
        out.append(Problem(file, line, col, message))
    if len(problems) > MAX_PROBLEMS:
        out.append(Problem(file, None, None, f"... and {len(problems) - MAX_PROBLEMS} more problems"))
    return out


# ------------------------------------------------------------------- diffing


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, 0)


def _info(doc: Mapping[str, Any]) -> RunInfo:
    policy = doc.get("policy") if isinstance(doc.get("policy"), Mapping) else {}
    inventory = doc.get("inventory") if isinstance(doc.get("inventory"), Mapping) else {}
    counts = {s: 0 for s in STATUSES}
    for f in _findings(doc):
        if f.get("status") in counts:
            counts[f["status"]] += 1
    complete = doc.get("complete")
    return RunInfo(
        run_id=_str(doc.get("run_id")),
        started_at=_str(doc.get("started_at")),
        finished_at=_str(doc.get("finished_at")),
        complete=complete if isinstance(complete, bool) else None,
        schema_version=_str(doc.get("schema_version")),
        tool_version=_str(doc.get("tool_version")),
        policy_id=_str(policy.get("id")),
        policy_sha256=_str(policy.get("sha256")),
        inventory_name=_str(inventory.get("name")),
        inventory_sha256=_str(inventory.get("sha256")),
        by_status=tuple(counts.items()),
    )


def _findings(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in doc.get("findings") or () if isinstance(f, Mapping)]


def _ids(doc: Mapping[str, Any], section: str, fallback: str) -> set[str]:
    """Ids of ``doc[section]``; when the section is missing, the ids its findings name."""
    items = doc.get(section)
    if isinstance(items, list):
        return {i["id"] for i in items if isinstance(i, Mapping) and isinstance(i.get("id"), str)}
    return {f[fallback] for f in _findings(doc) if isinstance(f.get(fallback), str)}


def _waiver(f: Mapping[str, Any] | None) -> WaiverRef | None:
    w = (f or {}).get("waiver")
    if not isinstance(w, Mapping):
        return None
    original = w.get("original_status")
    return WaiverRef(
        id=_str(w.get("id")),
        target=_str(w.get("target")),
        justification=_str(w.get("justification")),
        approver=_str(w.get("approver")),
        expires=_str(w.get("expires")),
        source=_str(w.get("source")),
        original_status=original if isinstance(original, str) else None,
    )


def _started(doc: Mapping[str, Any]) -> datetime | None:
    value = doc.get("started_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _short(sha: str) -> str:
    return sha[:12] + "…" if len(sha) > 12 else sha or "none"


def _warnings(old: Mapping[str, Any], new: Mapping[str, Any], o: RunInfo, n: RunInfo) -> list[str]:
    out: list[str] = []
    blame = "a change may come from the {0}, not from the environment"
    if o.policy_id != n.policy_id:
        out.append(f"the runs used different policies: {o.policy_id or '?'} (OLD) and {n.policy_id or '?'} (NEW); " + blame.format("policy"))
    elif o.policy_sha256 and n.policy_sha256 and o.policy_sha256 != n.policy_sha256:
        out.append(f"the policy {o.policy_id} changed between the runs (sha256 {_short(o.policy_sha256)} -> {_short(n.policy_sha256)}); " + blame.format("policy"))
    op = (old.get("policy") or {}).get("parameters") if isinstance(old.get("policy"), Mapping) else None
    np = (new.get("policy") or {}).get("parameters") if isinstance(new.get("policy"), Mapping) else None
    if isinstance(op, Mapping) and isinstance(np, Mapping) and op != np:
        changed = sorted(k for k in set(op) | set(np) if op.get(k, _MISSING) != np.get(k, _MISSING))
        shown = ", ".join(f"{k}: {_param(op.get(k, _MISSING))} -> {_param(np.get(k, _MISSING))}" for k in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        out.append(f"policy parameters differ ({shown}{more}); " + blame.format("policy"))
    if o.inventory_name != n.inventory_name:
        out.append(f"the runs audited different inventories: {o.inventory_name or '?'} (OLD) and {n.inventory_name or '?'} (NEW)")
    elif o.inventory_sha256 and n.inventory_sha256 and o.inventory_sha256 != n.inventory_sha256:
        out.append(f"the inventory {o.inventory_name} changed between the runs (sha256 {_short(o.inventory_sha256)} -> {_short(n.inventory_sha256)}): targets may have been added, removed or reconfigured")
    oo, no = old.get("options"), new.get("options")
    if isinstance(oo, Mapping) and isinstance(no, Mapping):
        for key, flag in (("only", "--only"), ("limit", "--limit")):
            a, b = oo.get(key) or [], no.get(key) or []
            if a != b:
                out.append(f"the runs checked different selections ({flag} {_selection(a)} in OLD, {_selection(b)} in NEW): findings outside either selection show as appeared or no longer checked")
    if o.tool_version and n.tool_version and o.tool_version != n.tool_version:
        out.append(f"the runs were made by different auditor versions ({o.tool_version} and {n.tool_version}): a check's behaviour may have changed")
    if o.run_id and o.run_id == n.run_id:
        out.append(f"OLD and NEW are the same run ({o.run_id})")
    ot, nt = _started(old), _started(new)
    for label, when, raw in (("OLD", ot, o.started_at), ("NEW", nt, n.started_at)):
        if when is None:
            out.append(f"the {label} run has no valid started_at ({raw or 'missing'}; expected an ISO 8601 UTC time): the order of the runs was not checked")
    if ot and nt and ot > nt:
        out.append(f"OLD started after NEW ({o.started_at} > {n.started_at}): were the arguments swapped? The order is `auditor diff OLD NEW`")
    if o.complete is False:
        out.append("the OLD run is incomplete (interrupted): findings missing from it show as new")
    if n.complete is False:
        out.append("the NEW run is incomplete (interrupted): findings missing from it show as no longer failing or resolved, never as fixed")
    return out


_MISSING = object()


def _param(value: Any) -> str:
    return "(unset)" if value is _MISSING else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _selection(values: Any) -> str:
    return ",".join(map(str, values)) if values else "(all)"


def diff_runs(old: Mapping[str, Any], new: Mapping[str, Any]) -> RunDiff:
    """Compare two run documents (OLD first). Pure: reads only its arguments.

    Tolerates schema 1.0 documents (no waivers, trend or lang). Should a
    document hold two findings for one (control, target), the later one counts
    (:func:`load_run` refuses such documents).
    """
    o_info, n_info = _info(old), _info(new)
    olds = {(f["control"], f["target"]): f for f in _findings(old) if "control" in f and "target" in f}
    news = {(f["control"], f["target"]): f for f in _findings(new) if "control" in f and "target" in f}
    o_targets, n_targets = _ids(old, "targets", "target"), _ids(new, "targets", "target")
    o_controls, n_controls = _ids(old, "controls", "control"), _ids(new, "controls", "control")
    meta = {}
    for doc in (old, new):
        for c in doc.get("controls") or ():
            if isinstance(c, Mapping) and isinstance(c.get("id"), str):
                meta[c["id"]] = c

    def gone_note(control: str, target: str) -> str:
        if target in o_targets and target not in n_targets:
            return "no longer checked: the target is not in the new run"
        if control in o_controls and control not in n_controls:
            return "no longer checked: the control is not in the new run"
        if n_info.complete is False:
            return "not in the new run, which is incomplete"
        return "not checked in the new run"

    def new_note(control: str, target: str) -> str:
        if target in n_targets and target not in o_targets:
            return "new target"
        if control in n_controls and control not in o_controls:
            return "new control"
        if o_info.complete is False:
            return "not in the old run, which is incomplete"
        return "not checked in the old run"

    def lapsed_note(o: Mapping[str, Any]) -> str:
        w = _waiver(o)
        if w is None or not w.id:
            return LAPSED
        waivers = new.get("waivers")
        if "waivers" in new and waivers is None:
            return f"{LAPSED}: no waiver file was given to the new run (waiver {w.id})"
        if isinstance(waivers, Mapping):
            for item in waivers.get("expired") or ():
                if isinstance(item, Mapping) and item.get("id") == w.id:
                    return f"{LAPSED}: waiver {w.id} has expired (expiry date {_str(item.get('expires')) or w.expires})"
            listed = any(isinstance(item, Mapping) and item.get("id") == w.id for key in ("applied", "unmatched", "not_needed") for item in waivers.get(key) or ())
            if not listed:
                return f"{LAPSED}: waiver {w.id} is not in the new run's waiver file"
        return f"{LAPSED}: waiver {w.id} (expiry date {w.expires or '?'}) no longer applies"

    buckets: dict[str, list[Change]] = {name: [] for name, _ in CATEGORIES}
    for key in olds.keys() | news.keys():
        control, target = key
        o, n = olds.get(key), news.get(key)
        os_ = o.get("status") if o else None
        ns = n.get("status") if n else None
        if os_ == "waived":
            w = _waiver(o)
            o_effective = w.original_status if w and w.original_status in ("fail", "error") else None
        else:
            o_effective = os_
        base = n or o or {}
        info = meta.get(control, {})
        family = _str(base.get("family") or (o or {}).get("family") or info.get("family"))
        severity = _str(base.get("severity") or (o or {}).get("severity") or info.get("severity"))

        def add(category: str, message_of: Mapping[str, Any] | None, note: str = "", waiver: WaiverRef | None = None) -> None:
            message = _str((message_of or o or n or {}).get("message"))
            buckets[category].append(Change(control, target, family, severity, os_, ns, message, note, waiver))

        if ns == "fail":
            if os_ == "fail":
                add("still_open", n)
            else:
                note = {None: new_note(control, target), "error": "was error: it could not be verified in the old run", "skipped": "was skipped in the old run"}.get(os_, "")
                if os_ == "waived":
                    note = lapsed_note(o or {})
                    add("waivers_lapsed", n, note, _waiver(o))
                add("new_violations", n, note, _waiver(o) if os_ == "waived" else None)
        elif ns == "error":
            if os_ == "error":
                add("still_unverified", n)
            else:
                note = {None: new_note(control, target), "fail": "now unverified: it failed in the old run and is not verified as fixed", "pass": "passed in the old run"}.get(os_, "")
                if os_ == "waived":
                    note = lapsed_note(o or {})
                    add("waivers_lapsed", n, note, _waiver(o))
                add("new_errors", n, note, _waiver(o) if os_ == "waived" else None)
        elif ns == "waived":
            if os_ != "waived":
                w = _waiver(n)
                note = f"waiver {w.id}, approved by {w.approver}, expires {w.expires}: {w.justification}" if w else "waived (the run records no waiver details)"
                if os_ is None:
                    note = f"{new_note(control, target)}; {note}"
                add("newly_waived", n, note, w)
        elif ns in ("pass", "skipped", None):
            was_waived = "; it was waived in the old run" if os_ == "waived" else ""
            if o_effective == "fail":
                if ns == "pass":
                    add("fixed", o, "it was waived in the old run" if was_waived else "", _waiver(o))
                elif ns == "skipped":
                    add("no_longer_failing", n, "now skipped: not verified as fixed" + was_waived, _waiver(o))
                else:
                    add("no_longer_failing", o, gone_note(control, target) + was_waived, _waiver(o))
            elif o_effective == "error":
                if ns is None:
                    add("errors_resolved", o, gone_note(control, target) + was_waived, _waiver(o))
                else:
                    add("errors_resolved", n, ("now skipped" if ns == "skipped" else "") + was_waived, _waiver(o))

    def ordered(changes: Iterable[Change]) -> tuple[Change, ...]:
        return tuple(sorted(changes, key=lambda c: (-_rank(c.severity), c.control, c.target)))

    return RunDiff(
        old=o_info,
        new=n_info,
        **{name: ordered(items) for name, items in buckets.items()},
        targets_appeared=tuple(sorted(n_targets - o_targets)),
        targets_disappeared=tuple(sorted(o_targets - n_targets)),
        controls_appeared=tuple(sorted(n_controls - o_controls)),
        controls_disappeared=tuple(sorted(o_controls - n_controls)),
        warnings=tuple(_warnings(old, new, o_info, n_info)),
    )


# ------------------------------------------------------------------ exit code


def diff_exit_code(d: RunDiff, fail_on: str = DEFAULT_FAIL_ON, min_severity: str = "low") -> tuple[int, str]:
    """(exit code, why) for CI, with the codes of ``auditor run``: 0 ok, 1 violations, 3 could not verify.

    ``fail_on``: ``new-violations`` (1 when a new violation is at or above
    ``min_severity``), ``new-findings`` (1 on such new violations, else 3 on
    any new error), ``any-violations`` (1 when NEW has any violation at or
    above ``min_severity``, new or still open), ``never`` (0). A finding whose
    severity is unknown counts at every threshold. Bad values raise InputError.
    """
    if fail_on not in FAIL_ON:
        raise InputError(Problem("--fail-on", None, None, f"unknown value {fail_on!r}; expected one of {', '.join(FAIL_ON)}"))
    if min_severity not in SEVERITY_RANK:
        raise InputError(Problem("--min-severity", None, None, f"unknown severity {min_severity!r}; expected one of {', '.join(SEVERITY_RANK)}"))
    threshold = SEVERITY_RANK[min_severity]

    def at_or_above(changes: Iterable[Change]) -> list[Change]:
        return [c for c in changes if SEVERITY_RANK.get(c.severity, 99) >= threshold]

    new = at_or_above(d.new_violations)
    open_ = at_or_above(d.still_open)
    caveat = f" ({len(d.warnings)} warning(s): see above)" if d.warnings else ""
    if fail_on == "never":
        return EXIT_OK, f"--fail-on never: {d.headline}{caveat}"
    if fail_on == "any-violations":
        if new or open_:
            return EXIT_VIOLATIONS, f"{len(new) + len(open_)} violation(s) in the new run at or above severity {min_severity} ({len(new)} new, {len(open_)} still open){caveat}"
        under = len(d.new_violations) + len(d.still_open) - len(new) - len(open_)
        return EXIT_OK, f"no violation in the new run at or above severity {min_severity}{f' ({under} below it)' if under else ''}{caveat}"
    if new:
        return EXIT_VIOLATIONS, f"{len(new)} new violation(s) at or above severity {min_severity}{caveat}"
    if fail_on == "new-findings" and d.new_errors:
        return EXIT_UNVERIFIED, f"{len(d.new_errors)} new error(s): could not verify{caveat}"
    below = len(d.new_violations) - len(new)  # new, but under min_severity: said, never hidden
    notes = [f"{below} new below it"] * bool(below) + [f"{len(open_)} still open"] * bool(open_)
    rest = f" ({', '.join(notes)})" if notes else ""
    if fail_on == "new-findings":
        what = f"new violation at or above severity {min_severity} or new error" if below else "new violation or new error"
    else:
        what = f"new violation at or above severity {min_severity}"
    return EXIT_OK, f"no {what}{rest}{caveat}"


# ------------------------------------------------------------------ renderers


def to_dict(d: RunDiff) -> dict[str, Any]:
    """The diff as plain JSON types (the document :func:`render_json` writes)."""

    def run(info: RunInfo) -> dict[str, Any]:
        return {
            "run_id": info.run_id,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "complete": info.complete,
            "schema_version": info.schema_version,
            "tool_version": info.tool_version,
            "policy": {"id": info.policy_id, "sha256": info.policy_sha256},
            "inventory": {"name": info.inventory_name, "sha256": info.inventory_sha256},
            "by_status": dict(info.by_status),
        }

    def entry(c: Change) -> dict[str, Any]:
        w = c.waiver
        return {
            "control": c.control,
            "target": c.target,
            "family": c.family,
            "severity": c.severity,
            "old_status": c.old_status,
            "new_status": c.new_status,
            "message": c.message,
            "note": c.note,
            "waiver": None if w is None else {"id": w.id, "target": w.target, "justification": w.justification, "approver": w.approver, "expires": w.expires, "source": w.source, "original_status": w.original_status},
        }

    out: dict[str, Any] = {
        "format": "auditor-diff",
        "format_version": FORMAT_VERSION,
        "headline": d.headline,
        "warnings": list(d.warnings),
        "old": run(d.old),
        "new": run(d.new),
        "counts": d.counts(),
        "targets": {"appeared": list(d.targets_appeared), "disappeared": list(d.targets_disappeared)},
        "controls": {"appeared": list(d.controls_appeared), "disappeared": list(d.controls_disappeared)},
    }
    for name, _ in CATEGORIES:
        out[name] = [entry(c) for c in getattr(d, name)]
    return out


def render_json(d: RunDiff) -> str:
    """The diff as JSON: keys sorted, stable for equal input (see the module docstring)."""
    return json.dumps(to_dict(d), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _line(text: Any, limit: int | None = MAX_MESSAGE) -> str:
    """``text`` on one line, terminal control characters made visible, capped."""
    flat = " ".join(printable(_str(text)).split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


def _status(s: str | None) -> str:
    return s or "absent"


def _run_line(label: str, info: RunInfo) -> str:
    counts = "  ".join(f"{s} {n}" for s, n in info.by_status)
    state = "" if info.complete is not False else "  INCOMPLETE"
    return f"{label}  run {_line(info.run_id or '?')}  started {_line(info.started_at or '?')}  policy {_line(info.policy_id or '?')}  inventory {_line(info.inventory_name or '?')}  ({counts}){state}"


def render_text(d: RunDiff) -> str:
    """The diff for a terminal or a CI log: headline, warnings, runs, then sections."""
    lines = [d.headline]
    lines += [f"warning: {_line(w, None)}" for w in d.warnings]
    lines += ["", _run_line("OLD", d.old), _run_line("NEW", d.new)]
    for name, title in CATEGORIES:
        changes = getattr(d, name)
        if not changes:
            continue
        lines += ["", f"{title} ({len(changes)})"]
        for c in changes:
            note = f" [{_line(c.note)}]" if c.note else ""
            lines.append(f"  {_line(c.severity or '?'):<8}  {_line(c.control, None)} on {_line(c.target, None)} ({_status(c.old_status)} -> {_status(c.new_status)}): {_line(c.message)}{note}")
    for name, title in STRUCTURE:
        ids = getattr(d, name)
        if ids:
            sign = "+" if name.endswith("appeared") and not name.endswith("disappeared") else "-"
            lines += ["", f"{title} ({len(ids)})", *(f"  {sign} {_line(i, None)}" for i in ids)]
    return "\n".join(lines) + "\n"


def render_markdown(d: RunDiff) -> str:
    """The diff as GitHub-flavoured Markdown (job summaries, pull-request comments)."""
    lines = ["## Audit changes", "", f"**{md(d.headline)}**"]
    for w in d.warnings:
        lines += ["", f"> **Warning:** {md(w)}"]
    runs = [["OLD", d.old], ["NEW", d.new]]
    lines += [
        "",
        "| | Run | Started (UTC) | Policy | Inventory | Complete |",
        "|---|---|---|---|---|---|",
        *(f"| {label} | {md(i.run_id)} | {md(i.started_at)} | {md(i.policy_id)} | {md(i.inventory_name)} | {'no' if i.complete is False else 'yes' if i.complete else '?'} |" for label, i in runs),
    ]
    for name, title in CATEGORIES:
        changes = getattr(d, name)
        if not changes:
            continue
        with_note = any(c.note for c in changes)
        header = ["Severity", "Control", "Target", "Was", "Now", "Message", *(["Note"] if with_note else [])]
        lines += ["", f"### {title} ({len(changes)})", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for c in changes[:MAX_ROWS]:
            cells = [c.severity, c.control, c.target, _status(c.old_status), _status(c.new_status), _line(c.message), *([_line(c.note)] if with_note else [])]
            lines.append("| " + " | ".join(md(x) for x in cells) + " |")
        if len(changes) > MAX_ROWS:
            lines += ["", f"… and {len(changes) - MAX_ROWS} more (the JSON output lists all)."]
    for name, title in STRUCTURE:
        ids = getattr(d, name)
        if ids:
            lines += ["", f"### {title} ({len(ids)})", "", *(f"- {md(i)}" for i in ids)]
    return "\n".join(lines) + "\n"
