"""The command line, end to end: reports on disk, exit codes, Ctrl-C, plug-ins."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from auditor.folders import report_folders
from auditor.cli import main

ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def _wait_for_child(pid, argv, timeout=60):
    """Wait until process ``pid`` has a child running ``argv`` (from /proc)."""
    want = ("\0".join(argv) + "\0").encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmdline = fh.read()
            except OSError:
                continue
            if ppid == pid and cmdline == want:
                return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} never started {argv}")


def _only_report(out_dir):
    (folder,) = report_folders(str(out_dir))
    return folder


def test_run_writes_every_report_file_and_exits_with_violations(tmp_path, local_inventory, capsys):
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "db.sql.gz").write_text("x")
    os.chmod(backups / "db.sql.gz", 0o644)  # readable by everyone: a violation
    inv = local_inventory(f"""
        servers:
          - name: here
            connection: local
            country: SE
            backup_paths: [{backups}]
        """)
    code = main(["run", inv, "--out", str(tmp_path / "reports"), "--only", "ACCESS-BACKUP-FILE-PERMISSIONS,BACKUP-FRESHNESS,DATA-DECLARED-LOCATION"])
    out = capsys.readouterr().out
    assert code == 1
    folder = _only_report(tmp_path / "reports")
    assert sorted(os.listdir(folder)) == ["junit.xml", "manifest.json", "report.html", "run.json", "summary.md"]
    run = json.load(open(os.path.join(folder, "run.json")))
    status = {f["control"]: f["status"] for f in run["findings"]}
    assert status == {"ACCESS-BACKUP-FILE-PERMISSIONS": "fail", "BACKUP-FRESHNESS": "pass", "DATA-DECLARED-LOCATION": "pass"}
    assert run["complete"] is True and run["schema_version"] == "1.1"
    assert "exit 1: 1 violation(s)" in out and "db.sql.gz" in out


def test_fail_on_threshold_and_could_not_verify(tmp_path, local_inventory):
    backups = tmp_path / "b"
    backups.mkdir()
    (backups / "old.tar").write_text("x")
    os.chmod(backups / "old.tar", 0o600)
    os.utime(backups / "old.tar", (time.time() - 90 * 86400,) * 2)
    inv = local_inventory(f"servers:\n  - {{name: h, connection: local, backup_paths: [{backups}]}}\n")
    out = str(tmp_path / "r")
    # BACKUP-MAX-AGE fails with severity medium
    assert main(["run", inv, "--out", out, "--only", "BACKUP-MAX-AGE", "-q"]) == 1
    assert main(["run", inv, "--out", out, "--only", "BACKUP-MAX-AGE", "-q", "--fail-on", "high"]) == 0
    # a server that cannot be reached: could not verify
    inv2 = local_inventory("servers:\n  - {name: far, host: 127.0.0.1, port: 9}\n", name="far.yaml")
    assert main(["run", inv2, "--out", out, "--only", "BACKUP-MAX-AGE", "-q"]) == 3


def test_bad_flags_are_usage_errors_before_anything_runs(tmp_path, local_inventory, capsys):
    inv = local_inventory()
    out = tmp_path / "r"
    assert main(["run", inv, "--out", str(out), "--only", "acess"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'access'" in err and "Traceback" not in err
    assert main(["run", inv, "--out", str(out), "--limit", "nosuch"]) == 2
    assert main(["run", inv, "--out", str(out), "--format", "pdf"]) == 2
    assert main(["run", str(tmp_path / "missing.yaml"), "--out", str(out)]) == 2
    assert "missing.yaml: file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", inv, "--concurrency", "0"])
    assert exc.value.code == 2
    assert not out.exists(), "no report is written for bad input"


def test_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for needle in ("--fail-on", "--concurrency", "--only", "--limit", "exit codes:", "130"):
        assert needle in text


def test_controls_lists_every_control(capsys):
    assert main(["controls", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ids = {r["id"] for r in rows}
    assert {"ACCESS-SSH-ROOT-LOGIN", "PWHASH-SHADOW-SCHEMES", "BACKUP-MAX-AGE", "DATA-PROCESSOR-LOCATION"} <= ids


def test_entry_point_plugins_are_discovered(plugin_path):
    proc = subprocess.run([sys.executable, "-m", "auditor", "controls", "--json"], env=dict(ENV, PYTHONPATH=plugin_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "TEST-SLOW" in {r["id"] for r in json.loads(proc.stdout)}


def test_ctrl_c_writes_an_incomplete_report(tmp_path, plugin_path, local_inventory):
    inv = local_inventory("servers:\n" + "".join(f"  - {{name: s{i}, connection: local}}\n" for i in range(3)))
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", "run", inv, "--out", str(out), "--only", "TEST-SLOW,TEST-GOOD", "--concurrency", "2"],
        env=dict(ENV, PYTHONPATH=plugin_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for_child(proc.pid, ["sleep", "60"])  # the slow collector is running
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    run = json.load(open(os.path.join(_only_report(out), "run.json")))
    assert run["complete"] is False
    slow = [f for f in run["findings"] if f["control"] == "TEST-SLOW"]
    assert len(slow) == 3 and all(f["status"] == "error" and f["reason"] == "interrupted" for f in slow)
    assert not any(f["status"] == "pass" and f["control"] == "TEST-SLOW" for f in run["findings"])


def test_default_inventory_audits_this_machine(tmp_path):
    """The README's first command: `auditor run` with no arguments."""
    proc = subprocess.run([sys.executable, "-m", "auditor", "run", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode in (0, 1, 3), proc.stderr
    run = json.load(open(os.path.join(_only_report(tmp_path), "run.json")))
    assert run["targets"][0]["id"] == "server:localhost"
    assert {f["control"] for f in run["findings"]} >= {"PWHASH-SHADOW-SCHEMES", "ACCESS-SSH-ROOT-LOGIN", "BACKUP-MAX-AGE"}
    assert f"exit {proc.returncode}:" in proc.stdout


def test_runs_are_recorded_in_the_history_and_the_next_report_shows_the_trend(tmp_path, local_inventory, capsys):
    inv = local_inventory()
    out = tmp_path / "reports"
    common = ["run", inv, "--out", str(out), "--only", "DATA-DECLARED-LOCATION", "-q"]
    assert main(common) == 0
    assert main(common) == 0
    first, second = (json.load(open(os.path.join(f, "run.json"))) for f in report_folders(str(out)))
    assert first["trend"] == []
    assert [t["run_id"] for t in second["trend"]] == [first["run_id"]]
    assert second["trend"][0]["by_family"]["data_location"]["pass"] == 1
    capsys.readouterr()
    assert main(["history", "--history", str(out / "history.sqlite"), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run_id"] for r in runs] == [second["run_id"], first["run_id"]]
    # --no-history: nothing recorded, no trend
    assert main([*common, "--no-history"]) == 0
    third = json.load(open(os.path.join(report_folders(str(out))[-1], "run.json")))
    assert third["trend"] == []
    capsys.readouterr()
    assert main(["history", "--history", str(out / "history.sqlite"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["runs"]) == 2


def test_history_that_cannot_be_written_warns_but_does_not_change_the_verdict(tmp_path, local_inventory, capsys):
    inv = local_inventory()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["run", inv, "--out", str(tmp_path / "r"), "--only", "DATA-DECLARED-LOCATION", "-q", "--history", str(blocker / "h.sqlite")])
    assert code == 0
    assert "warning: run not recorded in the history" in capsys.readouterr().err
    assert main(["history", "--history", str(tmp_path / "none.sqlite")]) == 2
    assert "auditor: error:" in capsys.readouterr().err
