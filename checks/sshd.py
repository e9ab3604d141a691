"""Access: the SSH daemon's effective settings (``sshd -T``).

``sshd -T`` prints the configuration sshd would actually use, after
includes and defaults, so we judge what is in force, not what a file says.

>>> parse_sshd_t("permitrootlogin no\\nciphers aes128-ctr,aes256-ctr\\n")["ciphers"]
['aes128-ctr,aes256-ctr']
"""

from __future__ import annotations

from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, collector, control, failed, parameter, passed, unverified

SSHD_CANDIDATES = ("sshd", "/usr/sbin/sshd", "/usr/local/sbin/sshd")

root_login_allowed = parameter(
    "ssh_root_login_allowed", list, ["no"],
    "Values of PermitRootLogin that are acceptable (e.g. add prohibit-password to allow key-only root login).",
)
max_auth_tries = parameter("ssh_max_auth_tries", int, 4, "Highest MaxAuthTries accepted.")
allowed_ciphers = parameter(
    "ssh_allowed_ciphers", list,
    ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr"],
    "SSH ciphers sshd may offer.",
)
allowed_macs = parameter(
    "ssh_allowed_macs", list,
    ["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-512", "hmac-sha2-256", "umac-128@openssh.com"],
    "SSH MACs sshd may offer.",
)
allowed_kex = parameter(
    "ssh_allowed_kex", list,
    [
        "mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256", "curve25519-sha256@libssh.org",
        "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256",
    ],
    "SSH key-exchange algorithms sshd may offer.",
)


def parse_sshd_t(text: str) -> dict[str, list[str]]:
    """``sshd -T`` output → lower-case keyword → values (repeated keywords keep every value)."""
    config: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        config.setdefault(key.lower(), []).append(value.strip())
    return config


def sshd_argv(target: Target) -> list[str]:
    extra = ["-f", str(target.get("sshd_config"))] if target.get("sshd_config") else []
    return ["sshd", "-T", *extra]


@collector("sshd.effective_config", kinds=("server",), timeout=20, sudo_commands=lambda t, h: [sshd_argv(t)])
def sshd_effective_config(ctx: Context) -> dict[str, Any]:
    argv = sshd_argv(ctx.target)
    # Through sudo, `sshd` is found on sudo's secure_path; without sudo, look where sshd usually is.
    programs = ("sshd",) if ctx.host.get("sudo") else SSHD_CANDIDATES
    for program in programs:
        try:
            result = ctx.run([program, *argv[1:]], ok=(0, 1, 255))
        except CollectError as exc:
            if exc.reason is Reason.NOT_FOUND:
                continue
            raise
        if result.exit_status != 0 and result.argv[:1] == ("sudo",) and result.error_text.lower().rstrip().endswith("command not found"):
            continue
        break
    else:
        raise NotApplicable("sshd is not installed on this server (looked for " + ", ".join(programs) + ")")
    if result.exit_status != 0:
        err = result.error_text
        if "no hostkeys available" in err or "Permission denied" in err:
            raise CollectError(Reason.PERMISSION_DENIED, f"`{result.display}` needs to read the host keys: run as root or set sudo: true ({err.splitlines()[0] if err else 'no output'})")
        raise CollectError(Reason.COMMAND_FAILED, f"`{result.display}` failed with status {result.exit_status}: {err.splitlines()[0] if err else 'no output'}")
    config = parse_sshd_t(result.text)
    if "permitrootlogin" not in config:
        raise CollectError(Reason.PARSE_ERROR, f"`{result.display}` printed no PermitRootLogin line; not an OpenSSH effective configuration")
    return config


def _one(config: Mapping[str, list[str]], key: str) -> str | None:
    values = config.get(key)
    return values[0].lower() if values else None


def _root_login_name(value: str | None) -> str | None:
    # sshd -T (OpenSSH <= 9.x) prints the deprecated alias without-password
    # for prohibit-password: they are one setting under two names.
    return "prohibit-password" if value == "without-password" else value


_COMMON = dict(family="access", kinds=("server",), facts=("sshd.effective_config",))
_REFS = ("GDPR Art. 32(1)(b)", "CIS Distribution Independent Linux 5.2", "Mozilla OpenSSH guidelines")


