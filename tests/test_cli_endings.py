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


def test_a_reader_of_stderr_that_leaves_is_a_normal_end_too(tmp_path):
    """`auditor validate bad.yaml 2>&1 | head -1`: the problems go to stderr; the exit code stays 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("servers: [\n")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(_auditor("validate", str(bad)), stdout=write_end, stderr=write_end, stdin=subprocess.DEVNULL, timeout=120, env=ENV)
    finally:
        os.close(write_end)
    assert proc.returncode == 2


# -- an --out that cannot hold a report ------------------------------------------------------------


@pytest.fixture
def listener():
    """A TCP port that counts the connections it is offered (an SSH target that must not be contacted)."""
    import socket
    import threading

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.1)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    stop.set()
    thread.join(5)
    sock.close()


@pytest.mark.parametrize("out, expected", [
    ("/dev/null", "is not a folder"),
    ("{tmp}/a-file", "is not a folder"),
    ("{tmp}/a-file/reports", "cannot be created: {tmp}/a-file is not a folder"),
    ("/proc/auditor-nowhere/reports", "cannot be created in /proc"),
])
def test_an_out_that_cannot_hold_a_report_is_refused_before_anything_is_contacted(tmp_path, local_inventory, listener, capsys, out, expected):
    port, accepted = listener
    (tmp_path / "a-file").write_text("not a folder\n")
    inv = local_inventory(f"servers:\n  - {{name: far, host: 127.0.0.1, port: {port}, user: root}}\n")
    out, expected = out.format(tmp=tmp_path), expected.format(tmp=tmp_path)
    assert main(["run", inv, "--out", out, "--connect-timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert f"auditor: error: --out: {out}: {expected}" in err, err
    assert "nothing was audited" in err and "Traceback" not in err
    assert accepted == [], "a target was contacted although the report could not be written"
    assert (tmp_path / "a-file").read_text() == "not a folder\n"


def test_an_out_on_a_read_only_file_system_is_refused(tmp_path, local_inventory, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(ro)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        for out in (ro, ro / "reports"):
            assert main(["run", local_inventory(), "--out", str(out), "--only", "DATA-DECLARED-LOCATION"]) == 2
            assert "Read-only file system" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", str(ro)], check=True)


# -- the exit line says what is true ---------------------------------------------------------------


def _doc(*statuses_and_severities: tuple[str, str], complete: bool = True) -> dict[str, object]:
    return {"complete": complete, "findings": [{"status": s, "severity": sev} for s, sev in statuses_and_severities]}


FIVE_MEDIUM = [("fail", "medium")] * 5


@pytest.mark.parametrize("findings, fail_on, expected", [
    (FIVE_MEDIUM, "critical", (0, "no violation at or above severity critical (5 below it); nothing left unverified")),
    (FIVE_MEDIUM, "none", (0, "5 failed finding(s), none counted (--fail-on none); nothing left unverified")),
    (FIVE_MEDIUM, "medium", (1, "5 violation(s) at or above severity medium")),
    ([*FIVE_MEDIUM, ("fail", "critical")], "high", (1, "1 violation(s) at or above severity high (5 more below it)")),
    ([*FIVE_MEDIUM, ("error", "high")], "critical", (3, "1 finding(s) could not be verified; no violation at or above severity critical (5 below it)")),
    ([("error", "high"), ("pass", "high")], "low", (3, "1 finding(s) could not be verified; no violation")),
    ([("pass", "high"), ("skipped", "low")], "low", (0, "compliant: no violation, nothing left unverified")),
    ([("pass", "high"), ("waived", "low")], "low", (0, "compliant: no violation, 1 waived, nothing left unverified")),
    ([], "low", (3, "no control ran: nothing was verified")),
])
def test_the_exit_line_says_what_is_true(findings, fail_on, expected):
    from auditor.cli import exit_code

    assert exit_code(_doc(*findings), fail_on) == expected
    assert "compliant" not in exit_code(_doc(*findings), fail_on)[1] or not any(s == "fail" for s, _ in findings)


def test_failures_below_fail_on_are_not_called_compliant(tmp_path, local_inventory, capsys):
    backups = tmp_path / "b"
    backups.mkdir()
    for i in range(5):  # five old backups readable by everyone
        (backups / f"db{i}.sql.gz").write_text("x")
        os.chmod(backups / f"db{i}.sql.gz", 0o644)
    inv = local_inventory(f"servers:\n  - {{name: h, connection: local, backup_paths: [{backups}]}}\n")
    assert main(["run", inv, "--out", str(tmp_path / "r"), "--only", "ACCESS-BACKUP-FILE-PERMISSIONS", "--fail-on", "critical"]) == 0
    out = capsys.readouterr().out
    run = json.load(open(os.path.join(report_folders(str(tmp_path / "r"))[0], "run.json")))
    failed = [f for f in run["findings"] if f["status"] == "fail"]
    assert failed and all(f["severity"] != "critical" for f in failed)
    assert f"exit 0: no violation at or above severity critical ({len(failed)} below it); nothing left unverified" in out
    assert "compliant" not in out


# -- concurrent runs into one --out ----------------------------------------------------------------


def test_concurrent_runs_into_one_out_each_get_their_own_complete_folder(tmp_path, plugin_path, local_inventory):
    """12 `auditor run` processes at once, same --out: 12 complete, distinct, verifying folders, 12 history rows.

    Every run waits at a gate (a collector of the test plug-in) until all 12 are
    waiting, so that they write their reports in the same second and compete
    for the same folder name.
    """
    n = 12
    inv = local_inventory("servers:\n  - {name: h, connection: local}\n")
    out = tmp_path / "reports"
    gate = tmp_path / "gate"
    env = dict(ENV, PYTHONPATH=plugin_path, AUDITOR_TEST_GATE=str(gate))
    procs = [
        subprocess.Popen(_auditor("run", inv, "--out", str(out), "--only", "TEST-GATE", "-q"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    try:
        _wait_until_waiting_at_the_gate(procs, gate)
        gate.write_text("open")
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, (p.returncode, stdout, stderr)
        assert "Traceback" not in stderr and "warning" not in stderr, stderr
    folders = report_folders(str(out))
    assert len(folders) == n and len(set(folders)) == n
    assert any("-" in os.path.basename(f) for f in folders), "the runs competed for a name (same second)"
    printed = sorted(line.split("report: ", 1)[1].rsplit("/report.html", 1)[0] for _, (stdout, _) in zip(procs, results) for line in stdout.splitlines() if line.startswith("report: "))
    assert printed == sorted(folders), "each run names its own folder"
    run_ids = set()
    for folder in folders:
        verify = subprocess.run(_auditor("verify", folder), env=env, capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        run = json.load(open(os.path.join(folder, "run.json")))
        assert run["complete"] is True
        run_ids.add(run["run_id"])
    assert len(run_ids) == n
    assert not [name for name in os.listdir(out) if name.startswith(".") and name != ".auditor.lock"], "no staging folder left behind"
    assert os.path.realpath(out / "latest") == os.path.realpath(folders[-1]), "latest is the newest folder"
    history = subprocess.run(_auditor("history", "--history", str(out / "history.sqlite"), "--json", "--limit", "50"), env=env, capture_output=True, text=True, timeout=120)
    assert history.returncode == 0, history.stderr
    assert {r["run_id"] for r in json.loads(history.stdout)["runs"]} == run_ids


def _wait_until_waiting_at_the_gate(procs, gate, timeout: float = 120) -> None:
    """Until each process has said, through the gate collector, that it waits."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, p.communicate()
        if all(os.path.exists(f"{gate}.waiting.{p.pid}") for p in procs):
            return
        time.sleep(0.1)
    raise AssertionError("the runs never all reached the gate")


