"""Test rig: real PostgreSQL and MariaDB servers on loopback, planted with every case the database controls judge.

Nothing here is mocked. The rig

* installs the Debian packages ``postgresql`` and ``mariadb-server`` (with
  :func:`harness.ensure_packages`) when they are missing, keeping their
  package scripts from starting a system-wide daemon;
* makes its own certificate authority and a server certificate for
  ``localhost`` / ``127.0.0.1`` (with ``cryptography``);
* starts two PostgreSQL clusters (``initdb`` into a temporary directory, run
  as the ``postgres`` OS user, a free loopback port, their own
  ``postgresql.conf`` and ``pg_hba.conf``) and two MariaDB servers
  (``mariadb-install-db`` into a temporary datadir, their own port and
  socket): a *weak* one of each with every misconfiguration planted and a
  *strong* one configured as the controls want;
* plants login roles and accounts of every category, and application tables
  mixing password hash formats;
* creates the read-only audit account of each server by executing the
  statements of README's "Database audit account (minimal grants)" section
  verbatim (only the placeholders are substituted), so that the tests prove
  the audit works with exactly the documented grants;
* stops everything at the end of the session (and at interpreter exit if
  pytest itself dies).

Passwords are random per session and reach the inventories only as
``${VAR}`` references: :data:`ENV` names the variables the rig exports.

>>> pg = postgres_rig_start()    # doctest: +SKIP
>>> pg.weak.port, pg.strong.port  # doctest: +SKIP
(41234, 41235)
"""

from __future__ import annotations

import atexit
import datetime
import glob
import ipaddress
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import pytest

from harness import APT_ENV, ensure_packages, which

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")

# Environment variables the rig exports (values random per session).
ENV = {
    "audit": "AUDITOR_TEST_DB_AUDIT_PASSWORD",  # the README audit account, on every server
    "nogrant": "AUDITOR_TEST_DB_NOGRANT_PASSWORD",  # an account that may log in and nothing more
    "wrong": "AUDITOR_TEST_DB_WRONG_PASSWORD",  # not the password of any account
}

AUDIT_USER = "auditor"
NOGRANT_USER = "auditor_nogrant"
APP_DATABASE = "wordpress"  # MariaDB: the application database of README's example
PG_APP_TABLE = "public.users"  # PostgreSQL: README's example table, column password_hash
MY_APP_TABLE = "wp_users"  # MariaDB: README's example table, column user_pass

# -- application password values, of every format the classifier knows -----------------
# Well-formed examples (digests computed where the standard library can, literal where not);
# the tests assert the scheme each one is classified as, and that none reaches a report.

