"""The pure parts of the TLS checks: parsers, name matching, and evaluators on recorded facts.

No server here: these pin down decisions (what counts as a wildcard match,
when an undetermined probe makes a verdict an error) that the integration
tests in test_checks_tls.py exercise only through the rig's cases.
"""

from __future__ import annotations

import socket
import struct

import pytest

from auditor.errors import CollectError
from auditor.model import Target
from auditor.transports.dialogues import CLIENT_SSL, PG_SSLREQUEST, parse_mysql_greeting
from auditor.transports.net import endpoints_of, open_net, parse_hsts, parse_http_head, sslv3_client_hello
from checks.tls import tls_cert_expiry, tls_cert_signature, tls_protocols_current
from checks.tls_mail import plaintext_login_offers
from checks.tls_web import redirects_to_https
from checks.x509 import hostname_matches

WEB = Target(id="web:shop", kind="web", name="shop", settings={"url": "https://shop.example.se/"})


@pytest.mark.parametrize(
    "name, dns, ips, expected",
    [
        ("shop.example.se", ["shop.example.se"], [], "shop.example.se"),
        ("SHOP.Example.se.", ["shop.example.se"], [], "shop.example.se"),
        ("www.example.se", ["*.example.se"], [], "*.example.se"),
        ("a.b.example.se", ["*.example.se"], [], None),  # a wildcard covers one label
        ("example.se", ["*.example.se"], [], None),
        ("x.se", ["*.se"], [], None),  # no wildcard for a whole top-level domain
        ("127.0.0.1", ["127.0.0.1"], [], None),  # an IP address matches only an IP SAN
        ("127.0.0.1", [], ["127.0.0.1"], "127.0.0.1"),
        ("::1", [], ["0:0:0:0:0:0:0:1"], "0:0:0:0:0:0:0:1"),
        ("shop.example.se", [], [], None),  # no SAN: the common name is not consulted
    ],
)
def test_hostname_matching_follows_rfc_6125(name: str, dns: list[str], ips: list[str], expected: str | None) -> None:
    assert hostname_matches(name, dns, ips) == expected


def test_hsts_parsing() -> None:
    assert parse_hsts("max-age=31536000; includeSubDomains; preload") == {"max_age": 31536000, "include_subdomains": True, "preload": True, "problems": []}
    assert parse_hsts('max-age="600"')["max_age"] == 600
    assert parse_hsts("includeSubDomains")["problems"] == ["no max-age directive"]
    assert parse_hsts("max-age=soon")["max_age"] is None