# -- signals: a second Ctrl-C, SIGTERM -------------------------------------------------------------


@pytest.fixture
def ssh_inventory(tmp_path):
    """An inventory with one real sshd target (logged in as root with a key of the test)."""
    from sshd_server import make_key, start_sshd

    server = start_sshd(str(tmp_path / "sshd"))
    key = make_key(str(tmp_path), "id_ed25519")
    server.authorize(key)
    known = tmp_path / "known_hosts"
    known.write_text(server.known_hosts_line())
    inv = tmp_path / "ssh.yaml"
    inv.write_text(f"servers:\n  - {{name: box, host: 127.0.0.1, port: {server.port}, user: root, key_file: {key}, known_hosts: {known}}}\n")
    try:
        yield str(inv), server
    finally:
        server.stop()


def _remote_sleep(server, seconds: str = "60") -> list[int]:
    found = []
    for pid in server.session_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read() == f"sleep\0{seconds}\0".encode():
                    found.append(pid)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("signals, code, why", [
    (["SIGINT", "SIGINT"], 130, "Ctrl-C"),
    (["SIGINT", "SIGINT", "SIGINT"], 130, "Ctrl-C"),
    (["SIGTERM"], 143, "SIGTERM"),
    (["SIGTERM", "SIGTERM"], 143, "SIGTERM"),
    (["SIGTERM", "SIGINT"], 143, "SIGTERM"),
])
def test_signals_end_the_run_with_its_report_written(tmp_path, plugin_path, ssh_inventory, signals, code, why):
    """A second Ctrl-C shortly after the first, or SIGTERM (systemd stopping the unit), ends the run
    like the first Ctrl-C: report written and verifying, complete: false, a history row, 130 / 143."""
    import signal
    import time

    inv, server = ssh_inventory
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        _auditor("run", inv, "--out", str(out), "--only", "TEST-SLOW,TEST-GOOD"),
        env=dict(ENV, PYTHONPATH=plugin_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _remote_sleep(server) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        started = _remote_sleep(server)
        assert started, "the slow command never started on the server"
        for name in signals:
            proc.send_signal(getattr(signal, name))
            time.sleep(0.02)  # the next one lands while the first is being handled
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, (stdout, stderr)
    assert "Traceback" not in stderr, stderr
    assert f"exit {code}: the run was interrupted" in stdout
    (folder,) = report_folders(str(out))
    run = json.load(open(os.path.join(folder, "run.json")))
    assert run["complete"] is False
    assert any(f"the run was interrupted ({why})" in n for n in run["notices"])
    slow = [f for f in run["findings"] if f["control"] == "TEST-SLOW"]
    assert [(f["status"], f["reason"]) for f in slow] == [("error", "interrupted")]
    verify = subprocess.run(_auditor("verify", folder), env=ENV, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout
    history = subprocess.run(_auditor("history", "--history", str(out / "history.sqlite"), "--json"), env=ENV, capture_output=True, text=True, timeout=120)
    assert [r["run_id"] for r in json.loads(history.stdout)["runs"]] == [run["run_id"]]
    assert [r["complete"] for r in json.loads(history.stdout)["runs"]] == [False]
    deadline = time.monotonic() + 10  # followed by PID: a process whose session ended is no longer under sshd
    while any(_runs(pid, b"sleep\0" + b"60\0") for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_runs(pid, b"sleep\0" + b"60\0") for pid in started), "the command was left running on the server"


def _runs(pid: int, cmdline: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read() == cmdline
    except OSError:
        return False