APP_HASHES: dict[str, list[str]] = {
    "bcrypt": ["$2y$10$Q7cLJMo8m9VvJxX3YV2oHeq9u4W8b6s6Dq0n4mZ8bXo1e0yPp3g2K", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"],
    "argon2": ["$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$8WqQ4nJ2e7rH0pT1sX5yZ3aB6cD9fG2hJ4kL7mN0pQ8"],
    "scrypt": ["$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"],
    "pbkdf2": ["$pbkdf2-sha256$29000$N2bMWYvROmfsHYPQmlMKwQ$v4ZdodJwIhc.hn9GJ0C2Ck5XVv2HrEjwkM6oDqfQqno"],
    "sha512-crypt": ["$6$AppSaltX9q$Ws8pcEpQ7fnJ2mH0ZqYk1rT5bV3uN6xC9dA4eF7gH2jK5lM8nP1qR4sT7vW0yZ3aB6cD9fG2hJ4kL7mN0pQ8rS"],
    "phpass": ["$P$BWpSaltx1q2w3e4r5t6y7u8i9o0p.", "$H$9PhpSaltmNbVcXzAsDfGhJkLqWeRtY/"],
    "drupal-sha512": ["$S$DDrupSalt" + "a" * 43],
    "django-pbkdf2": ["pbkdf2_sha256$600000$DjangoSaltQ1w2$Xk3/9sZ0q1W2e3R4t5Y6u7I8o9P0aSdFgHjKlZxCvBn="],
    "md5-hex": ["5f4dcc3b5aa765d61d8327deb882cf99"],  # md5("password")
    "sha1-hex": ["5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"],  # sha1("password")
    "sha256-hex": ["5e884898da28047151d0e56f8dc6292773603d0d6aabbd62a11ef721d1542d8a"],  # sha256("password")
    "unknown": ["Plaintext-Hunter2-Secret", "correct horse battery staple"],
}
APP_STRONG = ["bcrypt", "argon2", "scrypt", "pbkdf2", "sha512-crypt", "phpass", "drupal-sha512", "django-pbkdf2"]
APP_WEAK = ["md5-hex", "sha1-hex", "sha256-hex", "unknown"]
APP_NULLS = 2  # rows without a password (NULL): counted, never a violation

# -- helpers ---------------------------------------------------------------------------------

_install_lock = threading.Lock()


def install() -> None:
    """Install PostgreSQL and MariaDB (one apt transaction) unless both are there.

    Other processes on the machine may hold the dpkg lock for a while; the
    install is retried for up to three minutes while apt says so, and fails
    loudly otherwise.
    """
    with _install_lock:
        deadline = time.monotonic() + 180
        while True:
            try:
                ensure_packages("postgresql", "mariadb-server", programs=("pg_ctlcluster", "mariadbd", "mariadb-install-db"))
                break
            except pytest.fail.Exception as exc:
                if "Could not get lock" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(3)
        if not pg_bindir():
            pytest.fail("test harness: postgresql is installed but no /usr/lib/postgresql/*/bin/initdb was found", pytrace=False)


def pg_bindir() -> str | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb."""
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(os.path.join(d, "initdb"))]
    found.sort(key=lambda d: int(re.sub(r"\D", "", d.split("/")[-2]) or 0))
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    return free_port()


def _run(argv: list[str], *, user: str | None = None, timeout: float = 120, env: dict[str, str] | None = None) -> str:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or APT_ENV, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"db rig: `{' '.join(argv)}` failed with status {proc.returncode}:\n{tail}")
    return proc.stdout


def _world_dir(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


@dataclass(frozen=True)
class Certs:
    ca: str  # CA certificate (what an inventory's tls_ca names)
    cert: str  # server certificate for localhost / 127.0.0.1
    key: str  # its private key


def make_certs(directory: str) -> Certs:
    """A CA and a server certificate (localhost, 127.0.0.1) signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditor test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])).issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certs(os.path.join(directory, "ca.pem"), os.path.join(directory, "server.pem"), os.path.join(directory, "server.key"))
    with open(paths.ca, "wb") as fh:
        fh.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths.cert, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths.key, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(paths.ca, 0o644)
    os.chmod(paths.cert, 0o644)
    os.chmod(paths.key, 0o600)
    return paths


def _own(path: str, user: str) -> None:
    import pwd

    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def readme_grants(engine: str) -> list[str]:
    """The SQL statements of README's minimal-grants section for ``engine`` (``postgresql`` or ``mariadb``)."""
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    m = re.search(rf"<!-- db-grants:{engine} -->\s*```sql\n(.*?)```", text, re.S)
    if not m:
        raise AssertionError(f"README.md has no <!-- db-grants:{engine} --> sql block in its 'Database audit account (minimal grants)' section")
    body = "\n".join(line.split("--", 1)[0] for line in m.group(1).splitlines())
    return [s.strip() for s in body.split(";") if s.strip()]


# -- PostgreSQL ------------------------------------------------------------------------------


