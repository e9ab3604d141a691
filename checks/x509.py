"""X.509 certificates as the TLS checks read them: details, name matching, validity in days.

The ``net`` transport hands over the DER chain a server presented
(:meth:`auditor.transports.net.NetConnection.certificates`); what a reader
and a control need of each certificate is read here.

>>> hostname_matches("www.example.se", ["*.example.se"], [])
'*.example.se'
>>> hostname_matches("a.b.example.se", ["*.example.se"], []) is None
True
>>> days_between("2026-01-01T00:00:00Z", "2026-01-31T12:00:00Z")
30.5
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any, Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from auditor.timeutil import iso, utc_now

__all__ = ["certificate_details", "hostname_matches", "days_between", "now_iso"]

def certificate_details(der: bytes) -> dict[str, Any]:
    """What a reader (and a control) needs of one X.509 certificate."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_type, key_bits, curve = "RSA", key.key_size, None
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, key_bits, curve = "EC", key.curve.key_size, key.curve.name
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, key_bits, curve = "Ed25519", 256, None
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, key_bits, curve = "Ed448", 456, None
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, key_bits, curve = "DSA", key.key_size, None
    else:
        key_type, key_bits, curve = type(key).__name__, None, None
    try:
        sig_hash = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm is not None else None
    except UnsupportedAlgorithm:
        sig_hash = "unknown"
    sig_name = getattr(cert.signature_algorithm_oid, "_name", None) or cert.signature_algorithm_oid.dotted_string
    self_issued = cert.subject == cert.issuer
    self_signed = False
    if self_issued:
        try:
            cert.verify_directly_issued_by(cert)
            self_signed = True
        except Exception:  # noqa: BLE001 - an unverifiable self-signature is simply not self-signed
            self_signed = False
    try:
        ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        ca = False
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "dns_names": dns,
        "ip_addresses": ips,
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "key_type": key_type,
        "key_bits": key_bits,
        "curve": curve,
        "signature_algorithm": sig_name,
        "signature_hash": sig_hash,
        "self_signed": self_signed,
        "ca": ca,
    }


def hostname_matches(name: str, dns_names: Sequence[str], ip_addresses: Sequence[str]) -> str | None:
    """The SAN entry that covers ``name`` (RFC 6125: exact, or a wildcard for the whole left-most label), else None.

    The subject's common name is not consulted: browsers stopped doing so.
    """
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        for entry in ip_addresses:
            try:
                if ipaddress.ip_address(entry) == ip:
                    return entry
            except ValueError:
                continue
        return None
    wanted = _idna(name)
    for entry in dns_names:
        pattern = _idna(entry)
        if pattern == wanted:
            return entry
        if pattern.startswith("*.") and "." in wanted:
            first, rest = wanted.split(".", 1)
            if first and rest == pattern[2:] and "." in rest:
                return entry
    return None


def _idna(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return name


# -- validity ---------------------------------------------------------------------


def days_between(start_iso: str, end_iso: str) -> float:
    a = datetime.datetime.fromisoformat(start_iso.replace("Z", "+00:00"))
    b = datetime.datetime.fromisoformat(end_iso.replace("Z", "+00:00"))
    return (b - a).total_seconds() / 86400.0


def now_iso() -> str:
    return iso(utc_now())
