"""checks/backup_repos.py: backups of the inventory's backups: section (borg, restic, path).

Real borg and restic repositories (Debian packages borgbackup and restic,
installed by the harness when missing) are created in tmp folders, with
archives whose times the test sets (``borg create --timestamp``, ``restic
backup --time``), and audited through the real runner: an inventory with a
local server and backups entries referencing it, passphrases given as
``${ENV_VAR}`` references. BACKUP-MAX-AGE, BACKUP-FRESHNESS and
ACCESS-BACKUP-FILE-PERMISSIONS (checks/files.py) judge what the collector
lists. The passphrases must never reach the run or a report.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from auditor.collect import Context
from auditor.errors import CollectError, NotApplicable
from auditor.inventory import load_inventory
from auditor.model import Reason, Run
from auditor.report import render_files, run_document
from checks.backup_repos import backup_set_listing, parse_borg_list, parse_restic_snapshots, parse_time, repository_error

from harness import ensure_packages
from helpers import audit, verdicts

DAY = 86400
BACKUP_CONTROLS = ["ACCESS-BACKUP-FILE-PERMISSIONS", "BACKUP-MAX-AGE", "BACKUP-FRESHNESS"]
BORG_SECRET = "borg-passphrase-Tr0ub4dor-4711"
RESTIC_SECRET = "restic-password-c0rrect-horse-0815"
WRONG_SECRET = "not-the-passphrase-but-still-secret-0042"
CONTENT = "BACKED-UP-CONTENT-NEVER-READ-9931"


def stamp(age_days: float) -> datetime:
    return datetime.fromtimestamp(time.time() - age_days * DAY, tz=timezone.utc)


class Repos:
    """Real repositories, made once per module, with HOME in a tmp folder."""

    def __init__(self, base: Path):
        self.base = base
        self.home = base / "home"
        self.home.mkdir()
        self.data = base / "data"
        self.data.mkdir()
        (self.data / "customers.sql").write_text(CONTENT + "\n")
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.home), "LC_ALL": "C", "TZ": "UTC"}

    def _run(self, argv: list[str], **env: str) -> None:
        proc = subprocess.run(argv, env={**self.env, **env}, capture_output=True, text=True, check=False, timeout=120)
        assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr}"

    def borg(self, name: str, ages: list[float], encryption: str = "repokey") -> str:
        repo = str(self.base / name)
        secret = {"BORG_PASSPHRASE": BORG_SECRET} if encryption != "none" else {}
        self._run(["borg", "init", "--encryption", encryption, repo], **secret, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes")
        for i, age in enumerate(ages):
            when = stamp(age).strftime("%Y-%m-%dT%H:%M:%S")
            self._run(["borg", "create", "--timestamp", when, f"{repo}::nightly-{i}", str(self.data)], **secret, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes")
        return repo

    def restic(self, name: str, ages: list[float]) -> str:
        repo = str(self.base / name)
        self._run(["restic", "--repo", repo, "init"], RESTIC_PASSWORD=RESTIC_SECRET)
        for age in ages:
            self._run(["restic", "--repo", repo, "backup", "--time", stamp(age).strftime("%Y-%m-%d %H:%M:%S"), str(self.data)], RESTIC_PASSWORD=RESTIC_SECRET)
        return repo


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Repos:
    ensure_packages("borgbackup", programs=("borg",))
    ensure_packages("restic")
    made = Repos(tmp_path_factory.mktemp("repos"))
    made.borg_mixed = made.borg("borg-mixed", [40, 10, 0.5])  # type: ignore[attr-defined]
    made.borg_fresh = made.borg("borg-fresh", [20, 1])  # type: ignore[attr-defined]
    made.borg_empty = made.borg("borg-empty", [])  # type: ignore[attr-defined]
    made.borg_plain = made.borg("borg-plain", [0.2], encryption="none")  # type: ignore[attr-defined]
    made.restic_stale = made.restic("restic-stale", [60, 5])  # type: ignore[attr-defined]
    made.restic_fresh = made.restic("restic-fresh", [3, 0.2])  # type: ignore[attr-defined]
    return made


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Passphrases as the inventory references them; borg's client state in a tmp HOME, not root's."""
    monkeypatch.setenv("BORG_TEST_PASSPHRASE", BORG_SECRET)
    monkeypatch.setenv("RESTIC_TEST_PASSWORD", RESTIC_SECRET)
    monkeypatch.setenv("WRONG_TEST_PASSPHRASE", WRONG_SECRET)
    home = tmp_path / "auditor-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    yield


