"""Run commands on remote servers over SSH (paramiko), read-only and verified.

One :class:`SSHConnection` per audited server; collectors may run several
commands on it at once, each on its own session channel.

* **Identity first.** The server's host key is checked *before* anything is
  sent to it: against a pinned ``host_key: SHA256:...`` when the inventory
  gives one, else against known_hosts (plain or hashed entries, ``host`` and
  ``[host]:port``). An unknown key is refused unless the run was started with
  ``--trust-on-first-use``; a changed key is always refused. Each connection
  says how its host was identified in ``host_key_info``. known_hosts is never
  written.
* **Keys only.** Public-key authentication with the inventory's ``key_file``
  (passphrase from its ``key_passphrase`` secret reference, revealed only
  now), else the ssh-agent's keys and ``~/.ssh/id_{ed25519,ecdsa,rsa}``.
  Never a password, never an interactive prompt.
* **Argv, quoted here.** A command is an argv list; it is turned into the
  remote shell's command line with :func:`shlex.join` and nothing else
  (the remote login shell must be POSIX: sh, bash, dash, ksh or zsh). It
  runs as exactly ``sudo -n -- argv...`` (or ``argv...`` without sudo): no
  wrapper program inside sudo, so a sudoers rule naming the program itself
  (with ``NOEXEC``) allows it. The C locale is asked for with SSH ``env``
  requests (honoured where sshd's AcceptEnv allows ``LC_*``; collectors do
  not depend on it). Environment values a command needs (a backup tool's
  passphrase) are sent on its standard input and read by the remote shell
  (``IFS= read -r NAME``) before sudo starts: never in argv, never in the
  command line. ``CommandResult.argv`` is what ran, ``sudo -n --`` included.
* **Bounded.** Every command has a deadline, stdout is cut at
  ``max_output`` bytes and stderr at 64 KiB. **Remote work stops with the
  run**: a timed-out or truncated command, and every command in flight when
  the connection is closed (Ctrl-C, the end of a target's budget), is sent
  the SSH ``signal`` request (RFC 4254 6.9) for SIGTERM before its channel
  closes. sshd delivers it to the session's process group as the login
  user; sudo, whose real uid is that user's, relays it to the root command.
  A command whose connection is lost gets SIGPIPE on its next write (every
  reader the collectors run writes as it goes).
* **Failures are reasons.** Refused/unresolvable/lost → ``unreachable``;
  connect, banner or command deadline → ``timeout``; key refused →
  ``auth_failed``; host key → ``host_key_rejected``; :meth:`close` from
  another thread (Ctrl-C) → ``interrupted``.

:class:`SSHConnector` holds what one run shares between servers: one
connection per jump host carrying the tunnels of every server behind it,
the parsed known_hosts files, and a bound on handshakes in flight per
destination (sshd drops unauthenticated connections beyond ``MaxStartups``).

>>> conn = SSHConnector(ConnectOptions(), servers).open(target)   # doctest: +SKIP
>>> conn.run(["id", "-u"], timeout=10).text                         # doctest: +SKIP
'1000\\n'
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import os
import re
import selectors
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, Mapping, Sequence

import paramiko

from ..errors import CollectError
from ..model import Reason, Target
from ..secrets import SecretRef
from ..timeutil import utc_now_iso
from .base import DEFAULT_MAX_OUTPUT, CommandResult, check_argv

if TYPE_CHECKING:
    from . import ConnectOptions

SUDO = ("sudo", "-n", "--")  # -n: fail instead of prompting for a password
LOCALE = {"LC_ALL": "C", "LANG": "C"}  # asked for with SSH env requests; sshd may ignore them
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
MAX_STDERR = 65536
READ_CHUNK = 65536
DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
# paramiko closes a dead connection's channels a moment before it marks the
# transport inactive; this is how long a run waits to tell the two apart.
LOSS_GRACE = 0.25


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:<base64>`` fingerprint (unpadded), as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def describe_key(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {fingerprint(key)}"


# -- where to connect -----------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One SSH server to reach: address, account, and how to trust and prove identities."""

    label: str  # for messages: "server:web1", "jump host bastion"
    host: str
    port: int
    user: str
    known_hosts: str  # path, already expanded
    key_file: str | None = None
    key_passphrase: SecretRef | None = field(default=None, repr=False)
    host_key: str | None = None  # pinned "SHA256:..." fingerprint

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def known_hosts_names(self) -> tuple[str, ...]:
        """Names under which known_hosts may list this server: ``[host]:port`` (non-22 ports), ``host``."""
        return (self.host,) if self.port == 22 else (f"[{self.host}]:{self.port}", self.host)