@dataclass
class PgCluster:
    """One PostgreSQL cluster in a temporary directory, run by the ``postgres`` OS user."""

    name: str
    root: str
    port: int
    conf: dict[str, str]
    hba: str
    superuser_password: str
    certs: Certs | None = None
    started: bool = False

    @property
    def data(self) -> str:
        return os.path.join(self.root, "data")

    def init(self, bindir: str) -> None:
        pwfile = os.path.join(self.root, "pw")
        with open(pwfile, "w") as fh:
            fh.write(self.superuser_password + "\n")
        _own(pwfile, "postgres")
        _own(self.root, "postgres")
        _run([os.path.join(bindir, "initdb"), "-D", self.data, "-U", "postgres", f"--pwfile={pwfile}", "--auth-local=peer", "--auth-host=scram-sha-256",
              "--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C"], user="postgres")
        os.unlink(pwfile)
        if self.certs:
            for src in (self.certs.cert, self.certs.key):
                dst = os.path.join(self.data, os.path.basename(src))
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o600)
                _own(dst, "postgres")
        base = {
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            "shared_buffers": "'16MB'", "max_connections": "30", "max_wal_senders": "0", "wal_level": "minimal",
            "ssl_cert_file": "'server.pem'", "ssl_key_file": "'server.key'",
            "log_min_messages": "warning",
        }
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as fh:
            for k, v in {**base, **self.conf}.items():
                fh.write(f"{k} = {v}\n")
        self.write_hba(self.hba)

    def write_hba(self, text: str) -> None:
        path = os.path.join(self.data, "pg_hba.conf")
        with open(path, "w") as fh:
            fh.write(text)
        _own(path, "postgres")

    def start(self, bindir: str) -> None:
        _run([os.path.join(bindir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.root, "server.log"), "-w", "-t", "60", "start"], user="postgres")
        self.started = True

    def stop(self, bindir: str) -> None:
        if self.started:
            subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60, check=False)
            self.started = False

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", password=self.superuser_password, dbname=database, autocommit=True, sslmode="disable", connect_timeout=10)

    def sql(self, statements: str | list[str], database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run statements as the bootstrap superuser; returns the last one's rows."""
        rows: list[tuple[Any, ...]] = []
        with self.connect(database) as conn:
            for stmt in [statements] if isinstance(statements, str) else statements:
                cur = conn.execute(stmt)
                rows = cur.fetchall() if cur.description else []
        return rows


# pg_hba lines: every kind the controls judge. Comments name the verdict each line earns;
# the tests assert exactly these line numbers.
PG_WEAK_HBA = """\
# TYPE    DATABASE USER      ADDRESS            METHOD
local     all      postgres                     peer
local     all      all                          trust
host      all      all       127.0.0.1/32       scram-sha-256
host      all      all       ::1/128            trust
hostssl   all      all       10.1.0.0/16        scram-sha-256
host      all      all       10.2.0.0/16        scram-sha-256
hostnossl all      all       10.3.0.0/16        md5
hostssl   all      all       203.0.113.0/24     trust
hostssl   all      all       0.0.0.0/0          scram-sha-256
hostssl   all      all       ::/0               scram-sha-256
host      all      all       0.0.0.0/0          reject
hostssl   all      all       samenet            scram-sha-256
host      all      all       192.168.0.0 255.255.0.0 trust
hostssl   all      all       all                scram-sha-256
hostssl   all      all       localhost          trust
"""
# Line numbers of PG_WEAK_HBA (1 is the header comment):
PG_HBA_LINES = {
    "local_peer": 2, "local_trust": 3, "loopback_host": 4, "loopback6_trust": 5, "hostssl_private": 6, "host_private": 7,
    "hostnossl": 8, "hostssl_trust": 9, "hostssl_any4": 10, "hostssl_any6": 11, "host_any_reject": 12, "hostssl_samenet": 13,
    "host_netmask_trust": 14, "hostssl_all": 15, "hostssl_localhost_trust": 16,
}

PG_STRONG_HBA = """\
local     all      all                          peer
host      all      all       127.0.0.1/32       scram-sha-256
hostssl   all      all       10.1.0.0/16        scram-sha-256
host      all      all       0.0.0.0/0          reject
"""

# Login roles planted in the weak cluster and the scheme each one's stored password has.
PG_WEAK_ROLES = {
    "app_scram": "scram-sha-256",
    "app_md5": "md5",
    "app_plain": "plaintext",
    "app_nopass": "none",
    "dba_super": "scram-sha-256",  # a superuser that can log in
}
PG_WEAK_NOLOGIN = {"old_md5_nologin": "md5", "super_nologin": "none"}  # not login roles: never flagged


@dataclass
class PostgresRig:
    bindir: str
    root: str
    certs: Certs
    weak: PgCluster
    strong: PgCluster
    md5_password: str  # app_md5's password (its md5 verifier is what must never be reported)
    plaintext_password: str  # app_plain's "stored" password (stored as plaintext)
    secrets: dict[str, str] = field(default_factory=dict)  # description -> secret value that must never be reported

    def stop(self) -> None:
        for cluster in (self.weak, self.strong):
            cluster.stop(self.bindir)
        shutil.rmtree(self.root, ignore_errors=True)


def _pg_plant(cluster: PgCluster, weak: bool, audit_pw: str, nogrant_pw: str, md5_pw: str, plain_pw: str) -> None:
    app_rows = _app_rows()
    stmts = [
        "CREATE TABLE public.users (id serial PRIMARY KEY, login text NOT NULL, password_hash text)",
        "CREATE TABLE public.secrets_denied (id serial PRIMARY KEY, pw text)",  # no grant: permission denied
        "CREATE SCHEMA shop",
        "CREATE TABLE shop.customers (id serial PRIMARY KEY, pass text)",
    ]
    conn_rows = app_rows if weak else [(login, value) for login, value in app_rows if value is None or _scheme_of(value) in APP_STRONG]
    with cluster.connect() as conn:
        for s in stmts:
            conn.execute(s)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO public.users (login, password_hash) VALUES (%s, %s)", conn_rows)
            cur.executemany("INSERT INTO shop.customers (pass) VALUES (%s)", [(APP_HASHES["bcrypt"][0],), (APP_HASHES["argon2"][0],)])
            conn.execute("INSERT INTO public.secrets_denied (pw) VALUES ('x')")
        if weak:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(f"CREATE ROLE app_scram LOGIN PASSWORD '{secrets.token_urlsafe(12)}'")
            conn.execute(f"CREATE ROLE dba_super SUPERUSER LOGIN PASSWORD '{secrets.token_urlsafe(12)}'")
            conn.execute("CREATE ROLE super_nologin SUPERUSER NOLOGIN")
            conn.execute("CREATE ROLE app_nopass LOGIN")
            conn.execute("SET password_encryption = 'md5'")
            conn.execute(f"CREATE ROLE app_md5 LOGIN PASSWORD '{md5_pw}'")
            conn.execute(f"CREATE ROLE old_md5_nologin NOLOGIN PASSWORD '{secrets.token_urlsafe(12)}'")
            conn.execute("RESET password_encryption")
            conn.execute("CREATE ROLE app_plain LOGIN")
            # PostgreSQL >= 10 cannot store a plaintext password any more; an upgraded cluster
            # can still carry one. The catalog is written directly to plant it.
            conn.execute("UPDATE pg_catalog.pg_authid SET rolpassword = %s WHERE rolname = 'app_plain'", (plain_pw,))
            conn.execute("ALTER ROLE app_scram SET password_encryption = 'md5'")  # a per-role override that weakens it
            conn.execute("CREATE ROLE staff NOLOGIN")  # a group for '+staff' pg_hba lines: app_md5 directly, app_plain through ops
            conn.execute("CREATE ROLE ops NOLOGIN IN ROLE staff")
            conn.execute("GRANT staff TO app_md5")
            conn.execute("GRANT ops TO app_plain")
        else:
            conn.execute("ALTER DATABASE postgres SET password_encryption = 'scram-sha-256'")  # an override that keeps it strong
            conn.execute("SET password_encryption = 'md5'")
            conn.execute(f"CREATE ROLE old_md5_nologin NOLOGIN PASSWORD '{secrets.token_urlsafe(12)}'")
            conn.execute("RESET password_encryption")
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(f"CREATE ROLE {NOGRANT_USER} LOGIN PASSWORD '{nogrant_pw}'")
        # The audit account: README's statements, verbatim but for the placeholders.
        for stmt in readme_grants("postgresql"):
            conn.execute(stmt.replace("change-me", audit_pw))


def _in_parallel(start: Callable[[Any], None], servers: Sequence[Any]) -> None:
    """Start ``servers`` at the same time (each one thread); re-raise the first failure."""
    errors: list[BaseException] = []

    def run(server: Any) -> None:
        try:
            start(server)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(srv,)) for srv in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def postgres_rig_start() -> PostgresRig:
    install()
    bindir = pg_bindir()
    assert bindir
    root = _world_dir("auditor-pg-")
    certs = make_certs(root)
    pw = {k: secrets.token_urlsafe(18) for k in ("weak_super", "strong_super")}
    weak = PgCluster("weak", os.path.join(root, "weak"), free_port(), {"ssl": "off", "password_encryption": "md5", "listen_addresses": "'127.0.0.1'"}, PG_WEAK_HBA, pw["weak_super"], certs)
    strong = PgCluster("strong", os.path.join(root, "strong"), free_port(), {"ssl": "on", "password_encryption": "'scram-sha-256'", "listen_addresses": "'127.0.0.1'"}, PG_STRONG_HBA, pw["strong_super"], certs)
    for cluster in (weak, strong):
        os.makedirs(cluster.root, mode=0o755)
    rig = PostgresRig(bindir, root, certs, weak, strong, md5_password=secrets.token_urlsafe(12), plaintext_password="Plain-" + secrets.token_urlsafe(12))
    try:
        def boot(cluster: PgCluster) -> None:
            cluster.init(bindir)
            cluster.start(bindir)

        _in_parallel(boot, (weak, strong))
        for cluster in (weak, strong):
            _pg_plant(cluster, cluster is weak, os.environ[ENV["audit"]], os.environ[ENV["nogrant"]], rig.md5_password, rig.plaintext_password)
    except BaseException:
        rig.stop()
        raise
    return rig


