"""Alert notifications: the outbox the write path fills, sent from outside it.

Firing or resolving an alert writes one row to ``alert_notifications`` in the same
transaction (sql/routines/alerts.sql). This module sends those rows to ``VIGIE_ALERT_WEBHOOK_URL``
and to every Apprise URL of ``VIGIE_NOTIFY_URLS`` (realtime/notify.py), so a slow or
dead receiver never slows ingest, and a crash on either side loses nothing: a row
stays pending until every target got it or its attempts run out. The row records
the targets it reached (``delivered``): a retry sends only to the others.

* Each row is claimed with ``FOR UPDATE SKIP LOCKED`` and its lock held while it is
  sent: with several relays running, exactly one sends it; if that relay dies
  mid-send, the lock goes with its connection and another one sends it.
* A resolution waits for its firing to be sent (or given up), so a receiver never
  hears them out of order, even across retries.
* Network errors, timeouts, 5xx, 408 and 429 are retried with exponential backoff;
  another 4xx (a revoked or mistyped URL) fails at once. Either way the alert itself
  is stored and listed by the API.
* The URL usually carries a secret (Slack, Discord): logs and stored errors name the
  scheme and host only, and never the text of an exception, which may quote it.
* With no URL configured, pending rows are marked ``skipped``: setting a URL later
  does not replay old alerts.
* A silence (sql/103_operations.sql) holds the rows of the servers it covers: they
  stay pending, and are sent when it ends. An alert that fired and resolved while
  silenced is never sent (both rows are marked ``skipped``).

The relay runs ``Drainer.run`` in the background and wakes it on every alert it
emits. Under gevent, a webhook that hangs holds this task alone, never the relay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests
from psycopg.rows import dict_row

from vigie.settings import WebhookSettings
from vigie.settings import redact_url as redact

from .backoff import Backoff
from .notify import Result, Target, link, targets

log = logging.getLogger("vigie.webhooks")

# Sent rows are kept this long (what was sent, when, after how many attempts). The
# relay's catch-up replays alerts from these rows too (realtime/catchup.py).
KEEP_DONE_SECONDS = 7 * 24 * 3600
KEEP_DONE = f"{KEEP_DONE_SECONDS} seconds"
PURGE_EVERY = 3600.0
METRIC_NAMES = {"cpu": "CPU", "ram": "RAM", "disk": "Disk"}
FIELDS = (
    "id", "server_id", "server_name", "hostname", "type", "state", "value", "threshold",
    "peak", "started_at", "resolved_at", "resolved_value",
)  # fmt: skip


class HideUrl(logging.Filter):
    """urllib3 logs each request's path at DEBUG level: often the webhook's secret."""

    LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager",
               "urllib3.util.retry")  # fmt: skip

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        found = [parts.path if len(parts.path) > 1 else "", parts.query, parts.password or ""]
        self.secrets = sorted((p for p in found if p), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "…")
            record.msg, record.args = text, ()
        return True


_hidden: set[str] = set()


def hide_in_logs(url: str) -> None:
    """Install HideUrl once per URL on the loggers of the HTTP client."""
    if url and url not in _hidden:
        _hidden.add(url)
        hide = HideUrl(url)
        for name in HideUrl.LOGGERS:
            logging.getLogger(name).addFilter(hide)


# --- the message ---------------------------------------------------------------


def _when(value: str | None) -> str:
    if not value:
        return "?"
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}%"


def _seconds(value: float) -> str:
    seconds = round(value)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def message(alert: Mapping[str, Any]) -> str:
    """One line a person reads in a chat channel."""
    name = alert.get("server_name") or alert.get("hostname") or f"server {alert['server_id']}"
    started = _when(alert["started_at"])
    if alert["type"] == "offline":
        if alert["state"] == "firing":
            return (
                f"🔴 {name} is offline: nothing received for {_seconds(alert['value'])} "
                f"(noticed {started})"
            )
        return f"✅ {name} is back online (offline from {started} to {_when(alert['resolved_at'])})"
    metric = METRIC_NAMES.get(alert["type"], alert["type"])
    if alert["state"] == "firing":
        return (
            f"🔴 {name}: {metric} at {_pct(alert['value'])} "
            f"(threshold {_pct(alert['threshold'])}) since {started}"
        )
    if alert.get("resolved_value") is None:
        return (
            f"✅ {name}: {metric} alert closed, its rule was disabled "
            f"(peak {_pct(alert['peak'])}, since {started})"
        )
    return (
        f"✅ {name}: {metric} back to {_pct(alert['resolved_value'])} "
        f"(peak {_pct(alert['peak'])}, from {started} to {_when(alert['resolved_at'])})"
    )


def body(alert: Mapping[str, Any], fmt: str, public_url: str = "") -> dict[str, Any]:
    """Slack takes {"text"}, Discord {"content"}; the generic body is the alert's
    fields with the same line in "text" (which Slack-compatible receivers show).
    With VIGIE_PUBLIC_URL, the server page's link follows the line (and is the
    generic body's "url")."""
    text = message(alert)
    page = link(alert, public_url)
    shown = f"{text}\n{page}" if page else text
    if fmt == "slack":
        return {"text": shown}
    if fmt == "discord":
        # A host name is not allowed to ping @everyone.
        return {"content": shown[:2000], "allowed_mentions": {"parse": []}}
    return {"text": shown, **{k: alert.get(k) for k in FIELDS}, "url": page}


