"""TLS: protocol versions and certificates of web, mail and database endpoints.

Each endpoint the inventory names (a web target's https URL; every service
of a mail target, through STARTTLS where the service starts in plaintext; a
database through PostgreSQL's SSLRequest or MySQL's SSL request packet) is
probed the way a TLS scanner does, through the ``net`` transport:

* ``tls.protocols``: one handshake per version, SSLv3 to TLS 1.3, the
  client's security level lowered to 0 for the probe only (OpenSSL 3 would
  not even offer TLS 1.0/1.1 otherwise), so an old version is judged by
  what the *server* accepts.
* ``tls.certificates``: the chain the server presents, verified by OpenSSL
  against the system store or the inventory's CA bundle (``ca_bundle``, or
  ``tls_ca`` for databases), with each certificate's subject, issuer, SANs,
  validity, SHA-256 fingerprint, key and signature hash.

The controls are pure functions of those facts. A target's verdict is the
worst of its endpoints': ``fail`` if any endpoint fails, else ``error`` if
any could not be checked, else ``pass``. Expiry is judged at the time the
certificate was fetched (``checked_at``), so a stored run re-evaluates to
the same verdict.

>>> version_key("TLSv1.2") > version_key("TLSv1.0")
True
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

from auditor.collect import Context
from auditor.errors import CollectError
from auditor.model import Reason, Target
from auditor.registry import Outcome, Text, collector, control, failed, parameter, passed, skipped, sv, unverified
from auditor.transports.net import VERSIONS, NoHandshake, NoTLS, Transcript
from checks.x509 import certificate_details, days_between, hostname_matches, now_iso

TLS_KINDS = ("web", "mail", "database")

MIN_TLS_VERSION = parameter(
    "min_tls_version", str, "1.2",
    "Lowest TLS version an endpoint may accept: 1.0, 1.1, 1.2 or 1.3 (SSLv3 is never acceptable). The endpoint must also accept at least one version at or above it.",
)
CERT_EXPIRY_WARNING_DAYS = parameter(
    "tls_cert_expiry_warning_days", int, 21,
    "A certificate expiring within this many days of the audit fails (renewal is overdue), as does an expired one.",
)
MIN_RSA_BITS = parameter("tls_min_rsa_bits", int, 2048, "Smallest RSA (and DSA) key accepted in a server certificate, in bits.")
MIN_EC_BITS = parameter("tls_min_ec_bits", int, 256, "Smallest elliptic-curve key accepted in a server certificate, in bits (Ed25519 counts as 256).")
WEAK_SIGNATURE_HASHES = parameter(
    "tls_weak_signature_hashes", list, ["md2", "md4", "md5", "sha1"],
    "Hash algorithms a certificate of the presented chain must not be signed with (a self-signed root's own signature is not judged).",
)

_VERSION_NAMES = {"1.0": "TLSv1.0", "1.1": "TLSv1.1", "1.2": "TLSv1.2", "1.3": "TLSv1.3"}


def version_key(name: str) -> int:
    return VERSIONS.index(name)


# -- shared helpers (also used by tls_web, tls_mail, tls_db) -------------------------------


def endpoint_error(exc: CollectError) -> dict[str, str]:
    return {"reason": exc.reason.value, "message": exc.message}


def record_transcripts(ctx: Context, source: str, transcripts: Sequence[Transcript]) -> None:
    """One evidence entry for several probes of one endpoint: the first in full, then from TLS on."""
    if not transcripts:
        return
    first = transcripts[0]
    summary = Transcript(source, started_at=first.started_at, t0=first.t0)
    summary.lines.extend(first.lines)
    for t in transcripts[1:]:
        summary.lines.append("")
        summary.lines.extend(t.tail() if t.tls_from else t.lines)
    ctx.evidence.append(summary.evidence())


def raise_if_all_failed(records: Sequence[Mapping[str, Any]]) -> None:
    """No endpoint answered at all: the fact is an error (unreachable, timeout), never an empty pass."""
    errors = [r["error"] for r in records if r.get("error")]
    if records and len(errors) == len(records):
        reasons = {e["reason"] for e in errors}
        reason = Reason(reasons.pop()) if len(reasons) == 1 else Reason.UNREACHABLE
        raise CollectError(reason, "; ".join(e["message"] for e in errors))


Verdict = tuple[str, Text, dict[str, Any]]

_WHAT_SV = {"protocols": "protokoll", "certificates": "certifikat", "plaintext mail services": "okrypterade e-posttjänster"}


def could_not_check(error: Mapping[str, Any]) -> Verdict:
    """An endpoint the probe could not reach: the collector's own words, quoted in both languages."""
    return "error", sv(f"could not check: {error['message']}", f"kunde inte kontrolleras ({error['message']})"), {"reason": error["reason"]}


