"""checks/files.py on real directory trees: backups, private keys, /etc/shadow permissions.

Every tree is built for real with os.chmod/os.utime and audited through the
real runner over a local connection. Permission denied is produced for real
by running the collector's commands as the user ``nobody`` (runuser), since
root can read everything.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.errors import CollectError
from auditor.model import Reason, Run, to_jsonable
from auditor.shellreads import FIND_FORMAT, parse_listing
from checks.files import exposed_to_others

from harness import RunAsUser, audit_through, world_dir  # noqa: F401 - fixture
from helpers import audit, statuses, verdicts

DAY = 86400
BOX = "server:box"
BACKUP_CONTROLS = ["ACCESS-BACKUP-FILE-PERMISSIONS", "BACKUP-MAX-AGE", "BACKUP-FRESHNESS"]
CONTENT = "CONTENT-THAT-MUST-NEVER-BE-READ-4711"


def inventory(folder: Path | str, **settings: Any) -> str:
    """Write an inventory with one local server ``box`` carrying ``settings``."""
    path = os.path.join(str(folder), "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "servers": [{"name": "box", "connection": "local", **settings}]}, fh)
    return path


def make_file(path: Path | str, mode: int, age_days: float = 0.0) -> str:
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(CONTENT + "\n")
    os.chmod(path, mode)
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


def make_dir(path: Path | str, mode: int) -> str:
    os.makedirs(str(path), exist_ok=True)
    os.chmod(str(path), mode)
    return str(path)


def backup_run(folder: Path, *backup_paths: str) -> Run:
    return audit(inventory(folder, backup_paths=list(backup_paths)), only=BACKUP_CONTROLS)


def backup_statuses(run: Run) -> dict[str, str]:
    return {control: status for (control, target), status in statuses(run).items() if target == BOX}


# -- backups: permissions ---------------------------------------------------------


def test_world_readable_backup_fails_and_names_only_the_offender(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o755)
    private = make_file(tmp_path / "backups" / "db-1.sql.gz", 0o600)
    exposed = make_file(tmp_path / "backups" / "db-2.sql.gz", 0o644)

    run = backup_run(tmp_path, backups)

    assert backup_statuses(run) == {"ACCESS-BACKUP-FILE-PERMISSIONS": "fail", "BACKUP-MAX-AGE": "pass", "BACKUP-FRESHNESS": "pass"}
    finding = verdicts(run)[("ACCESS-BACKUP-FILE-PERMISSIONS", BOX)]
    assert exposed in finding.message and "0644" in finding.message
    assert private not in finding.message
    assert [o["path"] for o in finding.details["offenders"]] == [exposed]


def test_backups_all_0600_pass(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o755)
    for name in ("a.tar.gz", "b.tar.gz", "sub/c.tar.gz"):
        make_file(tmp_path / "backups" / name, 0o600, age_days=1)

    run = backup_run(tmp_path, backups)

    assert backup_statuses(run) == {"ACCESS-BACKUP-FILE-PERMISSIONS": "pass", "BACKUP-MAX-AGE": "pass", "BACKUP-FRESHNESS": "pass"}
    assert "3 file(s)" in verdicts(run)[("ACCESS-BACKUP-FILE-PERMISSIONS", BOX)].message


def test_world_readable_file_inside_0700_directory_is_not_exposed(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o755)
    make_dir(tmp_path / "backups" / "private", 0o700)
    make_file(tmp_path / "backups" / "private" / "db.sql", 0o644)

    run = backup_run(tmp_path, backups)

    assert backup_statuses(run)["ACCESS-BACKUP-FILE-PERMISSIONS"] == "pass"


def test_world_writable_backup_fails(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o755)
    writable = make_file(tmp_path / "backups" / "db.sql", 0o602)

    run = backup_run(tmp_path, backups)

    finding = verdicts(run)[("ACCESS-BACKUP-FILE-PERMISSIONS", BOX)]
    assert finding.status.value == "fail"
    assert writable in finding.message


def test_trailing_slash_on_a_0700_backup_root_still_protects_its_files(tmp_path: Path) -> None:
    """find prints "dir/" and "dir/file" for a root given as "dir/": the root's own mode must still count."""
    backups = make_dir(tmp_path / "backups", 0o700)
    make_file(tmp_path / "backups" / "db.sql", 0o644)

    run = backup_run(tmp_path, backups + "/")

    assert backup_statuses(run)["ACCESS-BACKUP-FILE-PERMISSIONS"] == "pass"


