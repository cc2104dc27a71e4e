"""Helpers shared by the tests: databases, samples, processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

from vigie.serve import RELAY_APP, RELAY_OPTIONS, WEB_APP, WEB_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# VIGIE_TEST_POOLER=pgbouncer: the functions reach the database through PgBouncer
# in transaction mode, where prepared statements must be off (conftest.py).
POOLER = os.environ.get("VIGIE_TEST_POOLER", "")
POOLER_ENV = {"VIGIE_DB_PREPARED_STATEMENTS": "off"} if POOLER else {}
# The measured fields of a sample, as the seed's metrics table has them.
METRIC_FIELDS = (
    "cpu_percent",
    "ram_percent",
    "ram_used_mb",
    "ram_total_mb",
    "disk_percent",
    "disk_used_gb",
    "disk_total_gb",
    "network_sent_mb",
    "network_recv_mb",
)


def with_dbname(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def admin_connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def sample(**overrides: object) -> dict:
    """A valid sample, as the collector sends it."""
    body = {
        "cpu_percent": 45.2,
        "ram_percent": 67.8,
        "ram_used_mb": 6780.0,
        "ram_total_mb": 10000.0,
        "disk_percent": 55.3,
        "disk_used_gb": 110.6,
        "disk_total_gb": 200.0,
        "network_sent_mb": 1250.5,
        "network_recv_mb": 890.3,
        "recorded_at": iso(datetime.now(UTC)),
    }
    body.update(overrides)
    return body


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


@contextmanager
def process(
    args: list[str], env: dict[str, str], ready_url: str | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run a process for the duration of a block; stop it with SIGTERM after."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if ready_url:
            wait_for_http(ready_url, proc=proc)
        yield proc
    finally:
        stop(proc, timeout=10)
        if log:
            out.close()


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to the process's group; SIGKILL if it is not gone within `timeout`."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def gunicorn_api(
    database_url: str,
    port: int,
    extra_env: dict[str, str] | None = None,
    log: Path | None = None,
    workers: int = 2,
):
    """The combined functions app under a real gunicorn, as `make run` starts it."""
    env = {"DATABASE_URL": database_url, **POOLER_ENV, **(extra_env or {})}
    args = [
        str(BIN / "gunicorn"),
        *WEB_OPTIONS,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
        WEB_APP,
    ]
    return process(args, env, ready_url=f"http://127.0.0.1:{port}/api/health", log=log)


def gunicorn_relay(
    database_url: str,
    port: int,
    extra_env: dict[str, str] | None = None,
    log: Path | None = None,
    entry: str = RELAY_APP,
):
    """The realtime relay under a real gunicorn gevent worker, as the Procfile runs it."""
    # No history maintenance unless a test asks: retention would expire the other
    # tests' samples (dated in the past) while they run.
    env = {
        "DATABASE_URL": database_url,
        "REALTIME_DATABASE_URL": "",
        "VIGIE_MAINTENANCE_SECONDS": "0",
        **(extra_env or {}),
    }
    args = [str(BIN / "gunicorn"), *RELAY_OPTIONS, "--bind", f"127.0.0.1:{port}", entry]
    return process(args, env, ready_url=f"http://127.0.0.1:{port}/health", log=log)


@contextmanager
def running_relay(
    database_url: str, extra_env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[str]:
    """A relay on a port of its own, as gunicorn_relay runs it, for a block: its URL."""
    port = free_port()
    with gunicorn_relay(database_url, port, extra_env, log=log):
        yield f"http://127.0.0.1:{port}"


# The migrations of the earlier layout (001-040, which defined the routines too), as
# a database of the last release before sql/routines/ was migrated with them.
PREVIOUS_LAYOUT = ROOT / "tests" / "fixtures" / "previous_layout_sql.tar.gz"


def previous_layout(tmp_path: Path, before: str = "999") -> Path:
    """The earlier layout's migrations (those named before `before`) in a folder,
    for VIGIE_SQL_DIR."""
    import tarfile

    folder = tmp_path / f"previous-{before}"
    folder.mkdir(exist_ok=True)
    with tarfile.open(PREVIOUS_LAYOUT) as archive:
        for member in archive.getmembers():
            if member.name < before:
                archive.extract(member, folder, filter="data")
    return folder


def roll_up(conn) -> int:
    """Bring the rollups up to date with what was written, as the relay does every
    VIGIE_ROLLUP_SECONDS; returns how many servers it brought up to date."""
    row = conn.execute("SELECT vigie_rollup_pending() AS n").fetchone()
    return row["n"] if isinstance(row, dict) else row[0]


def mark_loaded(conn, server_id: int) -> None:
    """Samples written with plain INSERTs (a load, a restore) are rolled up like the
    API's: from the server's first sample on."""
    conn.execute(
        """UPDATE servers SET rollup_from = (SELECT min(recorded_at) FROM metrics
                                              WHERE server_id = %s), writes = writes + 1
            WHERE id = %s""",
        [server_id, server_id],
    )
