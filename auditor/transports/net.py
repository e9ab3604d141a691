"""Network transport: TLS, STARTTLS and HTTP probes of the endpoints an inventory names.

A ``net`` connection is not one socket: it is the list of endpoints a target
declares (a web URL; a mail host and its services; a database host, port and
engine) plus the probes that speak to them, each on a fresh TCP connection,
read-only, bounded and under a deadline. It connects only to the host and
ports the inventory names, follows no redirect and never sends a credential
(no AUTH, LOGIN, USER or password packet is ever written: a probe stops after
the TLS handshake or after the capabilities).

What each probe said and heard is kept as a :class:`Transcript` so that the
collector can record it as evidence.

* :meth:`NetConnection.probe_version` tries one protocol version (SSLv3 with
  a hand-made ClientHello, since OpenSSL 3 has no SSLv3; TLS 1.0 to 1.3 with
  :mod:`ssl`, the security level lowered to 0 for the probe only, because
  OpenSSL 3 refuses TLS 1.0/1.1 at its default level).
* :meth:`NetConnection.certificates` fetches the chain the server presents
  and verifies it against the system store or the inventory's CA bundle.
* :meth:`NetConnection.capabilities` reads a mail server's greeting and
  capabilities before STARTTLS; :meth:`NetConnection.database_offer` asks a
  PostgreSQL or MySQL/MariaDB server whether it offers TLS. The plaintext
  dialogues themselves are in :mod:`auditor.transports.dialogues`.
* :meth:`NetConnection.http_get` sends one ``GET`` and reads the status line
  and headers (HSTS, redirects).

What the certificates say is read by the TLS checks (``checks/x509.py``);
this module only fetches the DER chain.

>>> parse_hsts("max-age=31536000; includeSubDomains")["max_age"]
31536000
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import secrets
import socket
import ssl
import struct
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

from ..errors import CollectError
from ..evidence import observation
from ..model import Evidence, Reason, Target
from ..timeutil import utc_now_iso
from .dialogues import DIALOGUES

__all__ = [
    "Endpoint", "HttpEndpoint", "NetConnection", "NoHandshake", "NoTLS", "Transcript", "VERSIONS",
    "open_net", "endpoints_of", "trust_store", "header_values", "parse_hsts", "parse_http_head",
]

# Protocol versions probed, oldest first.
VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_TLS_VERSION = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# Every cipher suite OpenSSL has (but anonymous ones, which carry no
# certificate), at security level 0: a probe must find what a server accepts,
# not what today's defaults would negotiate.
PROBE_CIPHERS = "ALL:!aNULL:@SECLEVEL=0"

DEFAULT_PORTS = {
    "https": 443, "http": 80,
    "smtp": 25, "submission": 587, "smtps": 465,
    "imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995,
    "postgresql": 5432, "mysql": 3306, "mariadb": 3306,
}
# Service → the plaintext dialogue that precedes TLS (None: TLS from the first byte).
STARTTLS_OF = {"smtp": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}

MAX_LINE = 4096  # bytes of one protocol line
MAX_HEADER = 64 * 1024  # bytes of an HTTP response head
MAX_RECORD = 16 * 1024 + 2048  # bytes of one TLS record
USER_AGENT = "auditor (read-only compliance probe)"


# -- what was said on the wire -------------------------------------------------------


@dataclass
class Transcript:
    """Lines sent (``>``) and received (``<``) and notes (``#``), for evidence."""

    source: str
    lines: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=utc_now_iso)
    t0: float = field(default_factory=time.monotonic)

    def sent(self, text: str) -> None:
        self.lines.append("> " + text)

    def got(self, text: str) -> None:
        self.lines.append("< " + text)

    def note(self, text: str) -> None:
        self.lines.append("# " + text)

    def mark(self) -> None:
        """Remember where TLS starts (what comes before is the plaintext dialogue)."""
        self.tls_from = len(self.lines)

    tls_from: int = 0

    def tail(self) -> list[str]:
        """The lines from the start of TLS on."""
        return self.lines[self.tls_from :]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def evidence(self) -> Evidence:
        """The dialogue as ``network`` evidence (the one excerpt and digest rule: :func:`auditor.evidence.observation`)."""
        return observation("network", self.source, self.text, at=self.started_at, duration_ms=int((time.monotonic() - self.t0) * 1000))


