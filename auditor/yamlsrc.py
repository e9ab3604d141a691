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
import math
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from .errors import InputError, Problem

# Limits on what a YAML input file may be (documented in README.md and `auditor --help`):
MAX_FILE_BYTES = 4 * 1024 * 1024  # larger files are refused before they are read
MAX_DEPTH = 64  # mappings and lists nested deeper than this (aliases included) are refused
MAX_VALUES = 1_000_000  # values in the document once aliases are expanded ("billion laughs")
MAX_INT = 2**63 - 1  # integers beyond +/- this are refused
LIMITS_HELP = f"""\
input files (inventory, policy, waivers):
  regular files only (not a pipe or device), at most {MAX_FILE_BYTES // (1024 * 1024)} MiB of UTF-8 YAML, nested at most
  {MAX_DEPTH} levels, at most {MAX_VALUES:,} values once aliases are expanded; numbers must be finite
  (no .nan or .inf) and integers plain (022 is refused: YAML 1.1 reads it as octal 18)
"""


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


class _Refused(Exception):
    """A problem that ends the parsing of a file at once (too deep, too big, not text)."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: Any, filename: str):
        super().__init__(stream)
        self.filename = filename
        self.problems: list[Problem] = []
        self.depth = 0

    def refuse(self, mark: Any, message: str) -> _Refused:
        return _Refused(Problem(self.filename, mark.line + 1, mark.column + 1, message))

    def problem(self, node: yaml.Node, message: str) -> None:
        line, col = _pos(node)
        self.problems.append(Problem(self.filename, line, col, message))

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # A scalar its tag cannot read (!!int x, !!bool maybe, an explicit !!timestamp that is no date)
        # is a problem at its position; PyYAML raises plain Python errors for these.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, IndexError, AttributeError, TypeError, OverflowError):
            if not isinstance(node, yaml.ScalarNode):
                raise
            self.recursive_objects.pop(node, None)
            kind = str(node.tag).rsplit(":", 1)[-1]
            shown = node.value if len(node.value) <= 30 else node.value[:27] + "..."
            self.problem(node, f"{shown!r} is not a valid {kind}; expected a value its tag !!{kind} can read, or no tag")
            self.constructed_objects[node] = node.value
            return node.value

    def compose_node(self, parent: Any, index: Any) -> Any:
        # The composer recurses once per level: refuse deep nesting before Python's stack does.
        self.depth += 1
        try:
            event = self.peek_event()
            if self.depth > MAX_DEPTH:
                raise self.refuse(event.start_mark, f"nested more than {MAX_DEPTH} levels deep; expected at most {MAX_DEPTH} levels of mappings and lists")
            if isinstance(event, yaml.AliasEvent):
                target = self.anchors.get(event.anchor)
                if isinstance(target, yaml.CollectionNode) and target.end_mark is None:  # still being composed: it contains this alias
                    raise self.refuse(event.start_mark, f"the alias *{event.anchor} refers to a mapping or list that contains it (a recursive structure); "
                                      "expected each alias to name a value finished before it")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _check_graph(root: yaml.Node, filename: str) -> None:
    """Refuse a document whose aliases make it recursive, too deep or too big once expanded.

    Anchored nodes are shared, so each is measured once (memo); an alias always
    refers to a node finished earlier in document order (the composer refuses
    the others), so the recursion here is never deeper than the text's own
    nesting, which the composer has bounded too.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once expanded
    open_nodes: set[int] = set()

    def refuse(node: yaml.Node, message: str) -> _Refused:
        line, col = _pos(node)
        return _Refused(Problem(filename, line, col, message))

    def walk(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in measured:
            return measured[key]
        if key in open_nodes:
            raise refuse(node, "an alias refers to a mapping or list that contains it (a recursive structure); expected each alias to name a finished value")
        open_nodes.add(key)
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        values, depth = 1, 1
        for child in children:
            n, d = walk(child)
            values, depth = values + n, max(depth, d + 1)
            if values > MAX_VALUES:
                raise refuse(node, f"aliases expand this value to more than {MAX_VALUES:,} values; expected a document of at most {MAX_VALUES:,} values")
        if depth > MAX_DEPTH:
            raise refuse(node, f"aliases nest this value more than {MAX_DEPTH} levels deep; expected at most {MAX_DEPTH} levels of mappings and lists")
        open_nodes.discard(key)
        measured[key] = (values, depth)
        return values, depth

    walk(root)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LMap:
    """A mapping; ``<<: *anchor`` (or a list of them) merges keys the mapping does not give itself.

    Keys given in the mapping override merged ones; in a list of merged
    mappings the earlier one wins (YAML merge key semantics). A key given twice
    in the mapping itself is an error.
    """
    result = LMap()
    result.line, result.column = _pos(node)
    own: set[Any] = set()
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            _merge(loader, result, value_node, own)
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            loader.problem(key_node, "a mapping key must be a plain value")
            continue
        if key in own:
            first = result.key_pos[key][0]
            loader.problem(key_node, f"duplicate key {key!r} (first given on line {first}); each key may appear once")
            continue
        own.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_pos[key] = _pos(key_node)
        result.value_pos[key] = _pos(value_node)
    return result


def _merge(loader: _Loader, result: LMap, value_node: yaml.Node, own: set[Any]) -> None:
    sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
    mappings = []
    for source in sources:
        merged = loader.construct_object(source, deep=True)
        if not isinstance(source, yaml.MappingNode) or not isinstance(merged, LMap):
            loader.problem(source, "<<: expected a mapping (such as *defaults) or a list of mappings to merge, found " + describe(merged))
            continue
        mappings.append(merged)
    for merged in reversed(mappings):  # the first listed wins
        for key, value in merged.items():
            if key in own:
                continue  # given in the mapping itself, before or after the merge: that value stays
            result[key] = value
            result.key_pos[key] = merged.key_pos.get(key, (merged.line, merged.column))
            result.value_pos[key] = merged.where(key)


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


_SIGNED = re.compile(r"[-+]?")


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """An integer; refused when YAML 1.1 would read it in a way nobody means (022 is octal 18, 1:30 is 90)."""
    text = _SIGNED.sub("", node.value.replace("_", ""), count=1)
    if len(text) > 64:
        loader.problem(node, f"an integer of {len(text)} digits; expected an integer from {-MAX_INT} to {MAX_INT}")
        return node.value
    if ":" in text:
        loader.problem(node, f"{node.value!r} is a base-60 number in YAML 1.1 (it would read as {yaml.SafeLoader.construct_yaml_int(loader, node)}); "
                       "expected a plain number, or quotes if it is text")
        return node.value
    if len(text) > 1 and text[0] == "0" and text[1] not in "xb":
        sign = "-" if node.value.startswith("-") else ""
        loader.problem(node, f"{node.value!r} has a leading zero, which YAML 1.1 reads as the octal number {yaml.SafeLoader.construct_yaml_int(loader, node)}; "
                       f"expected {sign}{text.lstrip('0') or '0'} (or quotes if it is text)")
        return node.value
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    if abs(value) > MAX_INT:
        loader.problem(node, f"{node.value[:30]!r}{'...' if len(node.value) > 30 else ''} is out of range; expected an integer from {-MAX_INT} to {MAX_INT}")
        return node.value
    return value


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """A number with a fraction; NaN and infinities (.nan, .inf, 1e999) are refused."""
    if ":" in node.value:
        loader.problem(node, f"{node.value!r} is a base-60 number in YAML 1.1; expected a plain number, or quotes if it is text")
        return node.value
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        shown = node.value if len(node.value) <= 30 else node.value[:27] + "..."
        loader.problem(node, f"{shown!r} is not a finite number (it reads as {value}); expected a number such as 30 or 2.5")
        return node.value
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def loads(text: str, filename: str) -> Any:
    loader = None
    try:
        loader = _Loader(text, filename)  # the reader refuses control characters here already
        node = loader.get_single_node()
        if node is not None:
            _check_graph(node, filename)
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        raise InputError(exc.problem) from None
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise InputError(Problem(filename, line, col, f"the character U+{ord(char[:1] or chr(0)):04X} is not allowed in YAML (a control or non-character); expected text")) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise InputError(Problem(filename, mark.line + 1 if mark else 1, mark.column + 1 if mark else None, f"not valid YAML: {what}")) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(filename, 1, None, f"not valid YAML: {exc}")) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.problems:
        loader.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise InputError(loader.problems)
    return data


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index`` of ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _read(path: str) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; a pipe or device is refused without waiting on it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError(Problem(path, None, None, "file not found")) from None
    except PermissionError:
        raise InputError(Problem(path, None, None, "permission denied while reading the file")) from None
    except (OSError, ValueError) as exc:
        raise InputError(Problem(path, None, None, f"cannot open the file: {getattr(exc, 'strerror', None) or exc}")) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(Problem(path, None, None, "is a directory, expected a YAML file"))
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise InputError(Problem(path, None, None, f"is {kind}; expected a regular YAML file"))
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(_too_big(path, info.st_size))
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:  # it grew while being read
            raise InputError(_too_big(path, size))
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(Problem(path, None, None, f"cannot read the file: {exc.strerror or exc}")) from None
    finally:
        os.close(fd)


def _too_big(path: str, size: int) -> Problem:
    return Problem(path, None, None, f"is {size:,} bytes or more; expected a YAML file of at most {MAX_FILE_BYTES:,} bytes ({MAX_FILE_BYTES // (1024 * 1024)} MiB)")


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(Problem(path, line, col, f"not UTF-8 text ({exc.reason} at byte {exc.start}); expected a UTF-8 text file")) from None


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