def test_http_head_parsing_and_redirects() -> None:
    head = parse_http_head(b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://shop.example.se/\r\nServer: x\r\n\r\nbody")
    assert head is not None and head["status"] == 301
    assert redirects_to_https({"status": 301, "location": "https://shop.example.se/"})
    assert not redirects_to_https({"status": 301, "location": "/login"})
    assert not redirects_to_https({"status": 200, "location": "https://shop.example.se/"})
    assert parse_http_head(b"SSH-2.0-OpenSSH_9.2\r\n") is None


def test_sslv3_client_hello_is_a_well_formed_record() -> None:
    hello = sslv3_client_hello()
    assert hello[:3] == b"\x16\x03\x00"
    assert struct.unpack("!H", hello[3:5])[0] == len(hello) - 5
    assert hello[5] == 1 and hello[9:11] == b"\x03\x00"  # ClientHello, client_version SSL 3.0
    assert PG_SSLREQUEST == struct.pack("!II", 8, 80877103)


def _mysql_greeting(flags: int, version: bytes = b"10.11.6-MariaDB") -> bytes:
    return bytes([10]) + version + b"\x00" + struct.pack("<I", 7) + b"12345678" + b"\x00" + struct.pack("<H", flags & 0xFFFF) + b"\x21" + b"\x02\x00" + struct.pack("<H", flags >> 16) + b"\x15" + b"\x00" * 10


def test_mysql_greeting_parsing() -> None:
    with_tls = parse_mysql_greeting(_mysql_greeting(CLIENT_SSL | 0x00080000))
    assert with_tls["client_ssl"] is True and with_tls["server_version"] == "10.11.6-MariaDB"
    assert parse_mysql_greeting(_mysql_greeting(0xF7FF))["client_ssl"] is False
    refused = parse_mysql_greeting(b"\xff\x6a\x04Host '192.0.2.1' is not allowed to connect")
    assert refused["error"] and refused["error_code"] == 1130


def test_endpoints_come_from_the_inventory_only() -> None:
    mail = Target(id="mail:mx", kind="mail", name="mx", settings={"host": "mx.example.se", "services": ["smtp", "submission", "imaps", "pop3:1110"]})
    eps, _ = endpoints_of(mail)
    assert [(e.service, e.port, e.starttls) for e in eps] == [("smtp", 25, "smtp"), ("submission", 587, "smtp"), ("imaps", 993, None), ("pop3", 1110, "pop3")]
    eps, http = endpoints_of(Target(id="web:w", kind="web", name="w", settings={"url": "https://shop.example.se:8443/a?b=1", "sni": "www.example.se"}))
    assert (eps[0].host, eps[0].port, eps[0].server_name) == ("shop.example.se", 8443, "www.example.se")
    assert (http["http"].url, http["https"].path, http["https"].host_header) == ("http://shop.example.se/a?b=1", "/a?b=1", "www.example.se:8443")
    eps, _ = endpoints_of(Target(id="database:d", kind="database", name="d", settings={"engine": "mariadb", "host": "db1"}))
    assert (eps[0].port, eps[0].starttls) == (3306, "mysql")
    conn = open_net(WEB, None)
    with pytest.raises(CollectError, match="refusing to connect"):
        conn._connect("192.0.2.1", 443, 1e18)


def test_closed_connection_refuses_new_probes() -> None:
    conn = open_net(Target(id="web:w", kind="web", name="w", settings={"url": "https://127.0.0.1:1/"}), None)
    conn.close()
    with pytest.raises(CollectError) as exc:
        conn.probe_version(conn.endpoints[0], "TLSv1.2")
    assert exc.value.reason.value == "interrupted"


def test_plaintext_login_offers() -> None:
    assert plaintext_login_offers({"protocol": "smtp", "auth_before_tls": None}) == []
    assert plaintext_login_offers({"protocol": "smtp", "auth_before_tls": ["PLAIN", "LOGIN"]}) == ["AUTH PLAIN LOGIN"]
    assert plaintext_login_offers({"protocol": "imap", "logindisabled": True, "auth_before_tls": ["SCRAM-SHA-256"]}) == []
    assert plaintext_login_offers({"protocol": "pop3", "user_before_tls": True, "auth_before_tls": ["PLAIN"]}) == ["USER/PASS", "AUTH PLAIN"]


# -- evaluators on recorded facts -------------------------------------------------------------


def _versions(**answers: bool | None) -> dict[str, dict[str, object]]:
    names = {"SSLv3": "SSLv3", "TLS10": "TLSv1.0", "TLS11": "TLSv1.1", "TLS12": "TLSv1.2", "TLS13": "TLSv1.3"}
    return {names[k]: {"accepted": v, "answer": "accepted" if v else ("no answer within 10s" if v is None else "alert protocol_version(70)")} for k, v in answers.items()}


def _protocols(*endpoints: dict[str, object]) -> dict[str, object]:
    return {"tls.protocols": {"endpoints": list(endpoints)}}


def test_an_old_version_that_did_not_answer_makes_the_verdict_an_error_not_a_pass() -> None:
    rec = {"endpoint": "https 192.0.2.1:443", "tls": True, "versions": _versions(SSLv3=False, TLS10=None, TLS11=False, TLS12=True, TLS13=True)}
    out = tls_protocols_current.evaluate(_protocols(rec), {"min_tls_version": "1.2"}, WEB)
    assert (out.status.value, out.reason) == ("error", "timeout")
    assert "TLSv1.0" in out.message


def test_a_failing_endpoint_outweighs_one_that_could_not_be_checked() -> None:
    bad = {"endpoint": "smtp 192.0.2.1:25", "tls": True, "versions": _versions(SSLv3=False, TLS10=True, TLS11=True, TLS12=True, TLS13=False)}
    down = {"endpoint": "imaps 192.0.2.1:993", "error": {"reason": "unreachable", "message": "connection refused"}}
    out = tls_protocols_current.evaluate(_protocols(bad, down), {"min_tls_version": "1.2"}, WEB)
    assert out.status.value == "fail"
    assert out.message == "smtp 192.0.2.1:25: accepts TLSv1.0, TLSv1.1 (below TLSv1.2); accepted: TLSv1.0, TLSv1.1, TLSv1.2 (could not check: imaps 192.0.2.1:993: could not check: connection refused)"


def test_min_tls_version_must_be_a_known_version() -> None:
    rec = {"endpoint": "https 192.0.2.1:443", "tls": True, "versions": _versions(SSLv3=False, TLS10=False, TLS11=False, TLS12=True)}
    out = tls_protocols_current.evaluate(_protocols(rec), {"min_tls_version": "2"}, WEB)
    assert (out.status.value, out.reason) == ("error", "config_error")
    assert tls_protocols_current.evaluate(_protocols(rec), {"min_tls_version": "TLSv1.2"}, WEB).status.value == "pass"


def _cert_fact(checked_at: str, not_after: str, sig: str = "sha256") -> dict[str, object]:
    leaf = {
        "subject": "CN=shop.example.se", "issuer": "CN=CA", "dns_names": ["shop.example.se"], "ip_addresses": [], "not_before": "2024-01-01T00:00:00.000Z",
        "not_after": not_after, "sha256": "AA", "key_type": "RSA", "key_bits": 2048, "curve": None, "signature_algorithm": f"{sig}WithRSAEncryption",
        "signature_hash": sig, "self_signed": False, "ca": False,
    }
    root = {**leaf, "subject": "CN=CA", "signature_algorithm": "sha1WithRSAEncryption", "signature_hash": "sha1", "self_signed": True, "ca": True}
    return {"tls.certificates": {"checked_at": checked_at, "endpoints": [{"endpoint": "https shop.example.se:443", "tls": True, "verified": True, "chain": [leaf, root]}]}}


def test_expiry_is_judged_at_the_time_of_the_check_so_stored_runs_re_evaluate_the_same() -> None:
    fact = _cert_fact("2025-01-01T00:00:00.000Z", "2025-01-15T00:00:00.000Z")
    out = tls_cert_expiry.evaluate(fact, {"tls_cert_expiry_warning_days": 21}, WEB)
    assert (out.status.value, out.message) == ("fail", "the certificate expires on 2025-01-15, in 14 days (less than the policy's 21)")
    assert tls_cert_expiry.evaluate(fact, {"tls_cert_expiry_warning_days": 7}, WEB).status.value == "pass"


def test_a_self_signed_roots_own_sha1_signature_is_not_judged() -> None:
    params = {"tls_weak_signature_hashes": ["md5", "sha1"]}
    assert tls_cert_signature.evaluate(_cert_fact("2025-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"), params, WEB).status.value == "pass"
    out = tls_cert_signature.evaluate(_cert_fact("2025-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z", sig="sha1"), params, WEB)
    assert (out.status.value, out.message) == ("fail", "CN=shop.example.se is signed with sha1WithRSAEncryption")


def test_probe_of_a_port_that_is_closed_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = open_net(Target(id="web:w", kind="web", name="w", settings={"url": f"https://127.0.0.1:{port}/"}), None)
    with pytest.raises(CollectError) as exc:
        conn.probe_version(conn.endpoints[0], "TLSv1.2")
    assert exc.value.reason.value == "unreachable" and "refused" in exc.value.message
