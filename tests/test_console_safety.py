"""What reaches the terminal: only auditor's own messages, with the target's strings made harmless.

* a silent SSH port (accepts, never sends a banner) gives our one-line error,
  not paramiko's log records and tracebacks;
* file names from a target (ANSI escape sequences, newlines) are printed
  escaped on the console, and stay well-formed in summary.md and junit.xml.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import pytest

from auditor.folders import report_folders

ENV = dict(os.environ, PYTHONUNBUFFERED="1")


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_ssh_port_gives_our_message_and_no_paramiko_traceback(tmp_path: Path, silent_port: int) -> None:
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"servers:\n  - {{name: silent, host: 127.0.0.1, port: {silent_port}, user: audit, key_file: {key}}}\n")
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "run", str(inv), "--out", str(out), "--only", "ACCESS-SHADOW-PERMISSIONS",
         "--connect-timeout", "2", "--trust-on-first-use", "--no-history", "--no-progress"],
        capture_output=True, text=True, timeout=120, env=ENV,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Exception (client)" not in proc.stderr, proc.stderr
    assert "paramiko" not in proc.stderr, proc.stderr
    assert "timed out waiting for the SSH banner" in proc.stdout, proc.stdout
    (folder,) = report_folders(str(out))
    doc = json.loads((Path(folder) / "run.json").read_text())
    (finding,) = doc["findings"]
    assert finding["status"] == "error" and finding["reason"] == "timeout"
    assert "timed out waiting for the SSH banner" in finding["message"]


HOSTILE_NAME = "evil\x1b[31mRED|cell\nFAKE: PASS all good\x1b[0m\r\x1b[2K.sql.gz"


def test_a_hostile_file_name_is_shown_escaped_on_the_console_and_harmless_in_markdown_and_junit(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    hostile = backups / HOSTILE_NAME
    hostile.write_text("x")
    os.chmod(hostile, 0o644)  # readable by everyone: the failure message names the file
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"servers:\n  - {{name: here, connection: local, country: SE, backup_paths: ['{backups}']}}\n")
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "run", str(inv), "--out", str(out), "--only", "ACCESS-BACKUP-FILE-PERMISSIONS", "--no-history"],
        capture_output=True, text=True, timeout=120, env=ENV,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    console = proc.stdout + proc.stderr
    for raw in ("\x1b", "\r", "\nFAKE"):
        assert raw not in console, repr(console)
    (line,) = [ln for ln in proc.stdout.splitlines() if "ACCESS-BACKUP-FILE-PERMISSIONS" in ln]
    assert "evil\\x1b[31mRED|cell\\nFAKE: PASS all good\\x1b[0m\\r\\x1b[2K.sql.gz (0644)" in line, line
    (folder,) = report_folders(str(out))
    # markdown: the name stays inside its list item / table cell (no new line, no bare pipe, no escape character)
    md = (Path(folder) / "summary.md").read_text(encoding="utf-8")
    assert "\x1b" not in md and "\r" not in md
    (item,) = [ln for ln in md.splitlines() if "ACCESS-BACKUP-FILE-PERMISSIONS on " in ln]  # the finding (the promises name --only too)
    assert "evil\\\\x1b\\[31mRED\\|cell FAKE: PASS all good" in item, item
    assert not any(ln.startswith("FAKE") for ln in md.splitlines())
    # JUnit: well-formed XML 1.0 without the characters it cannot carry; the name readable in the failure message
    raw_xml = (Path(folder) / "junit.xml").read_text(encoding="utf-8")
    assert "\x1b" not in raw_xml
    failure = ET.fromstring(raw_xml.split("\n", 1)[1]).find(".//failure")
    assert failure is not None and "evil\\x1b[31mRED|cell\nFAKE: PASS all good\\x1b[0m\r\\x1b[2K.sql.gz" in failure.get("message", "")


def test_progress_line_escapes_the_target_name() -> None:
    from io import StringIO

    from auditor.cli import Progress

    stream = StringIO()
    Progress(stream, enabled=True)(1, 2, "server:web\x1b]0;owned\x07\nx", {"pass": 3})
    shown = stream.getvalue()
    assert shown.startswith("\r\x1b[2K")  # our own line control, and no other
    assert "\x1b" not in shown[len("\r\x1b[2K"):] and "\x07" not in shown and "\n" not in shown
    assert "server:web\\x1b]0;owned\\x07\\nx" in shown
