"""Notifications through Apprise (VIGIE_NOTIFY_URLS) beside the webhook, to real
receivers the tests run: an SMTP server (aiosmtpd) for mailto:// and a local HTTP
endpoint for json://. Each gets exactly one message per firing and per
resolution, with the server, the metric, the value and threshold, since when, and
the server page's link; a receiver that fails is retried alone; secrets stay out
of logs."""

from __future__ import annotations

import email
import logging
import threading
import time
from datetime import timedelta
from email import policy

import psycopg
import pytest
import requests
from aiosmtpd.controller import Controller

from realtime.webhooks import Drainer, WebhookSettings, drain_once
from vigie.settings import ConfigError, Settings

from .conftest import ENROLL, bearer, wait_until
from .helpers import free_port, gunicorn_api, gunicorn_relay, iso, minutes_ago, sample
from .webhook_receiver import Receiver

BASE = minutes_ago(60)
PUBLIC = "https://vigie.example.com"
SECRET = "PaSsWoRdXyZ"


def at(i: int):
    return BASE + timedelta(seconds=5 * i)


class Mailbox:
    """A real SMTP server on a free port, keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                message = email.message_from_bytes(envelope.content, policy=policy.default)
                with mailbox._lock:
                    mailbox.messages.append(message)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def url(self, **extra: str) -> str:
        fields = {"from": "vigie@example.com", "to": "ops@example.com", **extra}
        query = "&".join(f"{k}={v}" for k, v in fields.items())
        return f"mailto://127.0.0.1:{self.port}?{query}"

    def texts(self) -> list[tuple[str, str]]:
        with self._lock:
            return [
                (m["subject"], m.get_body(preferencelist=("plain",)).get_content().strip())
                for m in self.messages
            ]

    def wait_for(self, count: int, timeout: float = 60) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.texts()
            time.sleep(0.05)
        raise TimeoutError(f"expected {count} emails, got {self.texts()}")


@pytest.fixture
def mailbox():
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def outbox(database_url):
    with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as conn:
        yield conn


def fire_and_resolve(api, hostname="web-01", cpu=(99, 99, 99, 50)):
    sid, token = api.register(hostname)
    for i, value in enumerate(cpu):
        response = api.post_sample(sid, token, recorded_at=iso(at(i)), cpu_percent=value)
        assert response.status_code == 201
    return sid


def json_url(receiver: Receiver, path: str = "/notify") -> str:
    return f"json://127.0.0.1:{receiver.port}{path}"


def test_an_alert_reaches_the_mailbox_and_the_http_endpoint_once_each_then_its_resolution(
    api, db, outbox, mailbox, receiver
):
    sid = fire_and_resolve(api)
    settings = WebhookSettings(notify_urls=(mailbox.url(), json_url(receiver)), public_url=PUBLIC)
    assert drain_once(outbox, settings) == 2
    firing, resolved = mailbox.texts()
    assert firing[0] == "🔴 web-01: CPU alert"
    assert "web-01: CPU at 99.0% (threshold 90.0%) since" in firing[1]
    assert at(2).strftime("%Y-%m-%d %H:%M:%S UTC") in firing[1]
    assert f"{PUBLIC}/servers/{sid}" in firing[1]
    assert resolved[0] == "✅ web-01: CPU resolved"
    assert "back to 50.0%" in resolved[1] and f"{PUBLIC}/servers/{sid}" in resolved[1]

    first, second = receiver.bodies
    assert [r["path"] for r in receiver.received] == ["/notify", "/notify"]
    assert (first["title"], second["title"]) == ("🔴 web-01: CPU alert", "✅ web-01: CPU resolved")
    assert "CPU at 99.0% (threshold 90.0%)" in first["message"]
    assert f"{PUBLIC}/servers/{sid}" in first["message"]
    assert (first["type"], second["type"]) == ("failure", "success")

    rows = db.execute(
        "SELECT state, status, attempts, cardinality(delivered) AS n"
        " FROM alert_notifications ORDER BY id"
    ).fetchall()
    assert [tuple(r.values()) for r in rows] == [
        ("firing", "sent", 1, 2),
        ("resolved", "sent", 1, 2),
    ]
    # Sent is sent: nothing goes twice.
    assert drain_once(outbox, settings) == 0
    assert len(mailbox.messages) == 2 and len(receiver.bodies) == 2


def test_the_webhook_keeps_working_beside_apprise_urls(api, outbox, mailbox, receiver):
    sid = fire_and_resolve(api)
    settings = WebhookSettings(
        url=f"{receiver.base}/hook", format="json", notify_urls=(mailbox.url(),),
        public_url=PUBLIC,
    )  # fmt: skip
    assert drain_once(outbox, settings) == 2
    assert [b["state"] for b in receiver.bodies] == ["firing", "resolved"]
    assert receiver.bodies[0]["url"] == f"{PUBLIC}/servers/{sid}"
    assert receiver.bodies[0]["text"].endswith(f"\n{PUBLIC}/servers/{sid}")
    assert len(mailbox.messages) == 2


def test_a_failing_receiver_is_retried_alone_and_the_others_get_one_message(
    api, db, outbox, mailbox, receiver
):
    fire_and_resolve(api)
    receiver.statuses.extend([500])
    settings = WebhookSettings(
        notify_urls=(mailbox.url(), json_url(receiver)), backoff=60, attempts=5
    )
    drain_once(outbox, settings)
    # The firing reached the mailbox; the endpoint answered 500: the row waits,
    # and the resolution waits behind it.
    assert len(mailbox.messages) == 1
    row = db.execute(
        "SELECT status, attempts, last_error FROM alert_notifications ORDER BY id LIMIT 1"
    ).fetchone()
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "notify URL 2 (json://): not delivered (Apprise reported a failure)"
    db.execute("UPDATE alert_notifications SET next_attempt_at = now()")  # the retry is due
    drain_once(outbox, settings)
    assert [b["title"].split(":")[1].strip() for b in receiver.bodies] == [
        "CPU alert", "CPU alert", "CPU resolved",
    ]  # fmt: skip
    assert len(mailbox.messages) == 2  # the mailbox was not sent the firing twice
    assert [s["status"] for s in db.execute("SELECT status FROM alert_notifications")] == [
        "sent", "sent",
    ]  # fmt: skip


def test_a_receiver_that_never_answers_is_given_up_after_its_attempts(api, db, outbox, mailbox):
    fire_and_resolve(api)
    closed = f"json://127.0.0.1:{free_port()}/x"
    settings = WebhookSettings(notify_urls=(mailbox.url(), closed), backoff=0.01, attempts=2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        drain_once(outbox, settings)
        states = [r["status"] for r in db.execute("SELECT status FROM alert_notifications")]
        if states == ["failed", "failed"]:
            break
        time.sleep(0.02)
    assert states == ["failed", "failed"]
    assert len(mailbox.messages) == 2  # the one that works got both, once each


def test_secrets_of_apprise_urls_stay_out_of_logs_and_the_database(
    api, db, outbox, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    fire_and_resolve(api)
    receiver.statuses.extend([500, 500])
    url = f"json://vigie:{SECRET}@127.0.0.1:{receiver.port}/hook/{SECRET}?token={SECRET}"
    drain_once(outbox, WebhookSettings(notify_urls=(url,), backoff=60))
    assert len(receiver.bodies) == 1  # it was called, with the secret in its path
    assert SECRET in receiver.received[0]["path"]
    stored = db.execute("SELECT last_error, delivered FROM alert_notifications").fetchall()
    assert SECRET not in str(stored)
    assert "notify URL 1 (json://)" in caplog.text
    assert SECRET not in caplog.text


def test_an_apprise_url_apprise_cannot_use_stops_the_relay_naming_its_place_only():
    drainer = Drainer("postgresql:///unused", WebhookSettings(notify_urls=(
        "json://127.0.0.1:1/ok", f"nosuchservice://{SECRET}@host",
    )))  # fmt: skip
    with pytest.raises(ConfigError) as error:
        drainer.check()
    assert "URL 2 (nosuchservice://" in str(error.value)
    assert SECRET not in str(error.value)


def test_notify_urls_are_read_from_the_environment():
    settings = Settings.from_env(
        {"VIGIE_NOTIFY_URLS": " ntfy://alerts , tgram://1:abc/2  mailto://u:p@host ",
         "VIGIE_PUBLIC_URL": "https://vigie.example.com/"}
    ).webhooks  # fmt: skip
    assert settings.notify_urls == ("ntfy://alerts", "tgram://1:abc/2", "mailto://u:p@host")
    assert settings.public_url == "https://vigie.example.com"
    assert settings.targets
    with pytest.raises(ConfigError, match="VIGIE_NOTIFY_URLS"):
        Settings.from_env({"VIGIE_NOTIFY_URLS": "not-a-url"}).webhooks  # noqa: B018
    with pytest.raises(ConfigError, match="VIGIE_PUBLIC_URL"):
        Settings.from_env({"VIGIE_PUBLIC_URL": "vigie.example.com"}).webhooks  # noqa: B018


@pytest.mark.slow
def test_the_relay_sends_each_alert_to_every_receiver_once(
    direct_database_url, db, tmp_path, mailbox, receiver
):
    """The API under gunicorn and the relay as the Procfile runs them, with
    VIGIE_NOTIFY_URLS naming the SMTP server and the HTTP endpoint."""
    api_port, relay_port = free_port(), free_port()
    relay_env = {
        "VIGIE_NOTIFY_URLS": f"{mailbox.url()}, {json_url(receiver, f'/n/{SECRET}')}",
        "VIGIE_PUBLIC_URL": PUBLIC,
    }
    relay_log = tmp_path / "relay.log"
    with (
        gunicorn_api(direct_database_url, api_port, {"VIGIE_ENROLL_TOKEN": ENROLL}),
        gunicorn_relay(direct_database_url, relay_port, relay_env, log=relay_log),
    ):
        base = f"http://127.0.0.1:{api_port}"
        registered = requests.post(
            f"{base}/api/servers/register", json={"hostname": "web-01"}, headers=bearer(ENROLL),
            timeout=30,
        ).json()  # fmt: skip
        sid, headers = registered["id"], bearer(registered["ingest_token"])
        for i, cpu in enumerate((99, 99, 99, 40)):
            body = {"server_id": sid, **sample(recorded_at=iso(at(i)), cpu_percent=cpu)}
            response = requests.post(f"{base}/api/metrics", json=body, headers=headers, timeout=30)
            assert response.status_code == 201, response.text
        emails = mailbox.wait_for(2)
        posts = receiver.wait_for(2)
        # Both rows done: every send the relay made has been answered.
        wait_until(
            lambda: [r["status"] for r in db.execute(
                "SELECT status FROM alert_notifications ORDER BY id")] == ["sent", "sent"],
            what="both notifications sent",
        )  # fmt: skip
    assert [subject for subject, _ in mailbox.texts()] == [
        "🔴 web-01: CPU alert", "✅ web-01: CPU resolved",
    ]  # fmt: skip
    assert all(f"{PUBLIC}/servers/{sid}" in text for _, text in emails)
    assert [p["title"] for p in receiver.bodies] == [p["title"] for p in posts]
    assert len(receiver.bodies) == 2
    assert SECRET not in relay_log.read_text()
