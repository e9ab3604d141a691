"""Test harness: real software for the tests to audit, and ways to reach it.

* :func:`ensure_packages` installs Debian packages (as root, with apt-get)
  when a program the tests need is missing; it fails loudly, never skips.
* :func:`sshd_binary` / :func:`host_key` give an installed OpenSSH server
  and a host key for ``sshd -T``.
* :class:`RunAsUser` is a shell connection that runs every argv as another
  (unprivileged) user through ``runuser``, so that "permission denied" is
  real even though the tests run as root. :class:`HiddenSbin` runs argv in a
  private mount namespace whose ``/usr/sbin`` is empty (or chrooted into an
  empty directory), so that "sshd is not installed" is real although it is.
* :func:`audit_through` runs the real runner's collect and evaluate steps
  over such a connection (``audit()`` in helpers.py can only open the
  transports the inventory names).
* :func:`world_dir` is a fixture: a directory other users can enter
  (pytest's tmp_path lives below a 0700 folder, which nobody can traverse).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from typing import Any, Iterable, Iterator, Sequence

import pytest

from auditor.inventory import load_inventory
from auditor.model import Fact, Finding
from auditor.policy import load_policy
from auditor.runner import RunOptions, Runner, make_plan
from auditor.transports import InventoryConnection, LocalConnection
from auditor.transports.base import DEFAULT_MAX_OUTPUT, CommandResult

from helpers import registry

SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "PATH": SBIN_PATH}

# Debian package providing each program the tests use.
PACKAGE_OF = {"sshd": "openssh-server", "ssh-keygen": "openssh-client", "openssl": "openssl", "runuser": "util-linux", "unshare": "util-linux", "find": "findutils"}

_apt_lock = threading.Lock()
_apt_updated = False


def which(program: str) -> str | None:
    return shutil.which(program, path=SBIN_PATH)


def _apt(*args: str) -> None:
    # Wait for another apt-get (a parallel suite, the benchmark, unattended upgrades) instead of failing.
    proc = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", *args], env=APT_ENV, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        pytest.fail(f"test harness: `apt-get {' '.join(args)}` failed with status {proc.returncode}:\n{tail}", pytrace=False)


def ensure_packages(*packages: str, programs: Iterable[str] = ()) -> None:
    """Install ``packages`` unless every program in ``programs`` is already on PATH.

    ``programs`` defaults to the package names themselves. Runs ``apt-get
    update`` once per test session. A failure fails the test (loudly): a
    skipped suite would hide regressions.
    """
    global _apt_updated
    wanted = list(programs) or list(packages)
    if all(which(p) for p in wanted):
        return
    if os.geteuid() != 0:
        pytest.fail(f"test harness: {', '.join(p for p in wanted if not which(p))} missing and not running as root to install {' '.join(packages)}", pytrace=False)
    if not which("apt-get"):
        pytest.fail(f"test harness: {', '.join(wanted)} missing and no apt-get to install {' '.join(packages)}", pytrace=False)
    with _apt_lock:
        if all(which(p) for p in wanted):
            return
        # Keep package scripts from starting daemons (e.g. a real sshd on port 22).
        policy_rc = "/usr/sbin/policy-rc.d"
        made_policy = not os.path.exists(policy_rc)
        if made_policy:
            with open(policy_rc, "w") as fh:
                fh.write("#!/bin/sh\n# written by the auditor test harness\nexit 101\n")
            os.chmod(policy_rc, 0o755)
        try:
            if not _apt_updated:
                _apt("update")
                _apt_updated = True
            _apt("install", "-y", "--no-install-recommends", *packages)
        finally:
            if made_policy:
                os.unlink(policy_rc)
    missing = [p for p in wanted if not which(p)]
    if missing:
        pytest.fail(f"test harness: installed {' '.join(packages)} but {', '.join(missing)} is still not on PATH", pytrace=False)


def ensure_programs(*programs: str) -> None:
    ensure_packages(*sorted({PACKAGE_OF[p] for p in programs}), programs=programs)


def sshd_binary() -> str:
    """Path of an installed sshd, installing openssh-server if needed; /run/sshd exists afterwards."""
    ensure_programs("sshd", "ssh-keygen")
    # sshd -T refuses to run without its privilege separation directory.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    path = which("sshd")
    assert path, "sshd still missing after installation"
    return path


def host_key(directory: str, kind: str = "ed25519") -> str:
    """Generate a host key (mode 0600) in ``directory`` and return its path."""
    ensure_programs("ssh-keygen")
    path = os.path.join(directory, f"ssh_host_{kind}_key")
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "auditor-test", "-f", path], check=True, capture_output=True, env=APT_ENV)
    return path


# -- connections made of real programs ----------------------------------------


class _Wrapped:
    """A shell connection that runs argv behind a fixed prefix, through LocalConnection."""

    transport = "local"
    prefix: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._local = LocalConnection()

    def run(self, argv: Sequence[str], *, timeout: float, sudo: bool = False, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        return self._local.run([*self.prefix, *argv], timeout=timeout, sudo=sudo, max_output=max_output)

    def close(self) -> None:
        pass


class RunAsUser(_Wrapped):
    """Run every command as ``user`` (default ``nobody``) with runuser(1)."""

    def __init__(self, user: str = "nobody") -> None:
        super().__init__()
        ensure_programs("runuser")
        self.prefix = ("runuser", "-u", user, "--")


class HiddenSbin(_Wrapped):
    """Run every command where sshd does not exist, for real.

    Preferred: a private mount namespace whose /usr/sbin (and so /sbin) is an
    empty tmpfs, the rest of the system intact. Where the kernel refuses
    namespaces (unprivileged containers), fall back to chroot(8) into the
    empty directory ``empty_root``: no program exists there at all.
    """

    NAMESPACE = ("unshare", "--mount", "--", "sh", "-c", 'mount -t tmpfs auditor-test /usr/sbin && exec "$0" "$@"')

    def __init__(self, empty_root: str, namespace: bool = True) -> None:
        super().__init__()
        probe = subprocess.run([*self.NAMESPACE, "true"], capture_output=True, text=True, check=False) if namespace and which("unshare") else None
        if probe is not None and probe.returncode == 0:
            self.prefix = self.NAMESPACE
            self.how = "mount namespace"
        else:
            if os.listdir(empty_root):
                raise ValueError(f"{empty_root} must be an empty directory")
            self.prefix = ("chroot", empty_root)
            self.how = "chroot" + (f" (unshare --mount failed: {probe.stderr.strip()})" if probe is not None else "")


def audit_through(inventory_path: str, conn: Any, policy: str = "baseline-eu", only: Sequence[str] = ()) -> tuple[dict[str, Fact], dict[tuple[str, str], Finding]]:
    """The real runner's collect + evaluate for every target, over ``conn`` for shell facts.

    Returns (fact id → fact, (control, target) → finding).
    """
    reg = registry()
    inv = load_inventory(inventory_path)
    runner = Runner(reg, inv, load_policy(policy, reg), RunOptions(only=tuple(only)))
    plans, _ = make_plan(reg, inv, runner.options)
    facts: dict[str, Fact] = {}
    findings: dict[tuple[str, str], Finding] = {}
    for plan in plans:
        got = {}
        for col in plan.collectors:
            via = conn if col.transport == "shell" else InventoryConnection()
            got[col.name] = runner.collect(plan.target, col, via)
            facts[got[col.name].id] = got[col.name]
        for ctl in plan.controls:
            findings[(ctl.id, plan.target.id)] = runner.evaluate(ctl, plan.target, got)
    return facts, findings


# -- fixtures ------------------------------------------------------------------


@pytest.fixture
def world_dir() -> Iterator[str]:
    """A fresh directory under /tmp with mode 0755 (enterable by every user)."""
    path = tempfile.mkdtemp(prefix="auditor-test-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd() -> str:
    return sshd_binary()
