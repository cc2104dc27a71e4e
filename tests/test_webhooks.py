"""Alert webhooks: the outbox drained to a real local HTTP receiver, retries,
ordering, one sender among several, secrets kept out of logs, and an ingest that
never waits for a webhook."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import psycopg
import pytest
import requests

from realtime.webhooks import WebhookSettings, body, drain_once, message, redact

from .conftest import ENROLL, bearer
from .helpers import free_port, gunicorn_api, gunicorn_relay, iso, minutes_ago, sample
from .socket_client import EventClient
from .webhook_receiver import Receiver

BASE = minutes_ago(60)
SECRET = "T0001/B0002/SeCrEtXyZ"


def at(i: int):
    return BASE + timedelta(seconds=5 * i)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def outbox(database_url):
    """The drainer's own connection, as the relay holds it."""
    with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as conn:
        yield conn


def fire_and_resolve(api, hostname="web-01", cpu=(99, 99, 99, 50)):
    sid, token = api.register(hostname)
    for i, value in enumerate(cpu):
        assert (
            api.post_sample(sid, token, recorded_at=iso(at(i)), cpu_percent=value).status_code
            == 201
        )
    return sid


def statuses(db):
    return [
        (r["state"], r["status"], r["attempts"])
        for r in db.execute("SELECT * FROM alert_notifications ORDER BY id").fetchall()
    ]


def test_firing_and_resolution_reach_the_webhook_in_order(api, db, outbox, receiver):
    sid = fire_and_resolve(api)
    settings = WebhookSettings(url=f"{receiver.base}/hook", format="json")
    assert drain_once(outbox, settings) == 2
    firing, resolved = receiver.bodies
    assert firing["state"] == "firing"
    assert firing["server_id"] == sid
    assert firing["server_name"] == "web-01"
    assert firing["type"] == "cpu"
    assert firing["value"] == 99
    assert firing["threshold"] == 90
    assert "web-01" in firing["text"] and "CPU at 99.0%" in firing["text"]
    assert resolved["state"] == "resolved"
    assert resolved["id"] == firing["id"]
    assert resolved["resolved_value"] == 50
    assert "back to 50.0%" in resolved["text"]
    assert statuses(db) == [("firing", "sent", 1), ("resolved", "sent", 1)]
    # Sent is sent: draining again sends nothing twice.
    assert drain_once(outbox, settings) == 0
    assert len(receiver.bodies) == 2


@pytest.mark.parametrize(
    ("fmt", "keys"),
    [("slack", {"text"}), ("discord", {"content", "allowed_mentions"}), ("json", None)],
)
def test_each_format_sends_the_body_its_receiver_takes(api, outbox, receiver, fmt, keys):
    fire_and_resolve(api)
    drain_once(outbox, WebhookSettings(url=receiver.base, format=fmt))
    firing, resolved = receiver.bodies
    if keys is not None:
        assert set(firing) == keys
    text = firing.get("text") or firing.get("content")
    assert text.startswith("🔴 web-01: CPU at 99.0% (threshold 90.0%) since ")
    assert (resolved.get("text") or resolved.get("content")).startswith("✅ web-01: CPU back to")


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("https://hooks.slack.com/services/T0/B0/x", "slack"),
        ("https://discord.com/api/webhooks/1/abc", "discord"),
        ("https://discordapp.com/api/webhooks/1/abc", "discord"),
        ("https://example.com/hooks/vigie", "json"),
        ("https://discord.com/somewhere-else", "json"),
    ],
)
def test_the_format_follows_the_url_unless_set(url, fmt):
    assert WebhookSettings(url=url).resolved_format == fmt
    assert WebhookSettings(url=url, format="json").resolved_format == "json"


