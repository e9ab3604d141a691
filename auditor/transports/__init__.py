"""Transport factory: which connection a target gets for a collector's needs.

Collectors name the kind of connection they need (``shell``, ``inventory``,
...). For ``shell``, the target's ``connection`` setting picks the transport:
``local`` runs on this machine, ``ssh`` reaches a remote server.

What SSH connections share within a run (jump-host connections, known_hosts,
the bound on handshakes in flight) lives in one :class:`SSHConnector` owned
by :class:`Transports` and closed with it, never in module globals.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import CollectError, NotApplicable
from ..model import Reason, Target
from .base import CommandResult, Connection, ShellConnection, check_argv
from .local import LocalConnection
from .ssh import SSHConnection, SSHConnector

__all__ = ["CommandResult", "Connection", "ShellConnection", "check_argv", "Transports", "InventoryConnection", "LocalConnection", "SSHConnection", "ConnectOptions"]


@dataclass(frozen=True)
class ConnectOptions:
    """Run-wide connection options from the command line."""

    connect_timeout: float = 10.0
    trust_on_first_use: bool = False
    known_hosts: str | None = None  # overrides ~/.ssh/known_hosts when the inventory names none
    keepalive: float = 15.0  # seconds between SSH keepalives on idle connections
    max_handshakes: int = 10  # SSH handshakes in flight at once per destination or jump host (sshd starts dropping at MaxStartups, default 10)


# Transports that speak a protocol to an endpoint rather than run commands on
# a server: need -> "module:function(target, transports) -> connection".
# Imported on first use, so a run that needs none of them loads none of them.
PROTOCOL_TRANSPORTS = {
    "net": "auditor.transports.net:open_net",  # TLS / STARTTLS handshakes (web, mail, database endpoints)
    "db": "auditor.transports.db:open_db",  # SQL sessions (PostgreSQL, MySQL/MariaDB)
    "aws": "auditor.transports.aws:open_aws",  # boto3 sessions per account
}


class InventoryConnection:
    """No connection at all: collectors read what the inventory declares."""

    transport = "inventory"

    def close(self) -> None:
        pass


class Transports:
    """Opens the connections of one run.

    Shared state between targets lives here, not in globals: e.g. one
    connection to a jump host carries the tunnels of every server behind it.
    ``targets`` maps target names and ids to targets (for proxy_jump and
    backup -> server references).
    """

    def __init__(self, options: ConnectOptions, targets: Mapping[str, Target] | None = None):
        self.options = options
        self.targets = dict(targets or {})
        self.ssh = SSHConnector(options, self.targets)

    def open(self, need: str, target: Target) -> Any:
        if need == "inventory":
            return InventoryConnection()
        if need == "shell":
            host = self.shell_host(target)
            how = host.get("connection", "ssh")
            if how == "local":
                return LocalConnection()
            if how == "ssh":
                return self.ssh.open(host)
            raise CollectError(Reason.CONFIG_ERROR, f"unknown connection type {how!r}")
        if need in PROTOCOL_TRANSPORTS:
            module_name, func_name = PROTOCOL_TRANSPORTS[need].split(":")
            opener = getattr(importlib.import_module(module_name), func_name)
            return opener(target, self)
        raise CollectError(Reason.CONFIG_ERROR, f"no transport provides {need!r} connections for {target.kind} targets")

    def shell_host(self, target: Target) -> Target:
        """The server whose shell a target is reached through (a backup: its ``server``)."""
        if target.kind != "backup":
            return target
        if not target.get("server"):
            raise NotApplicable(f"{target.get('type')} backup {target.name} is not on a server; the {target.get('type')} checks audit it")
        server = self.targets.get(f"server:{target.get('server')}")
        if server is None:
            raise CollectError(Reason.CONFIG_ERROR, f"backup {target.name} names no server that the inventory defines")
        return server

    def close(self) -> None:
        """Close what is shared between targets (called once, at the end of the run)."""
        self.ssh.close()