class Refused(CollectError):
    """The host answered a connection attempt with a refusal (RST): nothing listens on that port.

    An answer, not silence: a timeout or an unreachable network stays a plain
    :class:`CollectError`."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        super().__init__(Reason.UNREACHABLE, f"connection to {_bracket(host)}:{port} refused (nothing listens there)")


class NoTLS(Exception):
    """The endpoint answered but offers no TLS (no STARTTLS, PostgreSQL 'N', MySQL without CLIENT_SSL)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# -- endpoints ---------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One TLS endpoint: where to connect, what to say before TLS, which name to expect."""

    service: str  # https, smtp, submission, smtps, imap, imaps, pop3, pop3s, postgresql, mysql
    host: str
    port: int
    starttls: str | None  # smtp, imap, pop3, postgresql, mysql; None for TLS from the first byte
    server_name: str  # sent as SNI (unless an IP address) and matched against the certificate
    plain_url: str | None = None  # a web site the inventory names by an http:// URL: served over plain HTTP, not probed for TLS

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.service} {self.address}"

    def public(self) -> dict[str, Any]:
        return {"endpoint": self.label, "service": self.service, "host": self.host, "port": self.port, "starttls": self.starttls, "server_name": self.server_name}


@dataclass(frozen=True)
class HttpEndpoint:
    url: str
    scheme: str  # http | https
    host: str
    port: int
    path: str  # path + query, at least "/"
    host_header: str
    server_name: str


