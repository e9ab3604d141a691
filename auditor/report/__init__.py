"""Reports are views of the Run: every renderer reads the plain JSON form of
the run (exactly what ``run.json`` holds), so a stored run renders the same
as a fresh one, and no renderer computes a verdict.

All files of a report are written into a hidden temporary folder next to the
destination, then the folder is renamed into place: a reader never sees a
half-written report.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Callable, Iterable, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..integrity import MANIFEST, SIGNATURE, manifest_bytes, manifest_of, seal_document, signature_document
from ..model import Run, to_jsonable
from ..redact import mask_in_place
from .html import html_chunks, render_html
from .junit import render_junit
from .markdown import render_markdown

RENDERERS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "html": ("report.html", render_html),
    "junit": ("junit.xml", render_junit),
    "md": ("summary.md", render_markdown),
}
FORMATS = ("json", *RENDERERS)


def run_document(run: Run, lang: str = "en") -> dict[str, Any]:
    """The plain JSON form of a run, with every fact sealed (tool version + own digest).

    Every string in it has its credentials masked (:func:`auditor.redact.mask_in_place`):
    messages, details, values and notices, whichever check or transport wrote them.
    """
    doc = seal_document(mask_in_place(to_jsonable(run)))
    if doc.get("shard") is None:
        doc.pop("shard", None)  # an unsharded run's run.json is as before
    doc.setdefault("trend", [])
    doc["lang"] = lang
    return doc


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_chunks(doc: dict[str, Any]) -> Iterator[str]:
    """run.json, piece by piece: one top-level key a line, and one line per item of a
    list (a fact, a finding, a control...), each item compact. Valid JSON that
    ``grep`` reads a fact or a finding at a time from, and about a third smaller
    than an indented document (which repeats the nesting on every line)."""
    yield "{\n"
    for n, (key, value) in enumerate(doc.items()):
        yield ("" if n == 0 else ",\n") + _compact(key) + ":"
        if type(value) is list and value:
            yield "[\n"
            for i, item in enumerate(value):
                yield ("" if i == 0 else ",\n") + _compact(item)
            yield "\n]"
        else:
            yield _compact(value)
    yield "\n}\n"


def render_json(doc: dict[str, Any]) -> str:
    return "".join(json_chunks(doc))


def render_reports(doc: dict[str, Any], formats: tuple[str, ...] = FORMATS) -> dict[str, bytes]:
    """File name → content of the human and CI reports (not run.json, not the manifest)."""
    files = {}
    for fmt in formats:
        if fmt in RENDERERS:
            name, render = RENDERERS[fmt]
            files[name] = render(doc).encode("utf-8")
    return files


# Renderers that can hand their output over piece by piece (the large ones).
STREAMS: dict[str, Callable[[dict[str, Any]], Iterator[str]]] = {"run.json": json_chunks, "report.html": html_chunks}
CHUNK_BYTES = 1 << 16


def _encoded(pieces: Iterable[str], entry: dict[str, Any]) -> Iterator[bytes]:
    """``pieces`` as UTF-8 blocks of about CHUNK_BYTES; fills ``entry`` with the digest and size once exhausted."""
    digest, size, buffer, held = hashlib.sha256(), 0, [], 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= CHUNK_BYTES:
            block = "".join(buffer).encode("utf-8")
            digest.update(block)
            size += len(block)
            buffer, held = [], 0
            yield block
    block = "".join(buffer).encode("utf-8")
    digest.update(block)
    size += len(block)
    entry.update(sha256=digest.hexdigest(), bytes=size)
    yield block


def iter_files(doc: dict[str, Any], formats: tuple[str, ...] = FORMATS, signing_key: Ed25519PrivateKey | None = None) -> Iterator[tuple[str, Iterator[bytes]]]:
    """The files of a whole report folder, one at a time, each as blocks of bytes:
    run.json, the reports, the manifest (and its signature). A writer that writes
    each block as it comes holds neither the folder nor a whole large file in
    memory. Each file's blocks must be read before the next file is asked for."""
    entries: dict[str, dict[str, Any]] = {}
    renders: list[tuple[str, Callable[[dict[str, Any]], str]]] = [("run.json", render_json)]
    renders += [RENDERERS[fmt] for fmt in formats if fmt in RENDERERS]
    for name, render in renders:
        entry = entries[name] = {}
        stream = STREAMS.get(name)
        blocks = _encoded(stream(doc) if stream else (render(doc),), entry)
        yield name, blocks
        for _ in blocks:  # whatever the reader left unread still counts in the manifest
            pass
    manifest = manifest_bytes(manifest_of(doc, entries))
    yield MANIFEST, iter((manifest,))
    if signing_key is not None:
        yield SIGNATURE, iter((signature_document(manifest, signing_key),))


def render_files(doc: dict[str, Any], formats: tuple[str, ...] = FORMATS, signing_key: Ed25519PrivateKey | None = None) -> dict[str, bytes]:
    """File name → content of a whole report folder (see :func:`iter_files`)."""
    return {name: b"".join(blocks) for name, blocks in iter_files(doc, formats, signing_key)}


def write_report(doc: dict[str, Any], out_root: str, folder_name: str, formats: tuple[str, ...] = FORMATS, signing_key: Ed25519PrivateKey | None = None) -> str:
    """Write all files of one report atomically into ``out_root/folder_name``.

    Raises FileExistsError when that name is taken, whoever took it and
    however many processes write into ``out_root`` at once: the name is
    reserved by ``mkdir`` (atomic: exactly one process creates it), and the
    complete staging folder then replaces the empty reserved one in a single
    ``rename`` (POSIX lets a directory replace an empty one atomically). A
    reader sees either no folder, an empty one (no manifest: not a report),
    or the whole report.
    """
    final = os.path.join(out_root, folder_name)
    if os.path.lexists(final):  # the common case, cheaply; the mkdir below is what decides
        raise FileExistsError(final)
    os.makedirs(out_root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{folder_name}.", dir=out_root)
    try:
        for name, blocks in iter_files(doc, formats, signing_key):
            with open(os.path.join(staging, name), "wb") as fh:
                for block in blocks:
                    fh.write(block)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(staging, 0o750)
        os.mkdir(final)  # FileExistsError: the name is someone else's
        try:
            os.rename(staging, final)
        except BaseException:
            os.rmdir(final)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
