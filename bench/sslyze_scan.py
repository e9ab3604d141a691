"""Run sslyze on a list of endpoints and print what it found, as JSON (the peer side of bench/tls.py).

Runs under whichever Python has ``sslyze`` importable (bench/tls.py keeps it
in a virtual environment of its own, so that sslyze's pinned
``cryptography`` never replaces the project's). Input on stdin::

    {"ca_file": "/path/ca.pem", "endpoints": [{"name": "good", "host": "127.0.0.1", "port": 8443, "server_name": "good.test"}]}

Output on stdout: one record per endpoint with the protocol versions that
had at least one cipher suite accepted, the received leaf certificate
(SHA-256, key, signature hash, validity) and the path validation against
the custom CA file (sslyze 6 validates with ``cryptography``'s verifier,
hostname included), plus the wall time of the scan.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)

PROTOCOL_COMMANDS = {
    "SSLv3": ScanCommand.SSL_3_0_CIPHER_SUITES,
    "TLSv1.0": ScanCommand.TLS_1_0_CIPHER_SUITES,
    "TLSv1.1": ScanCommand.TLS_1_1_CIPHER_SUITES,
    "TLSv1.2": ScanCommand.TLS_1_2_CIPHER_SUITES,
    "TLSv1.3": ScanCommand.TLS_1_3_CIPHER_SUITES,
}


_CA_FILE = ""


def main() -> int:
    global _CA_FILE
    job = json.load(sys.stdin)
    _CA_FILE = job["ca_file"]
    extra = ScanCommandsExtraArguments(certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(job["ca_file"])))
    names = {}
    requests = []
    for ep in job["endpoints"]:
        request = ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=ep["server_name"], port=ep["port"], ip_address=ep["host"]),
            network_configuration=ServerNetworkConfiguration(tls_server_name_indication=ep["server_name"], network_timeout=job.get("timeout", 5)),
            scan_commands={*PROTOCOL_COMMANDS.values(), ScanCommand.CERTIFICATE_INFO},
            scan_commands_extra_arguments=extra,
        )
        names[request.uuid] = ep["name"]
        requests.append(request)
    t0 = time.monotonic()
    scanner = Scanner(**({"concurrent_server_scans_limit": job["concurrency"]} if job.get("concurrency") else {}))
    scanner.queue_scans(requests)
    out = {names[result.uuid]: _record(result) for result in scanner.get_results()}
    print(json.dumps({"seconds": time.monotonic() - t0, "endpoints": out}))
    return 0


def _record(result) -> dict:  # noqa: ANN001 - sslyze's ServerScanResult
    if result.scan_status != ServerScanStatusEnum.COMPLETED:
        return {"error": f"{result.scan_status.name}: {result.connectivity_error_trace and str(result.connectivity_error_trace).splitlines()[-1]}"}
    rec: dict = {"accepted": [], "errors": {}}
    for version, command in PROTOCOL_COMMANDS.items():
        attempt = getattr(result.scan_result, command.value)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
            rec["errors"][version] = str(attempt.error_reason)
            continue
        if attempt.result.accepted_cipher_suites:
            rec["accepted"].append(version)
    cert_attempt = result.scan_result.certificate_info
    if cert_attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
        rec["errors"]["certificate"] = str(cert_attempt.error_reason)
        return rec
    deployment = cert_attempt.result.certificate_deployments[0]
    leaf = deployment.received_certificate_chain[0]
    key = leaf.public_key()
    # sslyze validates against its bundled stores (Mozilla, Apple, ...) and appends the custom CA file last.
    validation = next(v for v in deployment.path_validation_results if str(v.trust_store.path) == str(Path(_CA_FILE)))
    rec["certificate"] = {
        "sha256": leaf.fingerprint(hashes.SHA256()).hex(":").upper(),
        "key_type": "RSA" if isinstance(key, rsa.RSAPublicKey) else "EC" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__,
        "key_bits": getattr(key, "key_size", None) or getattr(getattr(key, "curve", None), "key_size", None),
        "signature_hash": leaf.signature_hash_algorithm.name if leaf.signature_hash_algorithm else None,
        "not_after": leaf.not_valid_after_utc.isoformat(),
        "trust_store": str(validation.trust_store.path),
        "validated": validation.was_validation_successful,
        "validation_error": validation.validation_error,
        "verified_chain_has_sha1_signature": deployment.verified_chain_has_sha1_signature,
        "chain_length": len(deployment.received_certificate_chain),
    }
    return rec


if __name__ == "__main__":
    sys.exit(main())