def inventory(folder: Path, *backups: dict[str, Any], **extra: Any) -> str:
    path = folder / "inventory.yaml"
    doc = {"version": 1, "servers": [{"name": "box", "connection": "local"}], "backups": list(backups), **extra}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(path)


def borg_entry(name: str, repo: str, password: str | None = "${BORG_TEST_PASSPHRASE}", **more: Any) -> dict[str, Any]:
    entry = {"name": name, "type": "borg", "server": "box", "repository": repo, **more}
    if password:
        entry["password"] = password
    return entry


def restic_entry(name: str, repo: str, password: str | None = "${RESTIC_TEST_PASSWORD}", **more: Any) -> dict[str, Any]:
    entry = {"name": name, "type": "restic", "server": "box", "repository": repo, **more}
    if password:
        entry["password"] = password
    return entry


def backup_run(folder: Path, *backups: dict[str, Any], **extra: Any) -> Run:
    return audit(inventory(folder, *backups, **extra), only=BACKUP_CONTROLS)


def of(run: Run, name: str) -> dict[str, Any]:
    return {control: finding for (control, target), finding in verdicts(run).items() if target == f"backup:{name}"}


def status_of(run: Run, name: str) -> dict[str, str]:
    return {control: f.status.value for control, f in of(run, name).items()}


def assert_no_secret(run: Run, *secrets: str) -> None:
    files = render_files(run_document(run))
    assert set(files) >= {"run.json", "report.html", "junit.xml", "summary.md", "manifest.json"}
    for name, data in files.items():
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} leaked into {name}"


# -- borg --------------------------------------------------------------------------------


def test_borg_archive_older_than_max_age_fails(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("nightly", repos.borg_mixed))

    assert status_of(run, "nightly") == {"ACCESS-BACKUP-FILE-PERMISSIONS": "skipped", "BACKUP-MAX-AGE": "fail", "BACKUP-FRESHNESS": "pass"}
    found = of(run, "nightly")
    max_age = found["BACKUP-MAX-AGE"]
    assert max_age.message.startswith(f"1 backup archive(s) older than 35 days; oldest: {repos.borg_mixed}::nightly-0 (40.0 days)")
    assert [o["path"] for o in max_age.details["offenders"]] == [f"{repos.borg_mixed}::nightly-0"]
    fresh = found["BACKUP-FRESHNESS"]
    assert fresh.message == f"Newest backup archive {repos.borg_mixed}::nightly-2 is 0.5 days old (limit 2)"
    perms = found["ACCESS-BACKUP-FILE-PERMISSIONS"]
    assert perms.reason == "not_applicable" and "type path backups only" in perms.message


def test_borg_within_schedule_passes_both_age_controls(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("nightly", repos.borg_fresh))

    assert status_of(run, "nightly") == {"ACCESS-BACKUP-FILE-PERMISSIONS": "skipped", "BACKUP-MAX-AGE": "pass", "BACKUP-FRESHNESS": "pass"}
    assert of(run, "nightly")["BACKUP-MAX-AGE"].message == "Oldest of 2 backup archive(s) is 20.0 days old (limit 35)"


def test_empty_borg_repository_has_no_fresh_backup(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("nightly", repos.borg_empty))

    found = of(run, "nightly")
    assert status_of(run, "nightly") == {"ACCESS-BACKUP-FILE-PERMISSIONS": "skipped", "BACKUP-MAX-AGE": "skipped", "BACKUP-FRESHNESS": "fail"}
    assert found["BACKUP-FRESHNESS"].message == f"No backup archives found (no archives in borg repository {repos.borg_empty})"


