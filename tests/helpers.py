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
    threads: int = 8,
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
        str(threads),
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


def wide_fields(step: int = 0, top: bool = True) -> dict:
    """The wide sample's fields of a host with 4 filesystems, 2 disks, 3 interfaces
    and 6 sensors (and the top processes); counters grow with `step`."""
    return {
        "load_1": 1.5,
        "load_5": 1.25,
        "load_15": 1.0,
        "cpu_count": 4,
        "cpu_user_percent": 30.5,
        "cpu_system_percent": 10.25,
        "cpu_iowait_percent": 2.5,
        "cpu_steal_percent": 0.5,
        "swap_used_mb": 512.0,
        "swap_total_mb": 2048.0,
        "swap_percent": 25.0,
        "swap_in_mb": 10.0 + step,
        "swap_out_mb": 20.0 + 2 * step,
        "uptime_seconds": 86400.0 + 5 * step,
        "process_count": 312,
        "filesystems": [
            {
                "mount": m,
                "device": d,
                "fstype": "ext4",
                "used_gb": u,
                "total_gb": 100.0,
                "percent": u,
                "inodes_percent": i,
            }
            for m, d, u, i in (
                ("/", "/dev/sda1", 40.0, 10.0),
                ("/home", "/dev/sda2", 60.0, 20.0),
                ("/var", "/dev/sdb1", 70.0, None),
                ("/srv", "/dev/sdc1", 80.0, 5.0),
            )
        ],  # fmt: skip
        "disks": [
            {
                "name": n,
                "read_mb": 100.0 + step * k,
                "write_mb": 200.0 + step * k,
                "reads": 1000.0 + step * 10,
                "writes": 2000.0 + step * 20,
                "busy_ms": 5000.0 + 100 * step,
            }
            for n, k in (("sda", 1), ("sdb", 2))
        ],  # fmt: skip
        "interfaces": [
            {"name": n, "sent_mb": 50.0 + step * k, "recv_mb": 80.0 + step * k, "counted": c}
            for n, k, c in (("eth0", 1, True), ("eth1", 2, True), ("docker0", 3, False))
        ],  # fmt: skip
        "temperatures": [{"sensor": f"coretemp/Core {i}", "celsius": 40.0 + i} for i in range(5)]
        + [{"sensor": "acpitz/temp1", "celsius": 35.5}],  # fmt: skip
        **(
            {
                "top_processes": {
                    "cpu": [
                        {
                            "pid": 100 + i,
                            "name": f"worker{i}",
                            "user": "www",
                            "cpu_percent": 20.0 - i,
                            "rss_mb": 100.0 + i,
                        }
                        for i in range(5)
                    ],
                    "memory": [
                        {
                            "pid": 200 + i,
                            "name": f"db{i}",
                            "user": None,
                            "cpu_percent": 1.0,
                            "rss_mb": 2000.0 - i,
                        }
                        for i in range(5)
                    ],
                }  # fmt: skip
            }
            if top
            else {}
        ),
    }
