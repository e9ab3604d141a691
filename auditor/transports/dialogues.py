"""The plaintext dialogues that come before TLS on a mail or database port.

SMTP, IMAP and POP3 ask for STARTTLS (``STARTTLS``, ``a2 STARTTLS``,
``STLS``) after reading the greeting and capabilities; PostgreSQL sends an
SSLRequest; MySQL/MariaDB reads the server's handshake packet and sends an
SSL request packet with no user name and no password. A dialogue never
writes a credential (no AUTH, LOGIN, USER or password packet).

Each dialogue is ``dialogue(wire, upgrade) -> info``: it speaks over a
:class:`Wire` (the ``net`` transport's TCP connection with its deadline and
transcript, :class:`auditor.transports.net.NetConnection`), and returns what
the server said (banner, capabilities, whether TLS is offered). With
``upgrade`` it asks for TLS: ``upgraded`` says whether the server agreed,
``refusal`` why not; the caller then starts the handshake on the same wire.
Without it, it says goodbye (QUIT, LOGOUT) where the protocol has one.

>>> PG_SSLREQUEST.hex()
'0000000804d2162f'
>>> parse_mysql_greeting(b"\\xff\\x15\\x04#28000Access denied")["error_code"]
1045
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Iterable, Protocol

from ..errors import CollectError
from ..model import Reason

__all__ = [
    "DIALOGUES", "Dialogue", "Wire", "EHLO_NAME", "MAX_LINES", "PG_SSLREQUEST", "CLIENT_SSL",
    "smtp_dialogue", "imap_dialogue", "pop3_dialogue", "postgresql_dialogue", "mysql_dialogue", "parse_mysql_greeting",
]

MAX_LINES = 100  # lines of one multi-line answer (EHLO, CAPA)
EHLO_NAME = "auditor.invalid"  # RFC 2606: names no real host


class Heard(Protocol):
    """Where a dialogue notes what it heard that the wire did not log as a line (a binary answer)."""

    def got(self, text: str) -> None: ...


class Wire(Protocol):
    """A TCP connection to ``host:port`` under a deadline, with a line buffer and a transcript ``t``.

    ``send`` logs ``shown`` as a line sent, ``readline`` logs every line
    received; ``buffer`` holds bytes received but not yet read.
    """

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def buffer(self) -> bytes: ...

    @property
    def t(self) -> Heard: ...

    def send(self, data: bytes, shown: str | None = None) -> None: ...

    def recv(self, limit: int = 4096) -> bytes: ...

    def recv_exact(self, n: int) -> bytes: ...

    def readline(self) -> str: ...


Dialogue = Callable[[Wire, bool], dict[str, Any]]

def _smtp_reply(wire: Wire) -> tuple[int, list[str]]:
    lines = []
    for _ in range(MAX_LINES):
        line = wire.readline()
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            break
    else:
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: SMTP reply of more than {MAX_LINES} lines")
    code = lines[-1][:3]
    if not code.isdigit():
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: not an SMTP reply: {lines[-1][:80]!r}")
    return int(code), lines


def smtp_dialogue(wire: Wire, upgrade: bool) -> dict[str, Any]:
    code, banner = _smtp_reply(wire)
    if code != 220:
        raise CollectError(Reason.UNREACHABLE, f"{wire.host}:{wire.port}: the SMTP server refused the session: {banner[-1][:120]}")
    wire.send(f"EHLO {EHLO_NAME}\r\n".encode(), f"EHLO {EHLO_NAME}")
    code, ehlo = _smtp_reply(wire)
    if code != 250:
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: EHLO was refused: {ehlo[-1][:120]}")
    keywords = [line[4:].strip() for line in ehlo[1:]]
    upper = [k.upper() for k in keywords]
    auth = next((k.split()[1:] for k in upper if k.startswith("AUTH ") or k == "AUTH"), None)
    auth_legacy = next((k.split("=", 1)[1].split() for k in upper if k.startswith("AUTH=")), None)
    info = {
        "protocol": "smtp",
        "banner": banner,
        "ehlo": ehlo,
        "starttls": "STARTTLS" in upper,
        "auth_before_tls": auth if auth is not None else auth_legacy,
    }
    if not upgrade:
        wire.send(b"QUIT\r\n", "QUIT")
        return info
    if not info["starttls"]:
        return {**info, "upgraded": False, "refusal": f"STARTTLS is not offered (EHLO keywords: {', '.join(keywords) or 'none'})"}
    wire.send(b"STARTTLS\r\n", "STARTTLS")
    code, reply = _smtp_reply(wire)
    if code != 220:
        return {**info, "upgraded": False, "starttls_answer": reply[-1], "refusal": f"STARTTLS is advertised but refused: {reply[-1][:120]}"}
    return {**info, "upgraded": True, "starttls_answer": reply[-1]}


def _imap_tagged(wire: Wire, tag: str) -> tuple[str, list[str]]:
    lines = []
    for _ in range(MAX_LINES):
        line = wire.readline()
        lines.append(line)
        if line.startswith(tag + " "):
            return line.split(" ", 2)[1].upper() if " " in line else "", lines
    raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: no tagged IMAP answer in {MAX_LINES} lines")


def _imap_caps(lines: Iterable[str]) -> list[str]:
    caps: list[str] = []
    for line in lines:
        upper = line.upper()
        if upper.startswith("* CAPABILITY "):
            caps.extend(line.split()[2:])
        elif "[CAPABILITY " in upper:
            start = upper.index("[CAPABILITY ") + len("[CAPABILITY ")
            caps.extend(line[start : line.index("]", start) if "]" in line[start:] else len(line)].split())
    return caps


def imap_dialogue(wire: Wire, upgrade: bool) -> dict[str, Any]:
    greeting = wire.readline()
    if not greeting.upper().startswith("* OK"):
        raise CollectError(Reason.UNREACHABLE if greeting.upper().startswith("* BYE") else Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: not an IMAP greeting: {greeting[:120]!r}")
    wire.send(b"a1 CAPABILITY\r\n", "a1 CAPABILITY")
    status, lines = _imap_tagged(wire, "a1")
    caps = _imap_caps(lines) or _imap_caps([greeting])
    upper = [c.upper() for c in caps]
    info = {
        "protocol": "imap",
        "banner": [greeting],
        "capability": caps,
        "starttls": "STARTTLS" in upper,
        "logindisabled": "LOGINDISABLED" in upper,
        "auth_before_tls": [c.split("=", 1)[1] for c in upper if c.startswith("AUTH=")],
    }
    if not upgrade:
        wire.send(b"a2 LOGOUT\r\n", "a2 LOGOUT")
        return info
    if not info["starttls"]:
        return {**info, "upgraded": False, "refusal": f"STARTTLS is not offered (IMAP capabilities: {' '.join(caps) or 'none'})"}
    wire.send(b"a2 STARTTLS\r\n", "a2 STARTTLS")
    status, lines = _imap_tagged(wire, "a2")
    if status != "OK":
        return {**info, "upgraded": False, "starttls_answer": lines[-1], "refusal": f"STARTTLS is advertised but refused: {lines[-1][:120]}"}
    return {**info, "upgraded": True, "starttls_answer": lines[-1]}


def pop3_dialogue(wire: Wire, upgrade: bool) -> dict[str, Any]:
    greeting = wire.readline()
    if not greeting.startswith("+OK"):
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: not a POP3 greeting: {greeting[:120]!r}")
    wire.send(b"CAPA\r\n", "CAPA")
    first = wire.readline()
    caps: list[str] = []
    if first.startswith("+OK"):
        for _ in range(MAX_LINES):
            line = wire.readline()
            if line == ".":
                break
            caps.append(line)
        else:
            raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: CAPA answer of more than {MAX_LINES} lines")
    upper = [c.upper() for c in caps]
    sasl = next((c.split()[1:] for c in upper if c.split()[:1] == ["SASL"]), [])
    info = {
        "protocol": "pop3",
        "banner": [greeting],
        "capability": caps,
        "capa_supported": first.startswith("+OK"),
        "starttls": "STLS" in upper,
        "user_before_tls": "USER" in upper,
        "auth_before_tls": sasl,
    }
    if not upgrade:
        wire.send(b"QUIT\r\n", "QUIT")
        return info
    if not info["starttls"]:
        shown = ", ".join(caps) if info["capa_supported"] else "the server does not answer CAPA"
        return {**info, "upgraded": False, "refusal": f"STLS is not offered (POP3 capabilities: {shown or 'none'})"}
    wire.send(b"STLS\r\n", "STLS")
    reply = wire.readline()
    if not reply.startswith("+OK"):
        return {**info, "upgraded": False, "starttls_answer": reply, "refusal": f"STLS is advertised but refused: {reply[:120]}"}
    return {**info, "upgraded": True, "starttls_answer": reply}


PG_SSLREQUEST = struct.pack("!II", 8, 80877103)


def postgresql_dialogue(wire: Wire, upgrade: bool) -> dict[str, Any]:
    wire.send(PG_SSLREQUEST, "SSLRequest (length 8, code 80877103)")
    answer = wire.recv(1)
    if not answer:
        raise ConnectionError("connection closed without an answer to SSLRequest")
    shown = {b"S": "S (SSL accepted)", b"N": "N (SSL not offered)", b"E": "E (error: a server too old for SSLRequest)"}.get(answer, repr(answer))
    wire.t.got(shown)
    info = {"protocol": "postgresql", "answer": answer.decode("latin-1"), "tls_offered": answer == b"S"}
    if answer not in (b"S", b"N"):
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: unexpected answer to SSLRequest: {answer!r}")
    if wire.buffer:
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: bytes after the SSLRequest answer (CVE-2021-23214 pattern); refusing to start TLS")
    info["upgraded"] = answer == b"S"
    if answer != b"S":
        info["refusal"] = "PostgreSQL answered N to SSLRequest: SSL is not enabled on the server"
    return info


CLIENT_PROTOCOL_41 = 0x00000200
CLIENT_SSL = 0x00000800
CLIENT_SECURE_CONNECTION = 0x00008000
CLIENT_LONG_PASSWORD = 0x00000001


def _mysql_packet(wire: Wire) -> tuple[int, bytes]:
    head = wire.recv_exact(4)
    length = head[0] | head[1] << 8 | head[2] << 16
    if length > 64 * 1024:
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: MySQL packet of {length} bytes")
    return head[3], wire.recv_exact(length)


def parse_mysql_greeting(payload: bytes) -> dict[str, Any]:
    """The initial handshake packet (protocol 10): server version and capability flags."""
    if not payload:
        raise ValueError("empty packet")
    if payload[0] == 0xFF:
        code = struct.unpack("<H", payload[1:3])[0] if len(payload) >= 3 else 0
        message = payload[3:].decode("utf-8", "replace").lstrip("#")
        return {"error": True, "error_code": code, "message": message}
    if payload[0] != 10:
        raise ValueError(f"protocol version {payload[0]}, expected 10")
    end = payload.index(b"\x00", 1)
    version = payload[1:end].decode("utf-8", "replace")
    pos = end + 1 + 4 + 8 + 1  # connection id, auth-plugin-data part 1, filler
    flags = struct.unpack("<H", payload[pos : pos + 2])[0]
    if len(payload) >= pos + 2 + 1 + 2 + 2:
        flags |= struct.unpack("<H", payload[pos + 5 : pos + 7])[0] << 16
    return {"error": False, "server_version": version, "capabilities": flags, "client_ssl": bool(flags & CLIENT_SSL)}


def mysql_dialogue(wire: Wire, upgrade: bool) -> dict[str, Any]:
    seq, payload = _mysql_packet(wire)
    try:
        greeting = parse_mysql_greeting(payload)
    except (ValueError, struct.error) as exc:
        raise CollectError(Reason.PARSE_ERROR, f"{wire.host}:{wire.port}: not a MySQL handshake packet ({exc})") from None
    if greeting["error"]:
        wire.t.got(f"error {greeting['error_code']}: {greeting['message']}")
        reason = Reason.PERMISSION_DENIED if greeting["error_code"] in (1129, 1130) else Reason.UNREACHABLE
        raise CollectError(reason, f"{wire.host}:{wire.port}: the MySQL server refused the connection: {greeting['message']}")
    wire.t.got(f"handshake v10, server {greeting['server_version']}, capability flags 0x{greeting['capabilities']:08x} (CLIENT_SSL {'set' if greeting['client_ssl'] else 'not set'})")
    info = {"protocol": "mysql", "server_version": greeting["server_version"], "capabilities": f"0x{greeting['capabilities']:08x}", "tls_offered": greeting["client_ssl"]}
    if not greeting["client_ssl"]:
        return {**info, "upgraded": False, "refusal": f"the server does not offer TLS (CLIENT_SSL not set; server {greeting['server_version']})"}
    if not upgrade:
        return info
    info["upgraded"] = True
    flags = CLIENT_SSL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_LONG_PASSWORD
    body = struct.pack("<IIB", flags, 16 * 1024 * 1024, 33) + b"\x00" * 23  # no user, no password: an SSLRequest packet
    wire.send(struct.pack("<I", len(body))[:3] + bytes([(seq + 1) & 0xFF]) + body, "SSL request packet (capability flags, no user name, no password)")
    return info


DIALOGUES: dict[str, Dialogue] = {"smtp": smtp_dialogue, "imap": imap_dialogue, "pop3": pop3_dialogue, "postgresql": postgresql_dialogue, "mysql": mysql_dialogue}
