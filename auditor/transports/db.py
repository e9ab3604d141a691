"""Read-only SQL sessions to database targets: PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL).

One :class:`DBConnection` per database target and run; its collectors share
it. The session is opened on the first query (so that a MySQL collector on
a PostgreSQL target can say "not applicable" without logging in) and only
once: a failed login is remembered and every later query of the run gets
the same error.

* **Credentials** come from the inventory: ``user`` (default: the local
  user name) and the ``password`` secret reference, revealed only in the
  call that connects and never kept on the connection.
* **TLS**: without ``tls_ca`` the session is encrypted when the server
  offers TLS, without verifying its certificate (libpq's ``sslmode=prefer``;
  the same for MySQL). With ``tls_ca`` the server must offer TLS and its
  certificate must chain to that CA and name the host (``verify-full``).
* **Read-only**: PostgreSQL sessions start with
  ``default_transaction_read_only=on`` and run
  ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``; MySQL/MariaDB
  sessions run ``SET SESSION TRANSACTION READ ONLY``. Autocommit: no
  transaction stays open between queries.
* **Bounded**: the connect timeout is the target's ``timeout`` or the run's
  ``--connect-timeout``; every statement runs under a server-side statement
  timeout (PostgreSQL ``statement_timeout``, MariaDB ``max_statement_time``,
  MySQL ``max_execution_time``) set from the collector's remaining time, and
  at most ``max_rows`` rows are fetched.
* **What ran is kept**: :meth:`DBConnection.query` returns a
  :class:`QueryResult` (SQL, columns, rows, when, how long, whether cut) and
  ``log`` lists every statement the session ran, set-up included.
* **Failures are reasons**: connection refused or host unknown →
  ``unreachable``; connect or statement timeout → ``timeout``; login refused
  (wrong password, no pg_hba entry) → ``auth_failed``; a certificate that
  does not verify → ``host_key_rejected``; a query refused for lack of a
  privilege → ``permission_denied``, naming the privilege the query needs;
  a missing table, column or database → ``not_found``.

>>> conn = open_db(target, transports)                                    # doctest: +SKIP
>>> conn.query("SELECT name, setting FROM pg_settings WHERE name = %s", ("ssl",), max_rows=1).rows  # doctest: +SKIP
(('ssl', 'on'),)
"""

from __future__ import annotations

import getpass
import math
import re
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import CollectError
from ..model import Reason, Target
from ..secrets import SecretRef
from ..timeutil import utc_now_iso

if TYPE_CHECKING:
    from . import Transports

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
MIN_STATEMENT_TIMEOUT = 0.5  # seconds: never ask a server for less


@dataclass(frozen=True)
class QueryResult:
    """What one query did: the evidence a collector records (never its raw rows)."""

    sql: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool  # more rows existed than max_rows
    started_at: str
    duration_ms: int


@dataclass(frozen=True)
class Statement:
    """One entry of a session's log: a statement the session ran."""

    sql: str
    at: str
    duration_ms: int
    ok: bool


def open_db(target: Target, transports: "Transports") -> "DBConnection":
    """The database connection of ``target`` (a ``database`` inventory entry); the session opens on first use."""
    if target.kind != "database":
        raise CollectError(Reason.CONFIG_ERROR, f"{target.id}: db connections are for database targets, not {target.kind} targets")
    engine = target.get("engine")
    if engine not in DEFAULT_PORTS:
        raise CollectError(Reason.CONFIG_ERROR, f"{target.id}: unknown database engine {engine!r}; expected postgresql, mysql or mariadb")
    timeout = float(target.get("timeout") or transports.options.connect_timeout)
    return DBConnection(target, connect_timeout=timeout)


