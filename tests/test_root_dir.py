"""A server audited through ``root_dir`` that is not there: every file-based finding is an error.

Issue 12: with a root_dir that does not exist, ACCESS-PRIVATE-KEY-PERMISSIONS
passed ("0 private key files found"), ACCESS-ROOT-AUTHORIZED-KEYS passed
("root has no authorized_keys") and the sshd controls judged this machine's
own sshd. Audited for real through the runner over a local connection.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from auditor.cli import main

from helpers import audit, registry, verdicts

BOX = "server:box"
# Controls that judge files under root_dir (their facts come from the shared reads, or from sshd's files).
FILE_BASED = [
    "ACCESS-SSH-ROOT-LOGIN", "ACCESS-SSH-PASSWORD-AUTH", "ACCESS-SSH-KBD-INTERACTIVE", "ACCESS-SSH-EMPTY-PASSWORDS",
    "ACCESS-SSH-MAX-AUTH-TRIES", "ACCESS-SSH-CRYPTO",
    "ACCESS-ROOT-AUTHORIZED-KEYS", "ACCESS-SHADOW-PERMISSIONS", "ACCESS-PRIVATE-KEY-PERMISSIONS",
    "ACCESS-BACKUP-FILE-PERMISSIONS", "BACKUP-MAX-AGE", "BACKUP-FRESHNESS",
    "PWHASH-SHADOW-SCHEMES", "PWHASH-SHADOW-EMPTY", "PWHASH-NEW-PASSWORD-SCHEME",
    "ACCESS-SUDO-NOPASSWD-ALL", "ACCESS-SUDO-AUDIT-ACCOUNT",
]


def inventory(folder: Path, root: str) -> str:
    path = str(folder / "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({
            "version": 1,
            "servers": [{"name": "box", "connection": "local", "root_dir": root, "key_paths": ["/etc/ssl/private"], "backup_paths": ["/var/backups"]}],
            "backups": [{"name": "dumps", "type": "path", "server": "box", "path": "/srv/dumps"}],
        }, fh)
    return path


def test_every_file_based_control_knows_it_reads_files() -> None:
    """The list above is every control whose facts read files: a new one must be added (and so tested) here."""
    reg = registry()
    reads_files = {c.id for c in reg.controls.values() if "server" in c.info.kinds
                   and any(reg.collector_for(name, "server").reads is not None for name in c.info.facts)}
    assert reads_files == set(FILE_BASED)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_root_dir_that_is_not_a_folder_makes_every_file_based_finding_an_error(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "image"
    if kind == "file":
        root.write_text("an image file, not its mounted root\n")
    expected = f"root_dir {root} does not exist" if kind == "missing" else f"root_dir {root} is not a directory"

    run = audit(inventory(tmp_path, str(root)))

    found = verdicts(run)
    for control in FILE_BASED:
        finding = found[(control, BOX)]
        assert (finding.status.value, finding.reason) == ("error", "not_found"), (control, finding.message)
        assert expected in finding.message, control
    for control in ("ACCESS-BACKUP-FILE-PERMISSIONS", "BACKUP-MAX-AGE", "BACKUP-FRESHNESS"):
        finding = found[(control, "backup:dumps")]
        assert (finding.status.value, finding.reason) == ("error", "not_found") and expected in finding.message, control
    assert not [f for f in run.findings if f.status.value == "pass"], [(f.control, f.target, f.message) for f in run.findings if f.status.value == "pass"]
    assert main(["run", inventory(tmp_path, str(root)), "--out", str(tmp_path / "reports"), "-q"]) == 3  # unverified: nothing may read as compliant


def test_an_existing_root_dir_is_listed_alone_and_changes_nothing_else(tmp_path: Path) -> None:
    """The extra starting point is pruned: the listing of the declared paths is the same, and root_dir's contents are not listed."""
    root = tmp_path / "image"
    (root / "etc" / "ssl" / "private").mkdir(parents=True)
    (root / "etc" / "ssl" / "private" / "server.key").write_text("k")
    os.chmod(root / "etc" / "ssl" / "private" / "server.key", 0o600)
    (root / "unrelated").mkdir()
    (root / "unrelated" / "big.key").write_text("k")

    run = audit(inventory(tmp_path, str(root)), only=["ACCESS-PRIVATE-KEY-PERMISSIONS"])

    finding = verdicts(run)[("ACCESS-PRIVATE-KEY-PERMISSIONS", BOX)]
    assert finding.status.value == "pass" and finding.details["keys"] == [f"{root}/etc/ssl/private/server.key"]
    listing = next(f for f in run.facts if f.name == "files.key_listing")
    assert "unrelated" not in listing.evidence[0].excerpt
