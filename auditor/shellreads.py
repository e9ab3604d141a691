"""The reads a server's collectors share: one ``find`` and one ``cat`` for all of them.

Collectors declare up front what they will read (:class:`Reads`: trees to
list, small files to read, folders whose files are read). Before any of
them runs, the runner merges the declarations of a target's collectors into
one :class:`SharedReads`. The first collector that needs a listing or a file
starts, concurrently on two channels of the target's one connection:

* ``find -H ROOT... -xdev -printf FORMAT``: type, mode, owner, group, size
  and mtime of every root and of everything below it (never the content),
  each record tagged with its starting point (``%H``) and NUL-separated, so
  no file name can forge a record or move a file to another root;
* ``cat -- FILE...``: the declared small files, always the same argument
  list for a server (a sudoers rule can name it exactly). The output is cut
  into files by the sizes the listing gives, never by anything in the
  content; if the lengths disagree (a file changed between the two reads)
  every file read is an error, never a guess.

Files of declared folders (``/etc/sudoers.d``) are read by one more ``cat``
once the listing has named them. Nothing here depends on the locale: the
listing is a format string; a root is absent when no record names it (find's
message, in English, says whether it is missing or unreadable; in any other
language it is unreadable, so a control errs rather than passes).

Each collector records only its own slice as evidence (the command, and the
lines or file it read), so a listing shared by four facts is stored once.
"""

from __future__ import annotations

import concurrent.futures
import posixpath
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .collect import execute
from .errors import CollectError
from .evidence import observation
from .model import Reason
from .transports.base import CommandResult

# find expands \t and \0 itself (an argv element cannot carry a NUL byte).
FIND_FORMAT = "%y\\t%Y\\t%m\\t%u\\t%g\\t%s\\t%T@\\0%H\\0%p\\0"
MAX_ENTRIES = 20000  # entries kept per root
MAX_FILE_BYTES = 4 * 1024 * 1024  # a "small file" larger than this is not read
_FIND_ERR = re.compile(r"^find: [‘'`\"«„](?P<path>.*)[’'`\"»“]: (?P<why>.*)$")
_MISSING = ("No such file or directory", "Not a directory")


@dataclass(frozen=True)
class Reads:
    """What one collector will read on a server (paths already under ``root_dir``)."""

    trees: tuple[str, ...] = ()  # listed recursively (metadata only)
    files: tuple[str, ...] = ()  # small files read whole (and listed)
    dirs: tuple[str, ...] = ()  # folders listed, and their files read on request


def merge(reads: Iterable[Reads]) -> Reads:
    files: dict[str, None] = {}
    dirs: dict[str, None] = {}
    trees: dict[str, None] = {}
    for r in reads:
        files.update(dict.fromkeys(_norm(p) for p in r.files))
        dirs.update(dict.fromkeys(_norm(p) for p in r.dirs))
        trees.update(dict.fromkeys(_norm(p) for p in r.trees))
    return Reads(tuple(trees), tuple(files), tuple(dirs))


def _norm(path: str) -> str:
    # find prints "dir/" and then "dir/file" for a root given as "dir/"
    return path.rstrip("/") or "/"


def listing_roots(reads: Reads, root: str = "") -> list[str]:
    """The starting points of the listing: ``root`` (the server's root_dir) first, then small files, folders, trees."""
    roots = list(dict.fromkeys([*reads.files, *reads.dirs, *reads.trees]))
    root = _norm(root) if root else ""
    return roots if not root or root in roots else [root, *roots]


def find_argv(reads: Reads, root: str = "") -> list[str]:
    """The one listing command: small files first, then folders, then trees (a cut listing loses trees first).

    ``root`` is the server's ``root_dir``: listed first and alone (pruned), so
    that its record, or find's message for it, says whether it exists at all.
    """
    roots = listing_roots(reads, root)
    if not root or _norm(root) in (*reads.files, *reads.dirs, *reads.trees):  # a declared root's own listing says it
        return ["find", "-H", *roots, "-xdev", "-printf", FIND_FORMAT]
    return ["find", "-H", *roots, "-xdev", "-path", _glob_literal(_norm(root)), "-prune", "-printf", FIND_FORMAT, "-o", "-printf", FIND_FORMAT]