def judge_endpoints(records: Sequence[Mapping[str, Any]], judge: Callable[[Mapping[str, Any]], Verdict], *, what: str) -> Outcome:
    """Combine per-endpoint verdicts: fail > error > pass; skipped when no endpoint applies.

    ``judge`` returns (``pass``/``fail``/``error``/``skip``, message in both languages, details) for one endpoint.
    """
    results, texts = [], []
    for rec in records:
        verdict, message, details = judge(rec)
        results.append({"endpoint": rec.get("endpoint"), "verdict": verdict, "message": message.en, **details})
        texts.append(message)
    single = len(results) == 1

    def text(verdict: str) -> Text:
        chosen = [(r, t) for r, t in zip(results, texts) if r["verdict"] == verdict]
        return sv("; ".join(t.en if single else f"{r['endpoint']}: {t.en}" for r, t in chosen),
                  "; ".join(t.sv if single else f"{r['endpoint']}: {t.sv}" for r, t in chosen))

    by = {v: [r for r in results if r["verdict"] == v] for v in ("pass", "fail", "error", "skip")}
    details = {"endpoints": results}
    if by["fail"]:
        fail, error = text("fail"), text("error")
        if by["error"]:
            return failed(sv(f"{fail.en} (could not check: {error.en})", f"{fail.sv} (kunde inte kontrolleras: {error.sv})"), **details)
        return failed(fail, **details)
    if by["error"]:
        reasons = {r.get("reason") for r in by["error"]} - {None}
        return unverified(text("error"), reason=reasons.pop() if len(reasons) == 1 else "incomplete_evidence", **details)
    if by["pass"]:
        return passed(text("pass"), **details)
    if by["skip"]:
        return skipped(text("skip"), **details)
    return skipped(sv(f"no endpoint to judge for {what}", f"ingen tjänst att bedöma för {_WHAT_SV.get(what, what)}"), **details)


def join(parts: Sequence[Text], sep: str = "; ") -> Text:
    """Messages in both languages joined, each language with its own."""
    return sv(sep.join(p.en for p in parts), sep.join(p.sv for p in parts))


def _store_sv(store: Any) -> str:
    """The trust store as the collector names it ("system store (paths)", "CA bundle /etc/x.pem"), in Swedish."""
    text = str(store)
    if text.startswith("system store"):
        return "systemets certifikatlager" + text.removeprefix("system store")
    if text.startswith("CA bundle "):
        return "CA-paketet " + text.removeprefix("CA bundle ")
    return f"certifikatlagret ({text})"


_REFUSALS_SV: tuple[tuple[str, str], ...] = (
    (r"(?P<cmd>\S+) is not offered \((?P<proto>\S+) (?:keywords|capabilities): (?P<list>.*)\)", "{cmd} erbjuds inte ({proto}: {list})"),
    (r"(?P<cmd>\S+) is advertised but refused: (?P<reply>.*)", "{cmd} annonseras men avvisas (svar: {reply})"),
    (r"PostgreSQL answered N to SSLRequest: SSL is not enabled on the server", "PostgreSQL svarade N på SSLRequest: SSL är inte påslaget på servern"),
    (r"the server does not offer TLS \(CLIENT_SSL not set; server (?P<server>.*)\)", "servern erbjuder inte TLS (CLIENT_SSL är inte satt; server {server})"),
    (r"served over plain HTTP: the inventory names the site by its http:// URL (?P<url>\S+) \(no HTTPS port probed\)",
     "levereras över okrypterad HTTP: inventariet anger webbplatsen med sin http://-adress {url} (ingen HTTPS-port provad)"),
    (r"(?P<label>.+?): the TLS handshake failed: (?P<why>.*)", "{label}: TLS-handskakningen misslyckades ({why})"),
    (r"(?P<label>.+?): connection closed during the TLS handshake \((?P<why>.*)\)", "{label}: anslutningen stängdes under TLS-handskakningen ({why})"),
    (r"(?P<label>.+?) offers no TLS", "{label} erbjuder inte TLS"),
)


