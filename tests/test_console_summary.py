"""What `auditor run` prints after a run: one line per problem, most severe first.

Issue 14 item 7: an unreachable server printed one line per control (17),
each with its reason cut at 200 characters mid-word; failures came in the
order the controls ran; "... and N more" did not say more of what. Run for
real through ``python -m auditor run`` against a closed port and a real sshd.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from auditor.console import finding_lines

from sshd_server import free_port, make_key, sshd_factory  # noqa: F401 - fixture

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^  (FAIL|ERROR) +(\w+) +(\S+(?: controls)?) +(\S+): (.*)$")


def run_cli(tmp_path: Path, inventory: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "console", **inventory}))
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "auditor", "run", str(path), "--out", str(tmp_path / "reports"), "--no-history", *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)


def finding_rows(stdout: str) -> list[tuple[str, ...]]:
    return [m.groups() for m in map(LINE.match, stdout.splitlines()) if m]


def row(line: str) -> tuple[str, ...]:
    match = LINE.match(line)
    assert match, line
    return match.groups()


def test_an_unreachable_server_is_one_line_with_its_reason_in_full(tmp_path: Path) -> None:
    port = free_port()  # bound, then closed: nothing listens there
    done = run_cli(tmp_path, {"servers": [{"name": "gone", "host": "127.0.0.1", "port": port, "user": "audit"}]})
    assert done.returncode == 3, done.stdout + done.stderr
    rows = finding_rows(done.stdout)
    assert len(rows) == 1, done.stdout
    status, severity, control, target, message = rows[0]
    assert (status, severity, target) == ("ERROR", "critical", "server:gone")
    assert re.fullmatch(r"1[0-9] controls", control)
    assert message == f"Could not verify: cannot connect to 127.0.0.1:{port}: Connection refused"
    assert f"error {control.split()[0]} " in done.stdout  # every error of the run is on that line


def test_an_unknown_host_key_prints_its_whole_hint_once(tmp_path: Path, sshd_factory) -> None:  # noqa: F811 - fixture
    server = sshd_factory("unknown-key")
    key = make_key(str(tmp_path), "audit_key")
    known_hosts = tmp_path / ("a-known-hosts-file-with-a-long-name-" * 3 + "known_hosts")
    known_hosts.write_text("")
    done = run_cli(tmp_path, {"servers": [{"name": "new", "host": "127.0.0.1", "port": server.port, "user": "audit",
                                           "key_file": key, "known_hosts": str(known_hosts)}]})
    assert done.returncode == 3, done.stdout + done.stderr
    rows = finding_rows(done.stdout)
    assert len(rows) == 1, done.stdout
    message = rows[0][4]
    assert len(message) > 200
    assert message.startswith("Could not verify: host key of ")
    assert message.endswith(f"({known_hosts}), pin it with host_key:, or run with --trust-on-first-use"), message


def _finding(control: str, status: str, severity: str, message: str = "m", target: str = "server:a") -> dict[str, Any]:
    return {"control": control, "status": status, "severity": severity, "message": message, "target": target}


def test_failures_come_by_severity_then_control_before_errors() -> None:
    findings = [
        _finding("B-LOW", "fail", "low"), _finding("Z-HIGH", "fail", "high"), _finding("E-ERR", "error", "critical", "own reason"),
        _finding("A-HIGH", "fail", "high"), _finding("C-CRIT", "fail", "critical"), _finding("P-PASS", "pass", "critical"),
        _finding("A-MED", "fail", "medium", target="server:b"), _finding("A-MED", "fail", "medium", target="server:a"),
    ]
    assert [row(line)[:4] for line in finding_lines(findings)] == [
        ("FAIL", "critical", "C-CRIT", "server:a"), ("FAIL", "high", "A-HIGH", "server:a"), ("FAIL", "high", "Z-HIGH", "server:a"),
        ("FAIL", "medium", "A-MED", "server:a"), ("FAIL", "medium", "A-MED", "server:b"), ("FAIL", "low", "B-LOW", "server:a"),
        ("ERROR", "critical", "E-ERR", "server:a"),
    ]


def test_the_more_line_counts_what_it_leaves_out_per_status() -> None:
    findings = [_finding(f"F-{i:02}", "fail", "high") for i in range(4)]
    findings += [_finding(f"E-{i:02}", "error", "low", f"reason {i}") for i in range(3)]
    findings += [_finding(f"S-{i:02}", "error", "low", "shared", target="server:down") for i in range(5)]
    lines = finding_lines(findings, limit=3)
    assert len(lines) == 4
    # 1 failure, then 3 single errors and the 5 errors of server:down (one line) are left out
    assert lines[-1] == "  ... and 9 more in the report (fail 1, error 8)"


def test_a_long_failure_message_is_cut_at_a_word_never_inside_one() -> None:
    full = "sshd offers: " + " ".join(f"hmac-sha{i}-etm@openssh.com," for i in range(40))
    (line,) = finding_lines([_finding("ACCESS-SSH-CRYPTO", "fail", "medium", full)])
    message = row(line)[4]
    assert message.endswith(" …") and len(message) <= 202
    kept = message[:-2]
    assert full.startswith(kept) and full[len(kept)] in " ,"  # the cut falls between words
