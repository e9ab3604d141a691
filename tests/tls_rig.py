"""TLS test rig: a test PKI and real nginx, postfix and dovecot on loopback.

Everything runs as this process's own children, with its own configuration
and state folders under one temporary directory, on free high ports of
127.0.0.1; nothing of the machine's own services is used, started or
changed. Missing packages are installed with ``harness.ensure_packages``
(which keeps the packages' own services from starting).

* :class:`PKI`: a root CA, an intermediate CA and leaf certificates made
  with ``cryptography``: good, expired, expiring soon, self-signed, for
  another host name, with an RSA-1024 key, and one signed with SHA-1 (made
  with the ``openssl`` command, since ``cryptography`` no longer signs with
  SHA-1).
* :class:`Nginx`: one server block per planted endpoint, each on its own port
  (so that each is the default server of its port and its ``ssl_protocols``
  apply), plus a plain-HTTP listener per block.
* :class:`Postfix`: smtpd listeners with STARTTLS and ``smtpd_tls_auth_only``;
  without STARTTLS; with AUTH offered before STARTTLS (SASL through dovecot).
* :class:`Dovecot`: IMAP/POP3 with ``ssl = required`` and with plaintext
  authentication allowed.

Also importable without pytest (``bench/tls.py`` uses it): functions that
need packages take an ``ensure`` callable.

>>> len(free_ports(3))
3
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENV = {**os.environ, "PATH": SBIN_PATH, "LC_ALL": "C"}

# Package → programs it provides (what ensure_packages checks for).
NGINX_PACKAGES = (("nginx",), ("nginx",))
MAIL_PACKAGES = (("postfix", "dovecot-imapd", "dovecot-pop3d"), ("postfix", "dovecot"))


def which(program: str) -> str | None:
    return shutil.which(program, path=SBIN_PATH)


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """``n`` distinct TCP ports free on ``host`` right now (bound together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_listening(ports: Iterable[int], host: str = LOOPBACK, timeout: float = 15.0, proc: subprocess.Popen | None = None, log: str | None = None) -> None:
    """Wait until every port accepts connections (or fail with the server's log)."""
    pending = set(ports)
    end = time.monotonic() + timeout
    while pending and time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            break
        for port in list(pending):
            try:
                with socket.create_connection((host, port), timeout=0.2):
                    pending.discard(port)
            except OSError:
                pass
        if pending:
            time.sleep(0.05)
    if pending:
        tail = ""
        if log and os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as fh:
                tail = "".join(fh.readlines()[-30:])
        status = f" (exited with {proc.returncode})" if proc is not None and proc.poll() is not None else ""
        raise RuntimeError(f"ports {sorted(pending)} on {host} did not open within {timeout:g}s{status}\n{tail}")


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stop a child (and its process group) that the rig started."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return ""


def _write(path: str, text: str, mode: int = 0o644) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(textwrap.dedent(text).lstrip("\n"))
    os.chmod(path, mode)
    return path


# -- PKI ---------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "auditor test rig"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key) -> bytes:  # noqa: ANN001 - any private key
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@dataclass
class Leaf:
    name: str
    cert: str  # PEM file: leaf (+ intermediate)
    key: str  # PEM file
    dns: tuple[str, ...]
    not_after: datetime.datetime


@dataclass
class PKI:
    """A root and an intermediate CA, and leaf certificates on demand, in ``folder``."""

    folder: str
    now: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))

    def __post_init__(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        self.root_key = rsa.generate_private_key(65537, 2048)
        self.root = self._sign(_name("auditor test root CA"), self.root_key.public_key(), _name("auditor test root CA"), self.root_key, ca=True, days=(-30, 3650))
        self.inter_key = rsa.generate_private_key(65537, 2048)
        self.inter = self._sign(_name("auditor test intermediate CA"), self.inter_key.public_key(), self.root.subject, self.root_key, ca=True, days=(-30, 1825), issuer_cert=self.root)
        self.ca_bundle = self._save("ca.pem", self.root.public_bytes(serialization.Encoding.PEM))
        self.inter_pem = self.inter.public_bytes(serialization.Encoding.PEM)
        self.inter_key_file = self._save("intermediate.key", _pem_key(self.inter_key), 0o600)
        self.inter_file = self._save("intermediate.pem", self.inter_pem)
        self.leaf_key = rsa.generate_private_key(65537, 2048)
        self.leaves: dict[str, Leaf] = {}

    def _save(self, name: str, data: bytes, mode: int = 0o644) -> str:
        path = os.path.join(self.folder, name)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)
        return path

    def _sign(self, subject, public_key, issuer, issuer_key, *, ca: bool, days: tuple[int, int], dns: Iterable[str] = (), ips: Iterable[str] = (), issuer_cert=None, hash_alg=None):  # noqa: ANN001
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now + datetime.timedelta(days=days[0]))
            .not_valid_after(self.now + datetime.timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if issuer_cert is not None:
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False)
        if ca:
            builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        else:
            builder = builder.add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            if names:
                builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(issuer_key, hash_alg or hashes.SHA256())

    def leaf(self, name: str, dns: Iterable[str], *, ips: Iterable[str] = (), days: tuple[int, int] = (-1, 365), key: str = "rsa2048", self_signed: bool = False) -> Leaf:
        dns = tuple(dns)
        if key == "rsa2048":
            private = self.leaf_key  # one key for every RSA-2048 leaf: key generation is the slow part
        elif key == "rsa1024":
            private = rsa.generate_private_key(65537, 1024)
        elif key == "ec256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(key)
        subject = _name(dns[0] if dns else name)
        if self_signed:
            cert = self._sign(subject, private.public_key(), subject, private, ca=False, days=days, dns=dns, ips=ips)
            chain = cert.public_bytes(serialization.Encoding.PEM)
        else:
            cert = self._sign(subject, private.public_key(), self.inter.subject, self.inter_key, ca=False, days=days, dns=dns, ips=ips, issuer_cert=self.inter)
            chain = cert.public_bytes(serialization.Encoding.PEM) + self.inter_pem
        leaf = Leaf(name, self._save(f"{name}.pem", chain), self._save(f"{name}.key", _pem_key(private), 0o600), dns, cert.not_valid_after_utc)
        self.leaves[name] = leaf
        return leaf

    def sha1_leaf(self, name: str, dns: Iterable[str]) -> Leaf:
        """A leaf signed by the intermediate with SHA-1 (``openssl x509 -sha1``)."""
        dns = tuple(dns)
        private = self.leaf_key
        key_file = self._save(f"{name}.key", _pem_key(private), 0o600)
        csr = x509.CertificateSigningRequestBuilder().subject_name(_name(dns[0])).sign(private, hashes.SHA256())
        csr_file = self._save(f"{name}.csr", csr.public_bytes(serialization.Encoding.PEM))
        ext = _write(os.path.join(self.folder, f"{name}.ext"), f"""
            [v3]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature,keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = {", ".join("DNS:" + d for d in dns)}
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """)
        out = os.path.join(self.folder, f"{name}.leaf.pem")
        proc = subprocess.run(
            ["openssl", "x509", "-req", "-in", csr_file, "-CA", self.inter_file, "-CAkey", self.inter_key_file, "-set_serial", str(x509.random_serial_number()),
             "-days", "200", "-sha1", "-extfile", ext, "-extensions", "v3", "-out", out],
            capture_output=True, text=True, env=ENV, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"openssl could not sign the SHA-1 certificate: {proc.stderr.strip()}")
        with open(out, "rb") as fh:
            pem = fh.read()
        cert = x509.load_pem_x509_certificate(pem)
        leaf = Leaf(name, self._save(f"{name}.pem", pem + self.inter_pem), key_file, dns, cert.not_valid_after_utc)
        self.leaves[name] = leaf
        return leaf


