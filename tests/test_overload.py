"""Past what the machine carries, the API answers at once instead of late: a request
that waited longer than VIGIE_MAX_QUEUE_SECONDS for one of the web worker's threads
gets a JSON 503 with Retry-After, before any work (vigie/workers.py), and what it
carried is not stored; health checks are still answered, and once the worker has
caught up every request is served again. Against a real gunicorn with one thread,
kept busy by a client that sends its body slowly."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest
import requests

from .conftest import ENROLL, bearer, register_at
from .helpers import free_port, gunicorn_api, sample

pytestmark = pytest.mark.slow

LIMIT = 0.5  # seconds a request may wait for the thread
HOLD = 2.0  # seconds the slow client keeps the only thread


@pytest.fixture
def one_thread_api(database_url, db, tmp_path):
    port = free_port()
    env = {"VIGIE_ENROLL_TOKEN": ENROLL, "VIGIE_MAX_QUEUE_SECONDS": str(LIMIT)}
    with gunicorn_api(database_url, port, env, log=tmp_path / "api.log", workers=1, threads=1):
        yield port


def hold_the_thread(port: int, started: threading.Event) -> None:
    """A POST whose body arrives in two parts, HOLD seconds apart: the worker's only
    thread waits for it (reading a client's body is not queueing)."""
    body = b'{"hostname": "slow-client"}'
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/servers/register HTTP/1.1\r\nHost: vigie.test\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer " + ENROLL.encode() +
            b"\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\n\r\n" + body[:5]
        )  # fmt: skip
        started.set()
        time.sleep(HOLD)
        sock.sendall(body[5:])
        while sock.recv(65536):
            pass


def stored(db, server_id: int) -> int:
    return db.execute(
        "SELECT count(*) AS n FROM metrics WHERE server_id = %s", [server_id]
    ).fetchone()["n"]


def test_a_request_that_waited_too_long_gets_503_and_stores_nothing(one_thread_api, db):
    base = f"http://127.0.0.1:{one_thread_api}"
    server_id, token = register_at(base, "queued-01")
    at = datetime.now(UTC).isoformat()
    started = threading.Event()
    slow = threading.Thread(target=hold_the_thread, args=(one_thread_api, started))
    slow.start()
    started.wait(10)
    time.sleep(0.2)  # the slow request has the thread
    answers: dict[str, requests.Response] = {}

    def post_sample() -> None:
        answers["sample"] = requests.post(
            f"{base}/api/metrics", json={"server_id": server_id, **sample(), "recorded_at": at},
            headers=bearer(token), timeout=30,
        )  # fmt: skip

    def health() -> None:
        answers["health"] = requests.get(f"{base}/api/health", timeout=30)

    others = [threading.Thread(target=post_sample), threading.Thread(target=health)]
    for t in others:
        t.start()
    for t in (slow, *others):
        t.join(30)

    refused = answers["sample"]
    assert refused.status_code == 503, refused.text
    assert refused.headers["Content-Type"] == "application/json"
    assert int(refused.headers["Retry-After"]) > 0
    error = refused.json()
    assert error["error"] == "overloaded"
    assert "VIGIE_MAX_QUEUE_SECONDS" in error["message"]
    assert answers["health"].status_code == 200  # never shed
    assert stored(db, server_id) == 0

    # Caught up: the same sample, sent again, is stored.
    again = requests.post(
        f"{base}/api/metrics", json={"server_id": server_id, **sample(), "recorded_at": at},
        headers=bearer(token), timeout=30,
    )  # fmt: skip
    assert again.status_code == 201, again.text
    assert stored(db, server_id) == 1


def test_a_bad_limit_is_refused_at_start(database_url, tmp_path):
    port = free_port()
    env = {"VIGIE_MAX_QUEUE_SECONDS": "soon"}
    with (
        pytest.raises(RuntimeError),
        gunicorn_api(database_url, port, env, log=tmp_path / "api.log", workers=1),
    ):
        pass
    assert "VIGIE_MAX_QUEUE_SECONDS must be a number" in (tmp_path / "api.log").read_text()
