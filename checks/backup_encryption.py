"""Backups encrypted at rest: borg's encryption mode, restic, and the first bytes of backup files.

* ``type: borg``: the mode in the ``borg list --json`` document the backup
  listing already reads (checks/backup_repos.py; no ``borg info`` of its
  own): ``repokey*``/``keyfile*`` encrypt, ``none`` does not and
  ``authenticated*`` only signs (the data is stored in clear).
* ``type: restic``: restic has no unencrypted mode; the listing opened the
  repository with its password, which is the evidence.
* ``type: path``: the newest :data:`SAMPLE` regular files of the folder (from
  the shared ``find``) are read with one ``head -q -c 32 -- FILE...``; the
  output is cut by ``min(32, size)`` per file, the sizes the listing gave,
  never by anything in the content (a file that changed in between makes the
  whole read an error). Each file is judged by its magic bytes: OpenPGP
  (binary or armored), age, ``openssl enc`` (``Salted__``) are encrypted;
  gzip, zstd, bzip2, xz, zip, pg_dump, text (SQL, CSV) and anything
  unrecognised are not. The bytes are never recorded, only each file's
  verdict. Files whose path the sudoers rule cannot name (a segment starting
  with a dot, blanks, unusual characters) are not sampled, and say so.

``backup_encrypted_volume_paths`` names backup folders on an encrypted
volume (LUKS, an encrypted ZFS dataset...): plaintext files there pass, with
the policy's word for it in the message.

>>> magic(b"Salted__12345678")
'openssl-enc'
>>> magic(b"\\x1f\\x8b\\x08\\x00")
'gzip'
"""

from __future__ import annotations

import posixpath
from typing import Any, Mapping

from auditor.collect import Context, rooted
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import Outcome, collector, control, count_sv, failed, parameter, passed, sv, unverified
from auditor.shellreads import Reads
from auditor.sudoers_file import SudoPattern, tree_reader, tree_reader_allows
from auditor.transports.base import CommandResult

from checks.files import list_tree

SAMPLE = 50  # newest regular files read per backup folder
HEAD_BYTES = 32

ENCRYPTED_VOLUME_PATHS = parameter(
    "backup_encrypted_volume_paths", list, [],
    "Backup folders (type: path backups, as declared) that sit on an encrypted volume (LUKS, encrypted ZFS...): "
    "files there that are not themselves encrypted are accepted by BACKUP-ENCRYPTED.",
)

ENCRYPTED = {"openpgp", "openpgp-armored", "age", "age-armored", "openssl-enc"}
_PGP_ENCRYPTED_TAGS = {1, 3, 9, 18, 20}  # PKESK, SKESK, SED, SEIPD, AEAD (RFC 4880 / 9580)


def magic(head: bytes) -> str:
    """What the first bytes of a file say it is."""
    if head.startswith(b"age-encryption.org/"):
        return "age"
    if head.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"[:len(head)]) and len(head) >= 16:
        return "age-armored"
    if head.startswith(b"-----BEGIN PGP MESSAGE-----"[:len(head)]) and len(head) >= 16:
        return "openpgp-armored"
    if head.startswith(b"Salted__"):
        return "openssl-enc"
    for prefix, name in ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
                         (b"PK\x03\x04", "zip"), (b"PGDMP", "pg_dump"), (b"\x04\x22\x4d\x18", "lz4"), (b"SQLite format 3\x00", "sqlite")):
        if head.startswith(prefix):
            return name
    if head and head[0] & 0x80:
        tag = (head[0] & 0x3F) if head[0] & 0x40 else (head[0] >> 2) & 0x0F
        if tag in _PGP_ENCRYPTED_TAGS:
            return "openpgp"
    if head and _texty(head):
        return "text"
    return "unknown"