def test_unencrypted_borg_repository_needs_no_passphrase(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("plain", repos.borg_plain, password=None))

    assert status_of(run, "plain")["BACKUP-FRESHNESS"] == "pass"


def test_borg_evidence_is_a_lock_free_listing_with_no_wrapper_and_no_passphrase_in_argv(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("nightly", repos.borg_mixed))

    fact = next(f for f in run.facts if f.id == "backup:nightly/files.backup_listing")
    assert fact.status == "ok" and fact.value["source"] == "borg"
    listing, clock = fact.evidence
    assert listing.argv == ("borg", "list", "--json", "--bypass-lock", "--", repos.borg_mixed)  # exactly the program: a sudoers rule can name it
    assert not any(BORG_SECRET in a for a in listing.argv)
    assert "archive nightly-0 time " in listing.excerpt and listing.redacted
    assert clock.argv == ("date", "+%s")
    assert [e["type"] for e in fact.value["entries"]] == ["a", "a", "a"]
    assert not os.path.exists(os.path.join(repos.borg_mixed, "lock.exclusive")) and not os.path.exists(os.path.join(repos.borg_mixed, "lock.roster"))
    assert_no_secret(run, BORG_SECRET, CONTENT)


def test_wrong_borg_passphrase_is_an_error_and_never_leaks(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("nightly", repos.borg_mixed, password="${WRONG_TEST_PASSPHRASE}"))

    for control in ("BACKUP-MAX-AGE", "BACKUP-FRESHNESS", "ACCESS-BACKUP-FILE-PERMISSIONS"):
        finding = of(run, "nightly")[control]
        assert (finding.status.value, finding.reason) == ("error", "auth_failed"), (control, finding.message)
        assert "refused the declared password" in finding.message
    assert_no_secret(run, WRONG_SECRET, BORG_SECRET)


def test_encrypted_borg_repository_without_a_declared_password_is_an_error(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("nightly", repos.borg_fresh, password=None))

    finding = of(run, "nightly")["BACKUP-MAX-AGE"]
    assert (finding.status.value, finding.reason) == ("error", "auth_failed")
    assert "is encrypted and backup nightly declares no password:" in finding.message


def test_missing_borg_repository_is_an_error(tmp_path: Path, repos: Repos) -> None:
    missing = str(tmp_path / "no-such-repo")

    run = backup_run(tmp_path, borg_entry("nightly", missing))

    finding = of(run, "nightly")["BACKUP-FRESHNESS"]
    assert (finding.status.value, finding.reason) == ("error", "not_found")
    assert missing in finding.message


# -- restic ------------------------------------------------------------------------------


def test_stale_restic_repository_fails_both_age_controls(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, restic_entry("snaps", repos.restic_stale))

    assert status_of(run, "snaps") == {"ACCESS-BACKUP-FILE-PERMISSIONS": "skipped", "BACKUP-MAX-AGE": "fail", "BACKUP-FRESHNESS": "fail"}
    found = of(run, "snaps")
    assert found["BACKUP-MAX-AGE"].message.startswith(f"1 backup snapshot(s) older than 35 days; oldest: {repos.restic_stale}#")
    assert found["BACKUP-MAX-AGE"].details["offenders"][0]["age_days"] == pytest.approx(60, abs=0.2)
    assert "is 5.0 days old; the policy expects one within 2 days" in found["BACKUP-FRESHNESS"].message


def test_fresh_restic_repository_passes(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, restic_entry("snaps", repos.restic_fresh))

    assert status_of(run, "snaps") == {"ACCESS-BACKUP-FILE-PERMISSIONS": "skipped", "BACKUP-MAX-AGE": "pass", "BACKUP-FRESHNESS": "pass"}
    fact = next(f for f in run.facts if f.id == "backup:snaps/files.backup_listing")
    assert fact.evidence[0].argv == ("restic", "--repo", repos.restic_fresh, "snapshots", "--json", "--no-lock", "--no-cache", "--quiet")
    assert not os.listdir(os.path.join(repos.restic_fresh, "locks"))
    assert_no_secret(run, RESTIC_SECRET, CONTENT)


