"""Opt-in cross-check with a peer: sslyze and auditor on the same real nginx sites must agree.

Runs only when sslyze is available: importable in this Python, or through
the Python named by ``AUDITOR_SSLYZE_PYTHON`` (e.g. the virtual environment
``bench/tls.py`` creates: ``~/.cache/auditor-bench/sslyze-venv/bin/python``).
The default suite never depends on sslyze. What is compared, and why the
key-size verdict is left out of the comparison, is in bench/tls.py and
bench/results-tls.md.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from typing import Iterator

import pytest

import tls_rig
from harness import ensure_packages

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _sslyze_python() -> str | None:
    named = os.environ.get("AUDITOR_SSLYZE_PYTHON")
    if named:
        return named
    return sys.executable if importlib.util.find_spec("sslyze") is not None else None


SSLYZE = _sslyze_python()
pytestmark = [pytest.mark.integration, pytest.mark.skipif(SSLYZE is None, reason="sslyze is not installed (opt-in: pip install sslyze, or set AUDITOR_SSLYZE_PYTHON)")]


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[tls_rig.PKI, dict[str, tls_rig.Site], str]]:
    ensure_packages("nginx", "openssl", programs=("nginx", "openssl"))
    folder = tls_rig.make_folder("auditor-tls-sslyze-")
    pki = tls_rig.PKI(os.path.join(folder, "pki"))
    planted = {s.name: s for s in tls_rig.web_sites(pki)}
    nginx = tls_rig.Nginx(os.path.join(folder, "nginx"), list(planted.values())).start()
    try:
        yield pki, planted, folder
    finally:
        nginx.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_sslyze_and_auditor_agree_on_protocols_and_certificates(sites: tuple[tls_rig.PKI, dict[str, tls_rig.Site], str]) -> None:
    sys.path.insert(0, BENCH)
    import tls as bench  # bench/tls.py

    pki, planted, folder = sites
    rig = tls_rig.Rig(folder, pki, planted)
    inventory = bench.write_inventory(os.path.join(folder, "inventory.yaml"), rig, list(planted.values()), [])
    reports = os.path.join(folder, "reports")
    os.makedirs(reports)
    _, run = bench.run_auditor(inventory, bench.PROTOCOL_AND_CERT, ",".join(planted), reports, 16)
    endpoints = [{"name": s.name, "host": tls_rig.LOOPBACK, "port": s.https_port, "server_name": s.server_name} for s in planted.values()]
    _, theirs = bench.run_sslyze(SSLYZE, pki.ca_bundle, endpoints)

    rows = {r["site"]: r for r in bench.compare(bench.auditor_view(run), theirs, list(planted))}

    for name, r in rows.items():
        assert r["protocols_agree"], (name, r["ours_protocols"], r["sslyze_protocols"])
        assert r["same_leaf"] and r["key_agree"] and r["hash_agree"], name
        assert r["verdict_agree"], (name, r["ours_controls"], r["sslyze_error"])
    assert rows["old-protocols"]["sslyze_protocols"] == ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    # sslyze's path validation does not judge key size; auditor's TLS-CERT-KEY-STRENGTH does.
    assert rows["rsa1024"]["sslyze_accepts"] is True and rows["rsa1024"]["ours_controls"]["TLS-CERT-KEY-STRENGTH"] == "fail"
