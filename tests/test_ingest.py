"""POST /api/metrics and /api/metrics/batch: what is stored, what is refused."""

from datetime import UTC, datetime, timedelta

import pytest

from .conftest import bearer, with_settings
from .helpers import METRIC_FIELDS, iso, sample


def count(db, server_id=None):
    if server_id is None:
        return db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"]
    return db.execute(
        "SELECT count(*) AS n FROM metrics WHERE server_id = %s", [server_id]
    ).fetchone()["n"]


def test_valid_sample_is_stored_as_sent(api, db):
    sid, token = api.register()
    at = "2026-01-02T03:04:05.678Z"
    response = api.post_sample(sid, token, recorded_at=at)
    assert response.status_code == 201
    assert response.json["recorded_at"] == at
    assert response.json["duplicate"] is False
    row = db.execute("SELECT * FROM metrics WHERE id = %s", [response.json["id"]]).fetchone()
    assert row["server_id"] == sid
    assert row["recorded_at"] == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    for field, value in sample().items():
        if field != "recorded_at":
            assert row[field] == pytest.approx(value, rel=1e-6), field


def test_sample_without_recorded_at_gets_the_server_time(api, db):
    sid, token = api.register()
    body = sample()
    del body["recorded_at"]
    before = datetime.now(UTC)
    response = api.client.post(
        "/api/metrics", json={"server_id": sid, **body}, headers=bearer(token)
    )
    assert response.status_code == 201
    stored = datetime.fromisoformat(response.json["recorded_at"])
    assert before <= stored <= datetime.now(UTC)


def test_ingest_marks_the_server_seen_and_active(api, db):
    sid, token = api.register()
    assert db.execute("SELECT is_active FROM servers").fetchone()["is_active"] is False
    api.post_sample(sid, token)
    row = db.execute("SELECT is_active, last_seen FROM servers").fetchone()
    assert row["is_active"] is True
    assert row["last_seen"] is not None


def test_a_retried_sample_is_stored_once_and_answers_success(api, db):
    sid, token = api.register()
    first = api.post_sample(sid, token, recorded_at="2026-01-02T03:04:05Z")
    retry = api.post_sample(sid, token, recorded_at="2026-01-02T03:04:05Z", cpu_percent=99)
    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json == {**first.json, "duplicate": True}
    assert count(db) == 1
    assert db.execute("SELECT cpu_percent FROM metrics").fetchone()["cpu_percent"] == 45.2


def test_another_servers_token_is_refused(api, db):
    a, _ = api.register("a")
    _, token_b = api.register("b")
    response = api.post_sample(a, token_b)
    assert response.status_code == 403
    assert response.json["error"] == "invalid_token"
    assert count(db) == 0


def test_a_replaced_token_no_longer_works(api, db):
    sid, old = api.register("a")
    api.register("a")
    assert api.post_sample(sid, old).status_code == 403


def test_missing_token_is_401(api, client, db):
    sid, _ = api.register()
    response = client.post("/api/metrics", json={"server_id": sid, **sample()})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_server_is_refused_like_a_wrong_token(api, db):
    _, token = api.register()
    response = api.post_sample(4242, token)
    assert response.status_code == 403
    assert response.json["message"] == "this token is not the ingest token of server 4242"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("cpu_percent", 100.5, "less than or equal to 100"),
        ("cpu_percent", -1, "greater than or equal to 0"),
        ("ram_percent", "67", "valid number"),
        ("disk_percent", None, "valid number"),
        ("ram_used_mb", -5, "greater than or equal to 0"),
        ("disk_total_gb", True, "valid number"),
        ("network_sent_mb", "NaN", "valid number"),
        ("network_recv_mb", 1e300, "less than or equal to"),
        ("ram_total_mb", 2**70, "less than or equal to"),
        ("server_id", 2**70, "less than or equal to"),
        ("recorded_at", "yesterday", "datetime"),
        ("recorded_at", "2026-01-02T03:04:05", "timezone"),
        ("server_id", "1", "valid integer"),
        ("colour", "red", "not a known field"),
    ],
)
def test_each_kind_of_bad_field_is_named_and_nothing_is_stored(api, db, field, value, reason):
    sid, token = api.register()
    body = {"server_id": sid, **sample(), field: value}
    response = api.client.post("/api/metrics", json=body, headers=bearer(token))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    [detail] = response.json["details"]
    assert detail["field"] == field
    assert reason in detail["reason"]
    assert count(db) == 0


