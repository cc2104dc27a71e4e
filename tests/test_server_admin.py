"""Operating servers: the admin sign-in check, rename and tag (PATCH), remove
(DELETE), the list filtered by tag; each with and without the admin token."""

from __future__ import annotations

import pytest

from .conftest import ADMIN, bearer, with_settings
from .helpers import iso, minutes_ago

WRONG = bearer("not-the-admin-token")


def fire(api, sid, token, values=(99, 99, 99)):
    for i, cpu in enumerate(values):
        at = iso(minutes_ago(10 - i / 10))
        assert api.post_sample(sid, token, recorded_at=at, cpu_percent=cpu).status_code == 201


# --- who may -------------------------------------------------------------------

ADMIN_CALLS = [
    ("get", "/api/admin", None),
    ("patch", "/api/servers/{sid}", {"name": "db-01"}),
    ("delete", "/api/servers/{sid}", None),
    ("post", "/api/silences", {"server_id": "{sid}", "duration": "1h", "reason": "upgrade"}),
    ("delete", "/api/silences/1", None),
    ("post", "/api/shares", {"server_id": "{sid}", "expires_in": "1h"}),
    ("get", "/api/shares", None),
    ("delete", "/api/shares/1", None),
]


def fill(value, sid):
    if isinstance(value, dict):
        return {k: fill(v, sid) for k, v in value.items()}
    if value == "{sid}":
        return sid
    return value.replace("{sid}", str(sid)) if isinstance(value, str) else value


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_every_change_needs_the_admin_token(api, client, db, method, path, body):
    sid, _ = api.register("web-01")
    call = getattr(client, method)
    kwargs = {"json": fill(body, sid)} if body is not None else {}
    missing = call(path.replace("{sid}", str(sid)), **kwargs)
    assert missing.status_code == 401, missing.json
    assert missing.json["error"] == "missing_token"
    wrong = call(path.replace("{sid}", str(sid)), headers=WRONG, **kwargs)
    assert wrong.status_code == 403, wrong.json
    assert wrong.json["error"] == "invalid_token"
    # Nothing was changed by either.
    row = db.execute("SELECT name, tags FROM servers WHERE id = %s", [sid]).fetchone()
    assert row == {"name": "web-01", "tags": []}
    assert db.execute("SELECT count(*) AS n FROM silences").fetchone()["n"] == 0
    assert db.execute("SELECT count(*) AS n FROM shares").fetchone()["n"] == 0


def test_with_no_admin_token_set_changes_are_off(app, api, client):
    sid, _ = api.register("web-01")
    with_settings(app, api={"admin_token": ""})
    for response in (
        client.get("/api/admin", headers=bearer(ADMIN)),
        client.patch(f"/api/servers/{sid}", json={"name": "x"}, headers=bearer(ADMIN)),
    ):
        assert response.status_code == 403
        assert response.json["error"] == "admin_disabled"
        assert "VIGIE_ADMIN_TOKEN" in response.json["message"]


def test_the_admin_sign_in_check_answers_204_to_the_admin_token(client):
    response = client.get("/api/admin", headers=bearer(ADMIN))
    assert response.status_code == 204
    assert response.data == b""


def test_the_dashboard_token_is_not_the_admin_token(app, client):
    with_settings(app, api={"dashboard_token": "dash"})
    assert client.get("/api/admin", headers=bearer("dash")).status_code == 403


# --- rename and tag ------------------------------------------------------------


def test_a_server_is_renamed_and_tagged(api, client, db):
    sid, _ = api.register("web-01")
    response = client.patch(
        f"/api/servers/{sid}", json={"name": " Web front ", "tags": ["web", "eu-west.1"]},
        headers=bearer(ADMIN),
    )  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["name"] == "Web front"
    assert response.json["tags"] == ["web", "eu-west.1"]
    assert response.json["silence"] is None
    assert client.get(f"/api/servers/{sid}").json["tags"] == ["web", "eu-west.1"]
    # A field left out is left as it is.
    response = client.patch(f"/api/servers/{sid}", json={"tags": []}, headers=bearer(ADMIN))
    assert (response.json["name"], response.json["tags"]) == ("Web front", [])
    response = client.patch(f"/api/servers/{sid}", json={}, headers=bearer(ADMIN))
    assert (response.json["name"], response.json["tags"]) == ("Web front", [])


def test_registering_again_keeps_the_tags(api, client):
    sid, _ = api.register("web-01")
    client.patch(f"/api/servers/{sid}", json={"tags": ["web"]}, headers=bearer(ADMIN))
    again, _ = api.register("web-01")
    assert again == sid
    assert client.get(f"/api/servers/{sid}").json["tags"] == ["web"]


BAD_UPDATES = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": 12}, "name"),
    ({"tags": "web"}, "tags"),
    ({"tags": ["Web"]}, "tags[0]"),
    ({"tags": ["ok", "has space"]}, "tags[1]"),
    ({"tags": [""]}, "tags[0]"),
    ({"tags": ["x" * 33]}, "tags[0]"),
    ({"tags": ["web", "web"]}, "tags"),
    ({"tags": [f"t{i}" for i in range(17)]}, "tags"),
    ({"tags": [1]}, "tags[0]"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("body", "field"), BAD_UPDATES)
