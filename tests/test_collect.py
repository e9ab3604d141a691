"""Context.run: evidence recorded, refusals classified."""

from __future__ import annotations

import pytest

from auditor.collect import command_error, sudo_refusal
from auditor.transports.base import CommandResult


def result(status, stderr):
    return CommandResult(argv=("sudo", "-n", "--", "cat", "/etc/shadow"), exit_status=status, stdout=b"", stderr=stderr.encode(), started_at="2026-01-01T00:00:00.000Z", duration_ms=1)


@pytest.mark.parametrize("stderr", [
    "sudo: a password is required",
    "sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper",
    "Sorry, user auditor is not allowed to execute '/usr/bin/cat /etc/shadow' as root on web1.\nsudo: sorry, user auditor is not allowed to execute",
    "auditor is not in the sudoers file.  This incident will be reported.\nsudo: auditor is not in the sudoers file",
])
def test_sudo_refusals_are_recognised(stderr):
    assert sudo_refusal(result(1, stderr))


@pytest.mark.parametrize("status, stderr", [(0, "sudo: a password is required"), (1, "cat: /etc/shadow: No such file or directory"), (1, "")])
def test_program_failures_are_not_sudo_refusals(status, stderr):
    assert sudo_refusal(result(status, stderr)) is None


def test_command_errors_are_classified():
    assert command_error(result(127, "env: 'nosuch': No such file or directory")).reason.value == "not_found"
    assert command_error(result(1, "cat: /etc/shadow: Permission denied")).reason.value == "permission_denied"
    assert command_error(result(2, "cat: invalid option")).reason.value == "command_failed"
