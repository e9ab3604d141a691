"""No credential of any URL reaches a message, a log line or a report (auditor/redact.py, and every path through it).

End to end on the real PostgreSQL of tests/db_rig.py: ``auditor history`` and
``auditor run --history`` with a wrong password, an unreachable host and
passwords holding ``@ : / ? #`` and spaces; the password is searched in
stdout, stderr and every file of the report folder.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from auditor.console import terminal
from auditor.evidence import observation
from auditor.redact import mask_credentials, mask_in_place

from db_rig import ENV as DB_ENV, pg_entry, pg_rig, refused_port  # noqa: F401 - fixture

# -- the masking rule itself --------------------------------------------------------------------


@pytest.mark.parametrize("text, shown", [
    ("postgresql://app:Secret1@db:5432/x", "postgresql://app:***@db:5432/x"),
    ("mysql://app:S%40cr%3At@db/x", "mysql://app:***@db/x"),  # percent-encoded
    ("postgresql://app:Se@cr@et@db/x", "postgresql://app:***@db/x"),  # raw @
    ("postgresql://app:Se:cr:et@db/x", "postgresql://app:***@db/x"),  # raw :
    ("sftp://app:Se/cr/et@backup:22/repo", "sftp://app:***@backup:22/repo"),  # raw / hides where the path starts
    ("postgresql://app:Se?cr#et@db/x", "postgresql://app:***@db/x"),  # raw ? and #
    ("one redis://:Secret1@cache:6379/0, two amqp://u:Secret2@mq/vh.", "one redis://:***@cache:6379/0, two amqp://u:***@mq/vh."),
    ('invalid URI: "postgresql://app:Secret1@[::1/x"', 'invalid URI: "postgresql://app:***@[::1/x"'),
    ("s3://a:b@c?next=https://u:Secret1@d/", "s3://a:***@c?next=https://u:***@d/"),  # a URL in another's query
    ("postgresql://db/x?user=app&password=Se%26cret&sslmode=require", "postgresql://db/x?user=app&password=***&sslmode=require"),
    ("host=db port=5432 password='pa ss\\' w' user=app", "host=db port=5432 password=*** user=app"),  # libpq conninfo
    ("env PGPASSWORD=Secret1 MYSQL_PWD=Secret2 psql", "env PGPASSWORD=*** MYSQL_PWD=*** psql"),
    # nothing to hide: left exactly as it is
    ("ssh://git@github.com:22/repo https://example.com/a?b=c postgresql://app@db/x", "ssh://git@github.com:22/repo https://example.com/a?b=c postgresql://app@db/x"),
    ("PermitEmptyPasswords yes\nPasswordAuthentication no", "PermitEmptyPasswords yes\nPasswordAuthentication no"),
])
def test_every_url_password_in_a_text_is_masked(text: str, shown: str) -> None:
    assert mask_credentials(text) == shown
    assert mask_credentials(shown) == shown  # masking twice changes nothing


def test_known_passwords_are_masked_wherever_a_library_echoes_them() -> None:
    location = "postgresql://app:pa ss/wo?rd@db/x"
    echoed = 'unexpected spaces found in "pa ss/wo?rd"; port "pa ss" invalid; database "wo?rd@db/x" does not exist'
    masked = mask_credentials(echoed, known=(location,))
    for piece in ("pa ss", "wo?rd"):
        assert piece not in masked, masked


def test_evidence_and_report_documents_are_masked() -> None:
    ev = observation("file", "/etc/app.env via sftp://u:Secret1@h/", "DATABASE_URL=postgresql://app:Secret2@db/x\n", argv=("restic", "-r", "sftp://u:Secret3@h/r"))
    assert "Secret" not in ev.excerpt + ev.source + " ".join(ev.argv or ())
    assert ev.redacted  # the digest is of the masked text, never of the secret
    plain = observation("file", "/etc/hostname", "web1\n")
    assert not plain.redacted and plain.excerpt == "web1\n"
    doc = mask_in_place({"findings": [{"message": "repo sftp://u:Secret4@h/r unreachable", "details": {"urls": ["https://k:Secret5@x/"]}}]})
    assert "Secret" not in json.dumps(doc)
    assert "\x1b" not in terminal("x\x1b[2J postgresql://u:Secret6@h") and "Secret6" not in terminal("postgresql://u:Secret6@h")


# -- the command line on a real PostgreSQL ------------------------------------------------------


def _cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *argv], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))  # now: the rig exports its passwords when it starts


def _locations(cluster, password: str) -> dict[str, str]:
    """URLs that cannot be used: wrong password (encoded, so that it reaches the server), unreachable hosts, raw special characters."""
    quoted = urllib.parse.quote(password, safe="")
    refused = refused_port()
    return {
        "wrong password": f"postgresql://postgres:{quoted}@127.0.0.1:{cluster.port}/postgres?sslmode=disable",
        "refused port": f"postgresql://postgres:{quoted}@127.0.0.1:{refused}/postgres?sslmode=disable&connect_timeout=5",
        "unknown host": f"postgres://postgres:{quoted}@no-such-host.invalid/postgres?connect_timeout=5",
        "raw @ : /": f"postgresql://postgres:{password}@127.0.0.1:{cluster.port}/postgres",
        "raw, refused": f"postgresql://postgres:{password}@127.0.0.1:{refused}/postgres",
        "query password": f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres?sslmode=disable&password={quoted}",
    }


def _password_pieces(password: str) -> list[str]:
    return [password, urllib.parse.quote(password, safe=""), *(p for p in password.replace("@", " ").replace(":", " ").replace("/", " ").split() if len(p) >= 4)]


def _leaks(pieces: list[str], *texts: str) -> list[str]:
    return [p for p in pieces for t in texts if p in t]


def test_auditor_history_never_prints_the_password(pg_rig) -> None:  # noqa: F811 - fixture
    cluster = pg_rig.strong
    password = f"Wr0ng@pw:{secrets.token_hex(4)}/{secrets.token_hex(4)}"
    pieces = _password_pieces(password)
    for case, location in _locations(cluster, password).items():
        proc = _cli("history", "--history", location)
        assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, (case, proc.stderr)
        assert proc.stderr.startswith("auditor: error: postgres"), (case, proc.stderr)
        assert not _leaks(pieces, proc.stdout, proc.stderr), (case, proc.stderr)
    # and the real superuser password, in a location that authenticates but names no database
    real = f"postgresql://postgres:{urllib.parse.quote(cluster.superuser_password, safe='')}@127.0.0.1:{cluster.port}/no_such_db?sslmode=disable"
    proc = _cli("history", "--history", real)
    assert proc.returncode == 2 and 'database "no_such_db" does not exist' in proc.stderr, proc.stderr
    assert cluster.superuser_password not in proc.stdout + proc.stderr


def test_auditor_run_keeps_passwords_out_of_output_and_report(pg_rig, tmp_path: Path) -> None:  # noqa: F811 - fixture
    cluster = pg_rig.strong
    password = f"Wr0ng@pw:{secrets.token_hex(4)}/{secrets.token_hex(4)}"
    pieces = _password_pieces(password) + [os.environ[DB_ENV["wrong"]]]
    import yaml

    inv = tmp_path / "inventory.yaml"
    # a database target with a wrong password too: its error travels through facts, findings and evidence
    inv.write_text(yaml.safe_dump({"version": 1, "databases": [pg_entry("pg", cluster, password="wrong")]}))
    for case, location in _locations(cluster, password).items():
        out = tmp_path / case.replace(" ", "_").replace(",", "").replace("@", "at").replace(":", "").replace("/", "")
        proc = _cli("run", str(inv), "--out", str(out), "--history", location, "--no-progress", "--connect-timeout", "5")
        assert proc.returncode in (1, 3), (case, proc.stdout, proc.stderr)  # the TLS controls judge without logging in
        assert "auditor: warning: run not recorded in the history: history database postgres" in proc.stderr, (case, proc.stderr)
        assert "Traceback" not in proc.stderr, (case, proc.stderr)
        files = [p for p in out.rglob("*") if p.is_file()]
        assert {p.name for p in files} >= {"run.json", "report.html", "summary.md", "junit.xml"}, files
        contents = [p.read_text(errors="replace") for p in files]
        assert "auth_failed" in "".join(contents)
        assert not _leaks(pieces, proc.stdout, proc.stderr, *contents), case


def test_an_internal_error_trace_is_printed_masked_and_escaped(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import auditor.cli as cli

    def broken(args: object) -> int:  # a bug that quotes a credential and a target's string
        raise RuntimeError("cannot reach postgresql://app:Secret7@db/x for file evil\x1b[31m.sql")

    monkeypatch.setattr(cli, "cmd_controls", broken)
    assert cli.main(["controls"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" in err and "RuntimeError: cannot reach postgresql://app:***@db/x for file evil\\x1b[31m.sql" in err
    assert "Secret7" not in err and "\x1b" not in err
