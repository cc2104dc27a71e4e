"""Schema fuzzing: Schemathesis generates requests for every operation of the
served OpenAPI document (valid ones and ones that break it) and sends them to the
real app on the real test database. No answer may be a 5xx, every answer must be
one the document describes (status, content type, schema), and every error is
JSON naming its fields.

Bounded for `make test` (a few derandomized examples per operation, with and
without a dashboard token); `make fuzz` (bench/fuzz.py) runs many more:
VIGIE_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/test_schema_fuzz.py
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from functions.factory import create_app
from vigie.settings import Settings

from .conftest import ADMIN, ENROLL, bearer
from .helpers import iso, sample

EXAMPLES = int(os.environ.get("VIGIE_FUZZ_EXAMPLES", "12"))
DASHBOARD = "fuzz-dashboard-token"


@schemathesis.check
def errors_are_json_with_their_fields(ctx, response, case) -> bool | None:
    """A 4xx is a JSON error; a 400 says which fields are wrong."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict), body
    assert {"error", "message"} <= set(body), body
    if response.status_code == 400:
        details = body.get("details")
        assert details, f"a 400 without the field it is about: {body}"
        assert all(d.get("field") and d.get("reason") for d in details), body
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    errors_are_json_with_their_fields,
]


@pytest.fixture(params=[None, DASHBOARD], ids=["open-reads", "dashboard-token"])
def fuzzed(request, settings):
    """The real app (create_app) on the test database, a registered server with a
    few samples, and the token each security scheme of the document asks for."""
    app = create_app(settings.replace(api=replace(settings.api, dashboard_token=request.param)))
    client = app.test_client()
    registered = client.post(
        "/api/servers/register", json={"hostname": "fuzz-01"}, headers=bearer(ENROLL)
    )
    assert registered.status_code == 201, registered.json
    server = registered.get_json()
    now = datetime.now(UTC)
    samples = [sample(recorded_at=iso(now - timedelta(minutes=m))) for m in range(10)]
    stored = client.post(
        "/api/metrics/batch",
        json={"server_id": server["id"], "samples": samples},
        headers=bearer(server["ingest_token"]),
    )
    assert stored.status_code == 201, stored.json
    tokens = {
        "enrollment": ENROLL,
        "ingest": server["ingest_token"],
        "admin": ADMIN,
        "dashboard": request.param,
    }
    yield app, server["id"], tokens
    app.extensions["vigie_db"].close()


# The document as the app serves it. Serving it needs no database; the requests
# go to each test's own app, on the test database (`app=` below).
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", create_app(Settings()))


def aim(case, server_id: int) -> None:
    """Point half of the generated ids at the registered server, so the fuzzing
    reaches past the 404s (and past the ingest token check) into the handlers."""
    for name, value in (case.path_parameters or {}).items():
        if isinstance(value, int) and value % 2:
            case.path_parameters[name] = server_id
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("server_id"), int) and body["server_id"] % 2:
        body["server_id"] = server_id


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz_every_operation(case, fuzzed):
    app, server_id, tokens = fuzzed
    aim(case, server_id)
    headers = {}
    for requirement in case.operation.definition.raw.get("security", []):
        token = next((tokens[name] for name in requirement if tokens.get(name)), None)
        if token:
            headers = bearer(token)
    case.call_and_validate(headers=headers, checks=CHECKS, app=app)
