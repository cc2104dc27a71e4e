"""Each function group as a deployable function: its Lambda-style ``handler``
invoked in-process with real API Gateway events (REST API payload 1.0 and HTTP API
payload 2.0), against the real test database, configured from the environment
exactly as on AWS Lambda."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

import functions.app as entry

from .conftest import ENROLL, PREPARED_STATEMENTS
from .helpers import ROOT, iso, sample

# Each group's entry points (its WSGI app and Lambda handler) as functions.app names them.
GROUPS = ["servers", "metrics", "history", "alerts"]
functions = SimpleNamespace(**{
    g: SimpleNamespace(app=getattr(entry, f"{g}_app"), handler=getattr(entry, f"{g}_handler"))
    for g in GROUPS
}, app=SimpleNamespace(app=entry.app, handler=entry.handler))  # fmt: skip
MODULES = [getattr(functions, g) for g in [*GROUPS, "app"]]


def v1_event(method, path, body=None, headers=None, query=None, stage="prod"):
    """An API Gateway REST API (payload 1.0) proxy event."""
    headers = {"Host": "abc123.execute-api.eu-west-3.amazonaws.com", **(headers or {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def v2_event(method, path, body=None, headers=None, query=None, stage="$default"):
    """An API Gateway HTTP API (payload 2.0) event; its body arrives base64-encoded,
    as API Gateway sends it when it cannot tell the body is text."""
    headers = {"host": "abc123.execute-api.eu-west-3.amazonaws.com", **(headers or {})}
    headers = {k.lower(): v for k, v in headers.items()}
    if body is not None:
        headers["content-type"] = "application/json"
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": urlencode(query or {}),
        "cookies": [],
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-3.amazonaws.com",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "vigie-collector",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": stage,
            "time": "10/Feb/2026:13:40:52 +0000",
            "timeEpoch": 1770730852000,
        },
        "body": None if body is None else base64.b64encode(json.dumps(body).encode()).decode(),
        "isBase64Encoded": body is not None,
    }


EVENTS = {"v1": v1_event, "v2": v2_event}


class Answer:
    """A Lambda proxy response, read back as a client would."""

    def __init__(self, response: dict) -> None:
        self.status = response["statusCode"]
        if "multiValueHeaders" in response:
            self.headers = {k.lower(): v[-1] for k, v in response["multiValueHeaders"].items()}
        else:
            self.headers = {k.lower(): v for k, v in response["headers"].items()}
        body = response["body"]
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        self.json = json.loads(body) if body else None


@pytest.fixture
def lambda_env(monkeypatch, database_url, db):
    """The environment of a Lambda function: what the deploy guide sets, plus the
    variable Lambda itself sets (which makes the app keep one connection)."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "vigie-functions")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("VIGIE_ENROLL_TOKEN", ENROLL)
    monkeypatch.setenv("VIGIE_DB_PREPARED_STATEMENTS", PREPARED_STATEMENTS)
    for name in ("VIGIE_DB_MODE", "VIGIE_DASHBOARD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for module in MODULES:
        module.app.reset()
    yield
    for module in MODULES:
        module.app.reset()


def invoke(module, version, method, path, **kwargs) -> Answer:
    return Answer(module.handler(EVENTS[version](method, path, **kwargs), None))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("version", EVENTS)
def test_register_ingest_and_history_each_through_its_own_function(lambda_env, db, version):
    registered = invoke(
        functions.servers, version, "POST", "/api/servers/register",
        body={"hostname": "lambda-01"}, headers=bearer(ENROLL),
    )  # fmt: skip
    assert registered.status == 201, registered.json
    assert registered.headers["content-type"] == "application/json"
    sid, token = registered.json["id"], registered.json["ingest_token"]

    moment = datetime(2026, 2, 4, 10, 0, 5, tzinfo=UTC)
    stored = invoke(
        functions.metrics, version, "POST", "/api/metrics",
        body={"server_id": sid, **sample(recorded_at=iso(moment), cpu_percent=12.5)},
        headers=bearer(token),
    )  # fmt: skip
    assert stored.status == 201, stored.json
    row = db.execute("SELECT cpu_percent, recorded_at FROM metrics WHERE server_id = %s", [sid])
    assert row.fetchall() == [{"cpu_percent": 12.5, "recorded_at": moment}]

    history = invoke(
        functions.history, version, "GET", f"/api/metrics/history/{sid}",
        query={"from": "2026-02-04T10:00:00Z", "to": "2026-02-04T10:05:00+00:00",
               "interval": "1m"},
    )  # fmt: skip
    assert history.status == 200, history.json
    assert history.headers["vigie-interval"] == "1m"
    assert [(p["recorded_at"], p["cpu_percent"]) for p in history.json] == [
        ("2026-02-04T10:00:00Z", 12.5)
    ]
    # Lambda keeps one connection per instance and reuses it between invocations.
    database = functions.metrics.app.extensions["vigie_db"]
    assert database.mode == "single"


@pytest.mark.parametrize("version", EVENTS)
def test_an_alert_fired_by_ingest_is_listed_by_the_alerts_function(lambda_env, version):
    sid, token = _register(version)
    samples = [sample(recorded_at=f"2026-02-04T10:00:0{i}Z", cpu_percent=97.0) for i in range(5)]
    stored = invoke(
        functions.metrics, version, "POST", "/api/metrics/batch",
        body={"server_id": sid, "samples": samples}, headers=bearer(token),
    )  # fmt: skip
    assert stored.status == 201, stored.json
    listed = invoke(
        functions.alerts, version, "GET", f"/api/alerts/{sid}", query={"state": "active"}
    )
    assert listed.status == 200, listed.json
    assert [(a["type"], a["state"], a["threshold"]) for a in listed.json] == [("cpu", "firing", 90)]
    bad = invoke(functions.alerts, version, "GET", f"/api/alerts/{sid}", query={"state": "x"})
    assert bad.status == 400
    assert [d["field"] for d in bad.json["details"]] == ["state"]


@pytest.mark.parametrize("version", EVENTS)
def test_a_bad_sample_gets_400_naming_the_field_and_stores_nothing(lambda_env, db, version):
    sid, token = _register(version)
    bad = invoke(
        functions.metrics, version, "POST", "/api/metrics",
        body={"server_id": sid, **sample(cpu_percent=140)}, headers=bearer(token),
    )  # fmt: skip
    assert bad.status == 400
    assert bad.json["error"] == "invalid_request"
    assert [d["field"] for d in bad.json["details"]] == ["cpu_percent"]
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 0


@pytest.mark.parametrize("version", EVENTS)
def test_missing_and_wrong_tokens_are_refused(lambda_env, version):
    sid, _ = _register(version)
    missing = invoke(
        functions.metrics, version, "POST", "/api/metrics", body={"server_id": sid, **sample()}
    )
    assert missing.status == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = invoke(
        functions.servers, version, "POST", "/api/servers/register",
        body={"hostname": "x"}, headers=bearer("not-the-token"),
    )  # fmt: skip
    assert wrong.status == 403
    assert wrong.json["error"] == "invalid_token"


@pytest.mark.parametrize("version", EVENTS)
def test_a_function_serves_only_its_own_group(lambda_env, version):
    sid, _ = _register(version)
    other = invoke(functions.history, version, "GET", f"/api/servers/{sid}")
    assert other.status == 404
    assert other.json == {"error": "not_found", "message": "no such endpoint"}
    # Every group answers its health check, so each function can be probed.
    assert invoke(functions.history, version, "GET", "/api/health").status == 200


@pytest.mark.parametrize("version", EVENTS)
def test_the_combined_handler_serves_every_group(lambda_env, version):
    sid, token = _register(version, module=functions.app)
    stored = invoke(
        functions.app, version, "POST", "/api/metrics/batch",
        body={"server_id": sid, "samples": [sample(recorded_at="2026-02-04T10:00:00Z"),
                                             sample(recorded_at="2026-02-04T10:00:05Z")]},
        headers=bearer(token),
    )  # fmt: skip
    assert stored.status == 201
    assert stored.json["inserted"] == 2
    listed = invoke(functions.app, version, "GET", "/api/servers")
    assert [s["id"] for s in listed.json] == [sid]


def test_a_named_http_api_stage_is_not_part_of_the_route(lambda_env):
    _register("v2")
    answer = Answer(functions.servers.handler(v2_event("GET", "/api/servers", stage="prod"), None))
    assert answer.status == 200
    assert [s["hostname"] for s in answer.json] == ["fn-host"]
    rest = Answer(functions.servers.handler(v1_event("GET", "/api/servers", stage="prod"), None))
    assert rest.status == 200


def test_the_app_reads_its_settings_when_first_used(lambda_env, monkeypatch):
    monkeypatch.setenv("VIGIE_DASHBOARD_TOKEN", "dash")
    assert invoke(functions.servers, "v2", "GET", "/api/servers").status == 401
    # Built once per instance: a later change of the environment is not seen.
    monkeypatch.delenv("VIGIE_DASHBOARD_TOKEN")
    assert invoke(functions.servers, "v2", "GET", "/api/servers").status == 401


def _register(version, module=functions.servers):
    answer = invoke(
        module, version, "POST", "/api/servers/register",
        body={"hostname": "fn-host"}, headers=bearer(ENROLL),
    )  # fmt: skip
    assert answer.status in (200, 201), answer.json
    return answer.json["id"], answer.json["ingest_token"]


# Importing a function module is what a cold start pays before the first request.
IMPORT_CHECK = """
import json, sys
import functions.app as m
loaded = sorted(sys.modules)
m.{group}_app, m.{group}_handler
print(json.dumps(loaded))
"""
HEAVY = ("gevent", "realtime", "collector", "socketio", "flask_socketio", "engineio",
         "pgserver", "honcho", "yoyo", "psycopg_pool", "apig_wsgi", "openapi_core")  # fmt: skip


@pytest.mark.parametrize("group", GROUPS)
def test_importing_a_function_loads_no_relay_and_opens_no_connection(group):
    """The import loads none of the relay, gevent, the collector or the local-run
    tooling; building the app and its handler connects to nothing yet."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://vigie@127.0.0.1:{port}/vigie",
            "AWS_LAMBDA_FUNCTION_NAME": "probe",
        }
        result = subprocess.run(
            [sys.executable, "-c", IMPORT_CHECK.format(group=group)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        with pytest.raises(BlockingIOError):
            listener.accept()
    loaded = json.loads(result.stdout)
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