class DBConnection:
    """A lazily opened, read-only SQL session to one database target."""

    transport = "db"

    def __init__(self, target: Target, *, connect_timeout: float = 10.0):
        self.target = target
        self.engine = "postgresql" if target.get("engine") == "postgresql" else "mysql"
        self.host = str(target.get("host"))
        self.port = int(target.get("port") or DEFAULT_PORTS[target.get("engine")])
        self.user = str(target.get("user") or getpass.getuser())
        self.database = target.get("database") or ("postgres" if self.engine == "postgresql" else None)
        self.tls_ca = target.get("tls_ca")
        self.connect_timeout = connect_timeout
        self.flavour: str | None = None  # "postgresql", "mariadb" or "mysql", once connected
        self.server_version: str | None = None
        self.tls: str | None = None  # TLS protocol of this session, None when unencrypted
        self.tls_verified = False
        self.log: list[Statement] = []
        self._raw: Any = None
        self._failure: CollectError | None = None
        self._closed = False
        self._lock = threading.RLock()
        self._timeout_set: float | None = None

    def __repr__(self) -> str:
        scheme = "postgresql" if self.engine == "postgresql" else "mysql"
        return f"DBConnection({scheme}://{self.user}@{self.host}:{self.port}/{self.database or ''})"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- session ----------------------------------------------------------------------

    def session(self) -> dict[str, Any]:
        """Open the session if needed; what it is: engine, server version, TLS."""
        self._ensure()
        return {"engine": self.flavour, "server_version": self.server_version, "user": self.user, "database": self.database, "tls": self.tls, "tls_verified": self.tls_verified}

    def describe_session(self) -> str:
        """One line for evidence: engine and version, account, database, TLS."""
        name = {"postgresql": "PostgreSQL", "mariadb": "MariaDB", "mysql": "MySQL"}.get(self.flavour or "", self.engine)
        version = (self.server_version or "").split(" ")[0].split("-")[0]
        tls = f"TLS {self.tls} ({'certificate verified against tls_ca' if self.tls_verified else 'certificate not verified'})" if self.tls else "no TLS"
        return f"{name} {version} at {self.address} as {self.user!r}{f', database {self.database!r}' if self.database else ''}, {tls}, read-only"

    def _ensure(self) -> Any:
        with self._lock:
            if self._closed:
                raise CollectError(Reason.INTERRUPTED, "the database connection was closed")
            if self._failure is not None:
                raise self._failure
            if self._raw is None:
                try:
                    self._raw = self._connect_postgres() if self.engine == "postgresql" else self._connect_mysql()
                except CollectError as exc:
                    self._failure = exc
                    raise
            return self._raw

    def _password(self) -> str | None:
        ref = self.target.get("password")
        if ref is None:
            return None
        if isinstance(ref, SecretRef):
            return ref.reveal()
        raise CollectError(Reason.CONFIG_ERROR, f"{self.target.id}: password must be a secret reference")

    def _connect_postgres(self) -> Any:
        import psycopg

        kwargs: dict[str, Any] = dict(
            host=self.host, port=self.port, user=self.user, dbname=self.database, autocommit=True,
            connect_timeout=max(2, math.ceil(self.connect_timeout)), application_name="auditor",
            options="-c default_transaction_read_only=on",
        )
        if self.tls_ca:
            kwargs.update(sslmode="verify-full", sslrootcert=str(self.tls_ca))
        else:
            kwargs.update(sslmode="prefer")
        password = self._password()
        if password is not None:
            kwargs["password"] = password
        try:
            raw = psycopg.connect(**kwargs)
        except psycopg.Error as exc:
            raise self._pg_error(exc, None) from None
        finally:
            kwargs.pop("password", None)
            password = None
        try:
            self._run_setup(raw, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            row = self._run_setup(raw, "SELECT current_setting('server_version'), s.ssl, s.version FROM pg_catalog.pg_stat_ssl s WHERE s.pid = pg_catalog.pg_backend_pid()")
        except psycopg.Error as exc:
            _close_quietly(raw)
            raise self._pg_error(exc, None) from None
        self.flavour = "postgresql"
        if row:
            self.server_version = str(row[0][0])
            self.tls = row[0][2] if row[0][1] else None
        self.tls_verified = bool(self.tls_ca and self.tls)
        return raw

    def _connect_mysql(self) -> Any:
        import pymysql

        base: dict[str, Any] = dict(
            host=self.host, port=self.port, user=self.user, database=self.database, autocommit=True, charset="utf8mb4",
            connect_timeout=self.connect_timeout, read_timeout=self.connect_timeout, write_timeout=self.connect_timeout,
        )
        password = self._password()
        if password is not None:
            base["password"] = password
        try:
            if self.tls_ca:
                raw = pymysql.connect(**base, ssl_ca=str(self.tls_ca), ssl_verify_cert=True, ssl_verify_identity=True)
            else:
                try:  # "prefer": TLS without verification when the server offers it ...
                    raw = pymysql.connect(**base, ssl=_unverified_context())
                except pymysql.err.OperationalError as exc:
                    if exc.args and exc.args[0] == 2026 and "support" in str(exc.args[-1]).lower():
                        raw = pymysql.connect(**base, ssl_disabled=True)  # ... else without
                    else:
                        raise
        except pymysql.err.MySQLError as exc:
            raise self._my_error(exc, None) from None
        except ssl.SSLError as exc:
            raise self._my_error(exc, None) from None
        except OSError as exc:
            raise self._my_error(exc, None) from None
        finally:
            base.pop("password", None)
            password = None
        try:
            version = self._run_setup(raw, "SELECT VERSION()")[0][0]
            self.flavour = "mariadb" if "mariadb" in str(version).lower() else "mysql"
            self.server_version = str(version)
            self._run_setup(raw, "SET SESSION TRANSACTION READ ONLY")
            status = self._run_setup(raw, "SHOW SESSION STATUS LIKE 'Ssl_version'")
        except pymysql.err.MySQLError as exc:
            _close_quietly(raw)
            raise self._my_error(exc, None) from None
        self.tls = (status[0][1] or None) if status else None
        raw._read_timeout = raw._write_timeout = max(self.connect_timeout, 30.0)  # the greeting had the connect timeout; queries set their own
        if self.tls_ca and not self.tls:
            _close_quietly(raw)
            raise CollectError(Reason.HOST_KEY, f"{self.address}: tls_ca is set but the session is not encrypted (the server offers no TLS)")
        self.tls_verified = bool(self.tls_ca and self.tls)
        return raw

    def _run_setup(self, raw: Any, sql: str) -> list[tuple[Any, ...]]:
        t0, at = time.monotonic(), utc_now_iso()
        ok = False
        try:
            if self.engine == "postgresql":
                cur = raw.execute(sql)
                rows = cur.fetchall() if cur.description else []
            else:
                with raw.cursor() as cur:
                    cur.execute(sql)
                    rows = list(cur.fetchall()) if cur.description else []
            ok = True
            return [tuple(r) for r in rows]
        finally:
            self.log.append(Statement(sql, at, int((time.monotonic() - t0) * 1000), ok))

    # -- queries ------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None, *, max_rows: int, timeout: float | None = None, privilege: str = "") -> QueryResult:
        """Run one read-only statement; at most ``max_rows`` rows come back.

        ``timeout`` (seconds) bounds the statement on the server; ``privilege``
        names what the statement needs, for the message when it is refused.
        Placeholders are ``%s`` for both engines; values in ``params`` are
        sent separately, never spliced into the SQL.
        """
        if max_rows < 0:
            raise ValueError("max_rows must be >= 0")
        with self._lock:
            raw = self._ensure()
            if timeout is not None:
                self._set_statement_timeout(raw, max(MIN_STATEMENT_TIMEOUT, timeout))
            t0, at = time.monotonic(), utc_now_iso()
            ok = False
            try:
                if self.engine == "postgresql":
                    columns, rows = self._pg_query(raw, sql, params, max_rows, privilege)
                else:
                    columns, rows = self._my_query(raw, sql, params, max_rows, privilege)
                ok = True
            finally:
                ms = int((time.monotonic() - t0) * 1000)
                self.log.append(Statement(sql, at, ms, ok))
        truncated = len(rows) > max_rows
        return QueryResult(sql=sql, columns=columns, rows=tuple(tuple(r) for r in rows[:max_rows]), truncated=truncated, started_at=at, duration_ms=ms)

    def _set_statement_timeout(self, raw: Any, seconds: float) -> None:
        if self._timeout_set is not None and abs(self._timeout_set - seconds) < 0.5:
            return
        if self.flavour == "postgresql":
            sql = f"SET statement_timeout = {int(seconds * 1000)}"
        elif self.flavour == "mariadb":
            sql = f"SET SESSION max_statement_time = {seconds:.3f}"
        else:
            sql = f"SET SESSION max_execution_time = {int(seconds * 1000)}"
        try:
            self._run_setup(raw, sql)
        except Exception as exc:  # noqa: BLE001 - mapped per engine
            raise (self._pg_error(exc, sql) if self.engine == "postgresql" else self._my_error(exc, sql)) from None
        self._timeout_set = seconds
        if self.engine != "postgresql":  # the socket waits a little longer than the server
            raw._read_timeout = seconds + 5.0

    def _pg_query(self, raw: Any, sql: str, params: Sequence[Any] | None, max_rows: int, privilege: str) -> tuple[tuple[str, ...], list[Any]]:
        import psycopg

        try:
            with raw.cursor() as cur:
                cur.execute(sql, params)
                columns = tuple(d.name for d in cur.description or ())
                rows = cur.fetchmany(max_rows + 1) if cur.description else []
        except psycopg.Error as exc:
            raise self._pg_error(exc, sql, privilege) from None
        return columns, rows

    def _my_query(self, raw: Any, sql: str, params: Sequence[Any] | None, max_rows: int, privilege: str) -> tuple[tuple[str, ...], list[Any]]:
        import pymysql

        try:
            with raw.cursor() as cur:
                cur.execute(sql, tuple(params) if params is not None else None)
                columns = tuple(d[0] for d in cur.description or ())
                rows = list(cur.fetchmany(max_rows + 1)) if cur.description else []
        except (pymysql.err.MySQLError, OSError) as exc:
            raise self._my_error(exc, sql, privilege) from None
        return columns, rows

    # -- errors -------------------------------------------------------------------------

    def _pg_error(self, exc: BaseException, sql: str | None, privilege: str = "") -> CollectError:
        import psycopg

        text = " ".join(str(exc).split())
        low = text.lower()
        sqlstate = getattr(exc, "sqlstate", None) or ""
        where = f"{self.address}"
        if sql is None:  # connecting
            if "password authentication failed" in low or "authentication failed" in low or sqlstate.startswith("28"):
                return CollectError(Reason.AUTH_FAILED, f"{where}: PostgreSQL refused the login of {self.user!r}: {_server_message(text)}")
            if "no pg_hba.conf entry" in low:
                return CollectError(Reason.AUTH_FAILED, f"{where}: PostgreSQL refused the login of {self.user!r}: {_server_message(text)}")
            if "certificate verify failed" in low or "server certificate" in low or "root certificate" in low or (self.tls_ca and "ssl error" in low):
                return CollectError(Reason.HOST_KEY, f"{where}: the server's TLS certificate could not be verified against tls_ca {self.tls_ca}: {_server_message(text)}")
            if "timeout expired" in low or "timed out" in low:
                return CollectError(Reason.TIMEOUT, f"{where}: no PostgreSQL session within {max(2, math.ceil(self.connect_timeout))}s (connect timeout; libpq counts whole seconds, at least 2)")
            if "connection refused" in low or "could not translate host name" in low or "name or service not known" in low or "no route to host" in low or "network is unreachable" in low:
                return CollectError(Reason.UNREACHABLE, f"{where}: {_server_message(text)}")
            if "does not exist" in low and "database" in low:
                return CollectError(Reason.NOT_FOUND, f"{where}: {_server_message(text)}")
            if "permission denied" in low or sqlstate == "42501":
                return CollectError(Reason.PERMISSION_DENIED, f"{where}: {_server_message(text)}; the audit account needs CONNECT on database {self.database!r}")
            if "ssl" in low and ("not support" in low or "required" in low):
                return CollectError(Reason.HOST_KEY, f"{where}: tls_ca is set but the server offers no TLS: {_server_message(text)}")
            return CollectError(Reason.UNREACHABLE, f"{where}: could not open a PostgreSQL session: {_server_message(text)}")
        shown = _one_line(sql)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege) or sqlstate == "42501":
            need = f"; it needs {privilege}" if privilege else ""
            return CollectError(Reason.PERMISSION_DENIED, f"the audit account {self.user!r} may not run `{shown}`: {text}{need}")
        if isinstance(exc, psycopg.errors.QueryCanceled) or sqlstate == "57014":
            return CollectError(Reason.TIMEOUT, f"`{shown}` was cancelled by the server's statement timeout: {text}")
        if sqlstate in ("42P01", "42703", "3F000", "42883"):
            return CollectError(Reason.NOT_FOUND, f"`{shown}`: {text}")
        if isinstance(exc, psycopg.OperationalError):
            return CollectError(Reason.UNREACHABLE, f"{where}: the session was lost during `{shown}`: {text}")
        return CollectError(Reason.COMMAND_FAILED, f"`{shown}` failed ({sqlstate or type(exc).__name__}): {text}")

    def _my_error(self, exc: BaseException, sql: str | None, privilege: str = "") -> CollectError:
        code = exc.args[0] if getattr(exc, "args", None) and isinstance(exc.args[0], int) else None
        text = " ".join(str(exc.args[-1] if getattr(exc, "args", None) else exc).split())
        low = text.lower()
        where = self.address
        if isinstance(exc, ssl.SSLError) or (code == 2026 and "certificate" in low) or "certificate verify failed" in low:
            return CollectError(Reason.HOST_KEY, f"{where}: the server's TLS certificate could not be verified against tls_ca {self.tls_ca}: {text}")
        if code == 2026:
            return CollectError(Reason.HOST_KEY, f"{where}: tls_ca is set but TLS could not be set up: {text}")
        if code == 1045:
            return CollectError(Reason.AUTH_FAILED, f"{where}: the server refused the login of {self.user!r}: {text}")
        if code in (1044, 1142, 1143, 1227, 1370):
            need = f"; it needs {privilege}" if privilege else ""
            if sql is None:
                return CollectError(Reason.PERMISSION_DENIED, f"{where}: {text}; the audit account needs a privilege on database {self.database!r} to connect to it")
            return CollectError(Reason.PERMISSION_DENIED, f"the audit account {self.user!r} may not run `{_one_line(sql)}`: {text}{need}")
        if code in (1049, 1146, 1054):
            return CollectError(Reason.NOT_FOUND, f"{where}: {text}" if sql is None else f"`{_one_line(sql)}`: {text}")
        if code == 1046:
            return CollectError(Reason.CONFIG_ERROR, f"`{_one_line(sql or '')}`: {text}; set the inventory's database or qualify the table with its database")
        if code == 2003 or sql is None:
            if "timed out" in low or isinstance(exc, TimeoutError):
                return CollectError(Reason.TIMEOUT, f"{where}: no MySQL session within {self.connect_timeout:g}s (connect timeout)")
            return CollectError(Reason.UNREACHABLE, f"{where}: {text}")
        if code in (1969, 3024) or (code == 2013 and "timed out" in low):
            return CollectError(Reason.TIMEOUT, f"`{_one_line(sql)}` exceeded its time: {text}")
        if code in (2006, 2013, 2014, 2055) or isinstance(exc, OSError):
            if "timed out" in low or isinstance(exc, TimeoutError):
                return CollectError(Reason.TIMEOUT, f"`{_one_line(sql)}`: no answer in time: {text}")
            return CollectError(Reason.UNREACHABLE, f"{where}: the session was lost during `{_one_line(sql)}`: {text}")
        return CollectError(Reason.COMMAND_FAILED, f"`{_one_line(sql)}` failed ({code}): {text}")

    # -- end ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the session (from any thread: a query in flight is cancelled first)."""
        self._closed = True
        raw, self._raw = self._raw, None
        if raw is None:
            return
        if self.engine == "postgresql":
            try:
                raw.cancel_safe(timeout=2.0) if hasattr(raw, "cancel_safe") else raw.cancel()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        _close_quietly(raw)


