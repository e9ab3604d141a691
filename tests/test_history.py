"""Run history (auditor/history.py) on real databases: SQLite files and the
PostgreSQL cluster of tests/db_rig.py (each test gets a database of its own).

Every behaviour is tested on both back ends: the same schema and SQL must
give the same answers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from auditor.history import SCHEMA_VERSION, HistoryError, open_history, render_history_json, render_history_text
from auditor.report import run_document

from db_rig import pg_rig, refused_port  # noqa: F401 - fixture
from harness import world_dir  # noqa: F401 - fixture
from helpers import audit, write

STATUSES = ("pass", "fail", "error", "skipped", "waived")


# -- fixtures and builders ---------------------------------------------------------------------


def pg_url(cluster: Any, database: str, password: str | None = None) -> str:
    pw = urllib.parse.quote(cluster.superuser_password if password is None else password, safe="")
    return f"postgresql://postgres:{pw}@127.0.0.1:{cluster.port}/{database}?sslmode=disable"


def new_pg_database(request: pytest.FixtureRequest) -> str:
    """A fresh database in the rig's cluster (dropped after the test); its URL, as the superuser."""
    cluster = request.getfixturevalue("pg_rig").strong
    db = "history_" + secrets.token_hex(6)
    cluster.sql(f"CREATE DATABASE {db}")
    request.addfinalizer(lambda: cluster.sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
    return pg_url(cluster, db)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A history location that does not exist yet: a SQLite path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "out" / "history.sqlite")
    return new_pg_database(request)


def counts(**given: int) -> dict[str, int]:
    return {s: given.get(s, 0) for s in STATUSES}


