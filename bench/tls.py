"""TLS benchmark: auditor against sslyze on the same real nginx endpoints.

The TLS test rig (``tests/tls_rig.py``) makes its test PKI and starts one
real nginx with the planted sites (good, TLS 1.0/1.1 enabled, expired,
expiring, self-signed, wrong name, RSA-1024, SHA-1, no HSTS, short HSTS, EC)
plus N identical "good" listeners for the timing at scale. Then:

1. **Agreement**: both tools scan the planted sites; per site we compare the
   accepted protocol versions, the leaf certificate each received (SHA-256),
   its key and signature hash, and the certificate verdict. sslyze 6 gives
   one verdict (path validation with ``cryptography``'s web-PKI verifier,
   hostname, key size, signature hash and validity included); auditor gives
   one per control, so the verdict compared is TLS-CERT-TRUSTED and
   -HOSTNAME and -SIGNATURE and "not expired" (what a path validation
   covers); key sizes are compared as observed. Any disagreement is printed
   and must be explained in the results file.
2. **Timing**: wall time of ``python -m auditor run --only
   TLS-PROTOCOLS,TLS-CERT-*`` (a child process, Python start-up included) and
   of sslyze (its protocol cipher-suite scans + certificate info, also a
   child process) on the planted sites and on N endpoints (default 100);
   auditor also with every web control (HSTS, redirect) on the N endpoints.

sslyze lives in a virtual environment of its own (created with ``pip
install sslyze`` on first use, default ``~/.cache/auditor-bench/sslyze-venv``)
so that its pinned ``cryptography`` never replaces the project's.

Run as root on Debian/Ubuntu (apt-get installs nginx when missing)::

    python bench/tls.py                        # writes bench/results-tls.md
    python bench/tls.py --endpoints 200 --out /tmp/tls.md
    python bench/tls.py --skip-sslyze-scale    # sslyze only on the planted sites

``bench/results-tls.md`` keeps everything outside its generated block (the
written discussion) when regenerated.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import ssl
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, REPO)

import tls_rig  # noqa: E402 - tests/tls_rig.py, importable without pytest

BEGIN, END = "<!-- bench:tls:begin -->", "<!-- bench:tls:end -->"
DEFAULT_VENV = os.path.expanduser("~/.cache/auditor-bench/sslyze-venv")
PROTOCOL_AND_CERT = "TLS-PROTOCOLS,TLS-CERT-*"
WEB_CONTROLS = "TLS-PROTOCOLS,TLS-CERT-*,TLS-WEB-*"


def ensure_nginx() -> None:
    if tls_rig.which("nginx") and tls_rig.which("openssl"):
        return
    import harness  # tests/harness.py: apt-get with the packages' own services kept from starting

    harness.ensure_packages("nginx", "openssl", programs=("nginx", "openssl"))


def sslyze_python(venv: str) -> str:
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python):
        probe = subprocess.run([python, "-c", "import sslyze"], capture_output=True, check=False)
        if probe.returncode == 0:
            return python
    print(f"creating {venv} with sslyze (pip install sslyze) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "sslyze"], check=True)
    return python


def write_inventory(path: str, rig: tls_rig.Rig, sites: list[tls_rig.Site], bench_ports: list[int]) -> str:
    ca = rig.pki.ca_bundle
    web = [
        {"name": s.name, "url": f"https://{tls_rig.LOOPBACK}:{s.https_port}/", "sni": s.server_name, "ca_bundle": ca, "http_url": f"http://{tls_rig.LOOPBACK}:{s.http_port}/"}
        for s in sites
    ]
    good = rig.sites["good"]
    web += [
        {"name": f"bench-{i:03d}", "url": f"https://{tls_rig.LOOPBACK}:{port}/", "sni": "good.test", "ca_bundle": ca, "http_url": f"http://{tls_rig.LOOPBACK}:{good.http_port}/"}
        for i, port in enumerate(bench_ports)
    ]
    import yaml

    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "name": "tls-bench", "web": web}, fh, sort_keys=False)
    return path


def run_auditor(inventory: str, only: str, limit: str, out: str, concurrency: int) -> tuple[float, dict[str, Any]]:
    argv = [sys.executable, "-m", "auditor", "run", inventory, "--only", only, "--limit", limit, "--format", "json", "--out", out, "--concurrency", str(concurrency), "--quiet", "--fail-on", "none"]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)
    seconds = time.monotonic() - t0
    if proc.returncode not in (0, 1, 3):
        raise RuntimeError(f"auditor exited {proc.returncode}: {proc.stderr or proc.stdout}")
    folder = max((os.path.join(out, d) for d in os.listdir(out) if not d.startswith(".")), key=os.path.getmtime)
    with open(os.path.join(folder, "run.json"), encoding="utf-8") as fh:
        return seconds, json.load(fh)


def run_sslyze(python: str, ca: str, endpoints: list[dict[str, Any]], concurrency: int | None = None) -> tuple[float, dict[str, Any]]:
    job = {"ca_file": ca, "endpoints": endpoints, **({"concurrency": concurrency} if concurrency else {})}
    t0 = time.monotonic()
    proc = subprocess.run([python, os.path.join(HERE, "sslyze_scan.py")], input=json.dumps(job), capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"sslyze driver failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, json.loads(proc.stdout)


def auditor_view(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per target name: accepted versions, leaf, per-control statuses, from run.json."""
    out: dict[str, dict[str, Any]] = {}
    for f in run["facts"]:
        name = f["target"].split(":", 1)[1]
        rec = out.setdefault(name, {"controls": {}})
        if f["name"] == "tls.protocols" and f["status"] == "ok":
            rec["accepted"] = f["value"]["endpoints"][0]["accepted"]
        if f["name"] == "tls.certificates" and f["status"] == "ok":
            ep = f["value"]["endpoints"][0]
            leaf = (ep.get("chain") or [{}])[0]
            rec["leaf"] = {k: leaf.get(k) for k in ("sha256", "key_type", "key_bits", "signature_hash", "not_after")}
            rec["verify_error"] = ep.get("verify_error")
            rec["checked_at"] = f["value"]["checked_at"]
    for finding in run["findings"]:
        out.setdefault(finding["target"].split(":", 1)[1], {"controls": {}})["controls"][finding["control"]] = (finding["status"], finding["message"])
    return out


