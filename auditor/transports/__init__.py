"""Transport factory: which connection a target gets for a collector's needs.

Collectors name the kind of connection they need (``shell``, ``inventory``,
...). For ``shell``, the target's ``connection`` setting picks the transport:
``local`` runs on this machine, ``ssh`` reaches a remote server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import CollectError
from ..model import Reason, Target
from .base import CommandResult, Connection, ShellConnection, check_argv
from .local import LocalConnection

__all__ = ["CommandResult", "Connection", "ShellConnection", "check_argv", "Transports", "InventoryConnection", "LocalConnection", "ConnectOptions"]


@dataclass(frozen=True)
class ConnectOptions:
    """Run-wide connection options from the command line."""

    connect_timeout: float = 10.0
    trust_on_first_use: bool = False
    known_hosts: str | None = None  # overrides ~/.ssh/known_hosts when the inventory names none
    keepalive: float = 15.0
    max_handshakes: int = 10  # SSH handshakes in flight at once per destination or jump host


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

    def open(self, need: str, target: Target) -> Any:
        if need == "inventory":
            return InventoryConnection()
        if need == "shell":
            host = self.shell_host(target)
            how = host.get("connection", "ssh")
            if how == "local":
                return LocalConnection()
            if how == "ssh":
                raise CollectError(Reason.CONFIG_ERROR, "the SSH transport is not available in this version of auditor; use connection: local for this machine")
            raise CollectError(Reason.CONFIG_ERROR, f"unknown connection type {how!r}")
        raise CollectError(Reason.CONFIG_ERROR, f"no transport provides {need!r} connections for {target.kind} targets")

    def shell_host(self, target: Target) -> Target:
        """The server whose shell a target is reached through (a backup: its ``server``)."""
        if target.kind != "backup":
            return target
        server = self.targets.get(f"server:{target.get('server')}")
        if server is None:
            raise CollectError(Reason.CONFIG_ERROR, f"backup {target.name} names no server that the inventory defines")
        return server

    def close(self) -> None:
        """Close what is shared between targets (called once, at the end of the run)."""
