"""The Procfile, run by honcho as a Procfile host runs it: `release` migrates,
`web` and `realtime` come up on their own $PORT, and a sample posted to `web`
reaches a socket.io client of `realtime` through PostgreSQL alone."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import psycopg
import pytest
import requests
from honcho.environ import parse_procfile

from vigie.serve import RELAY_WORKER, WEB_WORKER

from .conftest import ENROLL, bearer
from .helpers import (
    BIN,
    POOLER_ENV,
    ROOT,
    admin_connect,
    free_port,
    sample,
    stop,
    wait_for_http,
    with_dbname,
)
from .socket_client import EventClient

pytestmark = pytest.mark.slow


def processes() -> dict[str, str]:
    return parse_procfile((ROOT / "Procfile").read_text()).processes


def test_the_procfile_declares_web_realtime_and_release():
    procs = processes()
    assert set(procs) == {"web", "realtime", "release"}
    assert procs["web"].startswith("gunicorn ") and procs["web"].endswith(" functions.app:app")
    assert "--workers ${WEB_CONCURRENCY:-2}" in procs["web"]
    assert procs["realtime"].startswith("gunicorn ")
    assert procs["realtime"].endswith(" realtime.relay:app")
    # Vigie's workers: gunicorn's own error pages are JSON (vigie/workers.py).
    assert f"-k {WEB_WORKER} " in procs["web"]
    assert f"-k {RELAY_WORKER} -w 1 " in procs["realtime"]
    for name in ("web", "realtime"):
        assert "--bind 0.0.0.0:${PORT:-" in procs[name]
    assert procs["release"] == "vigie migrate"


def port_pair() -> int:
    """A port p with p + 100 free too: honcho gives the n-th process p + 100 n."""
    while True:
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 100))
            except OSError:
                continue
        return port


def honcho(args: list[str], env_file: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "honcho"), "start", "--no-colour", "-e", str(env_file), *args],
        cwd=ROOT,
        # Hosts put the installed commands (gunicorn, vigie) on the PATH.
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_release_applies_the_migrations(server_url, tmp_path):
    name = f"vigie_release_{os.getpid()}"
    with admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server_url, name)
    try:
        env_file = write_env(tmp_path / "release.env", {"DATABASE_URL": url})
        for expected in ("applied", "database is up to date"):
            log = tmp_path / "release.log"
            proc = honcho(["release"], env_file, log)
            try:
                assert proc.wait(120) == 0, log.read_text()
            finally:
                stop(proc, timeout=20)
            assert expected in log.read_text()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('metrics') IS NOT NULL").fetchone()[0]
    finally:
        with admin_connect(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gunicorn_workers(port: int) -> int:
    """Processes whose command line binds ``port``: the master and its workers."""
    found = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "gunicorn" in cmdline and f"0.0.0.0:{port} " in cmdline:
                found += 1
    return found - 1


def test_web_and_realtime_under_honcho_carry_a_sample_to_a_socket(
    database_url, direct_database_url, db, tmp_path
):
    base = port_pair()
    web, relay = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 100}"
    env_file = write_env(
        tmp_path / "deploy.env",
        {
            # As deployed: the functions on the pooled URL, the relay on a session.
            "DATABASE_URL": database_url,
            "REALTIME_DATABASE_URL": direct_database_url,
            "VIGIE_ENROLL_TOKEN": ENROLL,
            "WEB_CONCURRENCY": "3",
            "PYTHONUNBUFFERED": "1",
            **POOLER_ENV,
        },
    )
    log = tmp_path / "honcho.log"
    proc = honcho(["-p", str(base), "web", "realtime"], env_file, log)
    client = None
    try:
        wait_for_http(f"{web}/api/health", timeout=60, proc=proc)
        wait_for_http(f"{relay}/health", timeout=60, proc=proc)
        assert gunicorn_workers(base) == 3  # sized from WEB_CONCURRENCY

        registered = requests.post(
            f"{web}/api/servers/register",
            json={"hostname": "procfile-01"},
            headers=bearer(ENROLL),
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        sid, token = registered.json()["id"], registered.json()["ingest_token"]

        client = EventClient(relay)
        client.join(sid)
        body = {"server_id": sid, **sample(cpu_percent=77.5)}
        stored = requests.post(f"{web}/api/metrics", json=body, headers=bearer(token), timeout=10)
        assert stored.status_code == 201, stored.text

        [update] = client.wait_for("metrics-update", lambda d: d["server_id"] == sid)
        assert update["cpu_percent"] == 77.5
        assert update["recorded_at"].startswith(body["recorded_at"][:19])
    except BaseException:
        print(log.read_text(errors="replace")[-5000:])
        raise
    finally:
        if client is not None:
            client.close()
        stop(proc, timeout=20)
    # honcho stops both processes when it is stopped.
    for port in (base, base + 100):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