# -- nginx -----------------------------------------------------------------------------


@dataclass
class Site:
    """One nginx server block: an https port, its plain-http port, what it serves."""

    name: str
    leaf: Leaf
    server_name: str  # the name clients use (SNI, inventory sni:)
    protocols: str = "TLSv1.2 TLSv1.3"
    hsts: str | None = "max-age=31536000; includeSubDomains"
    redirect: bool = True
    http_listener: bool = True  # False: nothing listens on its plain-HTTP port (connections are refused)
    https_port: int = 0
    http_port: int = 0


# OpenSSL configuration for the servers only: security level 0, so that nginx
# loads an RSA-1024 or SHA-1 certificate and can speak TLS 1.0/1.1 where a
# site asks for it (the machine's own openssl.cnf is not touched).
SERVER_OPENSSL_CNF = """
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
CipherString = DEFAULT:@SECLEVEL=0
"""


class Nginx:
    """A real nginx (master + 1 worker) in the foreground, serving ``sites``."""

    def __init__(self, folder: str, sites: list[Site], extra_ports: int = 0, extra_leaf: Leaf | None = None):
        self.folder = folder
        self.sites = sites
        self.proc: subprocess.Popen | None = None
        ports = free_ports(2 * len(sites) + extra_ports)
        for i, site in enumerate(sites):
            site.https_port, site.http_port = ports[2 * i], ports[2 * i + 1]
        self.extra_ports = ports[2 * len(sites):]  # identical "good" listeners, for the benchmark
        self.extra_leaf = extra_leaf
        self.log = os.path.join(folder, "error.log")

    def config(self) -> str:
        blocks = []
        for s in self.sites:
            hsts = f'add_header Strict-Transport-Security "{s.hsts}" always;' if s.hsts else ""
            plain = f"return 301 https://{s.server_name}:{s.https_port}$request_uri;" if s.redirect else f'return 200 "{s.name} over plain http\\n";'
            http_block = f"""
    server {{
        listen {LOOPBACK}:{s.http_port};
        server_name {s.server_name};
        location / {{ {plain} }}
    }}""" if s.http_listener else ""
            blocks.append(f"""
    server {{
        listen {LOOPBACK}:{s.https_port} ssl;
        server_name {s.server_name};
        ssl_certificate {s.leaf.cert};
        ssl_certificate_key {s.leaf.key};
        ssl_protocols {s.protocols};
        {hsts}
        location / {{ return 200 "{s.name}\\n"; }}
    }}{http_block}""")
        if self.extra_ports and self.extra_leaf is not None:
            listens = "\n".join(f"        listen {LOOPBACK}:{p} ssl;" for p in self.extra_ports)
            blocks.append(f"""
    server {{
{listens}
        ssl_certificate {self.extra_leaf.cert};
        ssl_certificate_key {self.extra_leaf.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        add_header Strict-Transport-Security "max-age=31536000" always;
        location / {{ return 200 "bench\\n"; }}
    }}""")
        temp = os.path.join(self.folder, "temp")
        return f"""
daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid {self.folder}/nginx.pid;
error_log {self.log} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    ssl_session_cache off;
    default_type text/plain;
{"".join(blocks)}
}}
"""

    def start(self) -> "Nginx":
        os.makedirs(os.path.join(self.folder, "temp"), exist_ok=True)
        conf = _write(os.path.join(self.folder, "nginx.conf"), self.config())
        cnf = _write(os.path.join(self.folder, "openssl.cnf"), SERVER_OPENSSL_CNF)
        nginx = which("nginx")
        if nginx is None:
            raise RuntimeError("nginx is not installed")
        env = {**ENV, "OPENSSL_CONF": cnf}
        test = subprocess.run([nginx, "-t", "-q", "-p", self.folder, "-c", conf, "-e", self.log], capture_output=True, text=True, env=env, check=False)
        if test.returncode != 0:
            raise RuntimeError(f"nginx -t refused the rig's configuration:\n{test.stderr}")
        with open(self.log + ".stderr", "wb") as err:
            self.proc = subprocess.Popen([nginx, "-p", self.folder, "-c", conf, "-e", self.log], env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        ports = [p for s in self.sites for p in (s.https_port, s.http_port) if p != s.http_port or s.http_listener] + self.extra_ports
        wait_listening(ports, proc=self.proc, log=self.log)
        return self

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM)
        self.proc = None


