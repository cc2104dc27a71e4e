"""The realtime relay: a real gunicorn gevent process, real PostgreSQL, real
socket.io clients. Samples go in through the API; events come out of the relay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from .helpers import iso, running_relay, sample
from .relay_helpers import FAST
from .socket_client import EventClient

pytestmark = pytest.mark.slow

VALUES = ["cpu_percent", "ram_percent", "ram_used_mb", "ram_total_mb", "disk_percent",
          "disk_used_gb", "disk_total_gb", "network_sent_mb", "network_recv_mb"]  # fmt: skip


def now_iso(seconds_ago: float = 0) -> str:
    return iso(datetime.now(UTC) - timedelta(seconds=seconds_ago))


def same_instant(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


@pytest.fixture(scope="module")
def relay_url(direct_database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("relay") / "relay.log"
    with running_relay(direct_database_url, FAST, log=log) as url:
        yield url


def metrics_for(client: EventClient, server_id: int) -> list[dict]:
    return client.of("metrics-update", lambda d: d["server_id"] == server_id)


def test_a_joined_client_receives_exactly_the_posted_sample(api, connect):
    sid, token = api.register("web-01")
    client = connect()
    ack = client.join(sid)
    assert ack == {"ok": True, "server_id": sid, "is_active": False, "last_seen": None}

    posted = sample(cpu_percent=12.5, ram_percent=33.3, recorded_at=now_iso())
    response = api.post_sample(sid, token, **posted)
    assert response.status_code == 201
    [event] = client.wait_for("metrics-update")
    assert event["server_id"] == sid
    assert event["id"] == response.json["id"]
    assert same_instant(event["recorded_at"], posted["recorded_at"])
    assert {k: event[k] for k in VALUES} == {k: posted[k] for k in VALUES}
    assert event["network_sent_mb_s"] is None  # no earlier sample to compare with

    # A second sample: it arrives once, with the throughput since the first.
    later = datetime.fromisoformat(posted["recorded_at"]) + timedelta(seconds=5)
    api.post_sample(
        sid, token, recorded_at=iso(later), network_sent_mb=posted["network_sent_mb"] + 10
    )
    client.wait_for("metrics-update", count=2)
    first, second = client.of("metrics-update")
    assert first == event
    assert second["network_sent_mb_s"] == pytest.approx(2.0)
    assert second["network_recv_mb_s"] == 0


def test_after_leaving_nothing_more_arrives(api, connect):
    a, token_a = api.register("web-a")
    b, token_b = api.register("web-b")
    leaver, witness = connect(), connect()
    for client in (leaver, witness):
        client.join(a)
    leaver.join(b)
    api.post_sample(a, token_a, recorded_at=now_iso(2))
    leaver.wait_for("metrics-update")

    assert leaver.call("leave-server", {"serverId": a}) == {"ok": True, "server_id": a}
    api.post_sample(a, token_a, recorded_at=now_iso(1))
    witness.wait_for("metrics-update", count=2)
    # Events reach a client in the order the relay emits them: once b's sample is
    # here, a's second sample would have been too.
    api.post_sample(b, token_b, recorded_at=now_iso())
    leaver.wait_for("metrics-update", lambda d: d["server_id"] == b)
    assert len(metrics_for(leaver, a)) == 1


def test_samples_do_not_leak_between_rooms(api, connect):
    one, token_one = api.register("web-1")
    two, token_two = api.register("web-2")
    client = connect()
    client.join(one)
    api.post_sample(two, token_two, recorded_at=now_iso(1))
    api.post_sample(one, token_one, recorded_at=now_iso())
    client.wait_for("metrics-update", lambda d: d["server_id"] == one)
    assert metrics_for(client, two) == []
    assert {d["server_id"] for d in client.of("server-status")} == {one}


def test_room_requests_are_acknowledged_and_bad_ones_refused(api, connect):
    sid, _ = api.register("web-01")
    client = connect()
    assert client.call("join-server", {"serverId": str(sid)})["ok"] is True
    ids = ["abc", 0, -3, True, 1.5, 2**31, None]
    malformed = [None, {}, [sid], "1", *({"serverId": bad} for bad in ids)]
    for bad in malformed:
        ack = client.call("join-server", bad)
        assert ack["ok"] is False and ack["error"] == "invalid", (bad, ack)
        assert ack["field"] == "serverId"
    ack = client.call("join-server", {"serverId": sid + 1000})
    assert ack == {
        "ok": False,
        "error": "not_found",
        "message": f"server {sid + 1000} does not exist",
    }
    ack = client.call("leave-server", {"serverId": sid + 1})
    assert ack["ok"] is False and ack["error"] == "not_joined"
    assert client.call("leave-server", {"serverId": "x"})["error"] == "invalid"
    assert client.call("leave-server", {"server_id": sid}) == {"ok": True, "server_id": sid}
    assert client.call("join-all") == {"ok": True}
    assert client.call("leave-all") == {"ok": True}


def test_the_overview_follows_every_server(api, connect):
    overview = connect()
    assert overview.call("join-all") == {"ok": True}
    sid, token = api.register("web-new")
    [registered] = overview.wait_for("server-update")
    assert registered == {"server_id": sid, "event": "registered"}

    # A batch: the overview gets its newest values only (in a `fleet-update`),
    # the room gets all three samples.
    room = connect()
    room.join(sid)
    # Its newest sample is newer than any earlier test's, which may have sent some
    # a little ahead of the clock (ids start again at 1, the relay is the module's,
    # and a fleet entry keeps the newest sample of its id): a minute ahead, within
    # the clock skew the API allows.
    start = datetime.now(UTC) + timedelta(seconds=60)
    batch = [sample(recorded_at=iso(start + timedelta(seconds=5 * i)), cpu_percent=i)
             for i in range(3)]  # fmt: skip
    assert api.post_batch(sid, token, batch).status_code == 201
    [status] = overview.wait_for("server-status")
    assert status["server_id"] == sid and status["is_active"] is True

    def fleet_entries(server_id: int) -> list[dict]:
        return [e for u in overview.of("fleet-update") for e in u["servers"]
                if e["server_id"] == server_id]  # fmt: skip

    # (The relay is the module's: an entry an earlier test left pending for the same
    # id, reused after the tables are emptied, may come first.)
    def newest(u: dict) -> bool:
        return any(e["server_id"] == sid
                   and same_instant(e["latest"]["recorded_at"], batch[-1]["recorded_at"])
                   for e in u["servers"])  # fmt: skip

    def of_this_write() -> list[dict]:
        return [e for e in fleet_entries(sid)
                if same_instant(e["latest"]["recorded_at"], batch[-1]["recorded_at"])]  # fmt: skip

    overview.wait_for("fleet-update", newest)
    [latest] = of_this_write()
    assert latest["latest"]["cpu_percent"] == 2
    room_events = room.wait_for("metrics-update", count=3)
    assert [e["cpu_percent"] for e in room_events] == [0, 1, 2]
    assert room.of("server-status") == [status]
    # Every server, without joining each room.
    other, other_token = api.register("web-other")
    api.post_sample(other, other_token, recorded_at=now_iso())
    overview.wait_for("fleet-update", lambda u: any(e["server_id"] == other for e in u["servers"]))
    assert len(of_this_write()) == 1
    assert overview.of("metrics-update") == []


def test_a_large_batch_sends_its_newest_samples_and_one_backfill_event(api, connect):
    sid, token = api.register("web-01")
    client = connect()
    client.join(sid)
    start = datetime.now(UTC) - timedelta(hours=1)
    batch = [sample(recorded_at=iso(start + timedelta(seconds=5 * i)), cpu_percent=i % 100)
             for i in range(150)]  # fmt: skip
    api.post_batch(sid, token, batch)
    [backfill] = client.wait_for("metrics-backfill")
    assert backfill["server_id"] == sid and backfill["count"] == 150 and backfill["live"] == 100
    assert same_instant(backfill["first"], batch[0]["recorded_at"])
    assert same_instant(backfill["last"], batch[-1]["recorded_at"])
    events = client.wait_for("metrics-update", count=100)
    assert [e["recorded_at"] for e in events] == [
        e["recorded_at"] for e in sorted(events, key=lambda e: e["recorded_at"])
    ]
    assert same_instant(events[0]["recorded_at"], batch[50]["recorded_at"])
    assert same_instant(events[-1]["recorded_at"], batch[-1]["recorded_at"])


def test_a_retried_sample_is_not_announced_again(api, connect):
    sid, token = api.register("web-01")
    client = connect()
    client.join(sid)
    first = now_iso(1)
    api.post_sample(sid, token, recorded_at=first)
    assert api.post_sample(sid, token, recorded_at=first).status_code == 200
    api.post_sample(sid, token, recorded_at=now_iso())
    client.wait_for("metrics-update", count=2)
    assert len(client.of("metrics-update", lambda d: same_instant(d["recorded_at"], first))) == 1


def test_a_batch_that_overlaps_older_samples_announces_only_its_own(api, connect):
    sid, token = api.register("web-01")
    client = connect()
    client.join(sid)
    start = datetime.now(UTC) - timedelta(minutes=5)
    at = [iso(start + timedelta(seconds=i)) for i in range(5)]
    api.post_sample(sid, token, recorded_at=at[2], cpu_percent=99)
    client.wait_for("metrics-update")
    # Stored: 0, 1, 3, 4. The range [0, 4] also holds sample 2, stored before.
    api.post_batch(sid, token, [sample(recorded_at=t, cpu_percent=i) for i, t in enumerate(at)])
    events = client.wait_for("metrics-update", count=5)
    assert [e["cpu_percent"] for e in events] == [99, 0, 1, 3, 4]
    assert events[3]["network_sent_mb_s"] == 0  # the throughput uses sample 2 as previous


def test_alert_notifications_are_forwarded_to_the_room_and_the_overview(api, connect, db):
    sid, _ = api.register("web-01")
    other, _ = api.register("web-02")
    room, overview, elsewhere = connect(), connect(), connect()
    room.join(sid)
    overview.call("join-all")
    elsewhere.join(other)
    alert = {"kind": "alert", "server_id": sid, "type": "cpu", "value": 97.5, "threshold": 90,
             "state": "firing"}  # fmt: skip
    db.execute("SELECT pg_notify('vigie_events', %s)", [json.dumps(alert)])
    expected = {k: v for k, v in alert.items() if k != "kind"}
    assert room.wait_for("alert") == [expected]
    assert overview.wait_for("alert") == [expected]
    db.execute(
        "SELECT pg_notify('vigie_events', %s)",
        [json.dumps({"kind": "alert", "server_id": other, "type": "ram"})],
    )
    elsewhere.wait_for("alert")
    assert room.of("alert") == [expected]


def test_two_relays_both_deliver(api, connect, direct_database_url, relay_url, tmp_path):
    sid, token = api.register("web-01")
    with running_relay(direct_database_url, FAST, log=tmp_path / "relay2.log") as other:
        first, second = connect(relay_url), connect(other)
        first.join(sid)
        second.join(sid)
        posted = now_iso()
        api.post_sample(sid, token, recorded_at=posted)
        for client in (first, second):
            [event] = client.wait_for("metrics-update")
            assert same_instant(event["recorded_at"], posted)
            [status] = client.wait_for("server-status")
            assert status["is_active"] is True


def test_health_says_the_relay_is_listening(relay_url):
    response = requests.get(f"{relay_url}/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["listening"] is True
