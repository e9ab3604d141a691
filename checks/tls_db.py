"""TLS for database targets: does the server offer TLS at all?

PostgreSQL is asked with an SSLRequest (the 8-byte packet 80877103; the
server answers ``S`` or ``N``); MySQL and MariaDB announce TLS with the
CLIENT_SSL flag of their initial handshake packet. Nothing else is sent: no
user name, no password. Protocol versions and certificates of the TLS the
server offers are judged by TLS-PROTOCOLS and the certificate controls;
whether the server *requires* TLS of its clients is read from its
configuration by the database checks.

>>> from auditor.transports.dialogues import PG_SSLREQUEST
>>> PG_SSLREQUEST.hex()
'0000000804d2162f'
"""

from __future__ import annotations

from typing import Any, Mapping

from auditor.collect import Context
from auditor.model import Target
from auditor.registry import Outcome, collector, control, failed, passed, sv


@collector("tls.db_offer", kinds=("database",), transport="net", timeout=30)
def database_tls_offer(ctx: Context) -> dict[str, Any]:
    conn = ctx.conn
    ep = conn.endpoints[0]
    info, transcript = conn.database_offer(ep, budget=ctx.remaining())
    ctx.evidence.append(transcript.evidence())
    return {**ep.public(), **{k: v for k, v in info.items() if k not in ("upgraded",)}}


@control(
    "TLS-DB-OFFERED", family="tls", kinds=("database",), severity="high", facts=("tls.db_offer",),
    references=("GDPR Art. 32(1)(a)", "PostgreSQL documentation 55.2.10 SSL Session Encryption", "MySQL documentation 8.0 Using Encrypted Connections"),
    title="Database servers offer TLS",
    title_sv="Databasservrarna erbjuder TLS",
    rationale_sv="Frågor och svar innehåller personuppgifter, och inloggningar innehåller lösenord; en databasserver utan TLS skickar dem okrypterade till varje klient, var nätet mellan dem än går.",
    remediation="Configure TLS on the database server (a certificate and key) and make clients use it.",
    remediation_sv="Konfigurera TLS på databasservern (certifikat och nyckel) och se till att klienterna använder det.",
    plain="{n} database(s) do not offer TLS",
    plain_sv="{n} databas(er) erbjuder inte TLS",
    rationale="Queries and results carry personal data, and logins carry passwords; a database server without TLS sends them in the clear to every "
    "client, wherever the network between them runs.",
)
def database_tls_offered(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["tls.db_offer"]
    where = fact["endpoint"].split(" ", 1)[1]
    if fact.get("protocol") == "postgresql":
        shown = {"answer": fact.get("answer")}
        if fact.get("tls_offered"):
            return passed(sv(f"PostgreSQL at {where} answers S to SSLRequest", f"PostgreSQL på {where} svarar S på SSLRequest"), **shown)
        return failed(sv(f"PostgreSQL at {where} answers N to SSLRequest: SSL is not enabled (ssl = off)",
                         f"PostgreSQL på {where} svarar N på SSLRequest: SSL är inte påslaget (ssl = off)"), **shown)
    shown = {"server_version": fact.get("server_version"), "capabilities": fact.get("capabilities")}
    version = fact.get("server_version")
    if fact.get("tls_offered"):
        return passed(sv(f"{version} at {where} sets CLIENT_SSL in its handshake", f"{version} på {where} sätter CLIENT_SSL i sin handskakning"), **shown)
    return failed(sv(f"{version} at {where} does not offer TLS (CLIENT_SSL not set in its handshake)",
                     f"{version} på {where} erbjuder inte TLS (CLIENT_SSL är inte satt i handskakningen)"), **shown)
