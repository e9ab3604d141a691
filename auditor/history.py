"""Run history: every run's counts, kept in a database so trends can be shown.

One table row per run (its id, times, tool version, inventory name and
digest, policy id and digest, report path) and one row per (family, status)
count. ``auditor run`` records each run (``--history PATH|URL``, default
``<out>/history.sqlite``); ``auditor history`` lists the recorded runs; the
report's ``trend`` is read from here.

Two back ends, one schema and the same SQL (only the placeholder differs):

* a file path: SQLite (standard library), created with its folder, in WAL
  mode with a busy timeout, so two scheduled runs writing at once both
  succeed (one waits for the other's short transaction);
* a ``postgresql://`` or ``postgres://`` URL: PostgreSQL through psycopg 3,
  for teams that share one history.

Every failure (folder not writable, not a database, bad URL, server
refusing) is a :class:`HistoryError` with a one-line message that never
contains a password; the caller decides whether that is fatal (for
``auditor run`` it is not: the audit stands without its history entry).

>>> import tempfile, os
>>> with open_history(os.path.join(tempfile.mkdtemp(), "h.sqlite")) as h:
...     h.runs()
[]
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping, Sequence

from .model import FAMILIES, Status
from .redact import mask_credentials
from .timeutil import iso

SCHEMA_VERSION = 1  # version of the history database schema (not of run.json)
STATUSES = tuple(s.value for s in Status)  # pass, fail, error, skipped, waived
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another one (SQLite) or a connection (PostgreSQL)

# Both back ends run exactly these statements; "?" becomes "%s" for psycopg.
_DDL = (
    "CREATE TABLE IF NOT EXISTS auditor_history_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS auditor_runs (
        run_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        complete INTEGER NOT NULL,
        tool_version TEXT,
        run_schema_version TEXT,
        inventory_name TEXT NOT NULL,
        inventory_sha256 TEXT,
        policy_id TEXT NOT NULL,
        policy_sha256 TEXT,
        report_path TEXT,
        recorded_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS auditor_runs_subject ON auditor_runs (inventory_name, policy_id, started_at)",
    "CREATE INDEX IF NOT EXISTS auditor_runs_started ON auditor_runs (started_at)",
    """CREATE TABLE IF NOT EXISTS auditor_run_status_counts (
        run_id TEXT NOT NULL REFERENCES auditor_runs (run_id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (run_id, status)
    )""",
    """CREATE TABLE IF NOT EXISTS auditor_run_family_counts (
        run_id TEXT NOT NULL REFERENCES auditor_runs (run_id) ON DELETE CASCADE,
        family TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (run_id, family, status)
    )""",
)
_PG_LOCK_KEY = 0x61756469746F72  # advisory lock serialising schema creation ("auditor")

_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class HistoryError(Exception):
    """The history database cannot be opened, read or written. ``str()`` is one line, without secrets."""


def open_history(location: str, *, create: bool = True) -> "History":
    """Open (creating it and its schema if needed) the history at ``location``.

    ``location`` is a file path (SQLite; ``~`` is expanded, missing folders are
    created) or a ``postgresql://`` / ``postgres://`` URL (libpq syntax:
    ``postgresql://user:password@host:port/dbname?sslmode=require``; a
    password may also come from ``PGPASSWORD`` or ``~/.pgpass``).

    ``create=False`` is for readers (``auditor history``): nothing is
    created, and a location where no run was ever recorded is an error
    instead of a new empty database (a mistyped path stays a mistake).
    Raises :class:`HistoryError`.
    """
    if not isinstance(location, str) or not location.strip():
        raise HistoryError("history location is empty; give a file path (SQLite) or a postgresql:// URL")
    m = _URL_SCHEME.match(location)
    if m:
        scheme = m.group(1).lower()
        if scheme in ("postgresql", "postgres"):
            return _open_postgres(location, create)
        raise HistoryError(f"history location {_redact_url(location)}: unsupported URL scheme {scheme!r}; expected a file path (SQLite) or a postgresql:// URL")
    return _open_sqlite(location, create)


class History:
    """A connection to the run history. Use :func:`open_history` to get one.

    Thread-safe (one lock around the connection); one instance per process
    is the intended use, several processes may write at once.
    """

    def __init__(self, conn: Any, backend: str, location: str, errors: tuple[type[BaseException], ...]):
        self._conn = conn
        self.backend = backend  # "sqlite" | "postgresql"
        self.location = location  # display form: a path, or the URL without its password
        self._errors = errors
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"<History {self.backend} {self.location}>"

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._conn.close()
                except self._errors:  # closing a broken connection: nothing left to lose
                    pass

    # -- SQL plumbing ---------------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.backend == "postgresql" else statement

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self._sql(statement), tuple(params))

    @contextmanager
    def _transaction(self, write: bool, doing: str) -> Iterator[None]:
        """One transaction; any database error becomes a HistoryError naming what was being done."""
        with self._lock:
            if self._closed:
                raise HistoryError(f"history database {self.location}: already closed")
            try:
                if self.backend == "sqlite":
                    _sqlite_begin(self._conn, "BEGIN IMMEDIATE" if write else "BEGIN")
                    try:
                        yield
                    except BaseException:
                        if self._conn.in_transaction:  # SQLite may have rolled back by itself already
                            self._conn.execute("ROLLBACK")
                        raise
                    self._conn.execute("COMMIT")
                else:
                    with self._conn.transaction():
                        yield
            except self._errors as exc:
                raise HistoryError(f"history database {self.location}: cannot {doing}: {_one_line(exc, self.location)}") from None

    def _ensure_schema(self) -> None:
        with self._transaction(True, "create the history tables"):
            if self.backend == "postgresql":
                self._execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
            for stmt in _DDL:
                self._execute(stmt)
            row = self._execute("SELECT MAX(version) FROM auditor_history_schema").fetchone()
            version = row[0] if row else None
            if version is None:
                self._execute("INSERT INTO auditor_history_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            elif int(version) > SCHEMA_VERSION:
                raise _Newer(int(version))

    def _check_schema(self) -> None:
        """For readers: the history tables must exist already, in a version this code understands."""
        try:
            with self._transaction(False, "read the history schema"):
                row = self._execute("SELECT MAX(version) FROM auditor_history_schema").fetchone()
        except HistoryError as exc:
            if "no such table" not in str(exc) and "does not exist" not in str(exc):
                raise
            row = None
        if not row or row[0] is None:
            raise HistoryError(f"history database {self.location}: holds no run history (no run has been recorded there yet)")
        if int(row[0]) > SCHEMA_VERSION:
            raise _Newer(int(row[0]))

    # -- writing --------------------------------------------------------------------------------

    def record(self, doc: Mapping[str, Any], report_path: str | None) -> None:
        """Store one run (a run.json document). Recording a run_id already stored does nothing."""
        row, by_status, by_family = _run_row(doc)
        row["report_path"] = os.path.abspath(report_path) if report_path else None
        row["recorded_at"] = iso(datetime.now(timezone.utc))
        cols = list(row)
        with self._transaction(True, f"record run {row['run_id']}"):
            cur = self._execute(
                f"INSERT INTO auditor_runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) ON CONFLICT (run_id) DO NOTHING",
                [row[c] for c in cols],
            )
            if cur.rowcount == 0:  # recorded before (by this or another process)
                return
            for status, n in by_status.items():
                self._execute("INSERT INTO auditor_run_status_counts (run_id, status, n) VALUES (?, ?, ?)", (row["run_id"], status, n))
            for family, counts in by_family.items():
                for status, n in counts.items():
                    self._execute("INSERT INTO auditor_run_family_counts (run_id, family, status, n) VALUES (?, ?, ?, ?)", (row["run_id"], family, status, n))

    # -- reading --------------------------------------------------------------------------------

    def trend(self, inventory: str, policy: str, before: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        """Earlier runs of ``inventory`` (name) and ``policy`` (id) started before ``before``.

        The newest ``limit`` of them, returned oldest first, each
        ``{"run_id", "started_at", "complete", "by_status", "by_family"}``
        (every status present, zeros included): what run.json's ``trend`` holds.
        """
        _check_limit(limit)
        where = ["inventory_name = ?", "policy_id = ?"]
        params: list[Any] = [inventory, policy]
        if before is not None:
            where.append("started_at < ?")
            params.append(_iso_utc(before, "before"))
        rows = self._select(where, params, limit, extra=False)
        rows.reverse()
        return rows

    def runs(self, inventory: str | None = None, policy: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Recorded runs, newest first, optionally of one inventory name and/or policy id.

        Each is a trend entry plus ``inventory``, ``policy`` and ``report_path``.
        """
        _check_limit(limit)
        where: list[str] = []
        params: list[Any] = []
        if inventory is not None:
            where.append("inventory_name = ?")
            params.append(inventory)
        if policy is not None:
            where.append("policy_id = ?")
            params.append(policy)
        return self._select(where, params, limit, extra=True)

    def _select(self, where: list[str], params: list[Any], limit: int, extra: bool) -> list[dict[str, Any]]:
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._transaction(False, "read the run history"):
            runs = self._execute(
                "SELECT run_id, started_at, complete, inventory_name, policy_id, report_path FROM auditor_runs"
                f"{clause} ORDER BY started_at DESC, run_id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
            ids = [r[0] for r in runs]
            status_rows: list[Any] = []
            family_rows: list[Any] = []
            if ids:
                marks = ", ".join("?" for _ in ids)
                status_rows = self._execute(f"SELECT run_id, status, n FROM auditor_run_status_counts WHERE run_id IN ({marks})", ids).fetchall()
                family_rows = self._execute(f"SELECT run_id, family, status, n FROM auditor_run_family_counts WHERE run_id IN ({marks})", ids).fetchall()
        by_status: dict[str, dict[str, int]] = {i: {} for i in ids}
        for run_id, status, n in status_rows:
            by_status[run_id][status] = int(n)
        by_family: dict[str, dict[str, dict[str, int]]] = {i: {} for i in ids}
        for run_id, family, status, n in family_rows:
            by_family[run_id].setdefault(family, {})[status] = int(n)
        out = []
        for run_id, started_at, complete, inventory, policy, report_path in runs:
            entry: dict[str, Any] = {
                "run_id": run_id,
                "started_at": started_at,
                "complete": bool(complete),
                "by_status": _statuses(by_status[run_id]),
                "by_family": {fam: _statuses(by_family[run_id][fam]) for fam in _family_order(by_family[run_id])},
            }
            if extra:
                entry.update(inventory=inventory, policy=policy, report_path=report_path)
            out.append(entry)
        return out


class _Newer(Exception):
    def __init__(self, version: int):
        self.version = version


# -- opening ------------------------------------------------------------------------------------


def _open_sqlite(location: str, create: bool) -> History:
    import sqlite3

    path = os.path.abspath(os.path.expanduser(location))
    if os.path.isdir(path):
        raise HistoryError(f"history database {path}: is a folder; give a file path such as {os.path.join(path, 'history.sqlite')}")
    folder = os.path.dirname(path)
    if not create and not os.path.exists(path):
        raise HistoryError(f"history database {path}: does not exist (no run has been recorded there yet)")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise HistoryError(f"history database {path}: cannot create folder {folder}: {exc.strerror or exc}") from None
    if not os.path.isdir(folder):
        raise HistoryError(f"history database {path}: {folder} is not a folder")
    try:  # created 0640 (counts of failures are nobody else's business); checks the file is writable
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        os.close(fd)
    except OSError as exc:
        raise HistoryError(f"history database {path}: cannot open for writing: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise HistoryError(f"history database {path}: folder {folder} is not writable (SQLite needs to create {os.path.basename(path)}-wal next to it)")
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise HistoryError(f"history database {path}: cannot open: {exc}") from None
    history = History(conn, "sqlite", path, (sqlite3.Error,))
    try:
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise HistoryError(f"history database {path}: cannot open: {_one_line(exc, path)}") from None
        _ensure_schema(history, create)
    except BaseException:
        history.close()
        raise
    return history


def _open_postgres(url: str, create: bool) -> History:
    shown = _redact_url(url)
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError as exc:  # a dependency, but say so clearly if it is missing
        raise HistoryError(f"history database {shown}: PostgreSQL needs psycopg 3 ({exc})") from None
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise HistoryError(f"history database {shown}: not a valid PostgreSQL URL: {_one_line(exc, url)}") from None
    extra: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = int(BUSY_TIMEOUT_S // 3)
    if "application_name" not in params:
        extra["application_name"] = "auditor-history"
    try:
        conn = psycopg.connect(url, **extra)
    except psycopg.Error as exc:
        raise HistoryError(f"history database {shown}: cannot connect: {_one_line(exc, url)}") from None
    history = History(conn, "postgresql", shown, (psycopg.Error,))
    try:
        _ensure_schema(history, create)
    except BaseException:
        history.close()
        raise
    return history


def _ensure_schema(history: History, create: bool) -> None:
    try:
        if create:
            history._ensure_schema()
        else:
            history._check_schema()
    except _Newer as exc:
        raise HistoryError(
            f"history database {history.location}: schema version {exc.version} is newer than this auditor understands ({SCHEMA_VERSION}); "
            "upgrade auditor or use another history location"
        ) from None


def _sqlite_begin(conn: Any, statement: str) -> None:
    _retry_locked(lambda: conn.execute(statement))


def _retry_locked(action: Any) -> Any:
    """Run ``action``, retrying while SQLite says the database is locked (beyond its busy handler)."""
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# -- run documents ------------------------------------------------------------------------------


def _run_row(doc: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, int], dict[str, dict[str, int]]]:
    """The runs-table row and the counts of one run document; HistoryError if it lacks what is needed."""
    if not isinstance(doc, Mapping):
        raise HistoryError(f"cannot record run: expected a run document (a JSON object), got {type(doc).__name__}")

    def text(value: Any, what: str, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise HistoryError(f"cannot record run {doc.get('run_id', '?')}: run.json {what} is missing or not a string")
        return value

    inventory = doc.get("inventory") if isinstance(doc.get("inventory"), Mapping) else {}
    policy = doc.get("policy") if isinstance(doc.get("policy"), Mapping) else {}
    row = {
        "run_id": text(doc.get("run_id"), "'run_id'"),
        "started_at": _iso_utc(text(doc.get("started_at"), "'started_at'") or "", "run.json 'started_at'"),
        "finished_at": _iso_utc(f, "run.json 'finished_at'") if (f := text(doc.get("finished_at"), "'finished_at'", required=False)) else None,
        "complete": 1 if doc.get("complete") is True else 0,
        "tool_version": text(doc.get("tool_version"), "'tool_version'", required=False),
        "run_schema_version": text(doc.get("schema_version"), "'schema_version'", required=False),
        "inventory_name": text(inventory.get("name"), "'inventory.name'"),
        "inventory_sha256": text(inventory.get("sha256"), "'inventory.sha256'", required=False),
        "policy_id": text(policy.get("id"), "'policy.id'"),
        "policy_sha256": text(policy.get("sha256"), "'policy.sha256'", required=False),
    }
    summary = doc.get("summary")
    if isinstance(summary, Mapping) and isinstance(summary.get("by_status"), Mapping) and isinstance(summary.get("by_family"), Mapping):
        by_status = _counts(summary["by_status"], doc, "summary.by_status")
        by_family = {str(fam): _counts(c, doc, f"summary.by_family.{fam}") for fam, c in summary["by_family"].items()}
    else:  # no summary: count the findings themselves
        findings = doc.get("findings")
        if not isinstance(findings, list):
            raise HistoryError(f"cannot record run {row['run_id']}: run.json has neither 'summary' nor 'findings'")
        by_status, by_family = {}, {}
        for f in findings:
            if not isinstance(f, Mapping) or not isinstance(f.get("status"), str) or not isinstance(f.get("family"), str):
                raise HistoryError(f"cannot record run {row['run_id']}: a finding in run.json has no status or family")
            by_status[f["status"]] = by_status.get(f["status"], 0) + 1
            fam = by_family.setdefault(f["family"], {})
            fam[f["status"]] = fam.get(f["status"], 0) + 1
    return row, by_status, by_family


def _counts(value: Any, doc: Mapping[str, Any], what: str) -> dict[str, int]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(n, int) and not isinstance(n, bool) and n >= 0 for k, n in value.items()):
        raise HistoryError(f"cannot record run {doc.get('run_id', '?')}: run.json {what} must map statuses to counts (non-negative integers)")
    return dict(value)


def _statuses(counts: Mapping[str, int]) -> dict[str, int]:
    """Every known status (zeros included), in the usual order, then any other stored status by name."""
    out = {s: int(counts.get(s, 0)) for s in STATUSES}
    for s in sorted(set(counts) - set(STATUSES)):
        out[s] = int(counts[s])
    return out


def _family_order(families: Mapping[str, Any]) -> list[str]:
    known = [f for f in FAMILIES if f in families]
    return known + sorted(set(families) - set(FAMILIES))


def _iso_utc(value: str, what: str) -> str:
    """``value`` (ISO 8601) as the canonical UTC form run.json uses: ``2026-11-21T15:53:20.123Z``.

    Stored times compare as strings, so every one goes through here. A time
    without an offset is taken as UTC.
    """
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise HistoryError(f"{what}: {value!r} is not an ISO 8601 time (expected e.g. 2026-11-21T15:53:20Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso(moment)


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")


# -- messages -----------------------------------------------------------------------------------


def _redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (see :func:`auditor.redact.mask_credentials`)."""
    return mask_credentials(url, known=(url,))


def _one_line(exc: BaseException, location: str) -> str:
    """An exception's message on one line, without any password of ``location`` (or of any URL it quotes)."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    return mask_credentials(message, known=(location,) if _URL_SCHEME.match(location) else ())


# -- rendering ----------------------------------------------------------------------------------


def render_history_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """``{"runs": rows}`` as indented JSON (what ``auditor history --json`` prints)."""
    return json.dumps({"runs": list(rows)}, indent=2, ensure_ascii=False) + "\n"


def render_history_text(rows: Sequence[Mapping[str, Any]], family: str | None = None) -> str:
    """A table of runs (as :meth:`History.runs` returns them), one line each.

    Columns: start time (UTC, ``YYYY-MM-DD HH:MM``), inventory, policy,
    whether the run completed, pass/fail/error per family (only ``family``
    when given), and the change against the previous run of the same
    inventory and policy found in ``rows``: ``better`` when it has fewer
    failures, ``worse`` when more; with as many failures, fewer errors
    (could not verify) is better and more is worse; else ``same``.
    """
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    if not rows:
        return "No runs recorded.\n"
    if family is not None:
        families = [family]
    else:
        present: dict[str, None] = {}
        for r in rows:
            for fam in r.get("by_family") or {}:
                present[fam] = None
        families = _family_order(present)
    header = ["started (UTC)", "inventory", "policy", "complete", *families, "change"]
    table = [header]
    for r in rows:
        fams = r.get("by_family") or {}
        cells = [
            _when(r.get("started_at")),
            _clean(r.get("inventory", "")),
            _clean(r.get("policy", "")),
            "yes" if r.get("complete") else "NO",
        ]
        for fam in families:
            c = fams.get(fam)
            cells.append(f"{c.get('pass', 0)}/{c.get('fail', 0)}/{c.get('error', 0)}" if c else "-")
        cells.append(_change(r, _previous(r, rows), family))
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table]
    scope = f"family {family}" if family else "each family"
    legend = f"pass/fail/error for {scope}; change: against the previous run of the same inventory and policy (fewer failures is better; as many failures and fewer errors, too)"
    return "\n".join([legend, "", *lines]) + "\n"


def _previous(row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The latest row of the same inventory and policy started before ``row`` (whatever the order of ``rows``)."""
    def order(r: Mapping[str, Any]) -> tuple[str, str]:  # the order of History queries: start time, then run id
        return str(r.get("started_at", "")), str(r.get("run_id", ""))

    key = (row.get("inventory"), row.get("policy"))
    earlier = [r for r in rows if r is not row and (r.get("inventory"), r.get("policy")) == key and order(r) < order(row)]
    return max(earlier, key=order) if earlier else None


def _change(row: Mapping[str, Any], prev: Mapping[str, Any] | None, family: str | None) -> str:
    if prev is None:
        return "-"
    if family is None:
        now, before = row.get("by_status") or {}, prev.get("by_status") or {}
    else:
        now, before = (row.get("by_family") or {}).get(family), (prev.get("by_family") or {}).get(family)
        if not now or not before:
            return "-"
    for status in ("fail", "error"):
        a, b = int(before.get(status, 0)), int(now.get(status, 0))
        if b != a:
            return f"{'better' if b < a else 'worse'} ({status} {a}->{b})"
    return "same"


def _when(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _clean(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M")


def _clean(value: Any) -> str:
    """One table cell: control characters (a newline in a name) would break the table."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(value if value is not None else ""))
