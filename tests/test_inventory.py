"""Inventory loading and validation, through the real loader and the real CLI, on real files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.folders import report_folders
from auditor.errors import InputError
from auditor.inventory import SECTIONS, field_reference, load_inventory
from auditor.secrets import SecretRef

from helpers import write

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventories" / "example-webbplats-nu.yaml"
DOCS = ROOT / "docs" / "inventory.md"


def problems_of(path: str) -> list[str]:
    """The problems load_inventory reports for a file, as printed."""
    with pytest.raises(InputError) as info:
        load_inventory(path)
    return [str(p) for p in info.value.problems]


def only_problem(path: str) -> str:
    found = problems_of(path)
    assert len(found) == 1, found
    return found[0]


FULL = """
version: 1
name: full
description: Every section once.
servers:
  - name: web1
    host: web1.example.se
    port: 2222
    user: audit
    tags: [production, frontend]
    country: SE
    sudo: true
    backup_paths: [/var/backups]
  - name: here
    connection: local
web:
  - name: shop
    url: https://shop.example.se/
    tags: [production]
mail:
  - name: mx1
    host: mx1.example.se
    services: [smtp, imaps, pop3s:10995]
databases:
  - name: crm
    engine: postgresql
    host: db1.example.se
  - name: legacy
    engine: mysql
    host: db2.example.se
    port: 3307
backups:
  - name: nightly
    type: borg
    server: web1
    repository: /var/backups/borg
  - name: offsite
    type: s3
    bucket: example-backups
    aws: main
aws:
  - name: main
    role_arn: arn:aws:iam::123456789012:role/audit
    regions: [eu-north-1]
  - name: other
    profile: audit
processors:
  - name: google
    country: US
    purpose: Analysdata
groups:
  frontends: [web1, shop]
  vendors: [google]
"""


# --- valid files ---------------------------------------------------------------


def test_every_section_loads_into_typed_targets(tmp_path):
    inv = load_inventory(write(str(tmp_path / "full.yaml"), FULL))
    by_id = {t.id: t for t in inv.targets}
    assert list(by_id) == [
        "server:web1", "server:here", "web:shop", "mail:mx1", "database:crm", "database:legacy",
        "backup:nightly", "backup:offsite", "aws:main", "aws:other", "processor:google",
    ]
    assert {t.id: t.kind for t in inv.targets} == {i: i.split(":")[0] for i in by_id}
    assert {t.id: t.address for t in inv.targets} == {
        "server:web1": "web1.example.se",
        "server:here": "localhost",
        "web:shop": "https://shop.example.se/",
        "mail:mx1": "mx1.example.se",
        "database:crm": "db1.example.se:5432",
        "database:legacy": "db2.example.se:3307",
        "backup:nightly": "/var/backups/borg",
        "backup:offsite": "s3://example-backups",
        "aws:main": "arn:aws:iam::123456789012:role/audit",
        "aws:other": "audit",
        "processor:google": "US",
    }
    assert by_id["server:web1"].tags == ("production", "frontend")
    assert by_id["web:shop"].tags == ("production",)
    assert by_id["mail:mx1"].tags == ()
    assert by_id["server:web1"].groups == ("frontends",)
    assert by_id["web:shop"].groups == ("frontends",)
    assert by_id["processor:google"].groups == ("vendors",)
    assert by_id["server:here"].groups == ()
    assert inv.groups == {"frontends": ("web1", "shop"), "vendors": ("google",)}
    assert inv.name == "full"
    assert inv.path == os.path.abspath(tmp_path / "full.yaml")
    assert re.fullmatch(r"[0-9a-f]{64}", inv.sha256)
    # Settings are the validated values, with the schema's own defaults.
    web1 = by_id["server:web1"]
    assert web1.get("port") == 2222 and web1.get("user") == "audit" and web1.get("sudo") is True
    assert web1.get("connection") == "ssh"
    assert web1.get("backup_paths") == ["/var/backups"]
    assert "tags" not in web1.settings
    assert by_id["server:here"].get("connection") == "local"
    assert by_id["mail:mx1"].get("services") == ["smtp", "imaps", "pop3s:10995"]
    assert by_id["backup:nightly"].get("purpose") == "backup"
    assert by_id["aws:other"].get("regions") == "all-enabled"
    assert by_id["aws:main"].get("regions") == ["eu-north-1"]
    assert by_id["processor:google"].get("safeguard") == "none"
    assert by_id["processor:google"].get("transfers_personal_data") is True
    # Each target remembers the line of its entry.
    assert web1.source == f"{tmp_path / 'full.yaml'}:5"
    google_line = FULL.lstrip("\n").splitlines().index("  - name: google") + 1
    assert by_id["processor:google"].source == f"{tmp_path / 'full.yaml'}:{google_line}"


def test_same_name_in_two_sections_is_allowed(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: db
            connection: local
        databases:
          - name: db
            engine: mariadb
            host: localhost
        """)
    assert [t.id for t in load_inventory(path).targets] == ["server:db", "database:db"]


