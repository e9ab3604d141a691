"""Access: database and admin ports listening beyond loopback (``ss -tln``).

``ss -H -tlnp``, run without sudo (sockets are no secret), lists the
listening TCP sockets with their owning process (``-p`` names only the audit
account's own processes unless it is root; when ``ss`` refuses it,
``ss -H -tln`` lists the sockets without names, and a ``ss`` too old
for ``-H`` prints a header that is skipped). A socket is *exposed* when
it is bound to a wildcard (``0.0.0.0``, ``::``, ``*``) or to any address
outside 127.0.0.0/8 and ::1, unless it is bound to the loopback interface
(``0.0.0.0%lo``). What is judged is the binding, not the firewall: a port
that a firewall closes is declared in ``exposed_ports_allowed``.

Sockets are live state of the machine the commands run on, not files: on a
server audited through ``root_dir`` (an image or a container root) the fact
does not apply.

>>> parse_ss("LISTEN 0 128 127.0.0.53%lo:53 0.0.0.0:* users:((\\"systemd-resolve\\",pid=1,fd=14))\\n")[0]["interface"]
'lo'
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable, Mapping

from auditor.collect import Context
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, collector, control, count_sv, failed, parameter, passed, sv, unverified

DEFAULT_RESTRICTED_PORTS = [
    3306,  # MySQL / MariaDB
    5432,  # PostgreSQL
    6379,  # Redis
    27017,  # MongoDB
    9200, 9300,  # Elasticsearch / OpenSearch
    11211,  # memcached
    5984,  # CouchDB
    1433,  # Microsoft SQL Server
    1521,  # Oracle
    9042,  # Cassandra
    8086,  # InfluxDB
    2375, 2376,  # Docker API
    10000,  # Webmin
    2082, 2083, 2086, 2087,  # cPanel / WHM
    8443, 8880,  # Plesk
    9090,  # Cockpit
    8006,  # Proxmox VE
    5900,  # VNC
    3389,  # RDP
    6443,  # Kubernetes API
    10250,  # kubelet
    111,  # rpcbind
    2049,  # NFS
    445, 139,  # SMB
]

RESTRICTED_PORTS = parameter(
    "restricted_ports", list, DEFAULT_RESTRICTED_PORTS,
    "TCP ports of databases and administration interfaces that must not listen beyond loopback.",
)
EXPOSED_PORTS_ALLOWED = parameter(
    "exposed_ports_allowed", list, [],
    "Restricted ports accepted on non-loopback addresses (e.g. behind a firewall): \"PORT\" for any address or \"ADDRESS:PORT\" (\"192.0.2.10:5432\", \"[::]:5432\", \"*:3306\").",
)

SS_ATTEMPTS = (("ss", "-H", "-tlnp"), ("ss", "-H", "-tln"), ("ss", "-tln"))  # the last for ss older than -H
SHOWN = 20
_STATES = {"LISTEN", "UNCONN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK", "CLOSING", "CLOSED", "UNKNOWN"}
_PROCESS = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+)')
_WILDCARDS = ("*", "0.0.0.0", "::")


def split_endpoint(text: str) -> tuple[str, str | None, str]:
    """``ADDRESS[%IFACE]:PORT`` as ss prints it → (address, interface, port).

    >>> split_endpoint("[fe80::1%eth0]:22"), split_endpoint("127.0.0.53%lo:53"), split_endpoint(":::22")
    (('fe80::1', 'eth0', '22'), ('127.0.0.53', 'lo', '53'), ('::', None, '22'))
    """
    address, sep, port = text.rpartition(":")
    if not sep or not address:
        raise ValueError(f"no port in {text!r}")
    interface = None
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            raise ValueError(f"unclosed bracket in {text!r}")
        inner, tail = address[1:close], address[close + 1 :]
        if tail.startswith("%"):
            interface = tail[1:]
        address = inner
    if "%" in address:
        address, _, interface = address.partition("%")
    return address, interface or None, port


def _processes(rest: str) -> list[str]:
    names: list[str] = []
    for m in _PROCESS.finditer(rest):
        if m.group(1) not in names:
            names.append(m.group(1))
    return names


def parse_ss(text: str) -> list[dict[str, Any]]:
    """``ss -H -tln[p]`` output → listening sockets (a header line, if any, is skipped)."""
    sockets = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or (fields[0] == "State" or fields[0] == "Recv-Q"):
            continue
        if fields[0] in _STATES:
            if fields[0] != "LISTEN":
                continue
            fields = fields[1:]
        if len(fields) < 4 or not fields[0].isdigit() or not fields[1].isdigit():
            raise CollectError(Reason.PARSE_ERROR, f"unexpected ss output line {number}: {line.strip()[:120]!r}")
        local = fields[2]
        try:
            address, interface, port = split_endpoint(local)
            port_number = int(port)
        except ValueError:
            raise CollectError(Reason.PARSE_ERROR, f"unexpected local address in ss output line {number}: {local!r}") from None
        sockets.append({"local": local, "address": address, "interface": interface, "port": port_number, "process": _processes(" ".join(fields[4:]))})
    return sockets


@collector("net.tcp_listeners", kinds=("server",), timeout=15)
def tcp_listeners(ctx: Context) -> dict[str, Any]:
    if ctx.host.get("root_dir"):
        raise NotApplicable(
            f"the server is audited through root_dir {ctx.host.get('root_dir')}: listening sockets are live state of the machine running the commands, not files under root_dir"
        )
    refused: CollectError | None = None
    for argv in SS_ATTEMPTS:
        try:
            result = ctx.run(list(argv), sudo=False)  # sockets are not secret: no root needed (-p names only our own processes then)
        except CollectError as exc:
            if exc.reason is Reason.NOT_FOUND:
                raise CollectError(Reason.NOT_FOUND, "ss is not installed on this server (Debian/Ubuntu package iproute2); listening ports cannot be listed") from None
            refused = exc
            continue
        return {"command": result.display, "processes": "-tlnp" in argv, "sockets": parse_ss(result.text)}
    assert refused is not None
    raise refused


# -- evaluation --------------------------------------------------------------------


def is_loopback_only(sock: Mapping[str, Any]) -> bool:
    """Reachable only from this machine: bound to the loopback interface or a loopback address."""
    if sock.get("interface") == "lo":
        return True
    address = sock["address"]
    if address in _WILDCARDS:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a name or form we do not know: count it exposed, never hide it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _norm_address(address: str) -> str:
    address = address.strip().strip("[]")
    if address == "*":
        return "*"
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address.lower()


class AllowedEntryError(ValueError):
    """An ``exposed_ports_allowed`` entry that is neither PORT nor ADDRESS:PORT."""

    def __init__(self, entry: Any) -> None:
        super().__init__(f"exposed_ports_allowed entry {entry!r} is neither PORT nor ADDRESS:PORT")
        self.entry = entry


def parse_allowed(entries: Iterable[Any]) -> list[tuple[str | None, int]]:
    """``exposed_ports_allowed`` → (address or None for any, port); ValueError names a bad entry."""
    out = []
    for entry in entries:
        text = str(entry).strip()
        if text.isdigit():
            out.append((None, int(text)))
            continue
        address, sep, port = text.rpartition(":")
        if not sep or not address or not port.isdigit():
            raise AllowedEntryError(entry)
        norm = _norm_address(address)
        out.append((None if norm == "*" else norm, int(port)))
    return out


def _is_allowed(sock: Mapping[str, Any], allowed: list[tuple[str | None, int]]) -> bool:
    return any(port == sock["port"] and (address is None or address == _norm_address(sock["address"])) for address, port in allowed)


def _show(sock: Mapping[str, Any]) -> str:
    return sock["local"] + (f" ({', '.join(sock['process'])})" if sock.get("process") else "")


@control(
    "ACCESS-EXPOSED-SERVICE-PORTS", family="access", kinds=("server",), severity="high",
    facts=("net.tcp_listeners",), params=("restricted_ports", "exposed_ports_allowed"),
    references=("GDPR Art. 32(1)(b)", "CIS Controls v8 4.4, 4.8", "OWASP Database Security Cheat Sheet"),
    title="Databases and admin interfaces listen only on loopback",
    title_sv="Databaser och administrationsgränssnitt lyssnar bara lokalt (loopback)",
    rationale_sv="En databas, en cache eller en administrationspanel som lyssnar på en publik adress eller på alla adresser kan nås av alla som kan nå servern; personuppgifter med 'starkt begränsad' åtkomst måste ligga bakom loopback, ett privat nätverk eller ett uttryckligt, angivet undantag.",
    remediation="Make the listed services listen on loopback or a private address, or declare the exception in the inventory.",
    remediation_sv="Låt de listade tjänsterna lyssna på loopback eller en privat adress, eller ange undantaget i inventariet.",
    plain="{n} server(s) expose a database or admin interface on a public address",
    plain_sv="{n} server(ar) exponerar en databas eller ett administrationsgränssnitt på en publik adress",
    rationale="A database, cache or administration panel listening on a public or wildcard address can be reached by anyone who can route to the server; "
    "personal data 'strongly restricted' in access must sit behind loopback, a private network or an explicit, declared exception.",
)
def exposed_service_ports(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["net.tcp_listeners"]
    try:
        restricted = {int(p) for p in params["restricted_ports"]}
    except ValueError:
        found = repr(params['restricted_ports'])
        return unverified(sv(f"restricted_ports must list port numbers, found {found}", f"restricted_ports ska vara en lista med portnummer, men är {found}"), reason="config_error")
    try:
        allowed = parse_allowed(params["exposed_ports_allowed"])
    except AllowedEntryError as exc:
        return unverified(sv(str(exc), f"posten {exc.entry!r} i exposed_ports_allowed är varken PORT eller ADRESS:PORT"), reason="config_error")
    sockets = fact["sockets"]
    watched = [s for s in sockets if s["port"] in restricted]
    exposed = [s for s in watched if not is_loopback_only(s)]
    offenders = [s for s in exposed if not _is_allowed(s, allowed)]
    accepted = [s for s in exposed if _is_allowed(s, allowed)]
    details = {
        "listening": [_show(s) for s in sockets],
        "exposed_allowed": [_show(s) for s in accepted],
        "loopback_only": [_show(s) for s in watched if is_loopback_only(s)],
    }
    if offenders:
        named = ", ".join(_show(s) for s in offenders[:SHOWN])
        return failed(sv(
            f"{len(offenders)} database or admin port(s) listen beyond loopback: " + named
            + " (bind them to 127.0.0.1 or a private address; if a firewall closes them, declare them in exposed_ports_allowed)",
            f"{count_sv(len(offenders), 'databas- eller administrationsport', 'databas- eller administrationsportar')} lyssnar på mer än loopback: " + named
            + " (bind dem till 127.0.0.1 eller en privat adress; om en brandvägg stänger dem, ange dem i exposed_ports_allowed)"),
            offenders=[{"local": s["local"], "port": s["port"], "process": s["process"]} for s in offenders], **details,
        )
    note = f"; allowed by policy: {', '.join(details['exposed_allowed'])}" if accepted else ""
    note_sv = f"; tillåtna enligt policyn: {', '.join(details['exposed_allowed'])}" if accepted else ""
    return passed(sv(f"No database or admin port listens beyond loopback ({len(sockets)} listening TCP socket(s) checked{note})",
                     f"Ingen databas- eller administrationsport lyssnar på mer än loopback ({count_sv(len(sockets), 'lyssnande TCP-socket', 'lyssnande TCP-socketar')} har kontrollerats{note_sv})"), **details)