def refusal_sv(text: Any) -> str:
    """Why an endpoint has no TLS, as the net transport words it, in Swedish; an unknown wording is quoted."""
    for pattern, swedish in _REFUSALS_SV:
        m = re.fullmatch(pattern, str(text))
        if m:
            return swedish.format(**{k: ("inga" if v == "none" else v) for k, v in m.groupdict().items()})
    return f"({text})"


# -- collectors ------------------------------------------------------------------------------


@collector("tls.protocols", kinds=TLS_KINDS, transport="net", timeout=90)
def tls_protocols(ctx: Context) -> dict[str, Any]:
    conn = ctx.conn
    records = []
    for ep in conn.endpoints:
        rec: dict[str, Any] = {**ep.public(), "tls": True, "versions": {}}
        transcripts: list[Transcript] = []
        answered, silent = False, 0
        try:
            for version in reversed(VERSIONS):  # newest first: a silent endpoint is found at once
                result = conn.probe_version(ep, version, budget=ctx.remaining())
                transcripts.append(result.pop("transcript"))
                answered = answered or result["accepted"] is not None or bool(result.get("answered"))
                silent += 1 if result.get("timeout") else 0
                if silent >= 2 and not answered:  # two versions without a byte back: the endpoint is not answering
                    raise CollectError(Reason.TIMEOUT, f"{ep.label}: no answer to the TLSv1.3 and TLSv1.2 ClientHellos within {conn.timeout:g}s each")
                rec["versions"][version] = {k: v for k, v in result.items() if k in ("accepted", "answer", "cipher")}
        except NoTLS as exc:
            rec.update(tls=False, no_tls=exc.message, versions={})
        except CollectError as exc:
            rec["error"] = endpoint_error(exc)
        rec["accepted"] = [v for v in VERSIONS if rec["versions"].get(v, {}).get("accepted")]
        records.append(rec)
        record_transcripts(ctx, f"protocol versions of {ep.label}" + (f" (STARTTLS {ep.starttls})" if ep.starttls else ""), transcripts)
        if rec.get("no_tls") and not transcripts:
            ctx.record("network", f"protocol versions of {ep.label}", f"# {ep.label}: {rec['no_tls']}")
        if rec.get("error") and not transcripts:
            ctx.record("network", f"protocol versions of {ep.label}", f"# {rec['error']['reason']}: {rec['error']['message']}")
    raise_if_all_failed(records)
    return {"endpoints": records}


def _describe_chain(details: Sequence[Mapping[str, Any]], found: Mapping[str, Any]) -> str:
    lines = [f"trust store: {found.get('trust_store')}", f"verified: {'yes' if found.get('verified') else 'no: ' + str(found.get('verify_error'))}", f"negotiated: {found.get('negotiated')}"]
    for i, c in enumerate(details):
        if "error" in c:
            lines.append(f"[{i}] unreadable certificate: {c['error']}")
            continue
        key = f"{c['key_type']} {c['key_bits']}" + (f" ({c['curve']})" if c.get("curve") else "")
        sans = ", ".join([*c["dns_names"], *c["ip_addresses"]]) or "none"
        lines.append(
            f"[{i}] subject: {c['subject']}\n    issuer: {c['issuer']}\n    SANs: {sans}\n    valid: {c['not_before']} .. {c['not_after']}\n"
            f"    key: {key}; signature: {c['signature_algorithm']}\n    sha256: {c['sha256']}"
        )
    return "\n".join(lines)


