"""checks/ports.py: database and admin ports listening beyond loopback.

Real listening sockets are opened inside a network namespace the test
creates (``ip netns add``): loopback up, and a veth pair (or a dummy
interface, where the kernel has that module) with TEST-NET addresses
192.0.2.10/24 and 2001:db8::10/64, so that nothing the test binds is
reachable from outside the namespace and no other address is ever used.
The collector's commands run inside the namespace through a connection
that prefixes argv with ``ip netns exec NAME`` (as RunAsUser does with
runuser), through the real runner's collect and evaluate steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from auditor.errors import CollectError
from auditor.model import Reason
from checks.ports import DEFAULT_RESTRICTED_PORTS, exposed_service_ports, is_loopback_only, parse_allowed, parse_ss, split_endpoint

from harness import _Wrapped, audit_through, ensure_packages
from helpers import audit, verdicts

BOX = "server:box"
CONTROL = "ACCESS-EXPOSED-SERVICE-PORTS"
PUBLIC4, PUBLIC6 = "192.0.2.10", "2001:db8::10"  # TEST-NET-1 and the documentation prefix, inside the namespace only


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace with lo up and one more interface holding TEST-NET addresses."""
    ensure_packages("iproute2", programs=("ip", "ss"))
    name = f"auditor-test-{uuid.uuid4().hex[:8]}"
    created = ip("netns", "add", name, check=False)
    if created.returncode != 0:
        pytest.fail(f"test harness: `ip netns add {name}` failed: {created.stderr.strip()}", pytrace=False)
    try:
        inside = ("netns", "exec", name, "ip")
        ip(*inside, "link", "set", "lo", "up")
        if ip(*inside, "link", "add", "audit0", "type", "dummy", check=False).returncode != 0:
            ip(*inside, "link", "add", "audit0", "type", "veth", "peer", "name", "audit1")  # no dummy module: a veth pair, both ends inside
            ip(*inside, "link", "set", "audit1", "up")
        ip(*inside, "addr", "add", f"{PUBLIC4}/24", "dev", "audit0")
        ip(*inside, "-6", "addr", "add", f"{PUBLIC6}/64", "dev", "audit0", "nodad")
        ip(*inside, "link", "set", "audit0", "up")
        yield name
    finally:
        ip("netns", "del", name, check=False)


