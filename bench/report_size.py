"""Render, write and verify a large run: the example run copied N times (N = argv[1]).

Usage: python bench/report_size.py 100
"""
import copy, json, os, shutil, sys, tempfile, time
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from auditor.report import render_files, write_report
from auditor.integrity import verify_folder, seal_document
from auditor.report import render_reports
from auditor import __version__
base = json.load(open(os.path.join(ROOT, "reports", "examples", "20261121T030004Z", "run.json")))
doc = copy.deepcopy(base)
doc["tool_version"] = __version__
doc["targets"], doc["findings"], doc["facts"] = [], [], []
N = int(sys.argv[1])
for i in range(N):
    for t in base["targets"]:
        t2 = dict(t, id=f"{t['id']}-{i}", name=f"{t['name']}-{i}"); doc["targets"].append(t2)
    for f in base["findings"]:
        doc["findings"].append(dict(f, target=f"{f['target']}-{i}", facts=[x + f"-{i}" for x in f["facts"]]))
    for f in base["facts"]:
        f2 = copy.deepcopy(f); f2["id"] += f"-{i}"; f2["target"] += f"-{i}"; doc["facts"].append(f2)
seal_document(doc)
t = time.perf_counter(); files = render_files(doc); t1 = time.perf_counter() - t
out = tempfile.mkdtemp(prefix="auditor-bench-")
folder = write_report(doc, out, "20260101T000000Z")
t = time.perf_counter(); v = verify_folder(folder, None, rerender=render_reports, tool_version=__version__); t2 = time.perf_counter() - t
print(f"targets {len(doc['targets'])} findings {len(doc['findings'])} facts {len(doc['facts'])}: render all {t1:.2f}s, verify {t2:.2f}s ok={v.ok}; sizes " + ", ".join(f"{k} {len(b)/1e6:.1f}MB" for k, b in files.items()))
shutil.rmtree(out)
