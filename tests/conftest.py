"""Fixtures: a real PostgreSQL (embedded by default, or DATABASE_URL), a fresh
database per test session, the app, and a client whose every response is checked
against the OpenAPI document."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

from functions.factory import create_app
from functions.openapi import build_spec
from vigie import embedded
from vigie.migrate import migrate
from vigie.settings import ApiSettings, DatabaseSettings, Settings

from .helpers import POOLER, admin_connect, sample, with_dbname
from .pgbouncer import PgBouncer
from .pgbouncer import skip_if_missing as skip_without_pgbouncer
from .pgbouncer import start as start_pgbouncer
from .socket_client import EventClient

ENROLL = "test-enroll-token"
ADMIN = "test-admin-token"

# The collector tests' fixtures: a real API process, a state directory, a CLI runner;
# the relay tests' API process; the browser tests' Chromium and page.
pytest_plugins = ["tests.collector_helpers", "tests.relay_helpers", "tests.browser"]


@pytest.fixture(scope="session")
def server_url() -> str:
    """The PostgreSQL server the tests use: DATABASE_URL if set, else embedded."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    # The xdist workers start it at the same moment; on a fresh clone both would
    # create and initialise its folder at once, and one would fail. One at a time:
    # the second finds it running.
    import fcntl

    with open(embedded.home() / "test-pgdata.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return embedded.start("test-pgdata", stop_when_unused=True)


def pytest_configure(config: pytest.Config) -> None:
    # VIGIE_TEST_POOLER=pgbouncer runs the functions through a PgBouncer in
    # transaction mode, as they run behind Supabase's transaction pooler.
    if POOLER not in ("", "pgbouncer"):
        raise pytest.UsageError(f"VIGIE_TEST_POOLER must be pgbouncer or unset, got {POOLER!r}")


@pytest.fixture(scope="session")
def pgbouncer(server_url: str) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of the test server."""
    skip_without_pgbouncer()
    bouncer = start_pgbouncer(server_url)
    yield bouncer
    bouncer.stop()


@contextmanager
def scratch_database(server_url: str, name: str) -> Iterator[str]:
    """A new, empty database ``name`` on that server (replacing one an earlier
    run left), dropped when done; its URL."""
    with admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_dbname(server_url, name)
    finally:
        with admin_connect(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def direct_database_url(server_url: str, worker_id: str) -> Iterator[str]:
    """A database of our own on that server, migrated, dropped at the end; always
    a direct connection (what LISTEN, migrations and assertions need)."""
    with scratch_database(server_url, f"vigie_test_{os.getpid()}_{worker_id}") as url:
        migrate(url)
        yield url


@pytest.fixture
def relay_role(direct_database_url, worker_id):
    """A URL for the relay as a role of its own, so a test can refuse it new
    connections (ALTER ROLE ... NOLOGIN) and hold it disconnected."""
    role = f"vigie_relay_{os.getpid()}_{worker_id}"
    with admin_connect(direct_database_url) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    parts = urlsplit(direct_database_url)
    netloc = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=f"{role}@{netloc}"))

    def allow(login: bool) -> None:
        with admin_connect(direct_database_url) as conn:
            conn.execute(f'ALTER ROLE "{role}" {"LOGIN" if login else "NOLOGIN"}')

    yield url, allow
    with admin_connect(direct_database_url) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE "{role}"')


@pytest.fixture(scope="session")
def database_url(direct_database_url: str, request: pytest.FixtureRequest) -> str:
    """The URL the functions use: the test database, directly or (VIGIE_TEST_POOLER)
    through PgBouncer in transaction mode."""
    if not POOLER:
        return direct_database_url
    return request.getfixturevalue("pgbouncer").url_for(direct_database_url)


# Behind a transaction pooler on a port other than 6543, prepared statements must
# be turned off by hand, as docs/deploy.md says.
PREPARED_STATEMENTS = "off" if POOLER else "auto"


@pytest.fixture
def db(direct_database_url: str) -> Iterator[psycopg.Connection]:
    """A connection for assertions, on an emptied database."""
    with psycopg.connect(
        direct_database_url, autocommit=True, row_factory=psycopg.rows.dict_row
    ) as conn:
        conn.execute(
            "TRUNCATE servers, metrics, metric_writes, alerts, alert_rules, alert_state, "
            "alert_notifications, metrics_expired RESTART IDENTITY CASCADE"
        )
        # History retention back to its defaults, as if maintenance never ran.
        conn.execute("UPDATE metrics_tiers SET cutoff = NULL, expired_through = NULL")
        conn.execute("SELECT vigie_set_retention('7 days', '90 days', '180 days', '730 days')")
        conn.execute(
            "UPDATE metrics_maintenance SET started_at = NULL, finished_at = NULL,"
            " lease_until = NULL"
        )
        yield conn


@pytest.fixture
def settings(database_url: str, db: psycopg.Connection) -> Settings:
    return Settings(
        database=DatabaseSettings(
            url=database_url, mode="pool", pool_size=4, prepared_statements=PREPARED_STATEMENTS
        ),
        api=ApiSettings(enroll_token=ENROLL, admin_token=ADMIN),
    )


def with_settings(app, **sections: dict) -> None:
    """Change some settings of a running test app: ``with_settings(app, api={...})``."""
    current = app.config["VIGIE"]
    app.config["VIGIE"] = current.replace(
        **{name: replace(getattr(current, name), **values) for name, values in sections.items()}
    )


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(build_spec())


class SentRequest(WerkzeugOpenAPIRequest):
    """The request as the response validator needs it: its body was already read
    by the app (and only responses are checked here)."""

    @property
    def body(self) -> bytes:
        return b""


class CheckedClient(FlaskClient):
    """Every response is validated against the OpenAPI document: the document
    stays true because every test that calls the API checks it."""

    openapi: OpenAPI

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = SentRequest(response.request)
        try:
            self.openapi.validate_response(request, WerkzeugOpenAPIResponse(response))
        except (PathNotFound, OperationNotFound):
            # Not an API route (a typo, a wrong method): still a JSON error.
            assert response.status_code in (404, 405), response.status_code
            assert set(response.json) == {"error", "message"}
        return response


@pytest.fixture
def app(settings: Settings, openapi: OpenAPI):
    app = create_app(settings)
    app.test_client_class = CheckedClient
    CheckedClient.openapi = openapi
    yield app
    app.extensions["vigie_db"].close()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


def wait_until(condition: Callable[[], object], timeout: float = 60, what: str = "") -> object:
    """Poll until ``condition()`` is true and return it, with a generous timeout
    (the machine is shared)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what or condition} not reached within {timeout} s")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_to(api_url: str, path: str, token: str, body: dict) -> requests.Response:
    """POST a JSON body, with a bearer token, to an API that runs as a process."""
    return requests.post(f"{api_url}{path}", json=body, headers=bearer(token), timeout=30)