def test_a_bad_update_is_refused_naming_its_field_and_changes_nothing(api, client, db, body, field):
    sid, _ = api.register("web-01")
    response = client.patch(f"/api/servers/{sid}", json=body, headers=bearer(ADMIN))
    assert response.status_code == 400, response.json
    assert field in [d["field"] for d in response.json["details"]], response.json
    row = db.execute("SELECT name, tags FROM servers WHERE id = %s", [sid]).fetchone()
    assert row == {"name": "web-01", "tags": []}


def test_an_unknown_server_is_404(client):
    response = client.patch("/api/servers/4242", json={"name": "x"}, headers=bearer(ADMIN))
    assert response.status_code == 404, response.json
    assert client.delete("/api/servers/4242", headers=bearer(ADMIN)).status_code == 404
    assert client.delete("/api/servers/99999999999", headers=bearer(ADMIN)).status_code == 404


def test_the_database_refuses_a_tag_the_api_would_refuse(api, db):
    import psycopg

    sid, _ = api.register("web-01")
    for tags in (["UP"], ["a,b"], ["a", None], [f"t{i}" for i in range(17)], ["x" * 33]):
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute("UPDATE servers SET tags = %s WHERE id = %s", [tags, sid])


# --- the list by tag -----------------------------------------------------------


def test_the_list_filters_by_tag(api, client):
    web, _ = api.register("web-01")
    db_server, _ = api.register("db-01")
    api.register("cache-01")
    client.patch(f"/api/servers/{web}", json={"tags": ["web", "prod"]}, headers=bearer(ADMIN))
    client.patch(f"/api/servers/{db_server}", json={"tags": ["prod"]}, headers=bearer(ADMIN))
    ids = lambda r: [s["id"] for s in r.json]  # noqa: E731
    assert ids(client.get("/api/servers?tag=web")) == [web]
    assert ids(client.get("/api/servers?tag=prod")) == [web, db_server]
    assert ids(client.get("/api/servers?tag=none")) == []
    assert len(client.get("/api/servers").json) == 3
    for bad in ("Web", "", "a b", "x" * 33):
        response = client.get("/api/servers", query_string={"tag": bad})
        assert response.status_code == 400, bad
        assert response.json["details"][0]["field"] == "tag"


# --- removal -------------------------------------------------------------------

SERVER_TABLES = [
    "metrics", "metrics_rollup", "alerts", "alert_rules", "alert_state",
    "server_status_changes", "metric_writes", "silences", "shares",
]  # fmt: skip


def rows_of(db, sid: int) -> dict[str, int]:
    counts = {
        table: db.execute(
            f"SELECT count(*) AS n FROM {table} WHERE server_id = %s", [sid]
        ).fetchone()["n"]
        for table in SERVER_TABLES
    }
    counts["alert_notifications"] = db.execute(
        "SELECT count(*) AS n FROM alert_notifications WHERE (payload ->> 'server_id')::int = %s",
        [sid],
    ).fetchone()["n"]
    counts["servers"] = db.execute(
        "SELECT count(*) AS n FROM servers WHERE id = %s", [sid]
    ).fetchone()["n"]
    return counts


def test_removing_a_server_removes_every_row_of_it_and_nothing_else(api, client, db):
    from .helpers import roll_up

    sid, token = api.register("web-01")
    other, other_token = api.register("web-02")
    for server, ingest in ((sid, token), (other, other_token)):
        fire(api, server, ingest)
        response = client.put(
            f"/api/servers/{server}/alert-rules", json={"ram": {"threshold": 95}},
            headers=bearer(ADMIN),
        )  # fmt: skip
        assert response.status_code == 200
        for body in ({"server_id": server, "duration": "1h", "reason": "upgrade"},):
            assert client.post("/api/silences", json=body, headers=bearer(ADMIN)).status_code == 201
        share = {"server_id": server, "expires_in": "1d"}
        assert client.post("/api/shares", json=share, headers=bearer(ADMIN)).status_code == 201
    db.execute("UPDATE servers SET is_active = false WHERE id = %s", [sid])  # a status change
    roll_up(db)
    before = rows_of(db, sid)
    assert all(before.values()), before  # every kind of row exists for it
    kept = rows_of(db, other)

    response = client.delete(f"/api/servers/{sid}", headers=bearer(ADMIN))
    assert response.status_code == 204
    assert response.data == b""
    assert set(rows_of(db, sid).values()) == {0}
    assert rows_of(db, other) == kept
    assert client.get(f"/api/servers/{sid}").status_code == 404
    assert [s["id"] for s in client.get("/api/servers").json] == [other]
    assert client.delete(f"/api/servers/{sid}", headers=bearer(ADMIN)).status_code == 404


def test_a_removed_servers_collector_is_refused_as_an_unknown_server(api, client):
    sid, token = api.register("web-01")
    assert client.delete(f"/api/servers/{sid}", headers=bearer(ADMIN)).status_code == 204
    response = api.post_sample(sid, token)
    assert response.status_code == 403
    assert response.json["error"] == "invalid_token"
    # Registering again with the enrollment token makes it a new server.
    again, new_token = api.register("web-01")
    assert again != sid
    assert api.post_sample(again, new_token).status_code == 201


def test_removing_a_server_is_announced_once_committed(api, client, db, direct_database_url):
    import psycopg

    sid, _ = api.register("web-01")
    with psycopg.connect(direct_database_url, autocommit=True) as listener:
        listener.execute("LISTEN vigie_events")
        assert client.delete(f"/api/servers/{sid}", headers=bearer(ADMIN)).status_code == 204
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    import json

    assert [json.loads(p) for p in payloads] == [
        {"kind": "server", "server_id": sid, "event": "removed"}
    ]
