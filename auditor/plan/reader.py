"""Reading ``terraform show -json PLANFILE`` (and ``tofu show -json``): format_version 1.x.

:func:`load_plan` turns the file into a :class:`Plan`: every managed resource
instance of ``resource_changes`` with its planned values (``after``), what is
known only after apply (``after_unknown``), its configuration (``expressions``
with ``constant_value`` and ``references``) and its provider configuration,
resolved through aliases, module calls and variables (:meth:`Plan.provider_region`).

Bad input is an :class:`~auditor.errors.InputError` naming file, line and
column, what is wrong and what was expected; never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import InputError, Problem

MAX_PLAN_BYTES = 256 * 1024 * 1024
EXPECTED = "expected the JSON that `terraform show -json PLANFILE` (or `tofu show -json`) writes, format_version 1.x"
_INDEX = re.compile(r"\[[^\]]*\]")


class Unknown:
    """A value Terraform knows only after apply (or one the plan cannot tell): why, in words."""

    def __init__(self, why: str):
        self.why = why

    def __repr__(self) -> str:
        return f"Unknown({self.why!r})"


@dataclass(frozen=True)
class Resource:
    """One managed resource instance as planned."""

    address: str  # module.storage.aws_s3_bucket.eu_backups, aws_s3_bucket.b[0]
    module: str  # module.storage ("" at the root)
    type: str
    name: str
    index: Any
    actions: tuple[str, ...]
    after: Mapping[str, Any]
    unknown: Any  # after_unknown: the same shape, true where the value is decided at apply time
    config: Mapping[str, Any]  # the resource's block in configuration (expressions, provider_config_key), {} when absent
    config_module: str  # the module path without instance keys: module.storage

    @property
    def replaced(self) -> bool:
        return "create" in self.actions and "delete" in self.actions

    @property
    def destroyed(self) -> bool:
        return "delete" in self.actions and "create" not in self.actions

    @property
    def config_address(self) -> str:
        """The address of the resource block (no instance key), in its module."""
        return f"{self.type}.{self.name}"


@dataclass(frozen=True)
class Plan:
    path: str
    sha256: str
    format_version: str
    terraform_version: str
    resources: tuple[Resource, ...]
    variables: Mapping[str, Any]
    configuration: Mapping[str, Any]
    ignored: tuple[str, ...] = field(default_factory=tuple)  # destroyed or forgotten resources, with why

    # -- configuration lookups ------------------------------------------------------

    def module_config(self, module: str) -> Mapping[str, Any] | None:
        """The configuration block of a module path (``module.a.module.b``; "" is the root)."""
        node: Any = self.configuration.get("root_module") or {}
        for name in [p for p in module.split(".") if p and p != "module"] if module else []:
            call = (node.get("module_calls") or {}).get(name)
            if not isinstance(call, Mapping):
                return None
            node = call.get("module") or {}
        return node if isinstance(node, Mapping) else None

    def provider_key(self, res: Resource) -> str:
        key = res.config.get("provider_config_key")
        if isinstance(key, str) and key:
            return key
        return "aws"

    def provider_region(self, res: Resource) -> str | Unknown:
        """The region of a resource's provider configuration (aliases, module inputs and variables resolved)."""
        key = self.provider_key(res)
        configs = self.configuration.get("provider_config") or {}
        config = configs.get(key)
        if not isinstance(config, Mapping) and ":" not in key and res.config_module:
            config = configs.get(f"{res.config_module}:{key}")  # a provider block of the module itself
        if not isinstance(config, Mapping):
            if key == "aws" and not configs:
                return Unknown(f"the plan has no provider configuration for {res.address}: its region comes from the environment (AWS_REGION) when it is applied")
            return Unknown(f"provider configuration {key} of {res.address} is not in the plan's configuration")
        module = str(config.get("module_address") or "")
        expr = (config.get("expressions") or {}).get("region")
        shown = f"provider {key}" + (f" (alias {config['alias']})" if config.get("alias") else "")
        if expr is None:
            return Unknown(f"{shown} sets no region: it comes from the environment (AWS_REGION, the profile) when the plan is applied")
        value = self.evaluate(expr, module, f"the region of {shown}")
        if isinstance(value, Unknown) or isinstance(value, str):
            return value
        return Unknown(f"the region of {shown} is {value!r}, not a region name")

    def evaluate(self, expr: Any, module: str, what: str, depth: int = 0) -> Any:
        """A configuration expression's value: a constant, or a variable (through module inputs); else Unknown."""
        if not isinstance(expr, Mapping):
            return Unknown(f"{what} is not a simple expression")
        if "constant_value" in expr:
            return expr["constant_value"]
        refs = [r for r in expr.get("references") or [] if isinstance(r, str)]
        var = next((r for r in refs if r.startswith("var.")), None)
        if var is None or len({r.split(".")[0] + "." + r.split(".")[1] for r in refs if r.count(".") >= 1}) != 1 or depth > 32:
            return Unknown(f"{what} comes from {', '.join(refs) or 'an expression'}, which the plan does not resolve")
        name = var.split(".")[1].split("[")[0]
        if not module:
            found = self.variables.get(name)
            if isinstance(found, Mapping) and "value" in found:
                return found["value"]
            return Unknown(f"{what} comes from var.{name}, which the plan gives no value")
        parent, _, call_name = module.rpartition(".module.") if ".module." in module else ("", "", module.split(".", 1)[1])
        parent_config = self.module_config(parent)
        call = ((parent_config or {}).get("module_calls") or {}).get(call_name) or {}
        given = (call.get("expressions") or {}).get(name)
        if given is not None:
            return self.evaluate(given, parent, f"{what} (var.{name} of {module})", depth + 1)
        default = (((call.get("module") or {}).get("variables") or {}).get(name) or {})
        if "default" in default:
            return default["default"]
        return Unknown(f"{what} comes from var.{name} of {module}, which neither the module call nor a default sets")

    def expression(self, res: Resource, *path: Any) -> Any:
        """The configuration expression at ``path`` of a resource (block lists indexed by number), or None."""
        node: Any = res.config.get("expressions") or {}
        for step in path:
            if isinstance(step, int):
                node = node[step] if isinstance(node, list) and step < len(node) else None
            else:
                node = node.get(step) if isinstance(node, Mapping) else None
            if node is None:
                return None
        return node

    def referenced(self, res: Resource, type_: str, *path: Any) -> list["Resource"]:
        """Planned resources of ``type_`` that the expression at ``path`` refers to (in the same module)."""
        expr = self.expression(res, *path)
        refs = (expr or {}).get("references") or [] if isinstance(expr, Mapping) else []
        found: list[Resource] = []
        for ref in refs:
            if not isinstance(ref, str) or not ref.startswith(type_ + "."):
                continue
            parts = ref.split(".")
            if len(parts) < 2:
                continue
            name_part = parts[1]
            name = name_part.split("[")[0]
            index = name_part[len(name):]
            candidates = [r for r in self.resources if r.type == type_ and r.name == name and r.module == res.module]
            if index:
                exact = [r for r in candidates if r.address.endswith(f"{type_}.{name_part}")]
                candidates = exact or candidates
            elif len(candidates) > 1 and res.index is not None:
                same = [r for r in candidates if r.index == res.index]
                candidates = same or candidates
            if candidates:
                return candidates[:1] if len(candidates) == 1 else candidates
        return found