# -- backups: age ---------------------------------------------------------------------


def test_backup_older_than_max_age_fails(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o700)
    old = make_file(tmp_path / "backups" / "2025-01-01.tar", 0o600, age_days=40)
    make_file(tmp_path / "backups" / "recent.tar", 0o600, age_days=34)
    make_file(tmp_path / "backups" / "today.tar", 0o600, age_days=0)

    run = backup_run(tmp_path, backups)

    assert backup_statuses(run) == {"ACCESS-BACKUP-FILE-PERMISSIONS": "pass", "BACKUP-MAX-AGE": "fail", "BACKUP-FRESHNESS": "pass"}
    finding = verdicts(run)[("BACKUP-MAX-AGE", BOX)]
    assert [o["path"] for o in finding.details["offenders"]] == [old]
    assert old in finding.message and "35 days" in finding.message
    assert finding.details["offenders"][0]["age_days"] == pytest.approx(40, abs=0.2)


def test_only_stale_backups_fail_both_age_controls(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o700)
    make_file(tmp_path / "backups" / "old.tar", 0o600, age_days=60)
    newest = make_file(tmp_path / "backups" / "last.tar", 0o600, age_days=5)

    run = backup_run(tmp_path, backups)

    assert backup_statuses(run) == {"ACCESS-BACKUP-FILE-PERMISSIONS": "pass", "BACKUP-MAX-AGE": "fail", "BACKUP-FRESHNESS": "fail"}
    freshness = verdicts(run)[("BACKUP-FRESHNESS", BOX)]
    assert newest in freshness.message and "5.0 days" in freshness.message


def test_fresh_backups_within_schedule_pass(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o700)
    oldest = make_file(tmp_path / "backups" / "week-1.tar", 0o600, age_days=30)
    make_file(tmp_path / "backups" / "today.tar", 0o600, age_days=0.5)

    run = backup_run(tmp_path, backups)

    assert backup_statuses(run) == {"ACCESS-BACKUP-FILE-PERMISSIONS": "pass", "BACKUP-MAX-AGE": "pass", "BACKUP-FRESHNESS": "pass"}
    assert verdicts(run)[("BACKUP-MAX-AGE", BOX)].details["oldest"] == oldest


def test_empty_backup_directory(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o700)

    run = backup_run(tmp_path, backups)

    assert backup_statuses(run) == {"ACCESS-BACKUP-FILE-PERMISSIONS": "pass", "BACKUP-MAX-AGE": "skipped", "BACKUP-FRESHNESS": "fail"}
    v = verdicts(run)
    assert v[("BACKUP-MAX-AGE", BOX)].reason == "not_applicable"
    assert f"no files under {backups}" in v[("BACKUP-MAX-AGE", BOX)].message
    assert f"No backup files found (no files under {backups})" == v[("BACKUP-FRESHNESS", BOX)].message


def test_declared_backup_path_that_does_not_exist_is_an_error_naming_it(tmp_path: Path) -> None:
    """A typo in backup_paths: nothing was judged there, so no control may pass or skip it away."""
    missing = str(tmp_path / "no-such-backups")

    run = backup_run(tmp_path, missing)

    assert backup_statuses(run) == dict.fromkeys(BACKUP_CONTROLS, "error")
    for control in BACKUP_CONTROLS:
        finding = verdicts(run)[(control, BOX)]
        assert finding.reason == "not_found", control
        assert f"declared path(s) do not exist: {missing}" in finding.message, control


