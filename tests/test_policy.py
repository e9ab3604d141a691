"""Policies: the built-in ones, extends, and every kind of mistake, through the real loader."""

from __future__ import annotations

import os
import re

import pytest

from auditor.cli import main
from auditor.errors import InputError
from auditor.policy import builtin_policies, load_policy

from helpers import registry, write

SV_NO_TRANSFERS = "Vi har avtal med samtliga samarbetspartner och underleverantörer inom EU. Vi delar inga uppgifter med företag utanför EU."
SV_STANDARDS = "Vi använder oss av industristandarder för att lagra, behandla och kommunicera känslig information"
SV_BACKUPS = "säkerhetskopior av ovanstående tas bort enligt vårt schema för säkerhetskopior."


def problems_of(path: str) -> list[str]:
    with pytest.raises(InputError) as info:
        load_policy(path, registry())
    return [str(p) for p in info.value.problems]


def only_problem(path: str) -> str:
    found = problems_of(path)
    assert len(found) == 1, found
    return found[0]


def policy_file(tmp_path, text: str, name: str = "policy.yaml") -> str:
    return write(str(tmp_path / name), text)


# --- the built-in policies -----------------------------------------------------------


def test_builtin_policies_are_listed():
    assert {"baseline-eu", "webbplats-nu"} <= set(builtin_policies())


def test_baseline_eu_loads():
    reg = registry()
    pol = load_policy("baseline-eu", reg)
    assert pol.id == "baseline-eu"
    assert pol.chain == ("baseline-eu",)
    assert pol.language == "en"
    assert os.path.isabs(pol.path) and pol.path.endswith("baseline-eu.yaml")
    assert re.fullmatch(r"[0-9a-f]{64}", pol.sha256)
    ids = [p.id for p in pol.promises]
    assert ids == ["GDPR-32-SECURITY", "GDPR-5-1-F-CONFIDENTIALITY", "GDPR-5-1-E-STORAGE-LIMITATION", "GDPR-44-TRANSFERS", "GDPR-17-3-B-LEGAL-OBLIGATION"]
    # Every parameter a module declares has a value; the baseline sets some.
    assert set(pol.parameters) == set(reg.parameters)
    assert pol.parameters["third_country_transfers_allowed"] is True
    assert "NO" in pol.parameters["allowed_countries"] and "SE" in pol.parameters["allowed_countries"]
    for promise in pol.promises:
        assert promise.language == "en"
        assert promise.source["document"] == "GDPR"
        assert promise.controls and all(c in reg.controls for c in promise.controls)
        assert "\n" not in promise.quote and "  " not in promise.quote


def test_webbplats_nu_extends_the_baseline_with_swedish_promises():
    reg = registry()
    base = load_policy("baseline-eu", reg)
    pol = load_policy("webbplats-nu", reg)
    assert pol.chain == ("baseline-eu", "webbplats-nu")
    assert pol.language == "sv"
    assert pol.document["name"] == "Integritets- och dataskyddspolicy Webbplats Nu AB"
    promises = {p.id: p for p in pol.promises}
    # The baseline's promises are inherited, the policy's own are added.
    assert {p.id for p in base.promises} < set(promises)
    transfers = promises["WN-NO-TRANSFERS-OUTSIDE-EU"]
    assert transfers.quote == SV_NO_TRANSFERS
    assert transfers.language == "sv"
    assert transfers.source["section"] == "Till vem lämnar vi ut personuppgifter"
    assert transfers.controls[:2] == ("DATA-DECLARED-LOCATION", "DATA-PROCESSOR-LOCATION") and "DATA-AWS-S3-BUCKET-REGION" in transfers.controls
    assert promises["WN-SECURITY-STANDARDS"].quote.startswith(SV_STANDARDS)
    assert promises["WN-BACKUP-SCHEDULE"].quote == SV_BACKUPS
    assert promises["GDPR-44-TRANSFERS"].language == "en"
    for promise in pol.promises:
        assert all(c in reg.controls for c in promise.controls)
    # Overridden: no transfer outside the EU at all, and EU (not EEA) only.
    assert pol.parameters["third_country_transfers_allowed"] is False
    assert base.parameters["third_country_transfers_allowed"] is True
    assert "NO" not in pol.parameters["allowed_countries"] and "SE" in pol.parameters["allowed_countries"]
    # Inherited: everything the policy does not set.
    for name in ("ssh_max_auth_tries", "password_hash_schemes_allowed", "transfer_safeguards_accepted", "backup_freshness_days", "adequacy_countries"):
        assert pol.parameters[name] == base.parameters[name], name
    assert set(pol.parameters) == set(base.parameters)


