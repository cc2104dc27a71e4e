"""GET/PUT /api/servers/:id/alert-rules and the alert lists: auth, validation, shapes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ADMIN, bearer, with_settings


def rules_url(sid: int) -> str:
    return f"/api/servers/{sid}/alert-rules"


def put(client, sid, body, token=ADMIN):
    return client.put(rules_url(sid), json=body, headers=bearer(token) if token else {})


def test_a_new_server_follows_the_defaults(api, client):
    sid, _ = api.register()
    response = client.get(rules_url(sid))
    assert response.status_code == 200
    assert response.json == {
        "server_id": sid,
        "cpu": {"threshold": 90, "for_samples": 3, "clear_margin": 5, "clear_level": 85,
                "enabled": True},
        "ram": {"threshold": 90, "for_samples": 3, "clear_margin": 5, "clear_level": 85,
                "enabled": True},
        "disk": {"threshold": 90, "for_samples": 3, "clear_margin": 5, "clear_level": 85,
                 "enabled": True},
        "offline": {"enabled": True},
        "load": {"threshold": 2, "for_samples": 3, "clear_margin": 0.25, "clear_level": 1.75,
                 "enabled": True},
        "swap": {"threshold": 80, "for_samples": 3, "clear_margin": 5, "clear_level": 75,
                 "enabled": True},
        "filesystem": {"threshold": 90, "for_samples": 3, "clear_margin": 5, "clear_level": 85,
                       "enabled": True},
        "inodes": {"threshold": 90, "for_samples": 3, "clear_margin": 5, "clear_level": 85,
                   "enabled": True},
        "temperature": {"threshold": 85, "for_samples": 3, "clear_margin": 5, "clear_level": 80,
                        "enabled": True},
        "overrides": {},
    }  # fmt: skip


def test_defaults_come_from_the_configuration(app, api, client):
    with_settings(app, alerts={"disk": 95, "for_samples": 5, "clear_margin": 2.5})
    sid, _ = api.register()
    rules = client.get(rules_url(sid)).json
    assert rules["disk"] == {"threshold": 95, "for_samples": 5, "clear_margin": 2.5,
                             "clear_level": 92.5, "enabled": True}  # fmt: skip
    assert rules["cpu"]["threshold"] == 90


def test_put_overrides_only_what_it_names_and_replaces_the_previous_overrides(api, client):
    sid, _ = api.register()
    response = put(client, sid, {"cpu": {"threshold": 80}, "disk": {"enabled": False}})
    assert response.status_code == 200, response.json
    assert response.json["cpu"] == {"threshold": 80, "for_samples": 3, "clear_margin": 5,
                                    "clear_level": 75, "enabled": True}  # fmt: skip
    assert response.json["disk"]["enabled"] is False
    assert response.json["overrides"] == {
        "cpu": {"threshold": 80, "enabled": True},
        "disk": {"enabled": False},
    }
    assert client.get(rules_url(sid)).json == response.json

    again = put(client, sid, {"ram": {"for_samples": 10, "clear_margin": 0}})
    assert again.json["cpu"]["threshold"] == 90
    assert again.json["disk"]["enabled"] is True
    assert again.json["ram"]["for_samples"] == 10
    assert again.json["ram"]["clear_level"] == 90
    assert put(client, sid, {}).json["overrides"] == {}


def test_rules_of_one_server_leave_the_others_alone(api, client):
    one, _ = api.register("one")
    two, _ = api.register("two")
    put(client, one, {"cpu": {"threshold": 50}})
    assert client.get(rules_url(two)).json["cpu"]["threshold"] == 90


def test_changing_rules_needs_the_admin_token(api, client):
    sid, _ = api.register()
    missing = put(client, sid, {"cpu": {"threshold": 80}}, token=None)
    assert missing.status_code == 401
    assert missing.json["error"] == "missing_token"
    wrong = put(client, sid, {"cpu": {"threshold": 80}}, token="nope")
    assert wrong.status_code == 403
    assert wrong.json["error"] == "invalid_token"
    enroll = put(client, sid, {"cpu": {"threshold": 80}}, token="test-enroll-token")
    assert enroll.status_code == 403
    assert client.get(rules_url(sid)).json["overrides"] == {}


def test_without_an_admin_token_configured_rules_cannot_change(app, api, client):
    with_settings(app, api={"admin_token": ""})
    sid, _ = api.register()
    response = put(client, sid, {"cpu": {"threshold": 80}}, token="anything")
    assert response.status_code == 403
    assert response.json["error"] == "admin_disabled"
    assert "VIGIE_ADMIN_TOKEN" in response.json["message"]


def test_reading_rules_takes_the_dashboard_or_the_admin_token_when_one_is_set(app, api, client):
    with_settings(app, api={"dashboard_token": "dash"})
    sid, _ = api.register()
    assert client.get(rules_url(sid)).status_code == 401
    assert client.get(rules_url(sid), headers=bearer("nope")).status_code == 403
    assert client.get(rules_url(sid), headers=bearer("dash")).status_code == 200
    assert client.get(rules_url(sid), headers=bearer(ADMIN)).status_code == 200
    # The dashboard token reads; it does not change anything.
    assert put(client, sid, {"cpu": {"threshold": 80}}, token="dash").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cpu": {"threshold": 0.5}}, "cpu.threshold"),
        ({"cpu": {"threshold": 100.5}}, "cpu.threshold"),
        ({"cpu": {"threshold": "90"}}, "cpu.threshold"),
        ({"ram": {"for_samples": 0}}, "ram.for_samples"),
        ({"ram": {"for_samples": 1001}}, "ram.for_samples"),
        ({"ram": {"for_samples": 2.5}}, "ram.for_samples"),
        ({"disk": {"clear_margin": -1}}, "disk.clear_margin"),
        ({"disk": {"clear_margin": 20, "threshold": 20}}, "disk.clear_margin"),
        ({"disk": {"threshold": 4}}, "disk.threshold"),  # under the default margin of 5
        ({"disk": {"enabled": "no"}}, "disk.enabled"),
        ({"gpu": {"threshold": 80}}, "gpu"),
        ({"cpu": {"limit": 80}}, "cpu.limit"),
        ({"offline": {"threshold": 80}}, "offline.threshold"),
        ({"cpu": 80}, "cpu"),
        ([], "body"),
    ],
)
def test_bad_rules_are_refused_naming_the_field_and_change_nothing(api, client, body, field):
    sid, _ = api.register()
    put(client, sid, {"cpu": {"threshold": 70}})
    response = put(client, sid, body)
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_request"
    assert [d["field"] for d in response.json["details"]] == [field]
    assert client.get(rules_url(sid)).json["overrides"] == {
        "cpu": {"threshold": 70, "enabled": True}
    }


def test_every_bad_field_is_named(api, client):
    sid, _ = api.register()
    response = put(client, sid, {"cpu": {"threshold": 500, "for_samples": 0}, "ram": {"x": 1}})
    assert response.status_code == 400
    assert sorted(d["field"] for d in response.json["details"]) == [
        "cpu.for_samples", "cpu.threshold", "ram.x",
    ]  # fmt: skip


def test_a_body_that_is_not_json_is_refused(api, client):
    sid, _ = api.register()
    response = client.put(
        rules_url(sid),
        data="{not json",
        headers={**bearer(ADMIN), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "body"


def test_rules_of_an_unknown_server_are_404(api, client):
    assert client.get(rules_url(999)).status_code == 404
    assert put(client, 999, {"cpu": {"threshold": 80}}).status_code == 404
    assert put(client, 2**40, {}).status_code == 404


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    threshold=st.one_of(st.none(), st.floats(min_value=-50, max_value=150, allow_nan=False)),
    for_samples=st.one_of(st.none(), st.integers(-5, 1500)),
    margin=st.one_of(st.none(), st.floats(min_value=-10, max_value=120, allow_nan=False)),
)
def test_any_rule_is_either_stored_as_given_or_refused(api, client, threshold, for_samples, margin):
    sid, _ = api.register("prop")
    rule = {
        k: v
        for k, v in (("threshold", threshold), ("for_samples", for_samples),
                     ("clear_margin", margin))
        if v is not None
    }  # fmt: skip
    response = put(client, sid, {"cpu": rule})
    t = 90 if threshold is None else threshold
    m = 5 if margin is None else margin
    # Values are kept to 4 decimals; the clear level is compared after that.
    valid = (
        1 <= t <= 100
        and (for_samples is None or 1 <= for_samples <= 1000)
        and 0 <= m < 100
        and round(m, 4) < round(t, 4)
    )
    if not valid:
        assert response.status_code == 400, response.json
        assert all(d["field"].startswith("cpu.") for d in response.json["details"])
        return
    assert response.status_code == 200, response.json
    cpu = response.json["cpu"]
    assert cpu["threshold"] == pytest.approx(round(t, 4), rel=1e-6)
    assert cpu["clear_margin"] == pytest.approx(round(m, 4), rel=1e-6, abs=1e-6)
    assert cpu["for_samples"] == (3 if for_samples is None else for_samples)
    assert cpu["clear_level"] >= 0


# --- the alert lists ---------------------------------------------------------------


def fire(db, sid, kind="cpu", resolved=False, started="2026-01-01T00:00:00Z"):
    db.execute(
        """INSERT INTO alerts (server_id, type, threshold, value, peak, started_at, resolved_at,
                               resolved_value)
           VALUES (%s, %s, 90, 95, 96, %s, CASE WHEN %s THEN %s::timestamptz + interval '1 min'
                                               END, CASE WHEN %s THEN 50 END)""",
        [sid, kind, started, resolved, started, resolved],
    )


def test_a_servers_alerts_list_active_first_then_recently_resolved(api, db, client):
    sid, _ = api.register()
    fire(db, sid, "cpu", resolved=True, started="2026-01-01T10:00:00Z")
    fire(db, sid, "cpu", resolved=True, started="2026-01-01T12:00:00Z")
    fire(db, sid, "ram", resolved=False, started="2026-01-01T09:00:00Z")
    listed = client.get(f"/api/alerts/{sid}").json
    assert [(a["type"], a["state"]) for a in listed] == [
        ("ram", "firing"), ("cpu", "resolved"), ("cpu", "resolved"),
    ]  # fmt: skip
    assert listed[1]["started_at"] == "2026-01-01T12:00:00Z"
    assert listed[0]["server_name"] == "web-01"
    assert [a["state"] for a in client.get(f"/api/alerts/{sid}?state=active").json] == ["firing"]
    resolved = client.get(f"/api/alerts/{sid}?state=resolved&limit=1").json
    assert [a["started_at"] for a in resolved] == ["2026-01-01T12:00:00Z"]


def test_the_overview_lists_active_alerts_of_every_server(api, db, client):
    one, _ = api.register("one")
    two, _ = api.register("two")
    fire(db, one, "cpu")
    fire(db, two, "disk")
    fire(db, two, "ram", resolved=True)
    active = client.get("/api/alerts").json
    assert sorted((a["hostname"], a["type"]) for a in active) == [("one", "cpu"), ("two", "disk")]
    assert len(client.get("/api/alerts?state=all").json) == 3


@pytest.mark.parametrize(
    ("query", "field"), [("state=open", "state"), ("limit=0", "limit"), ("limit=x", "limit"),
                         ("limit=501", "limit")],
)  # fmt: skip
def test_bad_list_parameters_are_refused(api, client, query, field):
    sid, _ = api.register()
    for url in (f"/api/alerts?{query}", f"/api/alerts/{sid}?{query}"):
        response = client.get(url)
        assert response.status_code == 400
        assert response.json["details"][0]["field"] == field


def test_alerts_of_an_unknown_server_are_404(client, db):
    assert client.get("/api/alerts/12345").status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/alerts", "/api/alerts/{sid}", "/api/servers/{sid}/alert-rules"]
)
def test_alert_reads_need_the_dashboard_token_when_it_is_set(app, api, client, path):
    with_settings(app, api={"dashboard_token": "dash"})
    sid, _ = api.register()
    url = path.format(sid=sid)
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer("wrong")).status_code == 403
    assert client.get(url, headers=bearer("dash")).status_code == 200


def test_the_local_run_generates_an_admin_token_and_keeps_it(tmp_path, monkeypatch):
    from vigie.cli import local_tokens

    monkeypatch.setenv("VIGIE_HOME", str(tmp_path))
    monkeypatch.delenv("VIGIE_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("VIGIE_ENROLL_TOKEN", raising=False)
    (tmp_path / "local.env").write_text("VIGIE_ENROLL_TOKEN=enr_kept\n")
    first = local_tokens()
    assert first["VIGIE_ENROLL_TOKEN"] == "enr_kept"
    assert first["VIGIE_ADMIN_TOKEN"].startswith("adm_")
    assert local_tokens() == first
    assert oct((tmp_path / "local.env").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("VIGIE_ADMIN_TOKEN", "from-env")
    assert local_tokens()["VIGIE_ADMIN_TOKEN"] == "from-env"
