"""The relay and rows it cannot read back: a sample PostgreSQL keeps but the driver
cannot convert (before year 1 in UTC, stored before ingest refused such times)
is skipped, said once, counted; everything else still arrives. And `/health`
says when a catch-up keeps failing, and when it is well again."""

from __future__ import annotations

import queue
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import psycopg
import pytest

from realtime.catchup import CatchUp, readable_rows
from realtime.emission import Emission, Write
from realtime.health import Health
from realtime.listener import Listener
from vigie.db import make_pool
from vigie.settings import RelaySettings

from . import relay_helpers as rh
from .conftest import register_at, wait_until
from .helpers import admin_connect, running_relay
from .socket_client import EventClient

pytestmark = pytest.mark.slow

# One hour before year 1 in UTC: PostgreSQL stores it, Python cannot hold it.
UNREADABLE = "0001-01-01T00:30:00+01:00"
SKIPPED = "cannot be read back"


def insert_unreadable_sample(conn: psycopg.Connection, server_id: int) -> None:
    """As an older Vigie could have stored it: straight into the table."""
    conn.execute(
        """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent,
               ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb,
               network_sent_mb, network_recv_mb)
           VALUES (%s, %s, 10, 20, 100, 1000, 30, 10, 100, 1, 2)""",
        [server_id, UNREADABLE],
    )
    # and logged for the relay's catch-up, as its write path did
    conn.execute(
        "INSERT INTO metric_writes (server_id, count, first_at, last_at) VALUES (%s, 1, %s, %s)",
        [server_id, UNREADABLE, UNREADABLE],
    )


