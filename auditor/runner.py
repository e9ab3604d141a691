"""Plan, collect, evaluate: one Run out of an inventory and a policy.

* **Plan**: which controls apply to which targets, and so which facts each
  target needs (each fact once, whatever number of controls read it).
* **Collect**: targets run concurrently under ``concurrency``; each target
  opens one connection per transport it needs, lazily, and closes it at the
  end whatever happens. Each collector runs under a deadline; an exception, a
  timeout or a refusal becomes a fact with status ``error``.
* **Evaluate**: pure functions of facts and parameters. A control whose facts
  could not be gathered is ``error`` (or ``skipped``), never ``pass``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import fnmatch
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from . import __version__, verdicts
from .collect import Context, account_of, rooted
from .evidence import observation
from .errors import CollectError, InputError, NotApplicable, Problem
from .inventory import Inventory
from .model import FAMILIES, SCHEMA_VERSION, Fact, Finding, Promise, Reason, Run, Status, Target, summarise
from .policy import Policy
from .registry import Collector, Control, Outcome, Registry
from .shard import Shard, in_shard, shard_section
from .shellreads import Reads, SharedReads, merge
from .timeutil import iso, utc_now, utc_now_iso
from .transports import ConnectOptions, Transports
from .waivers import WaiverSet, apply_waivers
from .yamlsrc import suggest

ProgressFn = Callable[[int, int, str, Mapping[str, int]], None]


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 16
    timeout: float | None = None  # overrides every collector's own timeout
    host_timeout: float = 600.0  # total time budget of one target
    only: tuple[str, ...] = ()
    limit: tuple[str, ...] = ()
    connect: ConnectOptions = field(default_factory=ConnectOptions)
    shard: Shard | None = None  # --shard I/N: only the targets of that slice

    def public(self) -> dict[str, Any]:
        shown = {"concurrency": self.concurrency, "timeout": self.timeout, "host_timeout": self.host_timeout, "only": list(self.only), "limit": list(self.limit), "trust_on_first_use": self.connect.trust_on_first_use}
        return shown if self.shard is None else {**shown, "shard": str(self.shard)}


@dataclass(frozen=True)
class TargetPlan:
    target: Target
    controls: tuple[Control, ...]
    collectors: tuple[Collector, ...]


def select_controls(registry: Registry, only: Iterable[str]) -> list[Control]:
    """Controls named by ``--only`` (families, control ids or globs of them)."""
    only = list(only)
    if not only:
        return list(registry.controls.values())
    problems = []
    for pat in only:
        if pat not in FAMILIES and not any(fnmatch.fnmatchcase(cid, pat) for cid in registry.controls):
            problems.append(Problem("--only", None, None, f"{pat!r} is neither a family ({', '.join(FAMILIES)}) nor a control id{suggest(pat, [*FAMILIES, *registry.controls])}"))
    if problems:
        raise InputError(problems)
    return [c for c in registry.controls.values() if any(c.info.family == p or fnmatch.fnmatchcase(c.id, p) for p in only)]


def make_plan(registry: Registry, inventory: Inventory, options: RunOptions) -> tuple[list[TargetPlan], list[str]]:
    unknown = inventory.unknown_limits(list(options.limit))
    if unknown:
        names = sorted({t.name for t in inventory.targets} | {g for t in inventory.targets for g in (*t.tags, *t.groups)})
        raise InputError([Problem("--limit", None, None, f"{u!r} matches no target, tag or group in {inventory.path}{suggest(u, names)}") for u in unknown])
    controls = select_controls(registry, options.only)
    plans, notices = [], []
    for target in in_shard(inventory.select(list(options.limit)), options.shard):
        mine = tuple(c for c in controls if target.kind in c.info.kinds)
        if not mine:
            notices.append(f"{target.id}: no control in this version applies to {target.kind} targets{' with --only ' + ','.join(options.only) if options.only else ''}; it was not audited")
            continue
        facts: dict[str, Collector] = {}
        for c in mine:
            for name in c.info.facts:
                facts.setdefault(name, registry.collector_for(name, target.kind))
        plans.append(TargetPlan(target, mine, tuple(facts.values())))
    return plans, notices


class Runner:
    def __init__(self, registry: Registry, inventory: Inventory, policy: Policy, options: RunOptions, progress: ProgressFn | None = None, *, waivers: WaiverSet | None = None):
        self.registry = registry
        self.waivers = waivers  # applied to the findings at the end; "today" is the run's UTC start date
        self.inventory = inventory
        self.policy = policy
        self.options = options
        self.progress = progress
        self.cancel = threading.Event()
        self._stop_asked: str | None = None  # set by stop() (a signal handler): why the run must end now
        self._live: set[Any] = set()  # open connections, closed at once on Ctrl-C
        self._live_lock = threading.Lock()
        self.params = MappingProxyType(dict(policy.parameters))
        self.transports = Transports(options.connect, {t.id: t for t in inventory.targets})
        self.notices: list[str] = []

    def run(self) -> Run:
        started_at = utc_now()
        started = iso(started_at)
        plans, self.notices = make_plan(self.registry, self.inventory, self.options)
        results: dict[str, tuple[list[Fact], list[Finding]]] = {}
        complete = True
        counts = {s.value: 0 for s in Status}
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.options.concurrency), thread_name_prefix="target")
        futures = {pool.submit(self.audit_target, plan): plan for plan in plans}
        pending = set(futures)
        try:
            while pending and self._stop_asked is None:
                done, pending = concurrent.futures.wait(pending, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED)
                for fut in done:
                    plan = futures[fut]
                    results[plan.target.id] = fut.result()
                    for finding in results[plan.target.id][1]:
                        counts[finding.status.value] += 1
                    if self.progress:
                        self.progress(len(results), len(plans), plan.target.id, counts)
        except KeyboardInterrupt:
            self.stop("Ctrl-C")
        finally:
            if self._stop_asked is not None and len(results) < len(plans):  # asked after the last target: complete
                complete = False
                self.interrupt()
                self.notices.append(f"the run was interrupted ({self._stop_asked}); targets not finished are reported as error")
            pool.shutdown(wait=complete, cancel_futures=True)
            _close_quietly(self.transports)
        for plan in plans:
            if plan.target.id not in results:
                results[plan.target.id] = self._unfinished(plan)
        facts = [f for plan in plans for f in results[plan.target.id][0]]
        findings = [f for plan in plans for f in results[plan.target.id][1]]
        waived, waiver_section = apply_waivers(findings, self.waivers, started_at.date(), {t.id: t for t in self.inventory.targets})
        used_controls = {c.id: c for plan in plans for c in plan.controls}
        return Run(
            schema_version=SCHEMA_VERSION,
            tool_version=__version__,
            run_id=str(uuid.uuid4()),
            started_at=started,
            finished_at=utc_now_iso(),
            complete=complete,
            inventory=self.inventory.public(),
            policy=self.policy.public(),
            options=self.options.public(),
            targets=tuple(plan.target.public() for plan in plans),
            controls=tuple(used_controls[cid].info for cid in sorted(used_controls)),
            promises=self._promises(plans, waived),
            findings=waived,
            facts=tuple(facts),
            summary=summarise(waived),
            notices=tuple(self.notices),
            waivers=waiver_section,
            shard=None if self.options.shard is None else shard_section(self.options.shard, self.inventory.select(list(self.options.limit))),
        )

    def _promises(self, plans: list[TargetPlan], findings: Iterable[Finding]) -> tuple[Promise, ...]:
        """The policy's promises with their verdicts (auditor.verdicts), computed once here for every renderer."""
        selected = {c.id for c in select_controls(self.registry, self.options.only)}
        scope = verdicts.Scope(
            controls={cid: {"kinds": c.info.kinds, "severity": c.info.severity.value} for cid, c in self.registry.controls.items()},
            excluded=frozenset(cid for cid in self.registry.controls if cid not in selected),
            only=tuple(self.options.only),
            limit=tuple(self.options.limit),
            kinds_declared=frozenset(t.kind for t in self.inventory.targets),
            kinds_audited=frozenset(plan.target.kind for plan in plans),
        )
        results = [verdicts.Result(f.control, f.target, f.status.value, f.message, f.message_sv) for f in findings]
        computed = verdicts.promise_results(({"controls": p.controls} for p in self.policy.promises), results, scope)
        return tuple(dataclasses.replace(p, verdict=r["verdict"], failing=tuple(r["failing"]), counts=r["counts"], not_checked=r["not_checked"], not_checked_sv=r["not_checked_sv"])
                     for p, r in zip(self.policy.promises, computed))

    def stop(self, why: str = "Ctrl-C") -> None:
        """Ask the run to end now, as Ctrl-C does: what is unfinished becomes error, the Run is still returned.

        Safe to call from a signal handler (it only records the request; the
        run's own loop acts on it within 0.2 s). Only the first reason is kept.
        """
        if self._stop_asked is None:
            self._stop_asked = why

    def interrupt(self) -> None:
        """Cancel the run: close every open connection (their commands stop, their facts become errors).

        The flag is set and the open connections are taken under the lock that
        :meth:`_register` holds, so a connection opened at that moment is either
        taken here and closed, or refused by :meth:`_register` and closed there:
        none escapes to run its commands to the end.
        """
        with self._live_lock:
            self.cancel.set()
            live = list(self._live)
        for conn in live:
            _close_quietly(conn)

    def _register(self, conn: Any) -> bool:
        """Record ``conn`` as open, unless the run was cancelled (then close it and say so)."""
        with self._live_lock:
            if not self.cancel.is_set():
                self._live.add(conn)
                return True
        _close_quietly(conn)
        return False

    # -- one target ---------------------------------------------------------

    def audit_target(self, plan: TargetPlan) -> tuple[list[Fact], list[Finding]]:
        """Collect a target's facts (shell collectors concurrently, on channels of its one connection), then evaluate."""
        target = plan.target
        connections: dict[str, Any] = {}
        broken: dict[str, CollectError | NotApplicable] = {}
        facts: dict[str, Fact] = {}
        extra: list[Fact] = []  # how the target was identified (SSH host key): evidence no control reads
        budget_end = time.monotonic() + self.options.host_timeout
        shared: SharedReads | None = None
        running: list[tuple[Collector, Any]] = []
        try:
            for col in plan.collectors:
                if self.cancel.is_set():
                    facts[col.name] = self._fact_error(target, col, CollectError(Reason.INTERRUPTED, "the run was interrupted before this fact was gathered"), 0, "")
                    continue
                if time.monotonic() >= budget_end:
                    facts[col.name] = self._fact_error(target, col, CollectError(Reason.TIMEOUT, f"the target's time budget of {self.options.host_timeout:g}s (--host-timeout) ran out before this fact was gathered"), 0, "")
                    continue
                if col.transport not in connections and col.transport not in broken:
                    try:
                        conn = self.transports.open(col.transport, target)
                        if not self._register(conn):  # cancelled while it was being opened
                            raise CollectError(Reason.INTERRUPTED, "the run was interrupted before this fact was gathered")
                        connections[col.transport] = conn
                        if (identity := self._identity_fact(target, conn)) is not None:
                            extra.append(identity)
                    except (CollectError, NotApplicable) as exc:
                        broken[col.transport] = exc
                    except Exception as exc:  # a transport bug must still become data
                        broken[col.transport] = CollectError(Reason.BUG, f"opening a {col.transport} connection failed: {type(exc).__name__}: {exc}")
                if col.transport in broken:
                    why = broken[col.transport]
                    facts[col.name] = self._fact_skipped(target, col, why.message, 0, col.transport) if isinstance(why, NotApplicable) else self._fact_error(target, col, why, 0, col.transport)
                    continue
                if col.transport == "shell":
                    if shared is None:
                        shared = self._shared_reads(plan, connections["shell"], budget_end)
                    running.append((col, self._start(target, col, connections["shell"], budget_end, shared)))
                else:
                    facts[col.name] = self._finish(target, col, self._start(target, col, connections[col.transport], budget_end))
            for col, started in running:
                facts[col.name] = self._finish(target, col, started)
        finally:
            if shared is not None:
                shared.close()
            for conn in connections.values():
                with self._live_lock:
                    self._live.discard(conn)
                _close_quietly(conn)
        findings = [self.evaluate(c, target, {name: facts[name] for name in c.info.facts}) for c in plan.controls]
        ordered = [facts[c.name] for c in plan.collectors]
        return extra + ordered, findings

    def _shared_reads(self, plan: TargetPlan, conn: Any, budget_end: float) -> SharedReads:
        """One listing and one read of small files for every shell collector of the target that declared reads."""
        host = self.transports.shell_host(plan.target)
        declared = [c for c in plan.collectors if c.transport == "shell" and c.reads is not None]
        reads = merge(c.reads(plan.target, host) for c in declared if c.reads is not None) if declared else Reads()
        longest = max([self._timeout(plan.target, c) for c in declared] or [30.0])
        return SharedReads(conn, reads, sudo=bool(host.get("sudo", False)), user=account_of(host), timeout=max(0.1, min(longest, budget_end - time.monotonic())), root=rooted(host, ""))

    def _identity_fact(self, target: Target, conn: Any) -> Fact | None:
        """Record how a connection proved the target's identity (and say so when it was taken on trust)."""
        info = getattr(conn, "host_key_info", None)
        if not info:
            return None
        shown = f"{info.get('type')} {info.get('fingerprint')} verified by {info.get('verified_by')}"
        taken_on_trust = [f"{info.get('type')} {info.get('fingerprint')}"] if info.get("verified_by") == "trust-on-first-use" else []
        if "verified by trust-on-first-use" in str(info.get("proxy_jump", "")):
            taken_on_trust.append(f"jump host {info['proxy_jump'].split(' verified by ')[0]}")
        if taken_on_trust:
            with self._live_lock:
                self.notices.append(f"{target.id}: SSH host key accepted on first use (--trust-on-first-use), not verified: {'; '.join(taken_on_trust)}")
        if info.get("proxy_jump"):
            shown += f" (through {info['proxy_jump']})"
        now = utc_now_iso()
        name = f"{getattr(conn, 'transport', 'connection')}.host_key"
        evidence = observation("connection", repr(conn), shown, at=now)
        return Fact(id=f"{target.id}/{name}", target=target.id, name=name, collector="auditor.runner", status="ok", collected_at=now, duration_ms=0, value=dict(info), transport=getattr(conn, "transport", ""), evidence=(evidence,))

    def _timeout(self, target: Target, col: Collector) -> float:
        return self.options.timeout or float(target.get("timeout") or col.timeout)

    def collect(self, target: Target, col: Collector, conn: Any, budget_end: float | None = None) -> Fact:
        """One collector alone (its declared reads made for it alone)."""
        reads = self._shared_reads(TargetPlan(target, (), (col,)), conn, budget_end or time.monotonic() + self.options.host_timeout) if col.reads is not None and col.transport == "shell" else None
        try:
            return self._finish(target, col, self._start(target, col, conn, budget_end, reads))
        finally:
            if reads is not None:
                reads.close()

    def _start(self, target: Target, col: Collector, conn: Any, budget_end: float | None = None, reads: SharedReads | None = None) -> dict[str, Any]:
        """Start a collector in a thread of its own, under its deadline."""
        timeout = self._timeout(target, col)
        if budget_end is not None:
            timeout = max(0.1, min(timeout, budget_end - time.monotonic()))
        host = self.transports.shell_host(target) if col.transport == "shell" else target
        ctx = Context(target, conn, self.params, time.monotonic() + timeout, host, reads=reads if col.reads is not None else None)
        box: dict[str, Any] = {"ctx": ctx, "timeout": timeout, "started": utc_now_iso(), "t0": time.monotonic()}

        def work() -> None:
            try:
                box["value"] = col.func(ctx)
            except BaseException as exc:  # noqa: BLE001 - every failure becomes a fact
                box["error"] = exc
                box["trace"] = traceback.format_exc(limit=6)

        worker = threading.Thread(target=work, name=f"collect {target.id} {col.name}", daemon=True)
        box["worker"] = worker
        worker.start()
        return box

    def _finish(self, target: Target, col: Collector, box: dict[str, Any]) -> Fact:
        """Wait for a started collector (until its deadline) and make its fact."""
        ctx, timeout, started, t0, worker = box["ctx"], box["timeout"], box["started"], box["t0"], box["worker"]
        conn = ctx.conn
        end = t0 + timeout + 1.0
        while worker.is_alive() and not self.cancel.is_set() and time.monotonic() < end:
            worker.join(min(0.2, max(0.0, end - time.monotonic())))
        ms = int((time.monotonic() - t0) * 1000)
        transport = getattr(conn, "transport", "")
        if worker.is_alive() and self.cancel.is_set():  # the run is ending: do not wait for the deadline
            return self._fact_error(target, col, CollectError(Reason.INTERRUPTED, f"the run was interrupted while collector {col.name} was running"), ms, transport, ctx, started)
        if worker.is_alive():
            return self._fact_error(target, col, CollectError(Reason.TIMEOUT, f"collector {col.name} did not finish within {timeout:g}s"), ms, transport, ctx, started)
        exc = box.get("error")
        if isinstance(exc, NotApplicable):
            return self._fact_skipped(target, col, exc.message, ms, transport, ctx, started)
        if isinstance(exc, CollectError):
            return self._fact_error(target, col, exc, ms, transport, ctx, started)
        if exc is not None:
            message = f"collector {col.name} raised {type(exc).__name__}: {exc}"
            return self._fact_error(target, col, CollectError(Reason.BUG, message), ms, transport, ctx, started)
        if not ctx.evidence:
            return self._fact_error(target, col, CollectError(Reason.BUG, f"collector {col.name} returned a value but recorded no evidence"), ms, transport, ctx, started)
        return Fact(id=f"{target.id}/{col.name}", target=target.id, name=col.name, collector=_qualname(col), status="ok", collected_at=started, duration_ms=ms, value=box.get("value"), transport=transport, evidence=tuple(ctx.evidence))

    def _fact_skipped(self, target: Target, col: Collector, message: str, ms: int, transport: str, ctx: Context | None = None, started: str | None = None) -> Fact:
        return Fact(id=f"{target.id}/{col.name}", target=target.id, name=col.name, collector=_qualname(col), status="skipped", collected_at=started or utc_now_iso(), duration_ms=ms, reason=Reason.NOT_APPLICABLE.value, message=message, transport=transport, evidence=tuple(ctx.evidence) if ctx else ())

    def _fact_error(self, target: Target, col: Collector, exc: CollectError, ms: int, transport: str, ctx: Context | None = None, started: str | None = None) -> Fact:
        return Fact(
            id=f"{target.id}/{col.name}",
            target=target.id,
            name=col.name,
            collector=_qualname(col),
            status="error",
            collected_at=started or utc_now_iso(),
            duration_ms=ms,
            reason=exc.reason.value,
            message=exc.message,
            transport=transport,
            evidence=tuple(ctx.evidence) if ctx else (),
        )

    def evaluate(self, control: Control, target: Target, facts: Mapping[str, Fact]) -> Finding:
        info = control.info
        needed = [facts[name] for name in info.facts]
        ids = tuple(f.id for f in needed)

        def finding(status: Status, message: str, reason: str | None = None, details: Mapping[str, Any] | None = None, message_sv: str | None = None) -> Finding:
            return Finding(control=info.id, target=target.id, status=status, message=message, severity=info.severity, family=info.family, facts=ids, details=dict(details or {}), reason=reason, message_sv=message_sv)

        for f in needed:
            if f.status == "error":
                # the cause is the transport's own (technical, English) words; the frame is in both languages
                return finding(Status.ERROR, f"Could not verify: {f.message}", f.reason, message_sv=f"Kunde inte verifieras: {f.message}")
        for f in needed:
            if f.status == "skipped":
                return finding(Status.SKIPPED, f"Not applicable: {f.message}", f.reason, message_sv=f"Ej tillämplig: {f.message}")
        values = MappingProxyType({f.name: f.value for f in needed})
        params = _ParamView(self.params, info.params, info.id)
        try:
            outcome = control.evaluate(values, params, target)
        except Exception as exc:  # noqa: BLE001 - a crashing evaluator is an error, never a pass
            return finding(Status.ERROR, f"Could not verify: evaluator of {info.id} raised {type(exc).__name__}: {exc}", Reason.BUG.value,
                           message_sv=f"Kunde inte verifieras: utvärderingen av {info.id} avbröts av {type(exc).__name__}: {exc}")
        if not isinstance(outcome, Outcome) or outcome.status not in (Status.PASS, Status.FAIL, Status.SKIPPED, Status.ERROR):
            return finding(Status.ERROR, f"Could not verify: evaluator of {info.id} returned {outcome!r} instead of passed()/failed()/skipped()/unverified()", Reason.BUG.value,
                           message_sv=f"Kunde inte verifieras: utvärderingen av {info.id} gav {outcome!r} i stället för passed()/failed()/skipped()/unverified()")
        reason = outcome.reason or (Reason.NOT_APPLICABLE.value if outcome.status is Status.SKIPPED else None)
        return finding(outcome.status, outcome.message, reason, outcome.details, outcome.message_sv)

    def _unfinished(self, plan: TargetPlan) -> tuple[list[Fact], list[Finding]]:
        exc = CollectError(Reason.INTERRUPTED, "the run was interrupted before this target was audited")
        facts = {c.name: self._fact_error(plan.target, c, exc, 0, "") for c in plan.collectors}
        return list(facts.values()), [self.evaluate(c, plan.target, facts) for c in plan.controls]


class _ParamView(Mapping[str, Any]):
    """Policy parameters as a control sees them: only those it declared."""

    def __init__(self, params: Mapping[str, Any], allowed: tuple[str, ...], control_id: str):
        self._params, self._allowed, self._control = params, allowed, control_id

    def __getitem__(self, key: str) -> Any:
        if key not in self._allowed:
            raise KeyError(f"control {self._control} reads parameter {key!r} without declaring it in params=")
        return self._params[key]

    def __iter__(self):  # type: ignore[override]
        return iter(self._allowed)

    def __len__(self) -> int:
        return len(self._allowed)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing must not hide the results gathered
        pass


def _qualname(col: Collector) -> str:
    return f"{col.module}.{getattr(col.func, '__name__', col.name)}"