# -- reading ------------------------------------------------------------------------

def _position(data: str, offset: int) -> tuple[int, int]:
    line = data.count("\n", 0, offset) + 1
    return line, offset - (data.rfind("\n", 0, offset) + 1) + 1


def _where(text: str, *needles: str) -> tuple[int | None, int | None]:
    """Line and column of the first of ``needles`` found in the text (a JSON key or value), else (None, None)."""
    for needle in needles:
        at = text.find(needle)
        if at >= 0:
            return _position(text, at)
    return None, None


def _decode(path: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # PowerShell's `>` writes UTF-16 with a BOM
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(Problem(path, None, None, f"not valid UTF-16 text at byte {exc.start}; {EXPECTED}")) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        col = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise InputError(Problem(path, line, col, f"not UTF-8 text (byte 0x{data[start]:02x}); {EXPECTED}")) from None


def _no_constants(text: str) -> None:
    raise ValueError(f"{text} is not a JSON number")


def load_plan(path: str) -> Plan:
    """Read and check a plan's JSON; raises :class:`InputError` with a position on bad input."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PLAN_BYTES + 1)
    except IsADirectoryError:
        raise InputError(Problem(path, None, None, f"is a folder; {EXPECTED}")) from None
    except FileNotFoundError:
        raise InputError(Problem(path, None, None, f"no such file; {EXPECTED}")) from None
    except OSError as exc:
        raise InputError(Problem(path, None, None, f"cannot be read: {exc.strerror or exc}; {EXPECTED}")) from None
    if len(data) > MAX_PLAN_BYTES:
        raise InputError(Problem(path, None, None, f"larger than {MAX_PLAN_BYTES // (1024 * 1024)} MB; {EXPECTED}"))
    if data.startswith(b"PK\x03\x04"):
        raise InputError(Problem(path, 1, 1, f"this is a binary plan file (`terraform plan -out`), not its JSON; run `terraform show -json {path} > plan.json` and give plan.json"))
    text = _decode(path, data)
    if not text.strip():
        raise InputError(Problem(path, 1, 1, f"the file is empty; {EXPECTED}"))
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(path, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}; {EXPECTED}")) from None
    except ValueError as exc:
        raise InputError(Problem(path, None, None, f"not valid JSON: {exc}; {EXPECTED}")) from None
    except RecursionError:
        raise InputError(Problem(path, None, None, f"not valid JSON for a plan: nested too deeply; {EXPECTED}")) from None
    return _plan(path, text, hashlib.sha256(data).hexdigest(), doc)


def _plan(path: str, text: str, digest: str, doc: Any) -> Plan:
    def problem(message: str, *needles: str) -> InputError:
        line, col = _where(text, *needles) if needles else (1, 1)
        return InputError(Problem(path, line or 1, col or 1, message))

    if not isinstance(doc, dict):
        raise problem(f"the document is a JSON {type(doc).__name__ if doc is not None else 'null'}, not an object; {EXPECTED}")
    version = doc.get("format_version")
    if version is None:
        what = "a Terraform state (`terraform show -json` without a plan file)" if "values" in doc and "resource_changes" not in doc else "no format_version"
        raise problem(f"not a Terraform plan: {what}; {EXPECTED}")
    if not isinstance(version, str) or not version.startswith("1."):
        raise problem(f"format_version {version!r} is not supported; {EXPECTED} (Terraform 1.0 or later, OpenTofu)", '"format_version"')
    if "resource_changes" not in doc and "planned_values" not in doc:
        raise problem(f"not a Terraform plan: no resource_changes or planned_values (a state or a provider schema?); {EXPECTED}", '"format_version"')
    changes = doc.get("resource_changes") or []
    if not isinstance(changes, list):
        raise problem(f"resource_changes is a {type(changes).__name__}, expected a list of resource changes", '"resource_changes"')
    configuration = doc.get("configuration") or {}
    variables = doc.get("variables") or {}
    for name, value in (("configuration", configuration), ("variables", variables)):
        if not isinstance(value, dict):
            raise problem(f"{name} is a {type(value).__name__}, expected an object", f'"{name}"')
    plan = Plan(path, digest, version, str(doc.get("terraform_version") or "unknown"), (), variables, configuration)
    resources: list[Resource] = []
    ignored: list[str] = []
    for i, rc in enumerate(changes):
        address = rc.get("address") if isinstance(rc, dict) else None
        change = rc.get("change") if isinstance(rc, dict) else None
        if not isinstance(address, str) or not isinstance(change, dict) or not isinstance(change.get("actions"), list):
            shown = json.dumps(address) if isinstance(address, str) else None
            raise problem(f"resource_changes[{i}] is not a resource change (an object with address, type, change.actions); {EXPECTED}",
                          *([f'"address": {shown}', f'"address":{shown}'] if shown else ['"resource_changes"']))
        if rc.get("mode", "managed") != "managed":
            continue
        actions = tuple(str(a) for a in change["actions"])
        module = str(rc.get("module_address") or "")
        config_module = _INDEX.sub("", module)
        res = Resource(
            address=address, module=module, type=str(rc.get("type") or ""), name=str(rc.get("name") or ""), index=rc.get("index"),
            actions=actions, after=after if isinstance(after := change.get("after"), dict) else {},
            unknown=change.get("after_unknown") if isinstance(change.get("after_unknown"), (dict, bool)) else {},
            config={}, config_module=config_module,
        )
        config = _config_block(plan, config_module, res.config_address)
        res = Resource(**{**res.__dict__, "config": config})
        if res.destroyed:
            ignored.append(f"{address}: destroyed by this plan, not judged")
            continue
        if actions in (("forget",),) or not actions:
            ignored.append(f"{address}: {'/'.join(actions) or 'no action'}, not judged")
            continue
        resources.append(res)
    return Plan(path, digest, version, plan.terraform_version, tuple(resources), variables, configuration, tuple(ignored))


def _config_block(plan: Plan, module: str, address: str) -> Mapping[str, Any]:
    node = plan.module_config(module)
    for block in (node or {}).get("resources") or []:
        if isinstance(block, Mapping) and block.get("address") == address:
            return block
    return {}


def known(res: Resource, *path: Any) -> Any:
    """The planned value at ``path`` of a resource's ``after``, or :class:`Unknown` when decided at apply time."""
    value: Any = res.after
    unknown: Any = res.unknown
    shown = res.address + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    for step in path:
        if unknown is True:
            return Unknown(f"{shown} is decided at apply time")
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and step < len(value) else None
            unknown = unknown[step] if isinstance(unknown, list) and step < len(unknown) else False
        else:
            value = value.get(step) if isinstance(value, Mapping) else None
            unknown = unknown.get(step, False) if isinstance(unknown, Mapping) else False
    if unknown is True:
        return Unknown(f"{shown} is decided at apply time")
    if value is None and _has_unknown(unknown):
        return Unknown(f"{shown} is decided at apply time")
    return value


def _has_unknown(node: Any) -> bool:
    if node is True:
        return True
    if isinstance(node, Mapping):
        return any(_has_unknown(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_unknown(v) for v in node)
    return False


def blocks(res: Resource, *path: Any) -> list[Any] | Unknown:
    """A nested block list (``rule``, ``ingress``...) as planned: [] when absent, Unknown when decided at apply time."""
    value = known(res, *path)
    if isinstance(value, Unknown):
        return value
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