def test_offline_and_disabled_rule_messages_read_well():
    base = {"server_id": 3, "server_name": "db-1", "started_at": "2026-02-04T10:05:00+00:00"}
    assert message({**base, "type": "offline", "state": "firing", "value": 47.2}) == (
        "🔴 db-1 is offline: nothing received for 47 s (noticed 2026-02-04 10:05:00 UTC)"
    )
    back = {**base, "type": "offline", "state": "resolved", "value": 47.2,
            "resolved_at": "2026-02-04T11:00:00+01:00"}  # fmt: skip
    assert message(back) == (
        "✅ db-1 is back online (offline from 2026-02-04 10:05:00 UTC to 2026-02-04 10:00:00 UTC)"
    )
    closed = {**base, "type": "disk", "state": "resolved", "value": 95, "peak": 97.5,
              "resolved_value": None, "resolved_at": "2026-02-04T10:06:00Z"}  # fmt: skip
    assert "Disk alert closed, its rule was disabled (peak 97.5%" in message(closed)
    assert body(closed, "discord")["allowed_mentions"] == {"parse": []}


def test_a_500_is_retried_and_the_resolution_waits_for_its_firing(api, db, outbox, receiver):
    fire_and_resolve(api)
    receiver.statuses.extend([500])
    settings = WebhookSettings(url=receiver.base, backoff=0.2)
    drain_once(outbox, settings)
    # The firing failed once; the resolution was not sent ahead of it.
    assert [b["state"] for b in receiver.bodies] == ["firing"]
    row = db.execute("SELECT * FROM alert_notifications ORDER BY id LIMIT 1").fetchone()
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 500")
    deadline = time.monotonic() + 60
    while len(receiver.bodies) < 3 and time.monotonic() < deadline:
        drain_once(outbox, settings)
        time.sleep(0.05)
    assert [b["state"] for b in receiver.bodies] == ["firing", "firing", "resolved"]
    assert statuses(db) == [("firing", "sent", 2), ("resolved", "sent", 1)]


def test_a_client_error_is_not_retried(api, db, outbox, receiver):
    fire_and_resolve(api)
    receiver.statuses.extend([404])
    drain_once(outbox, WebhookSettings(url=receiver.base))
    assert statuses(db) == [("firing", "failed", 1), ("resolved", "sent", 1)]


def test_it_gives_up_after_the_configured_attempts(api, db, outbox, receiver):
    fire_and_resolve(api, cpu=(99, 99, 99))
    receiver.statuses.extend([503] * 10)
    settings = WebhookSettings(url=receiver.base, attempts=3, backoff=0.01)
    deadline = time.monotonic() + 60
    while statuses(db)[0][1] == "pending" and time.monotonic() < deadline:
        drain_once(outbox, settings)
        time.sleep(0.02)
    assert statuses(db) == [("firing", "failed", 3)]
    assert len(receiver.bodies) == 3


def test_with_no_webhook_configured_notifications_are_skipped(api, db, outbox, receiver):
    fire_and_resolve(api)
    assert drain_once(outbox, WebhookSettings(url="")) == 2
    assert statuses(db) == [("firing", "skipped", 0), ("resolved", "skipped", 0)]
    # Configuring a URL later does not replay them.
    assert drain_once(outbox, WebhookSettings(url=receiver.base)) == 0
    assert receiver.bodies == []