def test_public_view_carries_chain_and_parameters():
    pub = load_policy("webbplats-nu", registry()).public()
    assert pub["id"] == "webbplats-nu" and pub["chain"] == ["baseline-eu", "webbplats-nu"]
    assert pub["parameters"]["third_country_transfers_allowed"] is False


def test_unknown_builtin_name_gets_a_suggestion():
    with pytest.raises(InputError) as info:
        load_policy("webbplats-n", registry())
    (problem,) = info.value.problems
    assert problem.file == "--policy"
    assert "did you mean 'webbplats-nu'?" in problem.message
    assert "baseline-eu" in problem.message


# --- extends -----------------------------------------------------------------------------


def test_extends_a_file_overrides_parameters_and_replaces_promises(tmp_path):
    policy_file(tmp_path, """
        id: parent
        title: Parent policy
        language: sv
        parameters:
          ssh_max_auth_tries: 3
          backup_max_age_days: 30
        promises:
          - id: P1
            quote: Vi lagrar lösenord med hashalgoritmer.
            source: {document: Parent}
            controls: [PWHASH-SHADOW-SCHEMES]
          - id: P2
            quote: Säkerhetskopior tas bort enligt schema.
            source: {document: Parent}
            controls: [BACKUP-MAX-AGE]
        """, "parent.yaml")
    child = policy_file(tmp_path, """
        id: child
        title: Child policy
        extends: parent.yaml
        parameters:
          backup_max_age_days: 14
        promises:
          - id: P2
            quote: Backups are deleted after two weeks.
            language: en
            source: {document: Child, section: Backups}
            controls: [BACKUP-MAX-AGE, BACKUP-FRESHNESS]
          - id: C1
            quote: Ingen root-inloggning.
            source: {document: Child}
            controls: [ACCESS-SSH-ROOT-LOGIN]
        """, "sub/../child.yaml")
    pol = load_policy(child, registry())
    assert pol.chain == ("parent", "child")
    assert pol.parameters["backup_max_age_days"] == 14
    assert pol.parameters["ssh_max_auth_tries"] == 3
    assert pol.parameters["backup_freshness_days"] == registry().parameters["backup_freshness_days"].default
    promises = {p.id: p for p in pol.promises}
    assert list(promises) == ["P1", "P2", "C1"]
    assert promises["P2"].quote == "Backups are deleted after two weeks."
    assert promises["P2"].controls == ("BACKUP-MAX-AGE", "BACKUP-FRESHNESS")
    assert promises["P2"].language == "en"
    # Language is inherited from the parent, for the policy and its promises.
    assert pol.language == "sv"
    assert promises["C1"].language == "sv"
    assert promises["P1"].language == "sv"


def test_extends_cycle_is_detected(tmp_path):
    policy_file(tmp_path, "id: a\ntitle: Policy A\nextends: b.yaml\n", "a.yaml")
    b = policy_file(tmp_path, "id: b\ntitle: Policy B\nextends: a.yaml\n", "b.yaml")
    msg = only_problem(str(tmp_path / "a.yaml"))
    assert msg == f"{b}:3:10: extends: 'a.yaml' leads back to itself (a cycle)"


def test_extending_itself_is_a_cycle(tmp_path):
    path = policy_file(tmp_path, "id: me\ntitle: Policy me\nextends: me.yaml\n", "me.yaml")
    assert only_problem(path) == f"{path}:3:10: extends: 'me.yaml' leads back to itself (a cycle)"


def test_extends_a_missing_file(tmp_path):
    path = policy_file(tmp_path, "id: me\ntitle: Policy me\nextends: nowhere.yaml\n")
    assert only_problem(path) == f"{path}:3:10: extends: {tmp_path / 'nowhere.yaml'}: file not found"


