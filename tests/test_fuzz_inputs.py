"""Property-based tests: whatever an inventory, policy, waiver file or report manifest holds,
the CLI answers with a positioned problem (exit 2; exit 1 for `verify`), never an internal error.

Examples run in-process through ``main`` (fast); ``tests/test_input_files.py``
and ``tests/test_integrity.py`` prove the same in real processes. Each example
is bounded in time (``deadline``) and the number of examples is small, so the
file runs in well under a minute on a 2-core CI machine. Hypothesis writes no
example database (``database=None``): nothing is written into the repository.
Inputs that once found a bug are kept as explicit ``@example`` cases.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")  # the `test` extras install it
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

# Hypothesis writes failing-example patches under its home folder (./.hypothesis by default): keep it out of the repository.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="auditor-hypothesis-"))

from auditor.cli import main  # noqa: E402
from auditor.inventory import COMMON, SECTIONS  # noqa: E402
from auditor.policy import POLICY_FIELDS, PROMISE_FIELDS  # noqa: E402
from auditor.waivers import WAIVER_FIELDS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_RUN = ROOT / "reports" / "examples" / "20261121T030004Z"

FUZZ = settings(
    max_examples=int(os.environ.get("AUDITOR_FUZZ_EXAMPLES", "60")),
    deadline=timedelta(seconds=5),  # one example: loading a file of at most a few KB
    database=None,  # no .hypothesis/ folder in the repository
    # CI replays the same examples every run (a result that does not depend on the draw); elsewhere each run
    # explores new ones, and what they find becomes a regression test of its own
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KINDS = ("inventory", "policy", "waivers")


def argv(kind: str, path: str) -> list[str]:
    return {"inventory": ["validate", path], "policy": ["validate", "--policy", path], "waivers": ["validate", "--waivers", path]}[kind]


def cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def workdir() -> Any:
    folder = tempfile.mkdtemp(prefix="auditor-fuzz-")
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def check_loader(workdir: Path, kind: str, data: bytes) -> None:
    """The property: exit 0 or 2, never 70; on 2, every problem names this file and a line."""
    path = workdir / f"{kind}.yaml"
    path.write_bytes(data)
    code, _out, err = cli(argv(kind, str(path)))
    assert code in (0, 2), err
    assert "Traceback" not in err and "internal error" not in err
    if code == 2:
        problems = [line for line in err.splitlines() if line.startswith("auditor: error: ")]
        assert problems, err
        for line in problems:
            assert re.match(rf"auditor: error: {re.escape(str(path))}:\d+(:\d+)?: \S", line), f"not positioned: {line!r}"


# --- any bytes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.binary(max_size=1500))
@example(data=b"x: \x00")  # the NUL byte of issue 12
@example(data=b"x: " + b"[" * 600)  # nesting of 500+ levels
@example(data=b"x: " + b"7" * 5000)  # a 5,000-digit integer
@example(data=b"x: caf\xe9")  # not UTF-8
@example(data=b"\xef\xbb\xbfx: 1")  # a BOM
@example(data=b"")  # empty
def test_any_bytes(workdir: Path, kind: str, data: bytes) -> None:
    check_loader(workdir, kind, data)


# --- any YAML-looking text -----------------------------------------------------------------------

YAML_ALPHABET = st.sampled_from(list("ab01:-[]{},&*!|>'\"#%@`?~. \n\t<=") + ["\n  ", "<<: ", "!!str ", "!!int ", "!!binary ", "!!set ", "!!omap ", ".nan", "022", "1:30", "\x85", "\u2028", "\ufeff"])


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(text=st.lists(YAML_ALPHABET, max_size=120).map("".join))
@example(text="a: &a [*a]")  # a recursive alias
@example(text="a: &a {<<: *a}")  # a recursive merge
@example(text="a: {<<: 5}")  # a merge of a scalar
@example(text="a: !!set {x}")
@example(text="a: !!omap [{b: 1}]")
@example(text="? [a]\n: 1")  # a list as a key
@example(text="a: !!binary '#'")
@example(text="!!int ")  # found by this test: an empty !!int was an internal error
@example(text="a: !!bool maybe")
@example(text="a: !!timestamp x")
@example(text="a: !!float x")
def test_any_yaml_text(workdir: Path, kind: str, text: str) -> None:
    check_loader(workdir, kind, text.encode("utf-8"))


# --- any structure, with the keys each file knows ------------------------------------------------

# Scalars written as they are (plain), so that YAML 1.1 resolves them: numbers, octal, NaN, dates, booleans...
SCALARS = st.sampled_from([
    "1", "0", "-1", "022", "0x1F", "1_000", "1:30", "9" * 30, "2.5", ".nan", "-.inf", "1e3", "yes", "no", "on", "~", "null", "true",
    "2027-03-31", "2027-02-30", "2027-03-31T10:00:00Z", "'022'", '""', "''", "x", "SE", "US", "local", "ssh", "server:*", "web1",
    "ACCESS-SUDO-NOPASSWD-ALL", "BACKUP-FRESHNESS", "https://x.example/", "/etc/ssh", "${HOME}", "${NOPE_NOT_SET}", "!!binary aGk=",
])
KEYS = sorted(
    {"version", "name", "description", "defaults", "groups", *SECTIONS, *COMMON}
    | {k for _, fields in SECTIONS.values() for k in fields}
    | set(POLICY_FIELDS) | set(PROMISE_FIELDS) | {"document", "section", "url", "file", "retrieved", "sv", "en"}
    | set(WAIVER_FIELDS) | {"waivers", "<<"}
)


def render(value: Any, indent: int = 0) -> str:
    """Block-style YAML with plain scalars (no quoting: the loader must resolve them)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "\n" + "\n".join(f"{pad}{k}: {render(v, indent + 1)}" for k, v in value.items())
    if isinstance(value, list):
        if not value:
            return "[]"
        return "\n" + "\n".join(f"{pad}- {render(v, indent + 1).lstrip(chr(10)).lstrip()}" if not isinstance(v, (dict, list)) or not v else f"{pad}-{_item(v, indent + 1)}" for v in value)
    return str(value)


