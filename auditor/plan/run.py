"""A plan audited as a run: the AWS controls, unchanged, on facts built from the plan.

The registry keeps the controls whose facts all come from the ``aws``
transport and replaces their collectors by ones that read the plan
(transport ``plan``); the runner, the reports, waivers, history and exit
codes are those of ``auditor run``. One target per plan: kind ``aws``, named
after the inventory's ``aws:`` entry (which declares the backup and
bookkeeping buckets) or ``terraform``.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Mapping

from ..collect import Context
from ..errors import CollectError, InputError, NotApplicable, Problem
from ..inventory import Inventory
from ..model import Reason, Target
from ..policy import Policy
from ..registry import Collector, Registry
from ..runner import ProgressFn, RunOptions, Runner
from ..transports import Transports
from ..waivers import WaiverSet
from .facts import Facts, build
from .reader import Plan

TRANSPORT = "plan"
DEFAULT_TARGET = "terraform"


def plan_registry(base: Registry) -> Registry:
    """The AWS controls of ``base``, with collectors that read a plan instead of the AWS API."""
    aws_facts = {name for (name, kind), col in base.collectors.items() if kind == "aws" and col.transport == "aws"}
    registry = copy.copy(base)
    registry.controls = {cid: c for cid, c in base.controls.items() if "aws" in c.info.kinds and set(c.info.facts) <= aws_facts}
    registry.collectors = {(name, "aws"): Collector(name, ("aws",), TRANSPORT, 30.0, _reader(name), __name__) for name in sorted(aws_facts)}
    return registry


def _reader(name: str) -> Any:
    def read_plan(ctx: Context) -> Any:
        conn: PlanConnection = ctx.conn
        built = conn.fact(name)
        plan = conn.plan
        lines = [f"terraform {plan.terraform_version}, format_version {plan.format_version}, {len(plan.resources)} planned resource(s)"]
        for res in sorted({r.address: r for r in built.used}.values(), key=lambda r: r.address):
            how = "replaced" if res.replaced else "/".join(res.actions)
            lines.append(f"{res.address} [{how}]: {json.dumps(res.after, sort_keys=True, default=str)}")
        lines += [f"note: {n}" for n in built.notes]
        lines += [f"not judged: {n}" for n in plan.ignored]
        ctx.record("file", f"{plan.path} sha256:{plan.sha256}", "\n".join(lines))
        if built.not_applicable:
            raise NotApplicable(built.not_applicable)
        if built.error:
            raise CollectError(Reason.DECIDED_AT_APPLY, f"decided at apply time: {built.error}")
        return built.value

    read_plan.__name__ = "plan_" + name.replace(".", "_")
    return read_plan


class PlanConnection:
    """The facts of one plan for one target, built once and shared by its collectors."""

    transport = TRANSPORT

    def __init__(self, plan: Plan, target: Target):
        self.plan = plan
        declared = {b: "backup" for b in target.get("backup_buckets") or []}
        declared.update({b: "bookkeeping" for b in target.get("bookkeeping_buckets") or []})
        self.facts = Facts(plan, declared)
        self._built: dict[str, Any] = {}

    def fact(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = build(self.facts, name)
        return self._built[name]

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"plan {self.plan.path}"


class PlanTransports(Transports):
    def __init__(self, options: Any, targets: Mapping[str, Target], plan: Plan):
        super().__init__(options, targets)
        self.plan = plan

    def open(self, need: str, target: Target) -> Any:
        if need == TRANSPORT:
            return PlanConnection(self.plan, target)
        raise CollectError(Reason.CONFIG_ERROR, f"a plan run has no {need} connections")


class PlanRunner(Runner):
    def __init__(self, registry: Registry, inventory: Inventory, policy: Policy, options: RunOptions, plan: Plan,
                 progress: ProgressFn | None = None, *, waivers: WaiverSet | None = None):
        super().__init__(registry, inventory, policy, options, progress, waivers=waivers)
        self.transports = PlanTransports(options.connect, {t.id: t for t in inventory.targets}, plan)


def plan_inventory(plan: Plan, inventory: Inventory | None, account: str | None) -> Inventory:
    """The one target a plan is audited as: the inventory's aws: entry (by --account when it has several), else ``aws:terraform``."""
    source = f"{plan.path} (terraform {plan.terraform_version})"
    if inventory is None:
        if account:
            raise InputError(Problem("--account", None, None, "--account names an aws: entry of the inventory; give --inventory too"))
        target = Target(id=f"aws:{DEFAULT_TARGET}", kind="aws", name=DEFAULT_TARGET, source=source)
        return Inventory(path=plan.path, sha256=plan.sha256, name=f"terraform plan {os.path.basename(plan.path)}", targets=(target,))
    accounts = [t for t in inventory.targets if t.kind == "aws"]
    if account:
        chosen = [t for t in accounts if t.name == account]
        if not chosen:
            raise InputError(Problem("--account", None, None, f"{account!r} is not an aws: entry of {inventory.path} ({', '.join(t.name for t in accounts) or 'it has none'})"))
    elif len(accounts) > 1:
        raise InputError(Problem(inventory.path, None, None, f"the inventory has {len(accounts)} aws: entries ({', '.join(t.name for t in accounts)}); say which one the plan deploys to with --account NAME"))
    else:
        chosen = accounts
    if not chosen:
        raise InputError(Problem(inventory.path, None, None, "the inventory has no aws: entry; add one (name, backup_buckets, bookkeeping_buckets) or leave out --inventory"))
    entry = chosen[0]
    target = Target(id=entry.id, kind="aws", name=entry.name, address=None, tags=entry.tags, groups=entry.groups, settings=entry.settings, source=f"{entry.source}; {source}")
    return Inventory(path=inventory.path, sha256=inventory.sha256, name=inventory.name, targets=(target,), groups={})
