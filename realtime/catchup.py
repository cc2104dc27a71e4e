"""Catch-up: what the relay may have missed while it was not listening, read from
the logs the writers keep, and the horizon that says how far it is known complete.

NOTIFY is not durable: whatever commits while the relay is not listening is never
delivered to it. Every write is also logged, with its transaction id, in
``metric_writes`` and ``server_status_changes`` (sql/100_schema.sql, written by the
triggers of sql/routines/realtime.sql), every server registered or removed in
``server_events`` (sql/104_server_events.sql, by triggers too), and every alert
fired or resolved in the webhook outbox ``alert_notifications``. The relay keeps a
*horizon*: a snapshot such that every write that snapshot sees has been emitted.
After listening again it reads, in one snapshot taken after LISTEN, the log rows
whose transaction the horizon does not see: everything it may have missed, and
perhaps a few it did receive, which the emission's record of what was sent skips.
Whatever commits after that snapshot arrives by NOTIFY on the new connection.

The catch-up runs before the relay emits anything the new connection delivered, and
emits transaction by transaction, in the order of their ids; within one, a
registration, alerts, status, samples, then a removal, as their notifications come
live. For one server that is commit order: the transactions that store its samples
and status (vigie_ingest, the offline sweep) queue on its ``servers`` row lock, and
locking a row gives a transaction its id if it had none (they write nothing before),
so the one that commits first has the smaller id. An alert's firing therefore comes
before its resolution. (A resolution by a rules change takes no such lock: racing a
sample, either order is true.)

The horizon moves forward while all is well: every ``check_seconds`` the relay
takes a snapshot S and, in a later transaction, NOTIFYs itself. Notifications are
delivered in queue order, and every transaction that S sees queued its
notification before that one: when the relay's own notification comes back, all
of them have been processed and S becomes the horizon. The same round trip proves
the LISTEN connection alive; if it does not come back within ``listen_timeout``
the relay reconnects.

One bad row never stops it. A row of the log, or a sample, that the driver cannot
convert (a time before year 1 in UTC, stored before ingest refused such times) is
skipped: logged once, counted in ``/health``, and the rest emitted in order. A
catch-up that keeps failing for another reason (the database refusing the relay)
is retried with backoff, and ``/health`` says the relay is degraded until one
succeeds.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from vigie.settings import RelaySettings

from .backoff import Backoff
from .emission import Emission, Write
from .health import Health
from .listener import CHANNEL, Listener
from .webhooks import KEEP_DONE_SECONDS

log = logging.getLogger("vigie.relay")

# Writes the horizon does not see. `xid >= xmin` uses the index; the snapshot
# test is exact (a transaction in progress when the horizon was taken is unseen).
MISSED_WRITES = """
SELECT xid::text::bigint AS xid, server_id, count, first_at, last_at
  FROM metric_writes
 WHERE xid >= pg_snapshot_xmin(%(h)s::pg_snapshot)
   AND NOT pg_visible_in_snapshot(xid, %(h)s::pg_snapshot)
"""
MISSED_CHANGES = """
SELECT xid::text::bigint AS xid, id, server_id, is_active, last_seen
  FROM server_status_changes
 WHERE xid >= pg_snapshot_xmin(%(h)s::pg_snapshot)
   AND NOT pg_visible_in_snapshot(xid, %(h)s::pg_snapshot)
"""
# Servers registered and removed (sql/104_server_events.sql).
MISSED_SERVER_EVENTS = """
SELECT xid::text::bigint AS xid, id, server_id, event
  FROM server_events
 WHERE xid >= pg_snapshot_xmin(%(h)s::pg_snapshot)
   AND NOT pg_visible_in_snapshot(xid, %(h)s::pg_snapshot)
"""
# The webhook outbox holds each alert event as it was announced (plus the server's
# names, for the message text). Rows from before its xid column have none: never read.
MISSED_ALERTS = """
SELECT xid::text::bigint AS xid, id, payload
  FROM alert_notifications
 WHERE xid >= pg_snapshot_xmin(%(h)s::pg_snapshot)
   AND NOT pg_visible_in_snapshot(xid, %(h)s::pg_snapshot)
