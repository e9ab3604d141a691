"""Integrity of a report folder: digests for every fact, finding and file, an
optional Ed25519 signature over the manifest, and ``verify`` that names what
was altered.

What is covered, and how:

* each fact in ``run.json`` carries ``sha256``, the digest of its own
  canonical JSON (sorted keys, no whitespace) without that key, and the tool
  version that gathered it;
* ``manifest.json`` lists the SHA-256 of every file of the folder, of every
  fact and finding, and of every top-level section of ``run.json``, so a
  changed byte is traced to the item it belongs to;
* ``manifest.sig`` (with ``auditor run --sign KEY``) is an Ed25519 signature
  over the exact bytes of ``manifest.json``. Without it the digests prove the
  folder is consistent, not who made it: anyone can recompute them.

>>> fact = {"id": "f1", "value": 1}
>>> seal_fact(fact, "1.0")["sha256"] == fact_digest({**fact, "tool_version": "1.0"})
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import InputError, Problem
from .model import canonical_json, sha256_hex

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MANIFEST_VERSION = 1
PASSPHRASE_ENV = "AUDITOR_SIGNING_PASSPHRASE"


# -- digests -------------------------------------------------------------------


def fact_digest(fact: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json({k: v for k, v in fact.items() if k != "sha256"}))


def item_digest(item: Any) -> str:
    return sha256_hex(canonical_json(item))


def finding_key(finding: Mapping[str, Any]) -> str:
    return f"{finding.get('control')}|{finding.get('target')}"


def seal_fact(fact: dict[str, Any], tool_version: str) -> dict[str, Any]:
    """Stamp the tool version and the fact's own digest into ``fact`` (in place)."""
    fact.setdefault("tool_version", tool_version)
    fact["sha256"] = fact_digest(fact)
    return fact


def seal_document(doc: dict[str, Any]) -> dict[str, Any]:
    for fact in doc.get("facts") or ():
        seal_fact(fact, doc.get("tool_version", ""))
    return doc


def file_entry(data: bytes) -> dict[str, Any]:
    """A file as the manifest lists it: digest and size."""
    return {"sha256": sha256_hex(data), "bytes": len(data)}


def build_manifest(doc: Mapping[str, Any], files: Mapping[str, bytes]) -> dict[str, Any]:
    """The manifest of a report folder: file, section, fact and finding digests."""
    return manifest_of(doc, {name: file_entry(data) for name, data in files.items()})


def manifest_of(doc: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`build_manifest` from the files' :func:`file_entry` (the files need not be held in memory)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "schema_version": doc.get("schema_version"),
        "run_id": doc.get("run_id"),
        "tool_version": doc.get("tool_version"),
        "started_at": doc.get("started_at"),
        "files": {name: dict(entry) for name, entry in sorted(entries.items())},
        "run": {
            "sections": {key: item_digest(value) for key, value in sorted(doc.items())},
            "facts": {str(f.get("id")): f.get("sha256") or fact_digest(f) for f in doc.get("facts") or ()},
            "findings": {finding_key(f): item_digest(f) for f in doc.get("findings") or ()},
        },
    }


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


# -- keys ----------------------------------------------------------------------


