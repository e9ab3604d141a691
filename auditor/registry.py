"""Controls, fact collectors and policy parameters, and where they are found.

A check module declares its pieces with three decorators/constructors and
nothing else; the registry finds them by scanning module namespaces (no
global mutable state, no import-order games)::

    max_tries = parameter("ssh_max_auth_tries", int, 4, "Highest MaxAuthTries allowed.")

    @collector("sshd.effective_config", kinds=("server",))
    def sshd_config(ctx):
        result = ctx.run(["sshd", "-T"])
        return parse(result.text)

    @control("ACCESS-SSH-MAX-AUTH-TRIES", family="access", kinds=("server",),
             title="...", severity="medium", rationale="...",
             facts=("sshd.effective_config",), params=("ssh_max_auth_tries",))
    def max_auth_tries(facts, params, target):
        ...
        return passed("MaxAuthTries is 3") or failed(...)

Modules come from the ``checks`` package and from the ``auditor.checks``
entry-point group, so a third party can ship controls in its own package.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import re
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .model import FAMILIES, TARGET_KINDS, ControlInfo, Severity, Status

CONTROL_ID_RE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
FACT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
PARAM_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ENTRY_POINT_GROUP = "auditor.checks"


class RegistryError(Exception):
    """A check module declares something malformed: a bug for its author."""


@dataclass(frozen=True)
class Outcome:
    """What an evaluator decides: pass, fail, skipped, or error when the evidence is incomplete."""

    status: Status
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    message_sv: str | None = None  # the same message in Swedish (see :func:`sv`)


@dataclass(frozen=True)
class Text:
    """A finding message in English and Swedish: ``failed(sv("3 keys", "3 nycklar"))``."""

    en: str
    sv: str

    def __str__(self) -> str:
        return self.en


def sv(en: str, sv_text: str) -> Text:
    """A message given in both languages; the outcome helpers accept it wherever they take a message."""
    return Text(en, sv_text)


def count_sv(n: int, one: str, many: str) -> str:
    """A number with the Swedish noun in agreement: ``count_sv(1, "nyckel", "nycklar")`` → ``1 nyckel``."""
    return f"{n} {one if n == 1 else many}"


def _split(message: "str | Text") -> tuple[str, str | None]:
    return (message.en, message.sv) if isinstance(message, Text) else (message, None)


def passed(message: "str | Text", **details: Any) -> Outcome:
    en, sv_text = _split(message)
    return Outcome(Status.PASS, en, details, message_sv=sv_text)


def failed(message: "str | Text", **details: Any) -> Outcome:
    en, sv_text = _split(message)
    return Outcome(Status.FAIL, en, details, message_sv=sv_text)


def skipped(message: "str | Text", **details: Any) -> Outcome:
    en, sv_text = _split(message)
    return Outcome(Status.SKIPPED, en, details, message_sv=sv_text)


def unverified(message: "str | Text", reason: str = "incomplete_evidence", **details: Any) -> Outcome:
    """The facts were gathered but do not settle the question (part unreadable, cut short)."""
    en, sv_text = _split(message)
    return Outcome(Status.ERROR, en, details, reason, sv_text)


@dataclass(frozen=True)
class Parameter:
    """A policy parameter a control reads, with its type and default."""

    name: str
    type: Any  # int, float, str, bool, list (of str)
    default: Any
    doc: str
    module: str = ""

    def check(self, value: Any) -> str | None:
        """Return a description of what is wrong with ``value``, or None."""
        expected = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list of strings"}[self.type]
        if self.type is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return None
        if self.type is int and isinstance(value, bool):
            return f"expected {expected}, found {_kind(value)}"
        if self.type is list:
            if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
                return f"expected {expected}, found {_kind(value)}"
            return None
        if not isinstance(value, self.type):
            return f"expected {expected}, found {_kind(value)}"
        return None


def _kind(value: Any) -> str:
    from .yamlsrc import describe  # LMap/LList are dict/list subclasses: judge by isinstance

    return describe(value)


@dataclass(frozen=True)
class Collector:
    name: str
    kinds: tuple[str, ...]
    transport: str
    timeout: float
    func: Callable[..., Any]
    module: str = ""
    reads: Callable[[Any, Any], Any] | None = None  # (target, host) -> auditor.shellreads.Reads: what it lists/reads, shared with the target's other collectors
    sudo_commands: Callable[[Any, Any], list[Any]] | None = None  # (target, host) -> argv (or SudoCommand, SudoPattern) it runs through sudo besides the shared reads (for `auditor sudoers`)


@dataclass(frozen=True)
class Control:
    info: ControlInfo
    evaluate: Callable[..., Outcome]
    module: str = ""

    @property
    def id(self) -> str:
        return self.info.id


def parameter(name: str, type: Any, default: Any, doc: str) -> Parameter:
    return Parameter(name, type, default, doc)


def collector(
    name: str, *, kinds: Iterable[str], transport: str = "shell", timeout: float = 30.0,
    reads: Callable[[Any, Any], Any] | None = None, sudo_commands: Callable[[Any, Any], list[Any]] | None = None,
) -> Callable[[Callable[..., Any]], Collector]:
    """Declare a fact collector. ``transport`` names the connection it needs:
    ``shell`` (run argv on the target), ``inventory`` (no connection: the
    declared settings), ``net``, ``db``, ``aws``.

    A shell collector that lists or reads files declares ``reads(target,
    host) -> Reads``: the runner merges every collector's reads into one
    ``find`` and one ``cat`` per server (``ctx.reads``). ``sudo_commands``
    names the other commands it runs through sudo, so that ``auditor
    sudoers`` can print a rule for exactly them."""

    def wrap(func: Callable[..., Any]) -> Collector:
        return Collector(name, tuple(kinds), transport, float(timeout), func, func.__module__, reads, sudo_commands)

    return wrap


def control(
    id: str,
    *,
    family: str,
    kinds: Iterable[str],
    title: str,
    severity: str,
    rationale: str,
    facts: Iterable[str],
    params: Iterable[str] = (),
    references: Iterable[str] = (),
    title_sv: str = "",
    rationale_sv: str = "",
    remediation: str = "",
    remediation_sv: str = "",
    plain: str = "",
    plain_sv: str = "",
) -> Callable[[Callable[..., Outcome]], Control]:
    """Declare a control. Every text comes in English and Swedish: ``title``, the
    ``rationale`` (why it matters), the ``remediation`` (one sentence: what to
    do) and ``plain``, the failing check in plain words with ``{n}`` for the
    number of targets ("{n} server(s) accept password logins over SSH"). The
    registry refuses a control that leaves one out."""

    def wrap(func: Callable[..., Outcome]) -> Control:
        try:
            sev = Severity(severity)
        except ValueError:
            raise RegistryError(f"{func.__module__}: control {id}: severity {severity!r} is not one of {[s.value for s in Severity]}") from None
        info = ControlInfo(
            id=id,
            family=family,
            kinds=tuple(kinds),
            title=title,
            severity=sev,
            rationale=" ".join(rationale.split()),
            references=tuple(references),
            facts=tuple(facts),
            params=tuple(params),
            title_sv=title_sv,
            rationale_sv=" ".join(rationale_sv.split()),
            remediation=" ".join(remediation.split()),
            remediation_sv=" ".join(remediation_sv.split()),
            plain=plain,
            plain_sv=plain_sv,
        )
        return Control(info, func, func.__module__)

    return wrap


TEXTS = ("title", "title_sv", "rationale", "rationale_sv", "remediation", "remediation_sv", "plain", "plain_sv")


def text_problems(info: ControlInfo) -> list[str]:
    """What is missing or malformed among the eight texts a control declares (English and Swedish)."""
    out = [f"{name} is missing (declare it in @control(...))" for name in TEXTS if not str(getattr(info, name) or "").strip()]
    for name in ("plain", "plain_sv"):
        value = getattr(info, name)
        if value and "{n}" not in value:
            out.append(f"{name} must contain {{n}} (the number of targets), e.g. '{{n}} server(s) accept password logins over SSH'")
        elif value:
            try:
                value.format(n=1)
            except (KeyError, IndexError, ValueError) as exc:
                out.append(f"{name} may use only the placeholder {{n}}: {exc!r}")
    return out


class Registry:
    """Everything the check modules declare, validated."""

    def __init__(self, modules: Iterable[types.ModuleType]):
        self.controls: dict[str, Control] = {}
        self.collectors: dict[tuple[str, str], Collector] = {}  # (fact name, kind)
        self.parameters: dict[str, Parameter] = {}
        self.modules: list[str] = []
        for module in modules:
            self._scan(module)
        self._validate()

    @classmethod
    def load(cls, packages: Iterable[str] = ("checks",), entry_points: bool = True) -> "Registry":
        modules: list[types.ModuleType] = []
        for package_name in packages:
            package = importlib.import_module(package_name)
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
                if not info.name.startswith("_"):
                    modules.append(importlib.import_module(f"{package_name}.{info.name}"))
        if entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                try:
                    modules.append(ep.load())
                except Exception as exc:  # a broken plug-in must say so, not vanish
                    raise RegistryError(f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}) failed to load: {exc}") from exc
        return cls(modules)

    def _scan(self, module: types.ModuleType) -> None:
        self.modules.append(module.__name__)
        for attr, obj in vars(module).items():
            if isinstance(obj, Control):
                if obj.id in self.controls:
                    raise RegistryError(f"control {obj.id} is declared twice ({self.controls[obj.id].module} and {obj.module})")
                self.controls[obj.id] = obj
            elif isinstance(obj, Collector):
                for kind in obj.kinds:
                    key = (obj.name, kind)
                    if key in self.collectors and self.collectors[key] is not obj:
                        raise RegistryError(f"fact {obj.name} for {kind} targets is collected twice ({self.collectors[key].module} and {obj.module})")
                    self.collectors[key] = obj
            elif isinstance(obj, Parameter):
                other = self.parameters.get(obj.name)
                if other is not None and (other.type, other.default) != (obj.type, obj.default):
                    raise RegistryError(f"parameter {obj.name} is declared twice with different type/default ({other.module or '?'} and {module.__name__})")
                self.parameters[obj.name] = Parameter(obj.name, obj.type, obj.default, obj.doc, module.__name__)

    def _validate(self) -> None:
        problems: list[str] = []
        for (name, kind), col in self.collectors.items():
            if not FACT_NAME_RE.match(name):
                problems.append(f"{col.module}: fact name {name!r} must look like 'area.thing' (lower case, dotted)")
            if kind not in TARGET_KINDS:
                problems.append(f"{col.module}: collector {name} names unknown target kind {kind!r}")
        for param in self.parameters.values():
            if not PARAM_NAME_RE.match(param.name):
                problems.append(f"{param.module}: parameter name {param.name!r} must be lower_snake_case")
            if param.type not in (int, float, str, bool, list):
                problems.append(f"{param.module}: parameter {param.name} has unsupported type {param.type!r}")
            elif (err := param.check(param.default)) is not None:
                problems.append(f"{param.module}: default of parameter {param.name}: {err}")
        for ctl in self.controls.values():
            info, where = ctl.info, f"{ctl.module}: control {ctl.info.id}"
            if not CONTROL_ID_RE.match(info.id):
                problems.append(f"{where}: id must be upper case words joined by '-', e.g. ACCESS-SSH-ROOT-LOGIN")
            if info.family not in FAMILIES:
                problems.append(f"{where}: family {info.family!r} is not one of {', '.join(FAMILIES)}")
            if not info.kinds or any(k not in TARGET_KINDS for k in info.kinds):
                problems.append(f"{where}: kinds {list(info.kinds)} must be a non-empty subset of {', '.join(TARGET_KINDS)}")
            if len(info.title.strip()) < 10:
                problems.append(f"{where}: title is missing or too short")
            if len(info.rationale.strip()) < 20:
                problems.append(f"{where}: rationale is missing or too short")
            problems += [f"{where}: {p}" for p in text_problems(info)]
            if not info.facts:
                problems.append(f"{where}: declares no facts; a verdict needs evidence")
            for fact in info.facts:
                for kind in info.kinds:
                    if (fact, kind) not in self.collectors:
                        problems.append(f"{where}: needs fact {fact} for {kind} targets, but no collector provides it")
            for p in info.params:
                if p not in self.parameters:
                    problems.append(f"{where}: reads parameter {p!r} that no module declares")
        if problems:
            raise RegistryError("invalid check modules:\n  " + "\n  ".join(problems))

    def controls_for(self, kind: str) -> list[Control]:
        return [c for c in self.controls.values() if kind in c.info.kinds]

    def collector_for(self, fact: str, kind: str) -> Collector:
        return self.collectors[(fact, kind)]

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.parameters.items()}
