"""Every fixed string of the human reports, in English and Swedish.

The HTML report and ``summary.md`` take every word they print themselves from
:data:`CATALOGUE` (one dict per language, with exactly the same keys), so a
Swedish report has no English left in it except what is data: finding
messages, rationales and excerpts are shown as the run recorded them.

Strings may hold ``{name}`` placeholders (``str.format``). A key ending in
``.one`` / ``.other`` is a plural pair, picked by :meth:`Translator.plural`.
Control titles, rationales and remediations are data: each control declares
them in English and Swedish with itself (``@control(title=..., title_sv=...)``)
and the run records them; :meth:`Translator.control_text` picks the language.

>>> Translator("sv")("verdict.fail")
'Hålls inte'
>>> Translator("sv").plural("count.fail", 2)
'2 underkända'
>>> format_when("2026-01-01T08:05:09.123Z")
'2026-01-01 08:05:09 UTC'
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping

LANGUAGES = ("en", "sv")
DEFAULT_LANGUAGE = "en"

# Order matters where the reports list them: statuses and verdicts are shown in this order.
STATUSES = ("pass", "fail", "error", "skipped", "waived")
VERDICT_ORDER = ("fail", "error", "pass", "none")
FAMILY_ORDER = ("tls", "password_hashing", "data_location", "backup_retention", "access")

_EN: dict[str, str] = {
    # page
    "page.title": "Privacy promise audit",
    "page.subtitle": "{policy} · {inventory}",
    "meta.started": "Started",
    "meta.finished": "Finished",
    "meta.tool": "Tool",
    "meta.run_id": "Run id",
    "banner.incomplete": "This run was interrupted; results are incomplete.",
    "banner.incomplete.detail": "Checks that did not finish are reported as “{label}”.",
    # first screen
    "answer.heading": "Are we keeping our promises?",
    "answer.overall": "Overall:",
    "answer.tally": "Promises ({n}):",
    "answer.no_promises": "The policy states no promise; the results of its controls follow.",
    "answer.details": "Controls and evidence",
    "answer.waivers": "Accepted exceptions (waivers): applied {applied}, expired {expired}.",
    "answer.waivers.link": "See the waivers",
    "promise.label": "Promise {n}",
    "promise.plain": "In plain terms:",
    "promise.source": "Source:",
    "promise.section": "section {section}",
    "promise.verdict": "Verdict:",
    "promise.no_results": "No result",
    # first screen: what fails and what to do, per promise card
    "card.fail.one": "{title}: failed on {n} target",
    "card.fail.other": "{title}: failed on {n} targets",
    "card.error.one": "{title}: could not be checked on {n} target",
    "card.error.other": "{title}: could not be checked on {n} targets",
    "card.targets_word": "targets",
    "card.on": "On:",
    "card.more": "and {n} more",
    "card.todo": "What to do:",
    "card.why": "Why:",
    # verdicts
    "verdict.fail": "Not kept",
    "verdict.error": "Could not verify",
    "verdict.pass": "Kept",
    "verdict.none": "Not checked",
    "verdict.fail.explain": "At least one check failed.",
    "verdict.error.explain": "No check failed, but some could not be carried out.",
    "verdict.pass.explain": "Every check that could be carried out passed.",
    "verdict.none.explain": "No check gave a result: none ran, or all were skipped or waived.",
    # statuses
    "status.pass": "Pass",
    "status.fail": "Fail",
    "status.error": "Could not check",
    "status.skipped": "Skipped",
    "status.waived": "Waived",
    "status.pass.explain": "The check was carried out and the system does what the promise says.",
    "status.fail.explain": "The check was carried out and the system does not do what the promise says.",
    "status.error.explain": "The auditor could not gather what it needed (for example, the server did not answer). This is not a pass.",
    "status.skipped.explain": "The check does not apply to this system.",
    "status.waived.explain": "The organisation has explicitly accepted this exception, until a set date.",
    "count.pass.one": "{n} passed",
    "count.pass.other": "{n} passed",
    "count.fail.one": "{n} failed",
    "count.fail.other": "{n} failed",
    "count.error.one": "{n} could not be checked",
    "count.error.other": "{n} could not be checked",
    "count.skipped.one": "{n} skipped",
    "count.skipped.other": "{n} skipped",
    "count.waived.one": "{n} waived",
    "count.waived.other": "{n} waived",
    # families
    "family.tls": "Encryption in transit",
    "family.password_hashing": "Password storage",
    "family.data_location": "Where data is kept",
    "family.backup_retention": "Backup retention",
    "family.access": "Access control",
    "family.tls.short": "Encryption",
    "family.password_hashing.short": "Passwords",
    "family.data_location.short": "Data location",
    "family.backup_retention.short": "Backups",
    "family.access.short": "Access",
    # severities and target kinds
    "severity.low": "low",
    "severity.medium": "medium",
    "severity.high": "high",
    "severity.critical": "critical",
    "kind.server": "servers",
    "kind.web": "websites",
    "kind.mail": "mail servers",
    "kind.database": "databases",
    "kind.backup": "backups",
    "kind.aws": "AWS accounts",
    "kind.processor": "sub-processors",
    # evidence kinds
    "evidence.command": "Command run",
    "evidence.file": "File read",
    "evidence.api": "API call",
    "evidence.inventory": "Taken from the inventory",
    "evidence.network": "Network exchange (handshake, banner)",
    "evidence.query": "Database query",
    "evidence.connection": "How the target was identified",
    # reasons (why a fact could not be gathered, or a check was skipped)
    "reason.unreachable": "could not be reached",
    "reason.host_key_rejected": "host key not accepted",
    "reason.auth_failed": "login refused",
    "reason.timeout": "no answer in time",
    "reason.permission_denied": "permission denied",
    "reason.not_found": "not found",
    "reason.parse_error": "answer could not be read",
    "reason.command_failed": "command failed",
    "reason.config_error": "configuration problem",
    "reason.interrupted": "run interrupted",
    "reason.bug": "a bug in auditor",
    "reason.not_applicable": "does not apply",
    "reason.incomplete_evidence": "evidence incomplete",
    "reason.decided_at_apply": "decided at apply time",
    # filters and tools
    "filters.label": "Show only",
    "filters.family": "Area",
    "filters.status": "Result",
    "filters.target": "Target",
    "filters.all": "All",
    "filters.problems": "Problems (failed or could not check)",
    "filters.reset": "Show everything",
    "filters.shown": "{shown} of {total} results shown",
    "filters.nothing": "No result matches these filters.",
    "tools.expand": "Expand all evidence",
    "tools.collapse": "Collapse all evidence",
    # results overview
    "results.heading": "Results",
    "results.by_status": "Checks by result",
    "results.by_family": "Checks by area",
    "results.area": "Area",
    "results.total": "Total",
    "legend.heading": "What the results mean",
    # trend
    "trend.heading": "Since previous runs",
    "trend.intro": "Results per area in this run and the earlier runs of the same inventory and policy. Each cell: passed / failed / could not check.",
    "trend.run": "Run",
    "trend.this_run": "This run",
    "trend.interrupted": "interrupted",
    "trend.change": "Change since the previous run",
    "trend.better": "Better",
    "trend.worse": "Worse",
    "trend.same": "Unchanged",
    "trend.mixed": "Mixed",
    "trend.new": "New",
    "trend.compared": "Compared with the previous run ({date}): failed {fail_before} → {fail_now}, could not check {error_before} → {error_now}.",
    # waivers
    "waivers.heading": "Waivers (accepted exceptions)",
    "waivers.file": "Waiver file",
    "waivers.applied": "Applied",
    "waivers.applied.intro": "These waivers apply: the results they match are shown as “{label}”, with the result they would otherwise have.",
    "waivers.expired": "Expired",
    "waivers.expired.intro": "These waivers have expired: the results they match count again as they are.",
    "waivers.expired.note": "Expired on {date}, no longer applies.",
    "waivers.unmatched": "Matched nothing",
    "waivers.unmatched.intro": "These waivers match no result of this run: check the control id and the target pattern.",
    "waivers.not_needed": "Not needed",
    "waivers.not_needed.intro": "These waivers matched only results that passed or were skipped.",
    "waivers.empty": "The waiver file lists no waivers.",
    "waivers.none_in_group": "None.",
    "waiver.id": "Waiver",
    "waiver.control": "Control",
    "waiver.target": "Targets (pattern)",
    "waiver.justification": "Justification",
    "waiver.approver": "Approved by",
    "waiver.expires": "Valid until",
    "waiver.matched": "Results",
    "waiver.source": "Defined at",
    "waiver.finding": "Waived until {expires}, approved by {approver}.",
    "waiver.finding.justification": "Justification:",
    "waiver.finding.original": "Without the waiver this result would be:",
    "waiver.finding.source": "Waiver {id}, {source}",
    # controls and findings
    "control.unknown": "Control {id}",
    "control.area": "Area:",
    "control.severity": "Severity:",
    "control.applies": "Applies to:",
    "control.why": "Why it matters:",
    "control.references": "References:",
    "control.not_run": "This control did not run in this audit (no target it applies to, or it was not selected).",
    "finding.reason": "Reason:",
    "finding.evidence.one": "Evidence ({n} observation)",
    "finding.evidence.other": "Evidence ({n} observations)",
    "finding.no_evidence": "No observation is behind this result.",
    "finding.details": "Technical details",
    # facts and evidence
    "fact.missing": "Observation {id} is not recorded in this run.",
    "fact.head": "Observation {name}, {when}, via {via} ({ms} ms)",
    "fact.error": "Could not be gathered",
    "fact.skipped": "Not gathered",
    "fact.reason": "reason: {reason}",
    "fact.digest": "Digest of this observation",
    "fact.tool": "recorded by auditor {version}",
    "ev.how": "How",
    "ev.exit": "Exit status",
    "ev.success": "(success)",
    "ev.when": "When",
    "ev.where": "Where",
    "ev.sha256": "SHA-256",
    "ev.of_raw": "of the raw output",
    "ev.of_redacted": "of the redacted excerpt",
    "ev.redacted": "Redacted:",
    "ev.redacted.detail": "where a digest is of the redacted excerpt, sensitive values were removed before the excerpt was recorded.",
    "ev.no_output": "(no output)",
    "ev.truncated": "The excerpt is shortened; the digest covers the whole output.",
    "ev.same": "The same output as {link}.",
    "ev.same.link": "shown earlier",
    "ev.same_source": "the same as shown earlier",
    "ev.picked": "Shown: the {shown} of {total} lines the checks read. The whole output is in {run_json}; the digest covers it.",
    "appendix.heading": "Evidence per target",
    "appendix.intro": "Each observation once, with how and when it was gathered (times in UTC) and its digest; under it each piece of evidence: how it was taken, its exit status, when, and the SHA-256 of the raw output (of the redacted excerpt where marked). The results above link here.",
    "appendix.target": "Observed on {where}",
    "finding.cites": "Rests on:",
    "findings.result": "Result",
    "findings.target": "Target",
    "findings.finding": "Finding",
    # sections after the promises
    "promises.heading": "Promises, controls and evidence",
    "other.heading": "Other controls",
    "other.intro": "These controls ran but are not linked to any promise of the policy.",
    "notices.heading": "Notices",
    "about.heading": "About this audit",
    "about.inventory": "Inventory",
    "about.name": "Name",
    "about.file": "File",
    "about.targets": "Targets audited",
    "about.target": "Target",
    "about.kind": "Kind",
    "about.address": "Address",
    "about.groups": "Groups and tags",
    "about.defined": "Defined at",
    "about.policy": "Policy",
    "about.title": "Title",
    "about.builds_on": "Builds on",
    "about.document": "Privacy policy",
    "about.retrieved": "retrieved {date}",
    "about.parameters": "Policy parameters used",
    "about.parameter": "Parameter",
    "about.value": "Value",
    "about.options": "Run options",
    "footer.generated": "Generated by auditor {version} from run {run_id} (schema {schema}).",
    "footer.source": "Everything on this page comes from {run_json} in the same folder; {verify} checks it was not altered.",
    "footer.folder": "folder",
    # summary.md
    "md.title": "Privacy promise audit: {policy} on {inventory}",
    "md.run": "Run {run_id}, {started} to {finished}, auditor {version}.",
    "md.interrupted": "Warning: this run was interrupted; results are incomplete.",
    "shard.part": "Shard {index} of {count}: {targets} of the {total} selected targets; `auditor merge` joins the {count} shards into the whole run.",
    "shard.merged": "Merged from {count} shards (`auditor merge`).",
    "md.result": "Result",
    "md.checks": "Checks",
    "md.by_family": "By area",
    "md.family": "Area",
    "md.problems": "Failures and errors",
    "md.promises": "Promises",
    "md.promise": "{verdict}: {promise}",
    "md.failing": "{plain}. What to do: {remediation}",
    "md.unverified": "{title}: could not be verified on {n} target(s)",
    "md.not_checked": "Not checked because {reason}.",
    "md.problem": "{control} on {target}: {message}",
    "md.more": "… and {n} more (all are in report.html).",
    "md.waivers": "Waivers",
    "md.waivers.line": "Applied: {applied} · expired: {expired} · matched nothing: {unmatched} · not needed: {not_needed}",
    "md.waivers.expired": "Waiver {id} ({control}, {target}) expired on {date} and no longer applies.",
    "md.full": "The full report, with the evidence for every result, is `report.html` in the same folder as this summary.",
}

_SV: dict[str, str] = {
    "page.title": "Granskning av integritetslöften",
    "page.subtitle": "{policy} · {inventory}",
    "meta.started": "Startad",
    "meta.finished": "Avslutad",
    "meta.tool": "Verktyg",
    "meta.run_id": "Körnings-id",
    "banner.incomplete": "Körningen avbröts; resultaten är ofullständiga.",
    "banner.incomplete.detail": "Kontroller som inte blev klara redovisas som ”{label}”.",
    "answer.heading": "Håller vi våra löften?",
    "answer.overall": "Sammantaget:",
    "answer.tally": "Löften ({n}):",
    "answer.no_promises": "Policyn anger inga löften; resultaten av dess kontroller följer nedan.",
    "answer.details": "Kontroller och underlag",
    "answer.waivers": "Godkända avvikelser (undantag): tillämpade {applied}, utgångna {expired}.",
    "answer.waivers.link": "Se undantagen",
    "promise.label": "Löfte {n}",
    "promise.plain": "Med andra ord:",
    "promise.source": "Källa:",
    "promise.section": "avsnitt {section}",
    "promise.verdict": "Bedömning:",
    "promise.no_results": "Inget resultat",
    "card.fail.one": "{title}: underkänd på {n} system",
    "card.fail.other": "{title}: underkänd på {n} system",
    "card.error.one": "{title}: kunde inte kontrolleras på {n} system",
    "card.error.other": "{title}: kunde inte kontrolleras på {n} system",
    "card.targets_word": "system",
    "card.on": "Gäller:",
    "card.more": "och {n} till",
    "card.todo": "Åtgärd:",
    "card.why": "Varför:",
    "verdict.fail": "Hålls inte",
    "verdict.error": "Kunde inte verifieras",
    "verdict.pass": "Hålls",
    "verdict.none": "Ej kontrollerat",
    "verdict.fail.explain": "Minst en kontroll blev underkänd.",
    "verdict.error.explain": "Ingen kontroll blev underkänd, men några kunde inte genomföras.",
    "verdict.pass.explain": "Alla kontroller som kunde genomföras blev godkända.",
    "verdict.none.explain": "Ingen kontroll gav något resultat: ingen kördes, eller alla hoppades över eller var undantagna.",
    "status.pass": "Godkänd",
    "status.fail": "Underkänd",
    "status.error": "Kunde inte kontrolleras",
    "status.skipped": "Hoppades över",
    "status.waived": "Undantagen",
    "status.pass.explain": "Kontrollen genomfördes och systemet gör det som löftet säger.",
    "status.fail.explain": "Kontrollen genomfördes och systemet gör inte det som löftet säger.",
    "status.error.explain": "Granskningen kunde inte hämta det den behövde (till exempel svarade inte servern). Det är inte ett godkännande.",
    "status.skipped.explain": "Kontrollen gäller inte för det här systemet.",
    "status.waived.explain": "Organisationen har uttryckligen godtagit avvikelsen, fram till ett visst datum.",
    "count.pass.one": "{n} godkänd",
    "count.pass.other": "{n} godkända",
    "count.fail.one": "{n} underkänd",
    "count.fail.other": "{n} underkända",
    "count.error.one": "{n} kunde inte kontrolleras",
    "count.error.other": "{n} kunde inte kontrolleras",
    "count.skipped.one": "{n} hoppades över",
    "count.skipped.other": "{n} hoppades över",
    "count.waived.one": "{n} undantagen",
    "count.waived.other": "{n} undantagna",
    "family.tls": "Kryptering vid överföring",
    "family.password_hashing": "Lagring av lösenord",
    "family.data_location": "Var uppgifterna finns",
    "family.backup_retention": "Lagring av säkerhetskopior",
    "family.access": "Åtkomstkontroll",
    "family.tls.short": "Kryptering",
    "family.password_hashing.short": "Lösenord",
    "family.data_location.short": "Dataplats",
    "family.backup_retention.short": "Säkerhetskopior",
    "family.access.short": "Åtkomst",
    "severity.low": "låg",
    "severity.medium": "medel",
    "severity.high": "hög",
    "severity.critical": "kritisk",
    "kind.server": "servrar",
    "kind.web": "webbplatser",
    "kind.mail": "e-postservrar",
    "kind.database": "databaser",
    "kind.backup": "säkerhetskopior",
    "kind.aws": "AWS-konton",
    "kind.processor": "underbiträden",
    "evidence.command": "Kommando som kördes",
    "evidence.file": "Fil som lästes",
    "evidence.api": "API-anrop",
    "evidence.inventory": "Hämtat från inventeringen",
    "evidence.network": "Nätverksutbyte (handskakning, banner)",
    "evidence.query": "Databasfråga",
    "evidence.connection": "Hur systemet identifierades",
    "reason.unreachable": "gick inte att nå",
    "reason.host_key_rejected": "värdnyckeln godtogs inte",
    "reason.auth_failed": "inloggningen nekades",
    "reason.timeout": "inget svar i tid",
    "reason.permission_denied": "åtkomst nekad",
    "reason.not_found": "hittades inte",
    "reason.parse_error": "svaret gick inte att tolka",
    "reason.command_failed": "kommandot misslyckades",
    "reason.config_error": "konfigurationsproblem",
    "reason.interrupted": "körningen avbröts",
    "reason.bug": "ett fel i auditor",
    "reason.not_applicable": "gäller inte",
    "reason.incomplete_evidence": "ofullständigt underlag",
    "reason.decided_at_apply": "avgörs först när planen tillämpas",
    "filters.label": "Visa bara",
    "filters.family": "Område",
    "filters.status": "Resultat",
    "filters.target": "System",
    "filters.all": "Alla",
    "filters.problems": "Problem (underkända eller ej kontrollerbara)",
    "filters.reset": "Visa allt",
    "filters.shown": "{shown} av {total} resultat visas",
    "filters.nothing": "Inget resultat matchar filtren.",
    "tools.expand": "Visa allt underlag",
    "tools.collapse": "Dölj allt underlag",
    "results.heading": "Resultat",
    "results.by_status": "Kontroller per resultat",
    "results.by_family": "Kontroller per område",
    "results.area": "Område",
    "results.total": "Totalt",
    "legend.heading": "Vad resultaten betyder",
    "trend.heading": "Sedan tidigare körningar",
    "trend.intro": "Resultat per område i den här körningen och i tidigare körningar med samma inventering och policy. Varje ruta: godkända / underkända / kunde inte kontrolleras.",
    "trend.run": "Körning",
    "trend.this_run": "Denna körning",
    "trend.interrupted": "avbruten",
    "trend.change": "Förändring sedan föregående körning",
    "trend.better": "Bättre",
    "trend.worse": "Sämre",
    "trend.same": "Oförändrat",
    "trend.mixed": "Blandat",
    "trend.new": "Ny",
    "trend.compared": "Jämfört med föregående körning ({date}): underkända {fail_before} → {fail_now}, kunde inte kontrolleras {error_before} → {error_now}.",
    "waivers.heading": "Undantag (godkända avvikelser)",
    "waivers.file": "Undantagsfil",
    "waivers.applied": "Tillämpade",
    "waivers.applied.intro": "Dessa undantag gäller: resultaten de matchar visas som ”{label}”, med det resultat de annars skulle ha haft.",
    "waivers.expired": "Utgångna",
    "waivers.expired.intro": "Dessa undantag har gått ut: resultaten de matchar räknas åter som de är.",
    "waivers.expired.note": "Gick ut {date}, gäller inte längre.",
    "waivers.unmatched": "Matchade ingenting",
    "waivers.unmatched.intro": "Dessa undantag matchar inget resultat i körningen: kontrollera kontrollens id och systemmönstret.",
    "waivers.not_needed": "Behövs inte",
    "waivers.not_needed.intro": "Dessa undantag matchade bara resultat som blev godkända eller hoppades över.",
    "waivers.empty": "Undantagsfilen innehåller inga undantag.",
    "waivers.none_in_group": "Inga.",
    "waiver.id": "Undantag",
    "waiver.control": "Kontroll",
    "waiver.target": "System (mönster)",
    "waiver.justification": "Motivering",
    "waiver.approver": "Godkänt av",
    "waiver.expires": "Gäller t.o.m.",
    "waiver.matched": "Resultat",
    "waiver.source": "Definierat i",
    "waiver.finding": "Undantagen till och med {expires}, godkänt av {approver}.",
    "waiver.finding.justification": "Motivering:",
    "waiver.finding.original": "Utan undantaget skulle resultatet vara:",
    "waiver.finding.source": "Undantag {id}, {source}",
    "control.unknown": "Kontroll {id}",
    "control.area": "Område:",
    "control.severity": "Allvarlighetsgrad:",
    "control.applies": "Gäller:",
    "control.why": "Varför det är viktigt:",
    "control.references": "Referenser:",
    "control.not_run": "Kontrollen kördes inte i den här granskningen (inget system som den gäller, eller så valdes den bort).",
    "finding.reason": "Orsak:",
    "finding.evidence.one": "Underlag ({n} observation)",
    "finding.evidence.other": "Underlag ({n} observationer)",
    "finding.no_evidence": "Inget observerat underlag ligger bakom resultatet.",
    "finding.details": "Tekniska detaljer",
    "fact.missing": "Observationen {id} finns inte sparad i körningen.",
    "fact.head": "Observation {name}, {when}, via {via} ({ms} ms)",
    "fact.error": "Kunde inte samlas in",
    "fact.skipped": "Samlades inte in",
    "fact.reason": "orsak: {reason}",
    "fact.digest": "Kontrollsumma för observationen",
    "fact.tool": "sparad av auditor {version}",
    "ev.how": "Hur",
    "ev.exit": "Slutstatus",
    "ev.success": "(lyckades)",
    "ev.when": "När",
    "ev.where": "Var",
    "ev.sha256": "SHA-256",
    "ev.of_raw": "av den råa utdatan",
    "ev.of_redacted": "av det maskerade utdraget",
    "ev.redacted": "Maskerat:",
    "ev.redacted.detail": "där kontrollsumman gäller det maskerade utdraget togs känsliga värden bort innan utdraget sparades.",
    "ev.no_output": "(ingen utdata)",
    "ev.truncated": "Utdraget är förkortat; kontrollsumman gäller hela utdatan.",
    "ev.same": "Samma utdata som {link}.",
    "ev.same.link": "visas tidigare",
    "ev.same_source": "samma som visas tidigare",
    "ev.picked": "Här visas de {shown} av {total} rader som kontrollerna läser. Hela utdatan finns i {run_json}; kontrollsumman gäller den.",
    "appendix.heading": "Underlag per system",
    "appendix.intro": "Varje observation en gång, med hur och när den samlades in (tider i UTC) och dess kontrollsumma; under den varje underlag: hur det togs, dess slutstatus, när, och SHA-256 av den råa utdatan (av det maskerade utdraget där det står). Resultaten ovan länkar hit.",
    "appendix.target": "Observerat på {where}",
    "finding.cites": "Bygger på:",
    "findings.result": "Resultat",
    "findings.target": "System",
    "findings.finding": "Iakttagelse",
    "promises.heading": "Löften, kontroller och underlag",
    "other.heading": "Övriga kontroller",
    "other.intro": "Dessa kontroller kördes men är inte kopplade till något löfte i policyn.",
    "notices.heading": "Meddelanden",
    "about.heading": "Om granskningen",
    "about.inventory": "Inventering",
    "about.name": "Namn",
    "about.file": "Fil",
    "about.targets": "Granskade system",
    "about.target": "System",
    "about.kind": "Typ",
    "about.address": "Adress",
    "about.groups": "Grupper och taggar",
    "about.defined": "Definierat i",
    "about.policy": "Policy",
    "about.title": "Titel",
    "about.builds_on": "Bygger på",
    "about.document": "Integritetspolicy",
    "about.retrieved": "hämtad {date}",
    "about.parameters": "Policyparametrar som användes",
    "about.parameter": "Parameter",
    "about.value": "Värde",
    "about.options": "Körningens inställningar",
    "footer.generated": "Skapad av auditor {version} från körning {run_id} (schema {schema}).",
    "footer.source": "Allt på den här sidan kommer från {run_json} i samma mapp; {verify} kontrollerar att inget har ändrats.",
    "footer.folder": "mapp",
    "md.title": "Granskning av integritetslöften: {policy} på {inventory}",
    "md.run": "Körning {run_id}, {started} till {finished}, auditor {version}.",
    "md.interrupted": "Varning: körningen avbröts; resultaten är ofullständiga.",
    "shard.part": "Del {index} av {count}: {targets} av de {total} valda målen; `auditor merge` fogar samman de {count} delarna till hela körningen.",
    "shard.merged": "Sammanfogad av {count} delar (`auditor merge`).",
    "md.result": "Resultat",
    "md.checks": "Kontroller",
    "md.by_family": "Per område",
    "md.family": "Område",
    "md.problems": "Underkända och ej kontrollerbara",
    "md.promises": "Löften",
    "md.promise": "{verdict}: {promise}",
    "md.failing": "{plain}. Åtgärd: {remediation}",
    "md.unverified": "{title}: kunde inte verifieras för {n} mål",
    "md.not_checked": "Inte kontrollerat eftersom {reason}.",
    "md.problem": "{control} på {target}: {message}",
    "md.more": "… och {n} till (alla finns i report.html).",
    "md.waivers": "Undantag",
    "md.waivers.line": "Tillämpade: {applied} · utgångna: {expired} · matchade ingenting: {unmatched} · behövs inte: {not_needed}",
    "md.waivers.expired": "Undantaget {id} ({control}, {target}) gick ut {date} och gäller inte längre.",
    "md.full": "Hela rapporten, med underlaget för varje resultat, är `report.html` i samma mapp som den här sammanfattningen.",
}

CATALOGUE: dict[str, dict[str, str]] = {"en": _EN, "sv": _SV}

def resolve_language(lang: Any) -> str:
    """``lang`` if the catalogue has it, else English (runs older than schema 1.1 have no ``lang``)."""
    return lang if isinstance(lang, str) and lang in CATALOGUE else DEFAULT_LANGUAGE


def shard_note(doc: Mapping[str, Any], t: "Translator") -> str | None:
    """Which shard a run is (``auditor run --shard I/N``), or that it merges shards; None for a whole run."""
    shard = doc.get("shard")
    if not isinstance(shard, Mapping):
        return None
    if shard.get("merged_from") is not None:
        return t("shard.merged", count=shard.get("count"))
    return t("shard.part", index=shard.get("index"), count=shard.get("count"), targets=len(doc.get("targets") or ()), total=len(shard.get("selection") or ()))


class Translator:
    """The fixed strings of one language: ``t("key", name=value)``."""

    def __init__(self, lang: Any = DEFAULT_LANGUAGE):
        self.lang = resolve_language(lang)
        self.strings = CATALOGUE[self.lang]

    def __call__(self, key: str, /, **values: Any) -> str:
        template = self.strings[key]
        return template.format(**values) if values else template

    def plural(self, key: str, n: int, /, **values: Any) -> str:
        return self(f"{key}.{'one' if n == 1 else 'other'}", n=n, **values)

    def get(self, prefix: str, code: Any) -> str | None:
        """The string for ``prefix.code`` (e.g. ``reason.timeout``), or None when the catalogue has none."""
        key = f"{prefix}.{code}"
        return self.strings.get(key) if isinstance(code, str) else None

    def control_text(self, control: Mapping[str, Any], name: str) -> tuple[str, str]:
        """(text, its language) of one of a control's texts as the run recorded them (``title``,
        ``rationale``, ``remediation``, ``plain``): ``<name>_sv`` in a Swedish report when the
        control declares it, else the English one (a run older than these fields has only English)."""
        if self.lang != DEFAULT_LANGUAGE:
            translated = control.get(f"{name}_{self.lang}")
            if isinstance(translated, str) and translated:
                return translated, self.lang
        text = control.get(name)
        return (text if isinstance(text, str) and text else (control.get("id", "") if name == "title" else "")), DEFAULT_LANGUAGE

    def control_title(self, control: Mapping[str, Any]) -> tuple[str, str]:
        """(title, language of the title) of a control: the recorded translation if there is one, else the recorded title."""
        return self.control_text(control, "title")

    def message(self, finding: Mapping[str, Any]) -> tuple[str, str]:
        """(message, its language) of a finding: ``message_sv`` in a Swedish report when recorded, else ``message``."""
        translated = finding.get(f"message_{self.lang}") if self.lang != DEFAULT_LANGUAGE else None
        if isinstance(translated, str) and translated:
            return translated, self.lang
        message = finding.get("message")
        return ("" if message is None else str(message)), DEFAULT_LANGUAGE


def localized(value: Any, lang: str) -> str | None:
    """A text given as a string, or as ``{language: text}``: the entry for ``lang``, else English, else the first."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in (lang, DEFAULT_LANGUAGE):
            if isinstance(value.get(key), str):
                return value[key]
        return next((v for _, v in sorted(value.items()) if isinstance(v, str)), None)
    return str(value)


def localized_language(value: Any, lang: str) -> str | None:
    """The language :func:`localized` picked its text from; None for a plain string (its language is not known)."""
    if isinstance(value, Mapping):
        for key in (lang, DEFAULT_LANGUAGE):
            if isinstance(value.get(key), str):
                return key
        return next((k for k, v in sorted(value.items()) if isinstance(v, str)), None)
    return None


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


def format_when(value: Any) -> str:
    """An ISO-8601 timestamp as ``YYYY-MM-DD HH:MM:SS UTC``; anything else unchanged (a date stays a date)."""
    if not isinstance(value, str) or not _ISO.match(value):
        return "" if value is None else str(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
