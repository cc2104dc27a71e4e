"""Registering against the real API: what name a host gets, and what happens when
the API no longer knows the server the collector was registered as."""

from __future__ import annotations

import json

import pytest
from vigie_collector.cli import cli

from .collector_helpers import (
    backlog_samples,
    collector_env,
    credentials,
    stored,
)
from .conftest import ENROLL

pytestmark = pytest.mark.slow

LONG_HOSTNAME = ".".join(["node-" + "a" * 40] * 5)  # 229 characters: a hostname, not a name


def test_a_host_with_a_hostname_longer_than_a_name_registers_and_sends(
    api_process, db, state, runner
):
    assert 100 < len(LONG_HOSTNAME) <= 255
    env = collector_env(api_process, state, VIGIE_HOSTNAME=LONG_HOSTNAME)
    result = runner.invoke(cli, ["once"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL})
    assert result.exit_code == 0, result.output
    server = db.execute("SELECT * FROM servers").fetchone()
    assert server["hostname"] == LONG_HOSTNAME
    # The API names it after its hostname, cut to fit; the collector keeps that name.
    assert server["name"] == LONG_HOSTNAME[:100].rstrip()
    assert credentials(state)["name"] == server["name"]
    assert len(stored(db, server["id"])) == 1


def test_a_configured_name_is_the_servers_name(api_process, db, state, runner):
    env = collector_env(api_process, state, VIGIE_NAME="Production web 01")
    result = runner.invoke(cli, ["register"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL})
    assert result.exit_code == 0, result.output
    assert "(Production web 01)" in result.output
    assert db.execute("SELECT name FROM servers").fetchone()["name"] == "Production web 01"


def test_a_name_longer_than_the_api_takes_is_refused_before_anything_is_sent(
    api_process, db, state, runner
):
    env = collector_env(api_process, state, VIGIE_NAME="n" * 101)
    result = runner.invoke(cli, ["register"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL})
    assert result.exit_code == 2, result.output
    assert "101 characters, more than the API's 100" in result.output
    assert db.execute("SELECT count(*) AS n FROM servers").fetchone()["n"] == 0


def forget_server(state) -> None:
    """Credentials of a server the API does not have, as after its database was
    replaced: a server id nobody registered, and a token that is not its own."""
    creds = credentials(state)
    creds.update(server_id=creds["server_id"] + 1000, ingest_token="vgi_unknown")
    (state / "credentials.json").write_text(json.dumps(creds))


def test_an_unknown_server_without_enrollment_token_stops_naming_it(api_process, db, state, runner):
    env = collector_env(api_process, state)
    assert (
        runner.invoke(cli, ["register"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL}).exit_code == 0
    )
    forget_server(state)
    unknown = credentials(state)["server_id"]

    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 3, result.output
    # 404 today; 403 from an API that does not tell which ids exist.
    assert (
        f"the API does not know server {unknown}" in result.output
        or f"the API no longer knows server {unknown}" in result.output
    ), result.output
    assert "vigie-collector register --enroll-token TOKEN" in result.output
    assert len(backlog_samples(state)) == 1


def test_an_unknown_server_with_enrollment_token_registers_again_as_the_same_host(
    api_process, db, state, runner
):
    env = collector_env(api_process, state, VIGIE_ENROLL_TOKEN=ENROLL)
    assert runner.invoke(cli, ["register"], env=env).exit_code == 0
    first = credentials(state)["server_id"]
    forget_server(state)

    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 0, result.output
    assert "registering again with the enrollment token" in result.output
    assert credentials(state)["server_id"] == first
    assert len(stored(db, first)) == 1
    assert backlog_samples(state) == []
