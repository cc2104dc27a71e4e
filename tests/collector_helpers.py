"""What the collector tests share: a real API that can be stopped and started again
on the same port, the collector as a process, and readers for what it stored.

Its fixtures (``api_process``, ``state``, ``runner``) reach every test through
``pytest_plugins`` in conftest.py."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from .conftest import ENROLL
from .helpers import BIN, METRIC_FIELDS, free_port, gunicorn_api, process

COLLECTOR = str(BIN / "vigie-collector")
FIELDS = METRIC_FIELDS


class ApiProcess:
    """The combined API under a real gunicorn, which a test can stop (an outage)
    and start again on the same port."""

    def __init__(self, database_url: str, log: Path, extra_env: dict[str, str] | None = None):
        self.database_url = database_url
        self.log = log
        self.env = {"VIGIE_ENROLL_TOKEN": ENROLL, **(extra_env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._running = None

    def start(self, database_url: str | None = None) -> None:
        """Start on this port; with another ``database_url`` (one that cannot be
        reached), an API whose database is down."""
        if database_url is None:
            self._running = gunicorn_api(
                self.database_url, self.port, self.env, log=self.log, workers=1
            )
        else:
            # Its health check answers 503: ready when it serves anything at all.
            args = [
                str(BIN / "gunicorn"),
                "--no-control-socket",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "functions.app:app",
            ]
            env = {**self.env, "DATABASE_URL": database_url, "VIGIE_DB_TIMEOUT": "1"}
            self._running = process(args, env, f"{self.url}/api/openapi.json", self.log)
        self._running.__enter__()

    def stop(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            running.__exit__(None, None, None)


@pytest.fixture
def api_process(database_url, db, tmp_path) -> Iterator[ApiProcess]:
    api = ApiProcess(database_url, tmp_path / "api.log")
    api.start()
    yield api
    api.stop()


@pytest.fixture
def state(tmp_path) -> Path:
    """A collector's state directory, with a machine id of its own."""
    path = tmp_path / "state"
    give_machine_id(path)
    return path


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    # The developer's own settings must not leak into what the tests check.
    for name in list(os.environ):
        if name.startswith("VIGIE_"):
            monkeypatch.delenv(name)
    return CliRunner()


def collector_env(api: ApiProcess | str, state_dir: Path, **extra: str) -> dict[str, str]:
    """Settings by environment, as a service manager would pass them."""
    return {
        "VIGIE_API_URL": api if isinstance(api, str) else api.url,
        "VIGIE_STATE_DIR": str(state_dir),
        "VIGIE_HOSTNAME": "collector-test",
        # Not this host's real machine id: tests on one machine must not share a server.
        "VIGIE_LOG_LEVEL": "info",
        **extra,
    }


def give_machine_id(state_dir: Path, value: str = "collector-test-machine") -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "machine-id").write_text(value + "\n")


def backlog_samples(state_dir: Path) -> list[dict]:
    """The samples waiting in a collector's backlog, oldest first."""
    path = state_dir / "backlog.sqlite3"
    if not path.exists():
        return []
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        rows = conn.execute("SELECT body FROM samples ORDER BY id").fetchall()
    return [json.loads(body) for (body,) in rows]


def stored(db: psycopg.Connection, server_id: int | None = None) -> list[dict]:
    """Rows of the metrics table in the order the API stored them."""
    if server_id is None:
        return db.execute("SELECT * FROM metrics ORDER BY id").fetchall()
    return db.execute(
        "SELECT * FROM metrics WHERE server_id = %s ORDER BY id", [server_id]
    ).fetchall()


def credentials(state_dir: Path) -> dict:
    return json.loads((state_dir / "credentials.json").read_text())


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_same_samples(rows: list[dict], samples: list[dict]) -> None:
    """The stored rows are exactly these samples, in this order, values intact."""
    assert [r["recorded_at"] for r in rows] == [parse_time(s["recorded_at"]) for s in samples]
    for row, sample in zip(rows, samples, strict=True):
        for name in FIELDS:
            assert row[name] == pytest.approx(sample[name], rel=1e-6, abs=1e-6), name
