"""checks/sshd.py against a real OpenSSH ``sshd -T``.

The harness installs openssh-server when sshd is missing (CI machines start
without it). Each test writes its own sshd_config with a host key made by
ssh-keygen in tmp_path, and audits it through the inventory key
``sshd_config:`` over a local connection.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from auditor.model import Run

from harness import HiddenSbin, RunAsUser, audit_through, host_key, sshd, world_dir  # noqa: F401 - fixtures
from checks.sshd import parse_sshd_t
from helpers import audit, statuses, verdicts

BOX = "server:box"
SSH_CONTROLS = [
    "ACCESS-SSH-ROOT-LOGIN",
    "ACCESS-SSH-PASSWORD-AUTH",
    "ACCESS-SSH-KBD-INTERACTIVE",
    "ACCESS-SSH-EMPTY-PASSWORDS",
    "ACCESS-SSH-MAX-AUTH-TRIES",
    "ACCESS-SSH-CRYPTO",
]

HARDENED = """\
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
MaxAuthTries 3
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org
"""

WEAK = """\
PermitRootLogin yes
PasswordAuthentication yes
PermitEmptyPasswords yes
MaxAuthTries 10
Ciphers aes128-cbc,3des-cbc,aes256-ctr
MACs hmac-sha1,hmac-sha2-256
KexAlgorithms diffie-hellman-group14-sha1,curve25519-sha256
"""


def write_config(folder: Path | str, body: str, name: str = "sshd_config") -> str:
    folder = str(folder)
    key = host_key(folder)
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"HostKey {key}\nPidFile {os.path.join(folder, 'sshd.pid')}\n{body}")
    os.chmod(path, 0o644)
    return path


def inventory(folder: Path | str, sshd_config: str) -> str:
    path = os.path.join(str(folder), "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "servers": [{"name": "box", "connection": "local", "sshd_config": sshd_config}]}, fh)
    return path


def ssh_run(folder: Path, body: str, policy: str = "baseline-eu") -> Run:
    return audit(inventory(folder, write_config(folder, body)), policy=policy, only=["ACCESS-SSH-*"])


def ssh_statuses(run: Run) -> dict[str, str]:
    return {control: status for (control, target), status in statuses(run).items() if target == BOX}


# -- real sshd -T --------------------------------------------------------------------


@pytest.mark.integration
def test_hardened_config_passes_every_control(tmp_path: Path, sshd: str) -> None:
    run = ssh_run(tmp_path, HARDENED)

    assert ssh_statuses(run) == dict.fromkeys(SSH_CONTROLS, "pass")
    v = verdicts(run)
    assert v[("ACCESS-SSH-ROOT-LOGIN", BOX)].message == "PermitRootLogin is no"
    assert v[("ACCESS-SSH-MAX-AUTH-TRIES", BOX)].message == "MaxAuthTries is 3 (at most 4)"
    assert v[("ACCESS-SSH-CRYPTO", BOX)].details["offered"]["macs"] == ["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com"]


@pytest.mark.integration
def test_weak_config_fails_every_control(tmp_path: Path, sshd: str) -> None:
    run = ssh_run(tmp_path, WEAK)

    assert ssh_statuses(run) == dict.fromkeys(SSH_CONTROLS, "fail")
    v = verdicts(run)
    assert v[("ACCESS-SSH-ROOT-LOGIN", BOX)].message == "PermitRootLogin is yes; the policy accepts only no"
    assert v[("ACCESS-SSH-PASSWORD-AUTH", BOX)].message == "PasswordAuthentication is yes; it must be no"
    # Not set in the file: OpenSSH's default (yes) is what sshd -T reports and what is judged.
    assert v[("ACCESS-SSH-KBD-INTERACTIVE", BOX)].message == "KbdInteractiveAuthentication is yes; it must be no"
    assert v[("ACCESS-SSH-EMPTY-PASSWORDS", BOX)].message == "PermitEmptyPasswords is yes; it must be no"
    assert v[("ACCESS-SSH-MAX-AUTH-TRIES", BOX)].message == "MaxAuthTries is 10; the policy allows at most 4"
    crypto = v[("ACCESS-SSH-CRYPTO", BOX)]
    assert crypto.details["not_allowed"] == {"ciphers": ["aes128-cbc", "3des-cbc"], "macs": ["hmac-sha1"], "kexalgorithms": ["diffie-hellman-group14-sha1"]}
    assert "aes128-cbc" in crypto.message and "hmac-sha1" in crypto.message


@pytest.mark.integration
def test_prohibit_password_root_login_follows_the_policy(tmp_path: Path, sshd: str) -> None:
    body = HARDENED.replace("PermitRootLogin no", "PermitRootLogin prohibit-password")
    config = write_config(tmp_path, body)
    policy = tmp_path / "policy.yaml"
    policy.write_text('id: keys-ok\ntitle: Root by key\nextends: baseline-eu\nparameters:\n  ssh_root_login_allowed: ["no", prohibit-password]\n', encoding="utf-8")

    strict = audit(inventory(tmp_path, config), only=["ACCESS-SSH-ROOT-LOGIN"])
    lenient = audit(inventory(tmp_path, config), policy=str(policy), only=["ACCESS-SSH-ROOT-LOGIN"])

    assert ssh_statuses(strict) == {"ACCESS-SSH-ROOT-LOGIN": "fail"}
    assert ssh_statuses(lenient) == {"ACCESS-SSH-ROOT-LOGIN": "pass"}


@pytest.mark.integration
def test_evidence_is_the_sshd_argv_and_its_output(tmp_path: Path, sshd: str) -> None:
    config = write_config(tmp_path, HARDENED)
    run = audit(inventory(tmp_path, config), only=["ACCESS-SSH-ROOT-LOGIN"])

    fact = next(f for f in run.facts if f.name == "sshd.effective_config")
    assert fact.status == "ok"
    assert fact.evidence[-1].argv[1:] == ("-T", "-f", config)
    assert os.path.basename(fact.evidence[-1].argv[0]) == "sshd"
    assert "permitrootlogin no" in fact.evidence[-1].excerpt
    assert fact.value["permitrootlogin"] == ["no"]


@pytest.mark.integration
def test_missing_config_file_is_an_error(tmp_path: Path, sshd: str) -> None:
    missing = str(tmp_path / "no-such-sshd_config")

    run = audit(inventory(tmp_path, missing), only=["ACCESS-SSH-*"])

    for control in SSH_CONTROLS:
        finding = verdicts(run)[(control, BOX)]
        assert (finding.status.value, finding.reason) == ("error", "command_failed"), control
        assert missing in finding.message


@pytest.mark.integration
def test_invalid_config_is_an_error(tmp_path: Path, sshd: str) -> None:
    run = ssh_run(tmp_path, HARDENED + "NoSuchKeyword yes\n")

    assert ssh_statuses(run) == dict.fromkeys(SSH_CONTROLS, "error")
    assert "NoSuchKeyword" in verdicts(run)[("ACCESS-SSH-ROOT-LOGIN", BOX)].message


@pytest.mark.integration
def test_unreadable_host_key_is_permission_denied(world_dir: str, sshd: str) -> None:
    """As an unprivileged user sshd -T cannot read the host key: error, never pass."""
    config = write_config(world_dir, HARDENED)

    _, findings = audit_through(inventory(world_dir, config), RunAsUser("nobody"), only=["ACCESS-SSH-*"])

    for control in SSH_CONTROLS:
        finding = findings[(control, BOX)]
        assert (finding.status.value, finding.reason) == ("error", "permission_denied"), control
        assert "run as root or set sudo: true" in finding.message


@pytest.mark.integration
@pytest.mark.parametrize("namespace", [True, False], ids=["empty-usr-sbin", "empty-chroot"])
def test_sshd_not_installed_is_skipped(tmp_path: Path, sshd: str, namespace: bool) -> None:
    """sshd hidden for real: the commands run where no sshd exists (a mount namespace with an
    empty /usr/sbin, or a chroot into an empty directory)."""
    config = write_config(tmp_path, HARDENED)
    empty = tmp_path / "empty-root"
    empty.mkdir()
    conn = HiddenSbin(str(empty), namespace=namespace)

    facts, findings = audit_through(inventory(tmp_path, config), conn, only=["ACCESS-SSH-*"])

    for control in SSH_CONTROLS:
        finding = findings[(control, BOX)]
        assert (finding.status.value, finding.reason) == ("skipped", "not_applicable"), control
        assert "sshd is not installed" in finding.message, conn.how
    assert facts[f"{BOX}/sshd.effective_config"].status == "skipped"


# -- parse_sshd_t and the evaluators on recorded output ------------------------------------

RECORDED = """\
port 22
addressfamily any
listenaddress [::]:22
listenaddress 0.0.0.0:22
PermitRootLogin without-password
maxauthtries 6
ciphers chacha20-poly1305@openssh.com,aes128-ctr
subsystem sftp /usr/lib/openssh/sftp-server -f AUTHPRIV
# not a setting

authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2
"""


def test_parse_sshd_t_recorded_output() -> None:
    config = parse_sshd_t(RECORDED)

    assert config["listenaddress"] == ["[::]:22", "0.0.0.0:22"]
    assert config["permitrootlogin"] == ["without-password"]
    assert config["maxauthtries"] == ["6"]
    assert config["ciphers"] == ["chacha20-poly1305@openssh.com,aes128-ctr"]
    assert config["subsystem"] == ["sftp /usr/lib/openssh/sftp-server -f AUTHPRIV"]
    assert config["authorizedkeysfile"] == [".ssh/authorized_keys .ssh/authorized_keys2"]
    assert "#" not in config and "" not in config
    assert parse_sshd_t("") == {}


def evaluate(control_id: str, text: str):
    """One control's evaluator on recorded sshd -T text, with baseline defaults."""
    from helpers import registry

    reg = registry()
    ctl = reg.controls[control_id]
    params = {p: reg.parameters[p].default for p in ctl.info.params}
    return ctl.evaluate({"sshd.effective_config": parse_sshd_t(text)}, params, None)


def test_kbd_interactive_falls_back_to_challenge_response() -> None:
    assert evaluate("ACCESS-SSH-KBD-INTERACTIVE", "permitrootlogin no\nchallengeresponseauthentication no\n").status.value == "pass"
    assert evaluate("ACCESS-SSH-KBD-INTERACTIVE", "permitrootlogin no\nchallengeresponseauthentication yes\n").status.value == "fail"