# -- MariaDB ---------------------------------------------------------------------------------


# Small and unsynced: a test server starts in about a second (the install and each server must agree on the redo log size).
SMALL_INNODB = ("--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--innodb-temp-data-file-path=ibtmp1:1M:autoextend", "--innodb-doublewrite=0")


@dataclass
class MariaServer:
    name: str
    root: str
    port: int
    options: list[str]
    proc: subprocess.Popen | None = None

    @property
    def data(self) -> str:
        return os.path.join(self.root, "data")

    @property
    def socket(self) -> str:
        return os.path.join(self.root, "mysqld.sock")

    def start(self) -> None:
        argv = [
            which("mariadbd") or "mariadbd", "--no-defaults", f"--datadir={self.data}", "--user=mysql", f"--port={self.port}", "--bind-address=127.0.0.1",
            f"--socket={self.socket}", f"--pid-file={os.path.join(self.root, 'mariadbd.pid')}", f"--log-error={os.path.join(self.root, 'error.log')}",
            "--skip-name-resolve", *SMALL_INNODB, "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0",
            "--plugin-load-add=auth_ed25519", "--performance-schema=OFF", "--max-connections=40",
            *self.options,
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=APT_ENV)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"db rig: mariadbd {self.name} exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.connect().close()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        raise RuntimeError(f"db rig: mariadbd {self.name} did not accept connections within 60s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            with open(os.path.join(self.root, "error.log"), encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[-20:])
        except OSError:
            return "(no error log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def connect(self, database: str | None = None):
        """root@localhost through the unix socket (unix_socket authentication: this process is root)."""
        import pymysql

        return pymysql.connect(unix_socket=self.socket, user="root", database=database, autocommit=True, connect_timeout=5)

    def sql(self, statements: str | list[str], database: str | None = None) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                for stmt in [statements] if isinstance(statements, str) else statements:
                    cur.execute(stmt)
                    rows = list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()
        return rows


