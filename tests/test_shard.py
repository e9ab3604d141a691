"""``auditor run --shard I/N`` and ``auditor merge`` (issue 16, item 6).

The shards of an audit, merged, are the unsharded run: the same findings
(control, target, status, message) in the same order, proved on a real fleet
of sshd hosts. Merge verifies each shard and refuses shards that are not the N
parts of one audit. Unit-level tests use sub-processors (declared in the
inventory, nothing contacted) so that each shard run takes a moment.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from auditor.cli import main
from auditor.inventory import load_inventory
from auditor.runner import RunOptions, make_plan
from auditor.shard import Shard, parse_shard, shard_of
from fleet import Fleet, HostSpec, WEAK
from helpers import registry

COUNTRIES = ["SE", "US", "DE", "CN", "FI", "NO", "IN", "FR", "BR", "DK", "JP", "NL"]


def processors_inventory(path: Path, names: list[str], name: str = "shards") -> str:
    lines = ["version: 1", f"name: {name}", "processors:"]
    for n in names:
        lines += [f"  - name: {n}", f"    country: '{COUNTRIES[sum(map(ord, n)) % len(COUNTRIES)]}'", "    tags: [partners]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


NAMES = [f"partner-{i:02d}" for i in range(12)]


def run_json(folder: str) -> dict[str, Any]:
    with open(os.path.join(folder, "run.json"), encoding="utf-8") as fh:
        return json.load(fh)


def latest(out: Path) -> str:
    return os.path.realpath(out / "latest")


def finding_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(f["control"], f["target"], f["status"], f["message"]) for f in doc["findings"]]


# -- the slices -------------------------------------------------------------------------------


def test_shard_spec_is_checked() -> None:
    assert parse_shard("2/3") == Shard(2, 3)
    for bad in ("0/3", "4/3", "3", "a/b", "1/0", "-1/3", ""):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_bad_shard_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = processors_inventory(tmp_path / "inv.yaml", NAMES[:3])
    with pytest.raises(SystemExit) as exit_:
        main(["run", inv, "--shard", "0/3", "--out", str(tmp_path / "r")])
    assert exit_.value.code == 2
    assert "JOB_COMPLETION_INDEX+1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_every_target_in_exactly_one_shard_whatever_the_order_of_the_file(tmp_path: Path) -> None:
    forward = load_inventory(processors_inventory(tmp_path / "a.yaml", NAMES))
    backward = load_inventory(processors_inventory(tmp_path / "b.yaml", NAMES[::-1]))
    reg = registry()
    for count in (1, 2, 3, 5):
        slices = {}
        for inv in (forward, backward):
            slices[inv.path] = [sorted(p.target.id for p in make_plan(reg, inv, RunOptions(shard=Shard(i, count)))[0]) for i in range(1, count + 1)]
        assert slices[forward.path] == slices[backward.path], "a target's shard depends on its id only, not on the order of the file"
        ids = [tid for part in slices[forward.path] for tid in part]
        assert sorted(ids) == sorted(f"processor:{n}" for n in NAMES) and len(ids) == len(set(ids))
    # adding a target moves no other target
    grown = load_inventory(processors_inventory(tmp_path / "c.yaml", [*NAMES, "newcomer"]))
    for i in (1, 2, 3):
        before = {p.target.id for p in make_plan(reg, forward, RunOptions(shard=Shard(i, 3)))[0]}
        after = {p.target.id for p in make_plan(reg, grown, RunOptions(shard=Shard(i, 3)))[0]}
        assert before <= after and len(after - before) <= 1
    assert len({shard_of(f"processor:{n}", 3) for n in NAMES}) == 3, "12 targets fill all 3 shards"


# -- merge refuses what is not one audit -----------------------------------------------------------


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The 3 shards of a processors inventory, and its unsharded run; signed."""
    root = tmp_path_factory.mktemp("shards")
    inv = processors_inventory(root / "inv.yaml", NAMES)
    assert main(["keygen", str(root / "k")]) == 0
    assert main(["keygen", str(root / "other")]) == 0
    folders = {}
    for i in (1, 2, 3):
        main(["run", inv, "--shard", f"{i}/3", "--out", str(root / f"s{i}"), "--no-history", "--quiet", "--sign", str(root / "k")])
        folders[i] = latest(root / f"s{i}")
    main(["run", inv, "--out", str(root / "whole"), "--no-history", "--quiet"])
    yield {"root": root, "inv": inv, "folders": folders, "whole": latest(root / "whole"), "pub": str(root / "k.pub"), "other": str(root / "other.pub")}


