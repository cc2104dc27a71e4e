"""What the overview shows of the wide sample: each server's load per core and its
fullest filesystem, in the server list and in the relay's `fleet-update`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .conftest import bearer, wait_until
from .helpers import iso, running_relay, sample, wide_fields

NOW = datetime.now(UTC).replace(microsecond=0)


def post(api, sid, token, at, **fields):
    body = {"server_id": sid, **sample(**fields), "recorded_at": iso(at)}
    response = api.client.post("/api/metrics", json=body, headers=bearer(token))
    assert response.status_code == 201, response.json


def listed(client, sid) -> dict:
    [server] = [s for s in client.get("/api/servers").json if s["id"] == sid]
    return server["latest"]


def test_the_list_gives_load_per_core_and_the_fullest_filesystem(api, client):
    sid, token = api.register("wide-list")
    post(api, sid, token, NOW - timedelta(seconds=20), **wide_fields(0))
    latest = listed(client, sid)
    assert latest["load_per_core"] == pytest.approx(1.5 / 4)
    assert latest["fs_fullest"] == {"mount": "/srv", "percent": 80.0}

    # A fuller /var in a newer sample; then a seed-only sample: it reports no
    # load (none now), and no filesystems (the fullest stays the one known).
    fields = wide_fields(1)
    fields["filesystems"][2]["percent"] = 97.5
    fields["load_1"], fields["cpu_count"] = 9.0, 2
    post(api, sid, token, NOW - timedelta(seconds=15), **fields)
    latest = listed(client, sid)
    assert latest["load_per_core"] == pytest.approx(4.5)
    assert latest["fs_fullest"] == {"mount": "/var", "percent": 97.5}
    post(api, sid, token, NOW - timedelta(seconds=10))
    latest = listed(client, sid)
    assert latest["load_per_core"] is None
    assert latest["fs_fullest"] == {"mount": "/var", "percent": 97.5}

    # An older sample arriving late changes neither.
    post(api, sid, token, NOW - timedelta(seconds=60), **wide_fields(0))
    assert listed(client, sid)["fs_fullest"] == {"mount": "/var", "percent": 97.5}


def test_a_seed_only_server_has_neither(api, client):
    sid, token = api.register("seed-list")
    post(api, sid, token, NOW - timedelta(seconds=5))
    latest = listed(client, sid)
    assert latest["load_per_core"] is None and latest["fs_fullest"] is None


@pytest.mark.slow
def test_the_fleet_update_carries_them(api, direct_database_url, tmp_path):
    from .socket_client import EventClient

    sid, token = api.register("wide-fleet")
    env = {"VIGIE_FLEET_SECONDS": "0.5"}
    with running_relay(direct_database_url, env, log=tmp_path / "relay.log") as url:
        overview = EventClient(url)
        try:
            assert overview.call("join-all") == {"ok": True}
            post(api, sid, token, NOW - timedelta(seconds=3), **wide_fields(0))

            def entry():
                found = [
                    e
                    for event in overview.of("fleet-update")
                    for e in event["servers"]
                    if e["server_id"] == sid
                ]
                return found[-1] if found else None

            wait_until(lambda: entry() is not None, what="a fleet-update naming the server")
            latest = entry()["latest"]
            assert latest["load_per_core"] == pytest.approx(1.5 / 4)
            assert latest["fs_fullest"] == {"mount": "/srv", "percent": 80.0}
        finally:
            overview.close()
