"""The local transport: argv only, bounded in time and memory, stoppable."""

from __future__ import annotations

import os
import threading
import time

import pytest

from auditor.errors import CollectError
from auditor.transports.local import LocalConnection

HOSTILE = ["; rm -rf /", "$(touch {marker})", "`touch {marker}`", "a\nb", "'\"", "&& touch {marker}", "| touch {marker}", "*", "-n"]


def test_hostile_values_are_passed_as_literal_arguments(tmp_path):
    conn = LocalConnection()
    marker = tmp_path / "pwned"
    values = [v.format(marker=marker) for v in HOSTILE]
    result = conn.run(["printf", "%s\\0", *values], timeout=10)
    assert result.exit_status == 0
    assert result.stdout.split(b"\0")[:-1] == [v.encode() for v in values]
    assert not marker.exists()


@pytest.mark.parametrize("argv", ["echo hi", b"echo", [], ["echo", 3], ["echo", "a\x00b"]])
def test_anything_but_an_argv_list_is_refused(argv):
    with pytest.raises((TypeError, ValueError)):
        LocalConnection().run(argv, timeout=5)


def test_missing_program_is_not_found():
    with pytest.raises(CollectError) as exc:
        LocalConnection().run(["no-such-program-here"], timeout=5)
    assert exc.value.reason.value == "not_found"


def test_timeout_kills_the_command_and_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    t0 = time.monotonic()
    with pytest.raises(CollectError) as exc:
        LocalConnection().run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=1)
    assert exc.value.reason.value == "timeout"
    assert time.monotonic() - t0 < 10
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{child}") or open(f"/proc/{child}/stat").read().split()[2] == "Z"


def test_output_is_bounded_and_marked_truncated():
    result = LocalConnection().run(["yes"], timeout=20, max_output=100_000)
    assert result.truncated is True
    assert len(result.stdout) == 100_000


def test_close_stops_commands_in_flight():
    conn = LocalConnection()
    box = {}

    def work():
        try:
            conn.run(["sleep", "60"], timeout=120)
        except CollectError as exc:
            box["reason"] = exc.reason.value

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.5)
    conn.close()
    worker.join(10)
    assert not worker.is_alive()
    assert box["reason"] == "interrupted"
    with pytest.raises(CollectError):
        conn.run(["true"], timeout=5)


def test_input_reaches_stdin_and_is_not_in_argv():
    result = LocalConnection().run(["cat"], timeout=10, input=b"s3cret-passphrase\n")
    assert result.stdout == b"s3cret-passphrase\n"
    assert "s3cret" not in " ".join(result.argv)
