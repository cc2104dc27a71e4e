"""The relay through database trouble: a killed LISTEN session, a PostgreSQL
restart, and servers going offline, with real processes on both sides.

NOTIFY is not durable: these tests fail if the relay only forwards notifications.
Samples and alerts committed while the relay was not listening must still reach
its clients, each exactly once, and an alert's firing before its resolution.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests
from psycopg.rows import dict_row

from vigie import embedded
from vigie.migrate import migrate

from .conftest import ENROLL, register_at, scratch_database, wait_until
from .helpers import free_port, gunicorn_api, gunicorn_relay, running_relay
from .relay_helpers import (
    FAST,
    Writer,
    assert_each_stored_sample_received_once,
    cut_listen,
    first_sample_received,
    health,
    terminate,
)
from .socket_client import EventClient

pytestmark = pytest.mark.slow


def wait_for_more(writer: Writer, n: int = 10) -> None:
    target = len(writer.stored) + n
    wait_until(lambda: len(writer.stored) >= target, what=f"{n} more samples stored")


def fresh_listen_pid(relay: str, killed: set[int]) -> int | None:
    """The relay's LISTEN session, once it listens on one not killed yet."""
    code, body = health(relay)
    pid = body.get("listen_backend_pid") if code == 200 else None
    return pid if pid not in killed else None


def cpu_alert_every_4(n: int) -> dict:
    """CPU over its threshold (90, for 3 samples) three times, then back to 10:
    an alert fires and resolves every four samples."""
    return {"cpu_percent": 10.0 if n % 4 == 3 else 99.0}


# Offline alerts fire on their own once a test stops writing: left out here.
METRIC_ALERT_TYPES = ("cpu", "ram", "disk")


