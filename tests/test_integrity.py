"""Signed report folders, `auditor verify` on intact and tampered ones, `auditor render`, `auditor keygen`.

Every run here is a real `auditor run` of this machine (local transport) on
files the test plants, so the facts carry real evidence.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auditor.cli import main
from auditor.folders import LATEST, report_folders
from auditor.integrity import PASSPHRASE_ENV, fact_digest, key_id, load_private_key, load_public_key, signature_document

ONLY = "ACCESS-BACKUP-FILE-PERMISSIONS,BACKUP-MAX-AGE,DATA-DECLARED-LOCATION"


@pytest.fixture
def inventory(tmp_path, local_inventory):
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "db.sql.gz").write_text("dump")
    os.chmod(backups / "db.sql.gz", 0o644)  # world-readable: a violation with evidence
    return local_inventory(f"""
        servers:
          - name: here
            connection: local
            country: SE
            backup_paths: [{backups}]
        """)


@pytest.fixture
def keys(tmp_path, capsys):
    assert main(["keygen", str(tmp_path / "keys" / "audit.key")]) == 0
    capsys.readouterr()
    return tmp_path / "keys" / "audit.key", tmp_path / "keys" / "audit.key.pub"


def _run(inv, out, *extra):
    code = main(["run", inv, "--out", str(out), "--only", ONLY, "-q", "--no-history", *extra])
    assert code == 1  # the planted world-readable dump
    return Path(report_folders(str(out))[-1])


@pytest.fixture
def signed(tmp_path, inventory, keys):
    return _run(inventory, tmp_path / "reports", "--sign", str(keys[0]))


def _verify(capsys, folder, *extra):
    code = main(["verify", str(folder), *extra])
    return code, capsys.readouterr().out


def _rewrite_json(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_untouched_signed_run_verifies(signed, keys, capsys):
    assert sorted(os.listdir(signed)) == ["junit.xml", "manifest.json", "manifest.sig", "report.html", "run.json", "summary.md"]
    code, out = _verify(capsys, signed, "--key", str(keys[1]))
    assert code == 0, out
    assert "intact" in out and f"signed by {key_id(load_public_key(str(keys[1])))}" in out
    assert "ALTERED" not in out


def test_every_fact_carries_provenance_and_its_own_digest(signed):
    doc = json.loads((signed / "run.json").read_text())
    assert doc["schema_version"] == "1.1" and doc["facts"]
    for fact in doc["facts"]:
        assert fact["tool_version"] == doc["tool_version"]
        assert fact["collected_at"].endswith("Z") and fact["collector"] and fact["target"]
        assert fact["sha256"] == fact_digest(fact)
    manifest = json.loads((signed / "manifest.json").read_text())
    assert set(manifest["files"]) == {"run.json", "report.html", "junit.xml", "summary.md"}
    assert set(manifest["run"]["facts"]) == {f["id"] for f in doc["facts"]}


def test_one_byte_of_a_fact_changed_is_named(signed, keys, capsys):
    run_json = signed / "run.json"
    doc = json.loads(run_json.read_text())
    victim = next(f for f in doc["facts"] if f["evidence"] and f["evidence"][0]["excerpt"])
    excerpt = victim["evidence"][0]["excerpt"]
    text = run_json.read_text()
    tampered = excerpt[:-1] + ("X" if excerpt[-1] != "X" else "Y")
    assert text.count(json.dumps(excerpt, ensure_ascii=False)) == 1
    run_json.write_text(text.replace(json.dumps(excerpt, ensure_ascii=False), json.dumps(tampered, ensure_ascii=False)))
    code, out = _verify(capsys, signed, "--key", str(keys[1]))
    assert code == 1
    assert "ALTERED  run.json: altered" in out
    assert f"run.json: fact {victim['id']} ({victim['name']} on {victim['target']}) altered" in out
    assert "NOT intact" in out


def test_a_verdict_changed_in_run_json_is_named(signed, keys, capsys):
    def pass_everything(doc):
        for f in doc["findings"]:
            f["status"] = "pass"

    _rewrite_json(signed / "run.json", pass_everything)
    code, out = _verify(capsys, signed, "--key", str(keys[1]))
    assert code == 1
    assert "run.json: finding ACCESS-BACKUP-FILE-PERMISSIONS on server:here altered" in out
    assert "run.json: finding DATA-DECLARED-LOCATION on server:here altered" not in out  # it passed already


def test_one_byte_of_the_html_changed(signed, keys, capsys):
    html = signed / "report.html"
    data = bytearray(html.read_bytes())
    i = data.index(b"<h1")
    data[i + 1] = ord("H")
    html.write_bytes(bytes(data))
    code, out = _verify(capsys, signed, "--key", str(keys[1]))
    assert code == 1
    assert "ALTERED  report.html: altered" in out
    assert "run.json" not in out.split("NOT intact")[0].replace("report.html", "")


def test_removed_and_added_files(signed, capsys):
    (signed / "junit.xml").unlink()
    (signed / "extra.txt").write_text("slipped in")
    code, out = _verify(capsys, signed)
    assert code == 1
    assert "junit.xml: missing (the manifest lists it)" in out
    assert "extra.txt: not listed in the manifest" in out


def test_manifest_removed(signed, capsys):
    (signed / "manifest.json").unlink()
    code, out = _verify(capsys, signed)
    assert code == 1 and "manifest.json: missing" in out


def test_signature_swapped_for_another_key(tmp_path, signed, keys, capsys):
    assert main(["keygen", str(tmp_path / "mallory.key")]) == 0
    capsys.readouterr()
    mallory = load_private_key(str(tmp_path / "mallory.key"))
    (signed / "manifest.sig").write_bytes(signature_document((signed / "manifest.json").read_bytes(), mallory))
    code, out = _verify(capsys, signed, "--key", str(keys[1]))
    assert code == 1
    assert f"manifest.sig: made with key {key_id(mallory.public_key())}, not with the expected key {key_id(load_public_key(str(keys[1])))}" in out
    # Without --key the signature is valid, and verify says whose key it is and that it proves nothing alone.
    code, out = _verify(capsys, signed)
    assert code == 0 and key_id(mallory.public_key()) in out and "pass --key PUB" in out


def test_signature_bytes_swapped(signed, keys, capsys):
    sig = json.loads((signed / "manifest.sig").read_text())
    raw = bytearray(base64.b64decode(sig["signature"]))
    raw[0] ^= 1
    sig["signature"] = base64.b64encode(bytes(raw)).decode()
    (signed / "manifest.sig").write_text(json.dumps(sig))
    code, out = _verify(capsys, signed, "--key", str(keys[1]))
    assert code == 1 and "manifest.sig: the signature does not match manifest.json" in out


def test_consistent_forgery_of_a_signed_run_is_caught_by_the_signature(signed, keys, capsys):
    """A forger edits a verdict and recomputes every digest: only the signature can tell."""
    from auditor.integrity import build_manifest, manifest_bytes
    from auditor.report import render_files

    def forge(doc):
        for f in doc["findings"]:
            f["status"] = "pass"

    _rewrite_json(signed / "run.json", forge)
    doc = json.loads((signed / "run.json").read_text())
    files = render_files(doc)
    for name, data in files.items():
        (signed / name).write_bytes(data)
    assert (signed / "manifest.json").read_bytes() == manifest_bytes(build_manifest(doc, {k: v for k, v in files.items() if k != "manifest.json"}))
    code, out = _verify(capsys, signed, "--key", str(keys[1]))
    assert code == 1 and "manifest.sig: the signature does not match manifest.json" in out


def test_unsigned_html_edit_with_recomputed_manifest_is_caught_by_rerendering(tmp_path, inventory, capsys):
    folder = _run(inventory, tmp_path / "r")
    html = (folder / "report.html").read_text().replace("<h1", "<h1 data-x", 1)
    (folder / "report.html").write_text(html)
    manifest = json.loads((folder / "manifest.json").read_text())
    from auditor.model import sha256_hex

    manifest["files"]["report.html"] = {"sha256": sha256_hex(html.encode()), "bytes": len(html.encode())}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    code, out = _verify(capsys, folder)
    assert code == 1
    assert "report.html: is not the rendering of run.json" in out


def test_unsigned_run_verifies_with_a_note_but_fails_when_a_key_is_required(tmp_path, inventory, keys, capsys):
    folder = _run(inventory, tmp_path / "r")
    code, out = _verify(capsys, folder)
    assert code == 0 and "not signed" in out
    code, out = _verify(capsys, folder, "--key", str(keys[1]))
    assert code == 1 and "manifest.sig: missing; the report is not signed" in out


def test_render_reproduces_the_reports_byte_for_byte(tmp_path, signed, capsys):
    out = tmp_path / "again"
    assert main(["render", str(signed / "run.json"), "--out", str(out)]) == 0
    for name in ("report.html", "junit.xml", "summary.md"):
        assert (out / name).read_bytes() == (signed / name).read_bytes(), name
    assert main(["render", str(signed), "--check"]) == 0
    # Rendering into the run's own folder is a no-op when nothing changes, refused when it would.
    assert main(["render", str(signed)]) == 0
    capsys.readouterr()
    other = "en" if json.loads((signed / "run.json").read_text())["lang"] == "sv" else "sv"
    assert main(["render", str(signed), "--lang", other]) == 2
    assert "pass --out DIR" in capsys.readouterr().err
    assert main(["render", str(signed), "--lang", other, "--out", str(tmp_path / "other")]) == 0
    assert (tmp_path / "other" / "report.html").read_bytes() != (signed / "report.html").read_bytes()
    assert main(["verify", str(signed)]) == 0


def test_render_check_reports_a_difference(signed, capsys):
    (signed / "summary.md").write_text("edited\n")
    assert main(["render", str(signed), "--check"]) == 1
    assert "DIFFERENT" in capsys.readouterr().out


def test_keygen_writes_a_private_key_only_its_owner_reads(keys, capsys):
    private, public = keys
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes() and b"BEGIN PUBLIC KEY" in public.read_bytes()
    assert main(["keygen", str(private)]) == 2
    assert "already exists" in capsys.readouterr().err
    before = private.read_bytes()
    assert main(["keygen", str(private), "--force"]) == 0
    assert private.read_bytes() != before


def test_encrypted_signing_key_needs_its_passphrase_from_the_environment(tmp_path, inventory, monkeypatch, capsys):
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    assert main(["keygen", str(tmp_path / "enc.key")]) == 0
    assert b"ENCRYPTED" in (tmp_path / "enc.key").read_bytes()
    monkeypatch.delenv(PASSPHRASE_ENV)
    capsys.readouterr()
    out = tmp_path / "r"
    assert main(["run", inventory, "--out", str(out), "--sign", str(tmp_path / "enc.key"), "--no-history"]) == 2
    err = capsys.readouterr().err
    assert f"set {PASSPHRASE_ENV}" in err and "nothing was audited" in err
    assert not out.exists()
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    assert main(["run", inventory, "--out", str(out), "--sign", str(tmp_path / "enc.key"), "--no-history"]) == 2
    assert "wrong passphrase" in capsys.readouterr().err
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    folder = _run(inventory, out, "--sign", str(tmp_path / "enc.key"))
    assert main(["verify", str(folder), "--key", str(tmp_path / "enc.key.pub")]) == 0


def test_signing_key_that_is_not_ed25519_is_refused_before_the_run(tmp_path, inventory, capsys):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    assert main(["run", inventory, "--out", str(tmp_path / "r"), "--sign", str(path)]) == 2
    assert "Ed25519 keys only" in capsys.readouterr().err
    assert main(["run", inventory, "--out", str(tmp_path / "r"), "--sign", str(tmp_path / "nope.key")]) == 2
    assert "signing key not found" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "nowhere")]) == 2


def test_openssh_ed25519_keys_work_too(tmp_path, inventory, capsys):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    (tmp_path / "id_ed25519").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
    (tmp_path / "id_ed25519.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b" audit@host\n")
    folder = _run(inventory, tmp_path / "r", "--sign", str(tmp_path / "id_ed25519"))
    assert main(["verify", str(folder), "--key", str(tmp_path / "id_ed25519.pub")]) == 0


def test_keep_prunes_old_report_folders_and_latest_points_at_the_newest(tmp_path, inventory):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "20200101T000000Z").mkdir()  # looks like a report but has no manifest: not ours, kept
    folders = [_run(inventory, out, "--keep", "2") for _ in range(3)]
    left = report_folders(str(out))
    assert [Path(p) for p in left] == folders[1:]
    assert os.readlink(out / LATEST) == folders[-1].name
    assert (out / "notes.txt").exists() and (out / "20200101T000000Z").exists()


def test_baseline_previous_fails_only_on_new_violations(tmp_path, inventory, local_inventory, capsys):
    out = tmp_path / "reports"
    base = ["run", inventory, "--out", str(out), "--only", ONLY, "--no-history", "--baseline", "previous"]
    assert main(base) == 1  # no earlier run: the violation is new
    capsys.readouterr()
    assert main(base) == 0  # same violation again: not new
    assert "exit 0" in capsys.readouterr().out
    # A new violation appears: a second world-readable dump under another backup path.
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "users.sql").write_text("x")
    os.chmod(extra / "users.sql", 0o644)
    inv2 = local_inventory(f"""
        servers:
          - name: here
            connection: local
            country: SE
            backup_paths: [{extra}]
          - name: there
            connection: local
            country: SE
            backup_paths: [{extra}]
        """, name="inv2.yaml")
    assert main(["run", inv2, "--out", str(out), "--only", ONLY, "--no-history", "--baseline", "previous"]) == 1
    assert "server:there" in capsys.readouterr().out


def test_a_folder_written_before_per_item_digests_is_checked_file_by_file(tmp_path, inventory, capsys):
    folder = _run(inventory, tmp_path / "r")
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["run"]  # what schema 1.0 wrote: file digests only
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    code, out = _verify(capsys, folder)
    assert code == 0 and "checked as a whole only" in out
    (folder / "run.json").write_text((folder / "run.json").read_text().replace('"pass"', '"fail"', 1))
    code, out = _verify(capsys, folder)
    assert code == 1 and "run.json: altered" in out


def test_a_facts_own_digest_rewritten_is_named(signed, capsys):
    def rewrite_digest(doc):
        doc["facts"][0]["sha256"] = "0" * 64

    _rewrite_json(signed / "run.json", rewrite_digest)
    fact = json.loads((signed / "run.json").read_text())["facts"][0]
    code, out = _verify(capsys, signed)
    assert code == 1
    assert f"run.json: fact {fact['id']} ({fact['name']} on {fact['target']}) does not match its own digest" in out


# --- a manifest of the wrong shape, things that are not files, sub-folders: altered, exit 1 ------------


def _rewrite_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("change,named", [
    (lambda m: m.__setitem__("run", 5), "manifest.json: 'run' is a number, expected an object of section, fact and finding digests"),
    (lambda m: m["files"].__setitem__("run.json", None), "manifest.json: 'files'.\"run.json\" is null, expected an object with a 'sha256' digest"),
    (lambda m: m.__setitem__("files", []), "manifest.json: 'files' is a list, expected an object of file digests"),
    (lambda m: m["files"]["report.html"].__setitem__("sha256", 7), "manifest.json: 'files'.\"report.html\".sha256 is a number, expected a SHA-256 digest"),
    (lambda m: m["files"]["report.html"].__setitem__("bytes", "many"), "manifest.json: 'files'.\"report.html\".bytes is a string, expected a number of bytes"),
    (lambda m: m["files"].__setitem__("", {"sha256": "0" * 64}), "manifest.json: 'files' lists '', which is not a file of a report folder"),
    (lambda m: m["files"].__setitem__("../run.json", {"sha256": "0" * 64}), "manifest.json: 'files' lists '../run.json', which is not a file of a report folder"),
    (lambda m: m["run"].__setitem__("facts", ["x"]), "manifest.json: 'run'.facts is a list, expected an object of digests"),
    (lambda m: m["run"]["sections"].__setitem__("summary", None), "manifest.json: 'run'.sections.\"summary\" is null, expected a digest"),
    (lambda m: m.__setitem__("note", "trust me"), "manifest.json: unknown key 'note'"),
    (lambda m: m.__setitem__("manifest_version", 2), "manifest.json: manifest_version is 2, expected 1"),
    (lambda m: m["files"]["run.json"].__setitem__("mode", "0644"), "manifest.json: 'files'.\"run.json\" has the unknown key 'mode'"),
    (lambda m: m["run"].__setitem__("extra", {}), "manifest.json: 'run' has the unknown key 'extra'"),
], ids=["run-5", "run.json-null", "files-list", "sha256-int", "bytes-str", "empty-name", "parent-name", "facts-list", "section-null", "unknown-key", "version", "file-meta-key", "run-key"])
def test_a_manifest_of_the_wrong_shape_is_named_as_altered(signed, capsys, change, named):
    _rewrite_manifest(signed, change)
    code, out = _verify(capsys, signed)
    assert code == 1, out
    assert f"ALTERED  {named}; not a manifest written by auditor (altered or damaged)" in out


@pytest.mark.parametrize("raw,named", [
    (b"[1, 2", "manifest.json: not JSON"),
    (b"[" * 100000 + b"]" * 100000, "manifest.json: not JSON"),
    (b"5", "manifest.json: the top level is not a JSON object"),
    (b'{"files": {"run.json": {"sha256": "' + b"1" * 5000 + b'"}}}', "run.json: altered"),
    (b'{"files": {}, "x": ' + b"1" * 5000 + b"}", "manifest.json: not JSON"),
], ids=["truncated", "deep", "number", "long-digest", "5000-digit-int"])
def test_a_manifest_that_is_not_json_or_not_an_object_is_named(signed, capsys, raw, named):
    (signed / "manifest.json").write_bytes(raw)
    code, out = _verify(capsys, signed)
    assert code == 1, out
    assert f"ALTERED  {named}" in out


@pytest.mark.parametrize("key,value", [("run_id", "another-run"), ("started_at", "2020-01-01T00:00:00Z"), ("tool_version", "9.9"), ("schema_version", 5)])
def test_a_manifest_header_that_disagrees_with_run_json_is_named(tmp_path, inventory, capsys, key, value):
    folder = _run(inventory, tmp_path / "r")
    _rewrite_manifest(folder, lambda m: m.__setitem__(key, value))
    code, out = _verify(capsys, folder)
    assert code == 1, out
    assert f"ALTERED  manifest.json: {key} is {json.dumps(value)}, but run.json says " in out


@pytest.mark.parametrize("section", ["facts", "findings"])
def test_a_facts_or_findings_section_digest_in_the_manifest_that_is_wrong_is_named(tmp_path, inventory, capsys, section):
    """Found by the fuzz test: the item digests matched, so a replaced section digest went unnoticed."""
    folder = _run(inventory, tmp_path / "r")
    _rewrite_manifest(folder, lambda m: m["run"]["sections"].__setitem__(section, ""))
    code, out = _verify(capsys, folder)
    assert code == 1, out
    assert f"ALTERED  run.json: section '{section}' does not match its digest in manifest.json" in out


def test_a_file_size_in_the_manifest_that_is_wrong_is_named(signed, capsys):
    _rewrite_manifest(signed, lambda m: m["files"]["summary.md"].__setitem__("bytes", 1))
    code, out = _verify(capsys, signed)
    assert code == 1, out
    assert "ALTERED  manifest.json: gives summary.md a size of 1 bytes; it has " in out


def test_a_file_added_in_a_new_sub_folder_is_named(signed, capsys):
    (signed / "assets").mkdir()
    (signed / "assets" / "evil.js").write_text("alert(1)")
    (signed / "empty").mkdir()
    code, out = _verify(capsys, signed)
    assert code == 1, out
    assert "ALTERED  assets/evil.js: not listed in the manifest (added after the run)" in out
    assert "ALTERED  empty/: not listed in the manifest (added after the run)" in out


def test_a_pipe_or_a_link_in_place_of_a_file_is_named_without_reading_it(signed, capsys):
    (signed / "report.html").unlink()
    os.mkfifo(signed / "report.html")
    (signed / "junit.xml").unlink()
    os.symlink("/dev/zero", signed / "junit.xml")
    os.symlink("/dev/zero", signed / "extra.bin")
    code, out = _verify(capsys, signed)
    assert code == 1, out
    assert "ALTERED  report.html: not a regular file, not a file written by the run (altered) (the manifest lists it)" in out
    assert "ALTERED  junit.xml: a symbolic link, not a file written by the run (altered) (the manifest lists it)" in out
    assert "ALTERED  extra.bin: not listed in the manifest (added after the run)" in out
    (signed / "manifest.sig").unlink()
    os.mkfifo(signed / "manifest.sig")
    code, out = _verify(capsys, signed)
    assert code == 1 and "ALTERED  manifest.sig: not a regular file, not a file written by the run (altered)" in out


def test_a_run_json_the_renderer_cannot_read_with_a_recomputed_manifest_is_altered(tmp_path, inventory, capsys):
    """A consistent forgery (digests recomputed) that this version cannot render: altered, not an internal error."""
    from auditor.integrity import build_manifest, manifest_bytes

    folder = _run(inventory, tmp_path / "r")
    doc = json.loads((folder / "run.json").read_text())
    doc["summary"] = 5
    files = {name: (folder / name).read_bytes() for name in ("report.html", "junit.xml", "summary.md")}
    files["run.json"] = (json.dumps(doc, indent=2) + "\n").encode()
    (folder / "run.json").write_bytes(files["run.json"])
    (folder / "manifest.json").write_bytes(manifest_bytes(build_manifest(doc, files)))
    code, out = _verify(capsys, folder)
    assert code == 1, out
    assert "ALTERED  run.json: cannot be rendered by auditor" in out


def test_verify_of_a_wrong_manifest_exits_1_in_a_real_process(signed):
    _rewrite_manifest(signed, lambda m: m.__setitem__("run", 5))
    (signed / "assets").mkdir()
    (signed / "assets" / "evil.js").write_text("alert(1)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-m", "auditor", "verify", str(signed)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    assert "ALTERED  manifest.json: 'run' is a number" in proc.stdout
