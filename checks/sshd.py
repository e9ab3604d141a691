"""Access: the SSH daemon's effective settings (``sshd -T``).

``sshd -T`` prints the configuration sshd would actually use, after
includes and defaults, so we judge what is in force, not what a file says.

A server audited through ``root_dir`` (an image, a container root) is never
judged by this machine's sshd: its sshd_config and every file it includes
are read under root_dir and parsed (checks/sshd_files.py). The fact then
holds only what the files set (and ``#config``: where each value comes
from, the Match blocks); a setting they leave unset is judged by OpenSSH's
default only where every OpenSSH version agrees on it, and is otherwise
unverified. Every Match block's value is judged too (any of them may apply).

>>> parse_sshd_t("permitrootlogin no\\nciphers aes128-ctr,aes256-ctr\\n")["ciphers"]
['aes128-ctr,aes256-ctr']
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from auditor.collect import Context, command_error, rooted
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, Text, collector, control, failed, parameter, passed, sv, unverified
from auditor.shellreads import Reads
from checks.sshd_files import META, glob_matches, has_glob, parse_sshd_files

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


DEFAULT_CONFIG = "/etc/ssh/sshd_config"
DROPIN_DIR = "/etc/ssh/sshd_config.d"  # where Debian, Ubuntu, Fedora and SUSE include from
_MISSING = ("No such file or directory", "Not a directory")


def _main_config(target: Target) -> str:
    """The sshd_config to judge; under root_dir, a path inside the image."""
    return str(target.get("sshd_config") or DEFAULT_CONFIG)


def _through_root_dir(host: Target) -> bool:
    return bool(rooted(host, ""))  # root_dir: / is this machine's own root


def _sshd_reads(target: Target, host: Target) -> Reads:
    if not _through_root_dir(host):
        return Reads()
    return Reads(files=(rooted(host, _main_config(target)),), dirs=(rooted(host, DROPIN_DIR),))


@collector("sshd.effective_config", kinds=("server",), timeout=20, reads=_sshd_reads,
           sudo_commands=lambda t, h: [] if _through_root_dir(h) else [sshd_argv(t)])
def sshd_effective_config(ctx: Context) -> dict[str, Any]:
    if _through_root_dir(ctx.host):
        return config_from_files(ctx)
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


def config_from_files(ctx: Context) -> dict[str, Any]:
    """sshd's settings from the files under root_dir (never from this machine's sshd)."""
    root = ctx.rooted("")
    main = ctx.rooted(_main_config(ctx.target))
    text = ctx.reads.file(ctx, main)
    if text is None:
        if ctx.target.get("sshd_config"):
            raise CollectError(Reason.NOT_FOUND, f"the declared sshd_config {main} does not exist under root_dir {root}")
        raise NotApplicable(f"{main} does not exist: sshd is not configured under root_dir {root}")
    dropins = rooted(ctx.host, DROPIN_DIR)
    folders: dict[str, dict[str, dict[str, Any]] | None] = {}
    contents: dict[str, str] = {}

    def folder(path: str) -> dict[str, dict[str, Any]] | None:
        if path not in folders:
            if path == dropins:
                entries = ctx.reads.folder_files(ctx, path)
                readable = [e for e in entries or [] if e["type"] == "f" or (e["type"] == "l" and e.get("target_type") == "f")]
                contents.update(ctx.reads.read_folder_files(ctx, path, readable) if readable else {})
                folders[path] = None if entries is None else {posixpath.basename(e["path"]): e for e in readable}
            else:
                folders[path] = _list_folder(ctx, path)
        return folders[path]

    def expand(pattern: str) -> list[str]:
        parent, name = posixpath.split(pattern)
        if has_glob(parent):
            raise CollectError(Reason.PARSE_ERROR, f"Include {pattern[len(root):]}: a wildcard in a folder name is not followed under root_dir; the settings cannot be established")
        if not has_glob(name):
            return [pattern]  # read() says whether it exists
        names = folder(parent)
        return [posixpath.join(parent, n) for n in glob_matches(name, list(names or {}))]

    def read(path: str) -> str | None:
        if path == main:
            return text
        if path in contents:
            return contents[path]
        return _read_file(ctx, path)

    config = parse_sshd_files(main, text, expand, read, root)
    return config


def _list_folder(ctx: Context, path: str) -> dict[str, dict[str, Any]] | None:
    """Files directly in a folder outside the planned reads (None when it does not exist)."""
    result = ctx.run(["find", "-L", path, "-mindepth", "1", "-maxdepth", "1", "-type", "f", "-printf", "%f\\0"], ok=(0, 1))
    if result.exit_status != 0:
        if any(m in result.error_text for m in _MISSING) and "ermission denied" not in result.error_text:
            return None
        raise command_error(result)
    return {name: {"type": "f", "path": posixpath.join(path, name)} for name in result.text.split("\0") if name}


def _read_file(ctx: Context, path: str) -> str | None:
    """A file outside the planned reads (None when it does not exist)."""
    result = ctx.run(["cat", "--", path], ok=(0, 1))
    if result.exit_status == 0:
        return result.text
    if any(m in result.error_text for m in _MISSING) and "ermission denied" not in result.error_text:
        return None
    raise command_error(result)


def _one(config: Mapping[str, Any], key: str) -> str | None:
    values = config.get(key)
    return values[0].lower() if values else None


def _root_login_name(value: str | None) -> str | None:
    # sshd -T (OpenSSH <= 9.x) prints the deprecated alias without-password
    # for prohibit-password: they are one setting under two names.
    return "prohibit-password" if value == "without-password" else value


# OpenSSH's default for a keyword the files under root_dir leave unset: every
# value a release still in use may have (the image's sshd is never run to ask).
FILE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "permitemptypasswords": ("no",),
    "passwordauthentication": ("yes",),
    "kbdinteractiveauthentication": ("yes",),
    "maxauthtries": ("6",),
    "permitrootlogin": ("prohibit-password", "yes"),  # prohibit-password since OpenSSH 7.0, yes before
}


@dataclass(frozen=True)
class Candidate:
    """A value a setting may have for some connection, and where it comes from ("" for sshd -T)."""

    value: str
    where: str = ""
    certain: bool = True  # False: one of several defaults, depending on the OpenSSH version


def _source(config: Mapping[str, Any]) -> str:
    meta = config.get(META)
    return "sshd -T" if meta is None else f"the sshd configuration under root_dir {meta['root_dir']}"


def candidates(config: Mapping[str, Any], key: str, *older_names: str) -> list[Candidate]:
    """The values ``key`` may have: sshd -T's one value; or, from files, the global value (else OpenSSH's default) and every Match block's."""
    meta = config.get(META)
    if meta is None:
        value = next((v for k in (key, *older_names) if (v := _one(config, k)) is not None), None)
        return [] if value is None else [Candidate(value)]
    out: list[Candidate] = []
    value = _one(config, key)
    if value is not None:
        out.append(Candidate(value, meta["where"][key]))
    else:
        defaults = FILE_DEFAULTS.get(key, ())
        version = " of the OpenSSH version in use" if len(defaults) > 1 else ""
        out += [Candidate(d, f"not set in {meta['files'][0]} or its includes: OpenSSH's default{version}", certain=len(defaults) == 1) for d in defaults]
    for block in meta["match"]:
        if block["settings"].get(key):
            out.append(Candidate(block["settings"][key][0].lower(), f"{block['set_at'][key]}, in Match {block['criteria']} of {block['where']}"))
    return out


