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
    assert finding.message == f"No sudoers rule lets a user become root without a password (2 file(s) read: {root}/etc/sudoers, {root}/etc/sudoers.d/README)"


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
    assert finding.message.startswith(f"1 sudoers rule(s) let users become root without a password: {root}/etc/sudoers.d/deploy:2: ")
    assert finding.details["offenders"][0]["how"] == "NOPASSWD"


@pytest.mark.parametrize(
    "rule",
    [
        "audit ALL=(root) NOPASSWD: /usr/sbin/sshd -T, /usr/bin/cat /etc/shadow",
        "deploy ALL = (root) NOPASSWD: /usr/bin/uptime, PASSWD: ALL",  # was /usr/bin/rsync: rsync with free arguments is root now (-e, writes)
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


# -- root-equivalent NOPASSWD rules (evaluator on recorded text) ---------------------------------

AUDIT_CONTROL = "ACCESS-SUDO-AUDIT-ACCOUNT"
AUDITOR = {"user": "auditor", "groups": ["auditor", "adm"], "sudo": True}
_NO_KEY = object()


def recorded(text: str, audit_account: Any = _NO_KEY, path: str = "/etc/sudoers.d/x") -> dict[str, Any]:
    """The sudo.sudoers fact for one recorded file (as the collector builds it)."""
    entries = [e for e in parse_sudoers(text, path)["entries"] if e["entry"] not in ("include", "includedir")]
    fact: dict[str, Any] = {"files": [path], "missing": [], "ignored": [], "unresolved": [], "entries": entries}
    if audit_account is not _NO_KEY:
        fact["audit_account"] = audit_account
    return fact


def judge(control_id: str, fact: dict[str, Any], allowed: tuple[str, ...] = ()) -> Any:
    control = registry_controls()[control_id]
    return control.evaluate({"sudo.sudoers": fact}, {"sudo_nopasswd_allowed": list(allowed)}, None)


def registry_controls() -> dict[str, Any]:
    from helpers import registry

    return registry().controls


def test_env_any_fails_through_the_runner(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files={"sudoers.d/auditor": "auditor ALL=(root) NOPASSWD: /usr/bin/env *\n"})

    finding = finding_for(run_sudo(tmp_path, root))

    assert finding.status.value == "fail"
    assert finding.message == (
        f"1 sudoers rule(s) let users become root without a password: {root}/etc/sudoers.d/auditor:1: auditor ALL=(root) NOPASSWD: /usr/bin/env * "
        "— env with any arguments can run any program as root (env /bin/sh) (NOEXEC would stop that)"
    )
    assert finding.details["offenders"][0]["users"] == ["auditor"]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("auditor ALL=(root) NOPASSWD: /usr/bin/env *", "env with any arguments can run any program as root"),
        ("auditor ALL=(root) NOPASSWD: /usr/bin/find *", "find with any arguments can run programs (-exec) and write files (-fprintf) as root"),
        ("auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/find *", "find with any arguments can write files as root (-fprintf), NOEXEC does not stop that"),
        ("Defaults noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/find *", "NOEXEC does not stop that"),
        ("auditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog", "less can run a shell as root (!sh)"),
        ("auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/vim /etc/hosts", "vim can open and write any file as root"),
        ("Cmnd_Alias SHELLS = /bin/sh, /bin/bash\nops ALL=(ALL) NOPASSWD: /usr/bin/uptime, SHELLS", "SHELLS (/bin/sh): sh with any arguments"),
        ("Cmnd_Alias X = /bin/bash\nCmnd_Alias Y = /usr/bin/id, X\nops ALL=(ALL) NOPASSWD: Y", "X (/bin/bash): bash with any arguments"),
        ("Defaults noexec\nauditor ALL=(root) NOPASSWD:EXEC: /usr/bin/less /var/log/syslog", "less can run a shell"),
        ("Defaults noexec\nDefaults:auditor !noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog", "less can run a shell"),
        ("Defaults@web1 !noexec\nDefaults noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog", "less can run a shell"),
        ("Defaults:alice noexec\n%ops ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog", "less can run a shell"),
        ("Defaults!/usr/bin/env !authenticate", "env with any arguments can run any program as root"),
        ("deploy ALL=(root) NOPASSWD: /usr/bin/rsync", "rsync with any arguments"),
        ("deploy ALL=(ALL:ALL) NOPASSWD: /usr/bin/python3.11 *", "python3.11 with any arguments can run any code in-process"),
        ("deploy ALL=(root) NOPASSWD: /usr/bin/", "/usr/bin/ allows every program in that directory"),
    ],
)
def test_root_equivalent_rules_fail(text: str, fragment: str) -> None:
    outcome = judge(CONTROL, recorded(text + "\n"))

    assert outcome.status.value == "fail", outcome.message
    assert fragment in outcome.message
    assert outcome.message.startswith("1 sudoers rule(s) let users become root without a password: /etc/sudoers.d/x:")
    assert " — " in outcome.message and fragment in outcome.details["offenders"][0]["reason"]