def _texty(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head[:-3].decode("utf-8", "ignore") if len(head) > 3 else ""  # a character cut at the end
    return bool(text) and all(c.isprintable() or c in "\t\r\n" for c in text)


def head_argv(paths: list[str]) -> list[str]:
    return ["head", "-q", "-c", str(HEAD_BYTES), "--", *paths]


def _folder(target: Target, host: Target) -> str:
    return rooted(host, str(target.get("path")))


def _reads(target: Target, host: Target) -> Reads:
    return Reads(trees=(_folder(target, host),)) if target.get("type") == "path" and target.get("path") else Reads()


def _sudo_commands(target: Target, host: Target) -> list[SudoPattern]:
    if target.get("type") != "path" or not target.get("path"):
        return []
    return [SudoPattern(tree_reader(["head", "-q", "-c", str(HEAD_BYTES), "--"], _folder(target, host)))]


def split_heads(result: CommandResult, sizes: list[tuple[str, int]]) -> dict[str, bytes]:
    """``head -q -c N`` output → each file's first bytes, cut by min(N, size) (content cannot move a boundary)."""
    if result.exit_status != 0:
        first = next((line for line in result.error_text.splitlines() if line.strip()), f"exit status {result.exit_status}")
        reason = Reason.PERMISSION_DENIED if "ermission denied" in first else Reason.COMMAND_FAILED
        raise CollectError(reason, f"`head` could not read every sampled backup file: {first}")
    expected = sum(min(HEAD_BYTES, size) for _, size in sizes)
    if len(result.stdout) != expected or result.truncated:
        raise CollectError(Reason.COMMAND_FAILED, f"`head` printed {len(result.stdout)} bytes where the listing announced {expected}: "
                           "a backup file changed between listing and reading; run the audit again")
    out, at = {}, 0
    for path, size in sizes:
        n = min(HEAD_BYTES, size)
        out[path] = result.stdout[at : at + n]
        at += n
    return out


@collector("backup.file_formats", kinds=("backup",), timeout=60, reads=_reads, sudo_commands=_sudo_commands)
def backup_file_formats(ctx: Context) -> dict[str, Any]:
    kind = ctx.target.get("type")
    if kind == "s3":
        raise NotApplicable("S3 backups are audited by the AWS checks (ACCESS-AWS-S3-ENCRYPTION)")
    if kind != "path":  # borg and restic: the repository listing says it (files.backup_listing); no file is read
        ctx.record("inventory", ctx.target.source, f"backup {ctx.target.name}: type {kind}, repository {ctx.target.get('repository')}\n"
                   "(no backup file is read: the repository listing names its encryption)")
        return {"type": kind, "files": []}
    folder = ctx.rooted(ctx.target.get("path"))
    listing = list_tree(ctx, [folder])
    if listing["missing"]:
        raise CollectError(Reason.NOT_FOUND, f"backup folder {folder} does not exist")
    if listing["unreadable"]:
        raise CollectError(Reason.PERMISSION_DENIED, f"could not list {', '.join(listing['unreadable'][:5])}")
    regular = sorted((e for e in listing["entries"] if e["type"] == "f"), key=lambda e: (-e["mtime"], e["path"]))
    nameable = [e for e in regular if tree_reader_allows(folder, e["path"])]
    sample = nameable[:SAMPLE]
    base = {"type": kind, "folder": folder, "regular_files": len(regular), "listing_truncated": listing["truncated"],
            "not_nameable": [posixpath.relpath(e["path"], folder) for e in regular if e not in nameable][:20],
            "not_nameable_count": len(regular) - len(nameable), "sample_bound": SAMPLE}
    with_bytes = [e for e in sample if e["size"] > 0]
    heads: dict[str, bytes] = {}
    if with_bytes:
        result = ctx.run(head_argv([e["path"] for e in with_bytes]), ok=range(256), redact=lambda _: "(the first bytes of backup files are not recorded; each file's format follows)")
        heads = split_heads(result, [(e["path"], e["size"]) for e in with_bytes])
    files = [{"path": e["path"], "size": e["size"], "mtime": e["mtime"], "format": magic(heads[e["path"]]) if e["size"] > 0 else "empty"} for e in sample]
    ctx.record("file", f"formats of the {len(files)} newest backup file(s) in {folder}", "\n".join(f"{f['format']:<16} {f['size']:>12} {f['path']}" for f in files) or "(no regular files)")
    return {**base, "files": files}


@control(
    "BACKUP-ENCRYPTED", family="access", kinds=("backup",), severity="high", facts=("files.backup_listing", "backup.file_formats"),
    params=("backup_encrypted_volume_paths",),
    references=("GDPR Art. 32(1)(a)", "GDPR Art. 34(3)(a)", "borg init --encryption", "restic design: encryption"),
    title="Backups are encrypted at rest",
    title_sv="Säkerhetskopior är krypterade där de lagras",
    rationale_sv="En säkerhetskopia är en fullständig kopia av personuppgifterna, ofta på en annan värd med andra administratörer. Bara en krypterad kopia förblir skyddad när den värden, en disk eller en ögonblicksbild läcker: borgs lägen 'none' och 'authenticated' och okrypterade dumpfiler kan läsas av alla som kommer åt filerna.",
    remediation="Encrypt the backups where they are stored (for borg, a repository with repokey or keyfile encryption; for dump files, gpg or age).",
    remediation_sv="Kryptera säkerhetskopiorna där de lagras (för borg ett arkiv med kryptering repokey eller keyfile, för dumpfiler gpg eller age).",
    plain="{n} backup location(s) store backups unencrypted",
    plain_sv="{n} lagringsplats(er) för säkerhetskopior lagrar dem okrypterade",
    rationale="A backup is a complete copy of the personal data, often on another host with other administrators. Only an encrypted copy "
    "stays protected when that host, a disk or a snapshot leaks: borg's 'none' and 'authenticated' modes and plain dump files are readable by anyone who gets the bytes.",
)
def backup_encrypted(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    listing, formats = facts["files.backup_listing"], facts["backup.file_formats"]
    kind = formats.get("type")
    if kind == "borg":
        mode = listing.get("encryption")
        shown = {"repository": (listing.get("roots") or [None])[0], "encryption": mode}
        if not mode:
            return unverified(sv("`borg list --json` named no encryption mode for the repository", "`borg list --json` angav inget krypteringsläge för förrådet"), **shown)
        if mode.startswith(("repokey", "keyfile")):
            return passed(sv(f"borg repository {shown['repository']} is encrypted (mode {mode})", f"borg-förrådet {shown['repository']} är krypterat (läge {mode})"), **shown)
        if mode.startswith("authenticated"):
            why = sv("only signs, the data is stored in clear", "signerar bara, uppgifterna lagras i klartext")
        else:
            why = sv("stores the data in clear", "lagrar uppgifterna i klartext")
        return failed(sv(f"borg repository {shown['repository']} is not encrypted: mode {mode} {why.en}",
                         f"borg-förrådet {shown['repository']} är inte krypterat: läget {mode} {why.sv}"), **shown)
    if kind == "restic":
        repository = (listing.get("roots") or [None])[0]
        return passed(sv(f"{repository} is a restic repository (it opened with its password): restic always encrypts",
                         f"{repository} är ett restic-förråd (det öppnades med sitt lösenord): restic krypterar alltid"), repository=repository, encryption="restic")
    files = formats["files"]
    accepted_volume = _on_encrypted_volume(str(target.get("path") or ""), params["backup_encrypted_volume_paths"])
    plain = [f for f in files if f["format"] not in ENCRYPTED and f["format"] != "empty"]
    counts: dict[str, int] = {}
    for f in files:
        counts[f["format"]] = counts.get(f["format"], 0) + 1
    total = f"{formats['regular_files']}{'+' if formats['listing_truncated'] else ''}"
    sampled = f"the {len(files)} newest of {total} file(s) sampled (at most {formats['sample_bound']})"
    sampled_sv = f"de {len(files)} nyaste av {total} filerna i stickprovet (högst {formats['sample_bound']})"
    unnamed = formats["not_nameable_count"]
    skipped = f"; {unnamed} file(s) with names the sudoers rule cannot name were not read" if unnamed else ""
    skipped_sv = f"; {count_sv(unnamed, 'fil', 'filer')} med namn som sudoers-regeln inte kan ange lästes inte" if unnamed else ""
    details = {"folder": formats["folder"], "formats": counts, "sampled": len(files), "regular_files": formats["regular_files"],
               "not_read": formats["not_nameable"], "encrypted_volume": accepted_volume}
    if plain and not accepted_volume:
        named = ", ".join(f"{posixpath.basename(f['path'])} ({f['format']})" for f in plain[:10])
        return failed(sv(f"at least {len(plain)} backup file(s) are not encrypted: {named} ({sampled}{skipped})",
                         f"minst {count_sv(len(plain), 'säkerhetskopia är okrypterad', 'säkerhetskopior är okrypterade')}: {named} ({sampled_sv}{skipped_sv})"), plaintext=[{"path": f["path"], "format": f["format"]} for f in plain], **details)
    if not files:
        if formats["not_nameable_count"]:
            return unverified(sv(f"no backup file could be read: {unnamed} file(s) with names the sudoers rule cannot name",
                                 f"ingen säkerhetskopia kunde läsas: {count_sv(unnamed, 'fil', 'filer')} med namn som sudoers-regeln inte kan ange"), **details)
        return passed(sv(f"no backup files in {formats['folder']}: nothing stored in clear", f"inga säkerhetskopior i {formats['folder']}: ingenting lagras i klartext"), **details)
    if plain:
        return passed(sv(f"{len(plain)} of {sampled} are not encrypted themselves, but {accepted_volume} is declared an encrypted volume (backup_encrypted_volume_paths){skipped}",
                         f"{len(plain)} av {sampled_sv} är inte själva krypterade, men {accepted_volume} är angiven som krypterad volym (backup_encrypted_volume_paths){skipped_sv}"), **details)
    formats_seen = ', '.join(sorted(k for k in counts))
    return passed(sv(f"all {sampled} are encrypted ({formats_seen}){skipped}", f"alla {sampled_sv} är krypterade ({formats_seen}){skipped_sv}"), **details)


def _on_encrypted_volume(path: str, volumes: list[str]) -> str | None:
    path = path.rstrip("/") or "/"
    for v in volumes:
        v = str(v).rstrip("/") or "/"
        if path == v or path.startswith(v + "/") or v == "/":
            return v
    return None