def compare(ours: dict[str, dict[str, Any]], theirs: dict[str, Any], names: list[str]) -> list[dict[str, Any]]:
    rows = []
    now = datetime.datetime.now(datetime.timezone.utc)
    for name in names:
        a, b = ours.get(name, {}), theirs["endpoints"].get(name, {})
        bc = b.get("certificate", {})
        controls = a.get("controls", {})
        status = {c: controls.get(c, ("?", ""))[0] for c in ("TLS-CERT-TRUSTED", "TLS-CERT-HOSTNAME", "TLS-CERT-KEY-STRENGTH", "TLS-CERT-SIGNATURE", "TLS-CERT-EXPIRY")}
        expired = a.get("leaf", {}).get("not_after", "9") < (a.get("checked_at") or now.isoformat())
        # What sslyze's path validation covers: chain to the CA, name, validity period, signature algorithm.
        combined = all(status[c] == "pass" for c in ("TLS-CERT-TRUSTED", "TLS-CERT-HOSTNAME", "TLS-CERT-SIGNATURE")) and not expired
        leaf_a = a.get("leaf", {})
        rows.append({
            "site": name,
            "ours_protocols": a.get("accepted"),
            "sslyze_protocols": b.get("accepted"),
            "protocols_agree": a.get("accepted") == b.get("accepted"),
            "same_leaf": bool(leaf_a.get("sha256")) and leaf_a.get("sha256") == bc.get("sha256"),
            "key_agree": (leaf_a.get("key_type"), leaf_a.get("key_bits")) == (bc.get("key_type"), bc.get("key_bits")),
            "key": f"{leaf_a.get('key_type')} {leaf_a.get('key_bits')}",
            "hash": leaf_a.get("signature_hash"),
            "hash_agree": leaf_a.get("signature_hash") == bc.get("signature_hash"),
            "ours_controls": status,
            "ours_verify_error": a.get("verify_error"),
            "ours_accepts": combined,
            "sslyze_accepts": bc.get("validated"),
            "sslyze_error": bc.get("validation_error"),
            "verdict_agree": combined == bc.get("validated"),
            "ours_trusted_vs_sslyze": (status["TLS-CERT-TRUSTED"] == "pass") == bc.get("validated"),
        })
    return rows


