"""Alerts fire and resolve in the write path: for-count, hysteresis, batches, order,
the offline alert, and the one NOTIFY each transition sends."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import psycopg
import pytest

from .conftest import ADMIN, bearer, with_settings
from .helpers import iso, minutes_ago, sample

BASE = minutes_ago(60)


def at(i: int) -> datetime:
    return BASE + timedelta(seconds=5 * i)


@pytest.fixture
def listener(direct_database_url):
    with psycopg.connect(direct_database_url, autocommit=True) as conn:
        conn.execute("LISTEN vigie_events")
        yield conn


def alert_events(conn, wait: float = 0.3) -> list[dict]:
    events = [json.loads(n.payload) for n in conn.notifies(timeout=wait)]
    return [e for e in events if e["kind"] == "alert"]


def post_cpu(api, sid, token, values, start=0, **fields):
    """One single-sample request per value, 5 s apart from sample `start` on."""
    for i, value in enumerate(values, start):
        response = api.post_sample(sid, token, recorded_at=iso(at(i)), cpu_percent=value, **fields)
        assert response.status_code == 201, response.json


def alerts(db, sid=None):
    where = "" if sid is None else f"WHERE server_id = {int(sid)}"
    return db.execute(f"SELECT * FROM alerts {where} ORDER BY id").fetchall()  # noqa: S608


def test_a_single_spike_does_not_fire(api, db, listener):
    sid, token = api.register()
    post_cpu(api, sid, token, [50, 99, 50, 99, 99, 50, 100, 40])
    assert alerts(db) == []
    assert alert_events(listener) == []


def test_three_consecutive_samples_fire_exactly_once(api, db, listener, client):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99])
    assert alerts(db) == []
    post_cpu(api, sid, token, [99], start=2)
    [alert] = alerts(db)
    assert alert["type"] == "cpu"
    assert alert["threshold"] == 90
    assert alert["value"] == 99
    assert alert["started_at"] == at(2)
    assert alert["resolved_at"] is None
    [event] = alert_events(listener)
    assert event["state"] == "firing"
    assert event["server_id"] == sid
    assert event["type"] == "cpu"
    assert event["value"] == 99
    assert event["threshold"] == 90
    assert datetime.fromisoformat(event["started_at"]) == at(2)

    post_cpu(api, sid, token, [99, 97, 100, 99], start=3)
    assert len(alerts(db)) == 1
    assert alert_events(listener) == []
    [listed] = client.get(f"/api/alerts/{sid}").json
    assert listed["state"] == "firing"
    assert listed["peak"] == 100
    assert listed["value"] == 99


def test_the_threshold_itself_counts_as_over(api, db):
    sid, token = api.register()
    post_cpu(api, sid, token, [90, 90, 90])
    assert len(alerts(db)) == 1


def test_hovering_between_clear_level_and_threshold_neither_resolves_nor_refires(api, db, listener):
    sid, token = api.register()
    post_cpu(api, sid, token, [95, 95, 95])
    assert [e["state"] for e in alert_events(listener)] == ["firing"]
    # Clear level 85: everything in [85, 90) and above keeps the alert as it is.
    post_cpu(api, sid, token, [89, 86, 85, 91, 92, 88, 85.5, 89.9, 85], start=3)
    [alert] = alerts(db)
    assert alert["resolved_at"] is None
    assert alert["peak"] == 95
    assert alert_events(listener) == []


def test_dropping_below_the_clear_level_resolves_once(api, db, listener, client):
    sid, token = api.register()
    post_cpu(api, sid, token, [95, 97, 96, 99])
    alert_events(listener)
    post_cpu(api, sid, token, [84.9], start=4)
    [alert] = alerts(db)
    assert alert["resolved_at"] == at(4)
    assert alert["resolved_value"] == pytest.approx(84.9)
    assert alert["peak"] == 99
    [event] = alert_events(listener)
    assert event["state"] == "resolved"
    assert event["id"] == alert["id"]
    assert event["resolved_value"] == pytest.approx(84.9)
    assert event["peak"] == 99
    post_cpu(api, sid, token, [50, 20, 84, 89], start=5)
    assert alert_events(listener) == []
    [listed] = client.get(f"/api/alerts/{sid}").json
    assert listed["state"] == "resolved"
    assert client.get(f"/api/alerts/{sid}?state=active").json == []
    assert client.get("/api/alerts").json == []


def test_after_resolving_it_takes_a_full_count_again_to_fire(api, db):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99, 99, 50, 99, 99])
    assert len(alerts(db)) == 1
    post_cpu(api, sid, token, [99], start=6)
    assert len(alerts(db)) == 2
    assert alerts(db)[1]["started_at"] == at(6)


def test_each_metric_has_its_own_alert(api, db, listener):
    sid, token = api.register()
    for i in range(3):
        api.post_sample(
            sid, token, recorded_at=iso(at(i)), cpu_percent=95, ram_percent=96, disk_percent=10
        )
    assert sorted(a["type"] for a in alerts(db)) == ["cpu", "ram"]
    api.post_sample(sid, token, recorded_at=iso(at(3)), cpu_percent=95, ram_percent=20)
    events = alert_events(listener)
    assert [(e["type"], e["state"]) for e in events] == [
        ("cpu", "firing"), ("ram", "firing"), ("ram", "resolved"),
    ]  # fmt: skip


def test_per_server_override_beats_the_default(api, db, client):
    strict, strict_token = api.register("strict")
    relaxed, relaxed_token = api.register("relaxed")
    response = client.put(
        f"/api/servers/{strict}/alert-rules",
        json={"cpu": {"threshold": 70, "for_samples": 2}},
        headers=bearer(ADMIN),
    )
    assert response.status_code == 200, response.json
    post_cpu(api, strict, strict_token, [75, 75])
    post_cpu(api, relaxed, relaxed_token, [75, 75, 75, 75])
    [alert] = alerts(db)
    assert alert["server_id"] == strict
    assert alert["threshold"] == 70
    assert alert["started_at"] == at(1)
    # Its clear level is 70 - 5 (the default margin): 66 holds, 64 resolves.
    post_cpu(api, strict, strict_token, [66], start=2)
    assert alerts(db)[0]["resolved_at"] is None
    post_cpu(api, strict, strict_token, [64], start=3)
    assert alerts(db)[0]["resolved_at"] == at(3)


def test_configured_defaults_apply_to_every_server(app, api, db):
    with_settings(app, alerts={"cpu": 60, "for_samples": 2, "clear_margin": 10})
    sid, token = api.register()
    post_cpu(api, sid, token, [65, 65])
    [alert] = alerts(db)
    assert alert["threshold"] == 60
    post_cpu(api, sid, token, [51], start=2)
    assert alerts(db)[0]["resolved_at"] is None
    post_cpu(api, sid, token, [49], start=3)
    assert alerts(db)[0]["resolved_at"] == at(3)


def test_batch_ingest_fires_and_resolves_on_the_right_samples(api, db, listener):
    sid, token = api.register()
    values = [50, 95, 50, 95, 95, 95, 96, 99, 88, 40, 50]
    samples = [sample(recorded_at=iso(at(i)), cpu_percent=v) for i, v in enumerate(values)]
    samples.reverse()  # the order in the body does not matter, recorded_at does
    response = api.post_batch(sid, token, samples)
    assert response.status_code == 201
    [alert] = alerts(db)
    assert alert["started_at"] == at(5)
    assert alert["value"] == 95
    assert alert["peak"] == 99
    assert alert["resolved_at"] == at(9)
    assert alert["resolved_value"] == 40
    events = alert_events(listener)
    assert [e["state"] for e in events] == ["firing", "resolved"]
    assert events[0]["peak"] == 95  # the event says what was known when it fired


def test_a_batch_continues_the_count_of_single_samples(api, db):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99])
    api.post_batch(sid, token, [sample(recorded_at=iso(at(i)), cpu_percent=99) for i in (2, 3)])
    [alert] = alerts(db)
    assert alert["started_at"] == at(2)


def test_a_retried_sample_is_not_counted_twice(api, db):
    sid, token = api.register()
    for _ in range(3):
        api.post_sample(sid, token, recorded_at=iso(at(0)), cpu_percent=99)
    api.post_batch(sid, token, [sample(recorded_at=iso(at(0)), cpu_percent=99)])
    assert alerts(db) == []
    post_cpu(api, sid, token, [99, 99], start=1)
    assert alerts(db)[0]["started_at"] == at(2)


def test_a_straggler_older_than_what_was_evaluated_changes_nothing(api, db, listener):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99], start=10)
    # Sent late, older than the two above: stored, but not part of their sequence.
    post_cpu(api, sid, token, [99, 99], start=5)
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 4
    assert alerts(db) == []
    post_cpu(api, sid, token, [99], start=12)
    [alert] = alerts(db)
    assert alert["started_at"] == at(12)
    # An old low value does not resolve it either.
    post_cpu(api, sid, token, [10], start=9)
    assert alerts(db)[0]["resolved_at"] is None


def test_in_a_batch_only_the_samples_newer_than_what_was_stored_count(api, db):
    sid, token = api.register()
    post_cpu(api, sid, token, [99], start=10)
    # 8 and 9 arrived late; 11 and 12 continue the count from 10.
    batch = [sample(recorded_at=iso(at(i)), cpu_percent=99) for i in (8, 9, 11)]
    api.post_batch(sid, token, batch)
    assert alerts(db) == []
    post_cpu(api, sid, token, [99], start=12)
    assert alerts(db)[0]["started_at"] == at(12)


def test_a_drained_backlog_is_evaluated_in_order_with_the_samples_times(api, db, listener):
    """A collector that could not reach the API sends its backlog, oldest first: what
    happened meanwhile is recorded when it happened, and announced when learnt."""
    sid, token = api.register()
    post_cpu(api, sid, token, [40])
    for start, values in ((1, [40, 97, 98]), (4, [99, 99, 60, 40])):
        batch = [
            sample(recorded_at=iso(at(start + i)), cpu_percent=v) for i, v in enumerate(values)
        ]
        assert api.post_batch(sid, token, batch).status_code == 201
    [alert] = alerts(db)
    assert alert["started_at"] == at(4)
    assert alert["resolved_at"] == at(6)
    assert alert["peak"] == 99
    assert [e["state"] for e in alert_events(listener)] == ["firing", "resolved"]


def test_offline_is_an_alert_and_metric_alerts_stay_while_offline(api, db, listener, client):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99, 99])
    alert_events(listener)
    # What the relay's offline sweep does.
    db.execute("UPDATE servers SET is_active = false WHERE id = %s", [sid])
    [event] = alert_events(listener)
    assert event["type"] == "offline"
    assert event["state"] == "firing"
    assert event["threshold"] is None
    active = client.get(f"/api/alerts/{sid}?state=active").json
    assert sorted(a["type"] for a in active) == ["cpu", "offline"]
    # Marking it inactive again (a second relay, late) announces nothing more.
    db.execute("UPDATE servers SET is_active = false WHERE id = %s", [sid])
    assert alert_events(listener) == []

    post_cpu(api, sid, token, [99], start=3)
    [event] = alert_events(listener)
    assert (event["type"], event["state"]) == ("offline", "resolved")
    active = client.get(f"/api/alerts/{sid}?state=active").json
    assert [a["type"] for a in active] == ["cpu"]
    [offline] = client.get(f"/api/alerts/{sid}?state=resolved").json
    assert offline["type"] == "offline"
    assert offline["resolved_at"] is not None


def test_offline_alert_can_be_turned_off_per_server(api, db, listener, client):
    sid, token = api.register()
    api.post_sample(sid, token)
    client.put(
        f"/api/servers/{sid}/alert-rules", json={"offline": {"enabled": False}},
        headers=bearer(ADMIN),
    )  # fmt: skip
    db.execute("UPDATE servers SET is_active = false WHERE id = %s", [sid])
    assert alerts(db) == []
    assert alert_events(listener) == []


def test_disabling_a_rule_resolves_its_alert_at_once(api, db, listener, client):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99, 99])
    alert_events(listener)
    response = client.put(
        f"/api/servers/{sid}/alert-rules", json={"cpu": {"enabled": False}}, headers=bearer(ADMIN)
    )
    assert response.status_code == 200
    [event] = alert_events(listener)
    assert event["state"] == "resolved"
    assert event["resolved_value"] is None
    post_cpu(api, sid, token, [99, 99, 99, 99], start=3)
    assert alert_events(listener) == []
    assert alerts(db)[0]["resolved_at"] is not None


def test_changing_the_rules_restarts_the_count(api, db, client):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99])
    client.put(f"/api/servers/{sid}/alert-rules", json={"cpu": {"threshold": 95}},
               headers=bearer(ADMIN))  # fmt: skip
    post_cpu(api, sid, token, [99], start=2)
    assert alerts(db) == []
    post_cpu(api, sid, token, [99, 99], start=3)
    assert len(alerts(db)) == 1


def test_a_failed_request_leaves_no_alert_behind(api, db, listener):
    sid, token = api.register()
    post_cpu(api, sid, token, [99, 99])
    bad = [sample(recorded_at=iso(at(2)), cpu_percent=99), sample(recorded_at=iso(at(3)))]
    bad[1]["ram_percent"] = 101
    assert api.post_batch(sid, token, bad).status_code == 400
    assert alerts(db) == []
    assert alert_events(listener) == []
    assert db.execute("SELECT count(*) AS n FROM alert_notifications").fetchone()["n"] == 0


def test_every_transition_writes_one_webhook_notification(api, db):
    sid, token = api.register("web-01")
    post_cpu(api, sid, token, [99, 99, 99, 50])
    rows = db.execute(
        "SELECT state, status, payload FROM alert_notifications ORDER BY id"
    ).fetchall()
    assert [(r["state"], r["status"]) for r in rows] == [("firing", "pending"),
                                                         ("resolved", "pending")]  # fmt: skip
    assert rows[0]["payload"]["server_name"] == "web-01"
    assert rows[1]["payload"]["resolved_value"] == 50


def test_samples_written_without_the_api_use_the_built_in_defaults(api, db):
    """Plain SQL (no configuration at hand) still evaluates, with 90 / 3 / 5."""
    sid, _ = api.register()
    samples = [sample(recorded_at=iso(at(i)), cpu_percent=90) for i in range(3)]
    db.execute("SELECT * FROM vigie_ingest(%s, %s)", [sid, json.dumps(samples)])
    assert len(alerts(db)) == 1