# --- sending -------------------------------------------------------------------


def retryable_status(status: int) -> bool:
    """5xx, 408 (request timeout), 429 (rate limit): the same request can succeed
    later; any other 4xx will not. (The collector's rule is the same, on the same
    cases: tests/cases/retryable_statuses.json.)"""
    return status >= 500 or status in (408, 429)


def send(session: requests.Session, settings: WebhookSettings, alert: Mapping[str, Any]) -> Result:
    try:
        response = session.post(
            settings.url,
            json=body(alert, settings.resolved_format, settings.public_url),
            timeout=settings.timeout,
            # A redirected POST becomes a GET; a webhook that moved is an error.
            allow_redirects=False,
        )
    except requests.Timeout:
        return Result(False, True, f"no answer within {settings.timeout:g} s")
    except requests.RequestException as exc:
        # The exception's text quotes the URL: name its kind only.
        return Result(False, True, f"request failed ({type(exc).__name__})")
    status = response.status_code
    response.close()
    if 200 <= status < 300:
        return Result(True)
    return Result(False, retryable_status(status), f"HTTP {status}")


# A row is due when its time has come and no silence covers its server now.
CLAIM = """
SELECT n.id, n.alert_id, n.state, n.payload, n.attempts, n.delivered
  FROM alert_notifications n
 WHERE n.status = 'pending' AND n.next_attempt_at <= now()
   AND NOT EXISTS (SELECT 1 FROM alert_notifications e
                    WHERE e.alert_id = n.alert_id AND e.id < n.id AND e.status = 'pending')
   AND vigie_silenced_until((n.payload ->> 'server_id')::integer, now()) IS NULL
 ORDER BY n.id
 LIMIT 1
 FOR UPDATE OF n SKIP LOCKED
"""

# An alert that fired and resolved while silenced: neither row was ever tried,
# both were written while a silence covered the server. Nobody is told.
SKIP_SILENCED = """
WITH quiet AS (
    SELECT f.id AS firing, r.id AS resolved
      FROM alert_notifications f
      JOIN alert_notifications r ON r.alert_id = f.alert_id AND r.state = 'resolved'
     WHERE f.state = 'firing' AND f.status = 'pending' AND f.attempts = 0
       AND r.status = 'pending'
       AND vigie_silenced_until((f.payload ->> 'server_id')::integer, f.created_at) IS NOT NULL
       AND vigie_silenced_until((r.payload ->> 'server_id')::integer, r.created_at) IS NOT NULL
     FOR UPDATE OF f, r SKIP LOCKED)
UPDATE alert_notifications n
   SET status = 'skipped', done_at = now(), last_error = 'fired and resolved while silenced'
  FROM quiet q
 WHERE n.id IN (q.firing, q.resolved)
"""

GAVE_UP = "!"  # a target in `delivered` marked so failed for good: not tried again


def all_targets(settings: WebhookSettings, session: requests.Session) -> list[Target]:
    return targets(settings, lambda alert: send(session, settings, alert), message)


def drain_once(
    conn: psycopg.Connection,
    settings: WebhookSettings,
    session: requests.Session | None = None,
    limit: int = 100,
) -> int:
    """Send the notifications that are due now, one transaction each; return how
    many were handled (sent, retried later, failed or skipped)."""
    if not settings.targets:
        with conn.transaction():
            cur = conn.execute(
                """UPDATE alert_notifications
                      SET status = 'skipped', done_at = now(),
                          last_error = 'no webhook URL or notify URL'
                    WHERE status = 'pending'"""
            )
        return cur.rowcount
    hide_in_logs(settings.url)
    session = session or requests.Session()
    found = all_targets(settings, session)
    with conn.transaction():
        handled = conn.execute(SKIP_SILENCED).rowcount
    while handled < limit:
        with conn.transaction():
            row = conn.cursor(row_factory=dict_row).execute(CLAIM).fetchone()
            if row is None:
                break
            send_row(conn, settings, found, row)
        handled += 1
    return handled