def announced_alerts(database_url: str, server_id: int) -> list[tuple[int, str]]:
    """Every firing and resolution of the server's metric alerts, in the order
    they were announced: the webhook outbox gets one row per announcement."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            """SELECT n.alert_id, n.state FROM alert_notifications n
                 JOIN alerts a ON a.id = n.alert_id
                WHERE a.server_id = %s AND a.type = ANY(%s) ORDER BY n.id""",
            [server_id, list(METRIC_ALERT_TYPES)],
        ).fetchall()
    return [(r["alert_id"], r["state"]) for r in rows]


def metric_alert_of(server_id: int) -> Callable[[dict], bool]:
    return lambda d: d["server_id"] == server_id and d["type"] in METRIC_ALERT_TYPES


def assert_each_alert_received_once_in_order(
    client: EventClient, database_url: str, server_id: int
) -> list[tuple[int, str]]:
    announced = announced_alerts(database_url, server_id)
    client.wait_for("alert", metric_alert_of(server_id), count=len(announced), timeout=90)
    received = [(d["id"], d["state"]) for d in client.of("alert", metric_alert_of(server_id))]
    assert received == announced
    return announced


def test_samples_and_alerts_committed_while_the_relay_cannot_listen_still_arrive(
    api_url, relay_role, direct_database_url, tmp_path
):
    relay_url_as_role, allow_login = relay_role
    sid, token = register_at(api_url, "web-01")
    # A server that goes offline and comes back while the relay is away.
    quiet_sid, quiet_token = register_at(api_url, "web-02", interval_seconds=0.5)
    env = {**FAST, "REALTIME_DATABASE_URL": relay_url_as_role, "VIGIE_OFFLINE_AFTER": "3"}
    with (
        running_relay(direct_database_url, env, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as client,
    ):
        client.join(sid)
        client.join(quiet_sid)
        writer = first_sample_received(client, api_url, sid, token)
        # RAM at 99 three times: an alert fires while the relay listens.
        for _ in range(3):
            assert writer.post_one(ram_percent=99)
        [ram] = client.wait_for("alert")
        assert (ram["type"], ram["state"]) == ("ram", "firing")

        cut_listen(relay, direct_database_url, allow_login)
        # Meanwhile: CPU fires, RAM resolves, disk fires and resolves.
        for _ in range(3):
            assert writer.post_one(cpu_percent=99, ram_percent=99)
        assert writer.post_one(cpu_percent=99, ram_percent=50)
        for _ in range(3):
            assert writer.post_one(cpu_percent=99, ram_percent=50, disk_percent=99)
        assert writer.post_one(cpu_percent=99, ram_percent=50, disk_percent=10)
        for _ in range(2):
            assert writer.post_one(cpu_percent=99, ram_percent=50)
        # The relay's sweep still runs on the connections it holds: web-02
        # comes online, goes silent and offline (an alert fires), then a sample
        # brings it back (the alert resolves).
        quiet = Writer(api_url, quiet_sid, quiet_token)
        assert quiet.post_one()
        with psycopg.connect(direct_database_url, autocommit=True) as conn:

            def offline_alerts() -> int:
                return conn.execute(
                    "SELECT count(*) FROM alerts WHERE server_id = %s AND type = 'offline'",
                    [quiet_sid],
                ).fetchone()[0]

            wait_until(offline_alerts, what="web-02 offline")
        assert quiet.post_one()
        missed = announced_alerts(direct_database_url, sid)[1:]
        assert [state for _, state in missed] == ["firing", "resolved", "firing", "resolved"]
        assert client.of("alert") == [ram]  # nothing delivered while away

        allow_login(True)
        wait_until(lambda: health(relay)[0] == 200, what="relay listening again")
        # Then, live again: CPU back to normal resolves its alert.
        for _ in range(5):
            assert writer.post_one()
        assert_each_stored_sample_received_once(client, writer)
        announced = assert_each_alert_received_once_in_order(client, direct_database_url, sid)
        assert announced[1:5] == missed
        assert [state for _, state in announced[5:]] == ["resolved"]
        status = health(relay)[1]
        assert status["reconnects"] >= 1
        assert status["caught_up_samples"] >= 10
        # (The first live one may come by the catch-up too: it reads up to a
        # snapshot taken after LISTEN.)
        assert status["caught_up_alerts"] >= 6

        # web-02's events in the order of their transactions, and in each as
        # they come live: a sample's status, then the sample; the sweep's alert,
        # then its status; the next sample's resolution, status and sample.
        seen = [
            (event, d.get("state", d.get("is_active")))
            for event, d in client.events
            if isinstance(d, dict) and d.get("server_id") == quiet_sid
        ]
        assert seen[:7] == [
            ("server-status", True),
            ("metrics-update", None),
            ("alert", "firing"),
            ("server-status", False),
            ("alert", "resolved"),
            ("server-status", True),
            ("metrics-update", None),
        ]
        # Silent again since, it may be going offline once more.
        assert seen[7:] == [("alert", "firing"), ("server-status", False)][: len(seen) - 7]

        # A replayed alert is the alert the API lists (but for the server's
        # names), times included, down to their format.
        listed = requests.get(f"{api_url}/api/alerts/{sid}?state=all", timeout=30).json()
        by_id = {a["id"]: a for a in listed}
        [disk_resolved] = client.of(
            "alert", lambda d: d["type"] == "disk" and d["state"] == "resolved"
        )
        api_view = by_id[disk_resolved["id"]]
        assert set(api_view) - set(disk_resolved) == {"server_name", "hostname"}
        assert disk_resolved == {k: api_view[k] for k in disk_resolved}
        [cpu_firing] = client.of("alert", lambda d: d["type"] == "cpu" and d["state"] == "firing")
        assert cpu_firing["started_at"] == by_id[cpu_firing["id"]]["started_at"]
        assert cpu_firing["started_at"].endswith("Z")


def test_killing_the_listen_session_repeatedly_loses_nothing(
    api_url, direct_database_url, tmp_path
):
    sid, token = register_at(api_url, "web-01")
    with (
        running_relay(direct_database_url, FAST, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as client,
        EventClient(relay) as overview,
    ):
        client.join(sid)
        overview.call("join-all")
        # Alerts fire and resolve all along, announced in the same transactions
        # as samples.
        writer = Writer(api_url, sid, token, values=cpu_alert_every_4).start()
        try:
            killed: set[int] = set()
            for _ in range(4):
                pid = wait_until(lambda: fresh_listen_pid(relay, killed), what="new session")
                wait_for_more(writer)
                terminate(direct_database_url, pid)
                killed.add(pid)
            wait_until(lambda: fresh_listen_pid(relay, killed), what="new session")
            wait_for_more(writer)
        finally:
            writer.stop()
        assert health(relay)[1]["reconnects"] >= 4
        assert_each_stored_sample_received_once(client, writer)
        assert writer.failures == 0
        for watcher in (client, overview):
            announced = assert_each_alert_received_once_in_order(watcher, direct_database_url, sid)
        assert len(announced) >= 8


def test_the_catch_up_log_is_pruned_and_a_relay_away_too_long_asks_for_a_resync(
    api_url, relay_role, direct_database_url, db, tmp_path
):
    relay_url_as_role, allow_login = relay_role
    sid, token = register_at(api_url, "web-01")
    env = {**FAST, "REALTIME_DATABASE_URL": relay_url_as_role, "VIGIE_RELAY_LOG_RETENTION": "2"}
    with (
        running_relay(direct_database_url, env, log=tmp_path / "relay.log") as relay,
        EventClient(relay) as client,
    ):
        client.join(sid)
        writer = first_sample_received(client, api_url, sid, token)
        # Older than the retention: the relay deletes it from the log.
        wait_until(
            lambda: db.execute("SELECT count(*) AS n FROM metric_writes").fetchone()["n"] == 0,
            what="the log pruned",
        )
        assert client.of("resync") == []

        cut_listen(relay, direct_database_url, allow_login)
        assert writer.post_one()
        time.sleep(3)  # disconnected for longer than the log is kept
        allow_login(True)
        # What the log still holds is sent, and the clients are told to refetch.
        client.wait_for("resync")
        assert_each_stored_sample_received_once(client, writer)


# -- a PostgreSQL restart -------------------------------------------------------

RESTART_SERVER = "relay-restart-pgdata"


def pg_ctl(args: list[str]) -> None:
    import pgserver

    user = "pgserver" if os.geteuid() == 0 else None
    pgserver.pg_ctl(args, pgdata=embedded.data_dir(RESTART_SERVER), user=user, timeout=60)


@pytest.fixture(scope="module")
def private_server():
    """A PostgreSQL server of this test's own, which it may stop and start.

    Always the embedded one, even when DATABASE_URL names another server: a
    restart of a shared server would break every test running beside this one.
    """
    url = embedded.start(RESTART_SERVER, stop_when_unused=True)
    with scratch_database(url, f"vigie_restart_{os.getpid()}") as database:
        migrate(database)
        yield database
        # Running again (the test may have failed while it was down) to drop it.
        if embedded.url_if_running(RESTART_SERVER) is None:
            start_private_server(url)
    # pgserver would not stop a server it did not start itself (this one was
    # restarted here): stop it now.
    embedded.stop(RESTART_SERVER)


def start_private_server(url: str) -> None:
    # As pgserver starts it: unix socket only, in the folder the URL names.
    socket_dir = parse_qs(urlsplit(url).query)["host"][0]
    log = embedded.data_dir(RESTART_SERVER) / "log"
    pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(log), "start"])


def test_a_postgresql_restart_loses_no_sample(private_server, tmp_path):
    api_port, relay_port = free_port(), free_port()
    api, relay = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{relay_port}"
    env = {"VIGIE_ENROLL_TOKEN": ENROLL, "VIGIE_DB_TIMEOUT": "2"}
    with (
        gunicorn_api(private_server, api_port, env, log=tmp_path / "api.log"),
        gunicorn_relay(private_server, relay_port, FAST, log=tmp_path / "relay.log"),
    ):
        sid, token = register_at(api, "web-01")
        clients = [EventClient(relay) for _ in range(2)]
        try:
            for client in clients:
                client.join(sid)
            writer = Writer(api, sid, token, values=cpu_alert_every_4).start()
            try:
                wait_until(lambda: len(writer.stored) >= 10, what="samples stored")
                pg_ctl(["-w", "-m", "fast", "stop"])
                time.sleep(2)  # samples keep coming while the server is down
                start_private_server(private_server)
                wait_until(lambda: health(relay)[0] == 200, what="relay listening again")
                wait_for_more(writer)
            finally:
                writer.stop()
            assert writer.failures > 0  # the outage happened while samples were sent
            for client in clients:
                # The clients stayed connected to the relay the whole time.
                assert client.sio.connected
                assert_each_stored_sample_received_once(client, writer)
                assert_each_alert_received_once_in_order(client, private_server, sid)
            assert health(relay)[1]["reconnects"] >= 1
        finally:
            for client in clients:
                client.close()


# -- offline detection ------------------------------------------------------------


def test_offline_and_back_online_are_announced_once_with_two_relays(
    api, db, direct_database_url, tmp_path
):
    sid, token = api.register("web-01", interval_seconds=0.5)
    env = {
        "VIGIE_SWEEP_SECONDS": "0.2",
        "VIGIE_OFFLINE_AFTER": "2",
        "VIGIE_RELAY_CHECK_SECONDS": "0.5",
    }
    ports = [free_port(), free_port()]
    with (
        gunicorn_relay(direct_database_url, ports[0], env, log=tmp_path / "relay-a.log"),
        gunicorn_relay(direct_database_url, ports[1], env, log=tmp_path / "relay-b.log"),
    ):
        room = EventClient(f"http://127.0.0.1:{ports[0]}")
        overview = EventClient(f"http://127.0.0.1:{ports[1]}")
        try:
            room.join(sid)
            overview.call("join-all")

            def statuses(client):
                return [s["is_active"] for s in client.of("server-status")]

            api.post_sample(sid, token)
            for round_ in range(2):
                # Silent for more than 2 intervals: offline; a sample brings it back.
                for client in (room, overview):
                    client.wait_for("server-status", lambda s: not s["is_active"], count=round_ + 1)
                api.post_sample(sid, token)
                for client in (room, overview):
                    client.wait_for("server-status", lambda s: s["is_active"], count=round_ + 2)
            # Each transition once, in order, on both relays, though every sweep of
            # both relays raced for it. (It may be going offline again by now.)
            expected = [True, False, True, False, True]
            for client in (room, overview):
                seen = statuses(client)
                assert seen[:5] == expected
                assert all(a != b for a, b in pairwise(seen)), seen
                offline = client.of("server-status", lambda s: not s["is_active"])
                assert all(s["server_id"] == sid and s["last_seen"] for s in offline)
            rows = db.execute(
                "SELECT is_active FROM server_status_changes WHERE server_id = %s ORDER BY id",
                [sid],
            ).fetchall()
            stored = [r["is_active"] for r in rows]
            assert stored[:5] == expected
            assert all(a != b for a, b in pairwise(stored)), stored
        finally:
            room.close()
            overview.close()