def test_extends_neither_a_file_nor_a_builtin_is_placed_at_the_extends_line(tmp_path):
    """Found by tests/test_fuzz_inputs.py: the problem named --policy and no line of the file."""
    path = policy_file(tmp_path, "id: me\ntitle: Policy me\nextends: 1\n")
    assert only_problem(path).startswith(f"{path}:3:10: extends: '1' is neither a file nor a built-in policy")


# --- mistakes --------------------------------------------------------------------------


def test_unknown_control_id_names_file_line_and_closest_id(tmp_path):
    path = policy_file(tmp_path, """
        id: mine
        title: My policy
        extends: baseline-eu
        promises:
          - id: NO-ROOT
            quote: Root cannot log in.
            source: {document: Mine}
            controls:
              - ACCESS-SSH-ROOT-LOGIN
              - ACCESS-SSH-ROOT-LOGN
        """)
    with pytest.raises(InputError) as info:
        load_policy(path, registry())
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column) == (path, 10, 9)
    assert str(problem).startswith(f"{path}:10:9: promises[0].controls: no control named 'ACCESS-SSH-ROOT-LOGN'; did you mean 'ACCESS-SSH-ROOT-LOGIN'?")


def test_unknown_parameter_gets_a_suggestion(tmp_path):
    path = policy_file(tmp_path, """
        id: mine
        title: My policy
        parameters:
          ssh_max_auth_trys: 3
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:4:3: parameters: unknown parameter 'ssh_max_auth_trys'; did you mean 'ssh_max_auth_tries'?")


@pytest.mark.parametrize(
    "setting, expected",
    [
        ('backup_max_age_days: "thirty"', "parameters.backup_max_age_days: expected an integer, found the string 'thirty'"),
        ("backup_max_age_days: true", "parameters.backup_max_age_days: expected an integer, found the boolean true"),
        ("backup_max_age_days: 3.5", "parameters.backup_max_age_days: expected an integer, found the number 3.5"),
        ('third_country_transfers_allowed: "no"', "parameters.third_country_transfers_allowed: expected true or false, found the string 'no'"),
        ("allowed_countries: SE", "parameters.allowed_countries: expected a list of strings, found the string 'SE'"),
        # Unquoted NO is YAML's false: the list is refused rather than silently wrong.
        ("allowed_countries: [SE, NO]", "parameters.allowed_countries[1]: expected a string, found the boolean false (quote it: YAML reads an unquoted NO, no, off as false)"),
        ("allowed_countries: [SE, [DK]]", "parameters.allowed_countries[1]: expected a string, found a list"),
        ("allowed_countries: {SE: yes}", "parameters.allowed_countries: expected a list of strings, found a mapping"),
    ],
)
def test_parameter_with_wrong_type(tmp_path, setting, expected):
    path = policy_file(tmp_path, f"id: mine\ntitle: My policy\nparameters:\n  {setting}\n")
    msg = only_problem(path)
    assert re.match(re.escape(f"{path}:4:") + r"\d+: " + re.escape(expected), msg), msg


def test_promise_missing_quote_is_reported_not_a_crash(tmp_path):
    path = policy_file(tmp_path, """
        id: mine
        title: My policy
        promises:
          - id: P1
            source: {document: Mine}
            controls: [BACKUP-MAX-AGE]
        """)
    assert only_problem(path) == f"{path}:4:5: promises[0]: missing required key 'quote'"


def test_promise_missing_quote_and_bad_control_both_reported(tmp_path):
    path = policy_file(tmp_path, """
        id: mine
        title: My policy
        promises:
          - id: P1
            source: {document: Mine}
            controls: [BACKUP-MAX-AGES]
        """)
    found = problems_of(path)
    assert len(found) == 2
    assert found[0] == f"{path}:4:5: promises[0]: missing required key 'quote'"
    assert "no control named 'BACKUP-MAX-AGES'; did you mean 'BACKUP-MAX-AGE'?" in found[1]


def test_promise_mistakes_are_all_reported(tmp_path):
    path = policy_file(tmp_path, """
        id: mine
        title: My policy
        promises:
          - id: P1
            quote: One.
            source: {document: Mine}
            controls: []
          - id: P1
            quote: Two.
            source: {document: Mine}
            controls: [BACKUP-MAX-AGE]
          - id: P3
            quote: Three.
            controls: [BACKUP-MAX-AGE]
            langauge: sv
        """)
    assert problems_of(path) == [
        f"{path}:7:15: promises[0].controls: expected a non-empty list",
        f"{path}:8:5: promises[1]: id 'P1' is used twice in this policy",
        f"{path}:12:5: promises[2]: missing required key 'source'",
        f"{path}:15:5: promises[2]: unknown key 'langauge'; did you mean 'language'? Allowed keys: controls, id, language, quote, source, summary",
    ]


def test_policy_missing_id_and_title(tmp_path):
    path = policy_file(tmp_path, "language: sv\n")
    assert problems_of(path) == [
        f"{path}:1:1: missing required key 'id'",
        f"{path}:1:1: missing required key 'title'",
    ]


def test_policy_unknown_top_level_key(tmp_path):
    path = policy_file(tmp_path, "id: mine\ntitle: My policy\nparameter:\n  ssh_max_auth_tries: 3\n")
    assert only_problem(path).startswith(f"{path}:3:1: unknown key 'parameter'; did you mean 'parameters'?")


def test_empty_policy_file(tmp_path):
    path = policy_file(tmp_path, "")
    assert only_problem(path) == f"{path}:1:1: expected a mapping (the policy), found nothing (null)"


def test_policy_bad_yaml(tmp_path):
    path = policy_file(tmp_path, "id: mine\ntitle: [unclosed\n")
    assert re.match(re.escape(path) + r":\d+:\d+: not valid YAML", only_problem(path))


# --- through the CLI -----------------------------------------------------------------------


def test_cli_validate_reports_policy_problems_with_exit_2(tmp_path, capsys):
    inventory = write(str(tmp_path / "inv.yaml"), "servers:\n  - name: here\n    connection: local\n")
    path = policy_file(tmp_path, """
        id: mine
        title: My policy
        extends: baseline-eu
        parameters:
          ssh_max_auth_trys: 3
        """)
    assert main(["validate", inventory, "--policy", path]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.splitlines()[0].startswith(f"auditor: error: {path}:5:3: parameters: unknown parameter 'ssh_max_auth_trys'")


def test_cli_validate_with_a_good_policy(tmp_path, capsys):
    inventory = write(str(tmp_path / "inv.yaml"), "servers:\n  - name: here\n    connection: local\n")
    assert main(["validate", inventory, "--policy", "webbplats-nu"]) == 0
    out, _ = capsys.readouterr()
    assert "policy webbplats-nu" in out and "valid, 10 promises" in out


def test_promise_summary_may_be_given_per_language(tmp_path):
    path = policy_file(tmp_path, """
        id: mine
        title: My policy
        promises:
          - id: P1
            quote: Vi sparar säkerhetskopior i högst 35 dagar.
            source: {document: Mine}
            summary:
              en: Backups are kept at most   35 days.
              sv: Säkerhetskopior sparas högst 35 dagar.
            controls: [BACKUP-MAX-AGE]
          - id: P2
            quote: We keep backups.
            source: {document: Mine}
            summary: Backups exist.
            controls: [BACKUP-FRESHNESS]
        """)
    p1, p2 = load_policy(path, registry()).promises
    assert p1.summary == {"en": "Backups are kept at most 35 days.", "sv": "Säkerhetskopior sparas högst 35 dagar."}
    assert p2.summary == "Backups exist."


@pytest.mark.parametrize("summary, expected", [
    ("{english: Backups}", "summary key: expected a two-letter language code such as sv or en, found the string 'english'"),
    ("{}", "expected a string or a mapping of language codes to strings (en: ..., sv: ...), found an empty mapping"),
    ("[a, b]", "expected a string or a mapping of language codes to strings (en: ..., sv: ...), found a list"),
])
def test_promise_summary_mistakes(tmp_path, summary, expected):
    path = policy_file(tmp_path, f"""
        id: mine
        title: My policy
        promises:
          - id: P1
            quote: We keep backups.
            source: {{document: Mine}}
            summary: {summary}
            controls: [BACKUP-FRESHNESS]
        """)
    assert expected in only_problem(path)


def test_bundled_policies_have_english_and_swedish_summaries():
    for name in builtin_policies():
        for promise in load_policy(name, registry()).promises:
            assert set(promise.summary) == {"en", "sv"}, (name, promise.id)
