"""checks/location.py: declared locations of systems and sub-processors, under two policies.

The evidence of these facts is the inventory itself (kind "inventory",
source file:line): a declaration, audited through the real runner.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.model import Run

from helpers import audit, statuses, verdicts, write

INVENTORY = """\
version: 1
servers:
  - name: stockholm
    connection: local
    country: SE
    region: se-sto-1
  - name: virginia
    connection: local
    country: US
  - name: unknown
    connection: local
processors:
  - name: mailer-scc
    country: US
    safeguard: scc
    entity: Mailer Inc.
  - name: mailer-none
    country: US
  - name: analytics-cn
    country: CN
    safeguard: adequacy
  - name: logs-no-data
    country: US
    transfers_personal_data: false
  - name: oslo
    country: "NO"
  - name: frankfurt
    country: DE
"""


@pytest.fixture
def inventory(tmp_path: Path) -> str:
    return write(str(tmp_path / "inventory.yaml"), INVENTORY)


def location_run(inventory: str, policy: str) -> Run:
    return audit(inventory, policy=policy, only=["data_location"])


EXPECTED = {
    "baseline-eu": {
        ("DATA-DECLARED-LOCATION", "server:stockholm"): "pass",
        ("DATA-DECLARED-LOCATION", "server:virginia"): "fail",
        ("DATA-DECLARED-LOCATION", "server:unknown"): "skipped",
        ("DATA-PROCESSOR-LOCATION", "processor:mailer-scc"): "pass",
        ("DATA-PROCESSOR-LOCATION", "processor:mailer-none"): "fail",
        ("DATA-PROCESSOR-LOCATION", "processor:analytics-cn"): "fail",
        ("DATA-PROCESSOR-LOCATION", "processor:logs-no-data"): "pass",
        ("DATA-PROCESSOR-LOCATION", "processor:oslo"): "pass",
        ("DATA-PROCESSOR-LOCATION", "processor:frankfurt"): "pass",
    },
    "webbplats-nu": {
        ("DATA-DECLARED-LOCATION", "server:stockholm"): "pass",
        ("DATA-DECLARED-LOCATION", "server:virginia"): "fail",
        ("DATA-DECLARED-LOCATION", "server:unknown"): "skipped",
        # "Vi delar inga uppgifter med företag utanför EU": no safeguard makes it acceptable.
        ("DATA-PROCESSOR-LOCATION", "processor:mailer-scc"): "fail",
        ("DATA-PROCESSOR-LOCATION", "processor:mailer-none"): "fail",
        ("DATA-PROCESSOR-LOCATION", "processor:analytics-cn"): "fail",
        ("DATA-PROCESSOR-LOCATION", "processor:logs-no-data"): "pass",
        # Norway is in the EEA but not in the EU.
        ("DATA-PROCESSOR-LOCATION", "processor:oslo"): "fail",
        ("DATA-PROCESSOR-LOCATION", "processor:frankfurt"): "pass",
    },
}


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_exact_verdicts_per_policy(inventory: str, policy: str) -> None:
    assert statuses(location_run(inventory, policy)) == EXPECTED[policy]


def test_baseline_messages(inventory: str) -> None:
    v = verdicts(location_run(inventory, "baseline-eu"))

    assert v[("DATA-DECLARED-LOCATION", "server:stockholm")].message == "Declared location SE / se-sto-1 is an allowed country"
    assert v[("DATA-DECLARED-LOCATION", "server:virginia")].message == "Declared location US is outside the allowed countries"
    unknown = v[("DATA-DECLARED-LOCATION", "server:unknown")]
    assert unknown.reason == "not_applicable"
    assert "No country is declared" in unknown.message and "country:" in unknown.message
    assert v[("DATA-PROCESSOR-LOCATION", "processor:mailer-scc")].message == "mailer-scc processes data in US under a recorded safeguard (scc)"
    assert v[("DATA-PROCESSOR-LOCATION", "processor:mailer-none")].message == "mailer-none processes personal data in US without an accepted safeguard (declared: none)"
    assert v[("DATA-PROCESSOR-LOCATION", "processor:analytics-cn")].message == "analytics-cn claims an adequacy decision, but CN has none"
    assert v[("DATA-PROCESSOR-LOCATION", "processor:logs-no-data")].message == "logs-no-data (US) is declared to receive no personal data"
    assert v[("DATA-PROCESSOR-LOCATION", "processor:oslo")].details == {"country": "NO"}


def test_webbplats_nu_messages(inventory: str) -> None:
    v = verdicts(location_run(inventory, "webbplats-nu"))

    scc = v[("DATA-PROCESSOR-LOCATION", "processor:mailer-scc")]
    assert scc.message == "mailer-scc processes personal data in US, outside the allowed countries, and the policy promises no transfers outside them"
    assert scc.details == {"country": "US", "safeguard": "scc"}
    assert v[("DATA-PROCESSOR-LOCATION", "processor:oslo")].details == {"country": "NO", "safeguard": "none"}


def test_evidence_is_the_inventory_entry_with_file_and_line(inventory: str) -> None:
    run = location_run(inventory, "baseline-eu")

    for target in ("server:stockholm", "server:unknown", "processor:mailer-scc", "processor:oslo"):
        line = INVENTORY.splitlines().index(f"  - name: {target.split(':')[1]}") + 1
        fact = next(f for f in run.facts if f.target == target and f.name == "inventory.location")
        assert fact.status == "ok" and fact.transport == "inventory"
        (ev,) = fact.evidence
        assert ev.kind == "inventory"
        assert ev.source == f"{inventory}:{line}"
        assert ev.argv is None
    scc = next(f for f in run.facts if f.target == "processor:mailer-scc")
    assert scc.value == {"country": "US", "entity": "Mailer Inc.", "safeguard": "scc", "transfers_personal_data": True}
    assert "safeguard: scc" in scc.evidence[0].excerpt
    unknown = next(f for f in run.facts if f.target == "server:unknown")
    assert unknown.value == {} and "(no location declared)" in unknown.evidence[0].excerpt
    finding = verdicts(run)[("DATA-PROCESSOR-LOCATION", "processor:mailer-scc")]
    assert finding.facts == ("processor:mailer-scc/inventory.location",)