def recorded_query(
    ctx: Any,
    sql: str,
    params: Sequence[Any] | None = None,
    *,
    max_rows: int,
    privilege: str,
    show: Callable[[QueryResult], list[str]] | None = None,
    redacted: bool = False,
) -> QueryResult:
    """Run ``sql`` on the collector's db connection and record it as evidence.

    The evidence's source is the SQL; its excerpt says which privilege the
    query needs, on which session it ran, how many rows came back and what
    ``show`` makes of them (default: the rows, ``|``-separated). Pass a
    ``show`` that never prints a secret, with ``redacted=True``, when rows
    may hold one (password hashes): only that rendering is kept and digested.
    A refused query is recorded too, with its reason, before it raises.
    """
    conn = ctx.conn
    shown_sql = _one_line(sql)
    head = [f"-- needs: {privilege}"]
    if params:
        head.append(f"-- parameters: {', '.join(repr(p) for p in params)}")
    try:
        result = conn.query(sql, params, max_rows=max_rows, timeout=ctx.remaining(), privilege=privilege)
    except CollectError as exc:
        ctx.record("query", shown_sql, "\n".join([*head, f"-- not answered ({exc.reason.value}): {exc.message}"]))
        raise
    head.append(f"-- session: {conn.describe_session()}")
    head.append(f"-- {len(result.rows)} row(s) in {result.duration_ms} ms" + (f" (cut at {max_rows})" if result.truncated else ""))
    if show is not None:
        body = show(result)
    else:
        body = [" | ".join(result.columns)] + [" | ".join("NULL" if v is None else str(v) for v in row) for row in result.rows]
    ctx.record("query", shown_sql, "\n".join([*head, *body]), redacted=redacted)
    return result


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _close_quietly(raw: Any) -> None:
    try:
        raw.close()
    except Exception:  # noqa: BLE001 - closing must not hide results
        pass


def _server_message(text: str) -> str:
    """libpq's "connection failed: connection to server at ... failed: FATAL: msg" → the server's part."""
    m = re.search(r"(FATAL|ERROR):\s*(.*)$", text)
    if m:
        return m.group(2).strip()
    return re.sub(r"^connection failed:\s*", "", text).strip()


def _one_line(sql: str) -> str:
    return " ".join(sql.split())
