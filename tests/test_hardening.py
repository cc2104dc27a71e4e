"""Hostile and odd requests: each class of input is refused at the edge with a 4xx
naming its field (or answered), never a 5xx, and the dashboard keeps working after it."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ADMIN, ENROLL, bearer
from .helpers import free_port, gunicorn_api, iso, sample

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fields(response) -> set[str]:
    return {d["field"] for d in response.json.get("details") or []}


def still_answers(client, sid: int | None = None) -> None:
    """What every dashboard user reads first still answers."""
    assert client.get("/api/servers").status_code == 200
    if sid is not None:
        assert client.get(f"/api/servers/{sid}").status_code == 200
        assert client.get(f"/api/metrics/current/{sid}").status_code in (200, 404)


# --- 1. times the database stores but its clients cannot read back ----------------

UNREADABLE_TIMES = [
    "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:30:00-05:00",  # after 9999 in UTC
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",  # a host whose clock was never set
    "1999-12-31T23:59:59.999999Z",
]


@pytest.mark.parametrize("when", UNREADABLE_TIMES)
@pytest.mark.parametrize("endpoint", ["single", "batch"])
def test_a_sample_time_outside_what_can_be_read_is_refused(api, client, db, when, endpoint):
    sid, token = api.register()
    if endpoint == "single":
        response = api.post_sample(sid, token, recorded_at=when)
        field = "recorded_at"
    else:
        response = api.post_batch(sid, token, [sample(), sample(recorded_at=when)])
        field = "samples[1].recorded_at"
    assert response.status_code == 400, response.json
    assert fields(response) == {field}
    reason = response.json["details"][0]["reason"]
    assert "check the clock of the sending host" in reason
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 0
    still_answers(client, sid)


def test_the_earliest_sample_time_is_stored(api, client, db):
    sid, token = api.register()
    response = api.post_sample(sid, token, recorded_at="2000-01-01T01:00:00+01:00")
    assert response.status_code == 201, response.json
    assert response.json["recorded_at"] == "2000-01-01T00:00:00Z"
    still_answers(client, sid)


def test_a_stored_value_that_cannot_be_read_is_a_logged_500_not_a_400(api, client, db, caplog):
    """Written before validation refused such times (or by hand): the reader's
    failure is not the caller's fault."""
    sid, _ = api.register()
    db.execute(
        "UPDATE servers SET latest_at = '0001-01-01T00:30:00+01:00', latest_sent = 0,"
        " latest_recv = 0, latest_cpu = 1, latest_ram = 1, latest_disk = 1 WHERE id = %s",
        [sid],
    )
    with caplog.at_level(logging.ERROR, logger="vigie.functions"):
        response = client.get("/api/servers")
    assert response.status_code == 500
    assert response.json == {"error": "internal_error", "message": "an unexpected error occurred"}
    assert any("could not give back stored data" in r.getMessage() for r in caplog.records)
    db.execute("UPDATE servers SET latest_at = NULL WHERE id = %s", [sid])
    still_answers(client, sid)


# --- 2. history over the whole range of times the parser accepts ------------------

offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
any_time = st.one_of(
    st.datetimes(timezones=offsets),
    st.datetimes(),  # no offset: UTC
    st.sampled_from(
        [
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(1, 1, 1, 0, 59, 59, tzinfo=timezone(timedelta(hours=1))),
            datetime.max.replace(tzinfo=UTC),
            datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
            datetime(2000, 1, 1, tzinfo=UTC),
        ]
    ),
)


@pytest.fixture
def server_with_samples(api):
    sid, token = api.register()
    now = datetime.now(UTC)
    batch = [sample(recorded_at=iso(now - timedelta(minutes=m))) for m in range(0, 120, 7)]
    assert api.post_batch(sid, token, batch).status_code == 201
    return sid