def test_settings_sshd_does_not_report_are_unverified_not_passed() -> None:
    text = "permitrootlogin no\n"
    for control in ("ACCESS-SSH-PASSWORD-AUTH", "ACCESS-SSH-KBD-INTERACTIVE", "ACCESS-SSH-EMPTY-PASSWORDS", "ACCESS-SSH-MAX-AUTH-TRIES", "ACCESS-SSH-CRYPTO"):
        outcome = evaluate(control, text)
        assert (outcome.status.value, outcome.reason) == ("error", "incomplete_evidence"), control


def test_max_auth_tries_that_is_not_a_number_fails() -> None:
    outcome = evaluate("ACCESS-SSH-MAX-AUTH-TRIES", "permitrootlogin no\nmaxauthtries lots\n")
    assert outcome.status.value == "fail"


def test_crypto_ignores_strict_kex_markers_and_flags_weak_algorithms() -> None:
    text = (
        "ciphers aes256-gcm@openssh.com\nmacs hmac-sha2-256-etm@openssh.com\n"
        "kexalgorithms curve25519-sha256,kex-strict-s-v00@openssh.com,ext-info-s\n"
    )
    assert evaluate("ACCESS-SSH-CRYPTO", text).status.value == "pass"
    weak = evaluate("ACCESS-SSH-CRYPTO", text.replace("aes256-gcm@openssh.com", "aes256-gcm@openssh.com,arcfour"))
    assert weak.status.value == "fail"
    assert weak.details["not_allowed"] == {"ciphers": ["arcfour"]}


