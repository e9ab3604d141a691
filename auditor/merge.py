"""``auditor merge``: the report folders of ``auditor run --shard I/N`` (one per shard) made
into one run, whose findings are those of the unsharded run.

Each shard folder is verified first (every digest, and the signature when a key
is given). The shards must be of one audit: the same inventory (digest), policy,
options, tool and schema version, waiver file and shard count, each shard once,
none missing. The merged document restores the unsharded order (the order of the
selection each shard records), so that its findings, facts and targets are the
ones an unsharded run lists, in the same order.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import InputError, Problem
from .integrity import MANIFEST, item_digest, verify_folder
from .model import Status, sha256_hex
from .shard import shard_of


@dataclass(frozen=True)
class ShardRun:
    folder: str
    doc: dict[str, Any]
    manifest_sha256: str
    signed_by: str | None


def load_shards(folders: Sequence[str], key: Ed25519PublicKey | None, rerender: Callable[[dict[str, Any]], Mapping[str, bytes]], tool_version: str) -> list[ShardRun]:
    """Verify and read each shard folder; every problem of every folder at once (InputError)."""
    from .diff import load_run

    problems: list[Problem] = []
    shards = []
    for folder in folders:
        if not os.path.isdir(folder):
            problems.append(Problem(folder, None, None, "not a folder; expected the report folder written by `auditor run --shard I/N`"))
            continue
        result = verify_folder(folder, key, rerender=rerender, tool_version=tool_version)
        if not result.ok:
            problems += [Problem(folder, None, None, f"not intact, not merged: {p}") for p in result.problems]
            continue
        try:
            doc = load_run(folder)
        except InputError as exc:
            problems += exc.problems
            continue
        with open(os.path.join(folder, MANIFEST), "rb") as fh:
            manifest_digest = sha256_hex(fh.read())
        shards.append(ShardRun(folder, doc, manifest_digest, result.signed_by))
    if problems:
        raise InputError(problems)
    return shards


# What must be equal in every shard: (what it is called, how it is read from a run document).
_SAME: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("inventory (digest)", lambda d: (d.get("inventory") or {}).get("sha256")),
    ("policy", lambda d: item_digest({k: v for k, v in (d.get("policy") or {}).items() if k != "path"})),
    ("tool version", lambda d: d.get("tool_version")),
    ("schema version", lambda d: d.get("schema_version")),
    ("options", lambda d: {k: v for k, v in (d.get("options") or {}).items() if k != "shard"}),
    ("waiver file (digest)", lambda d: (d.get("waivers") or {}).get("sha256")),
    ("shard count", lambda d: (d.get("shard") or {}).get("count")),
    ("selection of targets (--limit and inventory)", lambda d: item_digest((d.get("shard") or {}).get("selection"))),
)


def check_shards(shards: Sequence[ShardRun]) -> None:
    """InputError naming every reason the shards are not the N parts of one audit."""
    problems: list[Problem] = []
    for s in shards:
        section = s.doc.get("shard")
        if not isinstance(section, Mapping) or not isinstance(section.get("index"), int) or not isinstance(section.get("count"), int) or not isinstance(section.get("selection"), list):
            problems.append(Problem(s.folder, None, None, "not a shard: written by `auditor run` without --shard I/N (or by `auditor merge`); expected the report folder of one shard"))
    if problems:
        raise InputError(problems)
    first = shards[0]
    for what, read in _SAME:
        for s in shards[1:]:
            if read(s.doc) != read(first.doc):
                mine, theirs = _show(read(s.doc)), _show(read(first.doc))
                problems.append(Problem(s.folder, None, None, f"a shard of another audit: its {what} is {mine}, but {first.folder} has {theirs}; shards are merged only when they ran the same inventory, policy, options and auditor version"))
    if problems:
        raise InputError(problems)
    count = first.doc["shard"]["count"]
    seen: dict[int, str] = {}
    for s in shards:
        index = s.doc["shard"]["index"]
        if index in seen:
            problems.append(Problem(s.folder, None, None, f"shard {index}/{count} again: {seen[index]} is shard {index}/{count} too; give each shard once"))
        seen.setdefault(index, s.folder)
        stray = [t["id"] for t in s.doc.get("targets") or () if shard_of(str(t.get("id")), count) != index]
        if stray:
            problems.append(Problem(s.folder, None, None, f"target {stray[0]} does not belong to shard {index}/{count}" + (f" (and {len(stray) - 1} more)" if len(stray) > 1 else "")))
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        problems.append(Problem("merge", None, None, f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing; all {count} shards are needed for the findings of the whole fleet"))
    if problems:
        raise InputError(problems)


def _line(groups: Mapping[str, list[Mapping[str, Any]]]) -> int:
    """The line of a waiver in its file (its ``source`` is ``file:line``)."""
    source = str(next(iter(groups.values()))[0].get("source", ""))
    tail = source.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def merge_documents(shards: Sequence[ShardRun]) -> dict[str, Any]:
    """One run document out of checked shards (see :func:`check_shards`), in the unsharded order."""
    ordered = sorted(shards, key=lambda s: s.doc["shard"]["index"])
    first = ordered[0].doc
    position = {tid: n for n, tid in enumerate(first["shard"]["selection"])}

    def by_target(items: list[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
        return sorted(items, key=lambda item: position.get(str(item.get(key)), len(position)))  # stable: a target's own order stays

    targets = by_target([t for s in ordered for t in s.doc.get("targets") or ()], "id")
    findings = by_target([f for s in ordered for f in s.doc.get("findings") or ()], "target")
    facts = by_target([f for s in ordered for f in s.doc.get("facts") or ()], "target")
    controls = {c["id"]: c for s in ordered for c in s.doc.get("controls") or ()}
    notices = list(dict.fromkeys(n for s in ordered for n in s.doc.get("notices") or ()))
    doc = dict(first)  # the key order of a run document
    doc.update(
        run_id=str(uuid.uuid4()),
        started_at=min(s.doc["started_at"] for s in ordered),
        finished_at=max(s.doc["finished_at"] for s in ordered),
        complete=all(s.doc.get("complete") for s in ordered),
        options={k: v for k, v in (first.get("options") or {}).items() if k != "shard"},
        targets=targets,
        controls=[controls[cid] for cid in sorted(controls)],
        findings=findings,
        facts=facts,
        summary=summarise(findings),
        notices=notices,
        trend=[],
    )
    if first.get("waivers") is not None:
        doc["waivers"] = merge_waivers([s.doc["waivers"] for s in ordered], findings)
    doc["shard"] = {
        "count": first["shard"]["count"],
        "key": first["shard"].get("key"),
        "merged_from": [
            {"index": s.doc["shard"]["index"], "run_id": s.doc.get("run_id"), "started_at": s.doc.get("started_at"), "finished_at": s.doc.get("finished_at"),
             "manifest_sha256": s.manifest_sha256, "signed_by": s.signed_by}
            for s in ordered
        ],
    }
    return doc


def summarise(findings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`auditor.model.summarise` of plain findings."""
    overall = {s.value: 0 for s in Status}
    by_family: dict[str, dict[str, int]] = {}
    for f in findings:
        overall[f["status"]] += 1
        by_family.setdefault(f["family"], {s.value: 0 for s in Status})[f["status"]] += 1
    return {"total": len(findings), "by_status": overall, "by_family": by_family}


