"""TLS for mail targets: STARTTLS offered, and no password accepted before it.

For every service that starts in plaintext (``smtp``, ``submission``,
``imap``, ``pop3``) the collector reads the greeting and the capabilities
(EHLO, CAPABILITY, CAPA), sends STARTTLS (STLS for POP3) and records the
answer, then closes the connection before any TLS handshake: no login,
no credential, nothing else is sent. Implicit-TLS services (``smtps``,
``imaps``, ``pop3s``) have no plaintext phase; their TLS is judged by
TLS-PROTOCOLS and the certificate controls.

>>> plaintext_login_offers({"protocol": "imap", "logindisabled": False, "auth_before_tls": ["PLAIN"]})
['LOGIN command (no LOGINDISABLED)', 'AUTHENTICATE PLAIN']
"""

from __future__ import annotations

from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError
from auditor.model import Target
from auditor.registry import Outcome, collector, control, sv
from checks.tls import Verdict, could_not_check, refusal_sv, endpoint_error, judge_endpoints, raise_if_all_failed

PLAINTEXT_SERVICES = ("smtp", "submission", "imap", "pop3")
# SASL mechanisms that send the password itself (base64 is not encryption).
CLEARTEXT_MECHANISMS = ("PLAIN", "LOGIN")


@collector("tls.mail_starttls", kinds=("mail",), transport="net", timeout=60)
def mail_starttls(ctx: Context) -> dict[str, Any]:
    conn = ctx.conn
    records = []
    for ep in conn.endpoints:
        rec: dict[str, Any] = ep.public()
        if ep.service not in PLAINTEXT_SERVICES:
            rec["implicit_tls"] = True
            records.append(rec)
            continue
        try:
            info, transcript = conn.capabilities(ep, budget=ctx.remaining())
            ctx.evidence.append(transcript.evidence())
            rec.update(info)
        except CollectError as exc:
            rec["error"] = endpoint_error(exc)
            ctx.record("network", f"{ep.starttls} capabilities of {ep.label}", f"# {exc.reason.value}: {exc.message}")
        records.append(rec)
    if not any(not r.get("implicit_tls") for r in records):
        ctx.record("inventory", ctx.target.source, "services: " + ", ".join(r["endpoint"] for r in records) + "\n(all implicit TLS: no plaintext phase to check)")
    raise_if_all_failed([r for r in records if not r.get("implicit_tls")])
    return {"endpoints": records}


def plaintext_login_offers(info: Mapping[str, Any]) -> list[str]:
    """What a client could use to send a password before STARTTLS."""
    protocol = info.get("protocol")
    auth = [str(m).upper() for m in info.get("auth_before_tls") or []]
    offers = []
    if protocol == "smtp":
        if info.get("auth_before_tls") is not None:
            offers.append("AUTH " + (" ".join(auth) if auth else "(no mechanism listed)"))
    elif protocol == "imap":
        if not info.get("logindisabled"):
            offers.append("LOGIN command (no LOGINDISABLED)")
        offers.extend(f"AUTHENTICATE {m}" for m in auth if m in CLEARTEXT_MECHANISMS)
    elif protocol == "pop3":
        if info.get("user_before_tls"):
            offers.append("USER/PASS")
        offers.extend(f"AUTH {m}" for m in auth if m in CLEARTEXT_MECHANISMS)
    return offers


def _preamble(rec: Mapping[str, Any]) -> Verdict | None:
    if rec.get("implicit_tls"):
        return "skip", sv("implicit TLS from the first byte (no plaintext phase)", "TLS från första byten (ingen okrypterad fas)"), {}
    if rec.get("error"):
        return could_not_check(rec["error"])
    return None


def _offer_sv(offer: str) -> str:
    return {"AUTH (no mechanism listed)": "AUTH (utan angiven mekanism)", "LOGIN command (no LOGINDISABLED)": "kommandot LOGIN (utan LOGINDISABLED)"}.get(offer, offer)


_REFS = ("GDPR Art. 32(1)(a)", "RFC 3207", "RFC 2595", "RFC 8314", "BSI TR-03108")