def test_wrong_restic_password_is_an_error_and_never_leaks(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, restic_entry("snaps", repos.restic_fresh, password="${WRONG_TEST_PASSPHRASE}"))

    finding = of(run, "snaps")["BACKUP-MAX-AGE"]
    assert (finding.status.value, finding.reason) == ("error", "auth_failed")
    assert_no_secret(run, WRONG_SECRET, RESTIC_SECRET)


def test_restic_without_a_declared_password_is_a_config_error(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, restic_entry("snaps", repos.restic_fresh, password=None))

    finding = of(run, "snaps")["BACKUP-FRESHNESS"]
    assert (finding.status.value, finding.reason) == ("error", "config_error")
    assert "declare password:" in finding.message


def test_missing_restic_repository_is_an_error(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, restic_entry("snaps", str(tmp_path / "gone")))

    assert (of(run, "snaps")["BACKUP-MAX-AGE"].status.value, of(run, "snaps")["BACKUP-MAX-AGE"].reason) == ("error", "not_found")


# -- path, bookkeeping, several at once ----------------------------------------------------


def test_path_backup_is_judged_like_a_servers_backup_paths(tmp_path: Path) -> None:
    folder = tmp_path / "dumps"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    old, shared = folder / "old.sql.gz", folder / "shared.sql.gz"
    for path, mode, age in ((old, 0o600, 50), (shared, 0o644, 1)):
        path.write_text(CONTENT)
        os.chmod(path, mode)
        os.utime(path, (time.time() - age * DAY,) * 2)

    run = backup_run(tmp_path, {"name": "dumps", "type": "path", "server": "box", "path": str(folder)})

    assert status_of(run, "dumps") == {"ACCESS-BACKUP-FILE-PERMISSIONS": "fail", "BACKUP-MAX-AGE": "fail", "BACKUP-FRESHNESS": "pass"}
    found = of(run, "dumps")
    assert [o["path"] for o in found["ACCESS-BACKUP-FILE-PERMISSIONS"].details["offenders"]] == [str(shared)]
    assert [o["path"] for o in found["BACKUP-MAX-AGE"].details["offenders"]] == [str(old)]
    assert CONTENT.encode() not in render_files(run_document(run))["run.json"]


def test_missing_path_backup_is_an_error_naming_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nothing-here")

    run = backup_run(tmp_path, {"name": "dumps", "type": "path", "server": "box", "path": missing})

    assert status_of(run, "dumps") == {"ACCESS-BACKUP-FILE-PERMISSIONS": "error", "BACKUP-MAX-AGE": "error", "BACKUP-FRESHNESS": "error"}
    for finding in of(run, "dumps").values():
        assert finding.reason == "not_found" and f"declared path(s) do not exist: {missing}" in finding.message


def test_bookkeeping_backups_have_no_maximum_age(tmp_path: Path, repos: Repos) -> None:
    run = backup_run(tmp_path, borg_entry("ledger", repos.borg_mixed, purpose="bookkeeping"))

    found = of(run, "ledger")
    assert (found["BACKUP-MAX-AGE"].status.value, found["BACKUP-MAX-AGE"].reason) == ("skipped", "not_applicable")
    assert "bookkeeping" in found["BACKUP-MAX-AGE"].message
    assert found["BACKUP-FRESHNESS"].status.value == "pass"


