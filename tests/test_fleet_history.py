"""GET /api/metrics/fleet-history: many servers' trends in one request, the same
buckets as the history endpoint's. Every response is checked against the
OpenAPI document (conftest's client)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .conftest import bearer, with_settings
from .helpers import iso, roll_up, sample

POINT_KEYS = {"recorded_at", "cpu_percent", "ram_percent", "disk_percent"}


def fleet(client, **params):
    return client.get("/api/metrics/fleet-history", query_string=params)


def refused(response, field: str) -> str:
    assert response.status_code == 400, response.json
    [detail] = response.json["details"]
    assert detail["field"] == field, response.json
    return detail["reason"]


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@pytest.fixture
def two_servers(api):
    """Two servers with samples every 20 s over the last 20 minutes, and one in
    the current minute; a third with none."""
    now = datetime.now(UTC).replace(microsecond=0)
    made = []
    for n, name in enumerate(("web-a", "web-b")):
        sid, token = api.register(name)
        samples = [
            sample(
                recorded_at=iso(now - timedelta(seconds=20 * i)),
                cpu_percent=(i * 7 + n * 13) % 100,
                ram_percent=(i * 3 + 40) % 100 + 0.25,
                disk_percent=50 + n + i / 10,
            )
            for i in range(60)
        ]
        assert api.post_batch(sid, token, samples).status_code == 201
        made.append(sid)
    quiet, _ = api.register("web-quiet")
    return now, made, quiet


def test_each_server_gets_the_history_endpoints_minute_buckets(client, two_servers):
    now, (a, b), quiet = two_servers
    # A partial minute at the start (raw samples), whole ones (minute rollups),
    # and the current one (raw again).
    start, end = floor_minute(now) - timedelta(minutes=15, seconds=-30), now
    response = fleet(client, ids=f"{b},{a},{quiet},99999", **{"from": iso(start), "to": iso(end)})
    assert response.status_code == 200, response.json
    body = response.json
    # Known servers in id order (the unknown one left out), the quiet one empty.
    assert [s["server_id"] for s in body] == sorted([a, b, quiet])
    by_id = {s["server_id"]: s["points"] for s in body}
    assert by_id[quiet] == []
    for sid in (a, b):
        history = client.get(
            f"/api/metrics/history/{sid}",
            query_string={"from": iso(start), "to": iso(end), "interval": "1m"},
        ).json
        assert len(history) == 16
        expected = [{k: p[k] for k in POINT_KEYS} for p in history]
        assert by_id[sid] == expected
        assert all(set(p) == POINT_KEYS for p in by_id[sid])
    # The current minute is there: the samples stored in it so far.
    assert by_id[a][-1]["recorded_at"] == iso(floor_minute(now))


def test_defaults_are_the_last_30_minutes_in_minutes(client, two_servers):
    now, (a, _), _ = two_servers
    response = fleet(client, ids=str(a))
    assert response.status_code == 200
    [series] = response.json
    times = [datetime.fromisoformat(p["recorded_at"]) for p in series["points"]]
    assert times == sorted(times)
    # 20 minutes of samples, every one of them inside the default range.
    assert len(times) in (20, 21)
    assert all(b - a == timedelta(minutes=1) for a, b in zip(times, times[1:], strict=False))
    assert times[-1] == floor_minute(now) or times[-1] == floor_minute(datetime.now(UTC))


def test_five_minute_buckets_match_the_history_endpoint(client, two_servers):
    now, (a, _), _ = two_servers
    start, end = now - timedelta(hours=2), now
    got = fleet(client, ids=str(a), interval="5m", **{"from": iso(start), "to": iso(end)}).json
    history = client.get(
        f"/api/metrics/history/{a}",
        query_string={"from": iso(start), "to": iso(end), "interval": "5m"},
    ).json
    assert got[0]["points"] == [{k: p[k] for k in POINT_KEYS} for p in history]


def test_up_to_500_ids_in_one_request_and_no_more(client, two_servers):
    _, (a, b), _ = two_servers
    ids = [a, b, *range(1000, 1498)]
    assert len(ids) == 500
    response = fleet(client, ids=",".join(map(str, ids)))
    assert response.status_code == 200
    assert {s["server_id"] for s in response.json} == {a, b}
    # A repeated id counts once.
    assert fleet(client, ids=",".join(map(str, [*ids, a]))).status_code == 200
    reason = refused(fleet(client, ids=",".join(map(str, [*ids, 2000]))), "ids")
    assert "500" in reason


@pytest.mark.parametrize(
    "ids",
    ["", " ", "a", "1,,2", "1,", ",1", "1;2", "-1", "0", "1.5", "1 2", "١٢", "9" * 21, "1,x"],
)
def test_a_malformed_id_list_is_refused_naming_ids(client, ids):
    refused(fleet(client, ids=ids), "ids")


def test_ids_are_required(client):
    refused(client.get("/api/metrics/fleet-history"), "ids")


def test_an_id_no_server_can_have_is_simply_absent(client, two_servers):
    _, (a, _), _ = two_servers
    response = fleet(client, ids=f"{a},{2**31},{10**19}")
    assert response.status_code == 200
    assert [s["server_id"] for s in response.json] == [a]
    assert fleet(client, ids=str(2**40)).json == []


@pytest.mark.parametrize("interval", ["", "15m", "1h", "1M", "60", "x"])
def test_an_interval_other_than_1m_or_5m_is_refused(client, interval):
    refused(fleet(client, ids="1", interval=interval), "interval")


def test_times_are_checked_and_the_range_is_bounded(client, two_servers):
    now, (a, _), _ = two_servers
    refused(fleet(client, ids=str(a), **{"from": "yesterday"}), "from")
    refused(fleet(client, ids=str(a), to=""), "to")
    refused(fleet(client, ids=str(a), **{"from": iso(now), "to": iso(now - timedelta(1))}), "from")
    six_hours = {"from": iso(now - timedelta(hours=6)), "to": iso(now)}
    assert fleet(client, ids=str(a), **six_hours).status_code == 200
    longer = {"from": iso(now - timedelta(hours=6, seconds=1)), "to": iso(now)}
    assert "6 h" in refused(fleet(client, ids=str(a), **longer), "from")
    day = {"from": iso(now - timedelta(hours=24)), "to": iso(now)}
    assert fleet(client, ids=str(a), interval="5m", **day).status_code == 200
    day["from"] = iso(now - timedelta(hours=24, seconds=1))
    refused(fleet(client, ids=str(a), interval="5m", **day), "from")
    # Far past or future: nothing stored there, still an answer.
    old = {"from": "0001-01-01T00:00:00Z", "to": "0001-01-01T01:00:00Z"}
    assert fleet(client, ids=str(a), **old).json == [{"server_id": a, "points": []}]
    future = {"from": "9999-12-31T20:00:00Z", "to": "9999-12-31T23:59:59Z"}
    assert fleet(client, ids=str(a), **future).json == [{"server_id": a, "points": []}]


def test_the_dashboard_token_is_needed_when_it_is_set(app, client, two_servers):
    _, (a, _), _ = two_servers
    with_settings(app, api={"dashboard_token": "dash"})
    assert fleet(client, ids=str(a)).status_code == 401
    wrong = client.get("/api/metrics/fleet-history?ids=1", headers=bearer("nope"))
    assert wrong.status_code == 403
    ok = client.get(f"/api/metrics/fleet-history?ids={a}", headers=bearer("dash"))
    assert ok.status_code == 200 and ok.json[0]["server_id"] == a


@pytest.mark.parametrize("interval", ["1m", "5m"])
def test_the_trends_are_the_same_before_and_after_the_roll_up(client, db, two_servers, interval):
    now, (a, b), _ = two_servers
    params = {"ids": f"{a},{b}", "from": iso(now - timedelta(minutes=25)), "to": iso(now),
              "interval": interval}  # fmt: skip
    before = fleet(client, **params).json
    assert roll_up(db) == 2
    assert fleet(client, **params).json == before
    assert all(s["points"] for s in before)