def test_one_missing_path_next_to_an_existing_one_is_an_error(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o700)
    make_file(tmp_path / "backups" / "db.tar", 0o600)
    missing = str(tmp_path / "gone")

    run = backup_run(tmp_path, backups, missing)

    assert backup_statuses(run) == dict.fromkeys(BACKUP_CONTROLS, "error")
    for control in BACKUP_CONTROLS:
        finding = verdicts(run)[(control, BOX)]
        assert finding.details["missing"] == [missing] and missing in finding.message and backups not in finding.message, control


def test_a_violation_beside_a_missing_path_still_fails(tmp_path: Path) -> None:
    """What was seen and is wrong is a failure whatever else is missing."""
    backups = make_dir(tmp_path / "backups", 0o755)
    exposed = make_file(tmp_path / "backups" / "db.tar", 0o644, age_days=40)

    run = backup_run(tmp_path, backups, str(tmp_path / "gone"))

    assert backup_statuses(run) == dict.fromkeys(BACKUP_CONTROLS, "fail")
    assert exposed in verdicts(run)[("ACCESS-BACKUP-FILE-PERMISSIONS", BOX)].message


def test_no_backup_paths_declared_is_skipped_with_a_reason(tmp_path: Path) -> None:
    run = audit(inventory(tmp_path), only=BACKUP_CONTROLS)

    assert backup_statuses(run) == dict.fromkeys(BACKUP_CONTROLS, "skipped")
    for control in BACKUP_CONTROLS:
        finding = verdicts(run)[(control, BOX)]
        assert finding.reason == "not_applicable"
        assert "no backup_paths are declared" in finding.message


def test_file_names_with_space_tab_and_newline(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o755)
    odd = make_file(tmp_path / "backups" / "db dump\twith tab\nand newline.sql", 0o644)
    make_file(tmp_path / "backups" / "plain.sql", 0o600)

    run = backup_run(tmp_path, backups)

    finding = verdicts(run)[("ACCESS-BACKUP-FILE-PERMISSIONS", BOX)]
    assert finding.status.value == "fail"
    assert [o["path"] for o in finding.details["offenders"]] == [odd]
    assert finding.details["count"] == 1
    listing = next(f for f in run.facts if f.name == "files.backup_listing").value
    assert sorted(e["path"] for e in listing["entries"] if e["type"] == "f") == sorted([odd, str(tmp_path / "backups" / "plain.sql")])


def test_backup_evidence_is_the_find_command_and_never_file_content(tmp_path: Path) -> None:
    backups = make_dir(tmp_path / "backups", 0o755)
    make_file(tmp_path / "backups" / "db.sql", 0o644)

    run = backup_run(tmp_path, backups)

    finding = verdicts(run)[("ACCESS-BACKUP-FILE-PERMISSIONS", BOX)]
    assert finding.facts == (f"{BOX}/files.backup_listing",)
    fact = next(f for f in run.facts if f.id == finding.facts[0])
    assert fact.status == "ok"
    # The clock is read first (it needs no root and runs beside the shared find), then the listing.
    clock, find = fact.evidence
    assert clock.argv == ("date", "+%s")
    assert find.kind == "command"
    assert find.argv == ("find", "-H", backups, "-xdev", "-printf", FIND_FORMAT)
    assert find.exit_status == 0
    assert f"{backups}/db.sql" in find.excerpt and "0644" in find.excerpt
    assert CONTENT not in json.dumps(to_jsonable(run))


# -- private keys ------------------------------------------------------------------


def key_run(folder: Path, *key_paths: str) -> Run:
    return audit(inventory(folder, key_paths=list(key_paths)), only=["ACCESS-PRIVATE-KEY-PERMISSIONS"])


def key_tree(folder: Path, key_mode: int) -> tuple[str, str]:
    keys = make_dir(folder / "ssh", 0o755)
    key = make_file(folder / "ssh" / "ssh_host_ed25519_key", key_mode)
    # Public halves and certificates are meant to be world-readable.
    make_file(folder / "ssh" / "ssh_host_ed25519_key.pub", 0o644)
    make_file(folder / "ssh" / "ssh_host_ed25519_key-cert.pub", 0o644)
    make_file(folder / "ssh" / "server.crt", 0o644)
    make_file(folder / "ssh" / "ca-bundle.pem", 0o644)
    return keys, key