class InNamespace(_Wrapped):
    """Run every command inside network namespace ``name``."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.prefix = ("ip", "netns", "exec", name)


LISTENER = r"""
import ctypes, json, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)  # PR_SET_NAME: what ss -p shows
held = []
for fam, addr, port, v6only, dev in json.loads(sys.argv[1]):
    s = socket.socket(socket.AF_INET6 if fam == 6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    if dev:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind((addr, port))
    s.listen()
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def listen(netns: str) -> Iterator[Any]:
    """listen([(family, address, port, v6only, device), ...], name): real sockets inside the namespace until the test ends."""
    procs: list[subprocess.Popen[str]] = []

    def start(specs: list[tuple[int, str, int, int | None, str | None]], name: str = "fake-daemon") -> None:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", LISTENER, json.dumps(specs), name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "ready":
            proc.kill()
            pytest.fail(f"listener did not start: {proc.stderr.read() if proc.stderr else ''}", pytrace=False)

    yield start
    for proc in procs:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def inventory(folder: Path | str, **settings: Any) -> str:
    path = os.path.join(str(folder), "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "servers": [{"name": "box", "connection": "local", **settings}]}, fh)
    return path


def policy(folder: Path, **parameters: Any) -> str:
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump({"id": "ports-test", "title": "Ports test", "extends": "baseline-eu", "parameters": parameters}), encoding="utf-8")
    return str(path)


def audit_ns(folder: Path, netns: str, policy_name: str = "baseline-eu") -> tuple[Any, Any]:
    facts, findings = audit_through(inventory(folder), InNamespace(netns), policy=policy_name, only=[CONTROL])
    return facts[f"{BOX}/net.tcp_listeners"], findings[(CONTROL, BOX)]


MIXED = [
    (4, "0.0.0.0", 3306, None, None),  # MySQL on every IPv4 address
    (6, "::", 5432, 1, None),  # PostgreSQL on every IPv6 address
    (6, "::", 6379, 0, None),  # Redis dual-stack: ss prints *:6379
    (4, PUBLIC4, 27017, None, None),  # MongoDB on a public address
    (6, PUBLIC6, 9042, 1, None),  # Cassandra on a public IPv6 address
    (4, "127.0.0.1", 2375, None, None),  # Docker API on loopback: fine
    (6, "::1", 8086, 1, None),  # InfluxDB on IPv6 loopback: fine
    (6, "::ffff:127.0.0.1", 11211, 0, None),  # memcached on IPv4-mapped loopback: fine
    (4, "0.0.0.0", 9200, None, "lo"),  # Elasticsearch on any address of lo only (0.0.0.0%lo): fine
    (4, "127.0.0.53", 53, None, "lo"),  # a resolver stub 127.0.0.53%lo: not restricted anyway
    (4, "0.0.0.0", 8080, None, None),  # a public web port: not restricted
]


def test_restricted_ports_beyond_loopback_fail_exactly(tmp_path: Path, netns: str, listen: Any) -> None:
    listen(MIXED, "fake-mysqld")

    fact, finding = audit_ns(tmp_path, netns)

    assert fact.status == "ok", fact.message
    assert finding.status.value == "fail"
    offenders = {o["local"] for o in finding.details["offenders"]}
    assert offenders == {"0.0.0.0:3306", "[::]:5432", "*:6379", f"{PUBLIC4}:27017", f"[{PUBLIC6}]:9042"}
    assert finding.message.startswith("5 database or admin port(s) listen beyond loopback: ")
    assert "0.0.0.0:3306 (fake-mysqld)" in finding.message
    assert "exposed_ports_allowed" in finding.message
    assert set(finding.details["loopback_only"]) == {"127.0.0.1:2375 (fake-mysqld)", "[::1]:8086 (fake-mysqld)", "[::ffff:127.0.0.1]:11211 (fake-mysqld)", "0.0.0.0%lo:9200 (fake-mysqld)"}
    assert not any(":8080" in o or ":53" in o for o in offenders)


def test_only_loopback_databases_pass(tmp_path: Path, netns: str, listen: Any) -> None:
    listen([(4, "127.0.0.1", 3306, None, None), (6, "::1", 5432, 1, None), (4, "0.0.0.0", 443, None, None), (6, "::", 22, 1, None)], "fake-postgres")

    fact, finding = audit_ns(tmp_path, netns)

    assert finding.status.value == "pass", finding.message
    assert finding.message == "No database or admin port listens beyond loopback (4 listening TCP socket(s) checked)"
    assert {s["port"] for s in fact.value["sockets"]} == {3306, 5432, 443, 22}


def test_nothing_listening_passes_with_the_empty_ss_output_as_evidence(tmp_path: Path, netns: str) -> None:
    fact, finding = audit_ns(tmp_path, netns)

    assert finding.status.value == "pass"
    assert "0 listening TCP socket(s)" in finding.message
    assert fact.evidence[0].argv == ("ip", "netns", "exec", netns, "ss", "-H", "-tlnp")


def test_policy_allows_declared_exposures(tmp_path: Path, netns: str, listen: Any) -> None:
    listen(MIXED)
    lenient = policy(tmp_path, exposed_ports_allowed=["3306", f"{PUBLIC4}:27017", "[::]:5432", "*:6379"])

    _, finding = audit_ns(tmp_path, netns, lenient)

    assert finding.status.value == "fail"
    assert [o["local"] for o in finding.details["offenders"]] == [f"[{PUBLIC6}]:9042"]
    assert set(finding.details["exposed_allowed"]) == {"0.0.0.0:3306 (fake-daemon)", f"{PUBLIC4}:27017 (fake-daemon)", "[::]:5432 (fake-daemon)", "*:6379 (fake-daemon)"}


def test_address_specific_allowance_does_not_cover_other_addresses(tmp_path: Path, netns: str, listen: Any) -> None:
    listen([(4, "0.0.0.0", 3306, None, None)])
    narrow = policy(tmp_path, exposed_ports_allowed=[f"{PUBLIC4}:3306", 5432])

    _, finding = audit_ns(tmp_path, netns, narrow)

    assert finding.status.value == "fail"
    assert "0.0.0.0:3306" in finding.message


def test_all_allowed_passes_and_says_so(tmp_path: Path, netns: str, listen: Any) -> None:
    listen([(4, PUBLIC4, 5432, None, None)])

    _, finding = audit_ns(tmp_path, netns, policy(tmp_path, exposed_ports_allowed=[5432]))

    assert finding.status.value == "pass"
    assert finding.message.endswith(f"allowed by policy: {PUBLIC4}:5432 (fake-daemon))")


def test_restricted_ports_come_from_the_policy(tmp_path: Path, netns: str, listen: Any) -> None:
    listen([(4, "0.0.0.0", 8080, None, None), (4, "0.0.0.0", 3306, None, None)])

    _, finding = audit_ns(tmp_path, netns, policy(tmp_path, restricted_ports=[8080]))

    assert finding.status.value == "fail"
    assert [o["local"] for o in finding.details["offenders"]] == ["0.0.0.0:8080"]


def test_this_machine_over_the_local_transport(tmp_path: Path) -> None:
    """The same collector on the machine running the tests: a verdict, never an error, with ss as evidence."""
    ensure_packages("iproute2", programs=("ss",))
    run = audit(inventory(tmp_path), only=[CONTROL])

    finding = verdicts(run)[(CONTROL, BOX)]
    assert finding.status.value in ("pass", "fail"), finding.message
    fact = next(f for f in run.facts if f.name == "net.tcp_listeners")
    assert fact.evidence[0].argv == ("ss", "-H", "-tlnp")


def test_root_dir_servers_are_skipped(tmp_path: Path) -> None:
    run = audit(inventory(tmp_path, root_dir=str(tmp_path)), only=[CONTROL])

    finding = verdicts(run)[(CONTROL, BOX)]
    assert (finding.status.value, finding.reason) == ("skipped", "not_applicable")
    assert "live state" in finding.message


# -- parser and evaluator on recorded output --------------------------------------------

RECORDED = """\
LISTEN 0      128         127.0.0.53%lo:53    0.0.0.0:* users:(("systemd-resolve",pid=612,fd=14))
LISTEN 0      151               0.0.0.0:3306  0.0.0.0:* users:(("mariadbd",pid=901,fd=21))
LISTEN 0      128            0.0.0.0%lo:9200  0.0.0.0:* users:(("java",pid=77,fd=3))
LISTEN 0      4096                    *:6379        *:* users:(("redis-server",pid=5,fd=6),("redis-server",pid=6,fd=6))
LISTEN 0      128    [::ffff:127.0.0.1]:11211       *:* users:(("memcached",pid=8,fd=26))
LISTEN 0      244                  [::]:5432     [::]:* users:(("postgres",pid=10,fd=7))
LISTEN 0      128       [fe80::1%eth0]:22      [::]:*
LISTEN 0      128                 [::1]:8086     [::]:*
"""


def test_parse_ss_recorded_output() -> None:
    sockets = parse_ss(RECORDED)

    assert [(s["address"], s["interface"], s["port"]) for s in sockets] == [
        ("127.0.0.53", "lo", 53), ("0.0.0.0", None, 3306), ("0.0.0.0", "lo", 9200), ("*", None, 6379),
        ("::ffff:127.0.0.1", None, 11211), ("::", None, 5432), ("fe80::1", "eth0", 22), ("::1", None, 8086),
    ]
    assert sockets[3]["process"] == ["redis-server"]
    assert sockets[6]["process"] == []
    assert [is_loopback_only(s) for s in sockets] == [True, False, True, False, True, False, False, True]


def test_parse_ss_with_header_and_old_style_addresses() -> None:
    text = (
        "State      Recv-Q Send-Q Local Address:Port               Peer Address:Port\n"
        "LISTEN     0      128          *:22                       *:*\n"
        "LISTEN     0      128         :::3306                    :::*\n"
        "LISTEN     0      80     127.0.0.1:5432                   *:*\n"
    )
    assert [(s["address"], s["port"]) for s in parse_ss(text)] == [("*", 22), ("::", 3306), ("127.0.0.1", 5432)]


def test_parse_ss_without_state_column() -> None:
    assert parse_ss("0 128 0.0.0.0:3306 0.0.0.0:*\n")[0]["port"] == 3306


@pytest.mark.parametrize("line", ["LISTEN 0 128 nonsense 0.0.0.0:*", "LISTEN x y 0.0.0.0:3306 0.0.0.0:*", "LISTEN 0 128 [::1:22 [::]:*"])
def test_parse_ss_rejects_garbage(line: str) -> None:
    with pytest.raises(CollectError) as caught:
        parse_ss(line + "\n")
    assert caught.value.reason is Reason.PARSE_ERROR


def test_split_endpoint_forms() -> None:
    assert split_endpoint("[::ffff:127.0.0.1]:11211") == ("::ffff:127.0.0.1", None, "11211")
    assert split_endpoint("*:3306") == ("*", None, "3306")
    assert split_endpoint("[::]:5432") == ("::", None, "5432")
    assert split_endpoint("192.0.2.10%audit0:80") == ("192.0.2.10", "audit0", "80")


def test_parse_allowed_entries() -> None:
    assert parse_allowed([3306, "5432", "192.0.2.10:27017", "[::]:9200", "*:6379", "[2001:DB8::10]:9042"]) == [
        (None, 3306), (None, 5432), ("192.0.2.10", 27017), ("::", 9200), (None, 6379), ("2001:db8::10", 9042),
    ]
    with pytest.raises(ValueError, match="neither PORT nor ADDRESS:PORT"):
        parse_allowed(["mysql"])


def _evaluate(sockets: list[dict[str, Any]], **params: Any) -> Any:
    values = {"restricted_ports": DEFAULT_RESTRICTED_PORTS, "exposed_ports_allowed": [], **params}
    return exposed_service_ports.evaluate({"net.tcp_listeners": {"command": "ss -H -tlnp", "processes": True, "sockets": sockets}}, values, None)


def test_evaluator_on_recorded_output() -> None:
    outcome = _evaluate(parse_ss(RECORDED))
    assert outcome.status.value == "fail"
    assert [o["local"] for o in outcome.details["offenders"]] == ["0.0.0.0:3306", "*:6379", "[::]:5432"]
    assert "0.0.0.0:3306 (mariadbd)" in outcome.message


def test_bad_policy_parameters_are_errors_not_verdicts() -> None:
    sockets = parse_ss(RECORDED)
    bad_allowed = _evaluate(sockets, exposed_ports_allowed=["mysql"])
    assert (bad_allowed.status.value, bad_allowed.reason) == ("error", "config_error")
    bad_ports = _evaluate(sockets, restricted_ports=["mysql"])
    assert (bad_ports.status.value, bad_ports.reason) == ("error", "config_error")


def test_default_restricted_ports_cover_the_usual_suspects() -> None:
    assert {3306, 5432, 6379, 27017, 9200, 9300, 11211, 5984, 1433, 1521, 9042, 8086, 2375, 2376, 10000, 2082, 2083, 2086, 2087,
            8443, 8880, 9090, 8006, 5900, 3389, 6443, 10250, 111, 2049, 445, 139} == set(DEFAULT_RESTRICTED_PORTS)