@SETTINGS
@given(
    start=st.none() | any_time,
    end=st.none() | any_time,
    interval=st.sampled_from([None, "1m", "5m", "15m", "1h"]),
)
def test_history_answers_any_range_the_parser_accepts(
    client, server_with_samples, start, end, interval
):
    query = {}
    if start is not None:
        query["from"] = start.isoformat()
    if end is not None:
        query["to"] = end.isoformat()
    if interval is not None:
        query["interval"] = interval
    response = client.get(f"/api/metrics/history/{server_with_samples}", query_string=query)
    assert response.status_code in (200, 400), response.json
    if response.status_code == 400:
        assert fields(response) <= {"from", "to", "interval"}
        assert fields(response)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:59:59+01:00"),
        ("0001-01-01T00:00:00+01:00", None),
        (None, "0001-01-01T00:30:00"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        ("9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59.999999-05:00"),
        ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_history_at_the_edges_of_time_is_an_answer(client, server_with_samples, start, end):
    query = {k: v for k, v in {"from": start, "to": end}.items() if v is not None}
    response = client.get(f"/api/metrics/history/{server_with_samples}", query_string=query)
    assert response.status_code == 200, response.json
    if end is not None and end.startswith("0001"):
        assert response.json == []
    if start and start.startswith("0001") and end and end.startswith("9999"):
        assert sum(point["samples"] for point in response.json) == 18
    still_answers(client, server_with_samples)


# --- 3. a default that breaks a constraint -----------------------------------------


@pytest.mark.parametrize("length", [101, 180, 255])
def test_a_long_hostname_without_a_name_is_named_by_its_start(api, client, db, length):
    hostname = "h" + "-node" * 60
    hostname = hostname[:length]
    response = client.post(
        "/api/servers/register", json={"hostname": hostname}, headers=bearer(ENROLL)
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == hostname[:100]
    assert response.json["hostname"] == hostname
    still_answers(client, response.json["id"])


def test_a_name_cut_from_a_hostname_does_not_end_in_a_space(client, db):
    hostname = "a" * 99 + " b"
    response = client.post(
        "/api/servers/register", json={"hostname": hostname}, headers=bearer(ENROLL)
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == "a" * 99


# --- 4. values a column cannot hold: named by validation, not by the database ------


@pytest.mark.parametrize("value", [1e-50, 5e-324, 0.0, 0.09, -1.0, 3600.5])
def test_an_interval_a_real_column_cannot_hold_sensibly_is_refused(client, db, value):
    response = client.post(
        "/api/servers/register",
        json={"hostname": "web-01", "interval_seconds": value},
        headers=bearer(ENROLL),
    )
    assert response.status_code == 400
    assert fields(response) == {"interval_seconds"}
    still_answers(client)


@pytest.mark.parametrize("field", ["name", "hostname", "machine_id", "ip_address", "os_type"])
def test_a_nul_character_in_a_body_string_is_refused_with_its_field(client, db, field):
    body = {"hostname": "web-01", field: "web\x0001"}
    response = client.post("/api/servers/register", json=body, headers=bearer(ENROLL))
    assert response.status_code == 400
    assert fields(response) == {field}
    assert "NUL" in response.json["details"][0]["reason"]
    still_answers(client)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/metrics/history/{sid}", "from"),
        ("/api/metrics/history/{sid}", "to"),
        ("/api/metrics/history/{sid}", "interval"),
        ("/api/alerts/{sid}", "state"),
        ("/api/alerts/{sid}", "limit"),
        ("/api/alerts", "state"),
        ("/api/alerts", "limit"),
    ],
)
@pytest.mark.parametrize("value", ["1\x00", "", "  "])
def test_a_nul_or_empty_query_parameter_is_refused_with_its_name(api, client, path, name, value):
    sid, _ = api.register()
    response = client.get(path.format(sid=sid) + f"?{name}={quote(value)}")
    assert response.status_code == 400, response.json
    assert fields(response) == {name}
    still_answers(client, sid)


@pytest.mark.parametrize(
    "path",
    [
        "/api/servers/1%00",
        "/api/servers/%00",
        "/api/metrics/current/1%00",
        "/api/metrics/history/%001",
        "/api/alerts/1%00",
        "/api/servers/1%00/alert-rules",
    ],
)
def test_a_nul_in_a_path_is_no_such_endpoint(api, client, path):
    api.register()
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    still_answers(client)


# --- 5. the body limit, whatever the framing (a real server, chunked requests) -----

LIMIT = 64 * 1024


@pytest.fixture
def served(database_url, db, tmp_path):
    port = free_port()
    env = {"VIGIE_ENROLL_TOKEN": ENROLL, "VIGIE_MAX_BODY_BYTES": str(LIMIT)}
    with gunicorn_api(database_url, port, env, log=tmp_path / "api.log"):
        base = f"http://127.0.0.1:{port}"
        registered = requests.post(
            base + "/api/servers/register", json={"hostname": "web-01"}, headers=bearer(ENROLL)
        )
        assert registered.status_code == 201, registered.text
        yield port, registered.json()


def send_chunked(port: int, path: str, token: str, chunks) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        # The server may answer before the whole body is sent, and close.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_chunked_body_over_the_limit_is_413(served):
    port, server = served
    ten_mib = (b"x" * 65536 for _ in range(160))
    status, body = send_chunked(port, "/api/metrics", server["ingest_token"], ten_mib)
    assert status == 413
    assert body["error"] == "payload_too_large"


def test_valid_json_up_to_the_limit_then_more_is_413_not_cut(served):
    port, server = served
    valid = json.dumps({"server_id": server["id"], **sample()}).encode()
    padded = valid + b" " * (LIMIT - len(valid))
    status, body = send_chunked(
        port, "/api/metrics", server["ingest_token"], iter([padded, b"garbage"])
    )
    assert status == 413, body
    # Exactly at the limit, the same body is stored.
    status, body = send_chunked(port, "/api/metrics", server["ingest_token"], iter([padded]))
    assert status == 201, body
    servers = requests.get(f"http://127.0.0.1:{port}/api/servers", timeout=10)
    assert servers.status_code == 200
    assert servers.json()[0]["latest"] is not None


def test_a_body_over_the_limit_with_its_length_is_413(served):
    port, server = served
    response = requests.post(
        f"http://127.0.0.1:{port}/api/metrics/batch",
        data=b"[" + b" " * LIMIT + b"]",
        headers={**bearer(server["ingest_token"]), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


# --- 6. ingest does not tell which server ids exist --------------------------------


@pytest.mark.parametrize("endpoint", ["single", "batch"])
def test_an_unknown_id_and_a_wrong_token_get_the_same_answer(api, client, db, endpoint):
    sid, _ = api.register()
    other, other_token = api.register("db-01")
    unknown = other + 1000
    answers = []
    for server_id in (sid, unknown):
        if endpoint == "single":
            response = api.post_sample(server_id, other_token)
        else:
            response = api.post_batch(server_id, other_token, [sample()])
        body = response.json
        answers.append(
            (response.status_code, body["error"], body["message"].replace(str(server_id), "N"))
        )
    assert (
        answers[0]
        == answers[1]
        == (
            403,
            "invalid_token",
            "this token is not the ingest token of server N",
        )
    )
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 0
    still_answers(client, sid)


# --- 9. framing and types --------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_a_body_not_sent_as_json_is_415_naming_the_header(api, client, db, content_type):
    sid, token = api.register()
    headers = bearer(token)
    if content_type:
        headers["Content-Type"] = content_type
    data = json.dumps({"server_id": sid, **sample()})
    response = client.post("/api/metrics", data=data, headers=headers)
    assert response.status_code == 415
    assert response.json["error"] == "unsupported_media_type"
    assert fields(response) == {"Content-Type"}
    register = client.post(
        "/api/servers/register", data='{"hostname": "x"}', headers={**bearer(ENROLL)}
    )
    assert register.status_code == 415
    rules = client.put(f"/api/servers/{sid}/alert-rules", data="{}", headers=bearer(ADMIN))
    assert rules.status_code == 415
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 0
    still_answers(client, sid)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.vigie.sample+json"]
)
def test_json_media_types_are_taken(api, client, db, content_type):
    sid, token = api.register()
    response = client.post(
        "/api/metrics",
        data=json.dumps({"server_id": sid, **sample()}),
        headers={**bearer(token), "Content-Type": content_type},
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(
    "path", ["/api/servers", "/api/servers/1", "/api/metrics", "/api/metrics/history/1"]
)
def test_options_is_an_empty_204_with_allow_never_html(app, path):
    # OPTIONS is no documented operation: a plain client, not the checked one.
    response = FlaskClient(app).options(path)
    assert response.status_code == 204
    assert response.data == b""
    assert "html" not in response.headers.get("Content-Type", "")
    assert "GET" in response.headers["Allow"] or "POST" in response.headers["Allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/servers/{digits}",
        "/api/metrics/current/{digits}",
        "/api/metrics/history/{digits}",
        "/api/alerts/{digits}",
        "/api/servers/{digits}/alert-rules",
    ],
)
@pytest.mark.parametrize("digits", ["١", "١٢", "１", "1١"])
def test_an_id_in_other_digits_than_ascii_is_no_such_endpoint(api, client, path, digits):
    sid, _ = api.register()
    assert sid == 1
    response = client.get(path.format(digits=quote(digits)))
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    still_answers(client, sid)


def test_integral_floats_are_integers_as_the_document_says(api, client, db):
    sid, token = api.register()
    single = client.post(
        "/api/metrics", json={"server_id": float(sid), **sample()}, headers=bearer(token)
    )
    assert single.status_code == 201, single.json
    batch = api.post_batch(float(sid), token, [sample(recorded_at=iso(datetime.now(UTC)))])
    assert batch.status_code in (200, 201), batch.json
    rules = client.put(
        f"/api/servers/{sid}/alert-rules",
        json={"cpu": {"for_samples": 4.0}},
        headers=bearer(ADMIN),
    )
    assert rules.status_code == 200, rules.json
    assert rules.json["cpu"]["for_samples"] == 4
    for value, field in ((1.5, "server_id"), (True, "server_id"), ("1", "server_id")):
        response = client.post(
            "/api/metrics", json={"server_id": value, **sample()}, headers=bearer(token)
        )
        assert response.status_code == 400
        assert fields(response) == {field}
    fraction = client.put(
        f"/api/servers/{sid}/alert-rules",
        json={"cpu": {"for_samples": 2.5}},
        headers=bearer(ADMIN),
    )
    assert fraction.status_code == 400
    assert fields(fraction) == {"cpu.for_samples"}
    still_answers(client, sid)


@pytest.mark.parametrize("value", ["+5", "1_0", "5.0", "٥", " "])
def test_limit_is_ascii_digits(api, client, value):
    response = client.get("/api/alerts", query_string={"limit": value})
    if value == "+5":
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert fields(response) == {"limit"}
