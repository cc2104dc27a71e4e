"""Silences: the API (admin writes, dashboard reads, bad input), the server JSON
showing the silence covering it, and the sender holding notifications: a silenced
server's alerts are recorded and listed, sent when the silence ends if still
firing, never if they fired and resolved inside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from realtime.webhooks import WebhookSettings, drain_once, seconds_until_due

from .conftest import ADMIN, bearer, with_settings
from .helpers import iso, minutes_ago
from .webhook_receiver import Receiver

BASE = minutes_ago(60)


def at(i: int):
    return BASE + timedelta(seconds=5 * i)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def outbox(database_url):
    with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as conn:
        yield conn


def silence(client, **body):
    response = client.post("/api/silences", json=body, headers=bearer(ADMIN))
    assert response.status_code == 201, response.json
    return response.json


def post(api, sid, token, start, values):
    for i, cpu in enumerate(values, start=start):
        response = api.post_sample(sid, token, recorded_at=iso(at(i)), cpu_percent=cpu)
        assert response.status_code == 201


# --- the API -------------------------------------------------------------------


def test_a_silence_for_a_duration_is_created_listed_shown_and_ended(api, client):
    sid, _ = api.register("web-01")
    other, _ = api.register("web-02")
    before = datetime.now(UTC)
    made = silence(client, server_id=sid, duration="2h", reason="kernel upgrade")
    assert made["server_id"] == sid and made["tag"] is None
    assert made["reason"] == "kernel upgrade"
    starts = datetime.fromisoformat(made["starts_at"])
    ends = datetime.fromisoformat(made["ends_at"])
    assert ends - starts == timedelta(hours=2)
    assert before - timedelta(seconds=5) <= starts <= datetime.now(UTC)

    assert client.get("/api/silences").json == [made]
    shown = client.get(f"/api/servers/{sid}").json["silence"]
    assert shown == {"id": made["id"], "ends_at": made["ends_at"], "reason": "kernel upgrade",
                     "tag": None}  # fmt: skip
    listed = {s["id"]: s["silence"] for s in client.get("/api/servers").json}
    assert listed[sid]["id"] == made["id"] and listed[other] is None

    assert client.delete(f"/api/silences/{made['id']}", headers=bearer(ADMIN)).status_code == 204
    assert client.get("/api/silences").json == []
    assert client.get(f"/api/servers/{sid}").json["silence"] is None
    # Ended is ended.
    assert client.delete(f"/api/silences/{made['id']}", headers=bearer(ADMIN)).status_code == 404


def test_a_silence_until_a_time_covers_every_server_with_its_tag(api, client):
    web, _ = api.register("web-01")
    other, _ = api.register("db-01")
    client.patch(f"/api/servers/{web}", json={"tags": ["web"]}, headers=bearer(ADMIN))
    until = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    made = silence(client, tag="web", until=iso(until), reason="deploy")
    assert (made["server_id"], made["tag"]) == (None, "web")
    assert datetime.fromisoformat(made["ends_at"]) == until
    assert client.get(f"/api/servers/{web}").json["silence"]["tag"] == "web"
    assert client.get(f"/api/servers/{other}").json["silence"] is None


def test_the_list_and_each_server_show_the_same_silence_the_one_that_ends_last(api, client):
    own, _ = api.register("web-01")  # its own silence, and its tag's, which ends later
    two_tags, _ = api.register("web-02")  # two tags silenced
    by_id, _ = api.register("db-01")  # only its own
    quiet, _ = api.register("db-02")  # a tag no silence names
    for sid, tags in ((own, ["web"]), (two_tags, ["web", "edge"]), (by_id, ["db"]),
                      (quiet, ["db"])):  # fmt: skip
        client.patch(f"/api/servers/{sid}", json={"tags": tags}, headers=bearer(ADMIN))
    short = silence(client, server_id=own, duration="1h", reason="own")
    web = silence(client, tag="web", duration="3h", reason="web")
    edge = silence(client, tag="edge", duration="5h", reason="edge")
    db_own = silence(client, server_id=by_id, duration="2h", reason="db-01")
    expected = {own: web["id"], two_tags: edge["id"], by_id: db_own["id"], quiet: None}
    assert short["id"] not in expected.values()
    listed = {s["id"]: s["silence"] for s in client.get("/api/servers").json}
    for sid, silence_id in expected.items():
        one = client.get(f"/api/servers/{sid}").json["silence"]
        assert listed[sid] == one
        assert (one and one["id"]) == silence_id
    only_web = {s["id"] for s in client.get("/api/servers?tag=web").json}
    assert only_web == {own, two_tags}


def test_reading_silences_needs_the_dashboard_token_when_set(app, client):
    with_settings(app, api={"dashboard_token": "dash"})
    assert client.get("/api/silences").status_code == 401
    assert client.get("/api/silences", headers=bearer("wrong")).status_code == 403
    assert client.get("/api/silences", headers=bearer("dash")).status_code == 200
    assert client.get("/api/silences", headers=bearer(ADMIN)).status_code == 200


BAD = [
    ({"duration": "1h", "reason": "x"}, "server_id"),
    ({"server_id": "{sid}", "tag": "web", "duration": "1h", "reason": "x"}, "tag"),
    ({"server_id": "{sid}", "reason": "x"}, "duration"),
    (
        {"server_id": "{sid}", "duration": "1h", "until": "2999-01-01T00:00:00Z", "reason": "x"},
        "until",
    ),
    ({"server_id": "{sid}", "duration": "soon", "reason": "x"}, "duration"),
    ({"server_id": "{sid}", "duration": "0s", "reason": "x"}, "duration"),
    ({"server_id": "{sid}", "duration": "forever", "reason": "x"}, "duration"),
    ({"server_id": "{sid}", "duration": "11y", "reason": "x"}, "duration"),
    ({"server_id": "{sid}", "until": "2001-01-01T00:00:00Z", "reason": "x"}, "until"),
    ({"server_id": "{sid}", "until": "tomorrow", "reason": "x"}, "until"),
    ({"server_id": "{sid}", "until": "2999-01-01T00:00:00", "reason": "x"}, "until"),
    ({"server_id": "{sid}", "duration": "1h"}, "reason"),
    ({"server_id": "{sid}", "duration": "1h", "reason": ""}, "reason"),
    ({"server_id": "{sid}", "duration": "1h", "reason": "   "}, "reason"),
    ({"server_id": "{sid}", "duration": "1h", "reason": "x" * 501}, "reason"),
    ({"server_id": 4242, "duration": "1h", "reason": "x"}, "server_id"),
    ({"server_id": "1", "duration": "1h", "reason": "x"}, "server_id"),
    ({"tag": "Web", "duration": "1h", "reason": "x"}, "tag"),
    ({"server_id": "{sid}", "duration": "1h", "reason": "x", "extra": 1}, "extra"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
def test_a_bad_silence_is_refused_naming_its_field(api, client, db, body, field):
    sid, _ = api.register("web-01")
    body = {k: (sid if v == "{sid}" else v) for k, v in body.items()}
    response = client.post("/api/silences", json=body, headers=bearer(ADMIN))
    assert response.status_code == 400, response.json
    assert field in [d["field"] for d in response.json["details"]], response.json
    assert db.execute("SELECT count(*) AS n FROM silences").fetchone()["n"] == 0


def test_ending_an_unknown_silence_is_404(client):
    assert client.delete("/api/silences/77", headers=bearer(ADMIN)).status_code == 404
    huge = client.delete("/api/silences/99999999999999999999", headers=bearer(ADMIN))
    assert huge.status_code == 404


# --- notifications held --------------------------------------------------------


def sent(receiver):
    return [(b["server_id"], b["type"], b["state"]) for b in receiver.bodies]


def test_a_silenced_server_fires_alerts_but_nothing_is_sent_until_the_silence_ends(
    api, client, db, outbox, receiver
):
    sid, token = api.register("web-01")
    loud, loud_token = api.register("web-02")
    made = silence(client, server_id=sid, duration="1h", reason="maintenance")
    settings = WebhookSettings(url=f"{receiver.base}/hook", format="json")

    post(api, sid, token, 0, (99, 99, 99))
    post(api, loud, loud_token, 0, (99, 99, 99))
    drain_once(outbox, settings)
    # Recorded and listed as usual; only the other server's alert was sent.
    [active] = client.get(f"/api/alerts/{sid}").json
    assert (active["type"], active["state"]) == ("cpu", "firing")
    assert sent(receiver) == [(loud, "cpu", "firing")]
    # The sender waits for the silence's end, not in a loop meanwhile.
    due = seconds_until_due(outbox)
    assert due is not None and due > 3000

    assert client.delete(f"/api/silences/{made['id']}", headers=bearer(ADMIN)).status_code == 204
    drain_once(outbox, settings)
    assert sent(receiver) == [(loud, "cpu", "firing"), (sid, "cpu", "firing")]
    post(api, sid, token, 3, (40,))
    drain_once(outbox, settings)
    assert sent(receiver)[-1] == (sid, "cpu", "resolved")
    assert len(receiver.bodies) == 3


def test_an_alert_that_fired_and_resolved_inside_a_silence_is_never_sent(
    api, client, db, outbox, receiver
):
    sid, token = api.register("web-01")
    client.patch(f"/api/servers/{sid}", json={"tags": ["web"]}, headers=bearer(ADMIN))
    made = silence(client, tag="web", duration="1h", reason="load test")
    settings = WebhookSettings(url=f"{receiver.base}/hook", format="json")
    post(api, sid, token, 0, (99, 99, 99, 40))
    assert [a["state"] for a in client.get(f"/api/alerts/{sid}").json] == ["resolved"]
    drain_once(outbox, settings)
    assert client.delete(f"/api/silences/{made['id']}", headers=bearer(ADMIN)).status_code == 204
    drain_once(outbox, settings)
    assert receiver.bodies == []
    rows = db.execute("SELECT state, status FROM alert_notifications ORDER BY id").fetchall()
    assert [tuple(r.values()) for r in rows] == [("firing", "skipped"), ("resolved", "skipped")]


def test_a_resolution_inside_a_silence_of_an_alert_sent_before_it_is_sent_when_it_ends(
    api, client, db, outbox, receiver
):
    sid, token = api.register("web-01")
    settings = WebhookSettings(url=f"{receiver.base}/hook", format="json")
    post(api, sid, token, 0, (99, 99, 99))
    drain_once(outbox, settings)
    assert sent(receiver) == [(sid, "cpu", "firing")]
    silence(client, server_id=sid, duration="1h", reason="maintenance")
    post(api, sid, token, 3, (40,))
    drain_once(outbox, settings)
    assert len(receiver.bodies) == 1
    # The silence runs out (its time passes).
    db.execute("UPDATE silences SET starts_at = starts_at - interval '1 hour', "
               "ends_at = now() - interval '1 second'")  # fmt: skip
    drain_once(outbox, settings)
    assert sent(receiver) == [(sid, "cpu", "firing"), (sid, "cpu", "resolved")]


def test_a_silence_of_another_server_or_tag_holds_nothing(api, client, outbox, receiver):
    sid, token = api.register("web-01")
    other, _ = api.register("web-02")
    silence(client, server_id=other, duration="1h", reason="x")
    silence(client, tag="db", duration="1h", reason="x")
    post(api, sid, token, 0, (99, 99, 99))
    drain_once(outbox, WebhookSettings(url=receiver.base, format="json"))
    assert sent(receiver) == [(sid, "cpu", "firing")]