def make_doc(run_id: str, started_at: str, *, inventory: str = "production", policy: str = "baseline-eu", complete: bool = True,
             families: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """A run document as run_document() writes it (the keys history reads, and the rest)."""
    families = families if families is not None else {"tls": counts(**{"pass": 3, "fail": 1}), "access": counts(**{"pass": 5, "error": 2})}
    by_status = counts()
    for fam in families.values():
        for s, n in fam.items():
            by_status[s] += n
    return {
        "schema_version": "1.1",
        "tool_version": "0.1.0",
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": started_at.replace("Z", "").rsplit(":", 1)[0] + ":59.000Z",
        "complete": complete,
        "inventory": {"name": inventory, "path": f"/srv/{inventory}.yaml", "sha256": "a" * 64},
        "policy": {"id": policy, "title": "t", "path": None, "sha256": "b" * 64},
        "findings": [],
        "facts": [],
        "summary": {"total": sum(by_status.values()), "by_status": by_status, "by_family": families},
    }


def at(day: int, hour: int = 3) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00.000Z"


# -- record and trend --------------------------------------------------------------------------


def test_trend_is_oldest_first_newest_limit_and_strictly_before(location: str) -> None:
    with open_history(location) as h:
        for day in (5, 1, 4, 2, 3):  # recorded out of order: order comes from started_at
            h.record(make_doc(f"run-{day}", at(day), families={"tls": counts(**{"pass": 10 - day, "fail": day})}), f"/reports/{day}")
        trend = h.trend("production", "baseline-eu")
        assert [t["run_id"] for t in trend] == ["run-1", "run-2", "run-3", "run-4", "run-5"]
        assert [t["started_at"] for t in trend] == [at(d) for d in range(1, 6)]

        assert [t["run_id"] for t in h.trend("production", "baseline-eu", limit=2)] == ["run-4", "run-5"]
        # before is strict: the run started at that moment (the current one) is not its own history
        assert [t["run_id"] for t in h.trend("production", "baseline-eu", before=at(4))] == ["run-1", "run-2", "run-3"]
        assert [t["run_id"] for t in h.trend("production", "baseline-eu", before=at(4), limit=1)] == ["run-3"]
        # other spellings of the same instant compare as instants
        assert [t["run_id"] for t in h.trend("production", "baseline-eu", before="2026-11-04T04:00:00+01:00")] == ["run-1", "run-2", "run-3"]
        assert h.trend("production", "baseline-eu", before=at(1)) == []

        third = trend[2]
        assert third == {
            "run_id": "run-3",
            "started_at": at(3),
            "complete": True,
            "by_status": {"pass": 7, "fail": 3, "error": 0, "skipped": 0, "waived": 0},
            "by_family": {"tls": {"pass": 7, "fail": 3, "error": 0, "skipped": 0, "waived": 0}},
        }
        assert list(third["by_status"]) == list(STATUSES)
        json.dumps(trend)  # plain JSON types only


def test_trend_fills_every_status_and_orders_families(location: str) -> None:
    # A schema 1.0 document may lack statuses (no waived); families come out in the usual order.
    doc = make_doc("old", at(1), families={"access": {"pass": 2, "fail": 1}, "tls": {"error": 4}}, complete=False)
    doc["summary"]["by_status"] = {"pass": 2, "fail": 1, "error": 4}
    doc["schema_version"] = "1.0"
    with open_history(location) as h:
        h.record(doc, None)
        (entry,) = h.trend("production", "baseline-eu")
    assert entry["complete"] is False
    assert entry["by_status"] == {"pass": 2, "fail": 1, "error": 4, "skipped": 0, "waived": 0}
    assert list(entry["by_family"]) == ["tls", "access"]
    assert entry["by_family"]["tls"] == {"pass": 0, "fail": 0, "error": 4, "skipped": 0, "waived": 0}


def test_trend_is_deterministic_for_runs_started_at_the_same_moment(location: str) -> None:
    with open_history(location) as h:
        for run_id in ("b", "c", "a"):
            h.record(make_doc(run_id, at(1)), None)
        assert [t["run_id"] for t in h.trend("production", "baseline-eu")] == ["a", "b", "c"]
        assert [t["run_id"] for t in h.trend("production", "baseline-eu", limit=2)] == ["b", "c"]
        assert h.trend("production", "baseline-eu") == h.trend("production", "baseline-eu")


def test_recording_the_same_run_twice_is_a_no_op(location: str) -> None:
    first = make_doc("same-run", at(1), families={"tls": counts(**{"pass": 1})})
    again = make_doc("same-run", at(2), families={"tls": counts(**{"fail": 9})})  # same id, other content
    with open_history(location) as h:
        h.record(first, "/reports/first")
        h.record(first, "/reports/first")
    with open_history(location) as h:  # another connection (another scheduled run) records it again
        h.record(again, "/reports/again")
        runs = h.runs()
    assert len(runs) == 1
    assert runs[0]["started_at"] == at(1)
    assert runs[0]["by_family"]["tls"]["pass"] == 1 and runs[0]["by_family"]["tls"]["fail"] == 0
    assert runs[0]["report_path"] == "/reports/first"


def test_inventories_and_policies_are_kept_apart(location: str) -> None:
    with open_history(location) as h:
        h.record(make_doc("p-base-1", at(1)), None)
        h.record(make_doc("staging-base", at(2), inventory="staging"), None)
        h.record(make_doc("p-wnu", at(3), policy="webbplats-nu"), None)
        h.record(make_doc("p-base-2", at(4)), None)
        assert [t["run_id"] for t in h.trend("production", "baseline-eu")] == ["p-base-1", "p-base-2"]
        assert [t["run_id"] for t in h.trend("staging", "baseline-eu")] == ["staging-base"]
        assert [t["run_id"] for t in h.trend("production", "webbplats-nu")] == ["p-wnu"]
        assert h.trend("staging", "webbplats-nu") == []

        assert [r["run_id"] for r in h.runs()] == ["p-base-2", "p-wnu", "staging-base", "p-base-1"]
        assert [r["run_id"] for r in h.runs(inventory="production")] == ["p-base-2", "p-wnu", "p-base-1"]
        assert [r["run_id"] for r in h.runs(policy="baseline-eu")] == ["p-base-2", "staging-base", "p-base-1"]
        assert [r["run_id"] for r in h.runs(inventory="production", policy="baseline-eu", limit=1)] == ["p-base-2"]
        assert [(r["inventory"], r["policy"]) for r in h.runs(limit=2)] == [("production", "baseline-eu"), ("production", "webbplats-nu")]


def test_runs_carry_the_report_path_and_the_trend_shape(location: str, tmp_path: Path) -> None:
    with open_history(location) as h:
        h.record(make_doc("r1", at(1)), "relative/report-dir")
        h.record(make_doc("r2", at(2)), None)
        newest, oldest = h.runs()
    assert newest["report_path"] is None
    assert oldest["report_path"] == os.path.abspath("relative/report-dir")
    assert set(oldest) == {"run_id", "started_at", "complete", "by_status", "by_family", "inventory", "policy", "report_path"}
    assert oldest["by_status"] == {"pass": 8, "fail": 1, "error": 2, "skipped": 0, "waived": 0}


def test_a_real_run_document_is_recorded_and_read_back(location: str, tmp_path: Path) -> None:
    """The document the runner produces (not a hand-made one) goes in; its own summary comes out."""
    inv = write(str(tmp_path / "inv.yaml"), """
        version: 1
        name: history-e2e
        servers:
          - name: here
            connection: local
            country: SE
        processors:
          - name: Google
            country: US
            purpose: Analysdata
            safeguard: none
        """)
    docs = [run_document(audit(inv, only=["data_location"])) for _ in range(2)]
    with open_history(location) as h:
        for doc in docs:
            h.record(doc, str(tmp_path / "reports" / doc["run_id"]))
        trend = h.trend("history-e2e", "baseline-eu", before=docs[1]["started_at"])
        (latest,) = h.runs(inventory="history-e2e", limit=1)
    assert [t["run_id"] for t in trend] == [docs[0]["run_id"]]
    assert trend[0]["by_status"] == docs[0]["summary"]["by_status"]
    assert trend[0]["by_family"] == docs[0]["summary"]["by_family"]
    assert trend[0]["by_family"]["data_location"]["fail"] == 1  # Google, outside the EU without a safeguard
    assert latest["run_id"] == docs[1]["run_id"] and latest["policy"] == "baseline-eu"


# -- concurrency -------------------------------------------------------------------------------


def test_two_threads_open_and_record_at_once(location: str) -> None:
    """Two writers on a database nobody has created yet: both create the schema and record, none fails."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            barrier.wait(30)
            with open_history(location) as h:
                for i in range(15):
                    h.record(make_doc(f"{prefix}-{i:02d}", f"2026-11-01T03:{i:02d}:00.000Z", inventory=prefix), f"/reports/{prefix}/{i}")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with open_history(location) as h:
        assert len(h.runs(limit=100)) == 30
        assert [t["run_id"] for t in h.trend("alpha", "baseline-eu", limit=3)] == ["alpha-12", "alpha-13", "alpha-14"]
        assert len(h.trend("beta", "baseline-eu", limit=50)) == 15


WRITER = textwrap.dedent("""
    import json, os, sys, time
    from auditor.history import open_history
    location, template, prefix, folder = sys.argv[1:5]
    with open(template) as fh:
        doc = json.load(fh)
    with open_history(location) as h:
        open(os.path.join(folder, "ready-" + prefix), "w").close()
        while not os.path.exists(os.path.join(folder, "go")):
            time.sleep(0.002)
        for i in range(20):
            doc["run_id"], doc["started_at"] = f"{prefix}-{i:02d}", f"2026-11-01T04:{i:02d}:00.000Z"
            doc["inventory"]["name"] = prefix
            h.record(doc, None)
        shared = dict(doc, run_id="shared-run", started_at="2026-11-02T00:00:00.000Z", inventory={"name": "shared"})
        h.record(shared, None)  # the same run from both: stored once
    print("recorded")
    """)


def test_two_processes_record_at_once(location: str, tmp_path: Path) -> None:
    """Two scheduled runs (separate processes) writing the same history at the same moment both succeed."""
    template = tmp_path / "run.json"
    template.write_text(json.dumps(make_doc("template", at(1))))
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, location, str(template), prefix, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for prefix in ("one", "two")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{p}").exists() for p in ("one", "two")):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    (tmp_path / "go").write_text("go")  # both connected: now they write at the same moment
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert out.strip() == "recorded"
    with open_history(location) as h:
        runs = h.runs(limit=100)
        assert len(runs) == 41
        assert sum(r["run_id"] == "shared-run" for r in runs) == 1
        assert [t["run_id"] for t in h.trend("two", "baseline-eu", limit=2)] == ["two-18", "two-19"]


# -- schema ------------------------------------------------------------------------------------


def _schema_rows(location: str) -> list[tuple[Any, ...]]:
    with open_history(location) as h:
        return [tuple(r) for r in h._execute("SELECT version FROM auditor_history_schema").fetchall()]


def test_schema_is_created_once_and_reopened(location: str) -> None:
    with open_history(location) as h:
        h.record(make_doc("kept", at(1)), "/reports/kept")
    for _ in range(3):
        with open_history(location) as h:
            assert [r["run_id"] for r in h.runs()] == ["kept"]
    assert _schema_rows(location) == [(SCHEMA_VERSION,)]


def test_readers_create_nothing(location: str) -> None:
    """open_history(create=False) (auditor history): a location without history is an error, and stays empty."""
    with pytest.raises(HistoryError) as exc:
        open_history(location, create=False)
    assert "no run has been recorded there yet" in str(exc.value)
    if location.startswith("postgresql://"):
        with pytest.raises(HistoryError, match="holds no run history"):
            open_history(location, create=False)
        import psycopg

        with psycopg.connect(location) as conn:
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'auditor%'").fetchone()[0] == 0
    else:
        assert not os.path.exists(location) and not os.path.exists(os.path.dirname(location))
    with open_history(location) as h:
        h.record(make_doc("r", at(1)), None)
    with open_history(location, create=False) as h:
        assert [r["run_id"] for r in h.runs()] == ["r"]


def test_a_newer_schema_is_refused(location: str) -> None:
    with open_history(location) as h:
        h.record(make_doc("r", at(1)), None)
        with h._transaction(True, "test"):
            h._execute("UPDATE auditor_history_schema SET version = ?", (SCHEMA_VERSION + 1,))
    for create in (True, False):
        with pytest.raises(HistoryError) as exc:
            open_history(location, create=create)
    message = str(exc.value)
    assert f"schema version {SCHEMA_VERSION + 1} is newer than this auditor understands ({SCHEMA_VERSION})" in message
    assert "\n" not in message


def test_sqlite_uses_wal_and_creates_its_folder_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "history.sqlite"
    with open_history(str(path)) as h:
        assert h.backend == "sqlite" and h.location == str(path)
        h.record(make_doc("r", at(1)), None)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    finally:
        conn.close()
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_writer_waits_for_a_held_lock_instead_of_failing(tmp_path: Path) -> None:
    """Another process holding the write lock for a while: record() waits (busy timeout), then succeeds."""
    path = str(tmp_path / "history.sqlite")
    open_history(path).close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        with open_history(path) as h:
            h.record(make_doc("waited", at(1)), None)
            waited = time.monotonic() - started
            assert [r["run_id"] for r in h.runs()] == ["waited"]
    finally:
        release.join()
        holder.close()
    assert waited >= 0.9


# -- bad locations -----------------------------------------------------------------------------


def test_unusable_sqlite_locations_are_one_line_errors(tmp_path: Path) -> None:
    a_file = tmp_path / "plain-file"
    a_file.write_text("not a folder")
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("these are notes, not a database\n" * 200)
    cases = {
        str(a_file / "history.sqlite"): f"cannot create folder {a_file}: ",
        str(tmp_path): "is a folder; give a file path such as",
        str(not_a_db): "file is not a database",
        "": "history location is empty",
        "mysql://u:hunter2@db/x": "unsupported URL scheme 'mysql'",
    }
    for location, expected in cases.items():
        with pytest.raises(HistoryError) as exc:
            open_history(location)
        message = str(exc.value)
        assert expected in message, (location, message)
        assert "\n" not in message and "Traceback" not in message
        assert "hunter2" not in message
    assert not_a_db.read_text().startswith("these are notes")  # left as it was


def _open_as_nobody(location: str) -> str:
    """open_history(location) in a child process running as the unprivileged user ``nobody``; its error message."""
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges for good, try, report, exit
        try:
            os.close(read)
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            try:
                open_history(location).close()
                message = "OPENED"
            except HistoryError as exc:
                message = "HistoryError: " + str(exc)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                message = f"{type(exc).__name__}: {exc}"
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def test_unwritable_folder_is_a_history_error(world_dir: str) -> None:  # noqa: F811 - fixture
    """A folder the auditing user may not write (root's, 0755): a clear error, not a traceback and not a success."""
    if os.geteuid() != 0:
        pytest.fail("this test drops privileges to 'nobody' and must run as root (the suite does)")
    locked = os.path.join(world_dir, "locked")
    os.mkdir(locked, 0o755)
    new_file = os.path.join(locked, "history.sqlite")
    assert _open_as_nobody(new_file) == f"HistoryError: history database {new_file}: cannot open for writing: Permission denied"
    nested = os.path.join(locked, "sub", "history.sqlite")
    assert _open_as_nobody(nested) == f"HistoryError: history database {nested}: cannot create folder {os.path.dirname(nested)}: Permission denied"
    # a database nobody may read or write (root's 0640 file) is refused too, and left unharmed
    with open_history(new_file) as h:
        h.record(make_doc("root-run", at(1)), None)
    assert _open_as_nobody(new_file) == f"HistoryError: history database {new_file}: cannot open for writing: Permission denied"
    with open_history(new_file) as h:
        assert [r["run_id"] for r in h.runs()] == ["root-run"]
    # and the same folder, once writable for the user, works: the refusals above were about permissions
    os.chmod(locked, 0o777)
    other = os.path.join(locked, "nobody.sqlite")
    assert _open_as_nobody(other) == "OPENED"


def test_unusable_postgresql_locations_are_one_line_errors_without_the_password(pg_rig) -> None:  # noqa: F811 - fixture
    cluster = pg_rig.strong
    password = cluster.superuser_password
    port = refused_port()
    cases = {
        f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres?sslmode=disable&connect_timeout=5": "cannot connect: ",
        pg_url(cluster, "postgres", password="wrong-" + password): "password authentication failed",
        pg_url(cluster, "no_such_database_here"): 'database "no_such_database_here" does not exist',
        f"postgres://postgres:{password}@127.0.0.1:{cluster.port}/postgres?sslmode=sometimes": 'invalid sslmode value: "sometimes"',
        f"postgresql://postgres:{password}@127.0.0.1:{cluster.port}/postgres?password={password}&bogus_option=1": "not a valid PostgreSQL URL: invalid URI query parameter",
        # libpq quotes a URL it cannot parse, password and all: shown redacted
        f"postgresql://postgres:{password}@[::1/postgres": "not a valid PostgreSQL URL: end of string reached",
    }
    for location, expected in cases.items():
        with pytest.raises(HistoryError) as exc:
            open_history(location)
        message = str(exc.value)
        assert expected in message, message
        assert password not in message, message
        assert message.startswith("history database postgres"), message
        assert "postgres:***@" in message, message
        assert "\n" not in message


def test_postgresql_location_shown_without_password(pg_rig, request: pytest.FixtureRequest) -> None:  # noqa: F811 - fixture
    location = new_pg_database(request)
    assert pg_rig.strong.superuser_password in location
    with open_history(location) as h:
        assert h.backend == "postgresql"
        assert pg_rig.strong.superuser_password not in h.location + repr(h)
        assert h.location.startswith("postgresql://postgres:***@127.0.0.1:")


def test_record_refuses_a_document_without_what_history_needs(location: str) -> None:
    no_name = make_doc("x", at(1))
    del no_name["inventory"]["name"]
    bad_time = make_doc("y", "yesterday")
    bad_counts = make_doc("z", at(1))
    bad_counts["summary"]["by_family"]["tls"]["fail"] = "many"
    with open_history(location) as h:
        for doc, expected in ((no_name, "run.json 'inventory.name' is missing"), (bad_time, "'yesterday' is not an ISO 8601 time"),
                              (bad_counts, "summary.by_family.tls must map statuses to counts")):
            with pytest.raises(HistoryError, match=expected):
                h.record(doc, None)
        assert h.runs() == []  # nothing half-written
        with pytest.raises(HistoryError, match="'soon' is not an ISO 8601 time"):
            h.trend("production", "baseline-eu", before="soon")
        with pytest.raises(ValueError, match="limit must be a positive integer"):
            h.runs(limit=0)


def test_closed_history_says_so(tmp_path: Path) -> None:
    h = open_history(str(tmp_path / "h.sqlite"))
    h.close()
    h.close()  # twice is fine
    with pytest.raises(HistoryError, match="already closed"):
        h.runs()


# -- docs/history.md, executed -----------------------------------------------------------------

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "history.md")


def doc_sql(marker: str) -> list[str]:
    """The statements of the sql block after ``<!-- marker -->`` in docs/history.md."""
    with open(DOC, encoding="utf-8") as fh:
        m = re.search(rf"<!-- {marker} -->\s*```sql\n(.*?)```", fh.read(), re.S)
    assert m, f"docs/history.md has no <!-- {marker} --> sql block"
    body = "\n".join(line.split("--", 1)[0] for line in m.group(1).splitlines())
    return [stmt.strip() for stmt in body.split(";") if stmt.strip()]


def test_documented_postgresql_roles_are_sufficient(pg_rig) -> None:  # noqa: F811 - fixture
    """The owner role of docs/history.md records runs; the reader role reads them and can change nothing."""
    cluster = pg_rig.strong
    owner_pw, reader_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    try:
        cluster.sql([s.replace("change-me", owner_pw) for s in doc_sql("history-grants:postgresql")])
        owner = f"postgresql://auditor_history:{owner_pw}@127.0.0.1:{cluster.port}/auditor_history?sslmode=require"
        with open_history(owner) as h:
            h.record(make_doc("by-owner", at(1)), None)
        cluster.sql([s.replace("change-me-too", reader_pw) for s in doc_sql("history-reader:postgresql")], database="auditor_history")
        reader = f"postgresql://dpo:{reader_pw}@127.0.0.1:{cluster.port}/auditor_history?sslmode=require"
        with open_history(reader, create=False) as h:
            assert [r["run_id"] for r in h.runs()] == ["by-owner"]
            with pytest.raises(HistoryError, match="permission denied"):
                h.record(make_doc("by-reader", at(2)), None)
        with pytest.raises(HistoryError, match="permission denied"):
            open_history(reader)  # creating tables is the owner's job
        # the documented example query runs on the history as recorded
        with open(DOC, encoding="utf-8") as fh:
            query = re.search(r"```sql\n(SELECT substr.*?)```", fh.read(), re.S).group(1)
        assert cluster.sql(query, database="auditor_history") == [("2026-11", "access", 0), ("2026-11", "tls", 1)]
    finally:
        cluster.sql(["DROP DATABASE IF EXISTS auditor_history WITH (FORCE)", "DROP ROLE IF EXISTS dpo", "DROP ROLE IF EXISTS auditor_history"])


def test_documented_search_path_option_puts_the_tables_in_that_schema(request: pytest.FixtureRequest) -> None:
    url = new_pg_database(request)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA audit")
    with open_history(url + "&options=-csearch_path%3Daudit") as h:
        h.record(make_doc("r", at(1)), None)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT DISTINCT schemaname FROM pg_tables WHERE tablename LIKE 'auditor%'").fetchall() == [("audit",)]


def test_documented_example_output_is_what_render_prints(tmp_path: Path) -> None:
    with open(DOC, encoding="utf-8") as fh:
        text = fh.read()
    example = text.split("## `auditor history`", 1)[1].split("```\n", 2)[1]
    assert example == render_history_text(_rows(tmp_path))


# -- rendering ---------------------------------------------------------------------------------


def _rows(tmp_path: Path) -> list[dict[str, Any]]:
    with open_history(str(tmp_path / "r.sqlite")) as h:
        h.record(make_doc("p1", at(1, 3), families={"tls": counts(**{"pass": 12, "fail": 3}), "access": counts(**{"pass": 7, "fail": 5})}), None)
        h.record(make_doc("s1", at(1, 4), inventory="staging", families={"tls": counts(**{"pass": 2})}), None)
        h.record(make_doc("p2", at(2, 3), families={"tls": counts(**{"pass": 14, "fail": 1}), "access": counts(**{"pass": 6, "fail": 6})}), None)
        h.record(make_doc("p3", at(3, 3), families={"tls": counts(**{"pass": 14, "fail": 1, "error": 2}), "access": counts(**{"pass": 6, "fail": 6})}, complete=False), None)
        h.record(make_doc("p4", at(4, 3), families={"tls": counts(**{"pass": 14, "fail": 1, "error": 2}), "access": counts(**{"pass": 6, "fail": 6})}), None)
        h.record(make_doc("s2", at(5, 4), inventory="staging", families={"tls": counts(**{"pass": 1, "fail": 1})}), None)
        return h.runs()


def test_history_text_table(tmp_path: Path) -> None:
    text = render_history_text(_rows(tmp_path))
    lines = text.splitlines()
    assert lines[0].startswith("pass/fail/error for each family;")
    header, *body = lines[2:]
    assert header.split() == ["started", "(UTC)", "inventory", "policy", "complete", "tls", "access", "change"]
    table = [line.split() for line in body]
    assert table == [
        ["2026-11-05", "04:00", "staging", "baseline-eu", "yes", "1/1/0", "-", "worse", "(fail", "0->1)"],
        ["2026-11-04", "03:00", "production", "baseline-eu", "yes", "14/1/2", "6/6/0", "same"],
        ["2026-11-03", "03:00", "production", "baseline-eu", "NO", "14/1/2", "6/6/0", "worse", "(error", "0->2)"],
        ["2026-11-02", "03:00", "production", "baseline-eu", "yes", "14/1/0", "6/6/0", "better", "(fail", "8->7)"],
        ["2026-11-01", "04:00", "staging", "baseline-eu", "yes", "2/0/0", "-", "-"],
        ["2026-11-01", "03:00", "production", "baseline-eu", "yes", "12/3/0", "7/5/0", "-"],
    ]
    # columns line up: every cell of a column starts at the header's offset
    assert all(line.index("baseline-eu") == header.index("policy") for line in body)


def test_history_text_for_one_family_and_in_any_order(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    text = render_history_text(rows, family="access")
    body = [line.split() for line in text.splitlines()[3:]]
    assert text.splitlines()[0].startswith("pass/fail/error for family access;")
    assert [" ".join(r[6:]) for r in body] == ["-", "same", "same", "worse (fail 5->6)", "-", "-"]
    assert body[0][5] == "-" and body[1][5] == "6/6/0"  # staging has no access findings
    # oldest first (the order of a trend): the changes are the same, compared by time not by position
    assert render_history_text(list(reversed(rows)), family="access").splitlines()[3:] == list(reversed(text.splitlines()[3:]))
    with pytest.raises(ValueError, match="unknown family 'crypto'"):
        render_history_text(rows, family="crypto")


def test_history_text_empty_and_hostile_names(tmp_path: Path) -> None:
    assert render_history_text([]) == "No runs recorded.\n"
    with open_history(str(tmp_path / "n.sqlite")) as h:
        h.record(make_doc("n", at(1), inventory="evil\nname\x1b[31m"), None)
        text = render_history_text(h.runs())
    assert "evil?name?[31m" in text and "\x1b" not in text
    assert len(text.splitlines()) == 4


def test_history_json_round_trips(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    text = render_history_json(rows)
    assert text.endswith("\n")
    assert json.loads(text) == {"runs": rows}
    assert render_history_json(rows) == text