# Accounts planted in the weak MariaDB: account -> (plugin as stored, password state).
MY_WEAK_ACCOUNTS = {
    "native@localhost": "mysql_native_password",
    "empty_native@localhost": "mysql_native_password",  # empty password
    "ed@localhost": "ed25519",
    "ed_empty@localhost": "ed25519",  # empty password
    "sha2@localhost": "caching_sha2_password",  # MariaDB has no such server plugin: planted in the grant table
    "socket_user@localhost": "unix_socket",
    "wild_admin@%": "ed25519",  # '%' with global privileges
    "wild_app@%": "ed25519",  # '%' with privileges on one database only
    "net_admin@10.0.0.%": "ed25519",  # global privileges, but not from anywhere
    "locked_native@localhost": "mysql_native_password",  # locked: reported, not failing
    "either@localhost": "ed25519 or mysql_native_password",  # two ways in, one weak
    # TLS per account (require_secure_transport is OFF) and wildcard/anonymous accounts (CIS: any grants):
    "tls_app@%": "ed25519",  # REQUIRE SSL, at any host
    "x509_app@10.1.%": "ed25519",  # REQUIRE X509, at a host pattern
    "issuer_app@%.example.se": "ed25519",  # REQUIRE ISSUER, at a domain pattern
    "subject_app@db1.example.se": "ed25519",  # REQUIRE SUBJECT, at one host
    "plain_app@192.0.2.7": "ed25519",  # one host, no TLS required
    "under@10.0.0._": "ed25519",  # '_' is a wildcard too
    "@localhost": "ed25519",  # anonymous: any user name
}
MY_REQUIRE = {
    "tls_app@%": "SSL", "x509_app@10.1.%": "X509", "issuer_app@%.example.se": "ISSUER '/CN=auditor test CA'",
    "subject_app@db1.example.se": "SUBJECT '/CN=app'",
}


