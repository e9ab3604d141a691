"""How large is report.html at fleet size, how long it takes to render, and how long Chromium takes to show its first screen.

Builds constructed runs of N servers (default 200 and 1000): from a real fleet
run.json when given (``--from RUN.json``: its server targets, findings and
facts replicated with distinct ids, names and addresses), else from the
shipped example's server targets. Renders report.html, times it, and times
headless Chromium (Debian's ``chromium``, as tests/test_browser.py) taking a
screenshot of the first screen, against the same for a near-empty page (the
browser's own start-up).

Usage: python bench/report_size.py [--from RUN.json] [--chromium] [N ...]
"""
from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Mapping

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from auditor.merge import summarise  # noqa: E402
from auditor.report.html import render_html  # noqa: E402

EXAMPLE = os.path.join(ROOT, "reports", "examples", "20261121T030004Z", "run.json")


def newest_fleet_run() -> str | None:
    """The newest run.json of a 200-host fleet benchmark (bench/fleet.py --keep), if one is on this machine."""
    runs = [p for p in glob.glob("/tmp/auditor-bench-*/auditor-200/*/run.json") if "/latest/" not in p]
    return max(runs, key=os.path.getmtime) if runs else None


def constructed_run(base: Mapping[str, Any], servers: int) -> dict[str, Any]:
    """``base`` with its server targets (their findings and facts) replicated to ``servers`` servers,
    each copy with its own id, name and address; the per-promise verdicts are computed again."""
    doc = copy.deepcopy(dict(base))
    models = [t for t in base.get("targets") or () if t.get("kind") == "server"]
    if not models:
        raise SystemExit("the run has no server targets to replicate")
    model_ids = {t["id"] for t in models}
    findings = {tid: [f for f in base.get("findings") or () if f.get("target") == tid] for tid in model_ids}
    facts = {tid: [f for f in base.get("facts") or () if f.get("target") == tid] for tid in model_ids}
    doc["targets"] = [t for t in base.get("targets") or () if t["id"] not in model_ids]
    doc["findings"] = [f for f in base.get("findings") or () if f.get("target") not in model_ids]
    doc["facts"] = [f for f in base.get("facts") or () if f.get("target") not in model_ids]
    for n in range(servers):
        model = models[n % len(models)]
        tid, name = f"server:c{n:04d}", f"c{n:04d}"
        doc["targets"].append(dict(model, id=tid, name=name, address=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"))
        rename = {f["id"]: f["id"].replace(model["id"], tid, 1) for f in facts[model["id"]]}
        for f in findings[model["id"]]:
            doc["findings"].append(dict(f, target=tid, facts=[rename.get(x, x) for x in f.get("facts") or ()]))
        for f in facts[model["id"]]:
            doc["facts"].append(dict(copy.deepcopy(f), id=rename[f["id"]], target=tid))
    for p in doc.get("promises") or ():
        p.pop("verdict", None)  # recorded for the base run: computed again for this one
    doc["summary"] = summarise(doc["findings"])
    return doc


def first_screen_seconds(path: str, tries: int = 3) -> float:
    """Best of ``tries``: headless Chromium loading ``path`` and writing a screenshot of its first screen."""
    best = float("inf")
    for _ in range(tries):
        profile = tempfile.mkdtemp(prefix="auditor-bench-chromium-")
        shot = os.path.join(profile, "shot.png")
        start = time.perf_counter()
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
                        "--window-size=1280,900", "--hide-scrollbars", f"--screenshot={shot}", "file://" + path],
                       check=True, capture_output=True, timeout=120)
        best = min(best, time.perf_counter() - start)
        if not os.path.getsize(shot):
            raise SystemExit("chromium wrote no screenshot")
        shutil.rmtree(profile)
    return best


def paint_timings(path: str, tries: int = 3) -> tuple[float, float, float]:
    """Best of ``tries``, in seconds, as Chromium itself measures them (selenium driving Debian's
    chromium and chromedriver, as tests/test_browser.py): first contentful paint (the first
    screen), DOMContentLoaded and the load event of ``path``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    best = (float("inf"),) * 3
    try:
        for _ in range(tries):
            driver.get("about:blank")
            driver.get("file://" + path)
            fcp = driver.execute_script("const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null")
            dom, load = driver.execute_script("const n = performance.getEntriesByType('navigation')[0]; return [n.domContentLoadedEventEnd, n.loadEventEnd]")
            best = min(best, (float("inf") if fcp is None else fcp / 1000, dom / 1000, load / 1000))
    finally:
        driver.quit()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[200, 1000])
    parser.add_argument("--from", dest="source", help="a fleet run.json to replicate (default: the newest 200-host fleet benchmark run, else the shipped example)")
    parser.add_argument("--chromium", action="store_true", help="also time headless Chromium's first screen")
    parser.add_argument("--paint", action="store_true", help="also read Chromium's own first-contentful-paint, DOMContentLoaded and load times (selenium)")
    args = parser.parse_args()
    source = args.source or newest_fleet_run() or EXAMPLE
    base = json.load(open(source, encoding="utf-8"))
    print(f"base: {source} ({sum(1 for t in base['targets'] if t.get('kind') == 'server')} servers)")
    out = tempfile.mkdtemp(prefix="auditor-bench-report-")
    try:
        if args.chromium:
            empty = os.path.join(out, "empty.html")
            with open(empty, "w", encoding="utf-8") as fh:
                fh.write("<!DOCTYPE html><title>empty</title><p>empty</p>")
            print(f"chromium start-up (near-empty page): {first_screen_seconds(empty):.2f} s")
        for n in args.sizes:
            doc = constructed_run(base, n)
            start = time.perf_counter()
            html = render_html(doc)
            rendered = time.perf_counter() - start
            data = html.encode("utf-8")
            path = os.path.join(out, f"report-{n}.html")
            with open(path, "wb") as fh:
                fh.write(data)
            line = (f"servers {n}: findings {len(doc['findings'])}, facts {len(doc['facts'])}; report.html {len(data):,} bytes "
                    f"({len(data) / n / 1000:.1f} KB per server); render {rendered:.2f} s")
            if args.chromium:
                line += f"; chromium first screen {first_screen_seconds(path):.2f} s"
            if args.paint:
                fcp, dom, load = paint_timings(path)
                line += f"; first contentful paint {fcp:.2f} s, DOMContentLoaded {dom:.2f} s, load {load:.2f} s"
            print(line, flush=True)
    finally:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