def key_id(public_key: Ed25519PublicKey) -> str:
    """``SHA256:<base64>`` of the raw public key, the way ``ssh-keygen -l`` shows keys."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def generate_keypair(path: str, passphrase: bytes | None = None, force: bool = False) -> tuple[str, str, str]:
    """Write a new Ed25519 private key to ``path`` (0600, PEM PKCS#8) and its public key to ``path.pub``.

    Returns (private path, public path, key id). Refuses to overwrite unless ``force``.
    """
    pub_path = path + ".pub"
    for p in (path, pub_path):
        if os.path.exists(p) and not force:
            raise InputError(Problem(p, None, None, "already exists; choose another path or pass --force to replace the key pair"))
    key = Ed25519PrivateKey.generate()
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    write_atomic(path, private_pem, 0o600)
    write_atomic(pub_path, public_pem, 0o644)
    return path, pub_path, key_id(key.public_key())


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_key_file(path: str, what: str) -> bytes:
    try:
        with open(os.path.expanduser(path), "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(Problem(path, None, None, f"{what} not found")) from None
    except OSError as exc:
        raise InputError(Problem(path, None, None, f"cannot read the {what}: {exc.strerror}")) from None


def load_private_key(path: str) -> Ed25519PrivateKey:
    """An Ed25519 private key in PEM (PKCS#8) or OpenSSH format.

    An encrypted key takes its passphrase from the environment variable
    ``AUDITOR_SIGNING_PASSPHRASE`` (never from the command line).
    """
    data = _read_key_file(path, "signing key")
    secret = os.environ.get(PASSPHRASE_ENV)
    password = secret.encode() if secret else None
    load = serialization.load_ssh_private_key if b"OPENSSH PRIVATE KEY" in data else serialization.load_pem_private_key
    try:
        key = load(data, password=password)
    except TypeError as exc:  # encrypted without a password, or a password for a plain key
        why = (f"the key is encrypted: set {PASSPHRASE_ENV} to its passphrase" if password is None else f"the key is not encrypted: unset {PASSPHRASE_ENV}") if "password" in str(exc).lower() else str(exc)
    except ValueError as exc:
        text = str(exc).lower()
        why = "wrong passphrase" if password and ("incorrect password" in text or "bad decrypt" in text or "corrupt" in text) else "not a PEM or OpenSSH private key"
    except Exception:  # noqa: BLE001 - cryptography raises several kinds for garbage
        why = "not a PEM or OpenSSH private key"
    else:
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError(Problem(path, None, None, f"a {type(key).__name__.removeprefix('_')} key; auditor signs with Ed25519 keys only (make one with `auditor keygen`)"))
        return key
    raise InputError(Problem(path, None, None, f"cannot load the signing key: {why}; expected an Ed25519 private key made by `auditor keygen` or `ssh-keygen -t ed25519`"))


def load_public_key(path: str) -> Ed25519PublicKey:
    """An Ed25519 public key: PEM (``auditor keygen``'s ``.pub``) or an OpenSSH ``ssh-ed25519`` line."""
    data = _read_key_file(path, "public key").strip()
    try:
        key = serialization.load_ssh_public_key(data) if data.startswith(b"ssh-") else serialization.load_pem_public_key(data)
    except Exception:  # noqa: BLE001
        raise InputError(Problem(path, None, None, "not a public key; expected the .pub file written by `auditor keygen` (PEM) or an OpenSSH ssh-ed25519 line")) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(Problem(path, None, None, "not an Ed25519 public key; auditor signatures are Ed25519"))
    return key


def signature_document(manifest: bytes, key: Ed25519PrivateKey) -> bytes:
    public = key.public_key()
    doc = {
        "algorithm": "Ed25519",
        "signed_file": MANIFEST,
        "key_id": key_id(public),
        "public_key": base64.b64encode(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode(),
        "signature": base64.b64encode(key.sign(manifest)).decode(),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


# -- verification -------------------------------------------------------------


@dataclass
class Verification:
    folder: str
    problems: list[str] = field(default_factory=list)  # each names the altered item
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    signed_by: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_folder(folder: str, public_key: Ed25519PublicKey | None = None, rerender: Callable[[dict[str, Any]], Mapping[str, bytes]] | None = None, tool_version: str | None = None) -> Verification:
    """Check every digest and the signature of a report folder.

    ``rerender`` (doc → {file name: bytes}) is used to check that the human
    reports are the rendering of ``run.json`` when ``tool_version`` equals the
    version that wrote the run (other versions may render differently).

    Whatever the folder holds, the outcome is a :class:`Verification`: a
    manifest of the wrong shape, a pipe or link in place of a file, a file in
    a sub-folder are named as altered, never an exception.
    """
    result = Verification(folder)
    bad = result.problems.append
    manifest_raw, why = _read_regular(os.path.join(folder, MANIFEST))
    if manifest_raw is None:
        bad(f"{MANIFEST}: missing; without it nothing in the folder can be verified" if why == "missing" else f"{MANIFEST}: {why}")
        return result
    try:
        manifest = json.loads(manifest_raw)
    except (ValueError, RecursionError):
        bad(f"{MANIFEST}: not JSON; not a manifest written by auditor (altered or damaged)")
        return result
    shape = _manifest_shape(manifest)
    if shape:
        bad(f"{MANIFEST}: {shape}; not a manifest written by auditor (altered or damaged)")
        return result
    files = manifest["files"]

    _check_signature(folder, manifest_raw, public_key, result)

    # Files listed in the manifest.
    contents: dict[str, bytes] = {}
    for name, meta in sorted(files.items()):
        data, why = _read_regular(os.path.join(folder, name))
        if data is None:
            bad(f"{name}: {why} (the manifest lists it)")
            continue
        contents[name] = data
        digest = sha256_hex(data)
        if digest != meta["sha256"]:
            bad(f"{name}: altered (SHA-256 {digest[:16]}..., the manifest says {meta['sha256'][:16]}...)")
        elif meta.get("bytes", len(data)) != len(data):
            bad(f"{MANIFEST}: gives {name} a size of {meta['bytes']} bytes; it has {len(data)} (the manifest was altered)")
    result.checked["files"] = len(files)
    for name in _unlisted(folder, set(files) | {MANIFEST, SIGNATURE}):
        bad(f"{name}: not listed in the manifest (added after the run)")

    # Items inside run.json.
    if "run.json" in contents and "run" not in manifest:
        result.notes.append(f"{MANIFEST} predates per-item digests (auditor < schema 1.1): run.json is checked as a whole only")
    elif "run.json" in contents:
        try:
            doc = _check_run(contents["run.json"], manifest["run"], result)
        except RecursionError:
            bad("run.json: nested too deeply to be a run document (altered)")
            doc = None
        if doc is not None:
            _check_header(manifest, doc, result)
        if doc is not None and rerender and tool_version and result.ok:
            _check_rendering(doc, contents, rerender, tool_version, result)
    elif "run.json" not in files:
        bad(f"{MANIFEST}: does not list run.json")
    return result


def _read_regular(path: str) -> tuple[bytes | None, str]:
    """The bytes of a regular file, or None and why not; never follows a link, never waits on a pipe."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        if os.path.islink(path):
            return None, "a symbolic link, not a file written by the run (altered)"
        return None, f"cannot be read ({exc.strerror})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            kind = "a folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "not a regular file"
            return None, f"{kind}, not a file written by the run (altered)"
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(), ""
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    finally:
        os.close(fd)


def _unlisted(folder: str, listed: set[str]) -> list[str]:
    """Everything in ``folder`` the manifest does not name, sub-folders' contents included (a run writes no sub-folder)."""
    found = []
    for root, dirs, names in os.walk(folder):
        rel = os.path.relpath(root, folder)
        prefix = "" if rel == "." else rel + "/"
        for name in names:
            if prefix or name not in listed:
                found.append(prefix + name)
        for name in dirs:
            path = os.path.join(root, name)
            if os.path.islink(path):
                found.append(prefix + name)  # os.walk does not enter it
            elif not os.listdir(path) and (prefix or name not in listed):
                found.append(prefix + name + "/")
    return sorted(found)


def _manifest_shape(manifest: Any) -> str:
    """What is wrong with the structure of a parsed manifest ("" when it is the shape auditor writes)."""
    if not isinstance(manifest, dict):
        return "the top level is not a JSON object"
    unknown = sorted(set(manifest) - _MANIFEST_KEYS)
    if unknown:
        return f"unknown key {unknown[0]!r}"
    if manifest.get("manifest_version", MANIFEST_VERSION) != MANIFEST_VERSION:
        return f"manifest_version is {json.dumps(manifest['manifest_version'])}, expected {MANIFEST_VERSION}"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return f"'files' is {_kind(files)}, expected an object of file digests"
    for name, meta in files.items():
        if name in ("", ".", "..", MANIFEST, SIGNATURE) or "/" in name or "\\" in name or "\0" in name:
            return f"'files' lists {name!r}, which is not a file of a report folder"
        if not isinstance(meta, dict):
            return f"'files'.{json.dumps(name)} is {_kind(meta)}, expected an object with a 'sha256' digest"
        if set(meta) - {"sha256", "bytes"}:
            return f"'files'.{json.dumps(name)} has the unknown key {sorted(set(meta) - {'sha256', 'bytes'})[0]!r}"
        if not isinstance(meta.get("sha256"), str):
            return f"'files'.{json.dumps(name)}.sha256 is {_kind(meta.get('sha256'))}, expected a SHA-256 digest"
        if "bytes" in meta and (not isinstance(meta["bytes"], int) or isinstance(meta["bytes"], bool)):
            return f"'files'.{json.dumps(name)}.bytes is {_kind(meta['bytes'])}, expected a number of bytes"
    if "run" not in manifest:
        return ""
    run = manifest["run"]
    if not isinstance(run, dict):
        return f"'run' is {_kind(run)}, expected an object of section, fact and finding digests"
    if set(run) - {"sections", "facts", "findings"}:
        return f"'run' has the unknown key {sorted(set(run) - {'sections', 'facts', 'findings'})[0]!r}"
    for part in ("sections", "facts", "findings"):
        digests = run.get(part, {})
        if not isinstance(digests, dict):
            return f"'run'.{part} is {_kind(digests)}, expected an object of digests"
        wrong = next((k for k, v in digests.items() if not isinstance(v, str)), None)
        if wrong is not None:
            return f"'run'.{part}.{json.dumps(wrong)} is {_kind(digests[wrong])}, expected a digest"
    return ""


_MANIFEST_KEYS = {"manifest_version", "schema_version", "run_id", "tool_version", "started_at", "files", "run"}
_HEADER = ("schema_version", "run_id", "tool_version", "started_at")  # copied from run.json


def _check_header(manifest: Mapping[str, Any], doc: Mapping[str, Any], result: Verification) -> None:
    for key in _HEADER:
        if key in manifest and manifest[key] != doc.get(key):
            result.problems.append(f"{MANIFEST}: {key} is {json.dumps(manifest[key])[:80]}, but run.json says {json.dumps(doc.get(key))[:80]}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _check_signature(folder: str, manifest_raw: bytes, expected: Ed25519PublicKey | None, result: Verification) -> None:
    bad = result.problems.append
    sig_path = os.path.join(folder, SIGNATURE)
    if not os.path.lexists(sig_path):
        if expected is not None:
            bad(f"{SIGNATURE}: missing; the report is not signed, but --key asks for a signature by {key_id(expected)}")
        else:
            result.notes.append("not signed: the digests show the folder is consistent, not who made it (sign with `auditor run --sign KEY`)")
        return
    raw, why = _read_regular(sig_path)
    if raw is None:
        bad(f"{SIGNATURE}: {why}")
        return
    try:
        sig = json.loads(raw)
        signature = base64.b64decode(sig["signature"], validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["public_key"], validate=True))
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
        bad(f"{SIGNATURE}: damaged or not an auditor signature")
        return
    key = expected or embedded
    if expected is not None and key_id(expected) != key_id(embedded):
        bad(f"{SIGNATURE}: made with key {key_id(embedded)}, not with the expected key {key_id(expected)}")
    try:
        key.verify(signature, manifest_raw)
    except InvalidSignature:
        bad(f"{SIGNATURE}: the signature does not match {MANIFEST} (the manifest was altered after signing, or the signature was replaced)")
        return
    result.signed_by = key_id(key)
    if expected is None:
        result.notes.append(f"signature valid, made with key {key_id(embedded)} (the key stored in {SIGNATURE}); pass --key PUB to check it is yours")


def _check_run(raw: bytes, recorded: Mapping[str, Any], result: Verification) -> dict[str, Any] | None:
    """Compare every section, fact and finding of run.json with the manifest; returns the parsed run."""
    bad = result.problems.append
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        bad(f"run.json: not valid JSON any more ({exc})")
        return None
    if not isinstance(doc, dict):
        bad("run.json: not a run document")
        return None
    sections = recorded.get("sections") or {}  # the manifest's shape was checked before
    for key in sorted(set(sections) | set(doc)):
        if key in ("facts", "findings"):
            continue
        if key not in doc:
            bad(f"run.json: section {key!r} removed")
        elif key not in sections:
            bad(f"run.json: section {key!r} added")
        elif item_digest(doc[key]) != sections[key]:
            bad(f"run.json: section {key!r} altered")
    facts = {str(f.get("id")): f for f in _as_list(doc.get("facts")) if isinstance(f, dict)}
    _check_items("fact", facts, recorded.get("facts") or {}, _describe_fact, result)
    findings = {finding_key(f): f for f in _as_list(doc.get("findings")) if isinstance(f, dict)}
    expected = recorded.get("findings") or {}
    _check_items("finding", findings, expected, _describe_finding, result, digest=item_digest)
    for fid, fact in facts.items():
        if fact.get("sha256") and fact_digest(fact) != fact["sha256"]:
            if not any(f"fact {fid} " in p for p in result.problems):
                bad(f"run.json: fact {_describe_fact(fid, fact)} does not match its own digest")
    # The facts and findings sections have a digest of their own too: checked as a whole when no item
    # was named (an altered section digest in the manifest, or items moved between sections).
    for key, kind in (("facts", "fact"), ("findings", "finding")):
        if key in doc and key in sections and item_digest(doc[key]) != sections[key]:
            if not any(p.startswith(f"run.json: {kind} ") for p in result.problems):
                bad(f"run.json: section {key!r} does not match its digest in {MANIFEST}")
    result.checked["facts"] = len(facts)
    result.checked["findings"] = len(findings)
    return doc


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _check_items(kind: str, items: Mapping[str, Any], expected: Mapping[str, str], describe: Callable[[str, Any], str], result: Verification, digest: Callable[[Any], str] = fact_digest) -> None:
    for key in sorted(set(items) | set(expected)):
        if key not in items:
            result.problems.append(f"run.json: {kind} {key} removed")
        elif key not in expected:
            result.problems.append(f"run.json: {kind} {describe(key, items[key])} added")
        elif digest(items[key]) != expected[key]:
            result.problems.append(f"run.json: {kind} {describe(key, items[key])} altered")


def _describe_fact(fid: str, fact: Mapping[str, Any]) -> str:
    return f"{fid} ({fact.get('name')} on {fact.get('target')})"


def _describe_finding(key: str, finding: Mapping[str, Any]) -> str:
    return f"{finding.get('control')} on {finding.get('target')}"


def _check_rendering(doc: dict[str, Any], contents: Mapping[str, bytes], rerender: Callable[[dict[str, Any]], Mapping[str, bytes]], tool_version: str, result: Verification) -> None:
    if doc.get("tool_version") != tool_version:
        result.notes.append(f"reports not re-rendered: the run was written by auditor {doc.get('tool_version')}, this is {tool_version}")
        return
    try:
        rendered = rerender(doc)
    except Exception as exc:  # noqa: BLE001 - this version rendered this run when it was written: a run it cannot render was altered
        result.problems.append(f"run.json: cannot be rendered by auditor {tool_version}, which wrote it ({type(exc).__name__}); its content was altered and the manifest recomputed to match")
        return
    for name, data in sorted(rendered.items()):
        if name in contents and name != "run.json" and contents[name] != data:
            result.problems.append(f"{name}: is not the rendering of run.json (edited, and the manifest recomputed to match)")