@dataclass
class MariaRig:
    root: str
    certs: Certs
    weak: MariaServer
    strong: MariaServer
    ed25519_empty: str  # authentication_string MariaDB stores for an empty ed25519 password
    passwords: dict[str, str] = field(default_factory=dict)  # planted account -> password

    def stop(self) -> None:
        for server in (self.weak, self.strong):
            server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _my_plant(server: MariaServer, weak: bool, audit_pw: str, nogrant_pw: str, passwords: dict[str, str]) -> None:
    app_rows = _app_rows()
    rows = app_rows if weak else [(login, value) for login, value in app_rows if value is None or _scheme_of(value) in APP_STRONG]
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {APP_DATABASE}")
            cur.execute(f"CREATE TABLE {APP_DATABASE}.{MY_APP_TABLE} (ID bigint AUTO_INCREMENT PRIMARY KEY, user_login varchar(60) NOT NULL, user_pass varchar(255))")
            cur.execute(f"CREATE TABLE {APP_DATABASE}.secrets_denied (id int PRIMARY KEY, pw varchar(64))")
            cur.executemany(f"INSERT INTO {APP_DATABASE}.{MY_APP_TABLE} (user_login, user_pass) VALUES (%s, %s)", rows)
            if weak:
                p = passwords
                cur.execute("CREATE USER 'native'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(%s)", (p["native@localhost"],))
                cur.execute("CREATE USER 'empty_native'@'localhost' IDENTIFIED VIA mysql_native_password USING ''")
                cur.execute("CREATE USER 'ed'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD(%s)", (p["ed@localhost"],))
                cur.execute("CREATE USER 'ed_empty'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD('')")
                cur.execute("CREATE USER 'socket_user'@'localhost' IDENTIFIED VIA unix_socket")
                cur.execute("CREATE USER 'wild_admin'@'%%' IDENTIFIED VIA ed25519 USING PASSWORD(%s)", (p["wild_admin@%"],))
                cur.execute("GRANT SELECT, RELOAD, PROCESS ON *.* TO 'wild_admin'@'%'")
                cur.execute("CREATE USER 'wild_app'@'%%' IDENTIFIED VIA ed25519 USING PASSWORD(%s)", (p["wild_app@%"],))
                cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {APP_DATABASE}.* TO 'wild_app'@'%'")
                cur.execute("CREATE USER 'net_admin'@'10.0.0.%%' IDENTIFIED VIA ed25519 USING PASSWORD(%s)", (p["net_admin@10.0.0.%"],))
                cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'net_admin'@'10.0.0.%'")
                cur.execute("CREATE USER 'locked_native'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(%s) ACCOUNT LOCK", (p["locked_native@localhost"],))
                cur.execute("CREATE USER 'either'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD(%s) OR mysql_native_password USING PASSWORD(%s)", (p["either@localhost"], p["either@localhost:native"]))
                # MariaDB has no caching_sha2_password server plugin: an account migrated from MySQL
                # keeps the plugin name in the grant table. Planted there directly.
                cur.execute("CREATE USER 'sha2'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD(%s)", (p["sha2@localhost"],))
                cur.execute(
                    "UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.plugin', 'caching_sha2_password', '$.authentication_string', %s) WHERE User = 'sha2' AND Host = 'localhost'",
                    (p["sha2@localhost:hash"],),
                )
                for account in ("tls_app@%", "x509_app@10.1.%", "issuer_app@%.example.se", "subject_app@db1.example.se", "plain_app@192.0.2.7", "under@10.0.0._", "@localhost"):
                    user, host = account.split("@")
                    require = f" REQUIRE {MY_REQUIRE[account]}" if account in MY_REQUIRE else ""
                    cur.execute(f"CREATE USER '{user}'@'{host.replace('%', '%%')}' IDENTIFIED VIA ed25519 USING PASSWORD(%s){require.replace('%', '%%')}", (p[account],))
                cur.execute(f"GRANT SELECT ON {APP_DATABASE}.* TO 'plain_app'@'192.0.2.7'")
                cur.execute("FLUSH PRIVILEGES")
            cur.execute(f"CREATE USER '{NOGRANT_USER}'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD(%s)", (nogrant_pw,))
            for stmt in readme_grants("mariadb"):
                cur.execute(stmt.replace("change-me", audit_pw).replace("192.0.2.10", "127.0.0.1"))
    finally:
        conn.close()