def endpoint_of(settings: Mapping[str, Any], options: ConnectOptions, label: str) -> Endpoint:
    """The endpoint a server entry of the inventory describes."""
    host = settings.get("host")
    if not host:
        raise CollectError(Reason.CONFIG_ERROR, f"{label} has no host to connect to")
    return Endpoint(
        label=label,
        host=str(host).strip("[]"),
        port=int(settings.get("port") or 22),
        user=settings.get("user") or _local_user(),
        known_hosts=os.path.expanduser(settings.get("known_hosts") or options.known_hosts or DEFAULT_KNOWN_HOSTS),
        key_file=os.path.expanduser(settings["key_file"]) if settings.get("key_file") else None,
        key_passphrase=settings.get("key_passphrase"),
        host_key=settings.get("host_key"),
    )


def parse_destination(text: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` (IPv6 as ``[addr]:port``) → (user, host, port)."""
    user, at, rest = text.rpartition("@")
    port_text = ""
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else tail
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        host = rest
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise CollectError(Reason.CONFIG_ERROR, f"proxy_jump {text!r}: {port_text!r} is not a port number")
        port = int(port_text)
    if not host:
        raise CollectError(Reason.CONFIG_ERROR, f"proxy_jump {text!r} names no host")
    return (user if at else None), host, port


def _local_user() -> str:
    try:
        return getpass.getuser()
    except OSError:
        raise CollectError(Reason.CONFIG_ERROR, "no SSH user given and the local user name is unknown; set user: in the inventory") from None


# -- host keys ------------------------------------------------------------------


@dataclass(frozen=True)
class KnownKey:
    """One key line of a known_hosts file."""

    patterns: tuple[str, ...]  # host patterns, hashed (|1|salt|hash) or plain, '!' negates
    key: paramiko.PKey
    revoked: bool = False

    def matches(self, name: str) -> bool:
        """OpenSSH matching: some pattern matches and no negated pattern does."""
        hit = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            if _host_matches(pattern[1:] if negated else pattern, name):
                if negated:
                    return False
                hit = True
        return hit


def _host_matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        try:
            return paramiko.HostKeys.hash_host(name, pattern) == pattern
        except (ValueError, AssertionError):  # a malformed salt matches nothing
            return False
    regex = re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, name.lower()) is not None


def parse_known_hosts(text: str) -> list[KnownKey]:
    """Key lines of a known_hosts file; ``@cert-authority`` lines and unreadable lines are skipped."""
    keys: list[KnownKey] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        marker = None
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
            line = line.strip()
            if marker != "@revoked":
                continue  # certificate authorities: auditor does not use host certificates
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
        except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError):
            entry = None
        if entry is not None:
            keys.append(KnownKey(tuple(entry.hostnames), entry.key, revoked=marker is not None))
    return keys


class KnownHosts:
    """known_hosts files read once per run, shared by every connection of the run."""

    def __init__(self) -> None:
        self._files: dict[str, list[KnownKey] | None] = {}
        self._lock = threading.Lock()

    def lookup(self, endpoint: Endpoint) -> list[KnownKey] | None:
        """Keys listed for the endpoint (revoked ones included); None when the file does not exist."""
        with self._lock:
            if endpoint.known_hosts not in self._files:
                self._files[endpoint.known_hosts] = self._read(endpoint.known_hosts)
            keys = self._files[endpoint.known_hosts]
        if keys is None:
            return None
        return [k for k in keys if any(k.matches(name) for name in endpoint.known_hosts_names)]

    @staticmethod
    def _read(path: str) -> list[KnownKey] | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return parse_known_hosts(fh.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CollectError(Reason.CONFIG_ERROR, f"cannot read known_hosts file {path}: {exc.strerror}") from None


def verify_host_key(offered: paramiko.PKey, endpoint: Endpoint, known: list[KnownKey] | None, trust_on_first_use: bool) -> dict[str, str]:
    """Accept or refuse the key a server offered; returns ``host_key_info``.

    A pinned fingerprint decides alone. Otherwise a key listed in known_hosts
    is accepted, a revoked one or one differing from those listed is refused
    (trust on first use never overrides a changed key), and a key for which
    known_hosts has nothing is accepted only with ``trust_on_first_use``.
    """
    shown = describe_key(offered)
    info = {"type": offered.get_name(), "fingerprint": fingerprint(offered)}
    where = endpoint.hostport
    if endpoint.host_key:
        if info["fingerprint"] == endpoint.host_key.rstrip("="):
            return info | {"verified_by": "pinned"}
        raise CollectError(Reason.HOST_KEY, f"host key of {where} does not match the pinned host_key {endpoint.host_key}: the server offered {shown}; refusing (possible man-in-the-middle)")
    entries = known or []
    if any(k.revoked and k.key.asbytes() == offered.asbytes() for k in entries):
        raise CollectError(Reason.HOST_KEY, f"host key of {where} ({shown}) is marked @revoked in {endpoint.known_hosts}; refusing")
    trusted = [k.key for k in entries if not k.revoked]
    if any(k.asbytes() == offered.asbytes() for k in trusted):
        return info | {"verified_by": f"known_hosts:{endpoint.known_hosts}"}
    if trusted:
        listed = ", ".join(describe_key(k) for k in trusted)
        raise CollectError(Reason.HOST_KEY, f"host key of {where} CHANGED: known_hosts {endpoint.known_hosts} has {listed}, the server offered {shown}; refusing (possible man-in-the-middle)")
    if trust_on_first_use:
        return info | {"verified_by": "trust-on-first-use"}
    missing = "" if known is not None else ", which does not exist"
    raise CollectError(Reason.HOST_KEY, f"host key of {where} is not known ({shown}); add it to known_hosts ({endpoint.known_hosts}{missing}), pin it with host_key:, or run with --trust-on-first-use")


def _prefer_known_key_types(ssh: paramiko.Transport, known: list[KnownKey] | None) -> None:
    """Ask first for the host key types known_hosts lists, as OpenSSH does.

    A server with several host keys then offers the one we can check rather
    than, say, a new ed25519 key that known_hosts has never seen.
    """
    types = {k.key.get_name() for k in known or () if not k.revoked}
    if not types:
        return
    options = ssh.get_security_options()
    algorithms = list(options.key_types)

    def known_type(algorithm: str) -> bool:
        return ("ssh-rsa" if algorithm.startswith("rsa-sha2-") else algorithm) in types

    options.key_types = [a for a in algorithms if known_type(a)] + [a for a in algorithms if not known_type(a)]


# -- client keys ----------------------------------------------------------------


def load_private_key(path: str, passphrase: SecretRef | None) -> paramiko.PKey:
    """Load a private key file of any type paramiko knows; the passphrase is revealed here only."""
    secret = passphrase.reveal().encode() if passphrase is not None else None
    try:
        return _read_key(path, secret)
    except TypeError:  # cryptography: encrypted without a passphrase, or a passphrase for a plain key
        if secret is None:
            raise CollectError(Reason.AUTH_FAILED, f"key_file {path} is encrypted and the inventory gives no key_passphrase for it") from None
        return _read_key(path, None)  # not encrypted: the passphrase is not needed
    except (ValueError, paramiko.SSHException):
        if secret is not None and _is_encrypted(path):
            raise CollectError(Reason.AUTH_FAILED, f"key_file {path} could not be decrypted with key_passphrase {passphrase.describe() if passphrase else ''} (wrong passphrase?)") from None
        raise CollectError(Reason.CONFIG_ERROR, f"key_file {path} is not a private key auditor can read (OpenSSH or PEM; ed25519, ecdsa or rsa)") from None


def _read_key(path: str, secret: bytes | None) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path, passphrase=secret)
    except OSError as exc:
        raise CollectError(Reason.CONFIG_ERROR, f"cannot read key_file {path}: {exc.strerror}") from None
    except paramiko.UnknownKeyType as exc:
        raise CollectError(Reason.CONFIG_ERROR, f"key_file {path} has a key type auditor cannot use: {exc.key_type}") from None


def _is_encrypted(path: str) -> bool:
    try:
        _read_key(path, None)
    except TypeError:  # "the key is encrypted but no password was given"
        return True
    except (ValueError, paramiko.SSHException, CollectError):
        pass
    return False


def _client_keys(endpoint: Endpoint, skipped: list[str]) -> Generator[tuple[str, paramiko.PKey], None, None]:
    """The keys to offer, labelled for messages: the key_file alone when set, else
    the ssh-agent's keys and then the ~/.ssh/id_* files that open without a
    passphrase (OpenSSH's order). The agent connection closes with the generator."""
    if endpoint.key_file:
        key = load_private_key(endpoint.key_file, endpoint.key_passphrase)
        yield f"key_file {endpoint.key_file} ({describe_key(key)})", key
        return
    agent = paramiko.Agent()  # no keys when SSH_AUTH_SOCK is unset or dead
    try:
        for key in agent.get_keys():
            comment = getattr(key, "comment", "")
            yield f"ssh-agent key {describe_key(key)}{' ' + comment if comment else ''}", key
        for name in DEFAULT_KEYS:
            path = os.path.expanduser(f"~/.ssh/{name}")
            if not os.path.isfile(path):
                continue
            try:
                key = _read_key(path, None)
            except (TypeError, ValueError, paramiko.SSHException, CollectError):
                skipped.append(f"{path} (encrypted or unreadable: skipped)")
                continue
            yield f"{path} ({describe_key(key)})", key
    finally:
        agent.close()


def authenticate(ssh: paramiko.Transport, endpoint: Endpoint) -> None:
    """Public-key authentication; AUTH_FAILED names the account and every key tried."""
    tried: list[str] = []
    with contextlib.closing(_client_keys(endpoint, tried)) as candidates:
        for label, key in candidates:
            try:
                more = ssh.auth_publickey(endpoint.user, key)
            except paramiko.BadAuthenticationType as exc:
                raise CollectError(Reason.AUTH_FAILED, f"{endpoint.address} does not accept public-key authentication (it offers: {', '.join(exc.allowed_types) or 'nothing'})") from None
            except paramiko.AuthenticationException as exc:
                if "timeout" in str(exc).lower():
                    raise CollectError(Reason.TIMEOUT, f"{endpoint.address} did not answer the authentication request in time") from None
                tried.append(label)
                if not ssh.is_active():  # sshd disconnects after MaxAuthTries
                    break
                continue
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise CollectError(Reason.UNREACHABLE, f"connection to {endpoint.hostport} lost during authentication: {exc or type(exc).__name__}") from None
            if ssh.is_authenticated():
                return
            raise CollectError(Reason.AUTH_FAILED, f"{endpoint.address} accepted {label} but also requires {', '.join(more)}; auditor authenticates with a key only")
    what = "; ".join(tried) if tried else "no key (no key_file, no ssh-agent key, no ~/.ssh/id_* file)"
    raise CollectError(Reason.AUTH_FAILED, f"{endpoint.address} refused public-key authentication; tried: {what}")


# -- connecting -----------------------------------------------------------------


def tcp_connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection with TCP_NODELAY (without it paramiko waits ~40 ms per round trip)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        raise CollectError(Reason.UNREACHABLE, f"cannot resolve {host}: {exc.strerror}") from None
    except TimeoutError:
        raise CollectError(Reason.TIMEOUT, f"no TCP connection to {host}:{port} within {timeout:g}s") from None
    except OSError as exc:
        raise CollectError(Reason.UNREACHABLE, f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def open_tunnel(jump: paramiko.Transport, jump_endpoint: Endpoint, endpoint: Endpoint, timeout: float) -> paramiko.Channel:
    """A direct-tcpip channel from the jump host to the endpoint, used as the inner connection's socket."""
    try:
        return jump.open_channel("direct-tcpip", (endpoint.host, endpoint.port), ("127.0.0.1", 0), timeout=timeout)
    except paramiko.ChannelException as exc:
        raise CollectError(Reason.UNREACHABLE, f"jump host {jump_endpoint.hostport} could not connect to {endpoint.hostport}: {exc.text}") from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        if "timeout" in str(exc).lower():
            raise CollectError(Reason.TIMEOUT, f"jump host {jump_endpoint.hostport} did not open a tunnel to {endpoint.hostport} within {timeout:g}s") from None
        raise CollectError(Reason.UNREACHABLE, f"connection to jump host {jump_endpoint.hostport} lost: {exc or type(exc).__name__}") from None


def handshake(sock: socket.socket | paramiko.Channel, endpoint: Endpoint, known: list[KnownKey] | None, options: ConnectOptions) -> tuple[paramiko.Transport, dict[str, str]]:
    """SSH negotiation, host-key verification, then authentication; the transport is closed on any failure."""
    ssh = paramiko.Transport(sock)
    timeout = options.connect_timeout
    try:
        ssh.banner_timeout = ssh.handshake_timeout = ssh.auth_timeout = timeout
        _prefer_known_key_types(ssh, None if endpoint.host_key else known)
        negotiated = threading.Event()
        ssh.start_client(event=negotiated)  # paramiko's own timeout= returns silently when it expires
        if not negotiated.wait(timeout):
            if not ssh.remote_version:
                raise _no_banner(endpoint, timeout)
            raise CollectError(Reason.TIMEOUT, f"{endpoint.hostport} did not complete the SSH handshake within {timeout:g}s")
        if not ssh.is_active():
            raise _negotiation_error(ssh.get_exception(), endpoint, timeout)
        info = verify_host_key(ssh.get_remote_server_key(), endpoint, known, options.trust_on_first_use)
        authenticate(ssh, endpoint)
        ssh.set_keepalive(max(1, int(options.keepalive)))
        return ssh, info
    except BaseException:
        ssh.close()
        raise


def _no_banner(endpoint: Endpoint, timeout: float) -> CollectError:
    return CollectError(Reason.TIMEOUT, f"{endpoint.hostport}: timed out waiting for the SSH banner (none within {timeout:g}s; is it an SSH server?)")


def _negotiation_error(exc: BaseException | None, endpoint: Endpoint, timeout: float) -> CollectError:
    if _caused_by(exc, TimeoutError):
        return _no_banner(endpoint, timeout)
    if _caused_by(exc, EOFError) or _caused_by(exc, ConnectionError):
        return CollectError(Reason.UNREACHABLE, f"{endpoint.hostport} closed the connection during the SSH handshake (not an SSH server, or it turned us away: MaxStartups, access rules)")
    return CollectError(Reason.UNREACHABLE, f"{endpoint.hostport} is not a usable SSH server: {exc or 'negotiation failed'}")


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class SSHConnector:
    """Opens the SSH connections of one run and owns what they share.

    * One connection per jump host, opened when the first server behind it
      needs it and kept until :meth:`close` (the end of the run): every
      server behind it gets a tunnel (a channel) on it. A jump host that
      cannot be reached or is refused stays failed for the run, so the
      servers behind it fail at once with its reason instead of each
      waiting for its own timeout.
    * At most ``options.max_handshakes`` handshakes at once per direct
      destination, and per jump host for the tunnels through it.
    * known_hosts files, read once.
    """

    def __init__(self, options: ConnectOptions, servers: Mapping[str, Target]):
        self.options = options
        self.servers = servers  # "server:<name>" → target, for proxy_jump by name
        self.known_hosts = KnownHosts()
        self._lock = threading.Lock()
        self._closed = False
        self._slots: dict[tuple[str, str], threading.BoundedSemaphore] = {}
        self._jump_locks: dict[str, threading.Lock] = {}
        self._jumps: dict[str, tuple[paramiko.Transport, dict[str, str]]] = {}
        self._jump_failures: dict[str, tuple[Reason, str]] = {}

    def open(self, server: Target) -> SSHConnection:
        """Connect to ``server`` (directly or through its proxy_jump), verified and authenticated."""
        endpoint = endpoint_of(server.settings, self.options, server.id)
        jump = self._jump_endpoint(server)
        known = None if endpoint.host_key else self.known_hosts.lookup(endpoint)  # a pin decides alone
        timeout = self.options.connect_timeout
        if jump is None:
            with self._handshake_slot("direct", endpoint.hostport):
                ssh, info = handshake(tcp_connect(endpoint.host, endpoint.port, timeout), endpoint, known, self.options)
        else:
            hop, hop_info = self._jump_connection(jump)
            with self._handshake_slot("via", jump.hostport):
                ssh, info = handshake(open_tunnel(hop, jump, endpoint, timeout), endpoint, known, self.options)
            info = info | {"proxy_jump": f"{jump.address} {hop_info['type']} {hop_info['fingerprint']} verified by {hop_info['verified_by']}"}
        conn = SSHConnection(ssh, endpoint, info, via=jump.address if jump else None)
        with self._lock:
            if not self._closed:
                return conn
        conn.close()
        raise CollectError(Reason.INTERRUPTED, "the run was interrupted while connecting")

    def close(self) -> None:
        """Close the jump connections (and so every tunnel through them); refuse new connections."""
        with self._lock:
            self._closed = True
            jumps = list(self._jumps.values())
            self._jumps.clear()
        for ssh, _ in jumps:
            ssh.close()

    def _jump_endpoint(self, server: Target) -> Endpoint | None:
        """The server's proxy_jump: another server of the inventory, or ``[user@]host[:port]``.

        The ``user@host:port`` form uses the target's own user (else the local
        user), keys and known_hosts; a pinned host_key belongs to the target
        and is not applied to the jump host.
        """
        spec = server.get("proxy_jump")
        if not spec:
            return None
        named = self.servers.get(f"server:{spec}")
        if named is not None:
            if named.get("proxy_jump"):
                raise CollectError(Reason.CONFIG_ERROR, f"proxy_jump {spec!r} has a proxy_jump of its own; chained jump hosts are not supported")
            if named.get("connection") == "local":
                raise CollectError(Reason.CONFIG_ERROR, f"proxy_jump {spec!r} is a connection: local server, not an SSH host")
            return endpoint_of(named.settings, self.options, f"jump host {spec}")
        user, host, port = parse_destination(spec)
        settings = {k: server.get(k) for k in ("user", "key_file", "key_passphrase", "known_hosts")}
        return endpoint_of(settings | {"host": host, "port": port, "user": user or server.get("user")}, self.options, f"jump host {spec}")

    def _jump_connection(self, jump: Endpoint) -> tuple[paramiko.Transport, dict[str, str]]:
        """The run's shared connection to a jump host, opened once (again only if it died)."""
        key = f"{jump.address} {jump.key_file or ''}"
        with self._lock:
            if self._closed:
                raise CollectError(Reason.INTERRUPTED, "the run was interrupted while connecting")
            lock = self._jump_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._jump_failures:
                raise CollectError(*self._jump_failures[key])
            live = self._jumps.get(key)
            if live is not None and live[0].is_active():
                return live
            try:
                with self._handshake_slot("direct", jump.hostport):
                    sock = tcp_connect(jump.host, jump.port, self.options.connect_timeout)
                    opened = handshake(sock, jump, None if jump.host_key else self.known_hosts.lookup(jump), self.options)
            except CollectError as exc:
                if exc.reason is not Reason.INTERRUPTED:
                    self._jump_failures[key] = (exc.reason, f"{jump.label} ({jump.address}): {exc.message}")
                raise CollectError(exc.reason, f"{jump.label} ({jump.address}): {exc.message}") from None
            with self._lock:
                if not self._closed:
                    self._jumps[key] = opened
                    return opened
            opened[0].close()
            raise CollectError(Reason.INTERRUPTED, "the run was interrupted while connecting")

    @contextlib.contextmanager
    def _handshake_slot(self, kind: str, hostport: str) -> Iterator[None]:
        """Hold one of the ``max_handshakes`` slots of a destination; give up if the run is closed."""
        with self._lock:
            slot = self._slots.setdefault((kind, hostport), threading.BoundedSemaphore(max(1, self.options.max_handshakes)))
        while not slot.acquire(timeout=0.2):
            if self._closed:
                raise CollectError(Reason.INTERRUPTED, "the run was interrupted while waiting to connect")
        try:
            if self._closed:
                raise CollectError(Reason.INTERRUPTED, "the run was interrupted while waiting to connect")
            yield
        finally:
            slot.release()


# -- running commands -----------------------------------------------------------


class _Deadline(Exception):
    """A command outlived its timeout."""


class SSHConnection:
    """An authenticated SSH connection to one server; see the module docstring.

    ``host_key_info`` says how the server was identified:
    ``{"type", "fingerprint", "verified_by": "known_hosts:<path>" | "pinned" |
    "trust-on-first-use"}``, plus ``"proxy_jump"`` (the jump host and how it
    was identified) for a tunnelled connection.
    """

    transport = "ssh"

    def __init__(self, ssh: paramiko.Transport, endpoint: Endpoint, host_key_info: dict[str, str], via: str | None = None):
        self.ssh = ssh
        self.endpoint = endpoint
        self.host_key_info = host_key_info
        self.via = via
        self._closed = False
        self._lock = threading.Lock()
        self._channels: dict[paramiko.Channel, bytearray] = {}  # live channels and their stderr so far
        self._starting = 0  # commands registered whose exec request is not answered yet
        self._started = threading.Condition(self._lock)  # notified when _starting goes down

    def __repr__(self) -> str:
        return f"<SSHConnection {self.endpoint.address}{' via ' + self.via if self.via else ''}>"

    def run(self, argv: Sequence[str], *, timeout: float, sudo: bool = False, max_output: int = DEFAULT_MAX_OUTPUT, input: bytes | None = None, env: Mapping[str, str] | None = None) -> CommandResult:
        """Run ``argv`` on the server (see :class:`~auditor.transports.base.ShellConnection`).

        ``exit_status`` is -1 when the server sent none: the command was
        killed by a signal, or stopped here because its output was truncated.
        """
        argv = check_argv(argv)
        sudo = sudo and self.endpoint.user != "root"  # root needs no sudo (and may not have it installed)
        recorded = (*SUDO, *argv) if sudo else argv
        shown = shlex.join(recorded)
        command, preamble = shown, b""
        if env:
            command, preamble = remote_env_command(recorded, env)
        root_session = self.endpoint.user == "root"
        if root_session:
            # sshd signals no root session (privilege separation ends at a root login): the
            # command says its PID first, on stderr, so that it can be stopped with kill(1).
            command = f"echo {PID_MARK}$$ >&2; {command if env else 'exec ' + command}"
        started, t0 = utc_now_iso(), time.monotonic()
        deadline = t0 + timeout
        chan = self._open_channel(deadline)
        err = bytearray()
        with self._lock:  # close() takes its list of channels under this lock: in it, or refused here
            if self._closed:
                chan.close()
                raise CollectError(Reason.INTERRUPTED, "the command was stopped (run interrupted)")
            self._channels[chan] = err
            self._starting += 1
        try:
            self._exec(chan, command, err, root_session)
            if preamble or input:
                chan.sendall(preamble + (input or b""))
            _end_input(chan)  # stdin ends here: a command reading it gets EOF, never waits
            stdout, truncated = _read_output(chan, deadline, max_output, err, MAX_STDERR + (len(PID_MARK) + 12 if root_session else 0))
            if truncated:
                self._stop(chan, err)
            elif not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                raise _Deadline
        except _Deadline:
            self._stop(chan, err)
            raise self._stopped() or CollectError(Reason.TIMEOUT, f"`{shown}` did not finish within {timeout:g}s (stopped on the server)") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._stopped() or self._failure(f"could not run `{shown}`", exc) from None
        finally:
            with self._lock:
                self._channels.pop(chan, None)
            chan.close()
        stderr = bytes(err)
        if root_session:
            stderr = _strip_pid(stderr)[:MAX_STDERR]
        if chan.exit_status == -1 and not truncated:
            stopped = self._stopped()
            if stopped is not None:
                raise stopped
            if self._connection_lost():
                raise CollectError(Reason.UNREACHABLE, f"connection to {self.endpoint.host} lost while `{shown}` was running")
        return CommandResult(argv=recorded, exit_status=chan.exit_status, stdout=stdout, stderr=stderr, started_at=started, duration_ms=int((time.monotonic() - t0) * 1000), truncated=truncated)

    def _exec(self, chan: paramiko.Channel, command: str, err: bytearray, root_session: bool) -> None:
        """Start ``command`` on ``chan``; if :meth:`close` came meanwhile, stop it before close() goes on.

        close() may have signalled this channel before the command existed
        (a signal request for a session without a process is lost), so a
        command started after close() began is stopped here, and close()
        waits for that (``_starting``) before it drops the connection: a
        command that started is always stopped, whatever the interleaving.
        """
        try:
            for name, value in LOCALE.items():
                chan.set_environment_variable(name, value)
            chan.exec_command(command)
            if self._closed:
                if root_session:
                    _read_pid_line(chan, err, time.monotonic() + STOP_GRACE)
                self._stop(chan, err)
        finally:
            with self._lock:
                self._starting -= 1
                self._started.notify_all()

    def close(self) -> None:
        """End every command in flight (they fail with ``interrupted``), refuse new ones, disconnect.

        Closing the paramiko transport marks each of its channels closed,
        which wakes the runs waiting on them. (Closing a channel directly
        would also close the file descriptor a run is waiting on.) Commands
        being started at this moment are stopped by their own run (see
        :meth:`_exec`); the connection is dropped once they have been.
        """
        with self._lock:
            self._closed = True
            live = list(self._channels.items())
        for chan, err in live:  # stop the remote commands before the connection goes
            self._stop(chan, err)
        with self._lock:
            self._started.wait_for(lambda: self._starting == 0, timeout=2 * STOP_GRACE)
        self.ssh.close()

    def _stop(self, chan: paramiko.Channel, err: bytearray) -> None:
        """Stop the command of ``chan`` on the server: SIGTERM by SSH signal request, or by kill(1) in a root session."""
        if chan.closed or chan.exit_status_ready():
            return
        pid = _pid_of(bytes(err))
        if pid is None:
            _signal(chan, "TERM")
            return
        try:  # a root session: kill(1) on a channel of its own (not waited for beyond a moment)
            killer = self.ssh.open_session(timeout=2)
            killer.exec_command(shlex.join(["kill", "-TERM", "--", str(pid)]))
            killer.status_event.wait(2)
            killer.close()
        except (paramiko.SSHException, EOFError, OSError):
            pass

    def _open_channel(self, deadline: float) -> paramiko.Channel:
        stopped = self._stopped()
        if stopped is not None:
            raise stopped
        try:
            chan = self.ssh.open_session(timeout=max(0.1, deadline - time.monotonic()))
        except paramiko.ChannelException as exc:
            raise CollectError(Reason.COMMAND_FAILED, f"{self.endpoint.address} refused a new session channel: {exc.text} (sshd MaxSessions?)") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._stopped() or self._failure("could not open a session channel", exc) from None
        return chan

    def _stopped(self) -> CollectError | None:
        """The error of a command cut short by :meth:`close`, if that is what happened."""
        if self._closed:
            return CollectError(Reason.INTERRUPTED, "the command was stopped (run interrupted)")
        return None

    def _failure(self, what: str, exc: BaseException) -> CollectError:
        """A paramiko error: the connection died (unreachable), or the server said no on a live one."""
        detail = str(exc) or type(exc).__name__
        if self._connection_lost():
            return CollectError(Reason.UNREACHABLE, f"connection to {self.endpoint.host} lost: {detail}")
        if "timeout" in detail.lower():  # paramiko: "Timeout opening channel."
            return CollectError(Reason.TIMEOUT, f"{self.endpoint.address} {what} in time: {detail}")
        return CollectError(Reason.COMMAND_FAILED, f"{self.endpoint.address} {what}: {detail}")

    def _connection_lost(self) -> bool:
        self.ssh.join(LOSS_GRACE)  # the transport's thread ends right after a lost connection
        return not self.ssh.is_active()


def _read_output(chan: paramiko.Channel, deadline: float, max_output: int, err: bytearray, err_limit: int = MAX_STDERR) -> tuple[bytes, bool]:
    """Read stdout and stderr (into ``err``) until both end, keeping at most ``max_output`` / 64 KiB.

    Both streams are read as data arrives: they share the channel's flow-control
    window, so leaving one unread would stall the command. Returns early,
    marked truncated, once stdout exceeds ``max_output``.
    """
    out = bytearray()
    chan.settimeout(0.0)
    streams: list[tuple[Callable[[int], bytes], bytearray, int]] = [(chan.recv, out, max_output), (chan.recv_stderr, err, err_limit)]
    with selectors.DefaultSelector() as sel:
        sel.register(chan.fileno(), selectors.EVENT_READ)  # readable when either stream has data or ended
        while streams:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Deadline
            sel.select(left)
            for stream in list(streams):
                recv, buf, limit = stream
                try:
                    chunk = recv(READ_CHUNK)
                except socket.timeout:
                    continue
                if not chunk:
                    streams.remove(stream)
                    continue
                room = limit - len(buf)
                buf += chunk[: max(room, 0)]
                if buf is out and len(chunk) > room:
                    return bytes(out), True
    return bytes(out), False


PID_MARK = "auditor-pid:"
STOP_GRACE = 2.0  # seconds to learn the PID of a root session's command that must be stopped


def _read_pid_line(chan: paramiko.Channel, err: bytearray, deadline: float) -> None:
    """Read stderr into ``err`` until its first line (the PID a root session's command prints) is there."""
    chan.settimeout(0.1)
    while b"\n" not in err and len(err) < 64 and time.monotonic() < deadline:
        try:
            chunk = chan.recv_stderr(64 - len(err))
        except socket.timeout:
            continue
        except (paramiko.SSHException, EOFError, OSError):
            return
        if not chunk:
            return
        err += chunk


def _pid_of(stderr: bytes) -> int | None:
    first = stderr.split(b"\n", 1)[0].decode("ascii", "replace")
    if first.startswith(PID_MARK) and first[len(PID_MARK):].isdigit():
        return int(first[len(PID_MARK):])
    return None


def _strip_pid(stderr: bytes) -> bytes:
    return stderr.split(b"\n", 1)[1] if _pid_of(stderr) is not None and b"\n" in stderr else stderr


def _end_input(chan: paramiko.Channel) -> None:
    """Send EOF on ``chan`` unless it is already closed: ``Channel.shutdown_write`` can race.

    paramiko decides to send EOF under the channel's lock but sends it after
    releasing it; a command that ends at that moment has its channel closed by
    the transport thread in between, and the EOF then follows our CLOSE. OpenSSH
    answers a packet for a freed channel by dropping the whole connection
    ("ieof packet referred to nonexistent channel"), taking the server's other
    commands with it. Sending under the lock keeps EOF before CLOSE.
    """
    with chan.lock:
        if chan.closed or chan.eof_sent:
            return
        msg = chan._send_eof()  # noqa: SLF001 - the message, built under the lock
        if msg is not None:
            chan.transport._send_user_message(msg)  # noqa: SLF001


def _signal(chan: paramiko.Channel, name: str) -> None:
    """Ask sshd to send signal ``name`` (``TERM``) to the command of ``chan`` (RFC 4254 6.9; OpenSSH >= 7.9).

    paramiko has no method for it; the request is one message on the channel,
    sent under the channel's lock so that it never follows the channel's CLOSE
    (see :func:`_end_input`). Best effort: a server that ignores it changes nothing.
    """
    msg = paramiko.Message()
    msg.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    msg.add_int(chan.remote_chanid)
    msg.add_string("signal")
    msg.add_boolean(False)
    msg.add_string(name)
    try:
        with chan.lock:
            if chan.closed or chan.exit_status_ready():
                return
            chan.transport._send_user_message(msg)  # noqa: SLF001 - paramiko's own way to send a channel message
    except (paramiko.SSHException, EOFError, OSError, AttributeError):
        pass


def remote_env_command(argv: Sequence[str], env: Mapping[str, str]) -> tuple[str, bytes]:
    """The remote command line that gives ``argv`` the variables ``env``, and what to send on its stdin first.

    The values travel on stdin and are read by the remote shell's ``read``
    builtin, exported, and kept by sudo where sudoers' ``env_keep`` allows:
    a value never appears in argv (``ps``) or in the command line. Only the
    fixed ``read``/``export`` words and the quoted argv are in the command.
    """
    names = list(env)
    for name in names:
        if not _ENV_NAME.match(name):
            raise ValueError(f"not an environment variable name: {name!r}")
        if "\n" in env[name] or "\0" in env[name]:
            raise CollectError(Reason.CONFIG_ERROR, f"the value of {name} contains a line break or NUL byte; it cannot be passed")
    reads = " && ".join(f"IFS= read -r {n}" for n in names)
    command = f"{reads} && export {' '.join(names)} && exec {shlex.join(argv)}"
    return command, "".join(env[n] + "\n" for n in names).encode("utf-8")