def test_defaults_fill_only_sections_that_have_the_key_and_entries_that_leave_it_out(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        defaults:
          port: 2222
          country: SE
          sudo: true
          timeout: 5
        servers:
          - name: plain
            host: a.example.se
          - name: own-port
            host: b.example.se
            port: 22
            sudo: false
        web:
          - name: site
            url: https://example.se/
        databases:
          - name: db
            engine: postgresql
            host: db.example.se
        processors:
          - name: abroad
            country: US
        """)
    t = {x.id: x for x in load_inventory(path).targets}
    assert t["server:plain"].get("port") == 2222
    assert t["server:plain"].get("sudo") is True
    assert t["server:plain"].get("country") == "SE"
    assert t["server:plain"].get("timeout") == 5.0
    assert t["server:own-port"].get("port") == 22
    assert t["server:own-port"].get("sudo") is False
    # web has country and timeout, but no port or sudo.
    assert t["web:site"].get("country") == "SE"
    assert t["web:site"].get("timeout") == 5.0
    assert "port" not in t["web:site"].settings and "sudo" not in t["web:site"].settings
    # databases have a port: the default applies, and shows in the address.
    assert t["database:db"].get("port") == 2222
    assert t["database:db"].address == "db.example.se:2222"
    assert "sudo" not in t["database:db"].settings
    # An entry's own value wins over the default.
    assert t["processor:abroad"].get("country") == "US"
    assert t["processor:abroad"].address == "US"


def test_null_unsets_an_inherited_default(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        defaults:
          tls_ca: /etc/ssl/db-ca.pem
          port: 2222
          connection: local
        databases:
          - name: with-ca
            engine: postgresql
            host: db1.example.se
          - name: no-tls
            engine: mariadb
            host: db2.example.se
            tls_ca: null
            port: ~
        servers:
          - name: ssh-again
            host: s.example.se
            connection: null
        """)
    t = {x.id: x for x in load_inventory(path).targets}
    assert t["database:with-ca"].get("tls_ca") == "/etc/ssl/db-ca.pem"
    assert "tls_ca" not in t["database:no-tls"].settings and "port" not in t["database:no-tls"].settings
    assert t["database:no-tls"].address == "db2.example.se:3306"  # the engine's port, not the default 2222
    # Unsetting an inventory default brings back the built-in one.
    assert t["server:ssh-again"].get("connection") == "ssh"


