"""Waivers: an accepted, approved, time-limited exception to one control.

A waiver file (``waivers.yaml``, documented in ``docs/waivers.md``) lists
waivers, each naming one control id, a target pattern (the same patterns as
``--limit``: ``kind:name``, a name, a tag or a group, globs allowed), a
justification, an approver and an expiry date::

    waivers:
      - id: W-2026-014
        control: ACCESS-SUDO-NOPASSWD-ALL
        target: "server:web-*"
        justification: "Deploy user needs passwordless sudo until the CI migration (OPS-311)."
        approver: "Anna Berg, DPO"
        expires: 2027-03-31

:func:`load_waivers` validates the file strictly (every problem at once,
with file:line:column) before any target is contacted. :func:`apply_waivers`
turns the ``fail`` and ``error`` findings a waiver covers into ``waived``
(the original status is kept in ``finding.waiver``) and builds the run's
``waivers`` section: which waivers were applied, which have expired, which
matched nothing and which were not needed because everything they cover
passed. A waiver is valid through the end of its expiry day (UTC); "today"
is the run's start date in UTC.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


from .inventory import Inventory
from .model import Finding, Status, Target
from .registry import Registry
from .yamlsrc import MISSING, check_mapping, Checker, describe, Field, LMap, load_document, string, suggest

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EARLIEST_YEAR = 2000
WAIVABLE = (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class Waiver:
    id: str
    control: str  # one exact control id
    target: str  # a --limit pattern: kind:name, name, tag or group; globs allowed
    justification: str
    approver: str
    expires: datetime.date  # valid through the end of this day, UTC
    source: str  # "file:line" of the entry

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "control": self.control,
            "target": self.target,
            "justification": self.justification,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
            "source": self.source,
        }


@dataclass(frozen=True)
class WaiverSet:
    path: str  # absolute path of the file
    sha256: str  # of the file's bytes
    waivers: tuple[Waiver, ...]


# --- loading ------------------------------------------------------------------

def _expiry(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
    expected = "a date YYYY-MM-DD (e.g. 2027-03-31), the last day the waiver applies"
    if isinstance(value, datetime.datetime):  # before date: datetime is a subclass of date
        chk.add(pos, f"{path}: expected {expected}, found a date with a time ({value.isoformat()}); a waiver lasts through its whole expiry day (UTC), drop the time")
        return MISSING
    if isinstance(value, datetime.date):
        day = value
    elif isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            day = datetime.date.fromisoformat(value.strip())
        except ValueError as exc:
            chk.add(pos, f"{path}: {value!r} is not a real date ({exc}); expected {expected}")
            return MISSING
    else:
        chk.add(pos, f"{path}: expected {expected}, found {describe(value)}")
        return MISSING
    if day.year < _EARLIEST_YEAR:
        chk.add(pos, f"{path}: {day.isoformat()} is before {_EARLIEST_YEAR}; expected {expected}")
        return MISSING
    return day


WAIVER_FIELDS: dict[str, Field] = {
    "id": Field(string(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", "an id of letters, digits, '.', '_' or '-', e.g. W-2026-014"), doc="optional; default W<n> (n: position in the list, from 1)"),
    "control": Field(string(None, "one control id, e.g. ACCESS-SUDO-NOPASSWD-ALL"), doc="one exact control id, as `auditor controls` lists it (no globs)"),
    "target": Field(string(None, "a target pattern: kind:name, a name, a tag or a group (globs allowed)"), doc="which targets: kind:name, a name, a tag or a group, as with --limit (globs allowed)"),
    "justification": Field(string(None, "a non-empty justification: why the exception is accepted"), doc="why the exception is accepted"),
    "approver": Field(string(None, "a non-empty approver: who accepted the risk"), doc="who accepted the risk"),
    "expires": Field(_expiry, doc="the last day the waiver applies (UTC), YYYY-MM-DD: every waiver must end"),
}
REQUIRED = ("control", "target", "justification", "approver", "expires")  # checked here, to say what each one is for
TOP_FIELDS: dict[str, Field] = {"waivers": Field(lambda v, p, pos, c: v, required=True)}


def load_waivers(path: str, registry: Registry) -> WaiverSet:
    """Read and validate a waiver file; raises InputError listing every problem."""
    document = load_document(path, TOP_FIELDS, "the waiver file, with a 'waivers:' list",
                             empty="the waiver file is empty; expected a mapping with a 'waivers:' list (see docs/waivers.md)")
    doc, digest, chk = document.raw, document.sha256, document.checker
    raw = doc.get("waivers")
    waivers: list[Waiver] = []
    if raw is not None and not isinstance(raw, list):
        chk.add(doc.where("waivers"), f"waivers: expected a list of waivers (each starting with '- control: ...'), found {describe(raw)}")
    elif raw is not None:
        positions = getattr(raw, "item_pos", [])
        known = sorted(registry.controls)
        first_line: dict[str, int] = {}
        for i, item in enumerate(raw):
            pos = positions[i] if i < len(positions) else doc.where("waivers")
            where = f"waivers[{i}]"
            clean = check_mapping(item, where, pos, chk, WAIVER_FIELDS, "one waiver")
            if clean is None:
                continue
            for key in REQUIRED:
                if key not in item:
                    chk.add(pos, f"{where}: missing required key {key!r}: {WAIVER_FIELDS[key].doc}")
            if isinstance(item, dict) and "id" in item and "id" not in clean:
                continue  # a malformed id: already reported
            wid = clean.get("id") or f"W{i + 1}"
            if wid in first_line:
                ipos = item.where("id") if isinstance(item, LMap) and "id" in item else pos
                how = "" if "id" in clean else f" (the default id of the waiver at position {i + 1})"
                chk.add(ipos, f"{where}: id {wid!r}{how} is already used by the waiver on line {first_line[wid]}; waiver ids must be unique")
                continue
            first_line[wid] = pos[0]
            cid = clean.get("control")
            if cid is not None and cid not in registry.controls:
                cpos = item.where("control") if isinstance(item, LMap) else pos
                if any(ch in cid for ch in "*?["):
                    hits = [c for c in known if fnmatch.fnmatchcase(c, cid)]
                    shown = f" (it would match {', '.join(hits[:5])}{', ...' if len(hits) > 5 else ''})" if hits else ""
                    chk.add(cpos, f"{where}.control: {cid!r} is a pattern; a waiver names exactly one control id{shown}. Write one waiver per control")
                else:
                    chk.add(cpos, f"{where}.control: no control named {cid!r}{suggest(cid, known)} Run `auditor controls` for the list")
                continue
            if not set(REQUIRED) <= clean.keys():
                continue  # already reported: missing or invalid
            waivers.append(Waiver(
                id=wid,
                control=cid,
                target=clean["target"].strip(),
                justification=" ".join(clean["justification"].split()),
                approver=" ".join(clean["approver"].split()),
                expires=clean["expires"],
                source=f"{path}:{pos[0]}",
            ))
    chk.raise_if_any()
    return WaiverSet(path=os.path.abspath(path), sha256=digest, waivers=tuple(waivers))


# --- applying -----------------------------------------------------------------

def matching_targets(pattern: str, targets: Mapping[str, Target], finding_targets: Sequence[str] = ()) -> set[str]:
    """Ids of the targets ``pattern`` selects, exactly as ``--limit`` would.

    Finding targets missing from ``targets`` are matched on their id and name only.
    """
    known = list(targets.values())
    for tid in finding_targets:
        if tid not in targets:
            kind, _, name = tid.partition(":")
            known.append(Target(id=tid, kind=kind, name=name or tid))
    selector = Inventory(path="", sha256="", name="", targets=tuple(known))
    return {t.id for t in selector.select([pattern])}


def apply_waivers(findings: Sequence[Finding], waiver_set: WaiverSet | None, today: datetime.date, targets: Mapping[str, Target]) -> tuple[tuple[Finding, ...], dict[str, Any] | None]:
    """Waive the fail/error findings covered by a valid waiver; return them (same order) and the run's "waivers" section.

    A waiver covers a finding when the control ids are equal and the target
    pattern selects the finding's target. When several valid waivers cover
    one finding, the first in the file is recorded on it.
    """
    findings = tuple(findings)
    if waiver_set is None:
        return findings, None
    finding_targets = sorted({f.target for f in findings})
    selected = {w.id: matching_targets(w.target, targets, finding_targets) for w in waiver_set.waivers}
    covered: dict[str, list[Finding]] = {w.id: [] for w in waiver_set.waivers}
    out: list[Finding] = []
    for f in findings:
        mine = [w for w in waiver_set.waivers if w.control == f.control and f.target in selected[w.id]]
        for w in mine:
            covered[w.id].append(f)
        usable = [w for w in mine if not w.expired(today)]
        if f.status in WAIVABLE and usable:
            w = usable[0]
            f = dataclasses.replace(f, status=Status.WAIVED, waiver={**w.public(), "original_status": f.status.value})
        out.append(f)

    section: dict[str, Any] = {"file": waiver_set.path, "sha256": waiver_set.sha256, "applied": [], "expired": [], "unmatched": [], "not_needed": []}
    for w in waiver_set.waivers:
        hits = covered[w.id]
        waivable = [f for f in hits if f.status in WAIVABLE]
        if w.expired(today):
            group, shown = "expired", waivable  # what it would have waived
        elif waivable:
            group, shown = "applied", waivable
        elif hits:
            group, shown = "not_needed", hits  # everything it covers passed or was skipped
        else:
            group, shown = "unmatched", []
        section[group].append({**w.public(), "matched": [f"{f.control}|{f.target}" for f in shown]})
    return tuple(out), section