# -- dovecot -------------------------------------------------------------------------


@dataclass
class Dovecot:
    """A real dovecot (``dovecot -F``) with IMAP and POP3 listeners, and an auth socket for postfix."""

    folder: str
    leaf: Leaf
    ssl_required: bool
    # Not 127.0.0.1: dovecot counts a client whose address equals the server's
    # own as "secured" and would then allow plaintext logins whatever the
    # configuration says. A client reaching 127.0.0.2 comes from 127.0.0.1.
    address: str = "127.0.0.2"
    ports: dict[str, int] = field(default_factory=dict)  # imap, imaps, pop3, pop3s
    proc: subprocess.Popen | None = None

    @property
    def auth_socket(self) -> str:
        return os.path.join(self.folder, "run", "auth-postfix")

    @property
    def log(self) -> str:
        return os.path.join(self.folder, "dovecot.log")

    def start(self) -> "Dovecot":
        p = dict(zip(("imap", "imaps", "pop3", "pop3s"), free_ports(4, self.address)))
        self.ports = p
        os.makedirs(os.path.join(self.folder, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.folder, "state"), exist_ok=True)
        os.chmod(self.folder, 0o755)
        passwd = _write(os.path.join(self.folder, "users"), "\n")  # nobody can log in
        ssl = "required" if self.ssl_required else "yes"
        conf = _write(os.path.join(self.folder, "dovecot.conf"), f"""
            protocols = imap pop3
            listen = {self.address}
            base_dir = {self.folder}/run
            state_dir = {self.folder}/state
            instance_name = auditor-tls-{os.path.basename(self.folder)}
            log_path = {self.log}
            ssl = {ssl}
            ssl_cert = <{self.leaf.cert}
            ssl_key = <{self.leaf.key}
            ssl_min_protocol = TLSv1.2
            disable_plaintext_auth = {"yes" if self.ssl_required else "no"}
            auth_mechanisms = plain login
            passdb {{
              driver = passwd-file
              args = {passwd}
            }}
            userdb {{
              driver = static
              args = uid=nobody gid=nogroup home=/nonexistent
            }}
            service imap-login {{
              inet_listener imap {{
                port = {p["imap"]}
              }}
              inet_listener imaps {{
                port = {p["imaps"]}
                ssl = yes
              }}
            }}
            service pop3-login {{
              inet_listener pop3 {{
                port = {p["pop3"]}
              }}
              inet_listener pop3s {{
                port = {p["pop3s"]}
                ssl = yes
              }}
            }}
            service auth {{
              unix_listener {self.auth_socket} {{
                mode = 0666
              }}
            }}
            """)
        dovecot = which("dovecot")
        if dovecot is None:
            raise RuntimeError("dovecot is not installed")
        with open(self.log + ".stderr", "wb") as err:
            self.proc = subprocess.Popen([dovecot, "-F", "-c", conf], env=ENV, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        wait_listening(p.values(), self.address, proc=self.proc, log=self.log + ".stderr")
        end = time.monotonic() + 10
        while not os.path.exists(self.auth_socket) and time.monotonic() < end:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM)
        self.proc = None