def test_null_where_nothing_is_inherited_or_the_key_is_required_is_an_error(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        defaults:
          country: SE
        processors:
          - name: p
            country: null
        databases:
          - name: d
            engine: postgresql
            host: db.example.se
            tls_ca: null
        """)
    assert problems_of(path) == [
        f"{path}:5:14: processors[0].country: null unsets the default 'country', but every entry of processors needs 'country'; give this entry its own value",
        f"{path}:10:13: databases[0].tls_ca: expected a file path, found nothing (null)",  # no default to unset: a null is still a mistake
    ]


def test_a_default_valid_for_one_section_only_applies_where_it_fits(tmp_path):
    # `purpose` is free text for processors but backup|bookkeeping for backups.
    path = write(str(tmp_path / "inv.yaml"), """
        defaults:
          purpose: Analysdata för webbanalys
        processors:
          - name: p1
            country: SE
          - name: p2
            country: SE
            purpose: Fakturering
        """)
    t = {x.id: x for x in load_inventory(path).targets}
    assert t["processor:p1"].get("purpose") == "Analysdata för webbanalys"
    assert t["processor:p2"].get("purpose") == "Fakturering"
    # A backups entry that inherits it is told, at its own line.
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("servers:\n  - name: s\n    connection: local\nbackups:\n  - name: b\n    type: path\n    server: s\n    path: /var/backups\n")
    msg = only_problem(path)
    assert msg.startswith(f"{path}:13:5: backups[0].purpose: 'Analysdata för webbanalys' is not one of backup, bookkeeping")


def test_a_default_valid_for_no_section_is_reported_at_the_default(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        defaults:
          port: 99999
        servers:
          - name: s
            host: s.example.se
        """)
    assert only_problem(path) == f"{path}:2:9: defaults.port: expected an integer from 1 to 65535, found the integer 99999"