def _at(c: Candidate) -> str:
    return f" ({c.where})" if c.where else ""


def judge(label: str, found: list[Candidate], problem: Callable[[str], Text | None], ok_suffix: Text = Text("", ""), **details: Any) -> Outcome:
    """Fail on a value with a problem (a version-dependent default only when every alternative has one); unverified when only some alternatives do.

    ``problem`` says what is wrong with a value in English and Swedish (``sv(...)``), or None."""
    if any(c.where for c in found):  # from files: every value judged, and where it comes from
        details["settings"] = [{"value": c.value, "where": c.where} for c in found]
    guesses = [c for c in found if not c.certain]
    guess_problems = [problem(c.value) for c in guesses]
    failures = [(f"{label} is {c.value}{_at(c)}{p.en}", f"{label} är {c.value}{_at(c)}{p.sv}") for c in found if c.certain and (p := problem(c.value))]
    if guesses and all(guess_problems):  # wrong whichever the version
        first = guess_problems[0]
        assert first is not None
        values = " or ".join(c.value for c in guesses)
        failures.append((f"{label} is {values}{_at(guesses[0])}{first.en}", f"{label} är {values.replace(' or ', ' eller ')}{_at(guesses[0])}{first.sv}"))
    if failures:
        return failed(sv("; ".join(en for en, _ in failures), "; ".join(s for _, s in failures)), **details)
    if any(guess_problems):
        values = " or ".join(c.value for c in guesses)
        return unverified(sv(f"{label} is {values} ({guesses[0].where}, which is not run on an image); the policy's verdict depends on which: set {label} explicitly",
                             f"{label} är {values.replace(' or ', ' eller ')} ({guesses[0].where}, som inte körs på en avbild); policyns bedömning beror på vilket: ange {label} uttryckligen"),
                          **details)
    return passed(sv("; ".join(f"{label} is {c.value}{ok_suffix.en}{_at(c)}" for c in found), "; ".join(f"{label} är {c.value}{ok_suffix.sv}{_at(c)}" for c in found)), **details)