@pytest.mark.parametrize(
    "text",
    [
        "auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/less /var/log/syslog",
        "auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/cat, /usr/bin/head",
        "auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/find /etc/shadow /srv/backups -xdev -printf %y\\\\t%p\\\\0",
        "auditor ALL=(root) NOPASSWD:NOEXEC: /usr/sbin/sshd -T, /usr/bin/borg list --bypass-lock /srv/repo, /usr/bin/borg info /srv/repo",
        "Defaults noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog",
        "Defaults:auditor noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog",
        "User_Alias AUDITORS = auditor, backup\nDefaults:AUDITORS noexec\nAUDITORS ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog",
        "Defaults!/usr/bin/less noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog",
        "Cmnd_Alias PAGERS = /usr/bin/less\nDefaults!PAGERS noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog",
        "Defaults>root noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog",
        "Cmnd_Alias READS = /usr/bin/cat, !/bin/bash\nauditor ALL=(root) NOPASSWD: READS",
        "Cmnd_Alias SHELLS = /bin/sh, /bin/bash\nauditor ALL=(root) NOPASSWD: /usr/bin/id, !SHELLS",
        "deploy ALL=(www-data) NOPASSWD: /bin/bash",
        "deploy ALL=(root) /usr/bin/env *",
        "deploy ALL=(root) NOPASSWD: /usr/bin/uptime, PASSWD: /bin/bash",
        "auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/env LC_ALL\\=C LANG\\=C cat *",
    ],
)
def test_limited_nopasswd_rules_pass(text: str) -> None:
    outcome = judge(CONTROL, recorded(text + "\n"))

    assert outcome.status.value == "pass", outcome.message


def test_pass_names_the_nopasswd_rules_judged_limited() -> None:
    outcome = judge(CONTROL, recorded("auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/cat, /usr/bin/head\n"))

    assert outcome.message == "No sudoers rule lets a user become root without a password (1 file(s) read: /etc/sudoers.d/x; NOPASSWD rules judged not root-equivalent: /etc/sudoers.d/x:1)"
    assert outcome.details["limited"] == [{"file": "/etc/sudoers.d/x", "line": 1, "text": "auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/cat, /usr/bin/head", "commands": ["/usr/bin/cat", "/usr/bin/head"]}]


def test_one_offender_per_rule_with_every_reason() -> None:
    outcome = judge(CONTROL, recorded("ops ALL=(root) NOPASSWD: /usr/bin/env *, /usr/bin/id, /usr/bin/tee *\n"))

    (offender,) = outcome.details["offenders"]
    assert offender["reason"] == (
        "env with any arguments can run any program as root (env /bin/sh) (NOEXEC would stop that); "
        "tee with any arguments can write any file as root (tee /etc/sudoers.d/x)"
    )


def test_root_equivalent_allowed_by_policy_passes() -> None:
    text = "deploy ALL=(root) NOPASSWD: /usr/bin/env *\n"

    assert judge(CONTROL, recorded(text), allowed=("deploy",)).status.value == "pass"
    assert judge(CONTROL, recorded(text), allowed=("other",)).status.value == "fail"


def test_parse_defaults_keeps_noexec_with_its_scope() -> None:
    assert parse_defaults("Defaults noexec") == {"kind": "global", "scope": [], "authenticate": None, "noexec": True}
    assert parse_defaults("Defaults:auditor, %adm !noexec") == {"kind": "user", "scope": ["auditor", "%adm"], "authenticate": None, "noexec": False}
    assert parse_defaults("Defaults!/usr/bin/less noexec, !authenticate")["noexec"] is True
    assert "noexec" not in parse_defaults("Defaults env_reset")
    assert [e["entry"] for e in parse_sudoers("Defaults noexec\nDefaults env_reset\n", "/x")["entries"]] == ["defaults"]


def test_expand_commands_follows_aliases_and_drops_negations() -> None:
    from checks.sudoers import expand_commands

    aliases = {"A": ["/usr/bin/cat", "!/bin/sh", "B"], "B": ["sha256:AAAA= /bin/bash"], "LOOP": ["LOOP", "/bin/ls"]}
    assert expand_commands("A", aliases) == [("/usr/bin/cat", "A"), ("/bin/bash", "B")]
    assert expand_commands("!A", aliases) == [("/bin/sh", "A")]
    assert expand_commands("LOOP", aliases) == [("/bin/ls", "LOOP")]
    assert expand_commands("/usr/bin/id", aliases) == [("/usr/bin/id", None)]


# -- the audit account ---------------------------------------------------------------------------------


