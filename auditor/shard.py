"""Splitting a fleet across machines: ``auditor run --shard I/N`` audits the I-th of N
stable slices of the selected targets.

A target's shard depends on its id alone (``kind:name``, unique in an
inventory) through SHA-256, never on its position in the file: reordering the
inventory, or adding a target, moves no other target to another shard.

>>> parse_shard("2/3")
Shard(index=2, count=3)
>>> shard_of("server:web1", 1)
1
>>> len({shard_of(f"server:h{i}", 4) for i in range(40)})
4
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .model import Target

_SPEC = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*$")
KEY = "sha256(target id) mod N"  # recorded in run.json: how a target was given its shard


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N; ValueError saying what was expected otherwise."""
    m = _SPEC.match(text)
    if not m:
        raise ValueError(f"{text!r} is not I/N; expected e.g. 2/5 (the 2nd of 5 shards, counted from 1)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"{text!r}: the shard number must be from 1 to {max(count, 1)} (I/N counts from 1; for a Kubernetes JOB_COMPLETION_INDEX, which counts from 0, pass $((JOB_COMPLETION_INDEX+1))/N)")
    return Shard(index, count)


def shard_of(target_id: str, count: int) -> int:
    """The shard (1..count) that ``target_id`` belongs to."""
    digest = hashlib.sha256(target_id.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(targets: Iterable[Target], shard: Shard | None) -> list[Target]:
    """The targets of ``shard`` (all of them when None), in their order."""
    if shard is None:
        return list(targets)
    return [t for t in targets if shard_of(t.id, shard.count) == shard.index]


def shard_section(shard: Shard, selection: Sequence[Target]) -> dict[str, Any]:
    """The ``shard`` section of a shard's run.json: which shard, how targets were split,
    and the ids of the whole selection (all shards), which ``auditor merge`` uses to
    restore the unsharded order and to prove that no target is missing."""
    return {"index": shard.index, "count": shard.count, "key": KEY, "selection": [t.id for t in selection]}
