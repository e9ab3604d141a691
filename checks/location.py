"""Data location: where targets and sub-processors are, against the EU/EEA promise.

The evidence here is the inventory's own declaration (file and line), and
the report says so: a declared location is what the organisation states,
not a measurement. Measured locations (cloud regions) come from the AWS
checks.

>>> sorted(EU_EEA)[:3]
['AT', 'BE', 'BG']
"""

from __future__ import annotations

from typing import Any, Mapping

from auditor.collect import Context
from auditor.model import Target
from auditor.registry import Outcome, collector, control, failed, parameter, passed, skipped, sv

EU = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")
EU_EEA = EU + ("IS", "LI", "NO")
# Countries with an EU adequacy decision (GDPR Art. 45), as of 2025. The US
# decision (EU-US Data Privacy Framework) covers certified organisations only.
ADEQUACY = ("AD", "AR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JP", "JE", "KR", "NZ", "UY", "US")

allowed_countries = parameter("allowed_countries", list, list(EU_EEA), "Countries where personal data may be stored or processed (ISO 3166 codes; default EU/EEA).")
transfers_allowed = parameter(
    "third_country_transfers_allowed", bool, True,
    "Whether a transfer outside allowed_countries is acceptable when a safeguard is recorded (GDPR Chapter V). Set false for policies that promise no transfers at all.",
)
accepted_safeguards = parameter("transfer_safeguards_accepted", list, ["adequacy", "scc", "bcr"], "Safeguards accepted for third-country transfers: adequacy, scc, bcr, derogation.")
adequacy_countries = parameter("adequacy_countries", list, list(ADEQUACY), "Countries covered by an EU adequacy decision.")

_LOCATION_KEYS = ("country", "region", "provider", "entity", "safeguard", "transfers_personal_data", "purpose")


@collector("inventory.location", kinds=("server", "web", "mail", "database", "backup", "aws", "processor"), transport="inventory", timeout=5)
def declared_location(ctx: Context) -> dict[str, Any]:
    declared = {k: ctx.target.get(k) for k in _LOCATION_KEYS if ctx.target.get(k) is not None}
    shown = "\n".join(f"{k}: {v}" for k, v in declared.items()) or "(no location declared)"
    ctx.record("inventory", ctx.target.source, f"{ctx.target.kind} {ctx.target.name}\n{shown}")
    return declared


@control(
    "DATA-DECLARED-LOCATION", family="data_location", kinds=("server", "web", "mail", "database", "backup"), severity="high",
    facts=("inventory.location",), params=("allowed_countries",),
    references=("GDPR Art. 44", "GDPR Art. 30(1)(e)"),
    title="Systems holding personal data are declared to be in the EU/EEA",
    title_sv="System med personuppgifter är angivna att finnas inom EU/EES",
    rationale_sv="Policyer utlovar att personuppgifter stannar inom EU/EES; varje system som lagrar eller levererar dem måste finnas i ett tillåtet land, och registret över behandlingar måste ange var.",
    remediation="Declare each system's country in the inventory, and move the systems that are outside the allowed countries.",
    remediation_sv="Ange varje systems land i inventariet och flytta de system som finns utanför de tillåtna länderna.",
    plain="{n} system(s) are outside the EU/EEA or have no declared location",
    plain_sv="{n} system är placerade utanför EU/EES eller saknar angiven placering",
    rationale="Policies promise that personal data stays within the EU/EEA; every system that stores or serves it must be located in an allowed country, "
    "and the record of processing must say where.",
)
def declared_location_allowed(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    where = facts["inventory.location"]
    allowed = params["allowed_countries"]
    country = where.get("country")
    if not country:
        return skipped(sv("No country is declared for this target in the inventory; add country: (e.g. SE) to audit its location",
                          "Inventariet anger inget land för det här systemet; lägg till country: (t.ex. SE) för att granska dess placering"))
    if country in allowed:
        region = f" / {where['region']}" if where.get("region") else ""
        return passed(sv(f"Declared location {country}{region} is an allowed country", f"Angiven placering {country}{region} är ett tillåtet land"), country=country, declared=True)
    return failed(sv(f"Declared location {country} is outside the allowed countries", f"Angiven placering {country} ligger utanför de tillåtna länderna"), country=country, allowed=allowed, declared=True)


@control(
    "DATA-PROCESSOR-LOCATION", family="data_location", kinds=("processor",), severity="high",
    facts=("inventory.location",), params=("allowed_countries", "third_country_transfers_allowed", "transfer_safeguards_accepted", "adequacy_countries"),
    references=("GDPR Art. 28", "GDPR Art. 44-46", "CJEU C-311/18 (Schrems II)"),
    title="Sub-processors receiving personal data are in the EU/EEA or covered by a safeguard",
    title_sv="Underbiträden som tar emot personuppgifter finns inom EU/EES eller omfattas av en skyddsåtgärd",
    rationale_sv="En överföring av personuppgifter till ett personuppgiftsbiträde utanför EU/EES kräver ett beslut om adekvat skyddsnivå eller lämpliga skyddsåtgärder som standardavtalsklausuler; vissa policyer utlovar att inga sådana överföringar sker alls.",
    remediation="Sign standard contractual clauses (or rely on an adequacy decision) with each processor outside the EU/EEA and record it in the inventory, or change processor.",
    remediation_sv="Teckna standardavtalsklausuler (eller stöd er på ett beslut om adekvat skyddsnivå) med varje biträde utanför EU/EES och ange det i inventariet, eller byt biträde.",
    plain="{n} sub-processor(s) receive personal data outside the EU/EEA without a safeguard",
    plain_sv="{n} underbiträde(n) tar emot personuppgifter utanför EU/EES utan skyddsåtgärd",
    rationale="A transfer of personal data to a processor outside the EU/EEA needs an adequacy decision or appropriate safeguards such as standard contractual clauses; "
    "some policies promise no such transfers at all.",
)
def processor_location(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    where = facts["inventory.location"]
    country = where["country"]
    safeguard = where.get("safeguard", "none")
    if not where.get("transfers_personal_data", True):
        return passed(sv(f"{target.name} ({country}) is declared to receive no personal data", f"{target.name} ({country}) är angivet att inte ta emot några personuppgifter"), country=country)
    if country in params["allowed_countries"]:
        return passed(sv(f"{target.name} processes data in {country}, an allowed country", f"{target.name} behandlar uppgifter i {country}, ett tillåtet land"), country=country)
    if not params["third_country_transfers_allowed"]:
        return failed(sv(f"{target.name} processes personal data in {country}, outside the allowed countries, and the policy promises no transfers outside them",
                         f"{target.name} behandlar personuppgifter i {country}, utanför de tillåtna länderna, och policyn utlovar att inga uppgifter överförs dit"), country=country, safeguard=safeguard)
    if safeguard not in params["transfer_safeguards_accepted"]:
        return failed(sv(f"{target.name} processes personal data in {country} without an accepted safeguard (declared: {safeguard})",
                         f"{target.name} behandlar personuppgifter i {country} utan en godtagen skyddsåtgärd (angiven: {safeguard})"), country=country, safeguard=safeguard)
    if safeguard == "adequacy" and country not in params["adequacy_countries"]:
        return failed(sv(f"{target.name} claims an adequacy decision, but {country} has none", f"{target.name} hänvisar till ett beslut om adekvat skyddsnivå, men {country} har inget"), country=country, safeguard=safeguard)
    return passed(sv(f"{target.name} processes data in {country} under a recorded safeguard ({safeguard})", f"{target.name} behandlar uppgifter i {country} med en angiven skyddsåtgärd ({safeguard})"), country=country, safeguard=safeguard)