@control(
    "ACCESS-SSH-ROOT-LOGIN", **_COMMON, severity="high", params=("ssh_root_login_allowed",), references=_REFS,
    title="SSH does not allow root to log in",
    rationale="Direct root logins leave no trace of which administrator acted and give an attacker the highest privileges in one step; "
    "privacy policies promising strongly restricted access need personal accounts and sudo.",
)
def ssh_root_login(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    value = _root_login_name(_one(facts["sshd.effective_config"], "permitrootlogin"))
    allowed = [_root_login_name(str(v).lower()) for v in params["ssh_root_login_allowed"]]
    if value in allowed:
        return passed(f"PermitRootLogin is {value}", permitrootlogin=value, allowed=allowed)
    return failed(f"PermitRootLogin is {value}; the policy accepts only {', '.join(allowed)}", permitrootlogin=value, allowed=allowed)


def _must_be_no(key: str, label: str, *older_names: str) -> Any:
    def evaluate(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
        config = facts["sshd.effective_config"]
        value = next((v for k in (key, *older_names) if (v := _one(config, k)) is not None), None)
        if value is None:
            return unverified(f"sshd -T does not report {label}; it cannot be confirmed off", **{key: None})
        if value == "no":
            return passed(f"{label} is no", **{key: value})
        return failed(f"{label} is {value}; it must be no", **{key: value})

    return evaluate


ssh_password_auth = control(
    "ACCESS-SSH-PASSWORD-AUTH", **_COMMON, severity="high", references=_REFS,
    title="SSH does not accept password logins",
    rationale="Passwords can be guessed or phished; key-based logins resist brute force against servers holding personal data.",
)(_must_be_no("passwordauthentication", "PasswordAuthentication"))

ssh_kbd_interactive = control(
    "ACCESS-SSH-KBD-INTERACTIVE", **_COMMON, severity="medium", references=_REFS,
    title="SSH does not accept keyboard-interactive logins",
    rationale="Keyboard-interactive authentication usually asks for the same password through PAM, re-opening the door PasswordAuthentication closes.",
)(_must_be_no("kbdinteractiveauthentication", "KbdInteractiveAuthentication", "challengeresponseauthentication"))

ssh_empty_passwords = control(
    "ACCESS-SSH-EMPTY-PASSWORDS", **_COMMON, severity="critical", references=_REFS,
    title="SSH refuses accounts with empty passwords",
    rationale="With PermitEmptyPasswords an account without a password can be entered by anyone who can reach the port.",
)(_must_be_no("permitemptypasswords", "PermitEmptyPasswords"))


@control(
    "ACCESS-SSH-MAX-AUTH-TRIES", **_COMMON, severity="low", params=("ssh_max_auth_tries",), references=_REFS,
    title="SSH limits authentication attempts per connection",
    rationale="A low MaxAuthTries slows down password and key guessing on each connection.",
)
def ssh_max_auth_tries(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    raw = _one(facts["sshd.effective_config"], "maxauthtries")
    limit = params["ssh_max_auth_tries"]
    if raw is None:
        return unverified("sshd -T does not report MaxAuthTries; the limit cannot be confirmed", maxauthtries=None, limit=limit)
    try:
        value = int(raw or "")
    except ValueError:
        return failed(f"MaxAuthTries is {raw!r}, not a number", maxauthtries=raw)
    if value <= limit:
        return passed(f"MaxAuthTries is {value} (at most {limit})", maxauthtries=value, limit=limit)
    return failed(f"MaxAuthTries is {value}; the policy allows at most {limit}", maxauthtries=value, limit=limit)


def _algorithms(config: Mapping[str, list[str]], key: str) -> list[str]:
    out: list[str] = []
    for value in config.get(key, []):
        out.extend(a for a in value.split(",") if a)
    return out


@control(
    "ACCESS-SSH-CRYPTO", **_COMMON, severity="medium", params=("ssh_allowed_ciphers", "ssh_allowed_macs", "ssh_allowed_kex"),
    references=("GDPR Art. 32(1)(a)", "Mozilla OpenSSH guidelines (modern)", "ssh-audit policy"),
    title="SSH offers only strong ciphers, MACs and key exchanges",
    rationale="Administrative sessions carry passwords and personal data; CBC ciphers, SHA-1 MACs and weak key exchanges weaken that encryption in transit.",
)
def ssh_crypto(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    config = facts["sshd.effective_config"]
    weak: dict[str, list[str]] = {}
    for key, param in (("ciphers", "ssh_allowed_ciphers"), ("macs", "ssh_allowed_macs"), ("kexalgorithms", "ssh_allowed_kex")):
        allowed = set(params[param])
        bad = [a for a in _algorithms(config, key) if a not in allowed and not a.startswith(("ext-info-", "kex-strict-"))]
        if bad:
            weak[key] = bad
    offered = {k: _algorithms(config, k) for k in ("ciphers", "macs", "kexalgorithms")}
    if weak:
        listing = "; ".join(f"{k}: {', '.join(v)}" for k, v in weak.items())
        return failed(f"sshd offers algorithms outside the policy's allowlist ({listing})", not_allowed=weak, offered=offered)
    if not all(offered.values()):
        missing = [k for k, v in offered.items() if not v]
        return unverified(f"sshd -T listed no {', '.join(missing)}; cannot confirm strong algorithms", offered=offered)
    return passed("sshd offers only allowlisted ciphers, MACs and key exchanges", offered=offered)