# -- postfix -------------------------------------------------------------------------


@dataclass
class Postfix:
    """A real postfix (``postfix start-fg``, master in the foreground) with three smtpd listeners.

    * ``good``: STARTTLS offered, ``smtpd_tls_auth_only = yes`` (AUTH only after STARTTLS);
    * ``plain``: no STARTTLS at all;
    * ``auth_first``: STARTTLS offered, but AUTH advertised before it.
    """

    folder: str
    leaf: Leaf
    sasl_socket: str
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        return os.path.join(self.folder, "maillog")

    def start(self) -> "Postfix":
        self.ports = dict(zip(("good", "plain", "auth_first"), free_ports(3)))
        conf = os.path.join(self.folder, "etc")
        queue = os.path.join(self.folder, "queue")
        data = os.path.join(self.folder, "data")
        for d in (conf, queue, data):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.folder, 0o755)
        shutil.chown(data, "postfix", "postfix")
        _write(os.path.join(conf, "main.cf"), f"""
            compatibility_level = 3.6
            queue_directory = {queue}
            data_directory = {data}
            myhostname = mail.test
            mydomain = test
            myorigin = mail.test
            mydestination =
            relay_domains =
            mynetworks = 127.0.0.0/8
            inet_interfaces = {LOOPBACK}
            inet_protocols = ipv4
            maillog_file_prefixes = {self.folder}
            maillog_file = {self.log}
            smtpd_banner = $myhostname ESMTP auditor test rig
            smtpd_tls_cert_file = {self.leaf.cert}
            smtpd_tls_key_file = {self.leaf.key}
            smtpd_tls_protocols = >=TLSv1.2
            smtpd_tls_mandatory_protocols = >=TLSv1.2
            smtpd_tls_security_level = may
            smtpd_tls_auth_only = yes
            smtpd_sasl_type = dovecot
            smtpd_sasl_path = {self.sasl_socket}
            smtpd_sasl_auth_enable = yes
            smtpd_relay_restrictions = permit_sasl_authenticated, reject
            smtpd_recipient_restrictions = reject
            alias_maps =
            alias_database =
            """)
        ports = self.ports
        _write(os.path.join(conf, "master.cf"), f"""
            {LOOPBACK}:{ports["good"]} inet n - n - - smtpd
            {LOOPBACK}:{ports["plain"]} inet n - n - - smtpd -o smtpd_tls_security_level=none -o smtpd_sasl_auth_enable=no
            {LOOPBACK}:{ports["auth_first"]} inet n - n - - smtpd -o smtpd_tls_auth_only=no
            pickup    unix  n       -       n       60      1       pickup
            cleanup   unix  n       -       n       -       0       cleanup
            qmgr      unix  n       -       n       300     1       qmgr
            tlsmgr    unix  -       -       n       1000?   1       tlsmgr
            rewrite   unix  -       -       n       -       -       trivial-rewrite
            bounce    unix  -       -       n       -       0       bounce
            defer     unix  -       -       n       -       0       bounce
            trace     unix  -       -       n       -       0       bounce
            verify    unix  -       -       n       -       1       verify
            flush     unix  n       -       n       1000?   0       flush
            proxymap  unix  -       -       n       -       -       proxymap
            anvil     unix  -       -       n       -       1       anvil
            scache    unix  -       -       n       -       1       scache
            postlog   unix-dgram n  -       n       -       1       postlogd
            """)
        postfix = which("postfix")
        if postfix is None:
            raise RuntimeError("postfix is not installed")
        env = {**ENV, "MAIL_CONFIG": conf}
        check = subprocess.run([postfix, "-c", conf, "check"], capture_output=True, text=True, env=env, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"postfix check refused the rig's configuration (see {self.log}):\n{check.stderr}{_tail(self.log)}")
        with open(self.log + ".stderr", "wb") as err:
            self.proc = subprocess.Popen([postfix, "-c", conf, "start-fg"], env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        wait_listening(ports.values(), proc=self.proc, log=self.log)
        return self

    def stop(self) -> None:
        """``postfix start-fg`` runs master in a session of its own: stop it by its pid file, then the wrapper."""
        if self.proc is None:
            return
        conf = os.path.join(self.folder, "etc")
        postfix = which("postfix")
        if postfix:
            subprocess.run([postfix, "-c", conf, "abort"], capture_output=True, env={**ENV, "MAIL_CONFIG": conf}, timeout=30, check=False)
        pid = self.master_pid()
        end = time.monotonic() + 10
        while pid and _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
        stop_process(self.proc, signal.SIGTERM)
        self.proc = None

    def master_pid(self) -> int | None:
        """The pid of *this* rig's master (checked against its environment: a stale pid file may name another process)."""
        try:
            with open(os.path.join(self.folder, "queue", "pid", "master.pid"), encoding="ascii") as fh:
                pid = int(fh.read().strip())
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read().split(b"\0")
            # master rewrites its environment: it keeps queue_directory=..., not always MAIL_CONFIG
            mine = f"MAIL_CONFIG={os.path.join(self.folder, 'etc')}".encode() in environ or f"queue_directory={os.path.join(self.folder, 'queue')}".encode() in environ
            return pid if mine else None
        except (OSError, ValueError):
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# -- the whole rig --------------------------------------------------------------------------


def make_folder(prefix: str = "auditor-tls-") -> str:
    """A fresh folder every user can traverse (dovecot and postfix drop privileges)."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


def web_sites(pki: PKI) -> list[Site]:
    """The planted web endpoints: one defect each (and one with none)."""
    return [
        Site("good", pki.leaf("good", ["good.test"]), "good.test"),
        Site("old-protocols", pki.leaf("old-protocols", ["old.test"]), "old.test", protocols="TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"),
        Site("expired", pki.leaf("expired", ["expired.test"], days=(-400, -30)), "expired.test"),
        Site("expiring", pki.leaf("expiring", ["expiring.test"], days=(-300, 10)), "expiring.test"),
        Site("self-signed", pki.leaf("self-signed", ["selfsigned.test"], self_signed=True), "selfsigned.test"),
        Site("mismatch", pki.leaf("mismatch", ["other.test"]), "mismatch.test"),
        Site("rsa1024", pki.leaf("rsa1024", ["weakkey.test"], key="rsa1024"), "weakkey.test"),
        Site("sha1", pki.sha1_leaf("sha1", ["sha1.test"]), "sha1.test"),
        Site("no-hsts", pki.leaf("no-hsts", ["nohsts.test"]), "nohsts.test", hsts=None, redirect=False),
        Site("short-hsts", pki.leaf("short-hsts", ["shorthsts.test"]), "shorthsts.test", hsts="max-age=3600"),
        Site("ec", pki.leaf("ec", ["ec.test"], key="ec256"), "ec.test"),
        Site("no-http-port", pki.leaf("no-http-port", ["nohttp.test"]), "nohttp.test", http_listener=False),
    ]


def stop_all(*servers: object) -> None:
    for server in servers:
        if server is not None:
            try:
                server.stop()  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - stop the others too
                pass


def ensure_nginx(ensure: Callable[..., None]) -> None:
    packages, programs = NGINX_PACKAGES
    ensure(*packages, programs=programs)


def ensure_mail(ensure: Callable[..., None]) -> None:
    packages, programs = MAIL_PACKAGES
    ensure(*packages, programs=programs)


class Tarpit:
    """A port that accepts TCP connections (the kernel's backlog does) and never says a word."""

    def __init__(self, host: str = LOOPBACK):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def stop(self) -> None:
        self.sock.close()


@dataclass
class Rig:
    """Everything the TLS tests audit: the PKI, nginx sites, two dovecots, one postfix."""

    folder: str
    pki: PKI
    sites: dict[str, Site]
    nginx: Nginx | None = None
    dovecot_required: Dovecot | None = None
    dovecot_plain: Dovecot | None = None
    postfix: Postfix | None = None
    tarpit: Tarpit | None = None
    closed_port: int = 0

    def stop(self) -> None:
        stop_all(self.postfix, self.dovecot_plain, self.dovecot_required, self.nginx, self.tarpit)

    def inventory(self) -> dict:
        """The inventory naming every planted endpoint (one target per defect)."""
        ca = self.pki.ca_bundle
        web = [
            {"name": name, "url": f"https://{LOOPBACK}:{s.https_port}/", "sni": s.server_name, "ca_bundle": ca, "http_url": f"http://{LOOPBACK}:{s.http_port}/"}
            for name, s in self.sites.items()
        ]
        web.append({"name": "down", "url": f"https://{LOOPBACK}:{self.closed_port}/", "ca_bundle": ca, "http_url": f"http://{LOOPBACK}:{self.closed_port}/"})
        if "no-hsts" in self.sites:  # a site without TLS: named by its http:// URL (nginx answers 200 there, no redirect)
            web.append({"name": "plain-http", "url": f"http://{LOOPBACK}:{self.sites['no-hsts'].http_port}/"})
        if "good" in self.sites:  # an http:// URL whose server does redirect to https (the inventory still names the plain URL)
            web.append({"name": "plain-http-redirecting", "url": f"http://{LOOPBACK}:{self.sites['good'].http_port}/"})
        if self.tarpit is not None:
            web.append({"name": "silent", "url": f"https://{LOOPBACK}:{self.tarpit.port}/", "ca_bundle": ca, "http_url": f"http://{LOOPBACK}:{self.tarpit.port}/", "timeout": 0.5})
        mail = []
        if self.postfix is not None:
            p = self.postfix.ports
            mail += [
                {"name": "smtp-good", "host": LOOPBACK, "services": [f"smtp:{p['good']}"], "ca_bundle": ca},
                {"name": "smtp-plain", "host": LOOPBACK, "services": [f"smtp:{p['plain']}"], "ca_bundle": ca},
                {"name": "smtp-auth-first", "host": LOOPBACK, "services": [f"submission:{p['auth_first']}"], "ca_bundle": ca},
            ]
        for name, d in (("imap-pop-required", self.dovecot_required), ("imap-pop-plaintext", self.dovecot_plain)):
            if d is not None:
                mail.append({"name": name, "host": d.address, "services": [f"{s}:{port}" for s, port in d.ports.items()], "ca_bundle": ca})
        mail.append({"name": "mail-down", "host": LOOPBACK, "services": [f"smtp:{self.closed_port}", f"imaps:{self.closed_port}"], "ca_bundle": ca})
        return {"version": 1, "name": "tls-rig", "web": web, "mail": mail}


def start_rig(folder: str, *, mail: bool = True) -> Rig:
    """Start the whole rig (the caller has installed the packages); stop it with ``Rig.stop``.

    The rig is also stopped at interpreter exit, should the caller die first.
    """
    pki = PKI(os.path.join(folder, "pki"))
    sites = {s.name: s for s in web_sites(pki)}
    rig = Rig(folder, pki, sites, closed_port=free_ports(1)[0])
    atexit.register(rig.stop)
    try:
        rig.nginx = Nginx(os.path.join(folder, "nginx"), list(sites.values())).start()
        if mail:
            leaf = pki.leaf("mail", ["mail.test"], ips=[LOOPBACK, "127.0.0.2"])
            rig.dovecot_required = Dovecot(os.path.join(folder, "dovecot-required"), leaf, ssl_required=True).start()
            rig.dovecot_plain = Dovecot(os.path.join(folder, "dovecot-plaintext"), leaf, ssl_required=False).start()
            rig.postfix = Postfix(os.path.join(folder, "postfix"), leaf, rig.dovecot_required.auth_socket).start()
        rig.tarpit = Tarpit()
    except BaseException:
        rig.stop()
        raise
    return rig