def test_audit_account_skipped_when_auditing_as_root() -> None:
    as_root = judge(AUDIT_CONTROL, recorded("auditor ALL=(root) NOPASSWD: ALL\n", None))
    unknown = judge(AUDIT_CONTROL, recorded("auditor ALL=(root) NOPASSWD: ALL\n"))  # a fact from before the key existed

    assert (as_root.status.value, as_root.reason) == ("skipped", None)
    assert as_root.message == "The audit reads this server as root, with no sudo involved: no audit account to judge"
    assert unknown.status.value == "skipped" and "older collector" in unknown.message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("auditor ALL=(root) NOPASSWD: /usr/bin/env *", "env with any arguments"),
        ("%adm ALL=(root) NOPASSWD: /usr/bin/find *", "find with any arguments"),
        ("User_Alias AUDIT = %adm, backup\nAUDIT ALL=(root) NOPASSWD:NOEXEC: /usr/bin/find *", "NOEXEC does not stop that"),
        ("ALL ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog", "less can run a shell"),
        ("Defaults:auditor !authenticate\nauditor ALL=(ALL) /usr/bin/env *", "env with any arguments"),
        ("Defaults !authenticate\n%adm ALL=(ALL) /bin/bash", "bash with any arguments"),
        ("auditor ALL=(root) NOPASSWD: ALL", "ALL is every command as root"),
    ],
)
def test_audit_account_root_rules_fail(text: str, fragment: str) -> None:
    outcome = judge(AUDIT_CONTROL, recorded(text + "\n", AUDITOR), allowed=("auditor", "%adm", "ALL"))

    assert outcome.status.value == "fail", outcome.message
    assert outcome.message.startswith("The audit account auditor can become root without a password through 1 sudoers rule(s): /etc/sudoers.d/x:")
    assert fragment in outcome.message


@pytest.mark.parametrize(
    "text",
    [
        "deploy ALL=(root) NOPASSWD: /usr/bin/env *",  # another account's rule: the other control's business
        "%wheel ALL=(root) NOPASSWD: /bin/bash",
        "ALL, !auditor ALL=(root) NOPASSWD: /bin/bash",
        "User_Alias ADMINS = ALL, !%adm\nADMINS ALL=(root) NOPASSWD: /bin/bash",
        "auditor ALL=(root) /usr/bin/env *",  # asks for a password
        "Defaults:auditor !authenticate\nauditor ALL=(root) PASSWD: /usr/bin/env *",  # the tag wins
        "Defaults:deploy !authenticate\nauditor ALL=(root) /usr/bin/env *",
    ],
)
def test_audit_account_rules_that_do_not_make_it_root(text: str) -> None:
    outcome = judge(AUDIT_CONTROL, recorded(text + "\n", AUDITOR))

    assert outcome.status.value == "pass", outcome.message


def test_audit_account_pass_lists_its_rules() -> None:
    text = (
        "Cmnd_Alias AUDIT_READS = /usr/bin/cat -- /etc/shadow /etc/sudoers, /usr/sbin/sshd -T, "
        "/usr/bin/cat ^-- /etc/sudoers\\.d/[A-Za-z0-9_@+%-]+( /etc/sudoers\\.d/[A-Za-z0-9_@+%-]+)*$\n"
        "auditor ALL=(root) NOPASSWD:NOEXEC: AUDIT_READS\n"
        "deploy ALL=(root) NOPASSWD: /usr/bin/env *\n"
    )

    outcome = judge(AUDIT_CONTROL, recorded(text, AUDITOR))

    assert outcome.status.value == "pass", outcome.message
    assert outcome.message == "The audit account auditor has 1 sudoers rule(s) that run without a password, none root-equivalent: /etc/sudoers.d/x:2: auditor ALL=(root) NOPASSWD:NOEXEC: AUDIT_READS"
    assert outcome.details["limited"][0]["commands"][1] == "/usr/sbin/sshd -T"
    assert judge(CONTROL, recorded(text, AUDITOR)).status.value == "fail"  # deploy's rule


def test_audit_account_without_nopasswd_rules_passes() -> None:
    outcome = judge(AUDIT_CONTROL, recorded("root ALL=(ALL:ALL) ALL\n", AUDITOR))

    assert outcome.status.value == "pass"
    assert outcome.message.startswith("The audit account auditor has no sudoers rule that runs without a password")


def test_audit_account_not_exempted_by_the_allowlist() -> None:
    fact = recorded("auditor ALL=(root) NOPASSWD: /usr/bin/env *\n", AUDITOR)

    assert judge(CONTROL, fact, allowed=("auditor",)).status.value == "pass"
    assert judge(AUDIT_CONTROL, fact, allowed=("auditor",)).status.value == "fail"


def test_audit_account_unparsed_entry_is_unverified() -> None:
    outcome = judge(AUDIT_CONTROL, recorded("auditor ALL=(root) NOPASSWD:NOEXEC: /usr/bin/cat\nthis is not sudoers\n", AUDITOR))

    assert (outcome.status.value, outcome.reason) == ("error", "parse_error")
    assert "/etc/sudoers.d/x:2" in outcome.message


def test_audit_account_noexec_from_its_groups_defaults() -> None:
    text = "Defaults:%adm noexec\nauditor ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog\n"

    assert judge(AUDIT_CONTROL, recorded(text, AUDITOR)).status.value == "pass"
    assert judge(AUDIT_CONTROL, recorded(text, {"user": "auditor", "groups": ["auditor"], "sudo": True})).status.value == "fail"