"""
OUTBOX_ONLY = ("server_name", "hostname")

# Retries of a catch-up that failed: soon, then less often, so live events keep
# flowing between attempts.
RETRY_FIRST = 0.5
RETRY_MOST = 5.0


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def readable_rows(cursor: Any, skipped: Callable[[int, psycopg.DataError], None]) -> list[dict]:
    """The rows of an executed query, but those the driver cannot convert: each is
    passed to ``skipped`` with its position, and left behind."""
    rows = []
    while True:
        position = cursor.rownumber
        try:
            row = cursor.fetchone()
        except psycopg.DataError as exc:
            skipped(position, exc)
            # A row that fails to load is not consumed: step over it.
            if position + 1 >= cursor.rowcount:
                return rows
            cursor.scroll(position + 1, mode="absolute")
            continue
        if row is None:
            return rows
        rows.append(row)


@dataclass
class Check:
    """A horizon candidate, waiting for its notification to come back."""

    n: int
    snapshot: str
    started: float
    sent: float


class CatchUp:
    def __init__(
        self,
        pool: ConnectionPool,
        emission: Emission,
        listener: Listener,
        settings: RelaySettings,
        health: Health,
    ) -> None:
        self.pool = pool
        self.emission = emission
        self.listener = listener
        self.settings = settings
        self.health = health
        self.needed = False
        self._horizon: str | None = None
        self._horizon_taken = 0.0
        self._horizons: deque[tuple[float, int]] = deque()  # (monotonic, xmin) for pruning
        self._check: Check | None = None
        self._checks_sent = 0
        self._last_check = 0.0
        self._retry_at = 0.0
        self._retry = Backoff(RETRY_FIRST, RETRY_MOST)
        # What was skipped since the horizon moved: logged and counted once.
        self._skipped: set[tuple] = set()
        health.unwell_after = settings.check_seconds * health.FAILING_CHECKS

    def lost_track(self, why: str) -> None:
        """Something announced could not be emitted: read it again from the log."""
        if not self.needed:
            log.warning("%s: will catch up from the log", why)
        self.needed = True
        self._check = None

    def listening_again(self, stopping: Callable[[], bool]) -> None:
        """Catch up now, before what the new connection delivers: a client then
        sees a missed alert fire before it sees it resolve. While the database
        refuses, the new notifications wait, a while; then they go out and the
        catch-up keeps being retried (their order is then the only thing lost)."""
        self.needed = True
        self._check = None
        deadline = time.monotonic() + self.settings.listen_timeout
        backoff = Backoff(0.1, 2.0)
        while not stopping():
            try:
                self.run()
                return
            except (psycopg.Error, OSError) as exc:
                wait = backoff.next()
                if time.monotonic() + wait > deadline:
                    log.warning("catch-up failed, will retry: %s", one_line(exc))
                    self._retry_later(time.monotonic())
                    return
                time.sleep(wait)

    # -- the horizon --------------------------------------------------------------

    def housekeeping(self) -> None:
        """A catch-up still owed, or the next check of the LISTEN connection."""
        if not self.health.listening:
            return
        now = time.monotonic()
        if self.needed:
            if now < self._retry_at:
                return
            try:
                self.run()
            except (psycopg.Error, OSError) as exc:
                log.warning("catch-up failed, will retry: %s", one_line(exc))
                self._retry_later(now)
            except Exception:
                log.exception("catch-up failed, will retry")
                self._retry_later(now)
            return
        check = self._check
        if check is None:
            if now - self._last_check >= self.settings.check_seconds:
                self._send_check()
        elif (
            self.listener.checks_back < check.n and now - check.sent > self.settings.listen_timeout
        ):
            # Our own NOTIFY did not come back: the LISTEN connection is not
            # delivering, whatever the socket says. Start over.
            log.warning("LISTEN connection silent for %.0fs: reconnecting", now - check.sent)
            self._check = None
            self.listener.reconnect()

    def _retry_later(self, now: float) -> None:
        self._retry_at = now + self._retry.next()

    def _send_check(self) -> None:
        started = time.monotonic()
        self._last_check = started
        self._checks_sent += 1
        n = self._checks_sent
        payload = json.dumps({"kind": "relay-check", "relay": self.listener.relay_id, "n": n})
        try:
            with self.pool.connection() as conn:
                # S first, then the NOTIFY, queued when this transaction commits:
                # after the notification of every transaction S sees, since those
                # committed, so queued theirs, before S was taken.
                snapshot = conn.execute("SELECT pg_current_snapshot()::text AS s").fetchone()["s"]
                conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])
        except (psycopg.Error, OSError) as exc:
            log.warning("relay check failed: %s", exc)
            return
        self._check = Check(n=n, snapshot=snapshot, started=started, sent=time.monotonic())

    def check_came_back(self, n: int) -> None:
        check = self._check
        if check is None or n != check.n:
            return
        self._check = None
        self._advance(check.snapshot, check.started)

    def _advance(self, snapshot: str, taken: float) -> None:
        self._horizon = snapshot
        self._horizon_taken = taken
        self._skipped.clear()  # the horizon sees them now: never read again
        self.emission.forget_before(taken)
        self._horizons.append((taken, int(snapshot.split(":", 1)[0])))
        while len(self._horizons) > 1 and self._horizons[1][0] < taken - 2 * (
            self.settings.log_retention
        ):
            self._horizons.popleft()

    def prunable_xid(self) -> int | None:
        """The log may be pruned before this transaction id: the newest horizon at
        least `log_retention` old (None: keep everything for now)."""
        cutoff = time.monotonic() - self.settings.log_retention
        old = [xmin for taken, xmin in self._horizons if taken <= cutoff]
        return old[-1] if old else None

    # -- reading what was missed --------------------------------------------------

    def run(self) -> None:
        """Emit what the horizon does not see, then move the horizon."""
        try:
            self._run()
        except Exception as exc:
            self.health.catch_up_failed(f"{type(exc).__name__}: {one_line(exc)}")
            raise
        self._retry_at = 0.0
        self._retry.reset()
        self.health.catch_up_succeeded()

    def _run(self) -> None:
        started = time.monotonic()
        horizon = self._horizon
        with self.pool.connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            snapshot = conn.execute("SELECT pg_current_snapshot()::text AS s").fetchone()["s"]
            if horizon is None:
                # First start: nobody was listening to us before.
                self.needed = False
                self._advance(snapshot, started)
                return
            missed, counts = self._missed(conn, horizon)
            todo = {w.key: w for _, what, w in missed if what == "write"}
            todo = {k: w for k, w in todo.items() if not self.emission.seen(k)}
            samples = self.fetch_samples(conn, list(todo.values())) if todo else {}
            before = self.health.emitted
            sent = alerted = 0
            for _, what, data in missed:
                if what == "alert":
                    alerted += self.emission.alert(data, started)
                elif what == "status":
                    self.emission.status(*data, started)
                elif what == "registered":
                    self.emission.registered(data, started, replay=True)
                elif what == "removed":
                    self.emission.removed(data, started, replay=True)
                elif data.key in samples:
                    sent += self.emission.write(data, samples[data.key], started)
        self.health.catch_ups += 1
        self.health.caught_up_samples += sent
        self.health.caught_up_alerts += alerted
        if self.health.emitted > before:
            log.info(
                "caught up %d write(s), %d sample(s), %d status change(s), %d alert event(s), "
                "%d server(s) registered or removed",
                len(todo),
                sent,
                counts["changes"],
                alerted,
                counts["servers"],
            )
        # The log of writes is pruned after log_retention, the outbox after a week.
        if started - self._horizon_taken > min(self.settings.log_retention, KEEP_DONE_SECONDS):
            # The log may have been pruned past our horizon: tell clients to
            # refetch what they show from the API.
            self.emission.send("resync", {"reason": "relay was disconnected too long"}, None)
        self.needed = False
        self._advance(snapshot, started)

    def fetch_samples(self, conn: Any, writes: list[Write]) -> dict[tuple, list[dict]]:
        """The samples of these writes, in one query; if a row cannot be read back,
        write by write, leaving out the writes that cannot. Each attempt in a
        savepoint: an error the server raises leaves the snapshot usable."""
        try:
            with conn.transaction():
                return self.emission.fetch_samples(conn, writes)
        except psycopg.DataError:
            pass  # one of them, at least: find which
        samples: dict[tuple, list[dict]] = {}
        for write in writes:
            try:
                with conn.transaction():
                    samples.update(self.emission.fetch_samples(conn, [write]))
            except psycopg.DataError as exc:
                self._skip(
                    write.key,
                    f"the samples of server {write.server_id} stored from "
                    f"{write.first.isoformat()} to {write.last.isoformat()}",
                    exc,
                )
        return samples

    def _skip(self, key: tuple, what: str, exc: psycopg.DataError) -> None:
        """A row the relay cannot read: said once (one line), counted, left out."""
        if key in self._skipped:
            return
        self._skipped.add(key)
        self.health.skipped_rows += 1
        log.warning("skipped %s, which cannot be read back: %s", what, one_line(exc))

    def _read_log(self, conn: Any, query: str, horizon: str, table: str) -> list[dict]:
        """The rows of one log the horizon does not see, but those the driver
        cannot convert (named in the warning by their first two columns)."""
        cursor = conn.execute(query, {"h": horizon})

        def skipped(position: int, exc: psycopg.DataError) -> None:
            names = [column.name for column in cursor.description[:2]]
            values = [cursor.pgresult.get_value(position, i) for i in range(2)]
            named = ", ".join(
                f"{name} {(value or b'').decode(errors='replace')}"
                for name, value in zip(names, values, strict=True)
            )
            self._skip((table, *values), f"a row of {table} ({named})", exc)

        return readable_rows(cursor, skipped)

    def _missed(self, conn: Any, horizon: str) -> tuple[list[tuple[tuple, str, Any]], dict]:
        """Every event the horizon does not see, in the order to emit them:
        (transaction, rank, order within it), and in each transaction alerts, status,
        samples, as their notifications are sent (alerts by triggers during the
        write, the rest at its end)."""
        writes = self._read_log(conn, MISSED_WRITES, horizon, "metric_writes")
        changes = self._read_log(conn, MISSED_CHANGES, horizon, "server_status_changes")
        alerts = self._read_log(conn, MISSED_ALERTS, horizon, "alert_notifications")
        servers = self._read_log(conn, MISSED_SERVER_EVENTS, horizon, "server_events")
        missed: list[tuple[tuple, str, Any]] = []
        # A registration comes first in its transaction, a removal last (after
        # what the removing transaction's row lock waited for).
        for e in servers:
            rank = 0 if e["event"] == "registered" else 4
            missed.append(((e["xid"], rank, e["id"]), e["event"], e["server_id"]))
        for a in alerts:
            event = {k: v for k, v in a["payload"].items() if k not in OUTBOX_ONLY}
            missed.append(((a["xid"], 1, a["id"]), "alert", event))
        for c in changes:
            status = (c["server_id"], c["is_active"], c["last_seen"])
            missed.append(((c["xid"], 2, c["id"]), "status", status))
        for r in writes:
            write = Write(r["server_id"], r["count"], r["first_at"], r["last_at"])
            missed.append(((r["xid"], 3, r["server_id"], r["first_at"]), "write", write))
        missed.sort(key=lambda m: m[0])
        return missed, {"changes": len(changes), "servers": len(servers)}
