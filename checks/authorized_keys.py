"""Access: the SSH keys that can log in as root, against the inventory's allowlist.

Root's ``authorized_keys`` and ``authorized_keys2`` (OpenSSH's default
AuthorizedKeysFile, under the server's ``root_dir``) are read by the server's
one shared ``cat`` (root's home is private: set ``sudo: true`` when auditing
as another user); whether they exist comes from the shared listing.
Each key line, with or without an options prefix (``command="..."``,
``from="..."``, ``restrict``...), is reduced to its type, OpenSSH SHA256
fingerprint and comment; only that reduction is kept as evidence, never the
key blobs. The fingerprints are compared with ``authorized_root_keys``, a
list the inventory declares per server.

>>> key = parse_key_line('from="10.0.0.1",command="echo a b" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOPKqPlzr4wCqZQFvDPLHq7/kXaPQMaAKtWMelS8Sw67 ops@example')
>>> key["fingerprint"], key["comment"], key["option_names"]
('SHA256:melOFzIS2GVXQQAb4NXwQMWggPQ2lcD0g0X45gmU7Kc', 'ops@example', ['from', 'command'])
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any, Mapping

from auditor.collect import Context, rooted
from auditor.model import Target
from auditor.registry import Outcome, collector, control, count_sv, failed, passed, sv, unverified
from auditor.shellreads import Reads

AUTHORIZED_KEYS_FILES = ("/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2")
SHOWN = 20  # keys listed in a message
_OPTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*")


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a decoded key blob (as ``ssh-keygen -lf`` prints it)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def _blob(ktype: str, b64: str) -> bytes | None:
    """The decoded key blob if ``b64`` is a key of type ``ktype`` (its first field names the type)."""
    try:
        blob = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 4:
        return None
    size = int.from_bytes(blob[:4], "big")
    if size == 0 or size > len(blob) - 4 or blob[4 : 4 + size] != ktype.encode("ascii", "replace"):
        return None
    return blob


def _split_options(line: str) -> tuple[str, str] | None:
    """Split ``options rest``: options end at the first blank outside double quotes."""
    quoted = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and quoted and i + 1 < len(line):
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c in " \t" and not quoted:
            return line[:i], line[i:].lstrip()
        i += 1
    return None


def _option_names(options: str) -> list[str]:
    names, quoted, start = [], False, 0
    for i, c in enumerate(options + ","):
        if c == '"' and (i == 0 or options[i - 1] != "\\"):
            quoted = not quoted
        elif c == "," and not quoted:
            m = _OPTION_NAME.match(options[start:i])
            if m:
                names.append(m.group(0).lower())
            start = i + 1
    return names


def parse_key_line(line: str) -> dict[str, Any] | None:
    """One authorized_keys line → {type, fingerprint, comment, options, option_names}, or None if it is no key.

    As sshd does: first try the line as ``type base64 [comment]``; if that is
    not a key, skip an options field (blanks allowed inside double quotes)
    and try again.
    """
    line = line.strip()
    candidates = [("", line)]
    split = _split_options(line)
    if split is not None:
        candidates.append(split)
    for options, rest in candidates:
        parts = rest.split(None, 2)
        if len(parts) < 2:
            continue
        blob = _blob(parts[0], parts[1])
        if blob is not None:
            return {
                "type": parts[0],
                "fingerprint": fingerprint(blob),
                "comment": parts[2].strip() if len(parts) > 2 else "",
                "options": options,
                "option_names": _option_names(options) if options else [],
            }
    return None


def parse_authorized_keys(text: str) -> dict[str, Any]:
    """An authorized_keys file → keys (with line numbers) and the numbers of lines that are neither keys nor comments."""
    keys, invalid = [], []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key = parse_key_line(stripped)
        if key is None:
            invalid.append(number)
        else:
            keys.append({"line": number, **key})
    return {"keys": keys, "invalid": invalid}


def _short(options: str, limit: int = 80) -> str:
    return options if len(options) <= limit else options[:limit] + "…"


def show_key(key: Mapping[str, Any]) -> str:
    opts = f" [{_short(key['options'])}]" if key.get("options") else ""
    comment = f" {key['comment']}" if key.get("comment") else ""
    return f"{key['type']} {key['fingerprint']}{comment}{opts}"


def redact_authorized_keys(text: str) -> str:
    """What evidence keeps of an authorized_keys file: per line, key type, fingerprint, comment (and options)."""
    parsed = parse_authorized_keys(text)
    rows = [(k["line"], show_key(k)) for k in parsed["keys"]] + [(n, "(not a key line)") for n in parsed["invalid"]]
    return "\n".join(f"{n}: {shown}" for n, shown in sorted(rows))



@collector("ssh.root_authorized_keys", kinds=("server",), timeout=15, reads=lambda t, h: Reads(files=tuple(rooted(h, p) for p in AUTHORIZED_KEYS_FILES)))
def root_authorized_keys(ctx: Context) -> dict[str, Any]:
    allowlist = ctx.target.get("authorized_root_keys")
    declared = "(not declared)" if allowlist is None else ("[]" if not allowlist else "\n".join(f"- {fp}" for fp in allowlist))
    ctx.record("inventory", ctx.target.source, f"server {ctx.target.name}: authorized_root_keys:\n{declared}")
    files, keys, invalid = [], [], []
    for logical in AUTHORIZED_KEYS_FILES:
        path = ctx.rooted(logical)
        text = ctx.reads.file(ctx, path, redact=redact_authorized_keys)
        if text is None:
            files.append({"path": path, "present": False})
            continue
        parsed = parse_authorized_keys(text)
        files.append({"path": path, "present": True, "keys": len(parsed["keys"])})
        keys.extend({"file": path, **k} for k in parsed["keys"])
        invalid.extend({"file": path, "line": n} for n in parsed["invalid"])
    return {"files": files, "keys": keys, "invalid": invalid, "allowlist": None if allowlist is None else list(allowlist)}


def _normalise(fp: str) -> str:
    return fp.strip().rstrip("=")


@control(
    "ACCESS-ROOT-AUTHORIZED-KEYS", family="access", kinds=("server",), severity="high", facts=("ssh.root_authorized_keys",),
    references=("GDPR Art. 32(1)(b)", "NIST IR 7966 (SSH access management)", "CIS Controls v8 5.4, 6.1"),
    title="Only declared SSH keys can log in as root",
    title_sv="Bara deklarerade SSH-nycklar kan logga in som root",
    rationale_sv="En nyckel i roots authorized_keys är en stående root-inloggning som överlever lösenordsbyten och personal som slutar; 'starkt begränsad' åtkomst innebär att varje sådan nyckel är känd, har en ägare och är angiven, och att bortglömda eller planterade nycklar upptäcks.",
    remediation="Remove every key from root's authorized_keys that is not needed, and declare the fingerprints of the rest as authorized_root_keys in the inventory.",
    remediation_sv="Ta bort alla nycklar i roots authorized_keys som inte behövs och ange fingeravtrycken för de övriga som authorized_root_keys i inventariet.",
    plain="{n} server(s) let undeclared SSH keys log in as root",
    plain_sv="{n} server(ar) släpper in root med SSH-nycklar som inte är angivna",
    rationale="A key in root's authorized_keys is a standing root login that survives password changes and staff leaving; "
    "'strongly restricted' access means every such key is known, owned and declared, and forgotten or planted keys are found.",
)
def root_authorized_keys_allowed(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["ssh.root_authorized_keys"]
    keys, invalid, allowlist = fact["keys"], fact["invalid"], fact["allowlist"]
    present = [f["path"] for f in fact["files"] if f["present"]]
    shown = [f"{k['file']}:{k['line']} {show_key(k)}" for k in keys]
    if keys and allowlist is None:
        return failed(
            sv(f"root has {len(keys)} authorized SSH key(s) but the inventory declares no authorized_root_keys for this server; "
               f"declare the fingerprints allowed to log in as root: " + ", ".join(f"{k['fingerprint']} ({k['comment'] or 'no comment'})" for k in keys[:SHOWN]),
               f"root har {count_sv(len(keys), 'godkänd SSH-nyckel', 'godkända SSH-nycklar')} men inventariet anger inga authorized_root_keys för den här servern; "
               f"ange fingeravtrycken som får logga in som root: " + ", ".join(f"{k['fingerprint']} ({k['comment'] or 'ingen kommentar'})" for k in keys[:SHOWN])),
            keys=shown, allowlist=None,
        )
    allowed = {_normalise(fp) for fp in allowlist or ()}
    unknown = [k for k in keys if _normalise(k["fingerprint"]) not in allowed]
    if unknown:
        return failed(
            sv(f"{len(unknown)} of {len(keys)} key(s) in root's authorized_keys are not in authorized_root_keys: "
               + ", ".join(f"{k['fingerprint']} ({k['comment'] or 'no comment'}, {k['file']}:{k['line']})" for k in unknown[:SHOWN]),
               f"{len(unknown)} av {count_sv(len(keys), 'nyckel', 'nycklar')} i roots authorized_keys finns inte i authorized_root_keys: "
               + ", ".join(f"{k['fingerprint']} ({k['comment'] or 'ingen kommentar'}, {k['file']}:{k['line']})" for k in unknown[:SHOWN])),
            not_allowed=[{"file": k["file"], "line": k["line"], "type": k["type"], "fingerprint": k["fingerprint"], "comment": k["comment"]} for k in unknown],
            keys=shown, allowlist=sorted(allowed),
        )
    if invalid:
        where = ", ".join(f"{i['file']}:{i['line']}" for i in invalid[:SHOWN])
        return unverified(sv(f"{len(invalid)} line(s) of root's authorized_keys could not be read as keys ({where}); cannot confirm they grant no login",
                             f"{count_sv(len(invalid), 'rad', 'rader')} i roots authorized_keys gick inte att läsa som nycklar ({where}); det går inte att bekräfta att de inte ger inloggning"),
                          reason="parse_error", invalid=invalid, keys=shown)
    if not present:
        paths = ", ".join(f["path"] for f in fact["files"])
        return passed(sv(f"root has no authorized_keys ({paths} do not exist)", f"root har ingen authorized_keys ({paths} finns inte)"), files=fact["files"])
    if not keys:
        return passed(sv(f"root's authorized_keys hold no keys ({', '.join(present)})", f"roots authorized_keys innehåller inga nycklar ({', '.join(present)})"), files=fact["files"])
    return passed(sv(f"All {len(keys)} key(s) in root's authorized_keys are declared in authorized_root_keys",
                     f"Samtliga nycklar i roots authorized_keys ({len(keys)} st.) är angivna i authorized_root_keys"), keys=shown, allowlist=sorted(allowed))
