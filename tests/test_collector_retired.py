"""A server removed through the API: its collector is refused and stops with exit
status 3, saying how to register again; with the enrollment token it does."""

from __future__ import annotations

import pytest
import requests
from vigie_collector.cli import cli

from .collector_helpers import ApiProcess, collector_env, credentials
from .conftest import ADMIN, ENROLL, bearer

pytestmark = pytest.mark.slow


@pytest.fixture
def admin_api(database_url, db, tmp_path):
    api = ApiProcess(database_url, tmp_path / "api.log", {"VIGIE_ADMIN_TOKEN": ADMIN})
    api.start()
    yield api
    api.stop()


def remove(api: ApiProcess, server_id: int) -> None:
    response = requests.delete(
        f"{api.url}/api/servers/{server_id}", headers=bearer(ADMIN), timeout=30
    )
    assert response.status_code == 204, response.text


def test_a_removed_servers_collector_stops_with_status_3(admin_api, db, state, runner):
    env = collector_env(admin_api, state)
    registered = runner.invoke(cli, ["register"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL})
    assert registered.exit_code == 0, registered.output
    server_id = credentials(state)["server_id"]
    remove(admin_api, server_id)

    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 3, result.output
    assert f"the API no longer knows server {server_id}" in result.output
    assert "vigie-collector register --enroll-token TOKEN" in result.output
    assert db.execute("SELECT count(*) AS n FROM servers").fetchone()["n"] == 0


def test_with_the_enrollment_token_it_registers_again_as_a_new_server(admin_api, db, state, runner):
    env = collector_env(admin_api, state, VIGIE_ENROLL_TOKEN=ENROLL)
    assert runner.invoke(cli, ["register"], env=env).exit_code == 0
    first = credentials(state)["server_id"]
    remove(admin_api, first)

    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 0, result.output
    assert "registering again with the enrollment token" in result.output
    assert credentials(state)["server_id"] != first
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 1
