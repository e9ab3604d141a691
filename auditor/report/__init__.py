"""Reports are views of the Run: every renderer reads the plain JSON form of
the run (exactly what ``run.json`` holds), so a stored run renders the same
as a fresh one, and no renderer computes a verdict.

All files of a report are written into a hidden temporary folder next to the
destination, then the folder is renamed into place: a reader never sees a
half-written report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..integrity import MANIFEST, SIGNATURE, build_manifest, manifest_bytes, seal_document, signature_document
from ..model import Run, to_jsonable
from .html import render_html
from .junit import render_junit
from .markdown import render_markdown

RENDERERS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "html": ("report.html", render_html),
    "junit": ("junit.xml", render_junit),
    "md": ("summary.md", render_markdown),
}
FORMATS = ("json", *RENDERERS)


def run_document(run: Run, lang: str = "en") -> dict[str, Any]:
    """The plain JSON form of a run, with every fact sealed (tool version + own digest)."""
    doc = seal_document(to_jsonable(run))
    doc.setdefault("trend", [])
    doc["lang"] = lang
    return doc


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def render_reports(doc: dict[str, Any], formats: tuple[str, ...] = FORMATS) -> dict[str, bytes]:
    """File name → content of the human and CI reports (not run.json, not the manifest)."""
    files = {}
    for fmt in formats:
        if fmt in RENDERERS:
            name, render = RENDERERS[fmt]
            files[name] = render(doc).encode("utf-8")
    return files


def render_files(doc: dict[str, Any], formats: tuple[str, ...] = FORMATS, signing_key: Ed25519PrivateKey | None = None) -> dict[str, bytes]:
    """File name → content of a whole report folder: run.json, the reports, the manifest (and its signature)."""
    files = {"run.json": render_json(doc).encode("utf-8"), **render_reports(doc, formats)}
    manifest = manifest_bytes(build_manifest(doc, files))
    files[MANIFEST] = manifest
    if signing_key is not None:
        files[SIGNATURE] = signature_document(manifest, signing_key)
    return files


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
    files = render_files(doc, formats, signing_key)
    os.makedirs(out_root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{folder_name}.", dir=out_root)
    try:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as fh:
                fh.write(data)
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