def mariadb_rig_start() -> MariaRig:
    install()
    root = _world_dir("auditor-mariadb-")
    certs = make_certs(root)
    for path in (certs.key,):
        _own(path, "mysql")
    template = os.path.join(root, "template")
    _run(["mariadb-install-db", "--no-defaults", f"--datadir={template}", "--user=mysql", "--auth-root-authentication-method=socket", "--skip-test-db",
          "--skip-name-resolve", *SMALL_INNODB], timeout=180)
    tls = [f"--ssl-ca={certs.ca}", f"--ssl-cert={certs.cert}", f"--ssl-key={certs.key}"]
    weak = MariaServer("weak", os.path.join(root, "weak"), free_port(), ["--skip-ssl", "--require-secure-transport=OFF"])
    strong = MariaServer("strong", os.path.join(root, "strong"), free_port(), [*tls, "--require-secure-transport=ON"])
    passwords = {k: secrets.token_urlsafe(15) for k in MY_WEAK_ACCOUNTS}
    passwords["either@localhost:native"] = secrets.token_urlsafe(15)
    passwords["sha2@localhost:hash"] = "$A$005$" + secrets.token_hex(10) + secrets.token_urlsafe(32)
    rig = MariaRig(root, certs, weak, strong, ed25519_empty="", passwords=passwords)
    try:
        for server in (weak, strong):
            os.makedirs(server.root, mode=0o755)
            _own(server.root, "mysql")
            shutil.copytree(template, server.data, symlinks=True)
            _run(["chown", "-R", "mysql:mysql", server.data])
        _in_parallel(MariaServer.start, (weak, strong))
        for server in (weak, strong):
            _my_plant(server, server is weak, os.environ[ENV["audit"]], os.environ[ENV["nogrant"]], passwords)
        rig.ed25519_empty = weak.sql("SELECT JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv WHERE User = 'ed_empty'")[0][0]
    except BaseException:
        rig.stop()
        raise
    return rig


