"""Servers removed (and registered) while the relay is not listening still reach
every open dashboard, once, after it listens again: NOTIFY is not durable, so the
relay's catch-up reads them from the log of servers coming and going
(server_events), with real processes on both sides."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from .conftest import ADMIN, ENROLL, bearer, register_at, wait_until
from .helpers import free_port, gunicorn_api, running_relay
from .relay_helpers import FAST, cut_listen, first_sample_received, health, terminate
from .socket_client import EventClient

pytestmark = pytest.mark.slow


@pytest.fixture
def admin_api(database_url, db, tmp_path) -> Iterator[str]:
    """The API as a process that also takes changes (VIGIE_ADMIN_TOKEN)."""
    port = free_port()
    env = {"VIGIE_ENROLL_TOKEN": ENROLL, "VIGIE_ADMIN_TOKEN": ADMIN}
    with gunicorn_api(database_url, port, env, log=tmp_path / "api.log"):
        yield f"http://127.0.0.1:{port}"


def remove(api: str, server_id: int) -> None:
    response = requests.delete(f"{api}/api/servers/{server_id}", headers=bearer(ADMIN), timeout=30)
    assert response.status_code == 204, response.text


def removed(client: EventClient, server_id: int | None = None) -> list[int]:
    return [
        d["server_id"]
        for d in client.of("server-removed")
        if server_id is None or d["server_id"] == server_id
    ]


def test_a_server_removed_while_the_relay_cannot_listen_is_removed_from_every_dashboard(
    admin_api, relay_role, direct_database_url, db, tmp_path
):
    relay_url_as_role, allow_login = relay_role
    gone, gone_token = register_at(admin_api, "web-01")
    kept, kept_token = register_at(admin_api, "web-02")
    env = {**FAST, "REALTIME_DATABASE_URL": relay_url_as_role}
    with (
        running_relay(direct_database_url, env, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as room,
        EventClient(relay) as kept_room,
        EventClient(relay) as overview,
    ):
        room.join(gone)
        kept_room.join(kept)
        assert overview.call("join-all")["ok"]
        writer = first_sample_received(room, admin_api, gone, gone_token)

        cut_listen(relay, direct_database_url, allow_login)
        # While the relay is away: web-01 sends one more sample, is removed, and
        # registers again (the same host: a new server, with a new id).
        assert writer.post_one()
        remove(admin_api, gone)
        again, again_token = register_at(admin_api, "web-01")
        assert again != gone
        allow_login(True)

        for client in (room, overview):
            [event] = client.wait_for("server-removed", timeout=60)
            assert event == {"server_id": gone}
        [registered] = overview.wait_for(
            "server-update", lambda d: d.get("event") == "registered", timeout=60
        )
        assert registered == {"server_id": again, "event": "registered"}

        # The new server is a server like another: its samples reach its room and
        # the overview, and nothing says it was removed.
        fresh = EventClient(relay)
        try:
            fresh.join(again)
            first_sample_received(fresh, admin_api, again, again_token)
            overview.wait_for(
                "fleet-update", lambda d: again in {s["server_id"] for s in d["servers"]}
            )
        finally:
            fresh.close()
        assert removed(overview) == [gone]
        assert removed(room) == [gone]
        assert removed(kept_room) == []
        # Removed, it is never mentioned again (its last sample went with it).
        index = next(i for i, (e, _) in enumerate(overview.events) if e == "server-removed")
        later = [
            s["server_id"]
            for e, d in overview.events[index:]
            if e == "fleet-update"
            for s in d["servers"]
        ]
        assert gone not in later


def test_a_removal_announced_live_and_read_again_by_the_catch_up_goes_out_once(
    admin_api, direct_database_url, db, tmp_path
):
    # The horizon does not move (one check a minute): whatever happens after the
    # relay started, the catch-up reads it again from the log.
    gone, _ = register_at(admin_api, "web-01")
    env = {**FAST, "VIGIE_RELAY_CHECK_SECONDS": "60"}
    with (
        running_relay(direct_database_url, env, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as room,
        EventClient(relay) as overview,
    ):
        room.join(gone)
        assert overview.call("join-all")["ok"]
        remove(admin_api, gone)
        new, _ = register_at(admin_api, "web-03")
        room.wait_for("server-removed")
        overview.wait_for("server-update", lambda d: d.get("event") == "registered")
        before = health(relay)[1]
        terminate(direct_database_url, before["listen_backend_pid"])
        wait_until(
            lambda: health(relay)[1].get("catch_ups", 0) > before["catch_ups"],
            what="a catch-up after the new LISTEN",
        )
        # A last event through the new session: everything before it was handled.
        remove(admin_api, new)
        overview.wait_for("server-removed", lambda d: d["server_id"] == new)
        assert removed(room) == [gone]
        assert removed(overview) == [gone, new]
        registrations = overview.of("server-update", lambda d: d.get("event") == "registered")
        assert registrations == [{"server_id": new, "event": "registered"}]


def test_the_log_of_servers_coming_and_going_is_pruned(
    admin_api, direct_database_url, db, tmp_path
):
    last = db.execute("SELECT coalesce(max(id), 0) AS n FROM server_events").fetchone()["n"]
    sid, _ = register_at(admin_api, "web-01")
    remove(admin_api, sid)
    logged = "SELECT server_id, event FROM server_events WHERE id > %s ORDER BY id"
    assert db.execute(logged, [last]).fetchall() == [
        {"server_id": sid, "event": "registered"},
        {"server_id": sid, "event": "removed"},
    ]
    env = {**FAST, "VIGIE_RELAY_LOG_RETENTION": "2"}
    with running_relay(direct_database_url, env, log=tmp_path / "relay.log"):
        wait_until(lambda: db.execute(logged, [last]).fetchall() == [], what="the log pruned")
