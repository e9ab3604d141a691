"""YAML that remembers where everything came from, and a small strict schema.

Inventories and policies are written by people; when they are wrong we say
exactly where (file:line:column), what we found and what we expected, and we
report every problem of a file at once.

>>> doc = loads("a: 1\\nb: [x, y]\\n", "demo.yaml")
>>> doc.where("b")
(2, 4)
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from .errors import InputError, Problem


class LMap(dict):
    """A mapping from YAML with the position of each key and value (1-based)."""

    line: int = 0
    column: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_pos: dict[Any, tuple[int, int]] = {}
        self.value_pos: dict[Any, tuple[int, int]] = {}

    def where(self, key: Any) -> tuple[int, int]:
        return self.value_pos.get(key) or (self.line, self.column)


class LList(list):
    """A sequence from YAML with the position of each item."""

    line: int = 0
    column: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.item_pos: list[tuple[int, int]] = []


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: Any, filename: str):
        super().__init__(stream)
        self.filename = filename
        self.problems: list[Problem] = []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LMap:
    loader.flatten_mapping(node)
    result = LMap()
    result.line, result.column = _pos(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            line, col = _pos(key_node)
            loader.problems.append(Problem(loader.filename, line, col, "a mapping key must be a plain value"))
            continue
        if key in result:
            line, col = _pos(key_node)
            first = result.key_pos[key][0]
            loader.problems.append(Problem(loader.filename, line, col, f"duplicate key {key!r} (first given on line {first}); each key may appear once"))
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_pos[key] = _pos(key_node)
        result.value_pos[key] = _pos(value_node)
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LList:
    result = LList()
    result.line, result.column = _pos(node)
    for child in node.value:
        result.append(loader.construct_object(child, deep=True))
        result.item_pos.append(_pos(child))
    return result


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """A date or time; one that does not exist (2027-02-30) is a problem at its position, not a crash."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        line, col = _pos(node)
        loader.problems.append(Problem(loader.filename, line, col, f"{node.value!r} is not a real date ({exc}); expected a date YYYY-MM-DD (e.g. 2027-03-31)"))
        return node.value


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def loads(text: str, filename: str) -> Any:
    loader = _Loader(text, filename)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise InputError(Problem(filename, mark.line + 1 if mark else None, mark.column + 1 if mark else None, f"not valid YAML: {what}")) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(filename, None, None, f"not valid YAML: {exc}")) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise InputError(loader.problems)
    return data


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(Problem(path, None, None, "file not found")) from None
    except IsADirectoryError:
        raise InputError(Problem(path, None, None, "is a directory, expected a YAML file")) from None
    except PermissionError:
        raise InputError(Problem(path, None, None, "permission denied while reading the file")) from None


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(path, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")) from None


def load(path: str) -> Any:
    return loads(_decode(path, _read(path)), path)


@dataclass
class Document:
    """A YAML file whose top level is a mapping, checked against a schema."""

    raw: "LMap"
    top: dict[str, Any]
    sha256: str  # of the file's bytes, as read
    checker: "Checker"


def load_document(path: str, fields: dict[str, "Field"], what: str, empty: str = "") -> Document:
    """Read ``path`` once, parse it and check its top-level keys against ``fields``.

    Problems inside the mapping stay in ``checker`` for the caller to add to;
    an empty file (with ``empty`` saying what was expected) or a top level
    that is not a mapping raises at once.
    """
    data = _read(path)
    raw = loads(_decode(path, data), path)
    chk = Checker(path)
    if raw is None and empty:
        raise InputError(Problem(path, 1, 1, empty))
    top = check_mapping(raw, "", (1, 1), chk, fields, what)
    if top is None or not isinstance(raw, LMap):
        chk.raise_if_any()
        raise InputError(Problem(path, 1, 1, f"expected a mapping at the top of {what}"))
    return Document(raw, top, hashlib.sha256(data).hexdigest(), chk)


# --- schema -----------------------------------------------------------------

def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


@dataclass
class Checker:
    """Collects problems while walking a document."""

    filename: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, pos: tuple[int, int] | None, message: str) -> None:
        line, col = pos if pos else (None, None)
        self.problems.append(Problem(self.filename, line, col, message))

    def raise_if_any(self) -> None:
        if self.problems:
            self.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
            raise InputError(self.problems)


