"""checks/authorized_keys.py: root's authorized keys against the inventory's allowlist.

Keys are made by ssh-keygen (installed by the harness when missing) and
written into root's authorized_keys under a fake root (the server's
root_dir); the audit runs through the real runner over a local connection.
ssh-keygen -lf is the reference for the fingerprints. Permission denied is
real: the collector's commands run as ``nobody``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.model import Run, to_jsonable
from checks.authorized_keys import fingerprint, parse_authorized_keys, parse_key_line, redact_authorized_keys, root_authorized_keys_allowed

from harness import RunAsUser, audit_through, ensure_programs, world_dir  # noqa: F401 - fixture
from helpers import audit, verdicts

BOX = "server:box"
CONTROL = "ACCESS-ROOT-AUTHORIZED-KEYS"


def new_key(folder: Path | str, name: str, kind: str = "ed25519", comment: str = "") -> tuple[str, str]:
    """A real public key line made by ssh-keygen, and its fingerprint as ssh-keygen prints it."""
    ensure_programs("ssh-keygen")
    path = os.path.join(str(folder), name)
    extra = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", comment or name, "-f", path], check=True, capture_output=True)
    line = Path(path + ".pub").read_text().strip()
    printed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", path + ".pub"], check=True, capture_output=True, text=True).stdout.split()
    return line, printed[1]


def fake_root(folder: Path, authorized_keys: str | None = None, authorized_keys2: str | None = None, ssh_mode: int = 0o700) -> str:
    root = folder / "fakeroot"
    ssh = root / "root" / ".ssh"
    ssh.mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(root / "root", 0o700)
    os.chmod(ssh, ssh_mode)
    if authorized_keys is not None:
        (ssh / "authorized_keys").write_text(authorized_keys)
        os.chmod(ssh / "authorized_keys", 0o600)
    if authorized_keys2 is not None:
        (ssh / "authorized_keys2").write_text(authorized_keys2)
        os.chmod(ssh / "authorized_keys2", 0o600)
    return str(root)


def inventory(folder: Path | str, **settings: Any) -> str:
    path = os.path.join(str(folder), "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "servers": [{"name": "box", "connection": "local", **settings}]}, fh)
    return path


def run_keys(folder: Path, root: str, **settings: Any) -> Run:
    return audit(inventory(folder, root_dir=root, **settings), only=[CONTROL])


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    folder = tmp_path_factory.mktemp("keys")
    return {
        "ops": new_key(folder, "ops", comment="ops@admin.example"),
        "deploy": new_key(folder, "deploy", kind="ecdsa", comment="deploy key for CI"),
        "old": new_key(folder, "old", kind="rsa", comment="old-laptop"),
    }


# -- through the runner ---------------------------------------------------------------


def test_no_authorized_keys_file_passes(tmp_path: Path) -> None:
    root = fake_root(tmp_path)

    finding = verdicts(run_keys(tmp_path, root))[(CONTROL, BOX)]

    assert finding.status.value == "pass"
    assert finding.message.startswith("root has no authorized_keys")
    assert f"{root}/root/.ssh/authorized_keys" in finding.message


def test_a_root_dir_that_does_not_exist_is_an_error_not_no_keys(tmp_path: Path) -> None:
    """No authorized_keys under a real root is "no keys"; under a root_dir that is not there it is nothing seen at all."""
    missing = str(tmp_path / "no-such-image")

    finding = verdicts(run_keys(tmp_path, missing))[(CONTROL, BOX)]

    assert (finding.status.value, finding.reason) == ("error", "not_found")
    assert f"root_dir {missing} does not exist" in finding.message


def test_a_root_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    image = tmp_path / "image.img"
    image.write_text("not a folder\n")

    finding = verdicts(run_keys(tmp_path, str(image)))[(CONTROL, BOX)]

    assert (finding.status.value, finding.reason) == ("error", "not_found")
    assert f"root_dir {image} is not a directory" in finding.message


def test_declared_keys_pass_with_options_and_both_files(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    ops, deploy = keys["ops"], keys["deploy"]
    root = fake_root(
        tmp_path,
        authorized_keys=f"# admins\n\n{ops[0]}\n",
        authorized_keys2=f'from="192.0.2.0/24",command="/usr/local/bin/deploy --mode \\"fast mode\\"",no-pty {deploy[0]}\n',
    )

    finding = verdicts(run_keys(tmp_path, root, authorized_root_keys=[ops[1], deploy[1]]))[(CONTROL, BOX)]

    assert finding.status.value == "pass", finding.message
    assert finding.message == "All 2 key(s) in root's authorized_keys are declared in authorized_root_keys"
    assert any(deploy[1] in k and "deploy key for CI" in k and "from=" in k for k in finding.details["keys"])


def test_undeclared_key_fails_and_names_fingerprint_and_comment(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    ops, old = keys["ops"], keys["old"]
    root = fake_root(tmp_path, authorized_keys=f"{ops[0]}\nrestrict,command=\"echo hi there\" {old[0]}\n")

    finding = verdicts(run_keys(tmp_path, root, authorized_root_keys=[ops[1]]))[(CONTROL, BOX)]

    assert finding.status.value == "fail"
    assert finding.message.startswith("1 of 2 key(s) in root's authorized_keys are not in authorized_root_keys: ")
    assert f"{old[1]} (old-laptop, {root}/root/.ssh/authorized_keys:2)" in finding.message
    assert ops[1] not in finding.message
    assert [k["fingerprint"] for k in finding.details["not_allowed"]] == [old[1]]


def test_empty_allowlist_means_no_key_may_be_there(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    root = fake_root(tmp_path, authorized_keys2=keys["ops"][0] + "\n")

    finding = verdicts(run_keys(tmp_path, root, authorized_root_keys=[]))[(CONTROL, BOX)]

    assert finding.status.value == "fail"
    assert keys["ops"][1] in finding.message and "authorized_keys2:1" in finding.message


def test_keys_without_a_declared_allowlist_fail_and_say_what_to_declare(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    root = fake_root(tmp_path, authorized_keys=keys["ops"][0] + "\n")

    finding = verdicts(run_keys(tmp_path, root))[(CONTROL, BOX)]

    assert finding.status.value == "fail"
    assert "declares no authorized_root_keys" in finding.message
    assert f"{keys['ops'][1]} (ops@admin.example)" in finding.message


def test_allowlist_fingerprint_with_padding_still_matches(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    root = fake_root(tmp_path, authorized_keys=keys["ops"][0] + "\n")

    finding = verdicts(run_keys(tmp_path, root, authorized_root_keys=[keys["ops"][1] + "="]))[(CONTROL, BOX)]

    assert finding.status.value == "pass"


def test_file_with_only_comments_passes(tmp_path: Path) -> None:
    root = fake_root(tmp_path, authorized_keys="# no keys here\n\n")

    finding = verdicts(run_keys(tmp_path, root, authorized_root_keys=[]))[(CONTROL, BOX)]

    assert (finding.status.value, finding.message) == ("pass", f"root's authorized_keys hold no keys ({root}/root/.ssh/authorized_keys)")


def test_unparseable_line_is_unverified_never_pass(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    root = fake_root(tmp_path, authorized_keys=f"{keys['ops'][0]}\nssh-ed25519 not-base64-at-all oops\n")

    finding = verdicts(run_keys(tmp_path, root, authorized_root_keys=[keys["ops"][1]]))[(CONTROL, BOX)]

    assert (finding.status.value, finding.reason) == ("error", "parse_error")
    assert f"{root}/root/.ssh/authorized_keys:2" in finding.message


def test_evidence_shows_fingerprints_not_key_blobs(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    ops, old = keys["ops"], keys["old"]
    root = fake_root(tmp_path, authorized_keys=f"{ops[0]}\n{old[0]}\n")

    run = run_keys(tmp_path, root, authorized_root_keys=[ops[1]])

    fact = next(f for f in run.facts if f.name == "ssh.root_authorized_keys")
    inventory_ev, cat1, absent = fact.evidence
    assert inventory_ev.kind == "inventory" and ops[1] in inventory_ev.excerpt
    assert cat1.argv == ("cat", "--", f"{root}/root/.ssh/authorized_keys", f"{root}/root/.ssh/authorized_keys2")  # one read for both
    assert cat1.kind == "file" and cat1.source == f"{root}/root/.ssh/authorized_keys"
    assert cat1.excerpt == f"1: ssh-ed25519 {ops[1]} ops@admin.example\n2: ssh-rsa {old[1]} old-laptop"
    assert cat1.redacted is True
    assert absent.argv[0] == "find" and f"{root}/root/.ssh/authorized_keys2: not present" in absent.excerpt and "No such file" in absent.excerpt
    text = json.dumps(to_jsonable(run))
    for line in (ops[0], old[0]):
        assert line.split()[1] not in text


def test_unreadable_root_home_is_permission_denied(world_dir: str, keys: dict[str, tuple[str, str]]) -> None:
    root = fake_root(Path(world_dir), authorized_keys=keys["ops"][0] + "\n")

    _, findings = audit_through(inventory(world_dir, root_dir=root, authorized_root_keys=[keys["ops"][1]]), RunAsUser("nobody"), only=[CONTROL])

    finding = findings[(CONTROL, BOX)]
    assert (finding.status.value, finding.reason) == ("error", "permission_denied")
    assert f"{root}/root/.ssh/authorized_keys" in finding.message


# -- parser on recorded lines --------------------------------------------------------------


def test_fingerprints_match_ssh_keygen_for_a_whole_file(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    text = (
        f"{keys['ops'][0]}\n"
        f'command="/bin/echo \\"a, b\\"",from="10.0.0.1,192.0.2.0/24" {keys["deploy"][0]}\n'
        f"cert-authority,principals=\"root\" {keys['old'][0]}\n"
    )
    path = tmp_path / "authorized_keys"
    path.write_text(text)
    printed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()

    parsed = parse_authorized_keys(text)

    assert [k["fingerprint"] for k in parsed["keys"]] == [line.split()[1] for line in printed]
    assert parsed["invalid"] == []
    assert parsed["keys"][1]["options"] == 'command="/bin/echo \\"a, b\\"",from="10.0.0.1,192.0.2.0/24"'
    assert parsed["keys"][1]["option_names"] == ["command", "from"]
    assert parsed["keys"][2]["option_names"] == ["cert-authority", "principals"]
    assert parsed["keys"][1]["comment"] == "deploy key for CI"


RECORDED_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOPKqPlzr4wCqZQFvDPLHq7/kXaPQMaAKtWMelS8Sw67"
RECORDED_FP = "SHA256:melOFzIS2GVXQQAb4NXwQMWggPQ2lcD0g0X45gmU7Kc"


@pytest.mark.parametrize(
    "line, options, comment",
    [
        (f"ssh-ed25519 {RECORDED_KEY}", "", ""),
        (f"ssh-ed25519 {RECORDED_KEY} a comment with  spaces", "", "a comment with  spaces"),
        (f"restrict ssh-ed25519 {RECORDED_KEY} ci", "restrict", "ci"),
        (f'command="rsync --server -e.LsfxC . /srv/x",no-port-forwarding ssh-ed25519 {RECORDED_KEY} backup@host', 'command="rsync --server -e.LsfxC . /srv/x",no-port-forwarding', "backup@host"),
        (f'environment="A=b c" ssh-ed25519 {RECORDED_KEY}', 'environment="A=b c"', ""),
        (f"\t ssh-ed25519 {RECORDED_KEY} indented\t", "", "indented"),
    ],
)
def test_parse_key_line_recorded(line: str, options: str, comment: str) -> None:
    key = parse_key_line(line)
    assert key is not None
    assert (key["type"], key["fingerprint"], key["options"], key["comment"]) == ("ssh-ed25519", RECORDED_FP, options, comment)


@pytest.mark.parametrize(
    "line",
    [
        "ssh-ed25519",
        "ssh-ed25519 !!!notbase64",
        f"ssh-rsa {RECORDED_KEY} type does not match the blob",
        f'command="unterminated ssh-ed25519 {RECORDED_KEY}',
        "just some words here",
    ],
)
def test_parse_key_line_rejects_non_keys(line: str) -> None:
    assert parse_key_line(line) is None


def test_fingerprint_has_no_padding() -> None:
    # sha256 digests are 32 bytes: base64 always ends in one '=' that OpenSSH drops
    shown = fingerprint(b"\x00\x00\x00\x0bssh-ed25519" + b"\x00" * 36)
    assert shown.startswith("SHA256:") and len(shown) == len("SHA256:") + 43 and not shown.endswith("=")


def test_redaction_keeps_type_fingerprint_comment_and_short_options() -> None:
    long_command = "x" * 200
    text = f'# c\ncommand="{long_command}" ssh-ed25519 {RECORDED_KEY} me\nnonsense line\n'
    shown = redact_authorized_keys(text)
    assert RECORDED_KEY not in shown and RECORDED_FP in shown
    assert shown.splitlines()[0].startswith(f"2: ssh-ed25519 {RECORDED_FP} me [command=\"xxx")
    assert "…]" in shown.splitlines()[0]
    assert shown.splitlines()[1] == "3: (not a key line)"


def test_evaluator_on_recorded_fact() -> None:
    fact = {
        "files": [{"path": "/root/.ssh/authorized_keys", "present": True, "keys": 1}, {"path": "/root/.ssh/authorized_keys2", "present": False}],
        "keys": [{"file": "/root/.ssh/authorized_keys", "line": 3, "type": "ssh-ed25519", "fingerprint": RECORDED_FP, "comment": "", "options": "", "option_names": []}],
        "invalid": [],
        "allowlist": ["SHA256:" + "A" * 43],
    }
    outcome = root_authorized_keys_allowed.evaluate({"ssh.root_authorized_keys": fact}, {}, None)
    assert outcome.status.value == "fail"
    assert f"{RECORDED_FP} (no comment, /root/.ssh/authorized_keys:3)" in outcome.message
    allowed = dict(fact, allowlist=[RECORDED_FP])
    assert root_authorized_keys_allowed.evaluate({"ssh.root_authorized_keys": allowed}, {}, None).status.value == "pass"
