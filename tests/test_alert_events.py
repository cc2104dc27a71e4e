"""Alerts as a user meets them: a real relay process pushing `alert` socket events
and sending the webhook, the API listing the same alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .helpers import iso, running_relay, sample
from .relay_helpers import FAST
from .webhook_receiver import Receiver

pytestmark = pytest.mark.slow

START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def at(i: int) -> str:
    return iso(START + timedelta(seconds=5 * i))


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def relay_url(direct_database_url, receiver, tmp_path_factory):
    log = tmp_path_factory.mktemp("relay") / "relay.log"
    env = {
        **FAST,
        "VIGIE_ALERT_WEBHOOK_URL": f"{receiver.base}/vigie",
        "VIGIE_ALERT_WEBHOOK_FORMAT": "json",
    }
    with running_relay(direct_database_url, env, log=log) as url:
        yield url


def test_cpu_at_99_three_times_shows_one_alert_everywhere_and_50_resolves_it(
    api, client, connect, receiver
):
    sid, token = api.register("web-01")
    room, overview = connect(), connect()
    room.join(sid)
    assert overview.call("join-all") == {"ok": True}

    for i in range(3):
        assert api.post_sample(sid, token, recorded_at=at(i), cpu_percent=99).status_code == 201
    [firing] = room.wait_for("alert")
    assert firing["server_id"] == sid
    assert firing["type"] == "cpu"
    assert firing["state"] == "firing"
    assert firing["value"] == 99
    assert firing["threshold"] == 90
    assert datetime.fromisoformat(firing["started_at"]) == datetime.fromisoformat(at(2))
    assert "kind" not in firing
    assert overview.wait_for("alert") == [firing]
    [active] = client.get("/api/alerts").json
    assert (active["id"], active["type"], active["state"]) == (firing["id"], "cpu", "firing")
    assert [a["id"] for a in client.get(f"/api/alerts/{sid}?state=active").json] == [firing["id"]]

    # Still over: nothing new. Then 50 resolves it.
    for i in (3, 4):
        api.post_sample(sid, token, recorded_at=at(i), cpu_percent=98)
    api.post_sample(sid, token, recorded_at=at(5), cpu_percent=50)
    [resolved] = room.wait_for("alert", lambda d: d["state"] == "resolved")
    assert resolved["id"] == firing["id"]
    assert resolved["resolved_value"] == 50
    assert client.get("/api/alerts").json == []
    # One more sample, and its event, after which a duplicate alert would be visible.
    api.post_sample(sid, token, recorded_at=at(6), cpu_percent=40)
    room.wait_for("metrics-update", lambda d: d["cpu_percent"] == 40)
    overview.wait_for(
        "fleet-update", lambda u: any(e["latest"]["cpu_percent"] == 40 for e in u["servers"])
    )
    assert [e["state"] for e in room.of("alert")] == ["firing", "resolved"]
    assert [e["state"] for e in overview.of("alert")] == ["firing", "resolved"]

    # The webhook receiver got both messages.
    firing_hook, resolved_hook = receiver.wait_for(2, lambda b: b["server_id"] == sid)
    assert (firing_hook["state"], resolved_hook["state"]) == ("firing", "resolved")
    assert firing_hook["id"] == resolved_hook["id"] == firing["id"]
    assert firing_hook["text"].startswith("🔴 web-01: CPU at 99.0%")
    assert resolved_hook["text"].startswith("✅ web-01: CPU back to 50.0%")


def test_a_server_going_silent_raises_an_offline_alert_and_its_next_sample_clears_it(
    api, client, connect
):
    # Offline after 3 intervals of 0.2 s: the relay's sweep runs every 0.5 s.
    sid, token = api.register("web-quiet", interval_seconds=0.2)
    watcher = connect()
    watcher.join(sid)
    # One request, so the server cannot go silent between the samples.
    now = datetime.now(UTC)
    batch = [
        sample(recorded_at=iso(now - timedelta(seconds=3 - i)), cpu_percent=97) for i in range(3)
    ]
    assert api.post_batch(sid, token, batch).status_code == 201
    watcher.wait_for("alert", lambda d: d["type"] == "cpu")
    [offline] = watcher.wait_for("alert", lambda d: d["type"] == "offline")
    assert offline["state"] == "firing"
    assert offline["threshold"] is None
    watcher.wait_for("server-status", lambda d: d["is_active"] is False)
    # The CPU alert stays active while the server is offline.
    active = client.get(f"/api/alerts/{sid}?state=active").json
    assert sorted(a["type"] for a in active) == ["cpu", "offline"]

    api.post_sample(sid, token, recorded_at=iso(datetime.now(UTC)), cpu_percent=97)
    [back] = watcher.wait_for(
        "alert", lambda d: d["type"] == "offline" and d["state"] == "resolved"
    )
    assert back["id"] == offline["id"]
    assert [a["type"] for a in client.get(f"/api/alerts/{sid}?state=active").json] == ["cpu"]
