"""How a command ends when the world around it does: a reader that leaves, an
unusable --out, a verdict below --fail-on, signals, concurrent runs into one
folder. Real processes, real pipes, real signals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from auditor.cli import main
from auditor.folders import report_folders

ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def _auditor(*args: str) -> list[str]:
    return [sys.executable, "-m", "auditor", *args]


# -- a reader that leaves (`| head -1`) ------------------------------------------------------------


def _with_reader_gone(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with stdout a pipe whose reading end is already closed: every write meets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # before the child writes anything: deterministic, not a race with a buffer
    try:
        proc = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, timeout=timeout, env=env or ENV)
    finally:
        os.close(write_end)
    return proc


@pytest.mark.parametrize("args", [
    ["controls"],
    ["controls", "--parameters"],
    ["controls", "--json"],
    ["controls", "--parameters", "--json"],
    ["--help"],
    ["run", "--help"],
    ["validate"],
    ["sudoers"],
    ["keygen", "--help"],
])
def test_a_reader_that_leaves_is_a_normal_end(args):
    proc = _with_reader_gone(_auditor(*args))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr


def test_a_reader_that_leaves_does_not_change_a_verdict(tmp_path, local_inventory):
    """`auditor run ... | head`: the report is still written and the exit code is still the verdict."""
    backups = tmp_path / "b"
    backups.mkdir()
    (backups / "db.sql.gz").write_text("x")
    os.chmod(backups / "db.sql.gz", 0o644)  # readable by everyone: a violation
    inv = local_inventory(f"servers:\n  - {{name: h, connection: local, backup_paths: [{backups}]}}\n")
    out = tmp_path / "r"
    proc = _with_reader_gone(_auditor("run", inv, "--out", str(out), "--only", "ACCESS-BACKUP-FILE-PERMISSIONS"))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    (folder,) = report_folders(str(out))
    verify = _with_reader_gone(_auditor("verify", folder))
    assert verify.returncode == 0, verify.stderr
    # an altered report piped into a closed reader still exits 1 (ALTERED lines are printed first)
    with open(os.path.join(folder, "summary.md"), "a", encoding="utf-8") as fh:
        fh.write("tampered\n")
    verify = _with_reader_gone(_auditor("verify", folder))
    assert verify.returncode == 1, verify.stderr
    assert verify.stderr == ""