def _item(value: Any, indent: int) -> str:
    body = render(value, indent)
    lines = body.lstrip("\n").split("\n")
    return " " + lines[0].lstrip() + ("\n" + "\n".join(lines[1:]) if len(lines) > 1 else "")


STRUCTURES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    max_leaves=30,
)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(doc=st.dictionaries(st.sampled_from(KEYS), STRUCTURES, max_size=6))
@example(doc={"servers": [{"name": "web1", "host": "x", "port": "022"}]})  # octal read as 18
@example(doc={"extends": "1"})  # found by this test: a problem with no line (policy)
@example(doc={"servers": [{"name": "web1", "connection": "local", "timeout": ".nan"}]})
@example(doc={"waivers": [{"control": "BACKUP-FRESHNESS", "target": "web1", "justification": "x", "approver": "x", "expires": "2027-02-30"}]})
def test_any_structure(workdir: Path, kind: str, doc: dict[str, Any]) -> None:
    check_loader(workdir, kind, render(doc).lstrip("\n").encode("utf-8") + b"\n")


# --- verify: any manifest -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(workdir: Path) -> Path:
    folder = workdir / "report"
    shutil.copytree(EXAMPLE_RUN, folder)
    return folder


def check_verify(folder: Path, manifest: bytes) -> None:
    """The property: a manifest that is not the one written is named as altered, exit 1, never 70."""
    original = (EXAMPLE_RUN / "manifest.json").read_bytes()
    (folder / "manifest.json").write_bytes(manifest)
    try:
        code, out, err = cli(["verify", str(folder)])
    finally:
        (folder / "manifest.json").write_bytes(original)
    assert "Traceback" not in err and "internal error" not in err, err
    if manifest == original:
        assert code == 0, out
        return
    assert code == 1, out + err
    assert "ALTERED  " in out and f"{folder}: NOT intact" in out


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(data=st.binary(max_size=1500))
@example(data=b"5")
@example(data=b"[" * 100000)
@example(data=b'{"files": {"run.json": null}}')  # wrong types: exit 70 in issue 12
@example(data=b'{"files": {}, "run": 5}')
@example(data=b'{"files": {"": {"sha256": ""}}}')
def test_verify_any_manifest_bytes(report: Path, data: bytes) -> None:
    check_verify(report, data)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    return out


@FUZZ
@given(data=st.data())
def test_verify_manifest_with_any_part_replaced(report: Path, data: Any) -> None:
    """The real manifest with one part (anything from the whole to one digest) replaced by any JSON value."""
    manifest = json.loads((EXAMPLE_RUN / "manifest.json").read_bytes())
    paths = _paths(manifest)
    path = data.draw(st.sampled_from(paths[:40] + paths[-20:]))
    value = data.draw(JSON)
    if not path:
        manifest = value
    else:
        parent = manifest
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    check_verify(report, json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
