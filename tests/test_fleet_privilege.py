"""Least privilege on real sshd hosts: the same planted states audited four ways (issue 11).

Every planted state of the standard fleet (compliant, weak sshd, weak hashes,
leaky files, stale backups, lax access) runs on three hosts that differ only
in what the audit account may do:

* ``-a``: a sudoers that names the read programs with any arguments, under
  NOEXEC (``tests/fleet.py`` PROGRAMS_RULE: cat, head, find, stat, ls, getent,
  ``sshd -T``, borg list/info, env_keep BORG_PASSPHRASE); root may also log in
  with the client key (a ``Match User root`` block, so ``sshd -T`` is unchanged);
* ``-b``: exactly the drop-in ``auditor sudoers`` prints for the inventory;
* ``-d``: no sudo rule at all.

The ``-a`` hosts are audited twice: as the audit account (a) and as root (c).
(a), (b) and (c) must give the same verdicts with no ``error``, but for the sudo
controls, which judge the audit account's own rules (find with any arguments
can write files as root through -fprintf, NOEXEC or not); (d) must give
``error`` exactly where a command needs root, each naming the refused argv.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
import yaml

from auditor.cli import main
from fleet import Fleet, HostSpec, standard_fleet

pytestmark = pytest.mark.integration

PLANTED = ("good", "weak-ssh", "weak-hashes", "leaky-files", "stale-backups", "lax-access")
SUDO_CONTROLS = {"ACCESS-SUDO-NOPASSWD-ALL", "ACCESS-SUDO-AUDIT-ACCOUNT"}
SUDO_FREE_FACTS = {"net.tcp_listeners", "inventory.location"}  # need no root (ss) or no connection at all


def _variant(spec: HostSpec, suffix: str, **changes: Any) -> HostSpec:
    fields = {k: getattr(spec, k) for k in spec.__dataclass_fields__}
    fields.update(name=f"{spec.name}-{suffix}", **changes)
    return HostSpec(**fields)


@pytest.fixture(scope="module")
def privilege_fleet() -> Any:
    specs = [s for s in standard_fleet() if s.name in PLANTED]
    hosts = []
    for spec in specs:
        hosts.append(_variant(spec, "a", audit_sudo="programs", root_login=True))
        hosts.append(_variant(spec, "b", audit_sudo="exact"))
        hosts.append(_variant(spec, "d", audit_sudo="none"))
    with Fleet(hosts) as started:
        yield started


def _inventory(fleet: Fleet, suffix: str, tmp: Any, **overrides: Any) -> str:
    with open(fleet.inventory_path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    doc["servers"] = [dict(s, **overrides) for s in doc["servers"] if s["name"].endswith("-" + suffix)]
    path = os.path.join(str(tmp), f"inventory-{suffix}{'-root' if overrides else ''}.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    return path


def _audit(inventory: str, out: Any) -> dict[str, Any]:
    code = main(["run", inventory, "--out", str(out), "--format", "json", "--quiet", "--no-history", "--concurrency", "8", "--connect-timeout", "10"])
    (run_json,) = [os.path.join(r, f) for r, _, files in os.walk(out) for f in files if f == "run.json"]
    with open(run_json, encoding="utf-8") as fh:
        return {"code": code, "run": json.load(fh)}


@pytest.fixture(scope="module")
def runs(privilege_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("privilege")
    plans = {
        "a": _inventory(privilege_fleet, "a", tmp),
        "b": _inventory(privilege_fleet, "b", tmp),
        "c": _inventory(privilege_fleet, "a", tmp, user="root"),
        "d": _inventory(privilege_fleet, "d", tmp),
    }
    return {name: _audit(path, tmp / f"out-{name}") for name, path in plans.items()}


def verdicts(run: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(planted state, control) → (status, reason)."""
    return {(f["target"].split(":", 1)[1].rsplit("-", 1)[0], f["control"]): (f["status"], f.get("reason")) for f in run["run"]["findings"]}


def _messages(run: dict[str, Any], status: str) -> list[str]:
    return [f"{f['target']} {f['control']}: {f['message'][:200]}" for f in run["run"]["findings"] if f["status"] == status]


@pytest.mark.parametrize("variant", ["a", "b", "c"])
def test_a_least_privilege_audit_has_no_error(runs: dict[str, dict[str, Any]], variant: str) -> None:
    assert not _messages(runs[variant], "error"), f"({variant}) errors:\n" + "\n".join(_messages(runs[variant], "error"))
    assert len({f["target"] for f in runs[variant]["run"]["findings"]}) == len(PLANTED)


@pytest.mark.parametrize("variant", ["b", "c"])
def test_same_verdicts_as_programs_with_any_arguments(runs: dict[str, dict[str, Any]], variant: str) -> None:
    a, other = verdicts(runs["a"]), verdicts(runs[variant])
    differ = {k: (a[k], other.get(k)) for k in a if k[1] not in SUDO_CONTROLS and a[k] != other.get(k)}
    assert not differ, f"({variant}) differs from (a): {differ}"
    assert {k for k in a if k[1] not in SUDO_CONTROLS} == {k for k in other if k[1] not in SUDO_CONTROLS}


