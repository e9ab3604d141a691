"""Backup sets of the inventory's ``backups:`` section: folders, borg and restic repositories.

A backup target is reached through the shell of its ``server``. Its fact is
``files.backup_listing``, in the same shape as the server's own (roots,
entries, missing, unreadable, truncated, now), so that BACKUP-MAX-AGE and
BACKUP-FRESHNESS in checks/files.py judge it the same way:

* ``type: path``: the same ``find`` listing as a server's backup_paths
  (entries of type ``f``, ``d``...);
* ``type: borg``: ``borg list --json --bypass-lock REPO`` (no lock file is
  written), one entry of type ``a`` per archive, its time as mtime; the same
  document names the repository's encryption mode (``encryption``), so
  BACKUP-ENCRYPTED needs no ``borg info`` of its own;
* ``type: restic``: ``restic snapshots --json --no-lock --no-cache``, one
  entry of type ``a`` per snapshot;
* ``type: s3``: not here (the AWS checks audit buckets).

The repository passphrase (``password:``, a secret reference) is resolved
only here and never put in argv: restic reads it from a standard input that
is not a terminal; borg gets ``BORG_PASSPHRASE`` in its environment, which
the SSH transport sends on stdin to the remote shell (``read``/``export``)
before ``sudo -n -- borg list ...`` starts: no ``env`` wrapper inside sudo,
so sudoers names borg itself, and ``env_keep += "BORG_PASSPHRASE"`` lets the
value through. Archive times are read with ``TZ=UTC`` where sudo lets it pass
(borg 1.x prints naive local times) and compared with the target's own clock.

>>> parse_borg_list('{"archives": [{"name": "a", "time": "2025-01-01T00:00:00.000000"}]}', "/r")[0]["mtime"]
1735689600
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from auditor.collect import Context, rooted
from auditor.errors import CollectError, NotApplicable
from auditor.model import Reason, Target
from auditor.registry import collector
from auditor.shellreads import Reads
from auditor.sudoers_file import SudoCommand

from checks.files import list_tree, target_clock

# What borg needs in its environment: through sudo, these reach it only where
# sudoers' env_keep allows (`auditor sudoers` prints that line); BORG_PASSPHRASE
# travels on stdin to the remote shell, never in argv (see transports.ssh).
BORG_ENV_KEEP = ("BORG_PASSPHRASE", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "BORG_RELOCATED_REPO_ACCESS_IS_OK")


def borg_argv(repository: str) -> list[str]:
    return ["borg", "list", "--json", "--bypass-lock", "--", repository]


def restic_argv(repository: str) -> list[str]:
    return ["restic", "--repo", repository, "snapshots", "--json", "--no-lock", "--no-cache", "--quiet"]


def _sudo_commands(target: Target, host: Target) -> list[SudoCommand]:
    kind, repository = target.get("type"), target.get("repository")
    if kind == "borg":
        return [SudoCommand(tuple(borg_argv(repository)), BORG_ENV_KEEP)]
    if kind == "restic":
        return [SudoCommand(tuple(restic_argv(repository)))]
    return []


def _reads(target: Target, host: Target) -> Reads:
    return Reads(trees=(rooted(host, str(target.get("path"))),)) if target.get("type") == "path" and target.get("path") else Reads()
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_time(text: str) -> int:
    """An ISO-8601 time as borg and restic print it → seconds since the epoch (UTC when no offset)."""
    m = _ISO.match(text.strip())
    if not m:
        raise ValueError(f"not an ISO-8601 time: {text!r}")
    day, clock, _fraction, offset = m.groups()
    if offset in (None, "Z"):
        offset = "+00:00"
    elif ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    return int(datetime.fromisoformat(f"{day}T{clock}{offset}").astimezone(timezone.utc).timestamp())


def _archive(path: str, mtime: int) -> dict[str, Any]:
    return {"type": "a", "mode": None, "owner": None, "group": None, "size": None, "mtime": mtime, "path": path}


def _json_payload(text: str, opener: str) -> Any:
    """The JSON document in a tool's stdout (a tool may print a notice line before it)."""
    start = text.find(opener)
    if start < 0:
        raise ValueError("no JSON document in the output")
    return json.loads(text[start:])


def parse_borg_list(text: str, repository: str) -> list[dict[str, Any]]:
    """``borg list --json`` → one archive entry per archive (path ``REPO::NAME``)."""
    try:
        doc = _json_payload(text, "{")
        archives = doc["archives"]
        return [_archive(f"{repository}::{a.get('name') or a['archive']}", parse_time(a.get("time") or a["start"])) for a in archives]
    except (ValueError, KeyError, TypeError) as exc:
        raise CollectError(Reason.PARSE_ERROR, f"unexpected `borg list --json` output ({exc}): {text.strip()[:120]!r}") from None


def parse_borg_encryption(text: str) -> str | None:
    """The repository's encryption mode from the same ``borg list --json`` document (None: borg did not say)."""
    try:
        mode = (_json_payload(text, "{").get("encryption") or {}).get("mode")
    except (ValueError, AttributeError, TypeError):
        return None
    return mode if isinstance(mode, str) else None


def parse_restic_snapshots(text: str, repository: str) -> list[dict[str, Any]]:
    """``restic snapshots --json`` → one archive entry per snapshot (path ``REPO#SHORT_ID``)."""
    try:
        snapshots = _json_payload(text, "[")
        return [_archive(f"{repository}#{s.get('short_id') or s['id'][:8]}", parse_time(s["time"])) for s in snapshots]
    except (ValueError, KeyError, TypeError) as exc:
        raise CollectError(Reason.PARSE_ERROR, f"unexpected `restic snapshots --json` output ({exc}): {text.strip()[:120]!r}") from None