@control(
    "TLS-MAIL-STARTTLS", family="tls", kinds=("mail",), severity="high", facts=("tls.mail_starttls",), references=_REFS,
    title="Mail services that start in plaintext offer STARTTLS",
    title_sv="E-posttjänster som börjar okrypterat erbjuder STARTTLS",
    rationale_sv="SMTP, IMAP och POP3 på sina okrypterade portar bär meddelanden, adresser och lösenord i klartext om inte servern erbjuder och tar emot STARTTLS; e-post är personuppgifter.",
    remediation="Configure a certificate and turn on STARTTLS for the mail service (Postfix: smtpd_tls_security_level = may; Dovecot: ssl = yes).",
    remediation_sv="Konfigurera ett certifikat och slå på STARTTLS för e-posttjänsten (Postfix: smtpd_tls_security_level = may; Dovecot: ssl = yes).",
    plain="{n} mail server(s) do not offer STARTTLS",
    plain_sv="{n} e-postserver(ar) erbjuder inte STARTTLS",
    rationale="SMTP, IMAP and POP3 on their plaintext ports carry messages, addresses and passwords in the clear unless the server offers STARTTLS and "
    "accepts it; mail is personal data.",
)
def mail_starttls_offered(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    def judge(rec: Mapping[str, Any]) -> Verdict:
        early = _preamble(rec)
        if early is not None:
            return early
        command = "STLS" if rec.get("protocol") == "pop3" else "STARTTLS"
        shown = {"offered": rec.get("starttls"), "answer": rec.get("starttls_answer")}
        if rec.get("upgraded"):
            return "pass", sv(f"{command} offered and accepted ({rec.get('starttls_answer')})", f"{command} erbjuds och godtas ({rec.get('starttls_answer')})"), shown
        if rec.get("refusal"):
            return "fail", sv(str(rec["refusal"]), refusal_sv(rec["refusal"])), shown
        return "fail", sv(f"{command} is not available", f"{command} erbjuds inte"), shown

    return judge_endpoints(facts["tls.mail_starttls"]["endpoints"], judge, what="plaintext mail services")


@control(
    "TLS-MAIL-PLAINTEXT-AUTH", family="tls", kinds=("mail",), severity="high", facts=("tls.mail_starttls",), references=_REFS,
    title="Mail servers accept no password before STARTTLS",
    title_sv="E-postservrarna tar inte emot lösenord före STARTTLS",
    rationale_sv="En server som annonserar AUTH (SMTP), LOGIN utan LOGINDISABLED (IMAP) eller USER (POP3) före TLS uppmanar klienter att skicka lösenord i klartext, och en angripare på nätet kan ta bort STARTTLS för att samla in dem (Postfix: smtpd_tls_auth_only; Dovecot: disable_plaintext_auth eller ssl = required).",
    remediation="Allow logins only after STARTTLS (Postfix: smtpd_tls_auth_only = yes; Dovecot: ssl = required).",
    remediation_sv="Tillåt inloggning först efter STARTTLS (Postfix: smtpd_tls_auth_only = yes; Dovecot: ssl = required).",
    plain="{n} mail server(s) accept passwords before STARTTLS",
    plain_sv="{n} e-postserver(ar) tar emot lösenord före STARTTLS",
    rationale="A server that advertises AUTH (SMTP), LOGIN without LOGINDISABLED (IMAP) or USER (POP3) before TLS invites clients to send passwords in "
    "the clear, and a network attacker can strip STARTTLS to collect them (Postfix: smtpd_tls_auth_only; Dovecot: disable_plaintext_auth or ssl = required).",
)
def mail_plaintext_auth(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    def judge(rec: Mapping[str, Any]) -> Verdict:
        early = _preamble(rec)
        if early is not None:
            return early
        offers = plaintext_login_offers(rec)
        shown = {"before_tls": offers, "capabilities": rec.get("capability") or [line[4:] for line in rec.get("ehlo", [])[1:]]}
        if offers:
            return "fail", sv("before STARTTLS the server offers " + ", ".join(offers), "före STARTTLS erbjuder servern " + ", ".join(map(_offer_sv, offers))), shown
        if rec.get("protocol") == "smtp":
            return "pass", sv("no AUTH advertised before STARTTLS", "ingen AUTH annonseras före STARTTLS"), shown
        if rec.get("protocol") == "imap":
            return "pass", sv("LOGINDISABLED advertised before STARTTLS, no cleartext AUTHENTICATE mechanism",
                              "LOGINDISABLED annonseras före STARTTLS, ingen AUTHENTICATE-mekanism i klartext"), shown
        return "pass", sv("neither USER nor a cleartext SASL mechanism advertised before STLS", "varken USER eller någon SASL-mekanism i klartext annonseras före STLS"), shown

    return judge_endpoints(facts["tls.mail_starttls"]["endpoints"], judge, what="plaintext mail services")
