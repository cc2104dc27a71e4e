"""A real PgBouncer in transaction mode, in front of the test PostgreSQL.

Supabase's transaction pooler (port 6543) behaves like this: each transaction may
run on a different server connection, so nothing of a session survives between
transactions (server-side prepared statements, LISTEN, SET). Running the
functions through it proves they need none of that.

Clients may use TLS (``sslmode=require``): PgBouncer presents a self-signed
certificate made for the run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

from .helpers import POOLER, free_port


def find_binary() -> str | None:
    """PgBouncer on PATH, or in the sbin folder beside a bin folder on PATH
    (Debian's is /usr/sbin/pgbouncer, and a user's PATH often lacks /usr/sbin)."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    beside = [str(Path(f).parent / "sbin") for f in folders if Path(f).name == "bin"]
    return shutil.which("pgbouncer", path=os.pathsep.join(folders + beside))


def missing() -> str | None:
    """What this machine lacks to start PgBouncer (its test certificate is made
    with openssl), as the line to print; None if nothing."""
    found = {"pgbouncer": find_binary(), "openssl": shutil.which("openssl")}
    names = " ".join(name for name, path in found.items() if path is None)
    if not names:
        return None
    return f"install Debian's {names} (apt-get install -y {names})"


def skip_if_missing() -> None:
    """Skip the calling test where PgBouncer cannot run, with one line saying what
    to install. Not under VIGIE_TEST_POOLER: that run exists to go through the
    pooler, so there start() fails instead."""
    why = missing()
    if why is not None and not POOLER:
        pytest.skip(f"skipping the PgBouncer tests: {why}")


def backend_of(server_url: str) -> tuple[str, int, str]:
    """(host or socket folder, port, user) of the server behind ``server_url``."""
    parts = urlsplit(server_url)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "127.0.0.1"
    port = int(query.get("port") or parts.port or 5432)
    return host, port, parts.username or "postgres"


def run_as(host: str) -> str | None:
    """PgBouncer refuses to run as root. As root, run it as the owner of the
    server's socket folder (the embedded server's folder is private to it), else
    as nobody; as anyone else, as oneself."""
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):
        return pwd.getpwuid(os.stat(host).st_uid).pw_name
    return "nobody"


@dataclass
class PgBouncer:
    process: subprocess.Popen
    port: int
    folder: Path

    def url_for(self, direct_url: str, **params: str) -> str:
        """``direct_url``'s database and user, through this PgBouncer."""
        parts = urlsplit(direct_url)
        user = parts.username or "postgres"
        query = {k: v for k, v in parse_qsl(parts.query) if k not in ("host", "port")}
        query.update(params)
        netloc = f"{user}@127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))

    def log(self) -> str:
        return (self.folder / "pgbouncer.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(server_url: str, pool_size: int = 10, round_robin: bool = False) -> PgBouncer:
    """Start PgBouncer. ``round_robin`` hands idle server connections out in turn,
    so one client's consecutive transactions run on different ones (the most
    recently used is reused first otherwise)."""
    why = missing()
    if why is not None:
        raise RuntimeError(f"PgBouncer cannot run here: {why}")
    binary = find_binary()
    host, backend_port, user = backend_of(server_url)
    folder = Path(tempfile.mkdtemp(prefix="vigie-pgbouncer-"))
    folder.chmod(0o755)
    # cert.pem is the one PgBouncer presents; other.pem is unrelated (a root that
    # did not sign it, for the test that verification is really applied).
    for key, cert in (("key.pem", "cert.pem"), ("other-key.pem", "other.pem")):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-keyout", str(folder / key), "-out", str(folder / cert)],
            check=True, capture_output=True,
        )  # fmt: skip
    port = free_port()
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={host} port={backend_port} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
server_round_robin = {int(round_robin)}
logfile = {folder / "pgbouncer.log"}
client_tls_sslmode = allow
client_tls_key_file = {folder / "key.pem"}
client_tls_cert_file = {folder / "cert.pem"}
"""
    )
    owner = run_as(host)
    if owner is not None:
        record = pwd.getpwnam(owner)
        for path in [folder, *folder.iterdir()]:
            os.chown(path, record.pw_uid, record.pw_gid)
    (folder / "key.pem").chmod(0o600)
    process = subprocess.Popen(
        [binary, str(folder / "pgbouncer.ini")],
        user=owner,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    bouncer = PgBouncer(process, port, folder)
    deadline = time.monotonic() + 30
    probe = bouncer.url_for(f"postgresql://{user}@x/postgres")
    while True:
        if process.poll() is not None:
            log = bouncer.log() if (folder / "pgbouncer.log").exists() else ""
            bouncer.stop()
            raise RuntimeError(f"pgbouncer exited with {process.returncode}:\n{log}")
        try:
            with psycopg.connect(probe, connect_timeout=2, prepare_threshold=None) as conn:
                conn.execute("SELECT 1")
            return bouncer
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                bouncer.stop()
                raise
            time.sleep(0.1)
