"""Report folders under ``--out``: naming, the ``latest`` link, finding the
previous run and pruning old ones (``--keep N``).

Only folders that auditor itself wrote are ever considered: a name of the form
``20261121T101500Z`` (optionally ``-2``...) that holds a ``manifest.json``.
Anything else in the folder is left alone.

>>> is_report_name("20261121T101500Z"), is_report_name("20261121T101500Z-3"), is_report_name("notes")
(True, True, False)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from typing import Callable, Iterator

from .integrity import MANIFEST

LATEST = "latest"
LOCK = ".auditor.lock"
_NAME = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d{1,2}))?$")


def is_report_name(name: str) -> bool:
    return bool(_NAME.match(name))


def _order(name: str) -> tuple[str, int]:
    m = _NAME.match(name)
    return (m.group(1), int(m.group(2) or 1)) if m else (name, 0)


def report_folders(out_root: str) -> list[str]:
    """Paths of auditor's report folders in ``out_root``, oldest first."""
    try:
        names = os.listdir(out_root)
    except FileNotFoundError:
        return []
    found = [n for n in names if is_report_name(n) and os.path.isfile(os.path.join(out_root, n, MANIFEST)) and not os.path.islink(os.path.join(out_root, n))]
    return [os.path.join(out_root, n) for n in sorted(found, key=_order)]


def newest_report(out_root: str) -> str | None:
    folders = report_folders(out_root)
    return folders[-1] if folders else None


def unusable_out(out_root: str) -> str | None:
    """Why ``out_root`` cannot receive report folders (checked before anything is audited), or None.

    It must be a folder we may create entries in, or not exist yet under a
    folder where it can be created. A real probe (a hidden folder made and
    removed at once) settles what permission bits cannot: root on a read-only
    file system or in /proc, ACLs.
    """
    path = os.path.abspath(out_root)
    if os.path.exists(path) and not os.path.isdir(path):
        return f"{out_root}: is not a folder; --out names the folder that receives the report folders"
    where = path
    while not os.path.exists(where):
        where = os.path.dirname(where)
    if not os.path.isdir(where):
        return f"{out_root}: cannot be created: {where} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".auditor-probe-", dir=where))
    except OSError as exc:
        doing = "write report folders into it" if where == path else f"be created in {where}"
        return f"{out_root}: cannot {doing}: {exc.strerror or exc}"
    return None


def write_with_free_name(out_root: str, stamp: str, write: Callable[[str], str]) -> str:
    """Call ``write(name)`` with ``stamp``, then ``stamp-2``... until the name is free."""
    for n in range(1, 100):
        name = stamp if n == 1 else f"{stamp}-{n}"
        try:
            return write(name)
        except FileExistsError:
            continue
    raise RuntimeError(f"could not find a free report folder name under {out_root}")


@contextlib.contextmanager
def out_lock(out_root: str) -> Iterator[None]:
    """Hold the lock of ``out_root`` (``flock`` on its ``.auditor.lock``): one process at a time
    moves ``latest`` or prunes, however many runs write into the folder at once."""
    fd = os.open(os.path.join(out_root, LOCK), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def point_latest(out_root: str, folder: str) -> None:
    """Make ``out_root/latest`` a relative symlink to the newest report folder, replaced atomically.

    Under :func:`out_lock`, and to the newest folder rather than the caller's
    own: when runs finish together, the last to move the link sees every
    folder written before it, so ``latest`` ends at the newest whatever the
    order in which they got there. ``folder`` is the fallback when no folder
    holds a manifest (it always does after :func:`write_report`).
    """
    link = os.path.join(out_root, LATEST)
    with out_lock(out_root):
        if os.path.exists(link) and not os.path.islink(link):
            return  # somebody's own file or folder called "latest": leave it
        newest = newest_report(out_root) or folder
        tmp = os.path.join(out_root, f".{LATEST}.{os.getpid()}")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.path.basename(newest), tmp)
        os.replace(tmp, link)


def prune(out_root: str, keep: int, protect: str | None = None) -> list[str]:
    """Remove all but the newest ``keep`` report folders; returns the removed paths.

    ``protect`` (the folder just written) is never removed. Under
    :func:`out_lock`: two runs pruning at once never remove the same folder.
    """
    with out_lock(out_root):
        folders = report_folders(out_root)
        doomed = folders[:-keep] if keep > 0 else folders
        removed = []
        for path in doomed:
            if protect and os.path.abspath(path) == os.path.abspath(protect):
                continue
            shutil.rmtree(path)
            removed.append(path)
    return removed