def test_one_run_with_every_kind_of_backup_leaks_no_secret(tmp_path: Path, repos: Repos) -> None:
    folder = tmp_path / "dumps"
    folder.mkdir()
    run = backup_run(
        tmp_path,
        borg_entry("nightly", repos.borg_fresh),
        restic_entry("snaps", repos.restic_fresh),
        borg_entry("broken", repos.borg_fresh, password="${WRONG_TEST_PASSPHRASE}"),
        {"name": "dumps", "type": "path", "server": "box", "path": str(folder)},
    )

    assert status_of(run, "nightly")["BACKUP-MAX-AGE"] == "pass"
    assert status_of(run, "snaps")["BACKUP-MAX-AGE"] == "pass"
    assert status_of(run, "broken")["BACKUP-MAX-AGE"] == "error"
    assert status_of(run, "dumps")["BACKUP-FRESHNESS"] == "fail"
    assert_no_secret(run, BORG_SECRET, RESTIC_SECRET, WRONG_SECRET, CONTENT)


def test_s3_backups_are_left_to_the_aws_checks(tmp_path: Path) -> None:
    path = inventory(tmp_path, {"name": "offsite", "type": "s3", "bucket": "example-backups-eu", "aws": "main"}, aws=[{"name": "main", "profile": "audit"}])
    target = next(t for t in load_inventory(path).targets if t.id == "backup:offsite")

    with pytest.raises(NotApplicable, match="S3 backups are audited by the AWS checks"):
        backup_set_listing.func(Context(target, None, {}, time.monotonic() + 10))

    run = audit(path, only=BACKUP_CONTROLS)
    # no server shell is opened for an S3 backup: the shell-based controls do not apply to it
    for control, finding in of(run, "offsite").items():
        assert finding.status.value == "skipped", (control, finding.message)
        assert "s3 backup offsite is not on a server" in finding.message


# -- parsers on recorded output ----------------------------------------------------------------

BORG_JSON = """{
    "archives": [
        {"archive": "web-2025-01-01", "barchive": "web-2025-01-01", "id": "c42027b2", "name": "web-2025-01-01",
         "start": "2025-01-01T10:00:00.000000", "time": "2025-01-01T10:00:00.000000"},
        {"archive": "web-2025-02-01", "barchive": "web-2025-02-01", "id": "1d43f7a7", "name": "web-2025-02-01",
         "start": "2025-02-01T03:30:00.000000", "time": "2025-02-01T03:30:00.000000"}
    ],
    "encryption": {"mode": "repokey"},
    "repository": {"id": "b713aa7d", "last_modified": "2025-02-01T03:31:00.000000", "location": "/srv/borg"}
}"""

RESTIC_JSON = (
    "reading repository password from stdin\n"
    '[{"time":"2025-01-01T10:00:00Z","tree":"7c4c","paths":["/srv/www"],"hostname":"web1","username":"root","id":"9dfb55af7752","short_id":"9dfb55af"},'
    '{"time":"2025-02-01T05:30:00.709845895+02:00","tree":"7c4c","paths":["/srv/www"],"hostname":"web1","username":"root","id":"339d0ededbf0","short_id":"339d0ede"}]'
)


def test_parse_borg_list_recorded() -> None:
    assert parse_borg_list(BORG_JSON, "/srv/borg") == [
        {"type": "a", "mode": None, "owner": None, "group": None, "size": None, "mtime": 1735725600, "path": "/srv/borg::web-2025-01-01"},
        {"type": "a", "mode": None, "owner": None, "group": None, "size": None, "mtime": 1738380600, "path": "/srv/borg::web-2025-02-01"},
    ]


def test_parse_restic_snapshots_recorded_with_a_notice_line_and_offsets() -> None:
    entries = parse_restic_snapshots(RESTIC_JSON, "/srv/restic")
    assert [(e["path"], e["mtime"]) for e in entries] == [("/srv/restic#9dfb55af", 1735725600), ("/srv/restic#339d0ede", 1738380600)]


@pytest.mark.parametrize("text", ["", "not json", '{"archives": [{"name": "x", "time": "yesterday"}]}', '{"repository": {}}'])
def test_parse_borg_list_rejects_garbage(text: str) -> None:
    with pytest.raises(CollectError) as caught:
        parse_borg_list(text, "/r")
    assert caught.value.reason is Reason.PARSE_ERROR


