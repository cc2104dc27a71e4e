"""Times in socket events are written as the API writes them: UTC, ending in Z,
with the shortest exact fraction. Some payloads are built by PostgreSQL
(`json_build_object`), which writes times with the offset of the writer's session
time zone; the relay rewrites them, in one place, whatever the event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from vigie.wire import isoformat, wire

from .conftest import ENROLL, post_to, register_at
from .helpers import free_port, gunicorn_api, gunicorn_relay, iso, sample
from .socket_client import EventClient

pytestmark = pytest.mark.slow

# The API's database sessions in a zone far from UTC: without the rewrite, alert
# times would end in +05:30.
WRITER_ZONE = "Asia/Kolkata"


def times_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every string in a payload that reads as a time."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from times_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from times_in(item, f"{path}[{i}]")
    elif isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return
        yield path, value


def assert_written_as_the_api_does(event: str, data: Any) -> int:
    found = list(times_in(data))
    for where, text in found:
        assert text.endswith("Z"), f"{event}{where} = {text!r}"
        assert isoformat(datetime.fromisoformat(text)) == text, f"{event}{where} = {text!r}"
    return len(found)


def test_wire_rewrites_every_time_and_nothing_else():
    payload = {
        "started_at": "2026-03-01T12:00:00.5+05:30",
        "resolved_at": "2026-03-01T06:30:00+00:00",
        "nested": [{"last_seen": "2026-03-01T06:30:00.123456-02:00"}],
        "when": datetime(2026, 3, 1, 6, 30, tzinfo=UTC),
        "already": "2026-03-01T06:30:00.120Z",
        "hostname": "db-2026-03-01",
        "no_zone": "2026-03-01T06:30:00",
        "value": 99.5,
        "threshold": None,
    }
    assert wire(payload) == {
        "started_at": "2026-03-01T06:30:00.500Z",
        "resolved_at": "2026-03-01T06:30:00Z",
        "nested": [{"last_seen": "2026-03-01T08:30:00.123456Z"}],
        "when": "2026-03-01T06:30:00Z",
        "already": "2026-03-01T06:30:00.120Z",
        "hostname": "db-2026-03-01",
        "no_zone": "2026-03-01T06:30:00",
        "value": 99.5,
        "threshold": None,
    }


def test_every_event_writes_times_as_the_api_does(database_url, direct_database_url, db, tmp_path):
    api_port, relay_port = free_port(), free_port()
    api, relay = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{relay_port}"
    api_env = {"VIGIE_ENROLL_TOKEN": ENROLL, "PGTZ": WRITER_ZONE}
    relay_env = {
        "VIGIE_SWEEP_SECONDS": "0.3",
        "VIGIE_RELAY_CHECK_SECONDS": "0.5",
        "VIGIE_OFFLINE_AFTER": "3",
        # A batch of more samples than this is announced with `metrics-backfill`.
        "VIGIE_RELAY_MAX_LIVE": "2",
    }
    with (
        gunicorn_api(database_url, api_port, api_env, log=tmp_path / "api.log"),
        gunicorn_relay(direct_database_url, relay_port, relay_env, log=tmp_path / "relay.log"),
    ):
        overview = EventClient(relay)
        room = EventClient(relay)
        try:
            assert overview.call("join-all") == {"ok": True}
            sid, token = register_at(api, "web-01", interval_seconds=0.3)
            overview.wait_for("server-update")
            room.join(sid)

            def post(path: str, body: dict) -> None:
                response = post_to(api, path, token, {"server_id": sid, **body})
                assert response.status_code == 201, response.text

            # Three samples at CPU 99 in one batch: the server comes online, only the
            # newest two come live (plus a backfill event), and a CPU alert fires.
            now = datetime.now(UTC)
            batch = [
                sample(recorded_at=iso(now - timedelta(seconds=3 - i)), cpu_percent=99)
                for i in range(3)
            ]
            post("/api/metrics/batch", {"samples": batch})
            room.wait_for("metrics-backfill")
            room.wait_for("alert", lambda d: d["type"] == "cpu")
            # Silent: offline (its own alert), then a sample at 50 brings it back
            # and resolves both alerts.
            room.wait_for("server-status", lambda d: d["is_active"] is False)
            room.wait_for("alert", lambda d: d["type"] == "offline")
            post("/api/metrics", sample(recorded_at=iso(datetime.now(UTC)), cpu_percent=50))
            room.wait_for("alert", lambda d: d["state"] == "resolved", count=2)
            room.wait_for("server-status", lambda d: d["is_active"] is True, count=2)
            ack = room.call("join-server", {"serverId": sid})

            events = [*room.events, *overview.events, ("join-server ack", ack)]
            kinds = {event for event, _ in events}
            assert {"metrics-update", "metrics-backfill", "server-status", "alert"} <= kinds
            assert "server-update" in kinds
            checked = sum(assert_written_as_the_api_does(e, d) for e, d in events)
            assert checked >= 20

            # The very strings the API gives for the same alerts.
            listed = requests.get(f"{api}/api/alerts/{sid}?state=all", timeout=30).json()
            assert len(listed) == 2
            for alert in listed:
                [resolved] = room.of(
                    "alert", lambda d, a=alert: d["id"] == a["id"] and d["state"] == "resolved"
                )
                assert resolved["started_at"] == alert["started_at"]
                assert resolved["resolved_at"] == alert["resolved_at"]
        finally:
            room.close()
            overview.close()