def test_secrets_in_the_url_appear_neither_in_logs_nor_in_the_database(
    api, db, outbox, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    fire_and_resolve(api, cpu=(99, 99, 99))
    query = "?token=QuErYsEcReT"
    # A 500, a timeout, and a refused connection: every way of failing.
    receiver.statuses.extend([500])
    drain_once(outbox, WebhookSettings(url=f"{receiver.base}/services/{SECRET}{query}"))
    db.execute("UPDATE alert_notifications SET next_attempt_at = now()")
    receiver.holding.set()
    drain_once(outbox, WebhookSettings(url=f"{receiver.base}/x/{SECRET}{query}", timeout=0.3))
    receiver.release()
    db.execute("UPDATE alert_notifications SET next_attempt_at = now()")
    port = free_port()  # nothing listens there
    closed = f"http://user:PaSsWoRd@127.0.0.1:{port}/x/{SECRET}{query}"
    drain_once(outbox, WebhookSettings(url=closed))
    errors = [r["last_error"] for r in db.execute("SELECT last_error FROM alert_notifications")]
    assert errors == ["request failed (ConnectionError)"]
    log = caplog.text
    assert "HTTP 500" in log and "no answer within 0.3 s" in log and "ConnectionError" in log
    assert "http://127.0.0.1" in log  # the host is named, to say where it went
    for secret in (SECRET, "SeCrEt", "QuErYsEcReT", "PaSsWoRd"):
        assert secret not in log
    assert redact(closed) == f"http://127.0.0.1:{port}/…"


def test_two_drainers_send_each_notification_exactly_once(api, db, database_url):
    for n in range(8):
        fire_and_resolve(api, hostname=f"host-{n}")
    with Receiver(delay=0.02) as receiver:
        settings = WebhookSettings(url=receiver.base)

        def drain():
            with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as conn:
                while drain_once(conn, settings):
                    pass

        threads = [threading.Thread(target=drain) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        sent = [(b["id"], b["state"]) for b in receiver.bodies]
    assert len(sent) == 16
    assert len(set(sent)) == 16
    for alert_id in {i for i, _ in sent}:
        assert [s for i, s in sent if i == alert_id] == ["firing", "resolved"]
    assert {s for _, s, _ in statuses(db)} == {"sent"}


@pytest.mark.slow
def test_ingest_completes_while_the_webhook_hangs_and_the_alert_is_not_lost(
    direct_database_url, db, tmp_path
):
    """The API under gunicorn, the relay sending webhooks, a receiver that holds the
    firing message: samples keep being stored and pushed to sockets, and once the
    receiver answers, both messages arrive."""
    api_port, relay_port = free_port(), free_port()
    with Receiver() as receiver:
        receiver.holding.set()
        relay_env = {
            "VIGIE_ALERT_WEBHOOK_URL": f"{receiver.base}/hook/{SECRET}",
            "VIGIE_ALERT_WEBHOOK_TIMEOUT": "100",
        }
        relay_log = tmp_path / "relay.log"
        with (
            gunicorn_api(direct_database_url, api_port, {"VIGIE_ENROLL_TOKEN": ENROLL}),
            gunicorn_relay(direct_database_url, relay_port, relay_env, log=relay_log),
        ):
            base = f"http://127.0.0.1:{api_port}"
            registered = requests.post(
                f"{base}/api/servers/register", json={"hostname": "web-01"}, headers=bearer(ENROLL)
            ).json()
            sid, headers = registered["id"], bearer(registered["ingest_token"])
            watcher = EventClient(f"http://127.0.0.1:{relay_port}")
            try:
                watcher.join(sid)

                def post(i, cpu):
                    body = {"server_id": sid, **sample(recorded_at=iso(at(i)), cpu_percent=cpu)}
                    response = requests.post(
                        f"{base}/api/metrics", json=body, headers=headers, timeout=60
                    )
                    assert response.status_code == 201, response.text

                for i in range(3):
                    post(i, 99)
                assert receiver.held.wait(60), "the relay never called the webhook"
                # The webhook now hangs on the firing message. Each of these requests
                # is answered, and pushed to the socket, while that call is held.
                for i in range(3, 23):
                    post(i, 50 if i == 3 else 40)
                watcher.wait_for("metrics-update", count=23)
                watcher.wait_for("alert", lambda d: d["state"] == "resolved")
                assert receiver.holding.is_set() and len(receiver.bodies) == 1
                resolved = db.execute(
                    "SELECT resolved_at FROM alerts WHERE server_id = %s", [sid]
                ).fetchone()
                assert resolved["resolved_at"] == at(3)

                receiver.release()
                firing, resolution = receiver.wait_for(2)
                assert (firing["state"], resolution["state"]) == ("firing", "resolved")
            finally:
                watcher.close()
        assert SECRET not in relay_log.read_text()
