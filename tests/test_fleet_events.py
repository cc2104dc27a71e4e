"""The overview's events: one coalesced `fleet-update` per period, whatever the
number of writes, with the latest state of each server that changed; a server's
room still gets every sample; status changes and alerts at once. A real relay
(gunicorn, gevent), real PostgreSQL, real socket.io clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from .conftest import wait_until
from .helpers import iso, running_relay, sample
from .relay_helpers import cut_listen, health
from .socket_client import EventClient

pytestmark = pytest.mark.slow

FAST = {"VIGIE_SWEEP_SECONDS": "0.2", "VIGIE_RELAY_CHECK_SECONDS": "0.5"}
ENTRY_KEYS = {"server_id", "is_active", "last_seen", "latest"}
LATEST_KEYS = {
    "recorded_at",
    "cpu_percent",
    "ram_percent",
    "disk_percent",
    "load_per_core",
    "fs_fullest",
}


def ingest(db, server_id: int, recorded_at: datetime, **values) -> None:
    """One sample through the write path the API uses (vigie_ingest), in its own
    transaction."""
    body = sample(recorded_at=iso(recorded_at), **values)
    db.execute("SELECT * FROM vigie_ingest(%s, %s)", [server_id, Jsonb([body])])


def entries(client: EventClient, server_ids: set[int] | None = None) -> list[dict]:
    found = [e for event in client.of("fleet-update") for e in event["servers"]]
    return [e for e in found if server_ids is None or e["server_id"] in server_ids]


def newest_by_server(client: EventClient, server_ids: set[int]) -> dict[int, dict]:
    """Of the entries received for these servers, the newest values of each."""
    newest: dict[int, dict] = {}
    for entry in entries(client, server_ids):
        at = datetime.fromisoformat(entry["latest"]["recorded_at"])
        known = newest.get(entry["server_id"])
        if known is None or at > datetime.fromisoformat(known["latest"]["recorded_at"]):
            newest[entry["server_id"]] = entry
    return newest


def events_with(client: EventClient, server_ids: set[int]) -> list[dict]:
    return [
        event
        for event in client.of("fleet-update")
        if any(e["server_id"] in server_ids for e in event["servers"])
    ]


@pytest.fixture(scope="module")
def relay_url(direct_database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("fleet") / "relay.log"
    with running_relay(direct_database_url, {**FAST, "VIGIE_FLEET_SECONDS": "1"}, log=log) as url:
        yield url


def test_200_samples_over_50_servers_make_a_handful_of_fleet_updates(api, db, connect):
    servers = [api.register(f"fleet-{i:02}")[0] for i in range(50)]
    ids = set(servers)
    overview, room = connect(), connect()
    assert overview.call("join-all") == {"ok": True}
    room.join(servers[0])

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    expected = {}
    for round_ in range(4):
        for i, sid in enumerate(servers):
            at = start + timedelta(seconds=5 * round_, milliseconds=i)
            values = {"cpu_percent": round_ * 10 + i / 10, "ram_percent": 40.5 + round_,
                      "disk_percent": 55.0 + i / 100}  # fmt: skip
            ingest(db, sid, at, **values)
            expected[sid] = {"recorded_at": at, **values}

    # The union of the updates holds the newest sample of each of the 50.
    def complete() -> bool:
        newest = newest_by_server(overview, ids)
        return len(newest) == 50 and all(
            datetime.fromisoformat(e["latest"]["recorded_at"]) == expected[s]["recorded_at"]
            for s, e in newest.items()
        )

    wait_until(complete, what="the newest sample of every server in the fleet updates")
    for sid, entry in newest_by_server(overview, ids).items():
        assert set(entry) == ENTRY_KEYS and set(entry["latest"]) == LATEST_KEYS
        want = expected[sid]
        assert entry["is_active"] is True
        assert entry["latest"]["cpu_percent"] == pytest.approx(want["cpu_percent"])
        assert entry["latest"]["ram_percent"] == pytest.approx(want["ram_percent"])
        assert entry["latest"]["disk_percent"] == pytest.approx(want["disk_percent"])
        assert entry["latest"]["recorded_at"].endswith("Z") and entry["last_seen"].endswith("Z")

    # 200 writes, a handful of events (the writes take well under a few periods),
    # each naming a server at most once; and no per-sample event.
    carrying = events_with(overview, ids)
    assert 1 <= len(carrying) <= 5, [len(e["servers"]) for e in carrying]
    for event in carrying:
        named = [e["server_id"] for e in event["servers"]]
        assert len(named) == len(set(named))
    assert overview.of("metrics-update") == []
    assert overview.of("metrics-backfill") == []

    # The server's room got every one of its samples, once, in order.
    got = room.wait_for("metrics-update", count=4)
    assert [datetime.fromisoformat(e["recorded_at"]) for e in got] == [
        start + timedelta(seconds=5 * r) for r in range(4)
    ]
    assert {e["server_id"] for e in got} == {servers[0]}


def test_only_what_changed_is_sent_and_a_late_sample_never_wins(api, db, connect):
    a, _ = api.register("fleet-a")
    b, _ = api.register("fleet-b")
    overview = connect()
    overview.call("join-all")
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(db, a, now, cpu_percent=70)
    ingest(db, b, now, cpu_percent=20)
    wait_until(lambda: len(newest_by_server(overview, {a, b})) == 2, what="both servers")
    before = len(overview.of("fleet-update"))

    # A late, older sample of a, then a new one of b: the next update holds b's,
    # and a's values stay the newest ones.
    ingest(db, a, now - timedelta(minutes=5), cpu_percent=1)
    ingest(db, b, now + timedelta(seconds=5), cpu_percent=25)
    wait_until(
        lambda: newest_by_server(overview, {b})[b]["latest"]["cpu_percent"] == 25,
        what="b's new sample",
    )
    for entry in entries(overview, {a}):
        assert entry["latest"]["cpu_percent"] == 70
        assert datetime.fromisoformat(entry["latest"]["recorded_at"]) == now
    # Nothing changed: nothing sent. The next event is the next change, alone.
    count = len(overview.of("fleet-update"))
    assert count - before <= 2
    ingest(db, b, now + timedelta(seconds=10), cpu_percent=30)
    wait_until(lambda: len(overview.of("fleet-update")) > count, what="one more update")
    [last] = overview.of("fleet-update")[count:]
    assert [e["server_id"] for e in last["servers"]] == [b]
    assert last["servers"][0]["latest"]["cpu_percent"] == 30


def test_status_changes_and_alerts_reach_the_fleet_at_once(api, db, direct_database_url, tmp_path):
    # A period longer than the test: whatever comes to the overview meanwhile did
    # not wait for a fleet update.
    env = {**FAST, "VIGIE_OFFLINE_AFTER": "2", "VIGIE_FLEET_SECONDS": "60"}
    with (
        running_relay(direct_database_url, env, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as overview,
    ):
        overview.call("join-all")
        sid, token = api.register("fleet-quiet", interval_seconds=0.5)
        overview.wait_for("server-update")
        start = datetime.now(UTC) - timedelta(seconds=3)
        for i in range(3):
            at = iso(start + timedelta(seconds=i))
            assert api.post_sample(sid, token, recorded_at=at, cpu_percent=99).status_code == 201
        [online] = overview.wait_for("server-status", lambda s: s["is_active"])
        assert online["server_id"] == sid
        [firing] = overview.wait_for("alert", lambda d: d["type"] == "cpu")
        assert (firing["server_id"], firing["state"]) == (sid, "firing")
        # Silent for two of its intervals: the sweep takes it offline.
        [offline] = overview.wait_for("server-status", lambda s: not s["is_active"])
        assert offline["server_id"] == sid and offline["last_seen"].endswith("Z")
        overview.wait_for("alert", lambda d: d["type"] == "offline")
        assert overview.of("fleet-update") == []
        assert overview.of("metrics-update") == []


def test_the_catch_up_after_a_killed_listen_session_feeds_the_fleet(
    api, db, relay_role, direct_database_url, tmp_path
):
    relay_url_as_role, allow_login = relay_role
    servers = [api.register(f"fleet-away-{i}")[0] for i in range(5)]
    env = {**FAST, "REALTIME_DATABASE_URL": relay_url_as_role}
    with (
        running_relay(direct_database_url, env, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as overview,
        EventClient(relay) as room,
    ):
        overview.call("join-all")
        room.join(servers[0])
        now = datetime.now(UTC).replace(microsecond=0)
        ingest(db, servers[0], now - timedelta(seconds=10), cpu_percent=5)
        room.wait_for("metrics-update")
        wait_until(lambda: newest_by_server(overview, {servers[0]}), what="a first update")

        # Cut the LISTEN session and keep the relay from listening again.
        cut_listen(relay, direct_database_url, allow_login)
        for i, sid in enumerate(servers):
            for k in range(3):
                ingest(db, sid, now + timedelta(seconds=k), cpu_percent=60 + 10 * k + i)
        allow_login(True)

        # Missed while away, read from the log: the room gets each sample, the
        # overview the newest of each server.
        got = room.wait_for("metrics-update", count=4)
        assert [e["cpu_percent"] for e in got[1:]] == [60, 70, 80]
        wait_until(
            lambda: all(
                e["latest"]["cpu_percent"] == 80 + i
                for i, e in enumerate(
                    newest_by_server(overview, set(servers)).get(s, {"latest": {}}) for s in servers
                )
            ),
            what="the newest missed sample of each server in the fleet updates",
        )
        assert health(relay)[1]["caught_up_samples"] >= 15
        assert overview.of("metrics-update") == []
