"""Per-promise verdicts: computed once, by the runner, and recorded in the run.

A promise is ``fail`` (not kept) if any finding of its controls failed, else
``error`` (could not verify) if any errored, else ``pass`` (kept) if any
passed, else ``none`` (not checked). Waived and skipped findings count for
nothing: a waiver never makes a promise "not kept". For a broken promise the
failing checks are listed (control, status, targets, their number); for one
not checked, the reason is given in English and Swedish: its checks were left
out by ``--only``, the inventory declares no target of the kinds they apply
to (or ``--limit`` selected none), or every result was skipped or waived.

Pure functions on plain data: the runner calls :func:`promise_results` with
its findings; a renderer given an older run.json without recorded verdicts
calls :func:`results_from_document`, which feeds the same function from the
document (so ``auditor render`` of an old run still says the same).

>>> verdict(["pass", "error", "waived"])
'error'
>>> verdict(["skipped"])
'none'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .model import severity_rank

STATUSES = ("pass", "fail", "error", "skipped", "waived")
MAX_REASONS = 3

# How the reasons name a kind of target: (English singular, Swedish plural).
KIND_WORDS: dict[str, tuple[str, str]] = {
    "server": ("server", "servrar"),
    "web": ("website", "webbplatser"),
    "mail": ("mail server", "e-postservrar"),
    "database": ("database", "databaser"),
    "backup": ("backup", "säkerhetskopior"),
    "aws": ("AWS account", "AWS-konton"),
    "processor": ("sub-processor", "underbiträden"),
}


def verdict(statuses: Iterable[Any]) -> str:
    """``fail`` if any finding failed, else ``error``, else ``pass``, else ``none``."""
    seen = set(statuses)
    return next((s for s in ("fail", "error", "pass") if s in seen), "none")


@dataclass(frozen=True)
class Result:
    """One finding as the verdicts need it."""

    control: str
    target: str
    status: str
    message: str = ""
    message_sv: str | None = None


@dataclass(frozen=True)
class Scope:
    """What the run looked at: which controls were selected, which kinds of target exist and were audited."""

    controls: Mapping[str, Mapping[str, Any]]  # id -> {"kinds": [...], "severity": "..."} of every control known
    excluded: frozenset[str]  # control ids left out by --only
    only: tuple[str, ...]
    limit: tuple[str, ...]
    kinds_declared: frozenset[str]  # kinds of target in the inventory
    kinds_audited: frozenset[str]  # kinds of the targets audited (after --limit)


def _or(words: Sequence[str], conj: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conj} {words[-1]}"


def _kinds(kinds: Iterable[str]) -> tuple[str, str]:
    ordered = [k for k in KIND_WORDS if k in set(kinds)] + sorted(set(kinds) - set(KIND_WORDS))
    en = [KIND_WORDS.get(k, (k, k))[0] for k in ordered]
    sv = [KIND_WORDS.get(k, (k, k))[1] for k in ordered]
    return _or(en, "or"), _or(sv, "eller")


def _quoted(messages: Iterable[str]) -> str:
    distinct = list(dict.fromkeys(m for m in messages if m))
    shown = "; ".join(distinct[:MAX_REASONS])
    return shown + (f" (+{len(distinct) - MAX_REASONS})" if len(distinct) > MAX_REASONS else "")


def not_checked(controls: Sequence[str], results: Sequence[Result], scope: Scope) -> tuple[str, str]:
    """Why a promise has no verdict, in English and Swedish."""
    if not controls:
        return "the policy names no check for this promise", "policyn anger ingen kontroll för det här löftet"
    selected = [c for c in controls if c not in scope.excluded]
    if not selected:
        only = ", ".join(scope.only)
        return f"its checks were left out of this run by --only {only}", f"dess kontroller valdes bort i den här körningen med --only {only}"
    if results:
        skipped = [r for r in results if r.status == "skipped"]
        waived = [r for r in results if r.status == "waived"]
        if skipped and not waived:
            return (f"every check was skipped: {_quoted(r.message for r in skipped)}",
                    f"alla kontroller hoppades över: {_quoted(r.message_sv or r.message for r in skipped)}")
        if waived and not skipped:
            return "every result is covered by a waiver (an accepted exception)", "alla resultat omfattas av ett undantag"
        return (f"every result was skipped or waived; skipped: {_quoted(r.message for r in skipped)}",
                f"alla resultat hoppades över eller omfattas av undantag; överhoppade: {_quoted(r.message_sv or r.message for r in skipped)}")
    needed = {k for c in selected for k in (scope.controls.get(c) or {}).get("kinds") or ()}
    if needed and not needed & scope.kinds_declared:
        en, sv = _kinds(needed)
        return f"no {en} is declared in the inventory", f"inventariet anger inga {sv}"
    if needed and not needed & scope.kinds_audited:
        en, sv = _kinds(needed & scope.kinds_declared)
        limit = ", ".join(scope.limit)
        return f"--limit {limit} selected no {en}", f"--limit {limit} valde inga {sv}"
    return "none of its checks gave a result in this run", "ingen av dess kontroller gav något resultat i den här körningen"


def failing(controls: Sequence[str], results: Sequence[Result], scope: Scope) -> list[dict[str, Any]]:
    """The failed and errored checks of a promise: fail first, then error, by severity (highest first)."""
    out: list[dict[str, Any]] = []
    for status in ("fail", "error"):
        for cid in dict.fromkeys(controls):
            targets = list(dict.fromkeys(r.target for r in results if r.control == cid and r.status == status))
            if targets:
                out.append({"control": cid, "status": status, "targets": targets, "n": len(targets)})
    rank = {cid: severity_rank((scope.controls.get(cid) or {}).get("severity")) for cid in controls}
    out.sort(key=lambda e: (e["status"] != "fail", -rank.get(e["control"], 0)))
    return out


def promise_result(controls: Sequence[str], results: Iterable[Result], scope: Scope) -> dict[str, Any]:
    """The recorded verdict of one promise: verdict, failing, counts, not_checked(_sv)."""
    mine = set(controls)
    own = [r for r in results if r.control in mine]
    counts = {s: 0 for s in STATUSES}
    for r in own:
        counts[r.status] = counts.get(r.status, 0) + 1
    result: dict[str, Any] = {"verdict": verdict(r.status for r in own), "failing": failing(controls, own, scope), "counts": counts,
                              "not_checked": None, "not_checked_sv": None}
    if result["verdict"] == "none":
        result["not_checked"], result["not_checked_sv"] = not_checked(controls, own, scope)
    return result


def promise_results(promises: Iterable[Mapping[str, Any]], results: Sequence[Result], scope: Scope) -> list[dict[str, Any]]:
    by_control: dict[str, list[Result]] = {}
    for r in results:
        by_control.setdefault(r.control, []).append(r)
    out = []
    for p in promises:
        controls = [str(c) for c in p.get("controls") or ()]
        out.append(promise_result(controls, [r for c in dict.fromkeys(controls) for r in by_control.get(c, ())], scope))
    return out


def results_from_document(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Verdicts of a run document that has none recorded (run.json of an older version)."""
    controls = {c["id"]: c for c in doc.get("controls") or () if isinstance(c, Mapping) and "id" in c}
    options = doc.get("options") or {}
    only = tuple(str(o) for o in options.get("only") or ())
    promises = [p for p in doc.get("promises") or () if isinstance(p, Mapping)]
    mapped = {str(c) for p in promises for c in p.get("controls") or ()}
    results = [Result(str(f.get("control", "")), str(f.get("target", "")), str(f.get("status", "")), str(f.get("message") or ""), f.get("message_sv"))
               for f in doc.get("findings") or () if isinstance(f, Mapping)]
    kinds = frozenset(str(t.get("kind")) for t in doc.get("targets") or () if isinstance(t, Mapping))
    # An old run does not record the controls --only left out: a mapped control missing from the run was left out when --only was given.
    excluded = frozenset(c for c in mapped if c not in controls) if only else frozenset()
    scope = Scope(controls, excluded, only, tuple(str(x) for x in options.get("limit") or ()), kinds, kinds)
    return promise_results(promises, results, scope)


def recorded_results(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each promise's recorded verdict, or (for an older run.json) the same computed from the document."""
    promises = [p for p in doc.get("promises") or () if isinstance(p, Mapping)]
    if all(isinstance(p.get("verdict"), str) for p in promises):
        return [{k: p.get(k) for k in ("verdict", "failing", "counts", "not_checked", "not_checked_sv")} for p in promises]
    return results_from_document(doc)