def test_world_readable_private_key_fails(tmp_path: Path) -> None:
    keys, key = key_tree(tmp_path, 0o644)

    run = key_run(tmp_path, keys)

    finding = verdicts(run)[("ACCESS-PRIVATE-KEY-PERMISSIONS", BOX)]
    assert finding.status.value == "fail"
    assert [o["path"] for o in finding.details["offenders"]] == [key]
    assert finding.message == f"1 private key file(s) readable or writable by other users: {key} (0644)"


def test_private_key_0600_passes_and_public_files_are_ignored(tmp_path: Path) -> None:
    keys, key = key_tree(tmp_path, 0o600)

    run = key_run(tmp_path, keys)

    finding = verdicts(run)[("ACCESS-PRIVATE-KEY-PERMISSIONS", BOX)]
    assert finding.status.value == "pass"
    assert finding.details["keys"] == [key]
    assert finding.message.startswith("1 private key file(s) found, none readable by other users")


def test_key_path_typo_is_an_error_naming_the_path(tmp_path: Path) -> None:
    """key_paths: [/etc/sshh] (a typo) once passed as "0 private key file(s) found"."""
    keys, _ = key_tree(tmp_path, 0o600)
    typo = str(tmp_path / "sshh")

    for declared in ([typo], [keys, typo]):
        finding = verdicts(key_run(tmp_path, *declared))[("ACCESS-PRIVATE-KEY-PERMISSIONS", BOX)]
        assert (finding.status.value, finding.reason) == ("error", "not_found"), declared
        assert f"declared path(s) do not exist: {typo}" in finding.message
        assert finding.details["missing"] == [typo]


def test_key_path_typo_under_root_dir_is_an_error_naming_the_path(tmp_path: Path) -> None:
    root = make_dir(tmp_path / "image", 0o755)
    make_dir(tmp_path / "image" / "etc" / "ssh", 0o755)

    run = audit(inventory(tmp_path, root_dir=root, key_paths=["/etc/sshh"]), only=["ACCESS-PRIVATE-KEY-PERMISSIONS"])

    finding = verdicts(run)[("ACCESS-PRIVATE-KEY-PERMISSIONS", BOX)]
    assert (finding.status.value, finding.reason) == ("error", "not_found")
    assert f"{root}/etc/sshh" in finding.message


def test_no_key_paths_declared_is_skipped(tmp_path: Path) -> None:
    run = audit(inventory(tmp_path), only=["ACCESS-PRIVATE-KEY-PERMISSIONS"])

    finding = verdicts(run)[("ACCESS-PRIVATE-KEY-PERMISSIONS", BOX)]
    assert (finding.status.value, finding.reason) == ("skipped", "not_applicable")


# -- /etc/shadow permissions (through root_dir) ---------------------------------------


def fake_root(folder: Path, shadow_mode: int | None, gshadow_mode: int | None = None) -> str:
    root = make_dir(folder / "root", 0o755)
    make_dir(folder / "root" / "etc", 0o755)
    if shadow_mode is not None:
        make_file(folder / "root" / "etc" / "shadow", shadow_mode)
    if gshadow_mode is not None:
        make_file(folder / "root" / "etc" / "gshadow", gshadow_mode)
    return root


def shadow_perm_run(folder: Path, root: str) -> Run:
    return audit(inventory(folder, root_dir=root), only=["ACCESS-SHADOW-PERMISSIONS"])


def test_shadow_0640_passes(tmp_path: Path) -> None:
    root = fake_root(tmp_path, 0o640, 0o640)

    run = shadow_perm_run(tmp_path, root)

    finding = verdicts(run)[("ACCESS-SHADOW-PERMISSIONS", BOX)]
    assert finding.status.value == "pass"
    assert f"{root}/etc/shadow 0640 root:" in finding.message
    assert f"{root}/etc/gshadow 0640 root:" in finding.message