def register_at(api_url: str, hostname: str = "web-01", **fields) -> tuple[int, str]:
    """Register a server with an API that runs as a process: (id, ingest token)."""
    response = post_to(api_url, "/api/servers/register", ENROLL, {"hostname": hostname, **fields})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["ingest_token"]


class Api:
    """Small verbs over the client, for tests that need a registered server."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, hostname: str = "web-01", **fields) -> tuple[int, str]:
        response = self.client.post(
            "/api/servers/register", json={"hostname": hostname, **fields}, headers=bearer(ENROLL)
        )
        assert response.status_code in (200, 201), response.json
        return response.json["id"], response.json["ingest_token"]

    def post_sample(self, server_id: int, token: str, **overrides):
        return self.client.post(
            "/api/metrics",
            json={"server_id": server_id, **sample(**overrides)},
            headers=bearer(token),
        )

    def post_batch(self, server_id: int, token: str, samples: list[dict]):
        return self.client.post(
            "/api/metrics/batch",
            json={"server_id": server_id, "samples": samples},
            headers=bearer(token),
        )


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def connect(relay_url: str) -> Iterator[Callable[..., EventClient]]:
    """``connect(url=relay_url, **kwargs)``: a socket.io client of the test module's
    relay (its ``relay_url`` fixture) or of another, closed after the test."""
    made: list[EventClient] = []

    def connect(url: str = relay_url, **kwargs) -> EventClient:
        client = EventClient(url, **kwargs)
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()