def test_parse_time_forms() -> None:
    assert parse_time("2025-01-01T00:00:00") == 1735689600
    assert parse_time("2025-01-01T00:00:00.123456789Z") == 1735689600
    assert parse_time("2025-01-01T01:00:00+0100") == 1735689600
    assert parse_time("2025-01-01 00:00:00-00:30") == 1735691400


@pytest.mark.parametrize(
    "tool, stderr, status, reason",
    [
        ("borg", "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect.", 2, Reason.AUTH_FAILED),
        ("borg", "Repository /srv/borg does not exist.", 2, Reason.NOT_FOUND),
        ("borg", "/srv/x is not a valid repository. Check repo config.", 2, Reason.NOT_FOUND),
        ("borg", "env: 'borg': No such file or directory", 127, Reason.NOT_FOUND),
        ("restic", "Fatal: wrong password or no key found", 1, Reason.AUTH_FAILED),
        ("restic", "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?", 1, Reason.NOT_FOUND),
        ("restic", "Fatal: unable to open config file: open /r/config: permission denied", 1, Reason.PERMISSION_DENIED),
        ("restic", "Fatal: something else entirely", 1, Reason.COMMAND_FAILED),
    ],
)
def test_repository_errors_are_classified(tool: str, stderr: str, status: int, reason: Reason) -> None:
    assert repository_error(tool, "/r", stderr, status).reason is reason


# -- BACKUP-ENCRYPTED (issue 13) ----------------------------------------------------------


def encryption_of(tmp_path: Path, *backups: dict[str, Any], policy: str = "baseline-eu") -> dict[str, Any]:
    run = audit(inventory(tmp_path, *backups), policy=policy, only=["BACKUP-ENCRYPTED"])
    return {target.split(":", 1)[1]: finding for (control, target), finding in verdicts(run).items()}


@pytest.fixture(scope="module")
def borg_modes(repos: Repos) -> dict[str, str]:
    """One real borg repository per encryption mode (borg init --encryption MODE)."""
    return {mode: repos.borg(f"borg-mode-{mode}", [0.1], encryption=mode) for mode in ("authenticated", "authenticated-blake2", "keyfile", "repokey-blake2")}


def test_borg_encryption_mode_decides_from_the_listing_borg_already_runs(tmp_path: Path, repos: Repos, borg_modes: dict[str, str]) -> None:
    import shutil  # noqa: PLC0415

    # a keyfile repository opens only where its key is: the audit's HOME gets a copy, as a backup host has it
    shutil.copytree(repos.home / ".config" / "borg" / "keys", Path(os.environ["HOME"]) / ".config" / "borg" / "keys")
    found = encryption_of(
        tmp_path,
        borg_entry("plain", repos.borg_plain, password=None),
        borg_entry("signed", borg_modes["authenticated"]),
        borg_entry("signed2", borg_modes["authenticated-blake2"]),
        borg_entry("repokey", repos.borg_fresh),
        borg_entry("repokey2", borg_modes["repokey-blake2"]),
        borg_entry("keyfile", borg_modes["keyfile"]),
    )
    assert {name: f.status.value for name, f in found.items()} == {
        "plain": "fail", "signed": "fail", "signed2": "fail", "repokey": "pass", "repokey2": "pass", "keyfile": "pass"}
    assert found["plain"].message == f"borg repository {repos.borg_plain} is not encrypted: mode none stores the data in clear"
    assert found["signed"].message.endswith("mode authenticated only signs, the data is stored in clear")
    assert found["keyfile"].message == f"borg repository {borg_modes['keyfile']} is encrypted (mode keyfile)"


def test_borg_encryption_needs_no_command_of_its_own(tmp_path: Path, repos: Repos) -> None:
    run = audit(inventory(tmp_path, borg_entry("nightly", repos.borg_fresh)), only=["BACKUP-ENCRYPTED"])
    argvs = [e.argv[0] for f in run.facts for e in f.evidence if e.argv]
    assert argvs.count("borg") == 1 and "head" not in argvs, argvs  # the one `borg list --json`; no `borg info`