def test_shadow_0644_fails_and_names_the_file(tmp_path: Path) -> None:
    root = fake_root(tmp_path, 0o644, 0o640)

    run = shadow_perm_run(tmp_path, root)

    finding = verdicts(run)[("ACCESS-SHADOW-PERMISSIONS", BOX)]
    assert finding.status.value == "fail"
    assert finding.message.startswith(f"{root}/etc/shadow is mode 0644 root:")
    assert "other users have access" in finding.message
    assert "gshadow" not in finding.message
    assert [o["path"] for o in finding.details["offenders"]] == [f"{root}/etc/shadow"]


def test_group_writable_gshadow_fails(tmp_path: Path) -> None:
    root = fake_root(tmp_path, 0o640, 0o660)

    finding = verdicts(shadow_perm_run(tmp_path, root))[("ACCESS-SHADOW-PERMISSIONS", BOX)]

    assert finding.status.value == "fail"
    assert f"{root}/etc/gshadow is mode 0660" in finding.message and "group can write" in finding.message


def test_shadow_file_absent_is_skipped(tmp_path: Path) -> None:
    root = fake_root(tmp_path, None)

    finding = verdicts(shadow_perm_run(tmp_path, root))[("ACCESS-SHADOW-PERMISSIONS", BOX)]

    assert (finding.status.value, finding.reason) == ("skipped", "not_applicable")
    assert f"{root}/etc/shadow does not exist" in finding.message


# -- permission denied, for real: the commands run as nobody ---------------------------


def test_unreadable_backup_folder_is_an_error_never_a_pass(world_dir: str) -> None:
    backups = make_dir(os.path.join(world_dir, "backups"), 0o755)
    make_file(os.path.join(backups, "visible.tar"), 0o600, age_days=10)
    locked = make_dir(os.path.join(backups, "locked"), 0o700)
    make_file(os.path.join(locked, "hidden.tar"), 0o644)

    facts, findings = audit_through(inventory(world_dir, backup_paths=[backups]), RunAsUser("nobody"), only=BACKUP_CONTROLS)

    for control in BACKUP_CONTROLS:
        finding = findings[(control, BOX)]
        assert (finding.status.value, finding.reason) == ("error", "permission_denied"), (control, finding.message)
        assert locked in finding.message
    listing = facts[f"{BOX}/files.backup_listing"]
    assert listing.evidence[0].argv[:4] == ("runuser", "-u", "nobody", "--")
    assert listing.value["unreadable"] == [locked]


def test_unreadable_key_folder_is_an_error(world_dir: str) -> None:
    keys = make_dir(os.path.join(world_dir, "ssh"), 0o700)
    make_file(os.path.join(keys, "ssh_host_ed25519_key"), 0o600)

    _, findings = audit_through(inventory(world_dir, key_paths=[keys]), RunAsUser("nobody"), only=["ACCESS-PRIVATE-KEY-PERMISSIONS"])

    finding = findings[("ACCESS-PRIVATE-KEY-PERMISSIONS", BOX)]
    assert (finding.status.value, finding.reason) == ("error", "permission_denied")
    assert keys in finding.message


def test_shadow_behind_unsearchable_etc_is_an_error(world_dir: str) -> None:
    root = make_dir(os.path.join(world_dir, "root"), 0o755)
    etc = make_dir(os.path.join(root, "etc"), 0o700)
    make_file(os.path.join(etc, "shadow"), 0o640)

    _, findings = audit_through(inventory(world_dir, root_dir=root), RunAsUser("nobody"), only=["ACCESS-SHADOW-PERMISSIONS"])

    finding = findings[("ACCESS-SHADOW-PERMISSIONS", BOX)]
    assert (finding.status.value, finding.reason) == ("error", "permission_denied")
    assert f"{etc}/shadow" in finding.message


# -- parser and evaluator on recorded output ---------------------------------------------

