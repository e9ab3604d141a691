"""A fleet of real OpenSSH servers on loopback, each seeing its own files.

Every host of the fleet is a real ``sshd -D`` listening on its own loopback
address (``127.0.X.Y:2222``), started with ``unshare --mount --propagation
private --pid --fork``: a **private mount namespace** and a **PID namespace**
whose PID 1 is the host's sshd. A small launcher, executed inside, bind-mounts
per-host copies over the files an audit reads, read-only::

    /etc/passwd /etc/group /etc/shadow /etc/gshadow   accounts, planted hashes and modes
    /etc/sudoers /etc/sudoers.d                       the audit user's rule, planted NOPASSWD: ALL
    /etc/ssh                                          sshd_config, host key, planted private keys
    /root                                             root's .ssh/authorized_keys
    /home                                             the audit user's home and authorized_keys
    /srv                                              /srv/backups: planted backup files, ages, modes
    /usr/bin/ss                                       a wrapper listing the host's own network namespace

mounts a /proc of the host's PID namespace, and ``os.execv``-s sshd.
Everything sshd starts (the session, the shell, ``sudo``, ``cat``, ``find``,
``sshd -T``) inherits the namespaces, so an audit over SSH reads *that
host's* files and processes while the machine has only one ``/etc``; the
host's listening sockets are real sockets in a network namespace of its own
(see ``HostSpec.listening``). Killing sshd, PID 1 of the host, ends every
process of the host; the mounts vanish with the last of them. Nothing is
written outside the fleet's temporary folder, except what installing
packages writes and ``/run/sshd`` (sshd insists on it).

The audit logs in as ``auditor``, a user that exists only in each host's
private ``/etc/passwd``, with a public key from the fleet's own key pair,
and reads root-only files through ``sudo -n -- PROGRAM ARGS`` (see
:func:`audit_sudoers` for the rules a host can give it).

Faults are real too: ``no-sudo`` has no sudo rule for the audit user;
``hang`` has a script that sleeps bind-mounted over ``/usr/sbin/sshd`` in
its namespace (sshd itself runs from a copy elsewhere, since it re-executes
itself by absolute path); ``cut`` has a slow script over ``find``, and the
fleet kills that host's sshd session processes while it runs (the
connection drops mid-command). An address where nothing listens, and a host
whose key is not the one in known_hosts, complete the picture.

Usable without pytest (``bench/fleet.py`` imports it)::

    >>> with Fleet(standard_fleet()) as fleet:          # doctest: +SKIP
    ...     fleet.inventory_path, fleet.address("good")
    ('/tmp/auditor-fleet-.../inventory.yaml', '127.0.143.1')

Under pytest, the ``fleet`` fixture at the bottom yields the standard fleet
for a module. ``python tests/fleet.py`` starts it and waits, for poking
around with ``ssh -F <folder>/ssh_config good cat /etc/shadow``.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

PORT = 2222
AUDIT_USER = "auditor"
AUDIT_UID = 4242
PLANTED_UID = 5000  # planted accounts get 5001, 5002...
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C", "PATH": SBIN_PATH}
START_SECONDS = 60.0
DAY = 86400

# Programs the fleet needs on this machine, and the Debian package of each.
PACKAGE_OF = {
    "sshd": "openssh-server", "ssh-keygen": "openssh-client", "ssh": "openssh-client",
    "sudo": "sudo", "unshare": "util-linux", "mount": "mount", "openssl": "openssl",
    "find": "findutils", "ss": "iproute2", "ip": "iproute2", "nsenter": "util-linux", "setcap": "libcap2-bin",
}

# Listening TCP sockets of an ordinary host (its own network namespace, see HostSpec.listening).
TYPICAL_LISTENERS = ("0.0.0.0:22", "0.0.0.0:443", "127.0.0.1:5432", "[::1]:6379")

# sshd settings: compliant with the baseline policy (and negotiable by paramiko,
# which speaks neither chacha20-poly1305 nor sntrup761).
HARDENED: dict[str, str] = {
    "PermitRootLogin": "no",
    "PasswordAuthentication": "no",
    "KbdInteractiveAuthentication": "no",
    "PermitEmptyPasswords": "no",
    "MaxAuthTries": "3",
    "Ciphers": "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr",
    "MACs": "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
    "KexAlgorithms": "curve25519-sha256,curve25519-sha256@libssh.org",
}
WEAK: dict[str, str] = {
    "PermitRootLogin": "yes",
    "PasswordAuthentication": "yes",
    "KbdInteractiveAuthentication": "yes",
    "PermitEmptyPasswords": "yes",
    "MaxAuthTries": "6",
    "Ciphers": "aes128-cbc,aes256-ctr,aes128-ctr",
    "MACs": "hmac-sha1,hmac-sha2-256",
    "KexAlgorithms": "diffie-hellman-group14-sha1,curve25519-sha256",
}


# -- what a host plants ----------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    name: str
    age_days: float
    mode: int = 0o600


@dataclass(frozen=True)
class HostSpec:
    """One host of the fleet and everything planted on it.

    ``accounts``: (name, scheme) with scheme one of yescrypt, sha512, md5,
    empty, locked (a locked md5-crypt hash), none (``*``).
    ``audit_sudo``: ``programs`` (the read programs with any arguments,
    NOEXEC: :data:`PROGRAMS_RULE`), ``exact`` (``sudoers_text``: what
    ``auditor sudoers`` prints), ``none`` (no rule at all) or ``all``
    (NOPASSWD: ALL, for ansible's become in the benchmark). ``root_login``:
    root may log in with the fleet's client key (``Match User root``, so
    ``sshd -T`` and root's own authorized_keys stay as planted). ``fault``: None, ``hang`` (``hang_tool`` sleeps
    forever) or ``cut`` (``cut_tool`` is slow and the fleet kills the
    session while it runs). ``listen=False``: nothing listens at the
    address. ``wrong_host_key``: known_hosts holds another key for it.
    ``inventory``: extra inventory keys (e.g. ``timeout``, ``key_paths``).
    ``login_defs``/``pam``: the host's own /etc/login.defs and /etc/pam.d
    files (a copy of this machine's /etc/pam.d with these changed, so that
    sudo's own PAM stack still works), e.g. a RHEL layout on this Debian.
    ``listening``: the TCP sockets the host listens on, as ``ADDRESS:PORT``.
    They are real sockets, held by a small process (in the host's PID
    namespace) in a network namespace of the host's own, and the host's
    ``ss`` (a wrapper bind-mounted over /usr/bin/ss) lists that namespace:
    what ``ss -tlnp`` shows is the host's, not the machine's (sshd itself
    listens in the machine's namespace, on loopback, so that the auditor can
    reach it). ``None``: no network namespace; ``ss`` lists this machine's
    sockets, the other hosts' sshds included.
    """

    name: str
    country: str = "SE"
    sshd: Mapping[str, str] = field(default_factory=lambda: dict(HARDENED))
    accounts: tuple[tuple[str, str], ...] = (("alice", "yescrypt"), ("bob", "sha512"))
    shadow_mode: int = 0o640
    gshadow_mode: int = 0o640
    host_key_mode: int = 0o600
    stray_keys: tuple[tuple[str, int], ...] = ()  # extra private keys in /etc/ssh: (name, mode)
    backups_dir_mode: int = 0o700
    backups: tuple[Backup, ...] = (Backup("db-daily.tar.gz", 0.5), Backup("db-weekly.tar.gz", 6), Backup("db-monthly.tar.gz", 27))
    root_keys: tuple[str, ...] = ("admin",)  # names from Fleet.KEYRING in /root/.ssh/authorized_keys
    sudoers_nopasswd_all: bool = False
    audit_sudo: str = "exact"
    sudoers_text: str | None = None  # the audit account's drop-in when audit_sudo is "exact"
    root_login: bool = False  # root may log in with the client key (a Match block: sshd -T still shows the global settings)
    fault: str | None = None
    hang_tool: str = "/usr/sbin/sshd"
    cut_tool: str = "/usr/bin/find"
    listen: bool = True
    wrong_host_key: bool = False
    inventory: Mapping[str, Any] = field(default_factory=dict)
    listening: tuple[str, ...] | None = TYPICAL_LISTENERS
    login_defs: str | None = None  # the host's /etc/login.defs (None: this machine's own)
    pam: Mapping[str, str | None] | None = None  # files of the host's /etc/pam.d, over a copy of this machine's (None: remove; pam=None: the machine's own)


DEBIAN_MD5_COMMON_PASSWORD = """\
# /etc/pam.d/common-password (planted: md5)
password\t[success=1 default=ignore]\tpam_unix.so obscure md5
password\trequisite\t\t\tpam_deny.so
password\trequired\t\t\tpam_permit.so
"""
RHEL_LOGIN_DEFS = "# RHEL 9 /etc/login.defs (excerpt)\nUMASK 022\nENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 5000\n"
RHEL_AUTH = """\
# Generated by authselect
auth        required                                     pam_env.so
auth        sufficient                                   pam_unix.so nullok
password    requisite                                    pam_pwquality.so local_users_only
password    sufficient                                   pam_unix.so sha512 shadow nullok use_authtok
password    required                                     pam_deny.so
"""
RHEL_PAM: Mapping[str, str | None] = {
    "passwd": "#%PAM-1.0\nauth       include\tsystem-auth\npassword   substack\tsystem-auth\n-password   optional\tpam_gnome_keyring.so use_authtok\npassword   substack\tpostlogin\n",
    "system-auth": RHEL_AUTH, "password-auth": RHEL_AUTH, "postlogin": "# Generated by authselect\nsession optional pam_umask.so silent\n",
    "other": "#%PAM-1.0\nauth     required       pam_deny.so\naccount  required       pam_deny.so\npassword required       pam_deny.so\nsession  required       pam_deny.so\n",
    "common-password": None,  # not on RHEL; libpam reads "other" beside sudo's own file, so other must not include it
}


def standard_fleet() -> list[HostSpec]:
    """The fleet the tests audit: compliant, violating, unreachable and faulty hosts."""
    return [
        HostSpec("good"),
        HostSpec("weak-ssh", sshd=dict(WEAK)),
        HostSpec(
            "weak-hashes",
            accounts=(("alice", "yescrypt"), ("carol", "md5"), ("dave", "empty"), ("erin", "locked"), ("frank", "sha512")),
            inventory={"key_paths": []},  # no key paths declared: the key control is skipped
            pam={"common-password": DEBIAN_MD5_COMMON_PASSWORD},  # Debian layout: the next password gets md5-crypt
        ),
        HostSpec(
            "leaky-files",
            shadow_mode=0o644,
            stray_keys=(("ssh_host_legacy_rsa_key", 0o644),),
            backups_dir_mode=0o755,
            backups=(Backup("site.sql.gz", 1, 0o644), Backup("site-old.sql.gz", 8, 0o600)),
        ),
        HostSpec("stale-backups", backups=(Backup("db-2024.tar.gz", 40), Backup("db-last.tar.gz", 9)),
                 login_defs=RHEL_LOGIN_DEFS, pam=RHEL_PAM),  # a RHEL layout (authselect), compliant
        HostSpec(
            "lax-access", country="US", root_keys=("admin", "intruder"), sudoers_nopasswd_all=True, backups=(),
            listening=(*TYPICAL_LISTENERS, "0.0.0.0:3306", "[::]:9200"),  # MySQL and Elasticsearch open to the world
        ),
        HostSpec("impostor", wrong_host_key=True),
        HostSpec("gone", listen=False),
        HostSpec("no-sudo", audit_sudo="none"),
        HostSpec("hang", fault="hang", inventory={"timeout": 3}),
        HostSpec("cut", fault="cut"),
    ]


def bench_spec(name: str) -> HostSpec:
    """A host for the benchmark: compliant, with NOPASSWD: ALL so ansible can become root.

    It listens on port 22 only, in its own network namespace: without one,
    its ``ss -tlnp`` would list every sshd of the fleet (and walk their
    processes), a cost growing with the fleet that no real server has.
    """
    return HostSpec(name, audit_sudo="all", listening=("0.0.0.0:22",))


# -- the audit user's sudo rule -------------------------------------------------------

# (a) of issue 11: the way monitoring and backup accounts are usually set up: the read
# programs themselves, with any arguments, NOEXEC (none may start another program), and
# the backup passphrase kept. No env, no shell: the transport runs `sudo -n -- PROGRAM ARGS`.
PROGRAMS_RULE = f"""Defaults:{AUDIT_USER} env_keep += "BORG_PASSPHRASE"
{AUDIT_USER} ALL=(root) NOPASSWD:NOEXEC: /usr/bin/cat, /usr/bin/head, /usr/bin/find, /usr/bin/stat, /usr/bin/ls, /usr/bin/getent, \\
    /usr/sbin/sshd -T, /usr/bin/borg list *, /usr/bin/borg info *
"""


def audit_sudoers(spec: "HostSpec") -> str | None:
    """The audit account's sudoers drop-in on a host, by ``spec.audit_sudo``."""
    if spec.audit_sudo == "programs":
        return "# (a) read programs with any arguments, NOEXEC (tests/fleet.py PROGRAMS_RULE)\n" + PROGRAMS_RULE
    if spec.audit_sudo == "exact":
        if not spec.sudoers_text:
            raise ValueError(f"{spec.name}: audit_sudo exact needs sudoers_text (the output of `auditor sudoers`)")
        return spec.sudoers_text
    if spec.audit_sudo == "all":
        return f"# benchmark hosts: ansible's become needs a shell as root\n{AUDIT_USER} ALL=(root) NOPASSWD: ALL\n"
    if spec.audit_sudo == "none":
        return None
    raise ValueError(f"{spec.name}: audit_sudo must be programs, exact, all or none")


# -- installing what is missing -------------------------------------------------------


def which(program: str) -> str | None:
    return shutil.which(program, path=SBIN_PATH)


def ensure_programs(*programs: str) -> None:
    """Install the Debian packages of ``programs`` that are missing (apt-get, as root).

    Under pytest this is :func:`harness.ensure_packages` (a failure fails the
    test, loudly); without pytest (the benchmark) the same apt-get calls,
    raising RuntimeError.
    """
    missing = [p for p in programs if not which(p)]
    if not missing:
        return
    packages = sorted({PACKAGE_OF[p] for p in missing})
    if "pytest" in sys.modules:  # under the test suite
        from harness import ensure_packages  # the suite's installer: one apt-get update per session

        ensure_packages(*packages, programs=missing)
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"{', '.join(missing)} missing; run as root to install {' '.join(packages)}")
    apt_env = {**ENV, "DEBIAN_FRONTEND": "noninteractive"}
    policy_rc = "/usr/sbin/policy-rc.d"  # keep package scripts from starting daemons
    made = not os.path.exists(policy_rc)
    if made:
        with open(policy_rc, "w", encoding="utf-8") as fh:
            fh.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy_rc, 0o755)
    try:
        for args in (["update"], ["install", "-y", "--no-install-recommends", *packages]):
            proc = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", *args], env=apt_env, capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"apt-get {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
    finally:
        if made:
            os.unlink(policy_rc)
    still = [p for p in programs if not which(p)]
    if still:
        raise RuntimeError(f"installed {' '.join(packages)} but {', '.join(still)} still missing")


# -- the launcher, run inside each host's mount namespace ---------------------------------

LAUNCHER = '''\
"""Inside the host's fresh mount and PID namespaces (as their PID 1): make the host, then become sshd.

1. with "listening": start the socket holder in a network namespace of its own (first: python
   lives under /root here, which the host's /root hides once mounted);
2. bind-mount the host's files over the system's (read-only);
3. mount a /proc of the host's own PID namespace (ps, ss -p, sudo see only the host's processes),
   and bind the holder's network namespace to a file, which the host's ss wrapper enters;
4. exec sshd, which stays PID 1: killing it ends every process of the host.
"""
import json, os, subprocess, sys, time

with open(sys.argv[1], encoding="utf-8") as fh:
    plan = json.load(fh)
holder = None
if plan.get("holder"):
    with open(plan["holder"]["log"], "wb") as log:
        holder = subprocess.Popen(["unshare", "--net", "--", *plan["holder"]["argv"]], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(plan["holder"]["ready"]):
        if holder.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"socket holder failed (status {holder.poll()}); see {plan['holder']['log']}")
        time.sleep(0.01)
for source, target, options in plan["mounts"]:
    subprocess.run(["mount", "--bind", "-o", options, source, target], check=True)
subprocess.run(["mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", "/proc"], check=True)
if holder is not None:
    subprocess.run(["mount", "--bind", f"/proc/{holder.pid}/ns/net", plan["holder"]["netns"]], check=True)
os.execv(plan["argv"][0], plan["argv"])
'''

HOLDER = '''\
"""In a fresh network namespace: bring lo up, listen on the given ADDRESS:PORTs, wait to be killed."""
import signal, socket, subprocess, sys

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
held = []
for spec in sys.argv[2:]:
    address, _, port = spec.rpartition(":")
    family = socket.AF_INET6 if address.startswith("[") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address.strip("[]"), int(port)))
    sock.listen(16)
    held.append(sock)
open(sys.argv[1], "w").close()
signal.pause()
'''

SS_WRAPPER = "#!/bin/sh\n# fleet: this host's sockets live in its own network namespace\nexec {nsenter} --net={netns} -- {ss} \"$@\"\n"
# The faults start no other program (the audit account's sudo rules are NOEXEC): bash builtins only.
HANG_SCRIPT = "#!/bin/bash\n# fleet fault: this tool never answers (and prints nothing)\nwhile :; do read -r -t 1 _ <> {fifo}; done\n"
CUT_SCRIPT = ("#!/bin/bash\n# fleet fault: a long listing that prints as it goes; the fleet cuts the connection meanwhile\n"
              ": > {marker}\nwhile :; do echo \"d 0755 root root 4096 0 /srv/x\" || exit 141; read -r -t 0.2 _ <> {fifo}; done\n")


@dataclass
class Host:
    spec: HostSpec
    address: str
    port: int
    directory: str
    host_key_line: str = ""  # "ssh-ed25519 AAAA..." of the key sshd serves
    known_key_line: str = ""  # what known_hosts says for it
    process: subprocess.Popen[bytes] | None = None  # unshare
    init_pid: int | None = None  # sshd, PID 1 of the host's PID namespace
    mnt_ns: int | None = None  # inode of its mount namespace

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, "sshd.log")

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""