def store_unreadable_sample(url: str, server_id: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        insert_unreadable_sample(conn, server_id)


def skipped_lines(log) -> list[str]:
    return [line for line in log.read_text().splitlines() if SKIPPED in line]


def test_a_sample_that_cannot_be_read_is_skipped_once_and_the_others_arrive(
    api_url, relay_role, direct_database_url, tmp_path
):
    relay_url_as_role, allow_login = relay_role
    old_sid, _ = register_at(api_url, "old-01")
    sid, token = register_at(api_url, "web-01")
    log = tmp_path / "relay.log"
    env = {**rh.FAST, "REALTIME_DATABASE_URL": relay_url_as_role}
    with running_relay(direct_database_url, env, log=log) as relay, EventClient(relay) as client:
        client.join(sid)
        client.join(old_sid)
        writer = rh.first_sample_received(client, api_url, sid, token)

        # The relay away (its LISTEN session cut, new sessions refused) while
        # the bad row and other samples are stored: the catch-up reads them all.
        rh.cut_listen(relay, direct_database_url, allow_login)
        store_unreadable_sample(direct_database_url, old_sid)
        for _ in range(5):
            assert writer.post_one()
        allow_login(True)

        rh.assert_each_stored_sample_received_once(client, writer)
        wait_until(lambda: rh.health(relay)[0] == 200, what="relay well again")
        status = rh.health(relay)[1]
        assert status["status"] == "ok" and status["reason"] is None
        assert status["skipped_rows"] == 1
        assert status["caught_up_samples"] >= 5
        # Live again, and the bad row is not read again.
        for _ in range(3):
            assert writer.post_one()
        rh.assert_each_stored_sample_received_once(client, writer)
        assert client.of("metrics-update", lambda d: d["server_id"] == old_sid) == []
        assert rh.health(relay)[1]["skipped_rows"] == 1
    [line] = skipped_lines(log)
    assert "metric_writes" in line and f"server_id {old_sid}" in line
    assert "Traceback" not in log.read_text()


def test_a_live_notification_of_an_unreadable_write_goes_through_the_catch_up(
    api_url, direct_database_url, tmp_path
):
    old_sid, _ = register_at(api_url, "old-01")
    sid, token = register_at(api_url, "web-01")
    log = tmp_path / "relay.log"
    with (
        running_relay(direct_database_url, rh.FAST, log=log) as relay,
        EventClient(relay) as client,
    ):
        client.join(sid)
        client.join(old_sid)
        writer = rh.Writer(api_url, sid, token)
        # The bad row announced as an older Vigie announced a sample, in its
        # transaction: the relay's read of it fails, and it falls back to the
        # catch-up, which skips it and emits the rest.
        with psycopg.connect(direct_database_url) as conn:
            insert_unreadable_sample(conn, old_sid)
            conn.execute(
                "SELECT pg_notify('vigie_events', json_build_object('kind', 'metrics',"
                " 'server_id', %s::int, 'count', 1, 'first', %s::text, 'last', %s::text,"
                " 'online', false)::text)",
                [old_sid, UNREADABLE, UNREADABLE],
            )
        for _ in range(5):
            assert writer.post_one()
        rh.assert_each_stored_sample_received_once(client, writer)
        wait_until(lambda: rh.health(relay)[1].get("skipped_rows") == 1, what="row skipped")
        assert rh.health(relay)[0] == 200
        assert client.of("metrics-update", lambda d: d["server_id"] == old_sid) == []
    assert len(skipped_lines(log)) == 1
    assert "Traceback" not in log.read_text()


def test_health_is_degraded_while_a_catch_up_keeps_failing_and_ok_once_it_succeeds(
    api_url, relay_role, direct_database_url, tmp_path
):
    relay_url_as_role, allow_login = relay_role
    role = urlsplit(relay_url_as_role).username
    sid, token = register_at(api_url, "web-01")
    env = {**rh.FAST, "REALTIME_DATABASE_URL": relay_url_as_role}
    with (
        running_relay(direct_database_url, env, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as client,
    ):
        client.join(sid)
        writer = rh.first_sample_received(client, api_url, sid, token)
        # The relay keeps its LISTEN session, but every other connection of
        # its is cut and new ones refused: it hears of a sample, cannot read
        # it, and its catch-up fails, again and again.
        allow_login(False)
        with admin_connect(direct_database_url) as conn:
            conn.execute(
                """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE usename = %s AND application_name <> 'vigie-relay-listen'""",
                [role],
            )
        assert writer.post_one()
        code, body = wait_until(
            lambda: (answer := rh.health(relay))[0] == 503 and answer,
            what="relay saying its catch-up fails",
        )
        assert body["status"] == "degraded" and body["listening"] is True
        assert body["reason"].startswith("catching up on missed events has failed")
        assert body["catch_up_failures"] >= 1

        allow_login(True)
        code, body = wait_until(
            lambda: (answer := rh.health(relay))[0] == 200 and answer, what="relay well again"
        )
        assert body["status"] == "ok" and body["reason"] is None
        assert body["catch_up_failing_for"] is None
        rh.assert_each_stored_sample_received_once(client, writer)


def test_the_samples_of_the_writes_that_can_be_read_are_fetched_when_one_cannot(
    api, direct_database_url, caplog
):
    old_sid, _ = api.register("old-01")
    sid, token = api.register("web-01")
    store_unreadable_sample(direct_database_url, old_sid)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stored = api.post_sample(sid, token, recorded_at=now.isoformat(), cpu_percent=42.0)
    assert stored.status_code == 201, stored.get_json()
    unreadable = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    bad = Write(old_sid, 1, unreadable, unreadable)
    good = Write(sid, 1, now, now)

    state = Health()
    settings = RelaySettings()
    emission = Emission(lambda *event: None, state, settings.max_live_samples)
    listener = Listener(direct_database_url, queue.Queue(), "test", state)
    pool = make_pool(direct_database_url, name="vigie-relay-test", max_size=2)
    pool.open(wait=True)
    try:
        catch_up = CatchUp(pool, emission, listener, settings, state)
        for _ in range(2):
            with pool.connection() as conn:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                samples = catch_up.fetch_samples(conn, [bad, good])
                # The snapshot is still usable after the failed read.
                assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1
            assert list(samples) == [good.key]
            [row] = samples[good.key]
            assert row["server_id"] == sid and row["cpu_percent"] == 42.0
    finally:
        pool.close()
    assert state.skipped_rows == 1
    [record] = [r for r in caplog.records if SKIPPED in r.getMessage()]
    assert f"server {old_sid}" in record.getMessage() and record.exc_info is None


@pytest.mark.parametrize("bad", [[1], [2], [4], [1, 2, 3, 4], [2, 4]])
def test_every_row_that_can_be_converted_is_read_wherever_the_bad_ones_are(
    direct_database_url, bad
):
    skipped: list[int] = []
    with psycopg.connect(direct_database_url, row_factory=psycopg.rows.dict_row) as conn:
        cursor = conn.execute(
            """SELECT i, CASE WHEN i = ANY(%s) THEN %s::timestamptz ELSE now() END AS t
                 FROM generate_series(1, 4) i ORDER BY i""",
            [bad, UNREADABLE],
        )
        rows = readable_rows(cursor, lambda position, exc: skipped.append(position))
    assert [r["i"] for r in rows] == [i for i in range(1, 5) if i not in bad]
    assert skipped == [i - 1 for i in bad]