Validator = Callable[[Any, str, tuple[int, int], Checker], Any]
_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One allowed key: a validator turns a raw value into a clean one (or reports)."""

    check: Validator
    required: bool = False
    default: Any = None
    doc: str = ""


def suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_mapping(value: Any, path: str, pos: tuple[int, int], chk: Checker, fields: dict[str, Field], what: str = "") -> dict[str, Any] | None:
    """Validate a mapping against ``fields``; unknown keys get a suggestion."""
    at = f"{path}: " if path else ""
    if not isinstance(value, dict):
        chk.add(pos, f"{at}expected a mapping{(' (' + what + ')') if what else ''}, found {describe(value)}")
        return None
    out: dict[str, Any] = {}
    key_pos = getattr(value, "key_pos", {})
    allowed = sorted(fields)
    for key in value:
        if key not in fields:
            chk.add(key_pos.get(key, pos), f"{at}unknown key {key!r}{suggest(key, allowed)} Allowed keys: {', '.join(allowed)}")
    for key, spec in fields.items():
        if key in value:
            vpos = value.where(key) if isinstance(value, LMap) else pos
            cleaned = spec.check(value[key], f"{path}.{key}" if path else key, vpos, chk)
            if cleaned is not _MISSING:
                out[key] = cleaned
        elif spec.required:
            chk.add(pos, f"{path}: missing required key {key!r}" if path else f"missing required key {key!r}")
        elif spec.default is not None:
            out[key] = spec.default
    return out


def string(pattern: str | None = None, hint: str = "", choices: tuple[str, ...] | None = None, nonempty: bool = True) -> Validator:
    rx = re.compile(pattern) if pattern else None

    def v(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and choices is None and rx is None:
            return str(value)
        if not isinstance(value, str):
            chk.add(pos, f"{path}: expected {hint or 'a string'}, found {describe(value)}")
            return _MISSING
        if nonempty and not value.strip():
            chk.add(pos, f"{path}: expected {hint or 'a non-empty string'}, found an empty string")
            return _MISSING
        if choices is not None and value not in choices:
            chk.add(pos, f"{path}: {value!r} is not one of {', '.join(choices)}{suggest(value, list(choices))}")
            return _MISSING
        if rx is not None and not rx.fullmatch(value):
            chk.add(pos, f"{path}: expected {hint or 'a string matching ' + pattern}, found {describe(value)}")
            return _MISSING
        return value

    return v


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    def v(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        rng = f" from {lo} to {hi}" if lo is not None and hi is not None else (f" of at least {lo}" if lo is not None else "")
        if isinstance(value, bool) or not isinstance(value, int) or (lo is not None and value < lo) or (hi is not None and value > hi):
            chk.add(pos, f"{path}: expected an integer{rng}, found {describe(value)}")
            return _MISSING
        return value

    return v


def number(lo: float | None = None) -> Validator:
    def v(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (lo is not None and value < lo):
            chk.add(pos, f"{path}: expected a number{f' of at least {lo:g}' if lo is not None else ''}, found {describe(value)}")
            return _MISSING
        return float(value)

    return v


def boolean() -> Validator:
    def v(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        if not isinstance(value, bool):
            chk.add(pos, f"{path}: expected true or false, found {describe(value)}")
            return _MISSING
        return value

    return v


def list_of(item: Validator, nonempty: bool = False) -> Validator:
    def v(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        if isinstance(value, str) and item is not None:
            # A lone string where a list is expected is a common slip; say so.
            chk.add(pos, f"{path}: expected a list, found {describe(value)} (write [{value}] or a '- {value}' item)")
            return _MISSING
        if not isinstance(value, list):
            chk.add(pos, f"{path}: expected a list, found {describe(value)}")
            return _MISSING
        if nonempty and not value:
            chk.add(pos, f"{path}: expected a non-empty list")
            return _MISSING
        positions = getattr(value, "item_pos", [])
        out = []
        for i, element in enumerate(value):
            cleaned = item(element, f"{path}[{i}]", positions[i] if i < len(positions) else pos, chk)
            if cleaned is not _MISSING:
                out.append(cleaned)
        return out

    return v


def mapping_of(fields: dict[str, Field], what: str = "") -> Validator:
    def v(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        out = check_mapping(value, path, pos, chk, fields, what)
        return _MISSING if out is None else out

    return v


MISSING = _MISSING
