"""Share links: made, listed and revoked by the admin; their token reads only the
servers they cover (REST and socket), and stops at once when revoked or expired,
sockets included."""

from __future__ import annotations

import pytest
import socketio

from vigie.tokens import hash_token

from .conftest import ADMIN, bearer, wait_until, with_settings
from .helpers import iso, minutes_ago, running_relay
from .relay_helpers import FAST


def share(client, **body):
    response = client.post("/api/shares", json=body, headers=bearer(ADMIN))
    assert response.status_code == 201, response.json
    return response.json


def tag(client, sid, *tags):
    response = client.patch(f"/api/servers/{sid}", json={"tags": list(tags)}, headers=bearer(ADMIN))
    assert response.status_code == 200


# --- the API -------------------------------------------------------------------


def test_a_link_is_made_shown_once_stored_hashed_listed_and_revoked(api, client, db):
    sid, _ = api.register("web-01")
    made = share(client, server_id=sid, expires_in="7d", label="for the vendor")
    token = made["token"]
    assert token.startswith("vgs_") and len(token) > 40
    assert made["url"] == f"http://localhost/share/{token}"
    assert (made["server_id"], made["tag"], made["label"]) == (sid, None, "for the vendor")
    stored = db.execute("SELECT token_hash FROM shares").fetchone()["token_hash"]
    assert bytes(stored) == hash_token(token)
    assert token not in str(db.execute("SELECT * FROM shares").fetchall())

    listed = client.get("/api/shares", headers=bearer(ADMIN)).json
    assert listed == [{k: v for k, v in made.items() if k not in ("token", "url")}]
    assert client.delete(f"/api/shares/{made['id']}", headers=bearer(ADMIN)).status_code == 204
    assert client.get("/api/shares", headers=bearer(ADMIN)).json == []
    assert client.get(f"/api/servers/{sid}", headers=bearer(token)).status_code == 403
    assert client.delete(f"/api/shares/{made['id']}", headers=bearer(ADMIN)).status_code == 404


def test_the_link_is_made_from_the_public_url_or_the_dashboards_origin(app, api, client):
    sid, _ = api.register("web-01")
    response = client.post(
        "/api/shares", json={"server_id": sid, "expires_in": "1h"},
        headers={**bearer(ADMIN), "Origin": "https://dash.example.com"},
    )  # fmt: skip
    assert response.json["url"].startswith("https://dash.example.com/share/vgs_")
    with_settings(app, api={"public_url": "https://vigie.example.com"})
    made = share(client, server_id=sid, expires_in="1h")
    assert made["url"] == f"https://vigie.example.com/share/{made['token']}"