_COMMON: dict[str, Any] = dict(family="access", kinds=("server",), facts=("sshd.effective_config",))
_REFS = ("GDPR Art. 32(1)(b)", "CIS Distribution Independent Linux 5.2", "Mozilla OpenSSH guidelines")


@control(
    "ACCESS-SSH-ROOT-LOGIN", **_COMMON, severity="high", params=("ssh_root_login_allowed",), references=_REFS,
    title="SSH does not allow root to log in",
    title_sv="SSH låter inte root logga in",
    rationale_sv="Direkta root-inloggningar lämnar inget spår av vilken administratör som agerade och ger en angripare högsta behörighet i ett enda steg; policyer som utlovar starkt begränsad åtkomst kräver personliga konton och sudo.",
    remediation="Set PermitRootLogin no in sshd_config (or the value the policy allows) and reload sshd.",
    remediation_sv="Sätt PermitRootLogin no i sshd_config (eller det värde som policyn tillåter) och ladda om sshd.",
    plain="{n} server(s) let root log in over SSH",
    plain_sv="{n} server(ar) låter root logga in över SSH",
    rationale="Direct root logins leave no trace of which administrator acted and give an attacker the highest privileges in one step; "
    "privacy policies promising strongly restricted access need personal accounts and sudo.",
)
def ssh_root_login(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    config = facts["sshd.effective_config"]
    found = [Candidate(str(_root_login_name(c.value)), c.where, c.certain) for c in candidates(config, "permitrootlogin")]
    allowed = list(dict.fromkeys(_root_login_name(str(v).lower()) for v in params["ssh_root_login_allowed"]))  # each setting once, whichever spelling
    first = found[0].value if found else None
    accepted = ", ".join(str(a) for a in allowed)
    return judge("PermitRootLogin", found, lambda v: None if v in allowed else sv(f"; the policy accepts only {accepted}", f"; policyn godtar bara {accepted}"),
                 permitrootlogin=first, allowed=allowed)


def _must_be_no(key: str, label: str, *older_names: str) -> Any:
    def evaluate(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
        config = facts["sshd.effective_config"]
        found = candidates(config, key, *older_names)
        if not found:
            return unverified(f"{_source(config)} does not report {label}; it cannot be confirmed off", **{key: None})
        return judge(label, found, lambda v: None if v == "no" else sv("; it must be no", "; det måste vara no"), Text("", ""), **{key: found[0].value})

    return evaluate


ssh_password_auth = control(
    "ACCESS-SSH-PASSWORD-AUTH", **_COMMON, severity="high", references=_REFS,
    title="SSH does not accept password logins",
    title_sv="SSH tar inte emot inloggning med lösenord",
    rationale_sv="Lösenord kan gissas eller nätfiskas; nyckelbaserade inloggningar står emot lösenordsgissning mot servrar med personuppgifter.",
    remediation="Set PasswordAuthentication no in sshd_config and reload sshd.",
    remediation_sv="Sätt PasswordAuthentication no i sshd_config och ladda om sshd.",
    plain="{n} server(s) accept password logins over SSH",
    plain_sv="{n} server(ar) tillåter lösenordsinloggning över SSH",
    rationale="Passwords can be guessed or phished; key-based logins resist brute force against servers holding personal data.",
)(_must_be_no("passwordauthentication", "PasswordAuthentication"))

ssh_kbd_interactive = control(
    "ACCESS-SSH-KBD-INTERACTIVE", **_COMMON, severity="medium", references=_REFS,
    title="SSH does not accept keyboard-interactive logins",
    title_sv="SSH tar inte emot inloggning med keyboard-interactive",
    rationale_sv="Keyboard-interactive frågar oftast efter samma lösenord via PAM och öppnar därmed igen den dörr som PasswordAuthentication stänger.",
    remediation="Set KbdInteractiveAuthentication no in sshd_config and reload sshd.",
    remediation_sv="Sätt KbdInteractiveAuthentication no i sshd_config och ladda om sshd.",
    plain="{n} server(s) accept keyboard-interactive logins over SSH",
    plain_sv="{n} server(ar) tillåter inloggning med keyboard-interactive över SSH",
    rationale="Keyboard-interactive authentication usually asks for the same password through PAM, re-opening the door PasswordAuthentication closes.",
)(_must_be_no("kbdinteractiveauthentication", "KbdInteractiveAuthentication", "challengeresponseauthentication"))

ssh_empty_passwords = control(
    "ACCESS-SSH-EMPTY-PASSWORDS", **_COMMON, severity="critical", references=_REFS,
    title="SSH refuses accounts with empty passwords",
    title_sv="SSH nekar konton med tomt lösenord",
    rationale_sv="Med PermitEmptyPasswords kan ett konto utan lösenord användas av alla som når porten.",
    remediation="Set PermitEmptyPasswords no in sshd_config and reload sshd.",
    remediation_sv="Sätt PermitEmptyPasswords no i sshd_config och ladda om sshd.",
    plain="{n} server(s) let accounts with an empty password log in over SSH",
    plain_sv="{n} server(ar) släpper in konton med tomt lösenord över SSH",
    rationale="With PermitEmptyPasswords an account without a password can be entered by anyone who can reach the port.",
)(_must_be_no("permitemptypasswords", "PermitEmptyPasswords"))


@control(
    "ACCESS-SSH-MAX-AUTH-TRIES", **_COMMON, severity="low", params=("ssh_max_auth_tries",), references=_REFS,
    title="SSH limits authentication attempts per connection",
    title_sv="SSH begränsar antalet inloggningsförsök per anslutning",
    rationale_sv="Ett lågt MaxAuthTries bromsar gissning av lösenord och nycklar på varje anslutning.",
    remediation="Set MaxAuthTries in sshd_config to the policy's limit or lower, and reload sshd.",
    remediation_sv="Sätt MaxAuthTries i sshd_config till policyns gräns eller lägre och ladda om sshd.",
    plain="{n} server(s) allow too many SSH login attempts per connection",
    plain_sv="{n} server(ar) tillåter för många inloggningsförsök per SSH-anslutning",
    rationale="A low MaxAuthTries slows down password and key guessing on each connection.",
)
def ssh_max_auth_tries(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    config = facts["sshd.effective_config"]
    found = candidates(config, "maxauthtries")
    limit = params["ssh_max_auth_tries"]
    if not found:
        return unverified(f"{_source(config)} does not report MaxAuthTries; the limit cannot be confirmed", maxauthtries=None, limit=limit)

    def problem(raw: str) -> Text | None:
        if not raw.isdigit():
            return sv(", not a number", ", inte ett tal")
        return None if int(raw) <= limit else sv(f"; the policy allows at most {limit}", f"; policyn tillåter högst {limit}")

    first: Any = int(found[0].value) if found[0].value.isdigit() else found[0].value
    return judge("MaxAuthTries", found, problem, sv(f" (at most {limit})", f" (högst {limit})"), maxauthtries=first, limit=limit)


def _algorithms(config: Mapping[str, Any], key: str) -> list[str]:
    out: list[str] = []
    for value in config.get(key, []):
        if value.startswith("-"):  # removals from a default list: names nothing offered
            continue
        out.extend(a for a in value.lstrip("+^").split(",") if a)
    return out


def _unknown_default(config: Mapping[str, Any], key: str) -> str | None:
    """Why the files under root_dir do not settle the whole list ``key`` (None when they do, or for sshd -T)."""
    meta = config.get(META)
    if meta is None:
        return None
    value = (config.get(key) or [None])[0]
    if value is None:
        return f"{key} is not set"
    if value.startswith(("+", "-", "^")):
        return f"{key} {value} ({meta['where'][key]}) changes the default list"
    return None


@control(
    "ACCESS-SSH-CRYPTO", **_COMMON, severity="medium", params=("ssh_allowed_ciphers", "ssh_allowed_macs", "ssh_allowed_kex"),
    references=("GDPR Art. 32(1)(a)", "Mozilla OpenSSH guidelines (modern)", "ssh-audit policy"),
    title="SSH offers only strong ciphers, MACs and key exchanges",
    title_sv="SSH erbjuder bara starka chiffer, MAC-algoritmer och nyckelutbyten",
    rationale_sv="Administrativa sessioner bär lösenord och personuppgifter; CBC-chiffer, SHA-1-MAC:ar och svaga nyckelutbyten försvagar krypteringen under överföringen.",
    remediation="Set Ciphers, MACs and KexAlgorithms in sshd_config to the policy's allowlist and reload sshd.",
    remediation_sv="Sätt Ciphers, MACs och KexAlgorithms i sshd_config till policyns tillåtna lista och ladda om sshd.",
    plain="{n} server(s) offer weak SSH algorithms",
    plain_sv="{n} server(ar) erbjuder svaga algoritmer i SSH",
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
        return failed(sv(f"sshd offers algorithms outside the policy's allowlist ({listing})", f"sshd erbjuder algoritmer som inte finns i policyns tillåtna lista ({listing})"), not_allowed=weak, offered=offered)
    unknown = [why for k in ("ciphers", "macs", "kexalgorithms") if (why := _unknown_default(config, k))]
    if unknown:
        return unverified(f"{'; '.join(unknown)} in {_source(config)}: OpenSSH's default list depends on its version, which is not run on an image; "
                          "cannot confirm strong algorithms (set the full lists explicitly)", offered=offered)
    if not all(offered.values()):
        missing = [k for k, v in offered.items() if not v]
        return unverified(f"sshd -T listed no {', '.join(missing)}; cannot confirm strong algorithms", offered=offered)
    return passed(sv("sshd offers only allowlisted ciphers, MACs and key exchanges", "sshd erbjuder bara tillåtna chiffer, MAC-algoritmer och nyckelutbyten"), offered=offered)
