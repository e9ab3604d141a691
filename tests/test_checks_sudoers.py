"""checks/sudoers.py: sudo rules that run every command without a password.

sudoers files are written for real into a fake root (the server's
root_dir) with sudo's own modes and audited through the real runner over a
local connection; permission denied is real (the commands run as nobody).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.model import Run, to_jsonable
from checks.sudoers import logical_lines, nopasswd_all_grants, parse_aliases, parse_defaults, parse_sudoers, parse_user_spec, show_sudoers

from harness import RunAsUser, audit_through, world_dir  # noqa: F401 - fixture
from helpers import audit, verdicts

BOX = "server:box"
CONTROL = "ACCESS-SUDO-NOPASSWD-ALL"

DEBIAN_SUDOERS = """\
#
# This file MUST be edited with the 'visudo' command as root.
#
Defaults\tenv_reset
Defaults\tmail_badpass
Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Defaults\tuse_pty

# User privilege specification
root\tALL=(ALL:ALL) ALL

# Allow members of group sudo to execute any command
%sudo\tALL=(ALL:ALL) ALL

# See sudoers(5) for more information on "@include" directives:

@includedir /etc/sudoers.d
"""

README = """\
#
# The default /etc/sudoers file created on installation of the
# sudo  package now includes the directive:
#
# \t@includedir /etc/sudoers.d
#
# Finally, please note that using the visudo command is the recommended way
# to update sudoers content, since it protects against many failure modes.
"""


def fake_root(folder: Path, sudoers: str | None = DEBIAN_SUDOERS, files: dict[str, str] | None = None, d_mode: int = 0o750) -> str:
    root = folder / "fakeroot"
    etc = root / "etc"
    etc.mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(etc, 0o755)
    if sudoers is not None:
        (etc / "sudoers").write_text(sudoers)
        os.chmod(etc / "sudoers", 0o440)
    for rel, text in {"sudoers.d/README": README, **(files or {})}.items():
        path = etc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, 0o440)
    os.chmod(etc / "sudoers.d", d_mode)
    return str(root)


def inventory(folder: Path | str, **settings: Any) -> str:
    path = os.path.join(str(folder), "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "servers": [{"name": "box", "connection": "local", **settings}]}, fh)
    return path


def policy(folder: Path, allowed: list[str]) -> str:
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump({"id": "sudo-test", "title": "Sudo test", "extends": "baseline-eu", "parameters": {"sudo_nopasswd_allowed": allowed}}))
    return str(path)


def run_sudo(folder: Path, root: str, policy_name: str = "baseline-eu") -> Run:
    return audit(inventory(folder, root_dir=root), policy=policy_name, only=[CONTROL])


def finding_for(run: Run) -> Any:
    return verdicts(run)[(CONTROL, BOX)]


# -- through the runner -----------------------------------------------------------


def test_debian_default_passes_and_lists_what_was_read(tmp_path: Path) -> None:
    root = fake_root(tmp_path)

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "pass", finding.message
    assert finding.message == f"No sudoers rule lets a user run every command without a password (2 file(s) read: {root}/etc/sudoers, {root}/etc/sudoers.d/README)"


@pytest.mark.parametrize(
    "rule",
    [
        "%admin ALL=(ALL:ALL) NOPASSWD: ALL",
        "deploy ALL=(ALL) NOPASSWD:ALL",
        "ALL ALL=NOPASSWD: ALL",
        "deploy   ALL = (ALL)   NOPASSWD :   ALL",
        "deploy ALL=(ALL) nopasswd: ALL",
        "deploy ALL = (root) SETENV: NOPASSWD: /usr/bin/rsync, ALL",
        "deploy ALL = (root) NOPASSWD: /usr/bin/rsync : web1, web2 = PASSWD: /bin/ls : ALL = NOPASSWD: ALL",
        "deploy ALL = (root) \\\n    NOPASSWD: \\\n    ALL",
        "deploy ALL = CWD=/srv NOPASSWD: ALL",
    ],
)
def test_nopasswd_all_rules_fail(tmp_path: Path, rule: str) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/deploy": f"# deploy user\n{rule}\n"})

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "fail"
    assert finding.message.startswith(f"1 sudoers rule(s) let users run every command without a password: {root}/etc/sudoers.d/deploy:2: ")
    assert finding.details["offenders"][0]["how"] == "NOPASSWD"


@pytest.mark.parametrize(
    "rule",
    [
        "audit ALL=(root) NOPASSWD: /usr/sbin/sshd -T, /usr/bin/cat /etc/shadow",
        "deploy ALL = (root) NOPASSWD: /usr/bin/rsync, PASSWD: ALL",
        "deploy ALL = (ALL) ALL",
        "deploy ALL = (root) NOPASSWD: /usr/bin/chown www-data\\:www-data /srv/site",
        "deploy ALL = NOPASSWD: sha256:Ynlz5vd/ZbK2bmb1zDQsGd2b6sJnV1W0rr0Uz5rKbO8= /usr/local/bin/deploy",
    ],
)
def test_limited_or_password_rules_pass(tmp_path: Path, rule: str) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/deploy": rule + "\n"})

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "pass", finding.message


def test_cmnd_alias_meaning_all_counts(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/ops": "Cmnd_Alias SAFE = /bin/ls : EVERYTHING = ALL\nCmnd_Alias INDIRECT = EVERYTHING\nops ALL = (root) NOPASSWD: SAFE\nops2 ALL = (root) NOPASSWD: INDIRECT\n"})

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "fail"
    assert [(o["line"], o["users"]) for o in finding.details["offenders"]] == [(4, ["ops2"])]


def test_user_alias_is_expanded_against_the_allowlist(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/ops": "User_Alias OPS = alice, %wheel\nOPS ALL = NOPASSWD: ALL\n"})

    partly = finding_for(run_sudo(tmp_path, root, policy(tmp_path, ["alice"])))
    fully = finding_for(run_sudo(tmp_path, root, policy(tmp_path, ["alice", "%wheel"])))

    assert partly.status.value == "fail"
    assert partly.details["offenders"][0]["users"] == ["alice", "%wheel"]
    assert fully.status.value == "pass"
    assert fully.message.endswith(f"allowed by policy: {root}/etc/sudoers.d/ops:2)")


def test_allowed_group_passes(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/admins": "%admin ALL=(ALL:ALL) NOPASSWD: ALL\n"})

    finding = finding_for(run_sudo(tmp_path, root, policy(tmp_path, ["%admin"])))

    assert finding.status.value == "pass"
    assert finding.details["allowed"] == [f"{root}/etc/sudoers.d/admins:1: %admin ALL=(ALL:ALL) NOPASSWD: ALL"]


def test_defaults_not_authenticate_fails_globally_and_per_user(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/lazy": "Defaults:deploy !authenticate\nDefaults env_reset, !authenticate\n"})

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "fail"
    assert [(o["users"], o["how"]) for o in finding.details["offenders"]] == [(["deploy"], "!authenticate"), (["ALL"], "!authenticate")]
    assert f"{root}/etc/sudoers.d/lazy:1: Defaults:deploy !authenticate" in finding.message


def test_defaults_authenticate_restored_later_passes_and_user_scope_can_be_allowed(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/a": "Defaults !authenticate\nDefaults authenticate\nDefaults:deploy !authenticate\nDefaults!/usr/bin/uptime !authenticate\n"})

    finding = finding_for(run_sudo(tmp_path, root, policy(tmp_path, ["deploy"])))

    assert finding.status.value == "pass", finding.message


def test_includes_are_followed(tmp_path: Path) -> None:
    sudoers = DEBIAN_SUDOERS + "#include /etc/sudoers.local\n@include extra/relative\n#includedir /etc/sudoers.more\n"
    root = fake_root(tmp_path, sudoers, files={
        "sudoers.local": "# local\n",
        "extra/relative": "web ALL = NOPASSWD: ALL\n",
        "sudoers.more/zz": "db ALL=(postgres) NOPASSWD:ALL\n",
    })

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "fail"
    assert [(o["file"], o["users"], o["runas"]) for o in finding.details["offenders"]] == [
        (f"{root}/etc/extra/relative", ["web"], "(root)"),
        (f"{root}/etc/sudoers.more/zz", ["db"], "(postgres)"),
    ]
    assert finding.details["files"] == [f"{root}/etc/sudoers", f"{root}/etc/sudoers.d/README", f"{root}/etc/sudoers.local", f"{root}/etc/extra/relative", f"{root}/etc/sudoers.more/zz"]


def test_files_sudo_skips_are_ignored_and_missing_includes_noted(tmp_path: Path) -> None:
    root = fake_root(tmp_path, DEBIAN_SUDOERS + "@include /etc/sudoers.absent\n@includedir /etc/nothing.d\n", files={
        "sudoers.d/deploy.dpkg-old": "deploy ALL = NOPASSWD: ALL\n",
        "sudoers.d/deploy~": "deploy ALL = NOPASSWD: ALL\n",
    })

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "pass", finding.message
    assert sorted(finding.details["ignored"]) == [f"{root}/etc/sudoers.d/deploy.dpkg-old", f"{root}/etc/sudoers.d/deploy~"]
    assert finding.details["missing"] == [f"{root}/etc/sudoers.absent", f"{root}/etc/nothing.d"]


def test_include_loop_terminates(tmp_path: Path) -> None:
    root = fake_root(tmp_path, DEBIAN_SUDOERS + "@include /etc/sudoers\n", files={"sudoers.d/self": "@include /etc/sudoers.d/self\n"})

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "pass"
    assert len(finding.details["files"]) == 3


def test_no_sudoers_is_skipped(tmp_path: Path) -> None:
    root = fake_root(tmp_path, sudoers=None)

    finding = finding_for(run_sudo(tmp_path, root))

    assert (finding.status.value, finding.reason) == ("skipped", "not_applicable")
    assert f"{root}/etc/sudoers does not exist" in finding.message


def test_unparseable_entry_is_unverified_never_pass(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/odd": "this is not sudoers syntax\n"})

    finding = finding_for(run_sudo(tmp_path, root))

    assert (finding.status.value, finding.reason) == ("error", "parse_error")
    assert f"{root}/etc/sudoers.d/odd:1" in finding.message


def test_evidence_has_no_comments_and_withholds_hash_like_lines(tmp_path: Path) -> None:
    hashy = "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2"
    root = fake_root(tmp_path, files={"sudoers.d/odd": f"# secret comment: {hashy}\nCmnd_Alias X = /usr/bin/echo {hashy}\ndeploy ALL = NOPASSWD: X\n"})

    run = run_sudo(tmp_path, root)

    assert finding_for(run).status.value == "pass"
    fact = next(f for f in run.facts if f.name == "sudo.sudoers")
    odd = next(e for e in fact.evidence if e.kind == "file" and e.source == f"{root}/etc/sudoers.d/odd")
    assert odd.excerpt == "2: [withheld: looks like a password hash]\n3: deploy ALL = NOPASSWD: X"
    main = next(e for e in fact.evidence if e.kind == "file" and e.source == f"{root}/etc/sudoers")
    assert "visudo" not in main.excerpt and "%sudo ALL=(ALL:ALL) ALL" in main.excerpt and "@includedir /etc/sudoers.d" in main.excerpt
    assert any(e.argv[:2] == ("find", "-H") and f"{root}/etc/sudoers.d" in e.argv and e.source.startswith("find ") for e in fact.evidence)  # the shared listing
    assert odd.argv[:2] == ("cat", "--") and f"{root}/etc/sudoers.d/odd" in odd.argv and f"{root}/etc/sudoers" not in odd.argv  # the drop-ins, read together
    assert "secret comment" not in json.dumps(to_jsonable(run))


def test_unreadable_sudoers_d_is_permission_denied(world_dir: str) -> None:
    root = fake_root(Path(world_dir), sudoers=DEBIAN_SUDOERS, d_mode=0o750)
    os.chmod(os.path.join(root, "etc", "sudoers"), 0o444)  # the main file readable: the folder is what is refused

    _, findings = audit_through(inventory(world_dir, root_dir=root), RunAsUser("nobody"), only=[CONTROL])

    finding = findings[(CONTROL, BOX)]
    assert (finding.status.value, finding.reason) == ("error", "permission_denied")
    assert f"{root}/etc/sudoers.d" in finding.message


def test_unreadable_sudoers_is_permission_denied(world_dir: str) -> None:
    root = fake_root(Path(world_dir))

    _, findings = audit_through(inventory(world_dir, root_dir=root), RunAsUser("nobody"), only=[CONTROL])

    finding = findings[(CONTROL, BOX)]
    assert (finding.status.value, finding.reason) == ("error", "permission_denied")
    assert f"{root}/etc/sudoers" in finding.message


# -- parser on recorded text ---------------------------------------------------------------


def test_logical_lines_join_continuations_and_drop_comments() -> None:
    text = "# c\nDefaults env_reset # trailing\n#includedir /etc/sudoers.d\nuser ALL = \\\n  (ALL) \\\n  ALL\n#1000 ALL = ALL\n\\# not\n"
    assert logical_lines(text) == [(2, "Defaults env_reset"), (3, "#includedir /etc/sudoers.d"), (4, "user ALL = (ALL) ALL"), (7, "#1000 ALL = ALL"), (8, "\\# not")]


def test_parse_user_spec_tags_runas_and_hosts() -> None:
    spec = parse_user_spec("alice, %ops web1 = (www-data) NOPASSWD: /bin/ls, (root) /bin/cat, PASSWD: ALL : db1 = NOPASSWD: ALL")
    assert spec is not None
    assert spec["users"] == ["alice", "%ops"] and spec["hosts"] == ["web1"]
    assert [(c["runas"], c["command"], c["nopasswd"], c["hosts"]) for c in spec["commands"]] == [
        ("(www-data)", "/bin/ls", True, "web1"),
        ("(root)", "/bin/cat", True, "web1"),
        ("(root)", "ALL", False, "web1"),
        ("(root)", "ALL", True, "db1"),
    ]


def test_parse_user_spec_negation_and_garbage() -> None:
    spec = parse_user_spec("u ALL = NOPASSWD: !ALL")
    assert spec is not None and spec["commands"][0]["negated"] is True
    assert parse_user_spec("not a rule") is None
    assert parse_user_spec("u ALL = (ALL NOPASSWD: ALL") is None


def test_parse_defaults_forms() -> None:
    assert parse_defaults("Defaults:deploy, %ops !authenticate, env_reset") == {"kind": "user", "scope": ["deploy", "%ops"], "authenticate": False}
    assert parse_defaults("Defaults!/usr/bin/ls,/bin/cat !authenticate")["kind"] == "command"
    assert parse_defaults("Defaults>root !authenticate")["kind"] == "runas"
    assert parse_defaults("Defaults@web1 !!authenticate")["authenticate"] is True
    assert parse_defaults("Defaults env_reset")["authenticate"] is None


def test_parse_aliases_with_digests_and_several_definitions() -> None:
    assert parse_aliases("A = /bin/ls, sha256:ABC= /bin/x : B = ALL") == {"A": ["/bin/ls", "sha256:ABC= /bin/x"], "B": ["ALL"]}


def test_grants_on_recorded_file() -> None:
    text = DEBIAN_SUDOERS + "Cmnd_Alias EVERYTHING = ALL\nops ALL = NOPASSWD: EVERYTHING\nDefaults:ci !authenticate\n"
    fact = {"files": ["/etc/sudoers"], "missing": [], "ignored": [], "unresolved": [], "entries": [e for e in parse_sudoers(text, "/etc/sudoers")["entries"] if e["entry"] not in ("include", "includedir")]}
    grants = nopasswd_all_grants(fact)
    assert [(g["users"], g["how"]) for g in grants] == [(["ops"], "NOPASSWD"), (["ci"], "!authenticate")]


def test_show_sudoers_numbers_entries() -> None:
    assert show_sudoers("# x\nroot ALL=(ALL) ALL\n\n@includedir /etc/sudoers.d\n") == "2: root ALL=(ALL) ALL\n4: @includedir /etc/sudoers.d"