def _split_url(url: str, server_name: str | None = None) -> HttpEndpoint:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise CollectError(Reason.CONFIG_ERROR, f"{url!r} is not an http:// or https:// URL with a host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise CollectError(Reason.CONFIG_ERROR, f"{url!r} has an invalid port") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    name = server_name or parts.hostname
    shown = f"[{name}]" if ":" in name else name
    host_header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    return HttpEndpoint(url, scheme, parts.hostname, port, path, host_header, name)


def endpoints_of(target: Target) -> tuple[list[Endpoint], dict[str, HttpEndpoint]]:
    """The TLS endpoints (and, for web targets, the HTTP URLs) a target names."""
    kind = target.kind
    if kind == "web":
        url = str(target.get("url") or "")
        page = _split_url(url, target.get("sni"))
        https = page if page.scheme == "https" else _split_url(f"https://{_bracket(page.host)}{page.path}", target.get("sni"))
        http_url = target.get("http_url") or (url if page.scheme == "http" else f"http://{_bracket(page.host)}{page.path}")
        http = _split_url(str(http_url))
        if http.scheme != "http":
            raise CollectError(Reason.CONFIG_ERROR, f"http_url {http_url!r} must be a plain http:// URL")
        if page.scheme == "http":  # a site without TLS: its TLS controls fail, port 443 is not probed
            return [Endpoint("http", page.host, page.port, None, page.server_name, plain_url=url)], {"http": http}
        tls = Endpoint("https", https.host, https.port, None, https.server_name)
        return [tls], {"https": https, "http": http}
    if kind == "mail":
        host = str(target.get("host") or "")
        out = []
        for spec in target.get("services") or ():
            name, _, given = str(spec).partition(":")
            out.append(Endpoint(name, host, int(given) if given else DEFAULT_PORTS[name], STARTTLS_OF.get(name), host))
        return out, {}
    if kind == "database":
        engine = str(target.get("engine") or "")
        host = str(target.get("host") or "")
        port = int(target.get("port") or DEFAULT_PORTS.get(engine, 0))
        if engine not in ("postgresql", "mysql", "mariadb"):
            raise CollectError(Reason.CONFIG_ERROR, f"database engine {engine!r} has no TLS probe")
        return [Endpoint(engine, host, port, STARTTLS_OF[engine], host)], {}
    raise CollectError(Reason.CONFIG_ERROR, f"{kind} targets have no network endpoints")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- probe contexts ----------------------------------------------------------------

_contexts: dict[Any, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def _context(version: str | None, verify: bool = False, cafile: str | None = None) -> ssl.SSLContext:
    """A client context for one probe: pinned to ``version`` (or any), security level 0.

    Contexts are built once and shared (an SSLContext is safe to use from
    several threads). Python warns when TLS 1.0/1.1 are allowed; a probe
    allows them on purpose, so the warning is silenced while building.
    """
    key = (version, verify, cafile, _mtime(cafile))
    with _contexts_lock:
        ctx = _contexts.get(key)
        if ctx is not None:
            return ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False  # matched separately: a wrong name must not hide the rest
        ctx.set_ciphers(PROBE_CIPHERS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            if version is not None:
                ctx.maximum_version = _TLS_VERSION[version]
                if version != "TLSv1.0":
                    ctx.minimum_version = _TLS_VERSION[version]
        if verify:
            ctx.verify_mode = ssl.CERT_REQUIRED
            if cafile:
                ctx.load_verify_locations(cafile=cafile)
            else:
                ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            ctx.verify_mode = ssl.CERT_NONE
        _contexts[key] = ctx
        return ctx


def _mtime(path: str | None) -> float | None:
    try:
        return os.stat(path).st_mtime if path else None
    except OSError:
        return None


def trust_store(cafile: str | None) -> str:
    if cafile:
        return f"CA bundle {cafile}"
    paths = ssl.get_default_verify_paths()
    return f"system store ({paths.cafile or paths.openssl_cafile} / {paths.capath or paths.openssl_capath})"


# -- the wire ----------------------------------------------------------------------


class _Wire:
    """A TCP connection with a deadline on every read and write, and a line buffer.

    The :class:`~auditor.transports.dialogues.Wire` the plaintext dialogues speak over.
    """

    def __init__(self, conn: "NetConnection", host: str, port: int, deadline: float, transcript: Transcript):
        self.conn = conn
        self.host, self.port = host, port
        self.deadline = deadline
        self.t = transcript
        self.buffer = b""
        self.sock: socket.socket = conn._connect(host, port, deadline)
        self.answered = False  # the server sent at least one byte

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline reached")
        return left

    def send(self, data: bytes, shown: str | None = None) -> None:
        self.sock.settimeout(self.left())
        self.sock.sendall(data)
        if shown is not None:
            self.t.sent(shown)

    def recv(self, limit: int = 4096) -> bytes:
        if self.buffer:
            data, self.buffer = self.buffer[:limit], self.buffer[limit:]
            return data
        self.sock.settimeout(self.left())
        data = self.sock.recv(limit)
        if data:
            self.answered = True
        return data

    def recv_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.recv(n - len(out))
            if not chunk:
                raise ConnectionError(f"connection closed after {len(out)} of {n} bytes")
            out += chunk
        return out

    def readline(self) -> str:
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise CollectError(Reason.PARSE_ERROR, f"{self.host}:{self.port} sent a line longer than {MAX_LINE} bytes")
            self.sock.settimeout(self.left())
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.answered = True
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        text = line.rstrip(b"\r").decode("utf-8", "replace")
        self.t.got(text)
        return text

    def close(self) -> None:
        self.conn._forget(self.sock)
        try:
            self.sock.close()
        except OSError:
            pass


# -- the connection ------------------------------------------------------------------


def open_net(target: Target, transports: Any) -> "NetConnection":
    """The ``net`` connection of a web, mail or database target (opened lazily: no socket yet)."""
    options = getattr(transports, "options", None)
    timeout = float(target.get("timeout") or getattr(options, "connect_timeout", 10.0) or 10.0)
    endpoints, http = endpoints_of(target)
    cafile = target.get("tls_ca") if target.kind == "database" else target.get("ca_bundle")
    if cafile:
        cafile = os.path.expanduser(str(cafile))
        if not os.path.isfile(cafile):
            raise CollectError(Reason.CONFIG_ERROR, f"CA bundle {cafile} named by the inventory does not exist or is not a file")
    return NetConnection(target, endpoints, http, timeout, cafile)


class NetConnection:
    """The endpoints of one target and the probes that reach them (see the module docstring)."""

    transport = "net"

    def __init__(self, target: Target, endpoints: Sequence[Endpoint], http: dict[str, HttpEndpoint], timeout: float, cafile: str | None = None):
        self.target = target
        self.endpoints = tuple(endpoints)
        self.http = dict(http)
        self.timeout = timeout
        self.cafile = cafile
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"net:{self.target.id} ({', '.join(e.label for e in self.endpoints)})"

    # -- sockets -------------------------------------------------------------

    def _deadline(self, budget: float | None) -> float:
        return time.monotonic() + (min(self.timeout, budget) if budget is not None else self.timeout)

    def _connect(self, host: str, port: int, deadline: float) -> socket.socket:
        allowed = {(e.host, e.port) for e in self.endpoints} | {(h.host, h.port) for h in self.http.values()}
        if (host, port) not in allowed:  # a guard against a bug, never against the inventory
            raise CollectError(Reason.BUG, f"refusing to connect to {host}:{port}: not an endpoint of {self.target.id}")
        with self._lock:
            if self._closed:
                raise CollectError(Reason.INTERRUPTED, "the connection was closed (run interrupted)")
        left = deadline - time.monotonic()
        if left <= 0:
            raise CollectError(Reason.TIMEOUT, f"no time left to connect to {_bracket(host)}:{port}")
        try:
            sock = socket.create_connection((host, port), timeout=left)
        except socket.gaierror as exc:
            raise CollectError(Reason.UNREACHABLE, f"cannot resolve {host}: {exc.strerror or exc}") from None
        except ConnectionRefusedError:
            raise Refused(host, port) from None
        except (socket.timeout, TimeoutError):
            self._check_open()
            raise CollectError(Reason.TIMEOUT, f"no answer from {_bracket(host)}:{port} within {left:.1f}s (connect)") from None
        except OSError as exc:
            raise CollectError(Reason.UNREACHABLE, f"cannot connect to {_bracket(host)}:{port}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._closed:
                sock.close()
                raise CollectError(Reason.INTERRUPTED, "the connection was closed (run interrupted)")
            self._live.add(sock)
        return sock

    def _check_open(self) -> None:
        """After close(), a probe's "connection closed" is our doing, not the server's answer."""
        if self._closed:
            raise CollectError(Reason.INTERRUPTED, "the connection was closed (run interrupted)")

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.add(sock)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.discard(sock)

    def close(self) -> None:
        """Stop every probe in flight (their facts become errors) and refuse new ones."""
        with self._lock:
            self._closed = True
            live, self._live = list(self._live), set()
        for sock in live:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    # -- plaintext dialogues before TLS ----------------------------------------------

    def _open(self, ep: Endpoint, deadline: float, t: Transcript, upgrade: bool) -> tuple[_Wire, dict[str, Any]]:
        """Connect and run the plaintext part; with ``upgrade``, ask for TLS (raises NoTLS if not offered)."""
        wire = _Wire(self, ep.host, ep.port, deadline, t)
        try:
            info = DIALOGUES[ep.starttls](wire, upgrade) if ep.starttls else {}
            if upgrade and ep.starttls and not info.get("upgraded"):
                raise NoTLS(info.get("refusal") or f"{ep.label} offers no TLS")
        except (socket.timeout, TimeoutError):
            wire.close()
            self._check_open()
            raise CollectError(Reason.TIMEOUT, f"{ep.label}: no complete {ep.starttls} answer within {self.timeout:g}s") from None
        except (ConnectionError, OSError) as exc:
            wire.close()
            self._check_open()
            raise CollectError(Reason.UNREACHABLE, f"{ep.label}: connection lost during the {ep.starttls} dialogue ({getattr(exc, 'strerror', None) or exc})") from None
        except BaseException:
            wire.close()
            raise
        return wire, info

    def capabilities(self, ep: Endpoint, budget: float | None = None) -> tuple[dict[str, Any], Transcript]:
        """A mail endpoint's greeting and capabilities before STARTTLS, and the answer to STARTTLS.

        The connection is closed right after the server's go-ahead (no
        handshake, no command after it). ``upgraded`` says whether the
        server agreed to start TLS; ``refusal`` why not.
        """
        t = Transcript(f"{ep.starttls} capabilities of {ep.address} and its answer to STARTTLS")
        wire = _Wire(self, ep.host, ep.port, self._deadline(budget), t)
        try:
            info = DIALOGUES[ep.starttls](wire, True) if ep.starttls else {}
        except (socket.timeout, TimeoutError):
            self._check_open()
            raise CollectError(Reason.TIMEOUT, f"{ep.label}: no complete {ep.starttls} answer within {self.timeout:g}s") from None
        except (ConnectionError, OSError) as exc:
            self._check_open()
            raise CollectError(Reason.UNREACHABLE, f"{ep.label}: connection lost during the {ep.starttls} dialogue ({getattr(exc, 'strerror', None) or exc})") from None
        finally:
            wire.close()
        return info, t

    def database_offer(self, ep: Endpoint, budget: float | None = None) -> tuple[dict[str, Any], Transcript]:
        """Whether a PostgreSQL (SSLRequest) or MySQL/MariaDB (CLIENT_SSL) server offers TLS."""
        t = Transcript(f"{ep.starttls} TLS negotiation with {ep.address}")
        wire, info = self._open(ep, self._deadline(budget), t, upgrade=False)
        wire.close()
        return info, t

    # -- TLS ---------------------------------------------------------------------

    def _handshake(self, wire: _Wire, ctx: ssl.SSLContext, ep: Endpoint) -> ssl.SSLSocket:
        if wire.buffer:  # bytes after the STARTTLS go-ahead would be injected into the TLS session
            wire.t.note(f"discarded {len(wire.buffer)} byte(s) the server sent after its go-ahead")
            wire.buffer = b""
        sock = wire.sock
        sock.settimeout(wire.left())
        tls = ctx.wrap_socket(sock, server_hostname=ep.server_name or None, do_handshake_on_connect=False)
        self._forget(sock)
        self._track(tls)
        wire.sock = tls
        tls.do_handshake()
        return tls

    def probe_version(self, ep: Endpoint, version: str, budget: float | None = None) -> dict[str, Any]:
        """Try one protocol version. ``accepted`` is True, False, or None (no answer: undetermined).

        Raises CollectError when the endpoint cannot be reached, and
        :class:`NoTLS` when its plaintext dialogue offers no TLS.
        """
        _no_tls_by_inventory(ep)
        t = Transcript(f"{version} handshake with {ep.label}" + (f" (SNI {ep.server_name})" if _is_name(ep.server_name) else ""))
        deadline = self._deadline(budget)
        wire, _ = self._open(ep, deadline, t, upgrade=True)
        try:
            result = self._probe(wire, t, ep, version)
            self._check_open()
            return result
        finally:
            wire.close()

    def _probe(self, wire: "_Wire", t: Transcript, ep: Endpoint, version: str) -> dict[str, Any]:
        """One version's handshake on an open wire (the plaintext part done)."""
        if version == "SSLv3":
            return self._sslv3(wire, t)
        ctx = _context(version)
        t.mark()
        t.sent(f"ClientHello {version} only, {len(ctx.get_ciphers())} cipher suites (security level 0)")
        try:
            tls = self._handshake(wire, ctx, ep)
        except ssl.SSLError as exc:
            t.got(f"refused: {_ssl_reason(exc)}")
            return {"version": version, "accepted": False, "answer": _ssl_reason(exc), "transcript": t}
        except (socket.timeout, TimeoutError):
            t.note(f"no answer within {self.timeout:g}s")
            return {"version": version, "accepted": None, "answer": f"no answer within {self.timeout:g}s", "timeout": True, "answered": wire.answered, "transcript": t}
        except (ConnectionError, OSError) as exc:
            t.got(f"connection closed: {exc.strerror or exc}")
            return {"version": version, "accepted": False, "answer": f"connection closed during the handshake ({exc.strerror or type(exc).__name__})", "transcript": t}
        self._check_open()
        negotiated, cipher = tls.version(), (tls.cipher() or ("?",))[0]
        t.got(f"ServerHello {negotiated}, cipher {cipher}")
        accepted = _norm_version(negotiated) == version
        answer = f"accepted, cipher {cipher}" if accepted else f"answered with {negotiated} instead"
        return {"version": version, "accepted": accepted, "answer": answer, "cipher": cipher if accepted else None, "transcript": t}

    def _sslv3(self, wire: _Wire, t: Transcript) -> dict[str, Any]:
        hello = sslv3_client_hello()
        t.mark()
        wire.send(hello, f"ClientHello SSLv3 (hand-made, {len(SSLV3_CIPHERS)} cipher suites, {len(hello)} bytes)")
        try:
            head = wire.recv_exact(5)
            kind, major, minor, length = head[0], head[1], head[2], struct.unpack("!H", head[3:5])[0]
            if length > MAX_RECORD:
                raise ValueError(f"record of {length} bytes")
            body = wire.recv_exact(length)
        except (socket.timeout, TimeoutError):
            t.note(f"no answer within {self.timeout:g}s")
            return {"version": "SSLv3", "accepted": None, "answer": f"no answer within {self.timeout:g}s", "timeout": True, "answered": wire.answered, "transcript": t}
        except (ConnectionError, OSError, ValueError) as exc:
            answer = f"connection closed without a ServerHello ({exc})"
            t.got(answer)
            return {"version": "SSLv3", "accepted": False, "answer": answer, "transcript": t}
        if kind == 21 and len(body) >= 2:
            answer = f"alert {ALERTS.get(body[1], 'unknown')}({body[1]})"
            t.got(answer)
            return {"version": "SSLv3", "accepted": False, "answer": answer, "transcript": t}
        if kind == 22 and len(body) >= 6 and body[0] == 2:
            server_version = (body[4], body[5])
            if server_version == (3, 0):
                suite = struct.unpack("!H", body[39 + body[38] : 41 + body[38]])[0] if len(body) > 40 + body[38] else None
                answer = "accepted" + (f", cipher suite 0x{suite:04x}" if suite is not None else "")
                t.got(f"ServerHello SSLv3: {answer}")
                return {"version": "SSLv3", "accepted": True, "answer": answer, "cipher": f"0x{suite:04x}" if suite is not None else None, "transcript": t}
            answer = f"ServerHello with version {server_version[0]}.{server_version[1]}, not SSLv3"
            t.got(answer)
            return {"version": "SSLv3", "accepted": False, "answer": answer, "transcript": t}
        answer = f"unexpected record type {kind} version {major}.{minor}"
        t.got(answer)
        return {"version": "SSLv3", "accepted": False, "answer": answer, "transcript": t}

    @contextlib.contextmanager
    def _handshake_errors(self, ep: Endpoint, wire: Any) -> Iterator[None]:
        """Map what a handshake on ``wire`` can raise to collector errors; close the wire."""
        try:
            yield
        except (socket.timeout, TimeoutError):
            self._check_open()
            raise CollectError(Reason.TIMEOUT, f"{ep.label}: no TLS handshake within {self.timeout:g}s") from None
        except ssl.SSLError as exc:
            self._check_open()
            raise NoHandshake(f"{ep.label}: the TLS handshake failed: {_ssl_reason(exc)}") from None
        except (ConnectionError, OSError) as exc:
            self._check_open()
            raise NoHandshake(f"{ep.label}: connection closed during the TLS handshake ({exc.strerror or exc})") from None
        finally:
            wire.close()

    def certificates(self, ep: Endpoint, budget: float | None = None) -> tuple[dict[str, Any], list[Transcript]]:
        """The chain the server presents, and whether it verifies against the trust store.

        Verification runs in OpenSSL at security level 0: trust is judged
        here, key sizes and signature hashes by their own controls.
        """
        _no_tls_by_inventory(ep)
        store = trust_store(self.cafile)
        found: dict[str, Any] = {"trust_store": store}
        transcripts = []
        t = Transcript(f"certificate of {ep.label}" + (f" (SNI {ep.server_name})" if _is_name(ep.server_name) else "") + f", verified against the {store}")
        transcripts.append(t)
        wire, _ = self._open(ep, self._deadline(budget), t, upgrade=True)
        with self._handshake_errors(ep, wire):
            t.sent("ClientHello (any version, security level 0), verifying the chain")
            try:
                tls = self._handshake(wire, _context(None, verify=True, cafile=self.cafile), ep)
                found.update(verified=True, verify_error=None, verify_code=0)
                t.got(f"handshake {tls.version()}, chain verified")
                found["chain_der"] = _chain(tls)
                found["verified_chain_der"] = _chain(tls, verified=True)
                found["negotiated"] = tls.version()
            except ssl.SSLCertVerificationError as exc:
                found.update(verified=False, verify_error=str(exc.verify_message), verify_code=int(exc.verify_code))
                t.got(f"chain does not verify: {exc.verify_message} (X509 error {exc.verify_code})")
        if "chain_der" not in found:  # verification failed: fetch the chain without verifying
            t2 = Transcript(f"certificate of {ep.label} (not verified)")
            transcripts.append(t2)
            wire, _ = self._open(ep, self._deadline(budget), t2, upgrade=True)
            with self._handshake_errors(ep, wire):
                t2.sent("ClientHello (any version, security level 0), not verifying")
                tls = self._handshake(wire, _context(None), ep)
                found["chain_der"] = _chain(tls)
                found["verified_chain_der"] = []
                found["negotiated"] = tls.version()
                t2.got(f"handshake {tls.version()}, {len(found['chain_der'])} certificate(s)")
        self._check_open()
        for i, der in enumerate(found["chain_der"]):
            t.note(f"certificate {i}: sha256 {hashlib.sha256(der).hexdigest()}")
        return found, transcripts

    # -- HTTP ---------------------------------------------------------------------

    def tcp_answer(self, which: str, budget: float | None = None) -> tuple[bool, Transcript]:
        """Whether the web target's ``which`` URL's port accepts a TCP connection (True) or refuses it (False); nothing is sent.

        A timeout or an unreachable network raises :class:`CollectError`: no answer is not an answer.
        """
        page = self.http.get(which)
        if page is None:
            raise CollectError(Reason.CONFIG_ERROR, f"{self.target.id} has no {which} URL")
        t = Transcript(f"TCP connect to {_bracket(page.host)}:{page.port} ({which} port of {page.url}; nothing sent)")
        try:
            wire = _Wire(self, page.host, page.port, self._deadline(budget), t)
        except Refused as exc:
            t.got(f"refused: {exc.message}")
            return False, t
        t.got("connection accepted")
        wire.close()
        return True, t

    def http_get(self, which: str, budget: float | None = None) -> tuple[dict[str, Any], Transcript]:
        """``GET`` the web target's ``https`` or ``http`` URL once; status line and headers, no redirect followed."""
        page = self.http.get(which)
        if page is None:
            raise CollectError(Reason.CONFIG_ERROR, f"{self.target.id} has no {which} URL")
        t = Transcript(f"GET {page.url}" + (f" (Host: {page.host_header})" if page.host_header != urlsplit(page.url).netloc else ""))
        wire = _Wire(self, page.host, page.port, self._deadline(budget), t)
        try:
            if page.scheme == "https":
                ep = Endpoint("https", page.host, page.port, None, page.server_name)
                t.note("TLS handshake (certificate not judged here)")
                tls = self._handshake(wire, _context(None), ep)
                t.note(f"{tls.version()} {(tls.cipher() or ('?',))[0]}")
            request = f"GET {page.path} HTTP/1.1\r\nHost: {page.host_header}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            wire.send(request.encode("ascii", "strict"), f"GET {page.path} HTTP/1.1 (Host: {page.host_header})")
            head = b""
            while b"\r\n\r\n" not in head and b"\n\n" not in head:
                if len(head) > MAX_HEADER:
                    raise CollectError(Reason.PARSE_ERROR, f"{page.url}: response head longer than {MAX_HEADER} bytes")
                chunk = wire.recv(8192)
                if not chunk:
                    break
                head += chunk
        except (socket.timeout, TimeoutError):
            self._check_open()
            raise CollectError(Reason.TIMEOUT, f"{page.url}: no complete answer within {self.timeout:g}s") from None
        except ssl.SSLError as exc:
            self._check_open()
            raise CollectError(Reason.UNREACHABLE, f"{page.url}: the TLS handshake failed: {_ssl_reason(exc)}") from None
        except (ConnectionError, OSError) as exc:
            self._check_open()
            raise CollectError(Reason.UNREACHABLE, f"{page.url}: connection lost ({exc.strerror or exc})") from None
        finally:
            wire.close()
        self._check_open()
        answer = parse_http_head(head)
        if answer is None:
            raise CollectError(Reason.PARSE_ERROR, f"{page.url}: the answer is not HTTP: {head[:80]!r}")
        for line in answer["head_lines"]:
            t.got(line)
        answer.update(url=page.url, host_header=page.host_header)
        return answer, t


def _no_tls_by_inventory(ep: Endpoint) -> None:
    """A site the inventory names by an http:// URL is not probed for TLS: it is served over plain HTTP."""
    if ep.plain_url is not None:
        raise NoTLS(f"served over plain HTTP: the inventory names the site by its http:// URL {ep.plain_url} (no HTTPS port probed)")


class NoHandshake(Exception):
    """No TLS handshake could be completed (the endpoint may speak no TLS at all)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def _is_name(name: str | None) -> bool:
    if not name:
        return False
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        return True


def _norm_version(text: str | None) -> str | None:
    return {"TLSv1": "TLSv1.0"}.get(text or "", text)


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).lower().replace("_", " ")
    return str(exc)


def _chain(tls: ssl.SSLSocket, verified: bool = False) -> list[bytes]:
    """DER certificates the server sent (or the verified path). Python < 3.13 keeps these methods private."""
    obj = getattr(tls, "_sslobj", None)
    getter = getattr(tls, "get_verified_chain" if verified else "get_unverified_chain", None) or getattr(obj, "get_verified_chain" if verified else "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        out = []
        for cert in chain:
            if isinstance(cert, bytes):
                out.append(cert)
            else:
                out.append(cert.public_bytes(2))  # _ssl.ENCODING_DER
        return out
    if verified:
        return []
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


# -- SSLv3 by hand -------------------------------------------------------------------

SSLV3_CIPHERS = (
    0x0039, 0x0038, 0x0035, 0x0033, 0x0032, 0x002F, 0x0016, 0x0013, 0x000A, 0x0005, 0x0004,
    0xC014, 0xC013, 0xC00A, 0xC009, 0xC012, 0xC008, 0x0088, 0x0087, 0x0084, 0x0045, 0x0044, 0x0041,
    0x0009, 0x0015, 0x0012, 0x0003, 0x0006, 0x0008, 0x0014, 0x0011,
)

ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
    47: "illegal_parameter", 48: "unknown_ca", 50: "decode_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
}


def sslv3_client_hello() -> bytes:
    """An SSLv3 ClientHello record (no extensions: SSLv3 has none)."""
    suites = b"".join(struct.pack("!H", s) for s in SSLV3_CIPHERS) + b"\x00\xff"  # + renegotiation SCSV
    body = b"\x03\x00" + secrets.token_bytes(32) + b"\x00" + struct.pack("!H", len(suites)) + suites + b"\x01\x00"
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x00" + struct.pack("!H", len(handshake)) + handshake


# -- HTTP ----------------------------------------------------------------------------


def parse_http_head(head: bytes) -> dict[str, Any] | None:
    text = head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("iso-8859-1")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if not lines or not lines[0].startswith("HTTP/"):
        return None
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return None
    headers: list[list[str]] = []
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers.append([key.strip(), value.strip()])
    return {"status": status, "status_line": lines[0], "headers": headers, "head_lines": lines}


def header_values(answer: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in answer.get("headers", []) if k.lower() == name.lower()]


def parse_hsts(value: str) -> dict[str, Any]:
    """``Strict-Transport-Security`` → max_age (None if missing or malformed), include_subdomains, preload."""
    out: dict[str, Any] = {"max_age": None, "include_subdomains": False, "preload": False, "problems": []}
    seen: set[str] = set()
    for directive in value.split(";"):
        directive = directive.strip()
        if not directive:
            continue
        name, _, arg = directive.partition("=")
        name = name.strip().lower()
        if name in seen:
            out["problems"].append(f"directive {name} repeated")
        seen.add(name)
        if name == "max-age":
            arg = arg.strip().strip('"')
            if arg.isdigit():
                out["max_age"] = int(arg)
            else:
                out["problems"].append(f"max-age {arg!r} is not a number")
        elif name == "includesubdomains":
            out["include_subdomains"] = True
        elif name == "preload":
            out["preload"] = True
    if "max-age" not in seen:
        out["problems"].append("no max-age directive")
    return out
