"""Dashboard token, database outage, unknown routes: always a JSON answer."""

import pytest

from functions.factory import create_app
from vigie.settings import ApiSettings, DatabaseSettings, Settings

from .conftest import bearer, with_settings

READS = [
    "/api/servers",
    "/api/servers/{sid}",
    "/api/metrics/current/{sid}",
    "/api/metrics/history/{sid}",
]


@pytest.fixture
def locked(app):
    with_settings(app, api={"dashboard_token": "dash-secret"})
    return app


@pytest.mark.parametrize("path", READS)
def test_reads_need_the_dashboard_token_when_it_is_set(locked, api, client, path):
    sid, token = api.register()
    api.post_sample(sid, token)
    url = path.format(sid=sid)
    assert client.get(url).status_code == 401
    wrong = client.get(url, headers=bearer("nope"))
    assert wrong.status_code == 403
    assert wrong.json["error"] == "invalid_token"
    assert client.get(url, headers=bearer("dash-secret")).status_code == 200


@pytest.mark.parametrize("path", READS)
def test_reads_are_open_when_no_dashboard_token_is_set(api, client, path):
    sid, token = api.register()
    api.post_sample(sid, token)
    assert client.get(path.format(sid=sid)).status_code == 200


def test_the_dashboard_token_does_not_let_anyone_write(locked, api, client):
    sid, _ = api.register()
    response = api.post_sample(sid, "dash-secret")
    assert response.status_code == 403


def test_an_unreachable_database_gives_503_json_and_the_sample_is_not_lost(openapi):
    # Port 1 on localhost: nothing listens, the connection is refused.
    settings = Settings(
        database=DatabaseSettings(
            url="postgresql://vigie@127.0.0.1:1/vigie", mode="pool", connect_timeout=1
        ),
        api=ApiSettings(enroll_token="e"),
    )
    app = create_app(settings)
    client = app.test_client()
    try:
        response = client.post(
            "/api/metrics", json={"server_id": 1, **_sample()}, headers=bearer("vgi_x")
        )
        assert response.status_code == 503
        assert response.json["error"] == "database_unavailable"
        assert response.headers["Retry-After"] == "5"
        assert client.get("/api/servers").status_code == 503
        assert client.get("/api/health").status_code == 503
    finally:
        app.extensions["vigie_db"].close()


def test_single_connection_mode_recovers_after_the_database_comes_back(direct_database_url, db):
    """The function-host mode reuses one connection; a dead one is replaced."""
    settings = Settings(
        database=DatabaseSettings(url=direct_database_url, mode="single"),
        api=ApiSettings(enroll_token="e"),
    )
    app = create_app(settings)
    client = app.test_client()
    assert client.get("/api/servers").status_code == 200
    conn = app.extensions["vigie_db"]._conn
    db.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
    # The request that meets the dead connection fails cleanly, the next reconnects.
    first = client.get("/api/servers")
    assert first.status_code in (200, 503)
    assert client.get("/api/servers").status_code == 200
    app.extensions["vigie_db"].close()


def test_unknown_route_and_wrong_method_are_json(client):
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json == {"error": "not_found", "message": "no such endpoint"}
    wrong = client.delete("/api/servers")
    assert wrong.status_code == 405
    assert wrong.json["error"] == "method_not_allowed"


def _sample():
    from .helpers import sample

    return sample()