_GROUPS = ("expired", "applied", "not_needed", "unmatched")  # a waiver's group in the whole fleet: the first any shard gives it


def merge_waivers(sections: Sequence[Mapping[str, Any]], findings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The waivers section of the whole fleet: a waiver unmatched in one shard may match in another.

    Each shard judged the same waiver file against its own findings; a waiver
    is expired if any shard found it expired, else applied if it waived a
    finding in any shard, else not needed if it covered a finding anywhere,
    else unmatched. Its matched findings are those of the shards in that group,
    in the order of the findings.
    """
    order = {f"{f['control']}|{f['target']}": n for n, f in enumerate(findings)}
    merged: dict[str, Any] = {k: v for k, v in sections[0].items() if k not in _GROUPS}
    merged.update({g: [] for g in ("applied", "expired", "unmatched", "not_needed")})
    placed: dict[str, dict[str, list[Mapping[str, Any]]]] = {}  # waiver id -> group -> entries from shards
    ids: list[str] = []
    for section in sections:
        for group in _GROUPS:
            for entry in section.get(group) or ():
                if entry["id"] not in placed:
                    ids.append(entry["id"])
                placed.setdefault(entry["id"], {}).setdefault(group, []).append(entry)
    for wid in sorted(ids, key=lambda w: _line(placed[w])):  # file order, as each shard lists them
        group = next(g for g in _GROUPS if g in placed[wid])
        entries = placed[wid][group]
        matched = sorted({m for e in entries for m in e.get("matched") or ()}, key=lambda m: order.get(m, len(order)))
        merged[group].append({**entries[0], "matched": matched})
    return merged