def test_crypto_with_a_weak_cipher_fails_even_if_another_list_is_missing() -> None:
    outcome = evaluate("ACCESS-SSH-CRYPTO", "ciphers aes128-cbc\nkexalgorithms curve25519-sha256\n")
    assert outcome.status.value == "fail"
    assert outcome.details["not_allowed"] == {"ciphers": ["aes128-cbc"]}


@pytest.mark.parametrize("printed", ["without-password", "prohibit-password"])
def test_without_password_is_prohibit_password(printed: str) -> None:
    """sshd -T of OpenSSH 9.2 prints the old alias; a policy naming either spelling must accept it."""
    from helpers import registry

    ctl = registry().controls["ACCESS-SSH-ROOT-LOGIN"]
    facts = {"sshd.effective_config": parse_sshd_t(f"permitrootlogin {printed}\n")}
    for allowed in (["no", "prohibit-password"], ["no", "without-password"]):
        outcome = ctl.evaluate(facts, {"ssh_root_login_allowed": allowed}, None)
        assert (outcome.status.value, outcome.message) == ("pass", "PermitRootLogin is prohibit-password")
    assert ctl.evaluate(facts, {"ssh_root_login_allowed": ["no"]}, None).status.value == "fail"


def test_root_login_message_names_each_accepted_setting_once() -> None:
    """A policy listing both spellings of one setting: the message and details name it once."""
    from helpers import registry

    ctl = registry().controls["ACCESS-SSH-ROOT-LOGIN"]
    facts = {"sshd.effective_config": parse_sshd_t("permitrootlogin yes\n")}
    outcome = ctl.evaluate(facts, {"ssh_root_login_allowed": ["no", "prohibit-password", "without-password", "No"]}, None)
    assert (outcome.status.value, outcome.message) == ("fail", "PermitRootLogin is yes; the policy accepts only no, prohibit-password")
    assert outcome.details["allowed"] == ["no", "prohibit-password"]


# -- root_dir: an image's sshd_config, never this machine's sshd ------------------------


def image(folder: Path, files: dict[str, str]) -> str:
    """A fake image root: ``files`` maps paths inside it (etc/ssh/sshd_config...) to their text."""
    root = folder / "image"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return str(root)