class Fleet:
    """Start a fleet of hosts from specs; a context manager that tears everything down."""

    KEYRING = ("admin", "intruder")  # public keys planted in root's authorized_keys

    def __init__(self, specs: Sequence[HostSpec], *, port: int = PORT, prefix: str = "auditor-fleet-"):
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"host names must be unique: {names}")
        self.specs = list(specs)
        self.port = port
        self.root = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.root, 0o755)
        self.hosts: dict[str, Host] = {}
        self._stop = threading.Event()
        self._watchers: list[threading.Thread] = []
        self.cuts: dict[str, list[int]] = {}  # host -> session pids killed
        self._closed = False
        atexit.register(self.close)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- public ------------------------------------------------------------------

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def inventory_path(self) -> str:
        return os.path.join(self.root, "inventory.yaml")

    @property
    def known_hosts_path(self) -> str:
        return os.path.join(self.root, "known_hosts")

    @property
    def client_key(self) -> str:
        return os.path.join(self.root, "client", "id_ed25519")

    def address(self, name: str) -> str:
        return self.hosts[name].address

    def fingerprint(self, key_name: str) -> str:
        return self._fingerprints[key_name]

    def ssh_argv(self, name: str, *command: str) -> list[str]:
        """The system ssh client's argv to run ``command`` on host ``name`` (for debugging)."""
        host = self.hosts[name]
        return ["ssh", "-F", "/dev/null", "-i", self.client_key, "-o", f"UserKnownHostsFile={self.known_hosts_path}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-p", str(host.port), f"{AUDIT_USER}@{host.address}", *command]

    def namespace_pids(self, name: str) -> list[int]:
        host = self.hosts[name]
        return [pid for pid, ns in _mount_namespaces().items() if ns == host.mnt_ns]

    def session_pids(self, name: str) -> list[int]:
        """sshd processes serving connections of host ``name`` (everything sshd but the listener)."""
        host = self.hosts[name]
        return [pid for pid in self.namespace_pids(name) if pid != host.init_pid and _comm(pid) == "sshd"]

    def kill_sessions(self, name: str) -> list[int]:
        pids = self.session_pids(name)
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        return pids

    def close(self) -> None:
        """Kill every process of every host's namespace, then remove the folder."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for t in self._watchers:
            t.join(2)
        namespaces = {h.mnt_ns for h in self.hosts.values() if h.mnt_ns is not None}
        listeners = [h.process for h in self.hosts.values() if h.process is not None]
        for h in self.hosts.values():  # the init of a PID namespace takes every process in it along
            if h.init_pid is not None:
                _signal(h.init_pid, signal.SIGKILL)
        for proc in listeners:  # unshare exits when its child does (and kills it if it dies first)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        deadline = time.monotonic() + 10
        while namespaces and time.monotonic() < deadline:
            left = [pid for pid, ns in _mount_namespaces().items() if ns in namespaces]
            if not left:
                break
            for pid in left:
                _signal(pid, signal.SIGKILL)
            time.sleep(0.05)
        for proc in listeners:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if not os.environ.get("AUDITOR_FLEET_KEEP"):  # set it to keep the hosts' logs for a post-mortem
            shutil.rmtree(self.root, ignore_errors=True)
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001
            pass

    # -- building ----------------------------------------------------------------

    def _start(self) -> None:
        ensure_programs("sshd", "ssh-keygen", "sudo", "unshare", "mount", "openssl", "find", "ss", "ip", "nsenter", "setcap")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.sshd = which("sshd")
        if not self.sshd:
            raise RuntimeError("sshd is missing after installation")
        for name, text in (("launcher.py", LAUNCHER), ("holder.py", HOLDER)):
            with open(os.path.join(self.root, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        # sshd re-executes itself by absolute path; faults may mount over /usr/sbin/sshd.
        os.makedirs(os.path.join(self.root, "bin"))
        self.sshd_copy = os.path.join(self.root, "bin", "sshd")
        shutil.copy2(self.sshd, self.sshd_copy)
        self.ss_copy = os.path.join(self.root, "bin", "ss")  # the real ss, for wrappers mounted over /usr/bin/ss
        shutil.copy2(which("ss") or "/usr/bin/ss", self.ss_copy)
        # ss needs no root, so the audit runs it without sudo; entering the host's network namespace
        # does. A copy of nsenter with CAP_SYS_ADMIN (file capability, dropped when it runs ss) lets
        # the host's ss wrapper do it for any user, as a real host's ss would just work.
        self.nsenter_copy = os.path.join(self.root, "bin", "nsenter")
        shutil.copy2(which("nsenter") or "/usr/bin/nsenter", self.nsenter_copy)
        subprocess.run(["setcap", "cap_sys_admin+ep", self.nsenter_copy], check=True, capture_output=True, env=ENV)
        self._keys()
        self._hashes = {scheme: _hash(scheme) for scheme in ("yescrypt", "sha512", "md5")}
        self._system = _system_accounts()
        addresses = _free_addresses(len(self.specs), self.port)
        for spec, address in zip(self.specs, addresses):
            directory = os.path.join(self.root, "hosts", spec.name)
            self.hosts[spec.name] = Host(spec, address, self.port, directory)
        self._write_inventory()  # first: the exact sudoers drop-in is printed from it
        for host in self.hosts.values():
            self._build(host)
        self._write_known_hosts()
        self._write_ssh_config()
        for host in self.hosts.values():
            if host.spec.listen:
                self._launch(host)
        self._wait_listening()
        for host in self.hosts.values():
            if host.spec.fault == "cut":
                self._arm_cut(host)

    def _keys(self) -> None:
        client = os.path.join(self.root, "client")
        os.makedirs(client, mode=0o700)
        _keygen(self.client_key, "auditor-fleet-client")
        self._public: dict[str, str] = {}
        self._fingerprints: dict[str, str] = {}
        for name in self.KEYRING:
            path = os.path.join(self.root, "client", name)
            _keygen(path, f"{name}@fleet")
            self._public[name] = _read(path + ".pub").strip()
            self._fingerprints[name] = _fingerprint(path + ".pub")
        self.client_public = _read(self.client_key + ".pub").strip()

    def _build(self, host: Host) -> None:
        spec, d = host.spec, host.directory
        etc, ssh_dir = os.path.join(d, "etc"), os.path.join(d, "etc", "ssh")
        for sub in ("etc/ssh", "etc/sudoers.d", "root/.ssh", f"home/{AUDIT_USER}/.ssh", "srv/backups", "fault"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(d, 0o755)

        # accounts: the machine's system accounts (sshd's privilege separation user
        # among them), the audit user, planted accounts with their password schemes
        planted = [(name, scheme, PLANTED_UID + i + 1) for i, (name, scheme) in enumerate(spec.accounts)]
        passwd = list(self._system["passwd"]) + [f"{AUDIT_USER}:x:{AUDIT_UID}:{AUDIT_UID}:Compliance audit:/home/{AUDIT_USER}:/bin/sh"]
        passwd += [f"{n}:x:{uid}:{uid}:planted:/nonexistent:/usr/sbin/nologin" for n, _, uid in planted]
        group = list(self._system["group"]) + [f"{AUDIT_USER}:x:{AUDIT_UID}:"] + [f"{n}:x:{uid}:" for n, _, uid in planted]
        # "*" is no password but not locked: sshd (UsePAM no) refuses "!"-locked accounts even with a key
        shadow = [f"{n}:*:20000:0:99999:7:::" for n in self._system["users"]] + [f"{AUDIT_USER}:*:20000:0:99999:7:::"]
        shadow += [f"{n}:{self._shadow_field(scheme)}:20000:0:99999:7:::" for n, scheme, _ in planted]
        gshadow = [f"{n}:*::" for n in self._system["groups"]] + [f"{AUDIT_USER}:!::"] + [f"{n}:!::" for n, _, _ in planted]
        shadow_gid = self._system["gid"].get("shadow", 0)
        _put(os.path.join(etc, "passwd"), "\n".join(passwd) + "\n", 0o644)
        _put(os.path.join(etc, "group"), "\n".join(group) + "\n", 0o644)
        _put(os.path.join(etc, "shadow"), "\n".join(shadow) + "\n", spec.shadow_mode, gid=shadow_gid)
        _put(os.path.join(etc, "gshadow"), "\n".join(gshadow) + "\n", spec.gshadow_mode, gid=shadow_gid)

        # sudo
        sudoers = f'Defaults env_reset\nDefaults secure_path="{SBIN_PATH}"\nroot ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n'
        _put(os.path.join(etc, "sudoers"), sudoers, 0o440)
        rule = audit_sudoers(spec) if spec.audit_sudo != "exact" or spec.sudoers_text else self._printed_sudoers()
        if rule is not None:
            _put(os.path.join(etc, "sudoers.d", "auditor"), rule, 0o440)
        if spec.sudoers_nopasswd_all:
            _put(os.path.join(etc, "sudoers.d", "90-admins"), "# planted: every admin is root without a password\n%sudo ALL=(ALL:ALL) NOPASSWD: ALL\n", 0o440)
        os.chmod(os.path.join(etc, "sudoers.d"), 0o755)

        # sshd: config and host key; planted private keys
        key = os.path.join(ssh_dir, "ssh_host_ed25519_key")
        _keygen(key, f"{spec.name}-host")
        os.chmod(key, spec.host_key_mode)
        host.host_key_line = " ".join(_read(key + ".pub").split()[:2])
        if spec.wrong_host_key:
            other = os.path.join(d, "fault", "other_host_key")
            _keygen(other, "not-this-host")
            host.known_key_line = " ".join(_read(other + ".pub").split()[:2])
        else:
            host.known_key_line = host.host_key_line
        for name, mode in spec.stray_keys:
            _keygen(os.path.join(ssh_dir, name), f"{spec.name}-stray")
            os.chmod(os.path.join(ssh_dir, name), mode)
        options = "".join(f"{k} {v}\n" for k, v in spec.sshd.items())
        _put(os.path.join(ssh_dir, "sshd_config"), textwrap.dedent(f"""\
            # fleet host {spec.name}
            ListenAddress {host.address}:{host.port}
            HostKey /etc/ssh/ssh_host_ed25519_key
            PidFile {os.path.join(d, 'sshd.pid')}
            AuthorizedKeysFile .ssh/authorized_keys
            PubkeyAuthentication yes
            UsePAM no
            UseDNS no
            MaxStartups 200:30:400
            MaxSessions 20
            """) + options + self._root_login(spec, ssh_dir), 0o644)
        os.chmod(ssh_dir, 0o755)

        # root's authorized keys; the audit user's home
        _put(os.path.join(d, "root", ".ssh", "authorized_keys"), "".join(self._public[k] + "\n" for k in spec.root_keys), 0o600)
        os.chmod(os.path.join(d, "root", ".ssh"), 0o700)
        os.chmod(os.path.join(d, "root"), 0o700)
        home = os.path.join(d, "home", AUDIT_USER)
        _put(os.path.join(home, ".ssh", "authorized_keys"), self.client_public + "\n", 0o600, uid=AUDIT_UID, gid=AUDIT_UID)
        for path, mode in ((os.path.join(home, ".ssh"), 0o700), (home, 0o755)):
            os.chown(path, AUDIT_UID, AUDIT_UID)
            os.chmod(path, mode)
        os.chmod(os.path.join(d, "home"), 0o755)

        # backups
        backups = os.path.join(d, "srv", "backups")
        now = time.time()
        for b in spec.backups:
            path = os.path.join(backups, b.name)
            _put(path, f"backup {b.name} of {spec.name}\n", b.mode)
            os.utime(path, (now - b.age_days * DAY, now - b.age_days * DAY))
        os.chmod(backups, spec.backups_dir_mode)
        os.chmod(os.path.join(d, "srv"), 0o755)

        # how new passwords are hashed: login.defs, and PAM over a copy of this machine's /etc/pam.d
        own = ["passwd", "group", "shadow", "gshadow", "sudoers", "sudoers.d", "ssh"]
        if spec.login_defs is not None:
            _put(os.path.join(etc, "login.defs"), spec.login_defs, 0o644)
            own.append("login.defs")
        if spec.pam is not None:
            pam_dir = os.path.join(etc, "pam.d")
            shutil.copytree("/etc/pam.d", pam_dir, symlinks=False)
            for name, text in spec.pam.items():
                if text is None:
                    os.unlink(os.path.join(pam_dir, name))
                else:
                    _put(os.path.join(pam_dir, name), text, 0o644)
            os.chmod(pam_dir, 0o755)
            own.append("pam.d")

        # faults and the mount plan
        mounts = [(os.path.join(etc, n), f"/etc/{n}", "ro") for n in own] + [
            (os.path.join(d, "root"), "/root", "ro"), (os.path.join(d, "home"), "/home", "ro"), (os.path.join(d, "srv"), "/srv", "ro")]
        if spec.fault == "hang":
            script = _put(os.path.join(d, "fault", "hang"), HANG_SCRIPT.format(fifo=self._fifo(d)), 0o755)
            mounts.append((script, spec.hang_tool, "ro"))
        elif spec.fault == "cut":
            script = _put(os.path.join(d, "fault", "cut"), CUT_SCRIPT.format(marker=os.path.join(d, "fault", "cut-started"), fifo=self._fifo(d)), 0o755)
            mounts.append((script, spec.cut_tool, "ro"))
        elif spec.fault is not None:
            raise ValueError(f"{spec.name}: unknown fault {spec.fault!r}")
        holder = None
        if spec.listening is not None:
            netns = _put(os.path.join(d, "fault", "netns"), "", 0o644)  # mount point of the host's network namespace
            wrapper = _put(os.path.join(d, "fault", "ss"), SS_WRAPPER.format(nsenter=self.nsenter_copy, netns=netns, ss=self.ss_copy), 0o755)
            mounts.append((wrapper, which("ss") or "/usr/bin/ss", "ro"))
            holder = {
                "argv": [sys.executable, "-I", "-S", os.path.join(self.root, "holder.py"), os.path.join(d, "listening"), *spec.listening],
                "ready": os.path.join(d, "listening"), "netns": netns, "log": os.path.join(d, "holder.log"),
            }
        with open(os.path.join(d, "plan.json"), "w", encoding="utf-8") as fh:
            json.dump({"mounts": mounts, "holder": holder, "argv": [self.sshd_copy, "-D", "-e", "-f", "/etc/ssh/sshd_config"]}, fh, indent=1)

    def _printed_sudoers(self) -> str:
        """What `auditor sudoers` prints for this fleet's inventory (made once): the exact rules, (b) of issue 11."""
        if getattr(self, "_sudoers_text", None) is None:
            repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            proc = subprocess.run([sys.executable, "-m", "auditor", "sudoers", self.inventory_path], capture_output=True, text=True, cwd=repo, env={**ENV, "PYTHONPATH": repo}, timeout=120, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"auditor sudoers failed ({proc.returncode}): {proc.stderr[-2000:]}")
            self._sudoers_text = proc.stdout
        return self._sudoers_text

    @staticmethod
    def _fifo(directory: str) -> str:
        """A FIFO nobody writes to: a bash builtin `read -t` on it waits without starting a program."""
        path = os.path.join(directory, "fault", "never")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            os.mkfifo(path, 0o666)
        return path

    def _root_login(self, spec: HostSpec, ssh_dir: str) -> str:
        """sshd_config lines letting root log in with the client key, without changing what an audit judges."""
        if not spec.root_login:
            return ""
        _put(os.path.join(ssh_dir, "fleet_root_access"), self.client_public + "\n", 0o644)
        return "Match User root\n    PermitRootLogin prohibit-password\n    AuthorizedKeysFile /etc/ssh/fleet_root_access\n"

    def _shadow_field(self, scheme: str) -> str:
        if scheme in self._hashes:
            return self._hashes[scheme]
        return {"empty": "", "locked": "!" + self._hashes["md5"], "none": "*"}[scheme]

    def _write_known_hosts(self) -> None:
        lines = [f"[{h.address}]:{h.port} {h.known_key_line}\n" for h in self.hosts.values()]
        _put(self.known_hosts_path, "".join(lines), 0o644)

    def _write_inventory(self) -> None:
        import yaml  # only here: the launcher path stays stdlib-only

        servers = []
        for h in self.hosts.values():
            entry: dict[str, Any] = {
                "name": h.name,
                "host": h.address,
                "country": h.spec.country,
                "backup_paths": ["/srv/backups"],
                "key_paths": ["/etc/ssh"],
                "authorized_root_keys": [self._fingerprints["admin"]],
            }
            entry.update(h.spec.inventory)
            if entry.get("key_paths") == []:
                del entry["key_paths"]
            servers.append(entry)
        doc = {
            "version": 1,
            "name": "fleet",
            "description": "real sshd hosts on loopback, each in its own mount namespace (tests/fleet.py)",
            "defaults": {"port": self.port, "user": AUDIT_USER, "key_file": self.client_key, "known_hosts": self.known_hosts_path, "sudo": True},
            "servers": servers,
        }
        with open(self.inventory_path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(doc, fh, sort_keys=False)

    def _write_ssh_config(self) -> None:
        blocks = [
            f"Host {h.name}\n  HostName {h.address}\n  Port {h.port}\n  User {AUDIT_USER}\n  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts_path}\n  StrictHostKeyChecking yes\n  BatchMode yes\n"
            for h in self.hosts.values()
        ]
        _put(os.path.join(self.root, "ssh_config"), "\n".join(blocks), 0o644)

    def _launch(self, host: Host) -> None:
        log = open(host.log_path, "wb")  # noqa: SIM115 - sshd keeps it
        try:
            host.process = subprocess.Popen(  # noqa: S603 - argv list
                # a mount namespace for the host's files; a PID namespace whose init is
                # sshd, so that killing sshd ends every process of the host (nothing leaks);
                # --kill-child: sshd dies with unshare, which dies with this process (_die_with_parent)
                ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--", sys.executable, "-I", "-S", os.path.join(self.root, "launcher.py"), os.path.join(host.directory, "plan.json")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=ENV, start_new_session=True, preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    def _wait_listening(self) -> None:
        waiting = {h.name: h for h in self.hosts.values() if h.process is not None}
        deadline = time.monotonic() + START_SECONDS
        while waiting and time.monotonic() < deadline:
            for name, host in list(waiting.items()):
                if host.process is not None and host.process.poll() is not None:
                    holder_log = os.path.join(host.directory, "holder.log")
                    extra = f"\nsocket holder log:\n{_read(holder_log)[-2000:]}" if os.path.exists(holder_log) else ""
                    raise RuntimeError(f"fleet host {name}: sshd exited with status {host.process.returncode}; its log:\n{host.log()[-3000:]}{extra}")
                if _accepts(host.address, host.port):
                    host.mnt_ns = _mnt_ns(host.process.pid) if host.process else None
                    host.init_pid = self._init_pid(host)
                    del waiting[name]
            if waiting:
                time.sleep(0.05)
        if waiting:
            name, host = next(iter(waiting.items()))
            raise RuntimeError(f"fleet: {len(waiting)} host(s) not listening after {START_SECONDS:g}s ({', '.join(waiting)}); {name}'s log:\n{host.log()[-3000:]}")
        own = _mnt_ns(os.getpid())
        for host in self.hosts.values():
            if host.process is not None and (host.mnt_ns in (None, own) or host.init_pid is None):
                raise RuntimeError(f"fleet host {host.name}: sshd is not running in namespaces of its own")

    def _init_pid(self, host: Host) -> int | None:
        """The host's sshd: the child of its unshare process (PID 1 of the host's PID namespace)."""
        if host.process is None:
            return None
        for pid in self.namespace_pids(host.name):
            if _ppid(pid) == host.process.pid:
                return pid
        return None

    def _arm_cut(self, host: Host) -> None:
        """Kill the host's session processes as soon as its slow command starts."""
        marker = os.path.join(host.directory, "fault", "cut-started")

        def watch() -> None:
            while not self._stop.is_set():
                if os.path.exists(marker):
                    self.cuts[host.name] = self.kill_sessions(host.name)
                    return
                time.sleep(0.02)

        t = threading.Thread(target=watch, name=f"fleet-cut-{host.name}", daemon=True)
        t.start()
        self._watchers.append(t)


# -- small helpers ------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the thread that started us ends (even if it is killed).

    The fleet is then torn down by the kernel if the test or benchmark process
    dies without running :meth:`Fleet.close`. (Start a Fleet from a thread that
    outlives it: the main thread, as pytest fixtures and the benchmark do.)
    """
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _put(path: str, text: str, mode: int, *, uid: int = 0, gid: int = 0) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


def _keygen(path: str, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], check=True, capture_output=True, env=ENV)


def _fingerprint(pub_path: str) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", pub_path], check=True, capture_output=True, text=True, env=ENV).stdout
    return out.split()[1]


def _hash(scheme: str) -> str:
    """A real crypt(3) hash of a throw-away password: openssl passwd, or libxcrypt for yescrypt."""
    password = "fleet-" + scheme
    if scheme == "yescrypt":  # openssl passwd has no yescrypt; Python's crypt wraps libxcrypt
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt as _crypt

            value = _crypt.crypt(password, "$y$j9T$" + os.urandom(12).hex()[:16] + "$")
        if not value or not value.startswith("$y$"):
            raise RuntimeError("this libcrypt cannot make yescrypt hashes")
        return value
    flag = {"sha512": "-6", "md5": "-1"}[scheme]
    return subprocess.run(["openssl", "passwd", flag, password], check=True, capture_output=True, text=True, env=ENV).stdout.strip()


def _system_accounts() -> dict[str, Any]:
    passwd = [ln for ln in _read("/etc/passwd").splitlines() if ln and not ln.startswith("#")]
    group = [ln for ln in _read("/etc/group").splitlines() if ln and not ln.startswith("#")]
    for needed in ("root", "sshd", "nobody"):
        if not any(ln.startswith(needed + ":") for ln in passwd):
            raise RuntimeError(f"/etc/passwd of this machine has no {needed} account")
    return {
        "passwd": passwd,
        "group": group,
        "users": [ln.split(":")[0] for ln in passwd],
        "groups": [ln.split(":")[0] for ln in group],
        "gid": {ln.split(":")[0]: int(ln.split(":")[2]) for ln in group},
    }


def _bindable(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def _accepts(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect((address, port))
        except OSError:
            return False
    return True


def _free_addresses(count: int, port: int) -> list[str]:
    """``count`` loopback addresses 127.0.X.Y where nothing listens on ``port``.

    X starts from a value derived from the process id, so that concurrent
    fleets (other test sessions) rarely meet; every address is checked.
    """
    out: list[str] = []
    start = 64 + os.getpid() % 160
    for i in range(190 * 250):
        third = 64 + (start - 64 + i // 250) % 190
        address = f"127.0.{third}.{i % 250 + 1}"
        if _bindable(address, port) and not _accepts(address, port):
            out.append(address)
            if len(out) == count:
                return out
    raise RuntimeError(f"no {count} free loopback addresses for port {port}")


def _mnt_ns(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return None


def _mount_namespaces() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ns = _mnt_ns(int(entry))
            if ns is not None:
                out[int(entry)] = ns
    return out


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# -- pytest ----------------------------------------------------------------------------------

if "pytest" in sys.modules:  # imported by the test suite (the benchmark never imports pytest)
    import pytest

    @pytest.fixture(scope="module")
    def fleet() -> Iterator[Fleet]:
        """The standard fleet (:func:`standard_fleet`), up for one test module."""
        with Fleet(standard_fleet()) as started:
            yield started


if __name__ == "__main__":
    with Fleet(standard_fleet()) as _fleet:
        print(f"fleet up in {_fleet.root}\ninventory: {_fleet.inventory_path}\nssh -F {_fleet.root}/ssh_config good sudo -n cat /etc/shadow")
        for _h in _fleet.hosts.values():
            print(f"  {_h.name:14} {_h.address}:{_h.port} {'(nothing listens)' if not _h.spec.listen else ''}")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
