"""Alerts on the wide sample: load per core, swap, each filesystem and its inodes,
each sensor; with the top processes of the moment they fired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from realtime.webhooks import message

from .conftest import ADMIN, bearer
from .helpers import iso, sample, wide_fields

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def wide(step: int, top: bool = True, **changes) -> dict:
    body = sample(**wide_fields(step, top))
    body["recorded_at"] = iso(T0 + timedelta(seconds=5 * step))
    body.update(changes)
    return body


def full(body: dict, mounts: dict[str, float]) -> dict:
    for fs in body["filesystems"]:
        if fs["mount"] in mounts:
            fs["percent"] = mounts[fs["mount"]]
    return body


def alerts(client, sid) -> list[dict]:
    response = client.get(f"/api/alerts/{sid}")
    assert response.status_code == 200
    return response.json


def test_a_full_filesystem_fires_once_per_mount_with_the_top_processes(api, client, db):
    sid, token = api.register()
    # /home and /srv over 90 % for five samples; the top processes on the first only.
    bodies = [full(wide(k, top=k == 0), {"/home": 95.0, "/srv": 97.5}) for k in range(5)]
    assert api.post_batch(sid, token, bodies[:2]).status_code == 201
    assert alerts(client, sid) == []
    for body in bodies[2:]:
        assert (
            api.client.post(
                "/api/metrics", json={"server_id": sid, **body}, headers=bearer(token)
            ).status_code
            == 201
        )
    fired = [a for a in alerts(client, sid) if a["type"] == "filesystem"]
    assert sorted(a["device"] for a in fired) == ["/home", "/srv"]
    for alert in fired:
        assert alert["state"] == "firing"
        assert alert["started_at"] == iso(T0 + timedelta(seconds=10))
        assert alert["threshold"] == 90
        top = alert["top_processes"]
        assert top["recorded_at"] == iso(T0)
        assert top["cpu"][0]["name"] == "worker0"
        assert top["memory"][0]["rss_mb"] == 2000.0
    # The outbox's message names the mount and the processes.
    payloads = db.execute(
        "SELECT payload FROM alert_notifications n JOIN alerts a ON a.id = n.alert_id"
        " WHERE a.server_id = %s AND a.type = 'filesystem' ORDER BY a.device",
        [sid],
    ).fetchall()
    assert [p["payload"]["device"] for p in payloads] == ["/home", "/srv"]
    text = message(payloads[0]["payload"])
    assert "Filesystem /home at 95.0%" in text
    assert "worker0 (100" in text and "db0 (200" in text
    # Still full: no second alert. /home back under the clear level resolves it only.
    more = full(wide(5), {"/home": 50.0, "/srv": 99.0})
    assert api.post_batch(sid, token, [more]).status_code == 201
    now = {a["device"]: a for a in alerts(client, sid) if a["type"] == "filesystem"}
    assert len(now) == 2
    assert now["/home"]["state"] == "resolved" and now["/home"]["resolved_value"] == 50.0
    assert now["/srv"]["state"] == "firing" and now["/srv"]["peak"] == 99.0


def test_the_top_processes_stay_with_the_alert_after_the_samples_go(api, client, db):
    sid, token = api.register()
    bodies = [full(wide(k, top=k == 0), {"/": 99.0}) for k in range(3)]
    assert api.post_batch(sid, token, bodies).status_code == 201
    db.execute("DELETE FROM metrics WHERE server_id = %s", [sid])
    (alert,) = [a for a in alerts(client, sid) if a["type"] == "filesystem"]
    assert alert["device"] == "/"
    assert alert["top_processes"]["cpu"][4]["name"] == "worker4"


def test_load_swap_inodes_and_temperature_fire_with_their_device(api, client):
    sid, token = api.register()
    bodies = []
    for k in range(3):
        body = wide(k, load_1=9.0, swap_percent=85.0)  # 9 / 4 CPUs = 2.25 per core
        body["filesystems"][1]["inodes_percent"] = 93.0
        body["temperatures"][2]["celsius"] = 91.0
        bodies.append(body)
    assert api.post_batch(sid, token, bodies).status_code == 201
    fired = {(a["type"], a["device"]): a for a in alerts(client, sid)}
    assert set(fired) == {
        ("load", None), ("swap", None), ("inodes", "/home"), ("temperature", "coretemp/Core 2"),
    }  # fmt: skip
    assert fired[("load", None)]["value"] == 2.25
    assert fired[("load", None)]["threshold"] == 2
    assert "Load per core at 2.25" in message({**fired[("load", None)], "server_name": "web"})
    assert "coretemp/Core 2 at 91.0 °C" in message(
        {**fired[("temperature", "coretemp/Core 2")], "server_name": "web"}
    )


def test_per_server_overrides_of_the_wide_rules(api, client):
    sid, token = api.register()
    response = client.put(
        f"/api/servers/{sid}/alert-rules",
        json={"filesystem": {"threshold": 50, "for_samples": 1}, "temperature": {"enabled": False},
              "load": {"threshold": 0.5}},
        headers=bearer(ADMIN),
    )  # fmt: skip
    assert response.status_code == 200, response.json
    rules = response.json
    assert rules["filesystem"]["threshold"] == 50 and rules["filesystem"]["for_samples"] == 1
    assert rules["temperature"]["enabled"] is False
    assert rules["load"]["threshold"] == 0.5 and rules["load"]["clear_level"] == 0.25
    assert rules["swap"]["threshold"] == 80
    body = wide(0, load_1=1.0)  # 0.25 per core: under 0.5
    body["temperatures"][0]["celsius"] = 120.0
    assert api.post_batch(sid, token, [body]).status_code == 201
    fired = sorted(a["device"] for a in alerts(client, sid) if a["type"] == "filesystem")
    # 60, 70 and 80 % are over 50 %, at once (one sample is enough here).
    assert fired == ["/home", "/srv", "/var"]
    assert not [a for a in alerts(client, sid) if a["type"] in ("temperature", "load")]


def test_a_wide_rule_override_is_validated(api, client):
    sid, _ = api.register()
    for body, field in (
        ({"temperature": {"threshold": 200}}, "temperature.threshold"),
        ({"load": {"threshold": 0}}, "load.threshold"),
        ({"filesystem": {"threshold": 10, "clear_margin": 20}}, "filesystem.clear_margin"),
        ({"inodes": {"for_samples": 0}}, "inodes.for_samples"),
    ):
        response = client.put(f"/api/servers/{sid}/alert-rules", json=body, headers=bearer(ADMIN))
        assert response.status_code == 400, body
        assert response.json["details"][0]["field"] == field
    # Nothing was kept of a refused change.
    assert client.get(f"/api/servers/{sid}/alert-rules").json["overrides"] == {}