# -- application rows --------------------------------------------------------------------------


def _scheme_of(value: str) -> str:
    for scheme, values in APP_HASHES.items():
        if value in values:
            return scheme
    raise KeyError(value)


def _app_rows() -> list[tuple[str, str | None]]:
    rows: list[tuple[str, str | None]] = []
    for scheme, values in APP_HASHES.items():
        for i, value in enumerate(values):
            rows.append((f"{scheme}-{i}", value))
    rows += [(f"sso-{i}", None) for i in range(APP_NULLS)]
    return rows


def app_counts(strong_only: bool = False) -> dict[str, int]:
    """Scheme -> number of planted values (what the classifier must count)."""
    counts = {s: len(v) for s, v in APP_HASHES.items() if not strong_only or s in APP_STRONG}
    counts["null"] = APP_NULLS
    return counts


def inventory(path: str, *entries: dict[str, Any]) -> str:
    """Write an inventory of database entries (passwords as ``${VAR}`` references) and return its path."""
    import yaml

    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"version": 1, "databases": list(entries)}, fh, sort_keys=False)
    return path


def pg_entry(name: str, cluster: PgCluster, *, user: str = AUDIT_USER, password: str = "audit", **extra: Any) -> dict[str, Any]:
    """An inventory entry for ``cluster``; ``password`` is a key of :data:`ENV`."""
    return {"name": name, "engine": "postgresql", "host": "127.0.0.1", "port": cluster.port, "user": user, "password": "${" + ENV[password] + "}", **extra}


def my_entry(name: str, server: MariaServer, *, user: str = AUDIT_USER, password: str = "audit", **extra: Any) -> dict[str, Any]:
    return {"name": name, "engine": "mariadb", "host": "127.0.0.1", "port": server.port, "user": user, "password": "${" + ENV[password] + "}", **extra}


# -- session singletons ------------------------------------------------------------------------

_rigs: dict[str, Any] = {}
_rigs_lock = threading.Lock()


def _export_passwords() -> None:
    for var in ENV.values():
        os.environ.setdefault(var, secrets.token_urlsafe(18))


def _get(kind: str, start: Any, request: pytest.FixtureRequest) -> Any:
    with _rigs_lock:
        if kind not in _rigs:
            _export_passwords()
            rig = start()
            _rigs[kind] = rig
            atexit.register(rig.stop)
            # The first fixture instance owns the teardown (session scope: at the end of the run).
            request.addfinalizer(lambda: (_rigs.pop(kind, None), rig.stop()))
        return _rigs[kind]


@pytest.fixture(scope="session")
def pg_rig(request: pytest.FixtureRequest) -> Iterator[PostgresRig]:
    yield _get("postgres", postgres_rig_start, request)


@pytest.fixture(scope="session")
def maria_rig(request: pytest.FixtureRequest) -> Iterator[MariaRig]:
    yield _get("mariadb", mariadb_rig_start, request)