def _show_borg(text: str) -> str:
    try:
        doc = _json_payload(text, "{")
        rows = [f"archive {a.get('name')} time {a.get('time')} id {str(a.get('id', ''))[:16]}" for a in doc.get("archives", [])]
        repo = doc.get("repository", {})
        return "\n".join([f"repository {repo.get('location')} id {str(repo.get('id', ''))[:16]} encryption {doc.get('encryption', {}).get('mode')}", *rows])
    except (ValueError, AttributeError, TypeError):
        return text


def _show_restic(text: str) -> str:
    try:
        rows = [f"snapshot {s.get('short_id')} time {s.get('time')} host {s.get('hostname')} paths {','.join(s.get('paths') or [])}" for s in _json_payload(text, "[")]
        return "\n".join(rows) or "(no snapshots)"
    except (ValueError, AttributeError, TypeError):
        return text


def repository_error(tool: str, repository: str, stderr: str, status: int) -> CollectError:
    """Why ``borg``/``restic`` could not list a repository, as a reason a report can show."""
    low = stderr.lower()
    first = next((line.strip() for line in stderr.splitlines() if line.strip()), f"exit status {status}")
    if status == 127 or ("no such file or directory" in low and f"'{tool}'" in low):
        return CollectError(Reason.NOT_FOUND, f"{tool} is not installed on the backup's server")
    if ("passphrase" in low and "incorrect" in low) or "wrong password" in low or "empty password" in low:
        return CollectError(Reason.AUTH_FAILED, f"the {tool} repository {repository} refused the declared password: {first}")
    if "permission denied" in low or "operation not permitted" in low or "a password is required" in low:
        return CollectError(Reason.PERMISSION_DENIED, f"{tool} could not read repository {repository}: {first}")
    if "does not exist" in low or "is not a valid repository" in low or "no such file or directory" in low or "is there a repository" in low:
        return CollectError(Reason.NOT_FOUND, f"{tool} repository {repository} not found: {first}")
    return CollectError(Reason.COMMAND_FAILED, f"{tool} could not list repository {repository} (exit status {status}): {first}")


def _password(ctx: Context) -> bytes | None:
    ref = ctx.target.get("password")
    return None if ref is None else ref.reveal().encode("utf-8")


def _listing(root: str, entries: list[dict[str, Any]], source: str, now: int, purpose: str) -> dict[str, Any]:
    return {"roots": [root], "entries": entries, "missing": [], "unreadable": [], "truncated": False, "now": now, "source": source, "purpose": purpose}


@collector("files.backup_listing", kinds=("backup",), timeout=120, reads=_reads, sudo_commands=_sudo_commands)
def backup_set_listing(ctx: Context) -> dict[str, Any]:
    kind = ctx.target.get("type")
    purpose = ctx.target.get("purpose", "backup")
    if kind == "s3":
        raise NotApplicable("S3 backups are audited by the AWS checks")
    if kind == "path":
        now = target_clock(ctx)  # first: beside the shared find, not after it
        listing = list_tree(ctx, [ctx.rooted(ctx.target.get("path"))])
        listing.update(now=now, source="find", purpose=purpose)
        return listing
    repository = ctx.target.get("repository")
    if kind == "borg":
        secret = _password(ctx)
        env = {"BORG_PASSPHRASE": (secret or b"").decode("utf-8"), "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes", "TZ": "UTC"}
        result = ctx.run(borg_argv(repository), ok=range(256), redact=_show_borg, env=env)
        if result.exit_status != 0:
            error = repository_error("borg", repository, result.error_text, result.exit_status)
            if error.reason is Reason.AUTH_FAILED and secret is None:
                raise CollectError(Reason.AUTH_FAILED, f"the borg repository {repository} is encrypted and backup {ctx.target.name} declares no password: (a secret reference)")
            if error.reason is Reason.AUTH_FAILED and ctx.host.get("sudo"):
                raise CollectError(Reason.AUTH_FAILED, error.message + " (through sudo, the passphrase reaches borg only if sudoers keeps it: Defaults env_keep += \"BORG_PASSPHRASE\"; see `auditor sudoers`)")
            raise error
        entries = parse_borg_list(result.text, repository)
        return {**_listing(repository, entries, "borg", target_clock(ctx), purpose), "encryption": parse_borg_encryption(result.text)}
    if kind == "restic":
        secret = _password(ctx)
        if secret is None:
            raise CollectError(Reason.CONFIG_ERROR, f"restic repositories are always encrypted: declare password: (a secret reference) for backup {ctx.target.name}")
        result = ctx.run(restic_argv(repository), ok=range(256), redact=_show_restic, input=secret + b"\n")
        if result.exit_status != 0:
            raise repository_error("restic", repository, result.error_text, result.exit_status)
        entries = parse_restic_snapshots(result.text, repository)
        # restic has no unencrypted mode: a repository that opens with the password is encrypted (AES-256-CTR, Poly1305-AES)
        return {**_listing(repository, entries, "restic", target_clock(ctx), purpose), "encryption": "restic"}
    raise CollectError(Reason.CONFIG_ERROR, f"backup type {kind!r} is not supported")