ROOT = "/srv/backups"
RECORDED = (
    "d\td\t755\troot\troot\t4096\t1767225600.1234567890\0/srv/backups\0/srv/backups\0"
    "f\tf\t644\troot\troot\t10\t1767225600.0000000000\0/srv/backups\0/srv/backups/a b\tc\nd.sql\0"
    "d\td\t700\troot\troot\t4096\t1767225600.0000000000\0/srv/backups\0/srv/backups/private\0"
    "f\tf\t604\tbackup\tbackup\t0\t1767139200.5000000000\0/srv/backups\0/srv/backups/private/x.tar\0"
    "l\tN\t777\troot\troot\t7\t1767139200.0000000000\0/srv/backups\0/srv/backups/link\0"
).encode()


def parse_find(raw: bytes) -> list[dict[str, Any]]:
    return parse_listing(raw, "", [ROOT], False)["roots"][ROOT].entries


def test_parse_find_recorded_output() -> None:
    entries = parse_find(RECORDED)

    assert [e["path"] for e in entries] == ["/srv/backups", "/srv/backups/a b\tc\nd.sql", "/srv/backups/private", "/srv/backups/private/x.tar", "/srv/backups/link"]
    assert entries[1] == {"type": "f", "target_type": "f", "mode": "0644", "owner": "root", "group": "root", "size": 10, "mtime": 1767225600, "path": "/srv/backups/a b\tc\nd.sql"}
    assert entries[3]["mtime"] == 1767139200 and entries[3]["mode"] == "0604"


def test_a_file_name_cannot_forge_a_record_or_move_to_another_root() -> None:
    """Names may hold tabs, newlines and text that looks like a record: only NUL ends a field."""
    forged = "f\tf\t644\troot\troot\t1\t1\0/etc\0/etc/shadow"
    raw = f"f\tf\t600\troot\troot\t3\t1767225600\0{ROOT}\0{ROOT}/{forged.replace(chr(0), '')}\0".encode()
    parsed = parse_listing(raw, "", [ROOT, "/etc"], False)["roots"]
    assert [e["path"] for e in parsed[ROOT].entries] == [f"{ROOT}/{forged.replace(chr(0), '')}"]
    assert parsed["/etc"].entries == []


def test_parse_find_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.shellreads as shellreads

    monkeypatch.setattr(shellreads, "MAX_ENTRIES", 2)
    root = parse_listing(RECORDED, "", [ROOT], False)["roots"][ROOT]
    assert (len(root.entries), root.truncated) == (2, True)


def test_a_cut_listing_marks_the_root_being_listed_and_every_later_root_incomplete() -> None:
    raw = RECORDED[: RECORDED.index(b"/srv/backups/private/x.tar") + 5]  # stops inside a record
    parsed = parse_listing(raw, "", ["/etc/shadow", ROOT, "/var/backups"], True)["roots"]
    assert parsed["/etc/shadow"].truncated is False
    assert parsed[ROOT].truncated and parsed["/var/backups"].truncated
    assert [e["path"] for e in parsed[ROOT].entries][-1] == "/srv/backups/private"


@pytest.mark.parametrize("record", ["f\t644\troot\0/srv/backups\0/x\0", "f\tf\tsix\troot\troot\tbig\t1\0/srv/backups\0/x\0", "f\tf\t644\troot\troot\t1\tyesterday\0/srv/backups\0/x\0", "f\tf\t644\troot\troot\t1\t1\0/elsewhere\0/x\0"])
def test_parse_find_rejects_malformed_records(record: str) -> None:
    with pytest.raises(CollectError) as caught:
        parse_listing(record.encode(), "", [ROOT], False)
    assert caught.value.reason is Reason.PARSE_ERROR


def test_exposed_to_others_follows_directory_modes() -> None:
    entries = parse_find(RECORDED)
    listing = {"roots": ["/srv/backups"], "entries": entries}
    assert [e["path"] for e in exposed_to_others(listing)] == ["/srv/backups/a b\tc\nd.sql"]
    closed = {"roots": ["/srv/backups"], "entries": [dict(e, mode="0700") if e["path"] == "/srv/backups" else e for e in entries]}
    assert exposed_to_others(closed) == []