def test_restic_repositories_are_always_encrypted(tmp_path: Path, repos: Repos) -> None:
    found = encryption_of(tmp_path, restic_entry("snaps", repos.restic_fresh))["snaps"]
    assert found.status.value == "pass"
    assert found.message == f"{repos.restic_fresh} is a restic repository (it opened with its password): restic always encrypts"


def _tool(argv: list[str], data: bytes | None = None) -> None:
    proc = subprocess.run(argv, input=data, capture_output=True, check=False, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LC_ALL": "C"})
    assert proc.returncode == 0, f"{argv[0]}: {proc.stderr!r}"


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Backup files made by the real tools: encrypted (gpg, age, openssl enc) and not (gzip, zstd, SQL, CSV)."""
    ensure_packages("age", "gnupg", "zstd", "openssl", programs=("age", "gpg", "zstd", "openssl"))
    base = tmp_path_factory.mktemp("dumps")
    sql = base / "src.sql"
    sql.write_text(f"-- MySQL dump 10.13\nINSERT INTO customers VALUES ('{CONTENT}');\n")
    enc, plain = base / "encrypted", base / "plain"
    enc.mkdir()
    plain.mkdir()
    gnupg = base / "gnupg"
    gnupg.mkdir(mode=0o700)
    _tool(["gpg", "--homedir", str(gnupg), "--batch", "--pinentry-mode", "loopback", "--passphrase", "test-only", "--symmetric", "-o", str(enc / "db.sql.gpg"), str(sql)])
    _tool(["gpg", "--homedir", str(gnupg), "--batch", "--pinentry-mode", "loopback", "--passphrase", "test-only", "--symmetric", "--armor", "-o", str(enc / "db.sql.asc"), str(sql)])
    _tool(["age-keygen", "-o", str(base / "age.key")])
    recipient = next(line.split(": ", 1)[1] for line in (base / "age.key").read_text().splitlines() if line.startswith("# public key: "))
    _tool(["age", "-r", recipient, "-o", str(enc / "db.sql.age"), str(sql)])
    _tool(["openssl", "enc", "-aes-256-cbc", "-pbkdf2", "-salt", "-pass", "pass:test-only", "-in", str(sql), "-out", str(enc / "db.sql.enc")])
    (enc / "empty.marker").write_bytes(b"")
    _tool(["gzip", "-k", str(sql)])
    os.replace(str(sql) + ".gz", plain / "db.sql.gz")
    _tool(["zstd", "-q", str(sql), "-o", str(plain / "db.sql.zst")])
    (plain / "db.sql").write_bytes(sql.read_bytes())
    (plain / "customers.csv").write_text(f"id;name\n1;{CONTENT}\n")
    for p in [*enc.iterdir(), *plain.iterdir()]:
        os.chmod(p, 0o600)
    return {"encrypted": enc, "plain": plain}


def path_entry(name: str, folder: Path) -> dict[str, Any]:
    return {"name": name, "type": "path", "server": "box", "path": str(folder)}


def test_encrypted_backup_files_pass_by_their_magic_bytes(tmp_path: Path, dumps: dict[str, Path]) -> None:
    found = encryption_of(tmp_path, path_entry("enc", dumps["encrypted"]))["enc"]
    assert found.status.value == "pass", found.message
    assert found.details["formats"] == {"openpgp": 1, "openpgp-armored": 1, "age": 1, "openssl-enc": 1, "empty": 1}
    assert found.message.startswith("all the 5 newest of 5 file(s) sampled (at most 50) are encrypted")


def test_plaintext_backup_files_fail_naming_each_format(tmp_path: Path, dumps: dict[str, Path]) -> None:
    run = audit(inventory(tmp_path, path_entry("plain", dumps["plain"])), only=["BACKUP-ENCRYPTED"])
    found = verdicts(run)[("BACKUP-ENCRYPTED", "backup:plain")]
    assert found.status.value == "fail"
    assert sorted((os.path.basename(p["path"]), p["format"]) for p in found.details["plaintext"]) == [
        ("customers.csv", "text"), ("db.sql", "text"), ("db.sql.gz", "gzip"), ("db.sql.zst", "zstd")]
    assert found.message.startswith("at least 4 backup file(s) are not encrypted: ")
    fact = next(f for f in run.facts if f.name == "backup.file_formats")
    head = next(e for e in fact.evidence if e.argv and e.argv[0] == "head")
    assert head.argv[:5] == ("head", "-q", "-c", "32", "--") and len(head.argv) == 9  # one read for every sampled file
    assert_no_secret(run, CONTENT)  # the bytes read are never recorded


def test_plaintext_on_a_declared_encrypted_volume_passes(tmp_path: Path, dumps: dict[str, Path]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"id: luks\ntitle: LUKS\nextends: baseline-eu\nparameters:\n  backup_encrypted_volume_paths: ['{dumps['plain'].parent}']\n", encoding="utf-8")
    found = encryption_of(tmp_path, path_entry("plain", dumps["plain"]), policy=str(policy))["plain"]
    assert found.status.value == "pass"
    assert "declared an encrypted volume (backup_encrypted_volume_paths)" in found.message


def test_the_sample_is_bounded_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"part-{i:03}.bin").write_bytes(b"Salted__" + bytes(24))
        os.utime(folder / f"part-{i:03}.bin", (time.time() - i * 60,) * 2)
    (folder / "odd name.sql").write_text("SELECT 1;\n")
    found = encryption_of(tmp_path, path_entry("many", folder))["many"]
    assert found.status.value == "pass"
    assert found.details["sampled"] == 50 and found.details["regular_files"] == 61
    assert "the 50 newest of 61 file(s) sampled (at most 50)" in found.message
    assert "1 file(s) with names the sudoers rule cannot name were not read" in found.message


def test_a_file_changed_between_listing_and_reading_is_an_error() -> None:
    from auditor.transports.base import CommandResult  # noqa: PLC0415
    from checks.backup_encryption import split_heads  # noqa: PLC0415

    result = CommandResult(argv=("head",), exit_status=0, stdout=b"Salted__" + bytes(10), stderr=b"", started_at="2026-01-01T00:00:00Z", duration_ms=1)
    with pytest.raises(CollectError) as err:
        split_heads(result, [("/b/a", 100)])
    assert "changed between listing and reading" in err.value.message


def test_auditor_sudoers_grants_the_bounded_head_and_no_borg_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import re  # noqa: PLC0415

    from auditor.cli import main  # noqa: PLC0415

    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "servers": [{"name": "box", "host": "127.0.0.1", "user": "auditor", "sudo": True}], "backups": [
        {"name": "dumps", "type": "path", "server": "box", "path": "/srv/dumps"},
        {"name": "nightly", "type": "borg", "server": "box", "repository": "/srv/borg", "password": "${BORG_TEST_PASSPHRASE}"}]}), encoding="utf-8")
    assert main(["sudoers", str(path)]) == 0
    text = capsys.readouterr().out
    (tmp_path / "out.sudoers").write_text(text, encoding="utf-8")
    proc = subprocess.run(["visudo", "-c", "-f", str(tmp_path / "out.sudoers")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "borg info" not in text and "/usr/bin/borg list --json --bypass-lock -- /srv/borg" in text
    (head,) = [line.strip().rstrip(", \\") for line in text.splitlines() if line.strip().startswith("/usr/bin/head ")]
    regex = re.compile(head.split(" ", 1)[1])
    assert regex.fullmatch("-q -c 32 -- /srv/dumps/db.sql.gz /srv/dumps/2026/01/site-1.tar.zst")
    for bad in ("-q -c 32 -- /srv/dumps/../../etc/shadow", "-q -c 32 -- /srv/dumps/.hidden", "-q -c 99 -- /srv/dumps/a",
                "-q -c 32 -- /srv/dumpsX/a", "-q -c 32 -- /srv/dumps/a -n", "-q -c 32 -- /etc/shadow"):
        assert not regex.fullmatch(bad), bad
