"""Registering hosts, listing and reading servers."""

from vigie.tokens import hash_token

from .conftest import ENROLL, bearer, with_settings


def register(client, body, token=ENROLL):
    return client.post("/api/servers/register", json=body, headers=bearer(token))


def test_register_new_host_returns_seed_fields_and_a_token_stored_hashed(client, db):
    response = register(
        client,
        {
            "name": "Production Server",
            "hostname": "prod-web-01",
            "ip_address": "192.168.1.10",
            "os_type": "Linux",
        },
    )
    assert response.status_code == 201
    body = response.json
    assert body["name"] == "Production Server"
    assert body["created"] is True
    assert body["created_at"].endswith("Z")
    row = db.execute("SELECT * FROM servers WHERE id = %s", [body["id"]]).fetchone()
    assert row["hostname"] == "prod-web-01"
    assert row["ip_address"] == "192.168.1.10"
    assert bytes(row["token_hash"]) == hash_token(body["ingest_token"])
    assert body["ingest_token"].encode() not in bytes(row["token_hash"])


def test_register_again_for_same_host_gives_same_server_and_a_new_token(client, db):
    first = register(client, {"hostname": "web-01", "machine_id": "abc"}).json
    again = register(client, {"hostname": "web-01", "machine_id": "abc", "name": "Web"})
    assert again.status_code == 200
    assert again.json["id"] == first["id"]
    assert again.json["created"] is False
    assert again.json["name"] == "Web"
    assert again.json["ingest_token"] != first["ingest_token"]
    assert db.execute("SELECT count(*) AS n FROM servers").fetchone()["n"] == 1


def test_same_hostname_on_another_machine_is_another_server(client):
    a = register(client, {"hostname": "web-01", "machine_id": "abc"}).json
    b = register(client, {"hostname": "web-01", "machine_id": "def"}).json
    assert a["id"] != b["id"]


def test_name_defaults_to_hostname(client):
    assert register(client, {"hostname": "db-02"}).json["name"] == "db-02"


def test_register_with_a_bad_token_gets_403_and_stores_nothing(client, db):
    response = register(client, {"hostname": "web-01"}, token="wrong")
    assert response.status_code == 403
    assert response.json["error"] == "invalid_token"
    assert db.execute("SELECT count(*) AS n FROM servers").fetchone()["n"] == 0


def test_register_without_a_token_gets_401(client):
    response = client.post("/api/servers/register", json={"hostname": "web-01"})
    assert response.status_code == 401
    assert response.json["error"] == "missing_token"
    assert "Authorization" in response.json["message"]


def test_register_is_refused_when_no_enrollment_token_is_configured(app, client):
    with_settings(app, api={"enroll_token": ""})
    response = register(client, {"hostname": "web-01"})
    assert response.status_code == 403
    assert response.json["error"] == "registration_disabled"
    assert "VIGIE_ENROLL_TOKEN" in response.json["message"]


def test_register_with_a_missing_field_names_it(client):
    response = register(client, {"name": "no hostname"})
    assert response.status_code == 400
    assert response.json["details"] == [{"field": "hostname", "reason": "is required"}]


def test_register_lists_every_bad_field(client):
    response = register(
        client,
        {"hostname": "  ", "ip_address": "999.1.1.1", "interval_seconds": 0, "colour": "red"},
    )
    assert response.status_code == 400
    fields = {d["field"] for d in response.json["details"]}
    assert fields == {"hostname", "ip_address", "interval_seconds", "colour"}


def test_list_servers_includes_status_and_latest_values(api, client):
    sid, token = api.register("web-01")
    api.register("web-02")
    api.post_sample(sid, token, cpu_percent=12.5)
    servers = client.get("/api/servers").json
    assert [s["hostname"] for s in servers] == ["web-01", "web-02"]
    assert servers[0]["is_active"] is True
    assert servers[0]["last_seen"] is not None
    assert servers[0]["latest"]["cpu_percent"] == 12.5
    assert servers[1]["is_active"] is False
    assert servers[1]["latest"] is None


def test_get_one_server(api, client):
    sid, _ = api.register("web-01", os_type="Linux")
    body = client.get(f"/api/servers/{sid}").json
    assert body["id"] == sid
    assert body["os_type"] == "Linux"
    assert "token_hash" not in body


def test_unknown_server_is_404(client):
    for sid in (999, 99999999999):
        response = client.get(f"/api/servers/{sid}")
        assert response.status_code == 404
        assert response.json == {"error": "not_found", "message": f"server {sid} does not exist"}
