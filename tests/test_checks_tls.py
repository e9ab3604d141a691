"""checks/tls*.py against real nginx, postfix and dovecot on loopback.

``tests/tls_rig.py`` makes a test PKI (root and intermediate CA, one leaf
per planted defect) and starts the servers as this test's own processes;
the packages are installed with apt when missing. One audit of the whole
rig runs once for the module (the real runner, ``--only tls``); each test
reads its findings and facts. Every planted endpoint must get exactly the
expected verdict for every control.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from auditor.model import Fact, Run
from auditor.policy import load_policy
from auditor.runner import RunOptions, Runner

import tls_rig
from harness import ensure_packages
from helpers import audit, registry, statuses, verdicts

CERT = ["TLS-CERT-TRUSTED", "TLS-CERT-HOSTNAME", "TLS-CERT-EXPIRY", "TLS-CERT-KEY-STRENGTH", "TLS-CERT-SIGNATURE"]
WEB = ["TLS-PROTOCOLS", *CERT, "TLS-WEB-HSTS", "TLS-WEB-HTTP-REDIRECT"]
MAIL = ["TLS-PROTOCOLS", *CERT, "TLS-MAIL-STARTTLS", "TLS-MAIL-PLAINTEXT-AUTH"]
MINE = ["TLS-PROTOCOLS", "TLS-CERT-*", "TLS-WEB-*", "TLS-MAIL-*"]  # the controls of checks/tls*.py


def expect(controls: list[str], default: str = "pass", **over: str) -> dict[str, str]:
    out = dict.fromkeys(controls, default)
    for key, status in over.items():
        out["TLS-" + key.replace("_", "-")] = status
    return out


EXPECTED = {
    "web:good": expect(WEB),
    "web:ec": expect(WEB),
    "web:old-protocols": expect(WEB, PROTOCOLS="fail"),
    "web:expired": expect(WEB, CERT_TRUSTED="fail", CERT_EXPIRY="fail"),  # OpenSSL's verdict: "certificate has expired"
    "web:expiring": expect(WEB, CERT_EXPIRY="fail"),
    "web:self-signed": expect(WEB, CERT_TRUSTED="fail"),
    "web:mismatch": expect(WEB, CERT_HOSTNAME="fail"),
    "web:rsa1024": expect(WEB, CERT_KEY_STRENGTH="fail"),
    "web:sha1": expect(WEB, CERT_SIGNATURE="fail"),
    "web:no-hsts": expect(WEB, WEB_HSTS="fail", WEB_HTTP_REDIRECT="fail"),
    "web:short-hsts": expect(WEB, WEB_HSTS="fail"),
    "web:no-http-port": expect(WEB),  # nothing listens for plain HTTP: nothing to redirect
    # Named by an http:// URL: no TLS at all (fail), no certificate to judge (skipped, as for a mail service without STARTTLS).
    "web:plain-http": {**expect(WEB, "fail"), **dict.fromkeys(CERT, "skipped")},
    "web:plain-http-redirecting": {**expect(WEB, "fail", WEB_HTTP_REDIRECT="pass"), **dict.fromkeys(CERT, "skipped")},
    "web:down": expect(WEB, "error"),
    "web:silent": expect(WEB, "error"),
    "mail:smtp-good": expect(MAIL),
    # No STARTTLS: no TLS at all (fail), so no certificate to judge (skipped); no AUTH either.
    "mail:smtp-plain": {**expect(MAIL, PROTOCOLS="fail", MAIL_STARTTLS="fail"), **dict.fromkeys(CERT, "skipped")},
    "mail:smtp-auth-first": expect(MAIL, MAIL_PLAINTEXT_AUTH="fail"),
    "mail:imap-pop-required": expect(MAIL),
    "mail:imap-pop-plaintext": expect(MAIL, MAIL_PLAINTEXT_AUTH="fail"),
    "mail:mail-down": expect(MAIL, "error"),
}


@pytest.fixture(scope="module")
def rig() -> Iterator[tls_rig.Rig]:
    ensure_packages("nginx", "postfix", "dovecot-imapd", "dovecot-pop3d", programs=("nginx", "postfix", "dovecot"))
    ensure_packages("openssl")
    folder = tls_rig.make_folder()
    started = tls_rig.start_rig(folder)
    try:
        yield started
    finally:
        started.stop()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def inventory(rig: tls_rig.Rig) -> str:
    path = os.path.join(rig.folder, "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(rig.inventory(), fh, sort_keys=False)
    return path


@pytest.fixture(scope="module")
def run(inventory: str) -> Run:
    return audit(inventory, only=MINE, concurrency=8)


def by_target(run: Run) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for (control, target), status in statuses(run).items():
        out.setdefault(target, {})[control] = status
    return out


def fact(run: Run, target: str, name: str) -> Fact:
    return next(f for f in run.facts if f.target == target and f.name == name)


def evidence_text(f: Fact) -> str:
    return "\n".join(f"{e.source}\n{e.excerpt}" for e in f.evidence)


# -- the verdict matrix ------------------------------------------------------------------


@pytest.mark.integration
def test_every_planted_endpoint_gets_exactly_the_expected_verdicts(run: Run) -> None:
    got = by_target(run)
    assert set(got) == set(EXPECTED)
    wrong = {t: {c: (got[t].get(c), want) for c, want in EXPECTED[t].items() if got[t].get(c) != want} for t in EXPECTED}
    wrong = {t: w for t, w in wrong.items() if w}
    details = {f"{c} {t}": verdicts(run)[(c, t)].message for t, w in wrong.items() for c in w}
    assert not wrong, f"unexpected verdicts (got, want): {wrong}\n{details}"
    for t in EXPECTED:
        assert set(got[t]) == set(EXPECTED[t]), t


@pytest.mark.integration
def test_unreachable_and_silent_endpoints_are_errors_with_their_reason(run: Run) -> None:
    v = verdicts(run)
    for control in WEB:
        down, silent = v[(control, "web:down")], v[(control, "web:silent")]
        assert (down.status.value, down.reason) == ("error", "unreachable"), control
        assert "refused" in down.message
        assert (silent.status.value, silent.reason) == ("error", "timeout"), control
    for control in MAIL:
        assert (v[(control, "mail:mail-down")].status.value, v[(control, "mail:mail-down")].reason) == ("error", "unreachable"), control
    assert fact(run, "web:down", "tls.protocols").status == "error"


@pytest.mark.integration
def test_a_closed_plain_http_port_is_an_answer_not_an_error(run: Run, rig: tls_rig.Rig) -> None:
    site = rig.sites["no-http-port"]
    found = verdicts(run)[("TLS-WEB-HTTP-REDIRECT", "web:no-http-port")]
    assert found.status.value == "pass"
    assert found.message == (f"no plain-HTTP listener; nothing to redirect (connection to 127.0.0.1:{site.http_port} refused (nothing listens there); "
                             "the HTTPS port accepts connections)")
    assert found.details["listener"] is False
    text = evidence_text(fact(run, "web:no-http-port", "tls.http_redirect"))
    assert f"127.0.0.1:{site.http_port} refused" in text  # the refusal is the evidence
    assert f"TCP connect to 127.0.0.1:{site.https_port}" in text and "connection accepted" in text
    # a site refusing both ports is down: still an error, and a timeout stays an error
    down, silent = verdicts(run)[("TLS-WEB-HTTP-REDIRECT", "web:down")], verdicts(run)[("TLS-WEB-HTTP-REDIRECT", "web:silent")]
    assert (down.status.value, down.reason) == ("error", "unreachable") and "HTTPS port refuses connections too" in down.message
    assert (silent.status.value, silent.reason) == ("error", "timeout")


@pytest.mark.integration
def test_a_site_named_by_an_http_url_fails_the_tls_controls_without_probing_https(run: Run, rig: tls_rig.Rig) -> None:
    v = verdicts(run)
    url = f"http://127.0.0.1:{rig.sites['no-hsts'].http_port}/"
    protocols = v[("TLS-PROTOCOLS", "web:plain-http")]
    assert protocols.message == f"offers no TLS at all: served over plain HTTP: the inventory names the site by its http:// URL {url} (no HTTPS port probed)"
    assert v[("TLS-WEB-HSTS", "web:plain-http")].message.startswith(f"served over plain HTTP ({url})")
    assert v[("TLS-WEB-HTTP-REDIRECT", "web:plain-http")].message == f"{url} answers HTTP/1.1 200 OK over plain HTTP instead of redirecting to https://"
    assert v[("TLS-CERT-TRUSTED", "web:plain-http")].message.startswith("no certificate: served over plain HTTP")
    for name in ("tls.protocols", "tls.certificates", "tls.hsts"):
        text = evidence_text(fact(run, "web:plain-http", name))
        assert "served over plain HTTP" in text and ":443" not in text, (name, text)


# -- messages a DPO reads ---------------------------------------------------------------------


@pytest.mark.integration
def test_messages_name_the_defect(run: Run, rig: tls_rig.Rig) -> None:
    v = verdicts(run)
    assert v[("TLS-PROTOCOLS", "web:good")].message == "accepts only TLSv1.2, TLSv1.3"
    assert v[("TLS-PROTOCOLS", "web:old-protocols")].message.startswith("accepts TLSv1.0, TLSv1.1 (below TLSv1.2)")
    assert v[("TLS-PROTOCOLS", "web:old-protocols")].details["endpoints"][0]["accepted"] == ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert "certificate has expired" in v[("TLS-CERT-TRUSTED", "web:expired")].message
    assert "self-signed certificate" in v[("TLS-CERT-TRUSTED", "web:self-signed")].message
    assert v[("TLS-CERT-HOSTNAME", "web:mismatch")].message == "mismatch.test is not among the certificate's names (other.test)"
    assert v[("TLS-CERT-KEY-STRENGTH", "web:rsa1024")].message == "the server's key is RSA 1024 bits (at least 2048 required)"
    assert v[("TLS-CERT-KEY-STRENGTH", "web:ec")].message == "the server's key is EC 256 bits (secp256r1)"
    assert "sha1WithRSAEncryption" in v[("TLS-CERT-SIGNATURE", "web:sha1")].message
    assert re.fullmatch(r"the certificate expires on \d{4}-\d\d-\d\d, in (9|10) days \(less than the policy's 21\)", v[("TLS-CERT-EXPIRY", "web:expiring")].message)
    assert v[("TLS-WEB-HSTS", "web:no-hsts")].message.endswith("sends no Strict-Transport-Security header (HTTP/1.1 200 OK)")
    assert "max-age is 3600 s" in v[("TLS-WEB-HSTS", "web:short-hsts")].message
    assert v[("TLS-WEB-HTTP-REDIRECT", "web:good")].message == f"http://127.0.0.1:{rig.sites['good'].http_port}/ redirects (301) to https://good.test:{rig.sites['good'].https_port}/"
    assert "instead of redirecting" in v[("TLS-WEB-HTTP-REDIRECT", "web:no-hsts")].message
    assert "STARTTLS is not offered" in v[("TLS-MAIL-STARTTLS", "mail:smtp-plain")].message
    assert v[("TLS-MAIL-PLAINTEXT-AUTH", "mail:smtp-auth-first")].message == "before STARTTLS the server offers AUTH PLAIN LOGIN"
    plaintext = v[("TLS-MAIL-PLAINTEXT-AUTH", "mail:imap-pop-plaintext")]
    assert "LOGIN command (no LOGINDISABLED)" in plaintext.message and "USER/PASS" in plaintext.message
    # Implicit-TLS services have no plaintext phase: not judged by the STARTTLS controls, still by the others.
    endpoints = {e["endpoint"].split()[0]: e["verdict"] for e in v[("TLS-MAIL-PLAINTEXT-AUTH", "mail:imap-pop-required")].details["endpoints"]}
    assert endpoints == {"imap": "pass", "imaps": "skip", "pop3": "pass", "pop3s": "skip"}
    assert len(v[("TLS-PROTOCOLS", "mail:imap-pop-required")].details["endpoints"]) == 4


# -- evidence -------------------------------------------------------------------------------


@pytest.mark.integration
def test_protocol_evidence_records_every_version_tried_and_the_answer(run: Run) -> None:
    f = fact(run, "web:good", "tls.protocols")
    versions = f.value["endpoints"][0]["versions"]
    assert set(versions) == {"SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert [v for v, r in versions.items() if r["accepted"]] == ["TLSv1.3", "TLSv1.2"]
    assert "protocol version" in versions["TLSv1.0"]["answer"]
    text = evidence_text(f)
    assert f.evidence[0].kind == "network" and f.evidence[0].sha256
    for line in ("ClientHello SSLv3", "ClientHello TLSv1.0 only", "ClientHello TLSv1.3 only", "ServerHello TLSv1.3", "refused: tlsv1 alert protocol version"):
        assert line in text, line


@pytest.mark.integration
def test_certificate_evidence_names_subject_issuer_sans_validity_and_fingerprint(run: Run, rig: tls_rig.Rig) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    f = fact(run, "web:good", "tls.certificates")
    ep = f.value["endpoints"][0]
    with open(rig.sites["good"].leaf.cert, "rb") as fh:
        leaf = x509.load_pem_x509_certificates(fh.read())[0]
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex(":").upper()
    assert ep["verified"] is True and ep["trust_store"] == f"CA bundle {rig.pki.ca_bundle}"
    assert ep["chain"][0]["sha256"] == fingerprint
    assert ep["chain"][0]["dns_names"] == ["good.test"]
    assert ep["chain"][1]["subject"] == "CN=auditor test intermediate CA,O=auditor test rig"
    assert ep["verified_path"][-1] == "CN=auditor test root CA,O=auditor test rig"
    text = evidence_text(f)
    for needle in (fingerprint, "subject: CN=good.test,O=auditor test rig", "issuer: CN=auditor test intermediate CA", "SANs: good.test", "valid: ", "key: RSA 2048", "sha256WithRSAEncryption"):
        assert needle in text, needle


@pytest.mark.integration
def test_mail_evidence_has_banners_and_capabilities_and_never_credentials(run: Run) -> None:
    smtp = evidence_text(fact(run, "mail:smtp-auth-first", "tls.mail_starttls"))
    assert "< 220 mail.test ESMTP auditor test rig" in smtp
    assert "> EHLO auditor.invalid" in smtp and "< 250-AUTH PLAIN LOGIN" in smtp and "< 250-STARTTLS" in smtp
    imap = evidence_text(fact(run, "mail:imap-pop-required", "tls.mail_starttls"))
    assert "> a1 CAPABILITY" in imap and "LOGINDISABLED" in imap and "> a2 STARTTLS" in imap
    pop3 = fact(run, "mail:imap-pop-plaintext", "tls.mail_starttls")
    assert "> CAPA" in evidence_text(pop3) and "< USER" in evidence_text(pop3)
    sent = [
        line
        for f in run.facts
        if f.target.startswith("mail:")
        for e in f.evidence
        for line in e.excerpt.splitlines()
        if line.startswith("> ")
    ]
    assert sent, "no command recorded"
    allowed = re.compile(r"> (EHLO auditor\.invalid|STARTTLS|QUIT|a1 CAPABILITY|a2 STARTTLS|a2 LOGOUT|CAPA|STLS|ClientHello .*)$")
    assert [line for line in sent if not allowed.match(line)] == []


@pytest.mark.integration
def test_mail_targets_are_probed_through_starttls(run: Run) -> None:
    f = fact(run, "mail:smtp-good", "tls.protocols")
    ep = f.value["endpoints"][0]
    assert ep["starttls"] == "smtp" and ep["accepted"] == ["TLSv1.2", "TLSv1.3"]
    text = evidence_text(f)
    assert "> STARTTLS" in text and "< 220 2.0.0 Ready to start TLS" in text
    plain = fact(run, "mail:smtp-plain", "tls.protocols").value["endpoints"][0]
    assert plain["tls"] is False and "STARTTLS is not offered" in plain["no_tls"]


# -- policy parameters, re-evaluated offline -----------------------------------------------------------


def reevaluate(run: Run, inventory: str, policy_path: str) -> dict[tuple[str, str], str]:
    """Judge the stored facts again under another policy: no network."""
    from auditor.inventory import load_inventory

    reg = registry()
    runner = Runner(reg, load_inventory(inventory), load_policy(policy_path, reg), RunOptions())
    targets = {t.id: t for t in runner.inventory.targets}
    facts: dict[str, dict[str, Fact]] = {}
    for f in run.facts:
        facts.setdefault(f.target, {})[f.name] = f
    out = {}
    for (control, target) in statuses(run):
        out[(control, target)] = runner.evaluate(reg.controls[control], targets[target], facts[target]).status.value
    return out


@pytest.mark.integration
def test_policy_parameters_change_the_verdicts(run: Run, inventory: str, tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(
        "id: lenient\ntitle: Lenient TLS\nextends: baseline-eu\nparameters:\n"
        '  min_tls_version: "1.0"\n  tls_cert_expiry_warning_days: 5\n  hsts_min_age: 3600\n  tls_min_rsa_bits: 1024\n  tls_weak_signature_hashes: [md5]\n',
        encoding="utf-8",
    )
    strict = tmp_path / "strict.yaml"
    strict.write_text('id: strict\ntitle: TLS 1.3 only\nextends: baseline-eu\nparameters:\n  min_tls_version: "1.3"\n  tls_cert_expiry_warning_days: 400\n', encoding="utf-8")

    easy = reevaluate(run, inventory, str(lenient))
    hard = reevaluate(run, inventory, str(strict))

    for key in [("TLS-PROTOCOLS", "web:old-protocols"), ("TLS-CERT-EXPIRY", "web:expiring"), ("TLS-WEB-HSTS", "web:short-hsts"), ("TLS-CERT-KEY-STRENGTH", "web:rsa1024"), ("TLS-CERT-SIGNATURE", "web:sha1")]:
        assert easy[key] == "pass", key
    assert easy[("TLS-CERT-EXPIRY", "web:expired")] == "fail"
    assert hard[("TLS-PROTOCOLS", "web:good")] == "fail"  # accepts TLS 1.2, below 1.3
    assert hard[("TLS-CERT-EXPIRY", "web:good")] == "fail"  # 365 days left < 400
    assert hard == {**hard, **{k: "error" for k in hard if k[1] in ("web:down", "web:silent", "mail:mail-down")}}