@collector("tls.certificates", kinds=TLS_KINDS, transport="net", timeout=60)
def tls_certificates(ctx: Context) -> dict[str, Any]:
    conn = ctx.conn
    checked_at = now_iso()
    records = []
    for ep in conn.endpoints:
        rec: dict[str, Any] = {**ep.public(), "tls": True}
        try:
            found, transcripts = conn.certificates(ep, budget=ctx.remaining())
            for t in transcripts:
                ctx.evidence.append(t.evidence())
            chain = []
            for der in found.pop("chain_der"):
                try:
                    chain.append(certificate_details(der))
                except Exception as exc:  # noqa: BLE001 - a certificate we cannot parse is recorded as such
                    chain.append({"error": f"{type(exc).__name__}: {exc}"})
            verified = []
            for der in found.pop("verified_chain_der", []):
                try:
                    verified.append(certificate_details(der)["subject"])
                except Exception:  # noqa: BLE001
                    verified.append("(unreadable)")
            rec.update(found, chain=chain, verified_path=verified)
            ctx.record("network", f"certificate chain of {ep.label}" + (f" (SNI {ep.server_name})" if ep.server_name != ep.host else ""), _describe_chain(chain, found))
        except NoTLS as exc:
            rec.update(tls=False, no_tls=exc.message)
            ctx.record("network", f"certificate of {ep.label}", f"# no TLS: {exc.message}")
        except NoHandshake as exc:
            rec.update(tls=False, no_tls=exc.message)
            ctx.record("network", f"certificate of {ep.label}", f"# no TLS handshake: {exc.message}")
        except CollectError as exc:
            rec["error"] = endpoint_error(exc)
            ctx.record("network", f"certificate of {ep.label}", f"# {exc.reason.value}: {exc.message}")
        records.append(rec)
    raise_if_all_failed(records)
    return {"checked_at": checked_at, "endpoints": records}


# -- evaluation helpers -------------------------------------------------------------------------


def _no_tls_skip(rec: Mapping[str, Any]) -> Verdict | None:
    if rec.get("error"):
        return could_not_check(rec["error"])
    if not rec.get("tls", True):
        return "skip", sv(f"no certificate: {rec.get('no_tls')}", f"inget certifikat: {refusal_sv(rec.get('no_tls'))}"), {}
    return None