def image_inventory(folder: Path, root: str, **settings: object) -> str:
    path = os.path.join(str(folder), "inventory.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "servers": [{"name": "box", "connection": "local", "root_dir": root, **settings}]}, fh)
    return path


def image_run(folder: Path, root: str, policy: str = "baseline-eu", **settings: object) -> Run:
    return audit(image_inventory(folder, root, **settings), policy=policy, only=["ACCESS-SSH-*"])


def _live_sshd_t(sshd: str) -> dict[str, list[str]]:
    import subprocess

    return parse_sshd_t(subprocess.run([sshd, "-T"], capture_output=True, text=True, check=True).stdout)


@pytest.mark.integration
def test_image_with_permit_empty_passwords_yes_fails_whatever_this_machines_sshd_says(tmp_path: Path, sshd: str) -> None:
    """Issue 12: the image said PermitEmptyPasswords yes, this machine's sshd -T said no, the report said pass (exit 0)."""
    assert _live_sshd_t(sshd)["permitemptypasswords"] == ["no"], "the rig: this machine's own sshd must disagree with the image"
    root = image(tmp_path, {"etc/ssh/sshd_config": HARDENED.replace("PermitEmptyPasswords no", "PermitEmptyPasswords yes")})
    from auditor.cli import main

    code = main(["run", image_inventory(tmp_path, root), "--out", str(tmp_path / "reports"), "--only", "ACCESS-SSH-EMPTY-PASSWORDS", "-q"])
    run = image_run(tmp_path, root)

    assert code == 1
    finding = verdicts(run)[("ACCESS-SSH-EMPTY-PASSWORDS", BOX)]
    assert finding.status.value == "fail"
    assert finding.message == f"PermitEmptyPasswords is yes ({root}/etc/ssh/sshd_config:4); it must be no"
    fact = next(f for f in run.facts if f.name == "sshd.effective_config")
    assert all("sshd" != os.path.basename(e.argv[0]) for e in fact.evidence if e.argv), "sshd -T must never run for a root_dir server"
    assert [e.source for e in fact.evidence if e.kind == "file"] == [f"{root}/etc/ssh/sshd_config"]
    assert ssh_statuses(run) == {**dict.fromkeys(SSH_CONTROLS, "pass"), "ACCESS-SSH-EMPTY-PASSWORDS": "fail"}


@pytest.mark.integration
def test_includes_are_resolved_inside_root_dir(tmp_path: Path, sshd: str) -> None:
    """Absolute, relative and glob Includes name files inside the image; a path that exists only on this machine is not read."""
    outside = tmp_path / "live-only.conf"
    outside.write_text("PermitRootLogin yes\nPermitEmptyPasswords yes\n", encoding="utf-8")
    root = image(tmp_path, {
        "etc/ssh/sshd_config": f"Include {outside}\nInclude /etc/ssh/sshd_config.d/*.conf\nInclude local/*.conf\n"
                               "PasswordAuthentication yes\nPermitRootLogin yes\n",
        "etc/ssh/sshd_config.d/20-late.conf": "PasswordAuthentication yes\nMaxAuthTries 9\n",
        "etc/ssh/sshd_config.d/10-early.conf": "PasswordAuthentication no\n",
        "etc/ssh/sshd_config.d/.hidden.conf": "MaxAuthTries 1\n",
        "etc/ssh/sshd_config.d/README": "not a configuration file at all\n",
        "etc/ssh/local/root.conf": "PermitRootLogin no\n",
    })

    run = image_run(tmp_path, root)

    v = verdicts(run)
    # first value obtained wins: 10-early.conf before 20-late.conf before the main file's own lines
    assert v[("ACCESS-SSH-PASSWORD-AUTH", BOX)].message == f"PasswordAuthentication is no ({root}/etc/ssh/sshd_config.d/10-early.conf:1)"
    assert v[("ACCESS-SSH-ROOT-LOGIN", BOX)].message == f"PermitRootLogin is no ({root}/etc/ssh/local/root.conf:1)"
    assert v[("ACCESS-SSH-MAX-AUTH-TRIES", BOX)].status.value == "fail" and "20-late.conf:2" in v[("ACCESS-SSH-MAX-AUTH-TRIES", BOX)].message
    assert v[("ACCESS-SSH-EMPTY-PASSWORDS", BOX)].status.value == "pass"  # unset in the image: OpenSSH's default, no
    meta = next(f for f in run.facts if f.name == "sshd.effective_config").value["#config"]
    assert meta["files"] == [f"{root}/etc/ssh/sshd_config", f"{root}/etc/ssh/sshd_config.d/10-early.conf",
                             f"{root}/etc/ssh/sshd_config.d/20-late.conf", f"{root}/etc/ssh/local/root.conf"]
    assert meta["unmatched_includes"] == [{"include": f"{root}{outside}", "where": f"{root}/etc/ssh/sshd_config:1"}]


@pytest.mark.integration
def test_a_match_block_can_fail_a_control(tmp_path: Path) -> None:
    root = image(tmp_path, {
        "etc/ssh/sshd_config": "PermitRootLogin no\nInclude /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n",
        "etc/ssh/sshd_config.d/50-admins.conf": "Match Group admins\n  PasswordAuthentication yes\n",
    })

    finding = verdicts(image_run(tmp_path, root))[("ACCESS-SSH-PASSWORD-AUTH", BOX)]

    assert finding.status.value == "fail"
    assert finding.message == (f"PasswordAuthentication is yes ({root}/etc/ssh/sshd_config.d/50-admins.conf:2, in Match Group admins of "
                               f"{root}/etc/ssh/sshd_config.d/50-admins.conf:1); it must be no")


@pytest.mark.integration
def test_a_default_that_depends_on_the_openssh_version_is_not_guessed(tmp_path: Path) -> None:
    """PermitRootLogin unset: prohibit-password since OpenSSH 7.0, yes before; the image's sshd is not run to ask."""
    root = image(tmp_path, {"etc/ssh/sshd_config": "PasswordAuthentication no\n"})
    policy = tmp_path / "policy.yaml"
    policy.write_text('id: keys-ok\ntitle: Root by key\nextends: baseline-eu\nparameters:\n  ssh_root_login_allowed: ["no", prohibit-password]\n', encoding="utf-8")

    strict = verdicts(image_run(tmp_path, root))[("ACCESS-SSH-ROOT-LOGIN", BOX)]
    lenient = verdicts(image_run(tmp_path, root, policy=str(policy)))[("ACCESS-SSH-ROOT-LOGIN", BOX)]

    assert strict.status.value == "fail"  # neither default is "no"
    assert (lenient.status.value, lenient.reason) == ("error", "incomplete_evidence")
    assert "prohibit-password or yes" in lenient.message


@pytest.mark.integration
def test_crypto_lists_not_set_or_changing_the_default_are_unverified_unless_weak(tmp_path: Path) -> None:
    root = image(tmp_path, {"etc/ssh/sshd_config": HARDENED.replace("Ciphers ", "Ciphers +")})
    finding = verdicts(image_run(tmp_path, root))[("ACCESS-SSH-CRYPTO", BOX)]
    assert (finding.status.value, finding.reason) == ("error", "incomplete_evidence") and "changes the default list" in finding.message

    weak = image(tmp_path / "weak", {"etc/ssh/sshd_config": "Ciphers +aes128-cbc\n"})
    finding = verdicts(image_run(tmp_path / "weak", weak))[("ACCESS-SSH-CRYPTO", BOX)]
    assert finding.status.value == "fail" and finding.details["not_allowed"] == {"ciphers": ["aes128-cbc"]}


@pytest.mark.integration
def test_image_without_sshd_config_is_skipped_and_a_declared_one_missing_is_an_error(tmp_path: Path) -> None:
    root = image(tmp_path, {"etc/hostname": "image\n"})

    plain = verdicts(image_run(tmp_path, root))
    declared = verdicts(image_run(tmp_path, root, sshd_config="/etc/ssh/sshd_config.custom"))

    for control in SSH_CONTROLS:
        assert (plain[(control, BOX)].status.value, plain[(control, BOX)].reason) == ("skipped", "not_applicable"), control
        assert f"{root}/etc/ssh/sshd_config does not exist" in plain[(control, BOX)].message
        assert (declared[(control, BOX)].status.value, declared[(control, BOX)].reason) == ("error", "not_found"), control
        assert f"{root}/etc/ssh/sshd_config.custom" in declared[(control, BOX)].message


@pytest.mark.integration
def test_image_config_that_sshd_would_refuse_is_an_error_with_file_and_line(tmp_path: Path) -> None:
    root = image(tmp_path, {"etc/ssh/sshd_config": 'PermitRootLogin no\nBanner "/etc/issue\n'})

    finding = verdicts(image_run(tmp_path, root))[("ACCESS-SSH-ROOT-LOGIN", BOX)]

    assert (finding.status.value, finding.reason) == ("error", "parse_error")
    assert f"{root}/etc/ssh/sshd_config:2: unbalanced quote" in finding.message


# -- the file parser on recorded text ------------------------------------------------------

DEBIAN_12 = """\
# This is the sshd server system-wide configuration file.  See sshd_config(5) for more information.
Include /etc/ssh/sshd_config.d/*.conf

#PermitRootLogin prohibit-password
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
AcceptEnv XMODIFIERS
Subsystem\tsftp\t/usr/lib/openssh/sftp-server
"""


def test_parse_sshd_files_recorded_debian_config() -> None:
    from checks.sshd_files import parse_sshd_files

    dropin = "/img/etc/ssh/sshd_config.d/50-cloud-init.conf"
    texts = {dropin: "PasswordAuthentication no\nChallengeResponseAuthentication yes  # comment\n"}
    parsed = parse_sshd_files("/img/etc/ssh/sshd_config", DEBIAN_12, lambda p: [dropin] if p == "/img/etc/ssh/sshd_config.d/*.conf" else [], texts.get, "/img")

    assert parsed["passwordauthentication"] == ["no"]
    assert parsed["kbdinteractiveauthentication"] == ["yes"]  # the alias, obtained first (in the include), wins
    assert parsed["acceptenv"] == ["LANG LC_*", "XMODIFIERS"]
    assert parsed["subsystem"] == ["sftp /usr/lib/openssh/sftp-server"]
    assert "permitrootlogin" not in parsed
    assert parsed["#config"]["where"]["kbdinteractiveauthentication"] == f"{dropin}:2"


@pytest.mark.parametrize("line, expected", [
    ("PermitRootLogin=no", ("permitrootlogin", ["no"])),
    ("  MaxAuthTries = 3", ("maxauthtries", ["3"])),
    ('Banner "/etc/my issue" # trailing', ("banner", ["/etc/my issue"])),
    ("Ciphers aes256-ctr#notacomment", ("ciphers", ["aes256-ctr#notacomment"])),
    ("# PermitRootLogin yes", None),
    ("", None),
])
def test_split_line(line: str, expected: object) -> None:
    from checks.sshd_files import split_line

    assert split_line(line, "f:1") == expected


@pytest.mark.parametrize("line", ["PermitRootLogin", 'Banner "/x', "=yes", "Permit-Root no"])
def test_split_line_refuses_what_sshd_refuses(line: str) -> None:
    from auditor.errors import CollectError
    from checks.sshd_files import split_line

    with pytest.raises(CollectError) as caught:
        split_line(line, "/img/etc/ssh/sshd_config:7")
    assert caught.value.message.startswith("/img/etc/ssh/sshd_config:7: ")


def test_match_block_in_an_included_file_ends_with_it() -> None:
    from checks.sshd_files import parse_sshd_files

    texts = {"/i/a.conf": "Match User bob\nPasswordAuthentication yes\n"}
    parsed = parse_sshd_files("/main", "Include /i/a.conf\nPasswordAuthentication no\nMatch Address 10.0.0.0/8\nInclude /i/a.conf\nMaxAuthTries 2\n",
                              lambda p: [p], texts.get)

    assert parsed["passwordauthentication"] == ["no"]  # after the included Match block: global again
    blocks = parsed["#config"]["match"]
    assert [(b["criteria"], b["settings"]) for b in blocks] == [
        ("User bob", {"passwordauthentication": ["yes"]}),
        ("Address 10.0.0.0/8", {"maxauthtries": ["2"]}),
        ("User bob", {"passwordauthentication": ["yes"]}),
    ]


def test_include_recursion_is_an_error() -> None:
    from auditor.errors import CollectError
    from checks.sshd_files import parse_sshd_files

    with pytest.raises(CollectError, match="deeper than 16"):
        parse_sshd_files("/main", "Include /main\n", lambda p: [p], lambda p: "Include /main\n")