def _glob_literal(path: str) -> str:
    """``path`` as a find -path pattern that matches only itself."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def cat_argv(files: Iterable[str]) -> list[str]:
    return ["cat", "--", *files]


@dataclass
class _Root:
    entries: list[dict[str, Any]]
    raw: bytearray
    errors: list[str]
    truncated: bool = False


def parse_listing(stdout: bytes, stderr: str, roots: list[str], cut: bool) -> dict[str, Any]:
    """The find output → per root: entries, raw bytes, error lines, truncated; plus lines naming no root."""
    per = {r: _Root([], bytearray(), []) for r in roots}
    parts = stdout.split(b"\0")
    complete = len(parts) - 1  # the last part follows the last NUL: empty, or a cut record
    last_root: str | None = None
    for i in range(0, complete - complete % 3, 3):
        meta, start, path = (p.decode("utf-8", "surrogateescape") for p in parts[i : i + 3])
        fields = meta.split("\t")
        root = per.get(start)
        if root is None or len(fields) != 7:
            raise CollectError(Reason.PARSE_ERROR, f"unexpected find output record: {meta[:80]!r} {path[:80]!r}")
        last_root = start
        if len(root.entries) >= MAX_ENTRIES:
            root.truncated = True
            continue
        kind, target_kind, mode, owner, group, size, mtime = fields
        try:
            root.entries.append({"type": kind, "target_type": target_kind, "mode": mode.zfill(4), "owner": owner, "group": group,
                                 "size": int(size), "mtime": int(float(mtime)), "path": path})
        except ValueError:
            raise CollectError(Reason.PARSE_ERROR, f"unexpected find output record: {meta[:80]!r}") from None
        root.raw += b"\0".join(parts[i : i + 3]) + b"\0"
    if cut:  # the output stopped early: the root being listed and every later one are incomplete
        later = False
        for r in roots:
            if r == last_root or last_root is None:
                later = True
            if later:
                per[r].truncated = True
    stray: list[str] = []
    for line in stderr.splitlines():
        line = line.strip()
        m = _FIND_ERR.match(line)
        named: str | None = None
        if m:
            path = m.group("path")
            named = next((r for r in sorted(roots, key=len, reverse=True) if path == r or path.startswith(r.rstrip("/") + "/")), None)
        if named is None:
            if line:
                stray.append(line)
            continue
        per[named].errors.append(line)
    return {"roots": per, "stray": stray}


def show_entries(entries: list[dict[str, Any]]) -> str:
    return "\n".join(f"{e['type']} {e['mode']} {e['owner']}:{e['group']} {e['size']:>10} {e['mtime']} {e['path']}" for e in entries)


class SharedReads:
    """The listing and file reads of one server, made once, for every collector of the target."""

    def __init__(self, conn: Any, reads: Reads, *, sudo: bool, user: str, timeout: float, root: str = ""):
        self.conn = conn
        self.reads = reads
        self.root = _norm(root) if root else ""  # the server's root_dir: every read below it needs it to exist
        self.sudo = sudo
        self.user = user
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._find: concurrent.futures.Future[CommandResult] | None = None
        self._cat: concurrent.futures.Future[CommandResult] | None = None
        self._parsed: dict[str, Any] | None = None
        self._contents: dict[str, bytes] | None = None
        self._dir_reads: dict[str, concurrent.futures.Future[dict[str, Any]]] = {}

    # -- the shared commands ------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._find is not None:
                return
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=3, thread_name_prefix="reads")
            deadline = time.monotonic() + self.timeout
            self._find = self._pool.submit(self._execute, find_argv(self.reads, self.root), deadline)
            if self.reads.files:
                self._cat = self._pool.submit(self._execute, cat_argv(self.reads.files), deadline)

    def _execute(self, argv: list[str], deadline: float) -> CommandResult:
        return execute(self.conn, argv, sudo=self.sudo, user=self.user, timeout=max(0.1, deadline - time.monotonic()))

    def _wait(self, future: concurrent.futures.Future[Any], ctx: Any) -> Any:
        try:
            return future.result(timeout=ctx.remaining())
        except concurrent.futures.TimeoutError:
            raise CollectError(Reason.TIMEOUT, "the shared listing of this server did not finish in time") from None

    def _listing(self, ctx: Any) -> tuple[CommandResult, dict[str, Any]]:
        self._start()
        assert self._find is not None
        result = self._wait(self._find, ctx)
        with self._lock:
            if self._parsed is None:
                roots = listing_roots(self.reads, self.root)
                if result.exit_status not in (0, 1):
                    raise CollectError(Reason.COMMAND_FAILED, f"`{result.display}` exited with status {result.exit_status}: {result.error_text.splitlines()[0] if result.error_text else 'no message'}")
                self._parsed = parse_listing(result.stdout, result.error_text, roots, result.truncated)
            return result, self._parsed

    def _root(self, ctx: Any, root: str) -> tuple[CommandResult, _Root, list[str]]:
        result, parsed = self._listing(ctx)
        entry = parsed["roots"].get(_norm(root))
        if entry is None:
            raise CollectError(Reason.BUG, f"{root} was not declared in the collector's reads")
        if self.root and (_norm(root) == self.root or _norm(root).startswith(self.root + "/")):
            self._require_root(ctx, result, parsed["roots"][self.root])
        return result, entry, parsed["stray"]

    def _require_root(self, ctx: Any, result: CommandResult, entry: _Root) -> None:
        """Nothing below root_dir is judged unless root_dir itself was listed, as a folder (absent is not "no files")."""
        top = next((e for e in entry.entries if e["path"] == self.root), None)
        if top is not None and top["type"] == "d":
            return
        ctx.evidence.append(observation("command", result.display, show_entries([top]) if top else "", at=result.started_at, exit_status=result.exit_status,
                                        argv=result.argv, duration_ms=result.duration_ms, note="\n".join(f"[stderr] {line}" for line in entry.errors[:5])))
        why = next((m.group("why") for line in entry.errors if (m := _FIND_ERR.match(line)) and m.group("path") == self.root), None)
        if top is not None:
            raise CollectError(Reason.NOT_FOUND, f"root_dir {self.root} is not a directory (find lists it as type {top['type']}): no file under it can be judged")
        if why is not None and any(x in why for x in _MISSING):
            raise CollectError(Reason.NOT_FOUND, f"root_dir {self.root} does not exist on this server ({why}): no file under it can be judged")
        raise CollectError(Reason.PERMISSION_DENIED, f"root_dir {self.root} could not be examined ({why or 'no listing record'}): no file under it can be judged")

    # -- what collectors ask for -------------------------------------------------------

    def listing(self, ctx: Any, root: str) -> dict[str, Any]:
        """The listing of ``root`` as ``{roots, entries, missing, unreadable, truncated}``; its slice becomes ctx's evidence."""
        result, entry, stray = self._root(ctx, root)
        root = _norm(root)
        note = "\n".join(f"[stderr] {line}" for line in entry.errors[:20])
        ctx.evidence.append(observation("command", result.display, show_entries(entry.entries), raw=bytes(entry.raw), at=result.started_at,
                                        exit_status=result.exit_status, argv=result.argv, duration_ms=result.duration_ms, truncated=entry.truncated, note=note))
        if stray:
            raise CollectError(Reason.COMMAND_FAILED, f"`find` failed: {stray[0]}")
        missing: list[str] = []
        unreadable: list[str] = []
        for line in entry.errors:
            m = _FIND_ERR.match(line)
            if m is None:
                continue
            (missing if any(x in m.group("why") for x in _MISSING) and m.group("path") == root else unreadable).append(m.group("path"))
        if not entry.entries and root not in missing and root not in unreadable:
            unreadable.append(root)  # no record and no message: not seen, so not judged
        return {"roots": [root], "entries": entry.entries, "missing": missing, "unreadable": unreadable, "truncated": entry.truncated}

    def file(self, ctx: Any, path: str, *, redact: Callable[[str], str] | None = None) -> str | None:
        """The content of a declared small file, or None when it does not exist."""
        path = _norm(path)
        if path not in self.reads.files:
            raise CollectError(Reason.BUG, f"{path} was not declared in the collector's reads")
        listing = self.listing_quiet(ctx, path)
        if path in listing["missing"]:  # the evidence of absence: the listing's word for it
            result, entry, _ = self._root(ctx, path)
            ctx.evidence.append(observation("command", result.display, f"{path}: not present", at=result.started_at, exit_status=result.exit_status,
                                            argv=result.argv, duration_ms=result.duration_ms, note="\n".join(f"[stderr] {line}" for line in entry.errors[:5])))
            return None
        if listing["unreadable"] or not listing["entries"]:
            raise CollectError(Reason.PERMISSION_DENIED, f"{path} could not be examined: {listing['errors'][0] if listing['errors'] else 'no listing record'}")
        contents = self._cat_contents(ctx)
        if path not in contents:  # listed, but not as a regular file: cat's bytes for it were not counted
            listed = next((e for e in listing["entries"] if e["path"] == path), None)
            kind = {"l": "a symbolic link whose target does not exist", "d": "a folder"}.get(listed["type"] if listed else "", f"not a regular file (type {listed['type'] if listed else '?'})")
            raise CollectError(Reason.COMMAND_FAILED, f"{path} is {kind}: it cannot be read as a file")
        return self._record_file(ctx, self._cat_result(ctx), path, contents[path], redact)

    def listing_quiet(self, ctx: Any, path: str) -> dict[str, Any]:
        _, entry, _ = self._root(ctx, path)
        missing = [path for line in entry.errors if (m := _FIND_ERR.match(line)) and m.group("path") == path and any(x in m.group("why") for x in _MISSING)]
        return {"entries": entry.entries, "missing": missing, "unreadable": [] if entry.entries or missing else [path], "errors": entry.errors}

    def folder_files(self, ctx: Any, folder: str) -> list[dict[str, Any]] | None:
        """Entries directly inside a declared folder (None when the folder does not exist); records the folder's listing."""
        listing = self.listing(ctx, folder)
        folder = _norm(folder)
        if folder in listing["missing"]:
            return None
        if listing["unreadable"]:
            raise CollectError(Reason.PERMISSION_DENIED, f"could not list {folder}: {', '.join(listing['unreadable'][:5])}")
        return [e for e in listing["entries"] if posixpath.dirname(e["path"]) == folder and e["path"] != folder]

    def read_folder_files(self, ctx: Any, folder: str, entries: list[dict[str, Any]], *, redact: Callable[[str], str] | None = None) -> dict[str, str]:
        """Read the given entries of a folder (regular files in one ``cat``; a symbolic link alone)."""
        folder = _norm(folder)
        with self._lock:
            future = self._dir_reads.get(folder)
            if future is None:
                assert self._pool is not None
                future = self._dir_reads[folder] = self._pool.submit(self._read_batch, entries, time.monotonic() + max(1.0, ctx.remaining()))
        batch = self._wait(future, ctx)
        out: dict[str, str] = {}
        for result, contents in batch["reads"]:
            for path, data in contents.items():
                out[path] = self._record_file(ctx, result, path, data, redact)
        return out

    def _read_batch(self, entries: list[dict[str, Any]], deadline: float) -> dict[str, Any]:
        plain = [e for e in entries if e["type"] == "f"]
        reads: list[tuple[CommandResult, dict[str, bytes]]] = []
        if plain:
            result = self._execute(cat_argv(e["path"] for e in plain), deadline)
            reads.append((result, split_by_sizes(result, [(e["path"], e["size"]) for e in plain])))
        for e in entries:
            if e["type"] == "l":  # its size is the link's, not the file's: read it alone
                result = self._execute(cat_argv([e["path"]]), deadline)
                if result.exit_status != 0:
                    raise CollectError(Reason.COMMAND_FAILED, f"`{result.display}` exited with status {result.exit_status}: {result.error_text[:200]}")
                reads.append((result, {e["path"]: result.stdout}))
        return {"reads": reads}

    def _cat_result(self, ctx: Any) -> CommandResult:
        assert self._cat is not None
        return self._wait(self._cat, ctx)

    def _cat_contents(self, ctx: Any) -> dict[str, bytes]:
        result = self._cat_result(ctx)
        _, parsed = self._listing(ctx)
        with self._lock:
            if self._contents is None:
                sizes = []
                for path in self.reads.files:
                    entries = parsed["roots"][path].entries
                    root_entry = next((e for e in entries if e["path"] == path), None)
                    if root_entry is not None and root_entry["type"] == "f":
                        if root_entry["size"] > MAX_FILE_BYTES:
                            raise CollectError(Reason.COMMAND_FAILED, f"{path} is {root_entry['size']} bytes, more than the {MAX_FILE_BYTES} a small file may have")
                        sizes.append((path, root_entry["size"]))
                self._contents = split_by_sizes(result, sizes, partial_ok=True)
            return self._contents

    def _record_file(self, ctx: Any, result: CommandResult, path: str, data: bytes, redact: Callable[[str], str] | None) -> str:
        text = data.decode("utf-8", "replace")
        shown = redact(text) if redact is not None else text
        ctx.evidence.append(observation("file", path, shown, raw=data, redacted=redact is not None, at=result.started_at,
                                        exit_status=result.exit_status, argv=result.argv, duration_ms=result.duration_ms))
        return text

    def close(self) -> None:
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def split_by_sizes(result: CommandResult, sizes: list[tuple[str, int]], *, partial_ok: bool = False) -> dict[str, bytes]:
    """``cat`` output → each file's bytes, by the sizes the listing gave (content cannot move a boundary).

    ``partial_ok``: files absent from ``sizes`` were in argv too (cat said so
    on stderr; exit status 1 is expected then).
    """
    if result.exit_status not in ((0, 1) if partial_ok else (0,)):
        raise CollectError(Reason.COMMAND_FAILED, f"`{result.display}` exited with status {result.exit_status}: {result.error_text[:200] or 'no message'}")
    expected = sum(size for _, size in sizes)
    if len(result.stdout) != expected or result.truncated:
        named = [line for line in result.error_text.splitlines() if any(path in line for path, _ in sizes)]
        if named:  # a file the listing saw that cat could not read (as this account)
            raise CollectError(Reason.PERMISSION_DENIED, f"`{result.display}` could not read a listed file: {named[0]}")
        raise CollectError(Reason.COMMAND_FAILED, f"`{result.display}` printed {len(result.stdout)} bytes where the listing announced {expected}: "
                           "a file changed between listing and reading (or could not be read); run the audit again")
    out, at = {}, 0
    for path, size in sizes:
        out[path] = result.stdout[at : at + size]
        at += size
    return out