def _tool_versions(sslyze_py: str | None) -> dict[str, str]:
    versions = {"python": platform.python_version(), "openssl (python)": ssl.OPENSSL_VERSION}
    nginx = tls_rig.which("nginx")
    if nginx:
        versions["nginx"] = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr.strip().split("/")[-1]
    if sslyze_py:
        versions["sslyze"] = subprocess.run([sslyze_py, "-c", "import importlib.metadata as m; print(m.version('sslyze'), 'nassl', m.version('nassl'), 'cryptography', m.version('cryptography'))"], capture_output=True, text=True, check=False).stdout.strip()
    return versions


def render(rows: list[dict[str, Any]], timings: list[tuple[str, int, str, float]], versions: dict[str, str], load: tuple[float, float, float]) -> str:
    lines = [BEGIN, "", f"Generated by `python bench/tls.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end.", ""]
    lines.append("Versions: " + "; ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    lines += ["", "### Agreement on the planted nginx sites", "",
              "| site | accepted (auditor) | accepted (sslyze) | same leaf | key, hash (both) | auditor: trusted, hostname, key, signature, expiry | auditor: chain + name + validity + hash | sslyze: path validation | agree |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["ours_controls"]
        controls = ", ".join(c[k] for k in ("TLS-CERT-TRUSTED", "TLS-CERT-HOSTNAME", "TLS-CERT-KEY-STRENGTH", "TLS-CERT-SIGNATURE", "TLS-CERT-EXPIRY"))
        sslyze_v = "valid" if r["sslyze_accepts"] else f"invalid: {str(r['sslyze_error'])[:90]}"
        agree = "yes" if r["protocols_agree"] and r["same_leaf"] and r["key_agree"] and r["hash_agree"] and r["verdict_agree"] else "**no**"
        lines.append(
            f"| {r['site']} | {', '.join(r['ours_protocols'] or [])} | {', '.join(r['sslyze_protocols'] or [])} | {'yes' if r['same_leaf'] else '**no**'} | "
            f"{r['key'] + ', ' + str(r['hash']) if r['key_agree'] and r['hash_agree'] else '**differs**'} | {controls} | {'valid' if r['ours_accepts'] else 'invalid'} | {sslyze_v} | {agree} |"
        )
    lines += ["", "### Timing (wall time of each tool as a child process, Python start-up included)", "",
              "| endpoints | tool | checks | seconds |", "|---|---|---|---|"]
    for what, n, tool, seconds in timings:
        lines.append(f"| {n} | {tool} | {what} | {seconds:.2f} |")
    lines += ["", END]
    return "\n".join(lines)


def write_results(path: str, block: str) -> None:
    text = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = (text.rstrip() + "\n\n" if text else "# TLS benchmark: auditor and sslyze\n\n") + block + "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=100, help="identical good endpoints for the timing at scale (default 100)")
    parser.add_argument("--concurrency", type=int, default=50, help="auditor --concurrency for the timing at scale (default 50)")
    parser.add_argument("--sslyze-venv", default=DEFAULT_VENV, help=f"virtual environment holding sslyze (default {DEFAULT_VENV})")
    parser.add_argument("--skip-sslyze", action="store_true", help="time auditor only")
    parser.add_argument("--skip-sslyze-scale", action="store_true", help="run sslyze on the planted sites only")
    parser.add_argument("--out", default=os.path.join(HERE, "results-tls.md"))
    args = parser.parse_args()

    ensure_nginx()
    sslyze_py = None if args.skip_sslyze else sslyze_python(args.sslyze_venv)
    folder = tls_rig.make_folder("auditor-tls-bench-")
    rig = None
    try:
        pki = tls_rig.PKI(os.path.join(folder, "pki"))
        sites = {s.name: s for s in tls_rig.web_sites(pki)}
        nginx = tls_rig.Nginx(os.path.join(folder, "nginx"), list(sites.values()), extra_ports=args.endpoints, extra_leaf=sites["good"].leaf).start()
        rig = tls_rig.Rig(folder, pki, sites, nginx=nginx)
        inventory = write_inventory(os.path.join(folder, "inventory.yaml"), rig, list(sites.values()), nginx.extra_ports)
        reports = os.path.join(folder, "reports")
        os.makedirs(reports)
        planted = list(sites)
        timings: list[tuple[str, int, str, float]] = []

        # Warm-up (page cache, nginx workers), not timed.
        run_auditor(inventory, PROTOCOL_AND_CERT, "good", reports, 4)

        seconds, run = run_auditor(inventory, PROTOCOL_AND_CERT, ",".join(planted), reports, 16)
        timings.append(("protocols + certificate", len(planted), "auditor", seconds))
        ours = auditor_view(run)
        rows: list[dict[str, Any]] = []
        if sslyze_py:
            endpoints = [{"name": s.name, "host": tls_rig.LOOPBACK, "port": s.https_port, "server_name": s.server_name} for s in sites.values()]
            seconds, theirs = run_sslyze(sslyze_py, pki.ca_bundle, endpoints)
            timings.append(("protocols (cipher suites per version) + certificate", len(planted), "sslyze", seconds))
            rows = compare(ours, theirs, planted)

        bench = ",".join(f"bench-{i:03d}" for i in range(args.endpoints))
        seconds, run = run_auditor(inventory, PROTOCOL_AND_CERT, bench, reports, args.concurrency)
        bad = [f for f in run["findings"] if f["status"] != "pass"]
        if bad:
            raise RuntimeError(f"{len(bad)} findings on the bench endpoints are not pass: {bad[:3]}")
        timings.append((f"protocols + certificate (--concurrency {args.concurrency})", args.endpoints, "auditor", seconds))
        seconds, run = run_auditor(inventory, WEB_CONTROLS, bench, reports, args.concurrency)
        timings.append((f"every web control: + HSTS, http redirect (--concurrency {args.concurrency})", args.endpoints, "auditor", seconds))
        if sslyze_py and not args.skip_sslyze_scale:
            endpoints = [{"name": f"bench-{i:03d}", "host": tls_rig.LOOPBACK, "port": p, "server_name": "good.test"} for i, p in enumerate(nginx.extra_ports)]
            seconds, theirs = run_sslyze(sslyze_py, pki.ca_bundle, endpoints)
            timings.append(("protocols (cipher suites per version) + certificate", args.endpoints, "sslyze", seconds))

        block = render(rows, timings, _tool_versions(sslyze_py), os.getloadavg())
        write_results(args.out, block)
        print(block)
        disagreements = [r for r in rows if not (r["protocols_agree"] and r["same_leaf"] and r["key_agree"] and r["hash_agree"] and r["verdict_agree"])]
        if disagreements:
            print(f"\n{len(disagreements)} disagreement(s): {[r['site'] for r in disagreements]}", file=sys.stderr)
        return 0
    finally:
        if rig is not None:
            rig.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
