"""The collector samples on its own schedule, whatever its sends are doing: an
API that takes longer than the interval to answer leaves no hole in the samples,
and once it answers again the backlog arrives in order, each sample once."""

from __future__ import annotations

import itertools
import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from vigie_collector.agent import Agent, Settings
from vigie_collector.cli import cli

from .collector_helpers import (
    COLLECTOR,
    backlog_samples,
    collector_env,
    credentials,
    give_machine_id,
    parse_time,
    stored,
)
from .conftest import ENROLL, wait_until
from .helpers import process

pytestmark = pytest.mark.slow

INTERVAL = 1.0
# Consecutive samples are one interval apart; a sample held up by a send would
# leave a gap of the send's delay (3 s here) or more.
MOST_GAP = 1.5 * INTERVAL


@dataclass
class Seen:
    path: str
    content_type: str
    received: float  # unix time
    answered: float = 0.0
    samples: list[str] = field(default_factory=list)  # recorded_at of a batch's samples


class SlowApi:
    """An HTTP server in front of where the API would be that answers every
    request only after ``delay`` seconds: with 503 (the API's answer while its
    database is down) or, once given an ``upstream``, with the real API's answer."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.upstream: str | None = None
        self.seen: list[Seen] = []
        self.release = threading.Event()  # set at the end: no request waits longer
        slow = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                seen = Seen(self.path, self.headers.get("Content-Type", ""), time.time())
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/api/metrics/batch":
                    seen.samples = [s["recorded_at"] for s in json.loads(body)["samples"]]
                slow.seen.append(seen)
                slow.release.wait(slow.delay)
                status, headers, answer = slow.answer(self.path, self.headers, body)
                seen.answered = time.time()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict[str, str], bytes]:
        upstream = self.upstream
        if upstream is None:
            message = {"error": "unavailable", "message": "the database is unreachable"}
            return 503, {}, json.dumps(message).encode()
        response = requests.post(
            upstream + path,
            data=body,
            headers={
                "Authorization": headers["Authorization"],
                "Content-Type": headers["Content-Type"],
            },
            timeout=30,
        )
        kept = {k: v for k, v in response.headers.items() if k == "Retry-After"}
        return response.status_code, kept, response.content

    def batches(self) -> list[Seen]:
        return [s for s in self.seen if s.path == "/api/metrics/batch"]


@pytest.fixture
def slow_api() -> Iterator[SlowApi]:
    api = SlowApi(delay=3.0)
    api.thread.start()
    yield api
    api.release.set()
    api.server.shutdown()
    api.server.server_close()


def gaps(times: list[str]) -> list[float]:
    moments = [parse_time(t) for t in times]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]


def unix(text: str) -> float:
    return datetime.timestamp(parse_time(text))


def test_sampling_keeps_its_interval_while_every_request_outlasts_it(slow_api, tmp_path):
    state = tmp_path / "state"
    give_machine_id(state)
    registered = {
        "api_url": slow_api.url,
        "server_id": 1,
        "ingest_token": "vgi_test",
        "name": "collector-test",
        "hostname": "collector-test",
        "machine_id": "collector-test-machine",
    }
    (state / "credentials.json").write_text(json.dumps(registered))
    settings = Settings(
        api_url=slow_api.url, state_dir=state, interval=INTERVAL, retry_max=1.0, timeout=10
    )
    agent = Agent(settings)
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,))
    began = time.monotonic()
    runner.start()
    try:
        # Long enough for sends of 3 s each to overlap several ticks.
        wait_until(lambda: len(slow_api.batches()) >= 3, timeout=120, what="three sends")
        stop.wait(1.0)
    finally:
        stop.set()
        ended = time.monotonic()
        runner.join(60)
        agent.close()
    assert not runner.is_alive()

    taken = [s["recorded_at"] for s in backlog_samples(state)]
    ticks = int((ended - began) // INTERVAL)
    assert ticks - 1 <= len(taken) <= ticks + 1, (len(taken), ticks)
    assert max(gaps(taken)) <= MOST_GAP, gaps(taken)
    # Samples were taken while a send waited for its answer, not only between sends.
    during = [t for t in taken for s in slow_api.batches() if s.received < unix(t) < s.answered]
    assert len(during) >= 3, during
    # Every send carries the samples oldest first, from the oldest unsent one,
    # declared as JSON (the API refuses a body of any other type with 415).
    for batch in slow_api.batches():
        assert batch.samples == taken[: len(batch.samples)]
    assert {s.content_type for s in slow_api.seen} == {"application/json"}


def test_once_the_slow_api_answers_the_backlog_arrives_in_order_without_a_hole(
    api_process, slow_api, db, state, tmp_path, runner
):
    # Set up after api_process, slow_api is torn down first: it lets its waiting
    # requests go before the API stops.
    env = collector_env(slow_api.url, state)
    slow_api.upstream, slow_api.delay = api_process.url, 0.0
    result = runner.invoke(cli, ["register"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL})
    assert result.exit_code == 0, result.output
    server_id = credentials(state)["server_id"]

    # The API takes 3 s to answer 503, then 1.5 s to answer for real: both
    # longer than the interval.
    slow_api.upstream, slow_api.delay = None, 3.0
    log = tmp_path / "collector.log"
    args = [COLLECTOR, "run", "--interval", str(INTERVAL), "--retry-max", "1"]
    with process(args, {**env, "VIGIE_LOG_LEVEL": "debug"}, log=log) as proc:
        wait_until(lambda: len(slow_api.batches()) >= 2, timeout=120, what="refused sends")
        slow_api.upstream, slow_api.delay = api_process.url, 1.5
        wait_until(lambda: len(stored(db, server_id)) >= 12, timeout=120, what="12 stored")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0

    taken = re.findall(r"sample taken at (\S+)", log.read_text())
    rows = stored(db, server_id)
    left = [s["recorded_at"] for s in backlog_samples(state)]
    # Each sample once, stored in the order taken, the unsent ones still kept.
    assert [r["recorded_at"] for r in rows] == [parse_time(t) for t in taken[: len(rows)]]
    assert left == taken[len(rows) :]
    assert max(gaps(taken)) <= MOST_GAP, gaps(taken)
    # What waited through the refusals went in one batch, with what came after.
    assert max(len(s.samples) for s in slow_api.batches()) >= 3
    assert "the API answers again" in log.read_text()