BAD = [
    ({"expires_in": "1h"}, "server_id"),
    ({"server_id": "{sid}", "tag": "web", "expires_in": "1h"}, "tag"),
    ({"server_id": "{sid}"}, "expires_in"),
    (
        {"server_id": "{sid}", "expires_in": "1h", "expires_at": "2999-01-01T00:00:00Z"},
        "expires_at",
    ),
    ({"server_id": "{sid}", "expires_in": "never"}, "expires_in"),
    ({"server_id": "{sid}", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"server_id": "{sid}", "expires_in": "1h", "label": "x" * 101}, "label"),
    ({"server_id": 4242, "expires_in": "1h"}, "server_id"),
    ({"tag": "a b", "expires_in": "1h"}, "tag"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
def test_a_bad_link_is_refused_naming_its_field(api, client, db, body, field):
    sid, _ = api.register("web-01")
    body = {k: (sid if v == "{sid}" else v) for k, v in body.items()}
    response = client.post("/api/shares", json=body, headers=bearer(ADMIN))
    assert response.status_code == 400, response.json
    assert field in [d["field"] for d in response.json["details"]], response.json
    assert db.execute("SELECT count(*) AS n FROM shares").fetchone()["n"] == 0


# --- what a link reads ---------------------------------------------------------


@pytest.fixture
def fleet(api, client):
    """Three servers with a sample and an alert each: web-01 and web-02 tagged web."""
    servers = {}
    for name in ("web-01", "web-02", "db-01"):
        sid, token = api.register(name)
        for i in range(3):
            at = iso(minutes_ago(10 - i / 10))
            assert api.post_sample(sid, token, recorded_at=at, cpu_percent=99).status_code == 201
        servers[name] = sid
    tag(client, servers["web-01"], "web")
    tag(client, servers["web-02"], "web")
    return servers


def reads(client, token, sid):
    headers = bearer(token)
    return {
        "detail": client.get(f"/api/servers/{sid}", headers=headers).status_code,
        "current": client.get(f"/api/metrics/current/{sid}", headers=headers).status_code,
        "history": client.get(f"/api/metrics/history/{sid}", headers=headers).status_code,
        "alerts": client.get(f"/api/alerts/{sid}", headers=headers).status_code,
    }


ALLOWED = {"detail": 200, "current": 200, "history": 200, "alerts": 200}
REFUSED = {"detail": 403, "current": 403, "history": 403, "alerts": 403}


@pytest.mark.parametrize("dashboard_token", ["", "dash"])
def test_a_server_link_reads_that_server_only(app, client, fleet, dashboard_token):
    with_settings(app, api={"dashboard_token": dashboard_token})
    web, other = fleet["web-01"], fleet["db-01"]
    token = share(client, server_id=web, expires_in="1h")["token"]
    headers = bearer(token)
    assert reads(client, token, web) == ALLOWED
    assert reads(client, token, other) == REFUSED
    assert reads(client, token, 4242) == REFUSED  # unknown ids are not told apart
    assert [s["id"] for s in client.get("/api/servers", headers=headers).json] == [web]
    assert {a["server_id"] for a in client.get("/api/alerts", headers=headers).json} == {web}
    fleet_history = client.get(
        f"/api/metrics/fleet-history?ids={web},{other}", headers=headers
    ).json
    assert [f["server_id"] for f in fleet_history] == [web]
    for path in (f"/api/servers/{web}/alert-rules", "/api/stats", "/api/silences"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
    assert client.get("/api/admin", headers=headers).status_code == 403
    patched = client.patch(f"/api/servers/{web}", json={"name": "x"}, headers=headers)
    assert patched.status_code == 403


def test_a_tag_link_reads_the_servers_with_that_tag(client, fleet):
    token = share(client, tag="web", expires_in="1h")["token"]
    listed = client.get("/api/servers", headers=bearer(token)).json
    assert [s["id"] for s in listed] == [fleet["web-01"], fleet["web-02"]]
    assert reads(client, token, fleet["web-02"]) == ALLOWED
    assert reads(client, token, fleet["db-01"]) == REFUSED


def test_an_expired_or_unknown_link_reads_nothing(client, db, fleet):
    made = share(client, server_id=fleet["web-01"], expires_in="1h")
    db.execute("UPDATE shares SET created_at = now() - interval '2 hours',"
               " expires_at = now() - interval '1 second'")  # fmt: skip
    for token in (made["token"], "vgs_not-a-link"):
        response = client.get("/api/servers", headers=bearer(token))
        assert response.status_code == 403
        assert response.json["error"] == "invalid_token"
    assert client.get("/api/shares", headers=bearer(ADMIN)).json == []


# --- sockets -------------------------------------------------------------------


@pytest.fixture(scope="module")
def relay_url(direct_database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("relay") / "relay.log"
    with running_relay(direct_database_url, FAST, log=log) as url:
        yield url


def refused(relay_url: str, token: str) -> dict:
    """What the relay answers a client connecting with this token."""
    client = socketio.Client(reconnection=False)
    errors = []
    client.on("connect_error", lambda data=None: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(relay_url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
    client.disconnect()
    [error] = errors
    return error


@pytest.mark.slow
def test_a_link_joins_only_its_servers_rooms_and_its_own_overview(api, client, fleet, connect):
    web, other = fleet["web-01"], fleet["db-01"]
    token = share(client, tag="web", expires_in="1h")["token"]
    socket = connect(auth={"token": token})
    assert socket.call("join-server", {"serverId": web})["ok"]
    denied = socket.call("join-server", {"serverId": other})
    assert (denied["ok"], denied["error"]) == (False, "forbidden")
    overview = socket.call("join-all")
    assert overview == {"ok": True, "server_ids": sorted([fleet["web-01"], fleet["web-02"]])}
    # The overview's events reach it for its servers only.
    tag(client, other, "db")
    tag(client, web, "web", "front")
    [update] = socket.wait_for("server-update", lambda d: d["event"] == "updated")
    assert (update["server_id"], update["tags"]) == (web, ["web", "front"])
    # Announced in commit order: the other server's change, made first, would be here.
    assert socket.wait_for("server-status", lambda d: "tags" in d)[0]["server_id"] == web
    assert not socket.of("server-status", lambda d: d["server_id"] == other)
    assert not socket.of("server-update", lambda d: d["server_id"] == other)


@pytest.mark.slow
def test_a_revoked_link_is_refused_and_its_sockets_disconnected_at_once(
    api, client, fleet, connect, relay_url
):
    made = share(client, server_id=fleet["web-01"], expires_in="1h")
    socket = connect(auth={"token": made["token"]})
    socket.join(fleet["web-01"])
    assert socket.sio.connected
    assert client.delete(f"/api/shares/{made['id']}", headers=bearer(ADMIN)).status_code == 204
    wait_until(lambda: not socket.sio.connected, timeout=30, what="the socket disconnected")
    assert refused(relay_url, made["token"]) == {
        "message": "this share link is not valid (revoked or expired)",
        "data": {"error": "invalid_token", "status": 403},
    }
    assert refused(relay_url, "vgs_not-a-link")["data"]["status"] == 403


@pytest.mark.slow
def test_an_expiring_link_disconnects_its_sockets_when_it_expires(api, client, db, fleet, connect):
    made = share(client, server_id=fleet["web-01"], expires_in="1h")
    socket = connect(auth={"token": made["token"]})
    socket.join(fleet["web-01"])
    # Expiry moved to a moment from now: the relay disconnects the socket then
    # (it read the expiry when the socket connected, and checks it again).
    db.execute("UPDATE shares SET expires_at = now() + interval '1 second'")
    wait_until(lambda: not socket.sio.connected, timeout=30, what="the socket disconnected")


@pytest.mark.slow
def test_a_removed_servers_room_gets_a_final_event(api, client, connect):
    sid, _ = api.register("web-01")
    other, _ = api.register("web-02")
    watcher = connect()
    watcher.join(sid)
    overview = connect()
    assert overview.call("join-all")["ok"]
    assert client.delete(f"/api/servers/{sid}", headers=bearer(ADMIN)).status_code == 204
    assert watcher.wait_for("server-removed") == [{"server_id": sid}]
    assert overview.wait_for("server-removed") == [{"server_id": sid}]
    # Joining it again: it does not exist any more.
    assert watcher.call("join-server", {"serverId": sid})["error"] == "not_found"
    assert watcher.call("join-server", {"serverId": other})["ok"]


@pytest.mark.slow
def test_a_rename_reaches_the_servers_room_and_the_overview(api, client, connect):
    sid, _ = api.register("web-01")
    watcher = connect()
    watcher.join(sid)
    overview = connect()
    overview.call("join-all")
    response = client.patch(
        f"/api/servers/{sid}", json={"name": "front-1", "tags": ["web"]}, headers=bearer(ADMIN)
    )
    assert response.status_code == 200
    for socket in (watcher, overview):
        [status] = socket.wait_for("server-status", lambda d: d.get("name") == "front-1")
        assert (status["server_id"], status["tags"], status["is_active"]) == (sid, ["web"], False)
    [update] = overview.wait_for("server-update", lambda d: d["event"] == "updated")
    assert update == {"server_id": sid, "event": "updated", "name": "front-1", "tags": ["web"]}
