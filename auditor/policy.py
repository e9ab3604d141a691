"""Policies: the promises we audit, quoted, and the parameters that make them testable.

A policy file names promises (each a sentence from a privacy policy, in its
own language, with its source, mapped to control ids) and sets parameters
declared by the check modules. ``extends:`` builds on another policy (a
built-in name such as ``baseline-eu``, or a path): parameters are overridden,
promises are added (a promise with the same id replaces the parent's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import InputError, Problem
from .model import Promise
from .registry import Registry
from .yamlsrc import MISSING, check_mapping, Checker, describe, Field, list_of, LMap, load_document, mapping_of, string, suggest

DEFAULT_POLICY = "baseline-eu"

PROMISE_FIELDS: dict[str, Field] = {
    "id": Field(string(r"[A-Za-z0-9][A-Za-z0-9._-]*", "an id of letters, digits, '.', '_' or '-'"), required=True),
    "quote": Field(string(), required=True, doc="the promise in the policy's own words"),
    "language": Field(string(r"[a-z]{2}", "a two-letter language code, e.g. sv")),
    "source": Field(mapping_of({"document": Field(string(), required=True), "section": Field(string()), "url": Field(string())}), required=True),
    "summary": Field(lambda v, p, pos, c: _text_or_translations(v, p, pos, c), doc="what it promises in technical terms: a string, or one per language ({en: ..., sv: ...})"),
    "controls": Field(list_of(string(), nonempty=True), required=True),
}

def _text_or_translations(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
    """A string, or a mapping of two-letter language codes to strings."""
    if isinstance(value, dict):
        lang = string(r"[a-z]{2}", "a two-letter language code such as sv or en")
        text = string()
        out = {}
        for key, text_value in value.items():
            code = lang(key, f"{path} key", pos, chk)
            words = text(text_value, f"{path}.{key}", pos, chk)
            if code is not MISSING and words is not MISSING:
                out[code] = words
        if not value:
            chk.add(pos, f"{path}: expected a string or a mapping of language codes to strings (en: ..., sv: ...), found an empty mapping")
        return out or MISSING
    return string(hint="a string or a mapping of language codes to strings (en: ..., sv: ...)")(value, path, pos, chk)


def _squeeze(text: str | dict[str, str]) -> str | dict[str, str]:
    if isinstance(text, dict):
        return {k: " ".join(v.split()) for k, v in sorted(text.items())}
    return " ".join(text.split())


POLICY_FIELDS: dict[str, Field] = {
    "id": Field(string(r"[a-z0-9][a-z0-9._-]*", "a lower-case id"), required=True),
    "title": Field(string(), required=True),
    "language": Field(string(r"[a-z]{2}", "a two-letter language code")),
    "extends": Field(string()),
    "description": Field(string()),
    "document": Field(mapping_of({"name": Field(string(), required=True), "url": Field(string()), "retrieved": Field(string()), "file": Field(string())})),
    "parameters": Field(lambda v, p, pos, c: v),
    "promises": Field(lambda v, p, pos, c: v),
}


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    path: str
    sha256: str
    language: str
    parameters: dict[str, Any]
    promises: tuple[Promise, ...]
    chain: tuple[str, ...]  # ids from the base to this one
    document: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "path": self.path, "sha256": self.sha256, "language": self.language, "chain": list(self.chain), "document": self.document, "parameters": self.parameters}


def builtin_policies() -> dict[str, str]:
    folder = resources.files("auditor.policies")
    return {p.name[: -len(".yaml")]: str(p) for p in folder.iterdir() if p.name.endswith(".yaml")}


def resolve_policy_path(name_or_path: str) -> str:
    if os.path.exists(name_or_path) or name_or_path.endswith((".yaml", ".yml")) or os.sep in name_or_path:
        return name_or_path
    builtins = builtin_policies()
    if name_or_path in builtins:
        return builtins[name_or_path]
    raise InputError(Problem("--policy", None, None, f"{name_or_path!r} is neither a file nor a built-in policy{suggest(name_or_path, sorted(builtins))} Built-in policies: {', '.join(sorted(builtins))}"))


def _place_at(problems: list[Problem], where: tuple[int, int], chk: Checker) -> None:
    """Problems of the policy named by ``extends:``; one with no line (no such file or built-in) is placed at the extends line."""
    for p in problems:
        if p.line is None:
            chk.add(where, f"extends: {'' if p.file == '--policy' else p.file + ': '}{p.message}")
        else:
            chk.problems.append(p)


def load_policy(name_or_path: str, registry: Registry, _seen: tuple[str, ...] = ()) -> Policy:
    path = resolve_policy_path(name_or_path)
    document = load_document(path, POLICY_FIELDS, "the policy")
    doc, top, digest, chk = document.raw, document.top, document.sha256, document.checker

    parent: Policy | None = None
    if "extends" in top:
        target = top["extends"]
        if not os.path.isabs(target) and (os.sep in target or target.endswith((".yaml", ".yml"))):
            target = os.path.join(os.path.dirname(path), target)
        try:
            if os.path.realpath(resolve_policy_path(target)) in _seen:
                chk.add(doc.where("extends"), f"extends: {top['extends']!r} leads back to itself (a cycle)")
            else:
                parent = load_policy(target, registry, _seen + (os.path.realpath(path),))
        except InputError as exc:
            _place_at(exc.problems, doc.where("extends"), chk)
        if parent is None:
            chk.raise_if_any()

    language = top.get("language") or (parent.language if parent else "en")
    params = dict(parent.parameters) if parent else registry.defaults()
    raw_params = doc.get("parameters")
    if raw_params is not None:
        ppos = doc.where("parameters")
        if not isinstance(raw_params, dict):
            chk.add(ppos, "parameters: expected a mapping of parameter name to value")
        else:
            known = sorted(registry.parameters)
            for key, value in raw_params.items():
                kpos = raw_params.key_pos.get(key, ppos) if isinstance(raw_params, LMap) else ppos
                vpos = raw_params.where(key) if isinstance(raw_params, LMap) else ppos
                spec = registry.parameters.get(key)
                if spec is None:
                    chk.add(kpos, f"parameters: unknown parameter {key!r}{suggest(key, known)} Run `auditor controls --parameters` for the list")
                    continue
                if spec.type is list and isinstance(value, list):
                    # Point at the bad item; YAML reads an unquoted NO (Norway) as false.
                    bad = [j for j, v in enumerate(value) if isinstance(v, bool) or not isinstance(v, (str, int))]
                    if bad:
                        j, item_pos = bad[0], getattr(value, "item_pos", [])
                        hint = " (quote it: YAML reads an unquoted NO, no, off as false)" if value[j] is False else ""
                        chk.add(item_pos[j] if j < len(item_pos) else vpos, f"parameters.{key}[{j}]: expected a string, found {describe(value[j])}{hint}")
                        continue
                problem = spec.check(list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value)
                if problem:
                    chk.add(vpos, f"parameters.{key}: {problem}")
                    continue
                params[key] = [str(v) for v in value] if spec.type is list else (float(value) if spec.type is float else value)

    promises: dict[str, Promise] = {p.id: p for p in parent.promises} if parent else {}
    raw_promises = doc.get("promises")
    if raw_promises is not None:
        ppos = doc.where("promises")
        if not isinstance(raw_promises, list):
            chk.add(ppos, "promises: expected a list of promises (each '- id: ...')")
        else:
            positions = getattr(raw_promises, "item_pos", [])
            known_controls = sorted(registry.controls)
            own_ids: set[str] = set()
            for i, raw in enumerate(raw_promises):
                pos = positions[i] if i < len(positions) else ppos
                clean = check_mapping(raw, f"promises[{i}]", pos, chk, PROMISE_FIELDS, "a promise")
                if not clean or "id" not in clean:
                    continue
                if clean["id"] in own_ids:
                    chk.add(pos, f"promises[{i}]: id {clean['id']!r} is used twice in this policy")
                    continue
                own_ids.add(clean["id"])
                cpos = raw.where("controls") if isinstance(raw, LMap) else pos
                item_pos = getattr(raw.get("controls"), "item_pos", []) if isinstance(raw, dict) else []
                for j, cid in enumerate(clean.get("controls", [])):
                    if cid not in registry.controls:
                        chk.add(item_pos[j] if j < len(item_pos) else cpos, f"promises[{i}].controls: no control named {cid!r}{suggest(cid, known_controls)} Run `auditor controls` for the list")
                if "quote" not in clean:
                    continue  # already reported as missing or invalid
                promises[clean["id"]] = Promise(
                    id=clean["id"],
                    quote=" ".join(clean["quote"].split()),
                    language=clean.get("language") or language,
                    source=clean.get("source", {}),
                    summary=_squeeze(clean.get("summary", "")),
                    controls=tuple(clean.get("controls", [])),
                )
    chk.raise_if_any()
    return Policy(
        id=top["id"],
        title=top["title"],
        path=os.path.abspath(path),
        sha256=digest,
        language=language,
        parameters=params,
        promises=tuple(promises.values()),
        chain=(parent.chain if parent else ()) + (top["id"],),
        document=top.get("document"),
    )