def merge(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["merge", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_each_shard_says_which_it_is(shards: dict[str, Any]) -> None:
    doc = run_json(shards["folders"][2])
    assert doc["shard"]["index"] == 2 and doc["shard"]["count"] == 3 and len(doc["shard"]["selection"]) == len(NAMES)
    assert doc["options"]["shard"] == "2/3"
    assert all(shard_of(t["id"], 3) == 2 for t in doc["targets"])
    assert "Shard 2 of 3" in Path(shards["folders"][2], "summary.md").read_text(encoding="utf-8")
    assert "Shard 2 of 3" in Path(shards["folders"][2], "report.html").read_text(encoding="utf-8")
    assert '<property name="shard" value="2/3" />' in Path(shards["folders"][2], "junit.xml").read_text(encoding="utf-8")
    assert "shard" not in run_json(shards["whole"]), "an unsharded run's run.json has no shard section"


def test_merge_equals_the_unsharded_run_and_verifies(shards: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    out = shards["root"] / "merged"
    f = shards["folders"]
    code, text = merge([f[3], f[1], f[2], "--key", shards["pub"], "--out", str(out), "--no-history", "--sign", str(shards["root"] / "k")], capsys)
    whole = run_json(shards["whole"])
    assert code == 1, text  # the exit code of the merged run: processors outside the EU are violations
    merged = run_json(latest(out))
    assert finding_rows(merged) == finding_rows(whole)
    assert [t["id"] for t in merged["targets"]] == [t["id"] for t in whole["targets"]]
    assert merged["summary"] == whole["summary"]
    assert [c["id"] for c in merged["controls"]] == [c["id"] for c in whole["controls"]]
    assert [x["index"] for x in merged["shard"]["merged_from"]] == [1, 2, 3]
    assert {x["signed_by"] for x in merged["shard"]["merged_from"]} == {key_id(shards["pub"])}
    assert "Merged from 3 shards" in Path(latest(out), "summary.md").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["verify", latest(out), "--key", shards["pub"]]) == 0


def key_id(pub: str) -> str:
    from auditor.integrity import key_id as kid, load_public_key

    return kid(load_public_key(pub))


def test_merge_refuses_a_missing_shard(shards: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    f = shards["folders"]
    code, text = merge([f[1], f[3], "--out", str(shards["root"] / "m-missing")], capsys)
    assert code == 2 and "shard(s) 2/3 missing" in text
    assert not (shards["root"] / "m-missing").exists()


def test_merge_refuses_a_repeated_shard(shards: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = shards["folders"]
    copy = shutil.copytree(f[2], tmp_path / "copy-of-2")
    code, text = merge([f[1], f[2], str(copy), f[3], "--out", str(tmp_path / "m")], capsys)
    assert code == 2 and "shard 2/3 again" in text and str(copy) in text


def test_merge_refuses_shards_of_another_inventory_or_count(shards: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = processors_inventory(tmp_path / "other.yaml", [*NAMES, "partner-99"])
    main(["run", other, "--shard", "2/3", "--out", str(tmp_path / "o"), "--no-history", "--quiet"])
    main(["run", shards["inv"], "--shard", "2/4", "--out", str(tmp_path / "four"), "--no-history", "--quiet"])
    main(["run", shards["inv"], "--shard", "2/3", "--policy", "webbplats-nu", "--out", str(tmp_path / "pol"), "--no-history", "--quiet"])
    f = shards["folders"]
    for folder, why in ((latest(tmp_path / "o"), "inventory (digest)"), (latest(tmp_path / "four"), "shard count"), (latest(tmp_path / "pol"), "policy")):
        code, text = merge([f[1], folder, f[3], "--out", str(tmp_path / "m")], capsys)
        assert code == 2 and f"its {why} is" in text and folder in text, text
    code, text = merge([f[1], f[2], f[3], shards["whole"], "--out", str(tmp_path / "m")], capsys)
    assert code == 2 and "not a shard" in text
    assert not (tmp_path / "m").exists()


def test_merge_refuses_an_altered_or_unsigned_shard(shards: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = shards["folders"]
    altered = Path(shutil.copytree(f[2], tmp_path / "altered"))
    doc = (altered / "run.json").read_text(encoding="utf-8")
    (altered / "run.json").write_text(doc.replace('"status":"fail"', '"status":"pass"', 1), encoding="utf-8")
    code, text = merge([f[1], str(altered), f[3], "--out", str(tmp_path / "m")], capsys)
    assert code == 2 and "not intact" in text and str(altered) in text
    code, text = merge([f[1], f[2], f[3], "--key", shards["other"], "--out", str(tmp_path / "m")], capsys)
    assert code == 2 and "not with the expected key" in text
    unsigned = Path(shutil.copytree(f[2], tmp_path / "unsigned"))
    (unsigned / "manifest.sig").unlink()
    code, text = merge([f[1], str(unsigned), f[3], "--key", shards["pub"], "--out", str(tmp_path / "m")], capsys)
    assert code == 2 and "manifest.sig: missing" in text
    assert not (tmp_path / "m").exists()


# -- on a real fleet ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_merged_shards_equal_the_unsharded_run_on_a_real_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """6 real sshd hosts, 3 shards, a waiver file: merge(shards) has the findings of one unsharded run."""
    specs = [
        HostSpec("good"), HostSpec("weak-ssh", sshd=dict(WEAK)), HostSpec("leaky-files", shadow_mode=0o644),
        HostSpec("lax-access", country="US", sudoers_nopasswd_all=True), HostSpec("gone", listen=False), HostSpec("no-sudo", audit_sudo="none"),
    ]
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - {id: W1, control: ACCESS-SSH-ROOT-LOGIN, target: 'server:weak-ssh', justification: migration, approver: DPO, expires: 2099-01-01}\n"
        "  - {id: W2, control: DATA-DECLARED-LOCATION, target: 'server:*', justification: contract, approver: DPO, expires: 2099-01-01}\n"
        "  - {id: W3, control: ACCESS-SSH-PASSWORD-AUTH, target: 'server:nowhere-*', justification: none yet, approver: DPO, expires: 2099-01-01}\n",
        encoding="utf-8",
    )
    with Fleet(specs, prefix="auditor-shard-") as fleet:
        common = [fleet.inventory_path, "--format", "json,md,junit", "--no-history", "--quiet", "--connect-timeout", "5", "--waivers", str(waivers)]
        whole_code = main(["run", *common, "--out", str(tmp_path / "whole")])
        codes = [main(["run", *common, "--shard", f"{i}/3", "--out", str(tmp_path / f"shard-{i}")]) for i in (1, 2, 3)]
    whole = run_json(latest(tmp_path / "whole"))
    assert sorted({shard_of(t["id"], 3) for t in whole["targets"]}) == [1, 2, 3], "the 6 hosts fill all 3 shards"
    capsys.readouterr()
    merged_code = main(["merge", *(latest(tmp_path / f"shard-{i}") for i in (2, 3, 1)), "--out", str(tmp_path / "merged"), "--no-history", "--quiet"])
    merged = run_json(latest(tmp_path / "merged"))
    assert finding_rows(merged) == finding_rows(whole)
    assert {f["status"] for f in merged["findings"]} >= {"pass", "fail", "error", "waived"}, "the fleet exercises every verdict"
    assert merged["summary"] == whole["summary"]
    assert [t["id"] for t in merged["targets"]] == [t["id"] for t in whole["targets"]]
    assert [f["id"] for f in merged["facts"]] == [f["id"] for f in whole["facts"]]
    strip = lambda section: {g: [(w["id"], w["matched"]) for w in section[g]] for g in ("applied", "expired", "unmatched", "not_needed")}  # noqa: E731
    assert strip(merged["waivers"]) == strip(whole["waivers"]), "a waiver unmatched in one shard but applied in another is applied"
    assert merged_code == whole_code == 1, (codes, whole_code, merged_code)