def test_missing_fields_are_each_named(api, db):
    sid, token = api.register()
    response = api.client.post("/api/metrics", json={"server_id": sid}, headers=bearer(token))
    assert response.status_code == 400
    fields = {d["field"] for d in response.json["details"]}
    assert fields == set(METRIC_FIELDS)


def test_body_that_is_not_json_is_400(api, db):
    _, token = api.register()
    for data in (b"{not json", b"", b"[1, 2]"):
        response = api.client.post(
            "/api/metrics", data=data, headers=bearer(token), content_type="application/json"
        )
        assert response.status_code == 400, data
        assert response.json["error"] == "invalid_request"


def test_a_sample_from_the_future_is_refused(api, db):
    sid, token = api.register()
    future = iso(datetime.now(UTC) + timedelta(hours=1))
    response = api.post_sample(sid, token, recorded_at=future)
    assert response.status_code == 400
    [detail] = response.json["details"]
    assert detail["field"] == "recorded_at"
    assert "future" in detail["reason"]
    # A little clock skew is tolerated.
    near = iso(datetime.now(UTC) + timedelta(seconds=30))
    assert api.post_sample(sid, token, recorded_at=near).status_code == 201


def test_an_oversized_body_is_413_json(api, db):
    sid, token = api.register()
    body = {"server_id": sid, **sample(), "padding": "x" * (2 * 1024 * 1024)}
    response = api.client.post("/api/metrics", json=body, headers=bearer(token))
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large"
    assert count(db) == 0


def test_batch_stores_every_sample_in_one_request(api, db):
    sid, token = api.register()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    samples = [
        sample(recorded_at=iso(start + timedelta(seconds=5 * i)), cpu_percent=i) for i in range(50)
    ]
    response = api.post_batch(sid, token, samples)
    assert response.status_code == 201
    assert response.json == {"accepted": 50, "inserted": 50, "duplicates": 0}
    rows = db.execute("SELECT cpu_percent FROM metrics ORDER BY recorded_at").fetchall()
    assert [r["cpu_percent"] for r in rows] == list(range(50))


def test_a_batch_retried_in_part_stores_only_what_is_new(api, db):
    sid, token = api.register()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    samples = [sample(recorded_at=iso(start + timedelta(seconds=5 * i))) for i in range(10)]
    api.post_batch(sid, token, samples[:6])
    response = api.post_batch(sid, token, samples)
    assert response.json == {"accepted": 10, "inserted": 4, "duplicates": 6}
    assert api.post_batch(sid, token, samples).status_code == 200
    assert count(db) == 10


def test_a_batch_with_one_bad_sample_stores_nothing_and_names_it(api, db):
    sid, token = api.register()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    samples = [sample(recorded_at=iso(start + timedelta(seconds=5 * i))) for i in range(10)]
    samples[7]["cpu_percent"] = 250
    response = api.post_batch(sid, token, samples)
    assert response.status_code == 400
    assert response.json["details"] == [
        {"field": "samples[7].cpu_percent", "reason": "Input should be less than or equal to 100"}
    ]
    assert count(db) == 0


def test_batch_samples_need_their_recorded_at(api, db):
    sid, token = api.register()
    body = sample()
    del body["recorded_at"]
    response = api.post_batch(sid, token, [body])
    assert response.json["details"] == [
        {"field": "samples[0].recorded_at", "reason": "is required"}
    ]


def test_a_batch_over_the_limit_is_refused(app, api, db):
    with_settings(app, api={"max_batch": 5})
    sid, token = api.register()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    samples = [sample(recorded_at=iso(start + timedelta(seconds=i))) for i in range(6)]
    response = api.post_batch(sid, token, samples)
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "samples"
    assert "at most 5" in response.json["details"][0]["reason"]
    assert count(db) == 0


def test_an_empty_batch_is_refused(api, db):
    sid, token = api.register()
    response = api.post_batch(sid, token, [])
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "samples"