def _leaf(rec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    chain = rec.get("chain") or []
    return chain[0] if chain else None


def _cert_controls(rec: Mapping[str, Any]) -> Verdict | Mapping[str, Any]:
    """Shared preamble: an error or skip verdict, or the leaf certificate to judge."""
    early = _no_tls_skip(rec)
    if early is not None:
        return early
    leaf = _leaf(rec)
    if leaf is None:
        return "error", sv("the server presented no certificate", "servern visade inget certifikat"), {"reason": "incomplete_evidence"}
    if "error" in leaf:
        return "error", sv(f"the server's certificate could not be read: {leaf['error']}", f"serverns certifikat gick inte att läsa ({leaf['error']})"), {"reason": "parse_error"}
    return leaf


# -- controls ------------------------------------------------------------------------------------

_REFS = ("GDPR Art. 32(1)(a)", "BSI TR-02102-2", "Mozilla Server Side TLS (intermediate)", "NIST SP 800-52r2")


@control(
    "TLS-PROTOCOLS", family="tls", kinds=TLS_KINDS, severity="high", facts=("tls.protocols",), params=("min_tls_version",), references=_REFS,
    title="Endpoints accept only current TLS versions",
    title_sv="Tjänsterna tar bara emot aktuella TLS-versioner",
    rationale_sv="SSLv3, TLS 1.0 och TLS 1.1 har kända attacker och är avvecklade (RFC 8996); en server som fortfarande tar emot dem låter en klient, eller en angripare mitt emellan, falla tillbaka till dem. En tjänst som inte tar emot TLS alls skickar personuppgifter och lösenord i klartext.",
    remediation="Allow only TLS 1.2 and 1.3 in the service's TLS configuration (for example ssl_protocols in nginx, SSLProtocol in Apache).",
    remediation_sv="Tillåt bara TLS 1.2 och 1.3 i tjänstens TLS-konfiguration (till exempel ssl_protocols i nginx, SSLProtocol i Apache).",
    plain="{n} endpoint(s) accept outdated TLS versions or no TLS",
    plain_sv="{n} tjänst(er) tar emot föråldrade TLS-versioner eller inte TLS alls",
    rationale="SSLv3, TLS 1.0 and TLS 1.1 have known attacks and are deprecated (RFC 8996); a server that still accepts them lets a client, or an attacker "
    "in the middle, fall back to them. An endpoint that accepts no TLS at all carries personal data and passwords in plaintext.",
)
def tls_protocols_current(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    minimum = _VERSION_NAMES.get(str(params["min_tls_version"]).strip().removeprefix("TLSv").removeprefix("TLS "))
    if minimum is None:
        return unverified(sv(f"min_tls_version {params['min_tls_version']!r} is not one of 1.0, 1.1, 1.2, 1.3",
                             f"min_tls_version {params['min_tls_version']!r} är inte något av 1.0, 1.1, 1.2, 1.3"), reason="config_error")
    floor = version_key(minimum)

    def judge(rec: Mapping[str, Any]) -> Verdict:
        if rec.get("error"):
            return could_not_check(rec["error"])
        if not rec.get("tls", True):
            return "fail", sv(f"offers no TLS at all: {rec.get('no_tls')}", f"erbjuder inte TLS alls: {refusal_sv(rec.get('no_tls'))}"), {"accepted": []}
        versions = rec.get("versions", {})
        accepted = [v for v in VERSIONS if versions.get(v, {}).get("accepted") is True]
        old = [v for v in accepted if version_key(v) < floor]
        unknown = [v for v in VERSIONS if version_key(v) < floor and versions.get(v, {}).get("accepted") is None]
        modern = [v for v in accepted if version_key(v) >= floor]
        shown = {"accepted": accepted, "minimum": minimum}
        if old:
            return "fail", sv(f"accepts {', '.join(old)} (below {minimum}); accepted: {', '.join(accepted)}",
                              f"tar emot {', '.join(old)} (lägre än {minimum}); tar emot: {', '.join(accepted)}"), shown
        if not modern:
            answers = "; ".join(f"{v} {versions[v].get('answer')}" for v in VERSIONS if v in versions)
            return "fail", sv(f"accepts no TLS version at or above {minimum} (answers: {answers})", f"tar inte emot någon TLS-version från och med {minimum} (svar: {answers})"), shown
        if unknown:
            return "error", sv(f"no answer to {', '.join(unknown)} probes; cannot confirm they are refused",
                               f"inget svar på försöken med {', '.join(unknown)}; går inte att bekräfta att de avvisas"), {**shown, "reason": "timeout"}
        return "pass", sv(f"accepts only {', '.join(accepted)}", f"tar bara emot {', '.join(accepted)}"), shown

    return judge_endpoints(facts["tls.protocols"]["endpoints"], judge, what="protocols")


@control(
    "TLS-CERT-TRUSTED", family="tls", kinds=TLS_KINDS, severity="high", facts=("tls.certificates",), references=_REFS + ("RFC 5280 §6",),
    title="Certificates chain to a trusted authority",
    title_sv="Certifikaten leder till en betrodd utfärdare",
    rationale_sv="Klienter kan bara skilja den riktiga servern från en bedragare när certifikatet leder till en utfärdare de litar på (systemets lager, eller det CA-paket som inventariet anger för en egen PKI). Självsignerade, utgångna eller ofullständiga kedjor lär användare att klicka sig förbi varningar.",
    remediation="Install a certificate from a trusted authority (for example Let's Encrypt) with its full intermediate chain.",
    remediation_sv="Installera ett certifikat från en betrodd utfärdare (till exempel Let's Encrypt) med hela kedjan av mellanliggande certifikat.",
    plain="{n} endpoint(s) present certificates that do not chain to a trusted authority",
    plain_sv="{n} tjänst(er) visar certifikat som inte leder till en betrodd utfärdare",
    rationale="Clients can only tell the real server from an impostor when its certificate chains to an authority they trust (the system store, or the CA "
    "bundle the inventory names for private PKI). Self-signed, expired or incomplete chains train users to click through warnings.",
)
def tls_cert_trusted(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    def judge(rec: Mapping[str, Any]) -> Verdict:
        leaf = _cert_controls(rec)
        if isinstance(leaf, tuple):
            return leaf
        shown = {"subject": leaf["subject"], "issuer": leaf["issuer"], "trust_store": rec.get("trust_store"), "verified_path": rec.get("verified_path", [])}
        if rec.get("verified"):
            return "pass", sv(f"chain verifies against the {rec.get('trust_store')} (issuer {leaf['issuer']})",
                              f"kedjan verifieras mot {_store_sv(rec.get('trust_store'))} (utfärdare {leaf['issuer']})"), shown
        return "fail", sv(f"chain does not verify against the {rec.get('trust_store')}: {rec.get('verify_error')} (subject {leaf['subject']}, issuer {leaf['issuer']})",
                          f"kedjan verifieras inte mot {_store_sv(rec.get('trust_store'))} ({rec.get('verify_error')}; subjekt {leaf['subject']}, utfärdare {leaf['issuer']})"),\
            {**shown, "verify_error": rec.get("verify_error")}

    return judge_endpoints(facts["tls.certificates"]["endpoints"], judge, what="certificates")


@control(
    "TLS-CERT-HOSTNAME", family="tls", kinds=TLS_KINDS, severity="high", facts=("tls.certificates",), references=_REFS + ("RFC 6125", "RFC 9110 §4.3.4"),
    title="Certificates name the host clients connect to",
    title_sv="Certifikaten anger det värdnamn som klienterna ansluter till",
    rationale_sv="Ett certifikat för ett annat namn ger ingen försäkran om det här: webbläsare och e-postklienter vägrar eller varnar, och en klient som struntar i namnet kan få vilket giltigt certifikat som helst av en angripare. Bara subjectAltName räknas, som i webbläsare.",
    remediation="Issue a certificate whose subjectAltName includes the host name clients connect to.",
    remediation_sv="Skaffa ett certifikat vars subjectAltName innehåller det värdnamn som klienterna ansluter till.",
    plain="{n} endpoint(s) present certificates for another host name",
    plain_sv="{n} tjänst(er) visar certifikat för ett annat värdnamn",
    rationale="A certificate for another name gives no assurance about this one: browsers and mail clients refuse it or warn, and a client that "
    "ignores the name can be served any valid certificate by an attacker. Only subjectAltName entries count, as in browsers.",
)
def tls_cert_hostname(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    def judge(rec: Mapping[str, Any]) -> Verdict:
        leaf = _cert_controls(rec)
        if isinstance(leaf, tuple):
            return leaf
        name = rec.get("server_name") or rec.get("host") or ""
        names = [*leaf["dns_names"], *leaf["ip_addresses"]]
        match = hostname_matches(name, leaf["dns_names"], leaf["ip_addresses"])
        shown = {"name": name, "subject_alt_names": names}
        if match:
            return "pass", sv(f"{name} matches the certificate's name {match}", f"{name} stämmer med certifikatets namn {match}"), shown
        if not names:
            return "fail", sv(f"the certificate has no subjectAltName (subject {leaf['subject']}); {name} is not covered",
                              f"certifikatet saknar subjectAltName (subjekt {leaf['subject']}); {name} omfattas inte"), shown
        return "fail", sv(f"{name} is not among the certificate's names ({', '.join(names)})", f"{name} finns inte bland certifikatets namn ({', '.join(names)})"), shown

    return judge_endpoints(facts["tls.certificates"]["endpoints"], judge, what="certificates")


@control(
    "TLS-CERT-EXPIRY", family="tls", kinds=TLS_KINDS, severity="high", facts=("tls.certificates",), params=("tls_cert_expiry_warning_days",),
    references=_REFS + ("CA/Browser Forum Baseline Requirements 6.3.2",),
    title="Certificates are valid and not about to expire",
    title_sv="Certifikaten är giltiga och går inte ut inom kort",
    rationale_sv="Ett utgånget certifikat stoppar alla klienter eller får dem att godta varningar; ett som går ut inom varningsperioden visar att förnyelsen inte är automatiserad eller har misslyckats. Bedöms vid den tidpunkt då certifikatet hämtades.",
    remediation="Renew the certificate and automate renewal (for example certbot or an ACME client with a timer).",
    remediation_sv="Förnya certifikatet och automatisera förnyelsen (till exempel med certbot eller en ACME-klient med en timer).",
    plain="{n} endpoint(s) have expired certificates or certificates about to expire",
    plain_sv="{n} tjänst(er) har utgångna certifikat eller certifikat som snart går ut",
    rationale="An expired certificate breaks every client or makes them accept warnings; one expiring within the warning window shows renewal is not "
    "automated or has failed. Judged at the time the certificate was fetched.",
)
def tls_cert_expiry(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["tls.certificates"]
    at = fact["checked_at"]
    warn = params["tls_cert_expiry_warning_days"]

    def judge(rec: Mapping[str, Any]) -> Verdict:
        leaf = _cert_controls(rec)
        if isinstance(leaf, tuple):
            return leaf
        left = days_between(at, leaf["not_after"])
        started = days_between(leaf["not_before"], at)
        shown = {"not_before": leaf["not_before"], "not_after": leaf["not_after"], "checked_at": at, "days_left": round(left, 1), "warning_days": warn}
        if left < 0:
            return "fail", sv(f"the certificate expired on {leaf['not_after'][:10]} ({-left:.0f} days before the check)",
                              f"certifikatet gick ut {leaf['not_after'][:10]} ({-left:.0f} dagar före kontrollen)"), shown
        if started < 0:
            return "fail", sv(f"the certificate is not valid before {leaf['not_before'][:10]}", f"certifikatet gäller inte före {leaf['not_before'][:10]}"), shown
        if left < warn:
            return "fail", sv(f"the certificate expires on {leaf['not_after'][:10]}, in {left:.0f} days (less than the policy's {warn})",
                              f"certifikatet går ut {leaf['not_after'][:10]}, om {left:.0f} dagar (färre än policyns {warn})"), shown
        return "pass", sv(f"valid until {leaf['not_after'][:10]} ({left:.0f} days left)", f"giltigt till {leaf['not_after'][:10]} ({left:.0f} dagar kvar)"), shown

    return judge_endpoints(fact["endpoints"], judge, what="certificates")


@control(
    "TLS-CERT-KEY-STRENGTH", family="tls", kinds=TLS_KINDS, severity="medium", facts=("tls.certificates",), params=("tls_min_rsa_bits", "tls_min_ec_bits"),
    references=_REFS + ("BSI TR-02102-1 §3.6", "CA/Browser Forum Baseline Requirements 6.1.5"),
    title="Certificate keys are strong enough",
    title_sv="Certifikatens nycklar är tillräckligt starka",
    rationale_sv="RSA-nycklar under 2048 bitar och elliptiska kurvnycklar under 256 bitar ligger inom räckhåll för angripare med resurser; en knäckt servernyckel avslöjar varje session den skyddat utan forward secrecy och låter innehavaren utge sig för att vara servern.",
    remediation="Issue a new certificate with an RSA key of at least 2048 bits or an EC key of at least 256 bits.",
    remediation_sv="Skaffa ett nytt certifikat med en RSA-nyckel på minst 2048 bitar eller en EC-nyckel på minst 256 bitar.",
    plain="{n} endpoint(s) have certificate keys that are too weak",
    plain_sv="{n} tjänst(er) har certifikatnycklar som är för svaga",
    rationale="RSA keys below 2048 bits and elliptic-curve keys below 256 bits are within reach of well-funded attackers; a broken server key exposes "
    "every session it protected without forward secrecy and lets its holder impersonate the server.",
)
def tls_cert_key_strength(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    min_rsa, min_ec = params["tls_min_rsa_bits"], params["tls_min_ec_bits"]

    def judge(rec: Mapping[str, Any]) -> Verdict:
        leaf = _cert_controls(rec)
        if isinstance(leaf, tuple):
            return leaf
        weak: list[Text] = []
        judged = [leaf] + [c for c in (rec.get("chain") or [])[1:] if "error" not in c and not c.get("self_signed")]
        for i, cert in enumerate(judged):
            kind, bits = cert.get("key_type"), cert.get("key_bits")
            label = sv("the server's key", "serverns nyckel") if i == 0 else sv(f"the key of {cert['subject']}", f"nyckeln för {cert['subject']}")
            if kind in ("RSA", "DSA") and (bits or 0) < min_rsa:
                weak.append(sv(f"{label.en} is {kind} {bits} bits (at least {min_rsa} required)", f"{label.sv} är {kind} {bits} bitar (minst {min_rsa} krävs)"))
            elif kind == "EC" and (bits or 0) < min_ec:
                weak.append(sv(f"{label.en} is EC {bits} bits (at least {min_ec} required)", f"{label.sv} är EC {bits} bitar (minst {min_ec} krävs)"))
            elif kind not in ("RSA", "DSA", "EC", "Ed25519", "Ed448"):
                weak.append(sv(f"{label.en} is of an unknown type {kind}", f"{label.sv} är av en okänd typ, {kind}"))
        shown = {"key_type": leaf["key_type"], "key_bits": leaf["key_bits"], "curve": leaf.get("curve")}
        if weak:
            return "fail", join(weak), shown
        curve = f" ({leaf['curve']})" if leaf.get("curve") else ""
        return "pass", sv(f"the server's key is {leaf['key_type']} {leaf['key_bits']} bits{curve}", f"serverns nyckel är {leaf['key_type']} {leaf['key_bits']} bitar{curve}"), shown

    return judge_endpoints(facts["tls.certificates"]["endpoints"], judge, what="certificates")


@control(
    "TLS-CERT-SIGNATURE", family="tls", kinds=TLS_KINDS, severity="medium", facts=("tls.certificates",), params=("tls_weak_signature_hashes",),
    references=_REFS + ("CA/Browser Forum Baseline Requirements 7.1.3", "SHAttered (2017)"),
    title="Certificates are not signed with SHA-1 or MD5",
    title_sv="Certifikaten är inte signerade med SHA-1 eller MD5",
    rationale_sv="Kollisioner har beräknats för SHA-1 och MD5, så en signatur gjord med dem bevisar inte längre att certifikatet utfärdats av sin CA; webbläsare avvisar dem. Hela den visade kedjan bedöms utom en självsignerad rot, vars egen signatur ändå inte bevisar något.",
    remediation="Replace the certificate (and any intermediate) signed with SHA-1 or MD5 by one signed with SHA-256 or better.",
    remediation_sv="Ersätt certifikatet (och eventuella mellanliggande certifikat) som är signerat med SHA-1 eller MD5 med ett som är signerat med SHA-256 eller bättre.",
    plain="{n} endpoint(s) present certificates signed with SHA-1 or MD5",
    plain_sv="{n} tjänst(er) visar certifikat signerade med SHA-1 eller MD5",
    rationale="Collisions have been computed for SHA-1 and MD5, so a signature made with them no longer proves the certificate was issued by its CA; "
    "browsers reject them. The presented chain is judged except a self-signed root, whose own signature proves nothing anyway.",
)
def tls_cert_signature(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    weak_hashes = {str(h).lower().replace("-", "") for h in params["tls_weak_signature_hashes"]}

    def judge(rec: Mapping[str, Any]) -> Verdict:
        leaf = _cert_controls(rec)
        if isinstance(leaf, tuple):
            return leaf
        chain = [c for c in rec.get("chain") or [] if "error" not in c]
        judged = [leaf] + [c for c in chain[1:] if not c.get("self_signed")]
        weak = [sv(f"{c['subject']} is signed with {c['signature_algorithm']}", f"{c['subject']} är signerat med {c['signature_algorithm']}")
                for c in judged if str(c.get("signature_hash") or "").lower().replace("-", "") in weak_hashes]
        shown = {"signatures": [{"subject": c["subject"], "signature": c["signature_algorithm"]} for c in judged]}
        if weak:
            return "fail", join(weak), shown
        algorithms = ", ".join(dict.fromkeys(c["signature_algorithm"] for c in judged))
        return "pass", sv(f"signed with {algorithms}", f"signerat med {algorithms}"), shown

    return judge_endpoints(facts["tls.certificates"]["endpoints"], judge, what="certificates")