def test_a_default_key_no_section_may_default_is_refused(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        defaults:
          url: https://example.se/
        web:
          - name: w
            url: https://example.se/
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:2:3: defaults: unknown key 'url'")


def test_a_missing_default_secret_is_reported_once(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDITOR_TEST_UNSET_VAR", raising=False)
    path = write(str(tmp_path / "inv.yaml"), """
        defaults:
          key_passphrase: ${AUDITOR_TEST_UNSET_VAR}
        servers:
          - name: a
            host: a.example.se
          - name: b
            host: b.example.se
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:2:19: defaults.key_passphrase: environment variable AUDITOR_TEST_UNSET_VAR is not set")


# --- one mistake at a time -------------------------------------------------------


def test_unknown_key_names_position_key_and_suggestion(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: web1
            host: web1.example.se
            prot: 22
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:4:5: servers[0]: unknown key 'prot'; did you mean 'port'?")
    assert "Allowed keys:" in msg and "key_file" in msg


@pytest.mark.parametrize(
    "line, expected",
    [
        ('port: "twenty-two"', "3:11: servers[0].port: expected an integer from 1 to 65535, found the string 'twenty-two'"),
        ("port: 70000", "3:11: servers[0].port: expected an integer from 1 to 65535, found the integer 70000"),
        ("port: 0", "3:11: servers[0].port: expected an integer from 1 to 65535, found the integer 0"),
        ("port: true", "3:11: servers[0].port: expected an integer from 1 to 65535, found the boolean true"),
        ("tags: web", "3:11: servers[0].tags: expected a list, found the string 'web' (write [web] or a '- web' item)"),
        ("tags: [ok, 'not ok']", "3:16: servers[0].tags[1]: expected a name of letters, digits, '.', '_' or '-', found the string 'not ok'"),
        ("sudo: yes please", "3:11: servers[0].sudo: expected true or false, found the string 'yes please'"),
        ("connection: telnet", "3:17: servers[0].connection: 'telnet' is not one of ssh, local"),
        ("country: se", "3:14: servers[0].country: expected an ISO 3166 two-letter country code in capitals, e.g. SE, found the string 'se'"),
        ("timeout: 0", "3:14: servers[0].timeout: expected a number of at least 0.1, found the integer 0"),
        ("root_dir: relative/dir", "3:15: servers[0].root_dir: expected an absolute path, found the string 'relative/dir'"),
        ("host_key: abc", "3:15: servers[0].host_key: expected an OpenSSH SHA256 fingerprint"),
    ],
)
def test_wrong_value_says_where_what_was_found_and_what_was_expected(tmp_path, line, expected):
    path = write(str(tmp_path / "inv.yaml"), f"servers:\n  - name: s1\n    {line}\n    host: s1.example.se\n")
    assert only_problem(path).startswith(f"{path}:{expected}")


@pytest.mark.parametrize(
    "text, position",
    [
        ("servers:\n  - name: [a\n", r"3:1"),
        ("servers:\n\t- name: a\n", r"2:1"),
        ("servers:\n  - name: a\n   host: b\n", r"3:\d+"),
        ("servers: [\n", r"2:1"),
    ],
    ids=["unclosed-bracket", "tab-indentation", "bad-indentation", "unclosed-flow-list"],
)
def test_invalid_yaml_names_position(tmp_path, text, position):
    path = str(tmp_path / "inv.yaml")
    Path(path).write_text(text, encoding="utf-8")
    msg = only_problem(path)
    assert re.match(re.escape(path) + ":" + position + ": not valid YAML: ", msg), msg


def test_duplicate_key(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: s1
            host: a.example.se
            host: b.example.se
        """)
    assert only_problem(path) == f"{path}:4:5: duplicate key 'host' (first given on line 3); each key may appear once"


def test_duplicate_name_within_a_section(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: s1
            host: a.example.se
          - name: s1
            host: b.example.se
        """)
    assert only_problem(path) == f"{path}:4:5: servers[1]: name 's1' is already used by entry on line 2; names must be unique within a section"


def test_missing_required_key(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        web:
          - name: shop
            country: SE
        """)
    assert only_problem(path) == f"{path}:2:5: web[0]: missing required key 'url'"


def test_ssh_server_needs_a_host(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: s1
            port: 22
        """)
    assert only_problem(path).startswith(f"{path}:2:5: servers[0]: missing required key 'host' (needed for connection: ssh; use connection: local")


def test_backup_s3_needs_a_bucket(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        aws:
          - name: main
        backups:
          - name: offsite
            type: s3
            aws: main
        """)
    assert only_problem(path) == f"{path}:4:5: backups[0]: type s3 needs key 'bucket'"


def test_backup_naming_an_unknown_server_gets_a_suggestion(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: backup1
            connection: local
        backups:
          - name: nightly
            type: path
            server: backup2
            path: /var/backups
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:5:")
    assert "server 'backup2' is not in servers:; did you mean 'backup1'?" in msg


def test_group_member_that_does_not_exist_gets_a_suggestion(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: web1
            connection: local
        groups:
          frontends: [web1, wbe2, nothing-like-it]
        web:
          - name: web2
            url: https://example.se/
        """)
    found = problems_of(path)
    assert found == [
        f"{path}:5:21: groups.frontends: 'wbe2' is not a target in this inventory; did you mean 'web2'?",
        f"{path}:5:27: groups.frontends: 'nothing-like-it' is not a target in this inventory",
    ]


def test_groups_must_be_lists_of_names(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: web1
            connection: local
        groups:
          frontends: web1
        """)
    assert only_problem(path).startswith(f"{path}:5:14: groups.frontends: expected a list, found the string 'web1'")


def test_unknown_top_level_section_gets_a_suggestion(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        server:
          - name: web1
            host: web1.example.se
        processors:
          - name: p
            country: SE
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:1:1: unknown key 'server'; did you mean 'servers'?")


def test_section_must_be_a_list_and_entries_mappings(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          name: web1
        web:
          - https://example.se/
        processors:
          - name: p
            country: SE
        """)
    assert problems_of(path) == [
        f"{path}:2:3: servers: expected a list of entries (each starting with '- name: ...'), found a mapping",
        f"{path}:4:5: web[0]: expected a mapping (one entry of web), found the string 'https://example.se/'",
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n"], ids=["empty", "blank-lines", "comment-only"])
def test_empty_file(tmp_path, text):
    path = str(tmp_path / "inv.yaml")
    Path(path).write_text(text, encoding="utf-8")
    assert only_problem(path).startswith(f"{path}:1:1: the inventory is empty")


def test_file_without_targets(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        version: 1
        name: nothing
        servers: []
        """)
    assert only_problem(path).startswith(f"{path}:1:1: the inventory names no targets")


def test_top_level_must_be_a_mapping(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), "- name: web1\n")
    assert only_problem(path) == f"{path}:1:1: expected a mapping (the inventory), found a list"


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.yaml")
    assert only_problem(path) == f"{path}: file not found"


# --- secrets ---------------------------------------------------------------------


def test_missing_env_var_names_the_variable_and_the_line(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDITOR_TEST_MISSING_PASSPHRASE", raising=False)
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: s1
            host: s1.example.se
            key_passphrase: ${AUDITOR_TEST_MISSING_PASSPHRASE}
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:4:21: servers[0].key_passphrase: environment variable AUDITOR_TEST_MISSING_PASSPHRASE is not set")


def test_missing_env_var_in_mapping_form(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDITOR_TEST_MISSING_DB", raising=False)
    path = write(str(tmp_path / "inv.yaml"), """
        databases:
          - name: db
            engine: postgresql
            host: db.example.se
            password: {env: AUDITOR_TEST_MISSING_DB}
        """)
    assert only_problem(path).startswith(f"{path}:5:15: databases[0].password: environment variable AUDITOR_TEST_MISSING_DB is not set")


@pytest.mark.parametrize("value", ["hunter2", "'${NOT A VAR}'", "$PLAIN_DOLLAR"])
def test_literal_secret_is_refused(tmp_path, value):
    path = write(str(tmp_path / "inv.yaml"), f"""
        databases:
          - name: db
            engine: mysql
            host: db.example.se
            password: {value}
        """)
    msg = only_problem(path)
    assert msg.startswith(f"{path}:5:15: databases[0].password: secrets cannot be written into the inventory")
    assert "hunter2" not in msg


def test_secret_of_the_wrong_shape(tmp_path):
    path = write(str(tmp_path / "inv.yaml"), """
        databases:
          - name: db
            engine: mysql
            host: db.example.se
            password: {vault: secret/db}
        """)
    assert only_problem(path).startswith(f"{path}:5:15: databases[0].password: expected '${{ENV_VAR}}', {{env: VAR}} or {{file: /path/to/secret}}, found a mapping")


def test_file_secret_pointing_to_a_missing_file(tmp_path):
    missing = tmp_path / "no-such-secret"
    path = write(str(tmp_path / "inv.yaml"), f"""
        backups:
          - name: b
            type: restic
            server: s
            repository: /srv/restic
            password: {{file: {missing}}}
        servers:
          - name: s
            connection: local
        """)
    assert only_problem(path) == f"{path}:6:15: backups[0].password: secret file {missing} does not exist"


def test_secrets_are_references_and_never_printed(tmp_path, monkeypatch):
    sentinel_env = "s3nt1nel-from-env-7c1f"
    sentinel_file = "s3nt1nel-from-file-93ab"
    monkeypatch.setenv("AUDITOR_TEST_SECRET", sentinel_env)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(sentinel_file + "\n", encoding="utf-8")
    path = write(str(tmp_path / "inv.yaml"), f"""
        servers:
          - name: s1
            host: s1.example.se
            key_passphrase: ${{AUDITOR_TEST_SECRET}}
        databases:
          - name: db
            engine: postgresql
            host: db.example.se
            password: {{file: {secret_file}}}
        aws:
          - name: acct
            role_arn: arn:aws:iam::123456789012:role/audit
            external_id: {{env: AUDITOR_TEST_SECRET}}
        """)
    inv = load_inventory(path)
    server, db, acct = inv.targets
    ref = server.get("key_passphrase")
    assert isinstance(ref, SecretRef)
    assert (ref.kind, ref.name, ref.where) == ("env", "AUDITOR_TEST_SECRET", f"{path}:4")
    assert ref.reveal() == sentinel_env
    assert db.get("password").reveal() == sentinel_file
    assert acct.get("external_id").reveal() == sentinel_env
    for shown in (repr(server), str(server), repr(db), str(db), repr(acct), repr(inv), str(inv.targets),
                  json.dumps([t.public() for t in inv.targets]), json.dumps(inv.public())):
        assert sentinel_env not in shown and sentinel_file not in shown
    assert "${AUDITOR_TEST_SECRET}" in repr(server)
    assert f"file {secret_file}" in repr(db)


def test_secret_is_read_at_connect_time_not_at_load(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITOR_TEST_SECRET", "first")
    path = write(str(tmp_path / "inv.yaml"), """
        servers:
          - name: s1
            host: s1.example.se
            key_passphrase: ${AUDITOR_TEST_SECRET}
        """)
    ref = load_inventory(path).targets[0].get("key_passphrase")
    monkeypatch.setenv("AUDITOR_TEST_SECRET", "second")
    assert ref.reveal() == "second"


# --- all at once -------------------------------------------------------------------


def test_all_problems_of_a_file_are_reported_at_once_sorted_by_line(tmp_path):
    # The group problem is found last (after every section) but is on line 2.
    path = write(str(tmp_path / "inv.yaml"), """
        groups:
          frontends: [web9]
        servers:
          - name: web1
            host: web1.example.se
            prot: 22
        web:
          - name: shop
        """)
    found = problems_of(path)
    assert len(found) == 3, found
    assert [f.split(":")[1] for f in found] == ["2", "6", "8"]
    assert "'web9' is not a target" in found[0]
    assert "unknown key 'prot'" in found[1]
    assert "missing required key 'url'" in found[2]


# --- --limit -----------------------------------------------------------------------


def test_select_by_name_id_tag_group_and_glob(tmp_path):
    inv = load_inventory(write(str(tmp_path / "full.yaml"), FULL))

    def ids(*limits):
        return [t.id for t in inv.select(list(limits))]

    assert len(ids()) == len(inv.targets)
    assert ids("web1") == ["server:web1"]
    assert ids("database:crm") == ["database:crm"]
    assert ids("production") == ["server:web1", "web:shop"]
    assert ids("frontends") == ["server:web1", "web:shop"]
    assert ids("vendors") == ["processor:google"]
    assert ids("database:*") == ["database:crm", "database:legacy"]
    assert ids("*:m*") == ["mail:mx1", "aws:main"]
    assert ids("web1", "google") == ["server:web1", "processor:google"]
    assert ids("Web1") == []  # case-sensitive
    assert inv.unknown_limits(["web1", "nope", "front*"]) == ["nope"]


# --- the CLI -----------------------------------------------------------------------


def test_cli_validate_broken_inventory_exits_2_with_one_line_per_problem(tmp_path, capsys):
    path = write(str(tmp_path / "broken.yaml"), """
        servers:
          - name: web1
            host: web1.example.se
            prot: 22
            port: "twenty-two"
        web:
          - name: shop
        """)
    assert main(["validate", path]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert lines[-1] == "auditor: 3 problems found; nothing was audited."
    problems = lines[:-1]
    assert len(problems) == 3
    for line in problems:
        assert re.match(re.escape(f"auditor: error: {path}:") + r"\d+:\d+: ", line), line
    assert "did you mean 'port'?" in problems[0]
    assert "twenty-two" in problems[1]
    assert "missing required key 'url'" in problems[2]


def test_cli_validate_bad_yaml_exits_2_without_traceback(tmp_path, capsys):
    path = str(tmp_path / "broken.yaml")
    Path(path).write_text("servers:\n\t- name: a\n", encoding="utf-8")
    assert main(["validate", path]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.startswith(f"auditor: error: {path}:2:1: not valid YAML")


def test_cli_validate_valid_inventory_exits_0(tmp_path, capsys):
    path = write(str(tmp_path / "ok.yaml"), FULL)
    assert main(["validate", path]) == 0
    out, err = capsys.readouterr()
    assert f"{os.path.abspath(path)}: valid (" in out
    assert "2 server" in out and "1 processor" in out
    assert "Traceback" not in err


def test_cli_run_unknown_limit_exits_2_before_contacting_anything(tmp_path, capsys):
    assert main(["run", str(EXAMPLE), "--policy", "webbplats-nu", "--limit", "analytcs", "--out", str(tmp_path)]) == 2
    _, err = capsys.readouterr()
    assert "'analytcs' matches no target, tag or group" in err and "did you mean 'analytics'?" in err
    assert os.listdir(tmp_path) == []


# --- the worked example and the docs ----------------------------------------------------


def test_example_inventory_is_valid(capsys):
    assert main(["validate", str(EXAMPLE), "--policy", "webbplats-nu"]) == 0
    out, _ = capsys.readouterr()
    assert "valid (1 backup, 6 processor, 1 server)" in out
    inv = load_inventory(str(EXAMPLE))
    processors = {t.name: t for t in inv.targets if t.kind == "processor"}
    assert {n: t.get("country") for n, t in processors.items()} == {
        "ilait": "SE", "nameisp": "SE", "google": "US", "facebook": "US", "fortnox": "SE", "paypal-europe": "LU",
    }
    assert [t.name for t in inv.select(["analytics"])] == ["google", "facebook"]
    assert all(t.kind in ("server", "processor") or t.get("country") for t in inv.targets)


def test_example_inventory_exposes_the_policys_us_partners(tmp_path, capsys):
    out_dir = tmp_path / "reports"
    code = main(["run", str(EXAMPLE), "--policy", "webbplats-nu", "--limit", "processor:*", "--out", str(out_dir), "--format", "json", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert re.search(r"FAIL .*DATA-PROCESSOR-LOCATION +processor:google: ", out)
    assert re.search(r"FAIL .*DATA-PROCESSOR-LOCATION +processor:facebook: ", out)
    (folder,) = [Path(p) for p in report_folders(str(out_dir))]
    doc = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    verdicts = {f["target"]: f["status"] for f in doc["findings"] if f["control"] == "DATA-PROCESSOR-LOCATION"}
    assert verdicts == {
        "processor:ilait": "pass", "processor:nameisp": "pass", "processor:google": "fail",
        "processor:facebook": "fail", "processor:fortnox": "pass", "processor:paypal-europe": "pass",
    }


def test_docs_describe_every_key_of_every_section():
    text = DOCS.read_text(encoding="utf-8")
    chapters = re.split(r"^## ", text, flags=re.M)
    by_title = {c.split("\n", 1)[0].strip(): c for c in chapters}
    common = by_title["Keys common to every section"]
    for section, keys in field_reference().items():
        assert section in by_title, f"docs/inventory.md has no '## {section}' chapter"
        for key in keys:
            assert f"| `{key}` |" in by_title[section] or f"| `{key}` |" in common, f"{section}.{key} is not documented"
    for word in ("${ENV_VAR}", "{env: ENV_VAR}", "{file: /path/to/secret}", "--limit", "defaults:", "groups:"):
        assert word in text


def test_docs_examples_are_valid_inventories(tmp_path, monkeypatch):
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    for var in set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", text)):
        monkeypatch.setenv(var, "dummy")
    # One example per section: together they make one inventory.
    def top_keys(block):
        return re.findall(r"^([a-z]+):", block, flags=re.M)

    per_section = [b for b in blocks if len(top_keys(b)) == 1 and top_keys(b)[0] in SECTIONS]
    assert sorted(b.split(":", 1)[0] for b in per_section) == sorted(SECTIONS)
    inv = load_inventory(write(str(tmp_path / "sections.yaml"), "".join(per_section)))
    assert {t.kind for t in inv.targets} == {kind for kind, _ in SECTIONS.values()}
    # The other examples (top level, defaults, groups) stand on their own.
    for i, block in enumerate(b for b in blocks if b not in per_section):
        load_inventory(write(str(tmp_path / f"other{i}.yaml"), block))


def test_a_date_that_does_not_exist_is_a_positioned_error_not_a_crash(tmp_path):
    from auditor.errors import InputError
    from auditor.inventory import load_inventory

    path = tmp_path / "inv.yaml"
    path.write_text("servers:\n  - name: x\n    connection: local\n    description: 2027-02-30\n")
    with pytest.raises(InputError) as info:
        load_inventory(str(path))
    assert f"{path}:4:18: '2027-02-30' is not a real date" in str(info.value.problems[0])
