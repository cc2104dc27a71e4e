"""What the tests of a relay process share: its pace, its `/health`, a step that
cuts its LISTEN session, an API process to post samples to, and a writer that
remembers what the API stored, to check each stored sample reached a client once.

Its fixture (``api_url``) reaches every test through ``pytest_plugins`` in
conftest.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from .conftest import ENROLL, post_to, wait_until
from .helpers import admin_connect, free_port, gunicorn_api, iso, sample
from .socket_client import EventClient

# Short periods: the horizon moves and the sweep runs often while tests run.
FAST = {"VIGIE_SWEEP_SECONDS": "0.5", "VIGIE_RELAY_CHECK_SECONDS": "0.5"}


def health(relay: str) -> tuple[int, dict]:
    """The relay's `/health`: (status code, body), or (0, {}) while it does not answer."""
    try:
        response = requests.get(f"{relay}/health", timeout=5)
        return response.status_code, response.json()
    except (requests.RequestException, ValueError):
        return 0, {}


def terminate(database_url: str, pid: int) -> None:
    with admin_connect(database_url) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])


def cut_listen(relay: str, database_url: str, allow_login: Callable[[bool], None]) -> None:
    """Kill the relay's LISTEN session and keep it from connecting again until
    ``allow_login(True)`` (``allow_login``: from the relay_role fixture)."""
    allow_login(False)
    terminate(database_url, health(relay)[1]["listen_backend_pid"])
    wait_until(lambda: health(relay)[0] == 503, what="relay reporting it lost LISTEN")


@pytest.fixture
def api_url(database_url, db, tmp_path) -> Iterator[str]:
    """The API as a process, on the emptied test database."""
    port = free_port()
    env = {"VIGIE_ENROLL_TOKEN": ENROLL}
    with gunicorn_api(database_url, port, env, log=tmp_path / "api.log"):
        yield f"http://127.0.0.1:{port}"


def no_change(n: int) -> dict:
    return {}


class Writer:
    """Posts samples to the API through HTTP, one after the other, and remembers
    which ones were stored (201). Runs in a thread until stopped; `values(n)` gives
    the values of the n-th sample the thread posts."""

    def __init__(
        self, api: str, server_id: int, token: str, values: Callable[[int], dict] = no_change
    ) -> None:
        self.api, self.server_id, self.token = api, server_id, token
        self.values = values
        self.stored: list[str] = []
        self.attempted: list[str] = []
        self.failures = 0
        self._stop = threading.Event()
        self._start = datetime.now(UTC) - timedelta(minutes=30)
        self._n = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def post_one(self, **values: float) -> bool:
        # Distinct sample times in the past: each post is a new sample.
        recorded_at = iso(self._start + timedelta(milliseconds=100 * self._n))
        self._n += 1
        self.attempted.append(recorded_at)
        body = sample(recorded_at=recorded_at, **values)
        try:
            response = post_to(
                self.api, "/api/metrics", self.token, {"server_id": self.server_id, **body}
            )
        except requests.RequestException:
            self.failures += 1
            return False
        if response.status_code == 201:
            self.stored.append(recorded_at)
            return True
        assert response.status_code == 503, response.text  # the database is away
        self.failures += 1
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            self.post_one(**self.values(self._n))
            time.sleep(0.02)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)


def first_sample_received(client: EventClient, api: str, server_id: int, token: str) -> Writer:
    """A writer of that server whose first sample the client (joined to the server's
    room) has received: the relay is live."""
    writer = Writer(api, server_id, token)
    assert writer.post_one()
    client.wait_for("metrics-update")
    return writer


def received_times(client: EventClient, server_id: int) -> list[datetime]:
    return [
        datetime.fromisoformat(d["recorded_at"])
        for d in client.of("metrics-update", lambda d: d["server_id"] == server_id)
    ]


def assert_each_stored_sample_received_once(client: EventClient, writer: Writer) -> None:
    stored = {datetime.fromisoformat(t) for t in writer.stored}
    attempted = {datetime.fromisoformat(t) for t in writer.attempted}
    client.wait_for(
        "metrics-update",
        lambda d: datetime.fromisoformat(d["recorded_at"]) in stored,
        count=len(stored),
        timeout=90,
    )
    got = received_times(client, writer.server_id)
    assert len(got) == len(set(got)), "a sample was delivered twice"
    assert stored <= set(got)
    # A post that failed may still have committed (the answer was lost), never
    # a sample nobody sent.
    assert set(got) <= attempted