def test_the_verdicts_are_the_planted_ones(runs: dict[str, dict[str, Any]]) -> None:
    got = verdicts(runs["b"])
    assert got[("weak-ssh", "ACCESS-SSH-ROOT-LOGIN")][0] == "fail" and got[("good", "ACCESS-SSH-ROOT-LOGIN")][0] == "pass"
    assert got[("weak-hashes", "PWHASH-SHADOW-SCHEMES")][0] == "fail" and got[("good", "PWHASH-SHADOW-SCHEMES")][0] == "pass"
    assert got[("leaky-files", "ACCESS-SHADOW-PERMISSIONS")][0] == "fail"
    assert got[("stale-backups", "BACKUP-MAX-AGE")][0] == "fail"
    assert got[("lax-access", "ACCESS-ROOT-AUTHORIZED-KEYS")][0] == "fail"
    assert got[("lax-access", "ACCESS-SUDO-NOPASSWD-ALL")][0] == "fail"  # the planted %sudo NOPASSWD: ALL
    assert got[("good", "ACCESS-SUDO-NOPASSWD-ALL")][0] == "pass", "the exact drop-in gives the audit account no root"


def test_the_sudo_controls_judge_the_audit_accounts_own_rules(runs: dict[str, dict[str, Any]]) -> None:
    """(a) grants find with any arguments: root through -fprintf, NOEXEC or not, and the report says so.
    (b), the printed drop-in, gives the audit account no root. (c) reads as root: no audit account to judge."""
    a, b, c = (verdicts(runs[v]) for v in "abc")
    found = {f["target"].split(":", 1)[1]: f for f in runs["a"]["run"]["findings"] if f["control"] == "ACCESS-SUDO-AUDIT-ACCOUNT"}
    for state in PLANTED:
        assert a[(state, "ACCESS-SUDO-AUDIT-ACCOUNT")][0] == "fail"
        assert "/usr/bin/find" in found[f"{state}-a"]["message"] and "-fprintf" in found[f"{state}-a"]["message"]
        assert a[(state, "ACCESS-SUDO-NOPASSWD-ALL")][0] == "fail"
        assert b[(state, "ACCESS-SUDO-AUDIT-ACCOUNT")][0] == "pass"
        assert c[(state, "ACCESS-SUDO-AUDIT-ACCOUNT")][0] == "skipped"
        assert b[(state, "ACCESS-SUDO-NOPASSWD-ALL")][0] == ("fail" if state == "lax-access" else "pass")


def test_without_sudo_exactly_the_root_only_facts_are_errors_naming_the_refused_argv(runs: dict[str, dict[str, Any]]) -> None:
    run = runs["d"]["run"]
    for fact in run["facts"]:
        if fact["status"] == "skipped":  # does not apply whatever the privileges (weak-hashes declares no key_paths)
            assert fact["reason"] == "not_applicable" and "declared" in fact["message"], fact
        elif fact["target"].startswith("server:") and fact["name"] not in SUDO_FREE_FACTS and fact["name"] != "ssh.host_key":
            assert (fact["status"], fact["reason"]) == ("error", "permission_denied"), (fact["id"], fact.get("message"))
            assert "sudo refused `" in fact["message"] and "NOPASSWD:NOEXEC: /usr/" in fact["message"], fact["message"]
            refused = fact["message"].split("sudo refused `", 1)[1].split("`", 1)[0]
            assert refused.split()[0] in ("find", "cat", "sshd"), refused
        elif fact["name"] in SUDO_FREE_FACTS:
            assert fact["status"] == "ok", (fact["id"], fact.get("message"))
    a = verdicts(runs["a"])
    for key, (status, reason) in verdicts(runs["d"]).items():
        if status != "error":
            assert a[key] == (status, reason), key  # what needs no root is judged as with sudo


@pytest.mark.parametrize("variant", ["a", "b"])
def test_at_most_four_sudo_commands_per_server(runs: dict[str, dict[str, Any]], variant: str) -> None:
    per_target: dict[str, set[tuple[str, str]]] = {}
    plain: dict[str, set[tuple[str, str]]] = {}
    for fact in runs[variant]["run"]["facts"]:
        for ev in fact["evidence"]:
            argv = ev.get("argv") or []
            if ev["kind"] in ("command", "file") and argv:
                (per_target if argv[:1] == ["sudo"] else plain).setdefault(fact["target"], set()).add((" ".join(argv), ev["at"]))
    assert per_target, "no sudo command recorded"
    for target, commands in per_target.items():
        assert len(commands) <= 4, f"{target}: {len(commands)} sudo commands: {sorted(c for c, _ in commands)}"
        assert all(c.startswith("sudo -n -- ") and not c.startswith("sudo -n -- env") for c, _ in commands)
    for target, commands in plain.items():
        assert {c.split()[0] for c, _ in commands} <= {"ss", "date", "id"}, commands


def test_the_printed_sudoers_passes_visudo(privilege_fleet: Fleet, tmp_path: Any) -> None:
    text = privilege_fleet._printed_sudoers()
    path = tmp_path / "auditor.sudoers"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run(["visudo", "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NOPASSWD:NOEXEC:" in text and "env" not in text.replace("env_keep", "").split("Cmnd_Alias", 1)[1].replace("environment", "")
    rules = [line.strip().rstrip(", \\") for line in text.splitlines() if line.startswith("    /")]
    globbed = [r for r in rules if " ^" not in r and any(c in r.replace("\\*", "") for c in "*?[")]
    assert rules and not globbed, f"wildcards in exact rules: {globbed}"
    regexes = [r for r in rules if " ^" in r]
    assert all(r.endswith("$") and "/etc/sudoers\\.d/" in r for r in regexes), regexes  # only the drop-in reader is a pattern
