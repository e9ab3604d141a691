"""Hostile input files (inventory, policy, waivers) and number flags: exit 2, file:line:column, never a traceback.

Each case goes through the real CLI entry point (``main``) for each kind of
file; one subprocess per class of case proves the real exit code, that stderr
holds no traceback, and that memory and time stay bounded.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.errors import InputError
from auditor.inventory import load_inventory
from auditor import yamlsrc
from auditor.yamlsrc import MAX_DEPTH, MAX_FILE_BYTES, load

ROOT = Path(__file__).resolve().parent.parent

# A valid file of each kind; a case appends its own lines (a top-level key) to it.
VALID = {
    "inventory": "servers:\n  - name: here\n    connection: local\n    country: SE\n",
    "policy": "id: fuzz\ntitle: A policy\npromises:\n  - id: P1\n    quote: We keep our promises.\n    source: {document: Ours}\n    controls: [DATA-DECLARED-LOCATION]\n",
    "waivers": "waivers:\n  - control: BACKUP-FRESHNESS\n    target: frontend\n    justification: Backups paused during the move.\n    approver: Erik Lund\n    expires: 2027-03-31\n",
}
KINDS = tuple(VALID)


def argv(kind: str, path: str) -> list[str]:
    """The command that loads ``path`` as a file of ``kind``."""
    return {"inventory": ["validate", path], "policy": ["validate", "--policy", path], "waivers": ["validate", "--waivers", path]}[kind]


def run_main(kind: str, path: str, capsys: Any) -> tuple[int, str]:
    code = main(argv(kind, path))
    return code, capsys.readouterr().err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("auditor: error: ")]


def positioned(err: str, path: str) -> list[tuple[int, int, str]]:
    """(line, column, message) of every problem printed; fails if one has no line."""
    out = []
    for line in error_lines(err):
        m = re.fullmatch(rf"auditor: error: {re.escape(path)}:(\d+):(\d+): (.+)", line)
        assert m, f"not positioned: {line!r}"
        out.append((int(m[1]), int(m[2]), m[3]))
    return out


def test_the_valid_files_are_valid(tmp_path: Path, capsys: Any) -> None:
    for kind in KINDS:
        path = tmp_path / f"{kind}.yaml"
        path.write_text(VALID[kind])
        code, err = run_main(kind, str(path), capsys)
        assert code == 0, err


# (name, bytes appended to the valid file, expected line, column, message fragment)
DEEP = b"x: " + b"[" * 600 + b"]" * 600 + b"\n"
LAUGHS = b"x:\n" + b"".join(b"  l%d: &l%d [%s]\n" % (i, i, b",".join([b"*l%d" % (i - 1) if i else b"lol"] * 10)) for i in range(9))
CONTENT_CASES = [
    ("nul-byte", b"x: a\x00b\n", 0, 5, "the character U+0000 is not allowed in YAML"),
    ("escape-char", b"x: \x1b[31m\n", 0, 4, "the character U+001B is not allowed"),
    ("not-utf8", b"x: caf\xe9\n", 0, 7, "not UTF-8 text (invalid continuation byte at byte"),
    ("deep-flow", DEEP, 0, 3 + MAX_DEPTH, f"nested more than {MAX_DEPTH} levels deep"),
    ("deep-block", b"".join(b"  " * i + b"k:\n" for i in range(200)), MAX_DEPTH - 1, 2 * MAX_DEPTH - 1, f"nested more than {MAX_DEPTH} levels deep"),
    ("5000-digit-int", b"x: " + b"9" * 5000 + b"\n", 0, 4, "an integer of 5000 digits; expected an integer from"),
    ("huge-int", b"x: 99999999999999999999\n", 0, 4, "is out of range; expected an integer from"),
    ("5000-digit-float", b"x: " + b"9" * 5000 + b".5\n", 0, 4, "is not a finite number"),
    ("billion-laughs", LAUGHS, 6, 7, "aliases expand this value to more than 1,000,000 values"),
    ("recursive-alias", b"x: &a [1, *a]\n", 0, 11, "the alias *a refers to a mapping or list that contains it"),
    ("recursive-merge", b"x: &a {b: 1, <<: *a}\n", 0, 18, "the alias *a refers to a mapping or list that contains it"),
    ("nan", b"x: .nan\n", 0, 4, "'.nan' is not a finite number"),
    ("inf", b"x: .inf\n", 0, 4, "'.inf' is not a finite number"),
    ("minus-inf", b"x: -.Inf\n", 0, 4, "'-.Inf' is not a finite number"),
    ("octal", b"x: 022\n", 0, 4, "'022' has a leading zero, which YAML 1.1 reads as the octal number 18; expected 22"),
    ("negative-octal", b"x: -0_17\n", 0, 4, "reads as the octal number -15; expected -17"),
    ("base-60", b"x: 1:30\n", 0, 4, "'1:30' is a base-60 number in YAML 1.1 (it would read as 90)"),
    ("unclosed", b"x: [1, 2\n", 1, 1, "not valid YAML"),
    ("tab-indent", b"x:\n\t- 1\n", 1, 1, "not valid YAML"),
    ("bad-tag", b"x: !!python/object:os.system ls\n", 0, 4, "not valid YAML"),
    ("tagged-int", b"x: !!int abc\n", 0, 4, "'abc' is not a valid int; expected a value its tag !!int can read, or no tag"),
    ("tagged-bool", b"x: !!bool maybe\n", 0, 4, "'maybe' is not a valid bool"),
    ("tagged-timestamp", b"x: !!timestamp soon\n", 0, 4, "'soon' is not a valid timestamp"),
    ("merge-of-scalar", b"x: {<<: 5}\n", 0, 9, "<<: expected a mapping (such as *defaults) or a list of mappings to merge, found the integer 5"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,extra,line,column,message", CONTENT_CASES, ids=[c[0] for c in CONTENT_CASES])
def test_hostile_content_is_a_positioned_problem(tmp_path: Path, capsys: Any, kind: str, name: str, extra: bytes, line: int, column: int, message: str) -> None:
    body = VALID[kind].encode()
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(body + extra)
    code, err = run_main(kind, str(path), capsys)
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    problems = positioned(err, str(path))
    first_line = body.count(b"\n") + 1 + line
    assert any(ln == first_line and col == column and message in text for ln, col, text in problems), (first_line, column, problems)


def test_leading_zero_and_nan_are_named_where_a_number_is_expected(tmp_path: Path, capsys: Any) -> None:
    """The cases of the issue, in the keys they were found in: port: 022 no longer becomes 18, timeout: .nan is refused."""
    path = tmp_path / "inventory.yaml"
    path.write_text("servers:\n  - name: web1\n    host: 192.0.2.1\n    port: 022\n    timeout: .nan\n")
    code, err = run_main("inventory", str(path), capsys)
    assert code == 2
    assert positioned(err, str(path)) == [
        (4, 11, "'022' has a leading zero, which YAML 1.1 reads as the octal number 18; expected 22 (or quotes if it is text)"),
        (5, 14, "'.nan' is not a finite number (it reads as nan); expected a number such as 30 or 2.5"),
    ]
    path.write_text("servers:\n  - name: web1\n    host: 192.0.2.1\n    port: 22\n    timeout: 2.5\n    description: '022'\n")
    settings = load_inventory(str(path)).targets[0].settings
    assert (settings["port"], settings["timeout"], settings["description"]) == (22, 2.5, "022")


def test_a_quoted_or_plain_zero_and_hex_stay_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 0\nb: -0\nc: 0x1F\nd: '022'\ne: 0.5\nf: 1_000\n")
    assert dict(load(str(path))) == {"a": 0, "b": 0, "c": 31, "d": "022", "e": 0.5, "f": 1000}


# --- merge keys ------------------------------------------------------------------------------


def test_merge_keys_are_supported_and_keys_of_the_mapping_override_merged_ones(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "servers:\n"
        "  - &web\n"
        "    name: web1\n"
        "    connection: local\n"
        "    country: SE\n"
        "    tags: [frontend]\n"
        "  - <<: *web\n"
        "    name: web2\n"
        "  - name: web3\n"
        "    <<: *web\n"
        "    country: DK\n"
        "  - <<: [{name: web4, country: FI}, *web]\n"
    )
    targets = {t.name: t for t in load_inventory(str(path)).targets}
    assert sorted(targets) == ["web1", "web2", "web3", "web4"]
    raw = load(str(path))["servers"]
    assert dict(raw[1]) == {"name": "web2", "connection": "local", "country": "SE", "tags": ["frontend"]}
    assert dict(raw[2]) == {"name": "web3", "connection": "local", "country": "DK", "tags": ["frontend"]}  # after the merge, still wins
    assert dict(raw[3])["name"] == "web4" and dict(raw[3])["country"] == "FI"  # the first mapping listed wins
    assert raw[1].where("country") == (5, 14)  # a merged value points where it was written


def test_a_real_duplicate_key_beside_a_merge_is_still_an_error(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("servers:\n  - <<: {connection: local}\n    name: one\n    name: two\n")
    code, err = run_main("inventory", str(path), capsys)
    assert code == 2
    assert positioned(err, str(path)) == [(4, 5, "duplicate key 'name' (first given on line 3); each key may appear once")]


# --- files that are not regular files, or too big -----------------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path, capsys: Any) -> None:
    fifo = tmp_path / "inventory.yaml"
    os.mkfifo(fifo)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(run_main("inventory", str(fifo), capsys)), daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the reader so the test process can end, then fail
        with open(fifo, "wb"):
            pass
        worker.join(5)
        pytest.fail("reading a FIFO hangs")
    code, err = result[0]
    assert code == 2 and f"auditor: error: {fifo}: is a named pipe (FIFO); expected a regular YAML file" in err


@pytest.mark.parametrize("kind", KINDS)
def test_a_device_a_directory_and_a_too_big_file_are_refused(tmp_path: Path, capsys: Any, kind: str) -> None:
    code, err = run_main(kind, "/dev/zero", capsys)
    assert code == 2 and "auditor: error: /dev/zero: is a character device; expected a regular YAML file" in err
    code, err = run_main(kind, str(tmp_path), capsys)
    assert code == 2 and f"auditor: error: {tmp_path}: is a directory, expected a YAML file" in err
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:  # sparse: refused from its size, never read
        fh.truncate(MAX_FILE_BYTES + 1)
    code, err = run_main(kind, str(big), capsys)
    assert code == 2 and f"auditor: error: {big}: is {MAX_FILE_BYTES + 1:,} bytes or more; expected a YAML file of at most {MAX_FILE_BYTES:,} bytes (4 MiB)" in err


def test_the_size_limit_itself_is_allowed(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(yamlsrc, "MAX_FILE_BYTES", 1000)  # the same rule on a size that parses quickly
    path = tmp_path / "inventory.yaml"
    path.write_bytes(VALID["inventory"].encode() + b"#" * (1000 - len(VALID["inventory"]) - 1) + b"\n")
    assert load_inventory(str(path)).targets[0].name == "here"
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(InputError, match="is 1,001 bytes or more; expected a YAML file of at most 1,000 bytes"):
        load_inventory(str(path))


def test_the_limits_are_documented_in_help_and_readme(capsys: Any) -> None:
    for args in (["--help"], ["validate", "--help"]):
        with pytest.raises(SystemExit):
            main(args)
        text = capsys.readouterr().out
        assert "at most 4 MiB" in text and f"nested at most\n  {MAX_DEPTH} levels" in text and "no .nan or .inf" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "4 MiB" in readme and f"{MAX_DEPTH} levels" in readme


# --- number flags -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag,value,message", [
    ("--connect-timeout", "nan", "argument --connect-timeout: expected a finite number of seconds, got 'nan'"),
    ("--timeout", "inf", "argument --timeout: expected a finite number of seconds, got 'inf'"),
    ("--host-timeout", "Infinity", "argument --host-timeout: expected a finite number of seconds, got 'Infinity'"),
    ("--concurrency", "016", "argument --concurrency: expected a whole number without a leading zero, got '016'"),
])
def test_non_finite_and_leading_zero_flags_are_usage_errors(capsys: Any, flag: str, value: str, message: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--no-history", flag, value])
    assert info.value.code == 2
    assert f"auditor: error: {message}" in capsys.readouterr().err


# --- the real process: exit code, no traceback, bounded memory and time --------------------------

MEMORY_LIMIT = 1024 * 1024 * 1024  # 1 GiB of address space: reading /dev/zero used to take 6 GB


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=timeout, env=env, preexec_fn=_limits)


# One real process per class of case, each on a different kind of file.
SUBPROCESS_CASES = [
    ("nul-byte", "inventory", b"x: \x00\n", "the character U+0000 is not allowed"),
    ("deep-flow", "policy", DEEP, "nested more than"),
    ("5000-digit-int", "waivers", b"x: " + b"1" * 5000 + b"\n", "an integer of 5000 digits"),
    ("billion-laughs", "inventory", LAUGHS, "aliases expand this value"),
    ("nan", "policy", b"x: .nan\n", "'.nan' is not a finite number"),
    ("octal", "waivers", b"x: 022\n", "'022' has a leading zero"),
]


@pytest.mark.parametrize("name,kind,extra,message", SUBPROCESS_CASES, ids=[c[0] for c in SUBPROCESS_CASES])
def test_real_process_exits_2_without_traceback(tmp_path: Path, name: str, kind: str, extra: bytes, message: str) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(VALID[kind].encode() + extra)
    proc = run_cli(*argv(kind, str(path)))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert any(message in text for _line, _col, text in positioned(proc.stderr, str(path))), proc.stderr[-2000:]


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_real_process_refuses_a_device_or_fifo_at_once(tmp_path: Path, special: str) -> None:
    path = special
    if special == "fifo":
        path = str(tmp_path / "inventory.yaml")
        os.mkfifo(path)
    proc = run_cli("validate", path, timeout=30)  # a hang or a 6 GB read fails here
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and re.search(rf"auditor: error: {re.escape(path)}: is a (character device|named pipe)", proc.stderr)