def send_row(
    conn: psycopg.Connection, settings: WebhookSettings, found: list[Target], row: dict
) -> None:
    """Send one claimed row to each target it has not reached, and record how it went:
    sent (every target got it), retried later (a target may still take it), or failed."""
    done = set(row["delivered"])
    attempts = row["attempts"] + 1
    what = f"{row['payload'].get('type')} alert {row['alert_id']} {row['state']}"
    errors: list[str] = []
    retry = False
    for target in found:
        if target.key in done or GAVE_UP + target.key in done:
            continue
        result = target.send(row["payload"])
        if result.ok:
            done.add(target.key)
            log.info("%s: sent %s", target.label, what)
            continue
        errors.append(result.error if len(found) == 1 else f"{target.label}: {result.error}")
        if result.retry and attempts < settings.attempts:
            retry = True
            delay = settings.delay(attempts)
            log.warning(
                "%s: %s for %s (attempt %d of %d); retrying in %.3g s",
                target.label, result.error, what, attempts, settings.attempts, delay,
            )  # fmt: skip
        else:
            done.add(GAVE_UP + target.key)
            log.error(
                "%s: %s for %s after %d attempt(s); giving up (the alert itself is stored)",
                target.label, result.error, what, attempts,
            )  # fmt: skip
    error = "; ".join(errors) or None
    if retry:
        conn.execute(
            """UPDATE alert_notifications SET attempts = %s, last_error = %s, delivered = %s,
                      next_attempt_at = now() + make_interval(secs => %s)
                WHERE id = %s""",
            [attempts, error, sorted(done), settings.delay(attempts), row["id"]],
        )
        return
    failed = any(key.startswith(GAVE_UP) for key in done)
    conn.execute(
        """UPDATE alert_notifications SET status = %s, attempts = %s, done_at = now(),
                  last_error = %s, delivered = %s WHERE id = %s""",
        ["failed" if failed else "sent", attempts, error, sorted(done), row["id"]],
    )


def seconds_until_due(conn: psycopg.Connection) -> float | None:
    """Seconds until the next pending notification is due (a silenced one: when its
    silence ends); None when none is."""
    row = conn.execute(
        """SELECT extract(epoch FROM min(greatest(
                      next_attempt_at,
                      vigie_silenced_until((payload ->> 'server_id')::integer, now())))
                  - clock_timestamp())::float8
             FROM alert_notifications WHERE status = 'pending'"""
    ).fetchone()
    return None if row[0] is None else max(row[0], 0.0)


def purge(conn: psycopg.Connection) -> int:
    """Forget notifications that were sent, failed or skipped long ago."""
    cur = conn.execute(
        f"""DELETE FROM alert_notifications
             WHERE status <> 'pending' AND done_at < now() - interval '{KEEP_DONE}'"""  # noqa: S608
    )
    return cur.rowcount


class Drainer:
    """Sends the outbox until stopped: whenever woken (an alert was announced), when
    a retry is due, and every `poll` seconds in case a wake-up was missed."""

    def __init__(
        self,
        database_url: str,
        settings: WebhookSettings | None = None,
        poll: float = 5.0,
        application_name: str = "vigie-webhooks",
    ) -> None:
        self.database_url = database_url
        self.settings = settings or WebhookSettings()
        self.poll = poll
        self.application_name = application_name
        self._wake = threading.Event()
        self._stop = threading.Event()

    def check(self) -> None:
        """Refuse (ConfigError) an Apprise URL that Apprise cannot use, before running."""
        targets(self.settings, None, message)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        session = requests.Session()
        conn: psycopg.Connection | None = None
        backoff = Backoff(2.0, 30.0)
        last_purge = 0.0
        if self.settings.url:
            log.info(
                "webhook %s (%s) for alerts",
                redact(self.settings.url),
                self.settings.resolved_format,
            )
        if self.settings.notify_urls:
            log.info("%d Apprise URL(s) for alerts", len(self.settings.notify_urls))
        while not self._stop.is_set():
            self._wake.clear()
            delay = self.poll
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = psycopg.connect(
                        self.database_url,
                        autocommit=True,
                        # Works through a transaction pooler too.
                        prepare_threshold=None,
                        application_name=self.application_name,
                    )
                drain_once(conn, self.settings, session)
                if time.monotonic() - last_purge > PURGE_EVERY:
                    purge(conn)
                    last_purge = time.monotonic()
                due = seconds_until_due(conn)
                if due is not None:
                    delay = min(delay, max(due, 0.01))
                backoff.reset()
            except psycopg.Error as exc:
                delay = backoff.next()
                log.warning(
                    "webhook outbox: database error (%s); trying again in %.0f s",
                    type(exc).__name__,
                    delay,
                )
                if conn is not None:
                    conn.close()
                conn = None
            self._wake.wait(delay)
        if conn is not None:
            conn.close()
        session.close()
