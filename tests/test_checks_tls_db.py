"""checks/tls.py and checks/tls_db.py against real PostgreSQL and MariaDB.

The servers are the database rig's (``tests/db_rig.py``): for each engine a
*strong* server with TLS (a certificate for localhost/127.0.0.1 from the
rig's CA, named as ``tls_ca``) and a *weak* one without (PostgreSQL
``ssl = off``, MariaDB ``--skip-ssl``). The probes send no user name and no
password: PostgreSQL gets an SSLRequest, MariaDB an SSL request packet.
"""

from __future__ import annotations

import os

import pytest
import yaml

from auditor.model import Run

from db_rig import maria_rig, pg_rig, refused_port  # noqa: F401 - fixtures
from helpers import audit, statuses, verdicts

CERT = ["TLS-CERT-TRUSTED", "TLS-CERT-HOSTNAME", "TLS-CERT-EXPIRY", "TLS-CERT-KEY-STRENGTH", "TLS-CERT-SIGNATURE"]
DB = ["TLS-PROTOCOLS", *CERT, "TLS-DB-OFFERED"]
MINE = ["TLS-PROTOCOLS", "TLS-CERT-*", "TLS-DB-OFFERED"]

NO_TLS = {"TLS-PROTOCOLS": "fail", "TLS-DB-OFFERED": "fail", **dict.fromkeys(CERT, "skipped")}
EXPECTED = {
    "database:pg-tls": dict.fromkeys(DB, "pass"),
    "database:pg-plain": NO_TLS,
    "database:mariadb-tls": dict.fromkeys(DB, "pass"),
    "database:mariadb-plain": NO_TLS,
    "database:db-down": dict.fromkeys(DB, "error"),
}


@pytest.fixture(scope="module")
def run(pg_rig, maria_rig, tmp_path_factory: pytest.TempPathFactory) -> Run:  # noqa: F811 - fixtures
    folder = tmp_path_factory.mktemp("tls-db")
    databases = [
        {"name": "pg-tls", "engine": "postgresql", "host": "127.0.0.1", "port": pg_rig.strong.port, "tls_ca": pg_rig.certs.ca},
        {"name": "pg-plain", "engine": "postgresql", "host": "127.0.0.1", "port": pg_rig.weak.port, "tls_ca": pg_rig.certs.ca},
        {"name": "mariadb-tls", "engine": "mariadb", "host": "127.0.0.1", "port": maria_rig.strong.port, "tls_ca": maria_rig.certs.ca},
        {"name": "mariadb-plain", "engine": "mariadb", "host": "127.0.0.1", "port": maria_rig.weak.port, "tls_ca": maria_rig.certs.ca},
        {"name": "db-down", "engine": "postgresql", "host": "127.0.0.1", "port": refused_port()},
    ]
    path = os.path.join(str(folder), "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "databases": databases}, fh, sort_keys=False)
    return audit(path, only=MINE)


def _by_target(run: Run) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for (control, target), status in statuses(run).items():
        out.setdefault(target, {})[control] = status
    return out


@pytest.mark.integration
def test_every_database_endpoint_gets_exactly_the_expected_verdicts(run: Run) -> None:
    got = _by_target(run)
    messages = {k: f.message for k, f in verdicts(run).items() if got.get(k[1], {}).get(k[0]) != EXPECTED.get(k[1], {}).get(k[0])}
    assert got == EXPECTED, messages


@pytest.mark.integration
def test_database_evidence_is_the_negotiation_and_never_a_credential(run: Run) -> None:
    v = verdicts(run)
    assert v[("TLS-DB-OFFERED", "database:pg-tls")].message.endswith("answers S to SSLRequest")
    assert "answers N to SSLRequest" in v[("TLS-DB-OFFERED", "database:pg-plain")].message
    assert "CLIENT_SSL not set" in v[("TLS-DB-OFFERED", "database:mariadb-plain")].message
    assert (v[("TLS-DB-OFFERED", "database:db-down")].reason, v[("TLS-PROTOCOLS", "database:db-down")].reason) == ("unreachable", "unreachable")
    offer = next(f for f in run.facts if f.target == "database:mariadb-tls" and f.name == "tls.db_offer")
    assert "MariaDB" in offer.value["server_version"] and offer.value["tls_offered"] is True
    protocols = next(f for f in run.facts if f.target == "database:pg-tls" and f.name == "tls.protocols")
    text = "\n".join(e.excerpt for e in protocols.evidence)
    assert "> SSLRequest (length 8, code 80877103)" in text and "< S (SSL accepted)" in text
    my = next(f for f in run.facts if f.target == "database:mariadb-tls" and f.name == "tls.protocols")
    assert "SSL request packet (capability flags, no user name, no password)" in "\n".join(e.excerpt for e in my.evidence)
    assert protocols.value["endpoints"][0]["accepted"] == ["TLSv1.2", "TLSv1.3"]
