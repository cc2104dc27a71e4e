"""The relay's feed: PostgreSQL notifications in, socket.io events out.

Three loops run in each relay process (greenlets under gevent):

* **listen** holds one dedicated autocommit connection, ``LISTEN vigie_events``,
  and moves every notification into a queue. Nothing else ever runs on that
  connection: a query there while ``notifies()`` holds it deadlocks. When it
  drops, it reconnects with backoff and listens again.
* **process** takes the queue in order, reads what a notification announces on a
  pooled connection (a metrics notification carries a time range, not rows) and
  emits the events.
* **sweep** runs the offline detection and prunes the catch-up log.

Catch-up. NOTIFY is not durable: whatever commits while the relay is not
listening is never delivered to it. Every write is also logged, with its
transaction id, in ``metric_writes`` and ``server_status_changes``
(sql/010_realtime.sql), and every alert fired or resolved in the webhook outbox
``alert_notifications`` (sql/020, sql/040). The relay keeps a *horizon*: a
snapshot such that every write that snapshot sees has been emitted. After
listening again it reads, in one snapshot taken after LISTEN, the log rows whose
transaction the horizon does not see: everything it may have missed, and perhaps
a few it did receive, which a record of what was emitted skips. Whatever commits
after that snapshot arrives by NOTIFY on the new connection.

The catch-up runs before the relay emits anything the new connection delivered,
and emits transaction by transaction, in the order of their ids; within one, alerts,
then status, then samples, as their notifications come live. For one server that
is commit order: the transactions that store its samples and status (vigie_ingest,
the offline sweep) queue on its ``servers`` row lock, and locking a row gives a
transaction its id if it had none (they write nothing before), so the one that
commits first has the smaller id. An alert's firing therefore comes before its
resolution. (A resolution by a rules change takes no such lock: racing a sample,
either order is true.)

The horizon moves forward while all is well: every ``check_seconds`` the relay
takes a snapshot S and, in a later transaction, NOTIFYs itself. Notifications are
delivered in queue order, and every transaction that S sees queued its
notification before that one: when the relay's own notification comes back, all
of them have been processed and S becomes the horizon. The same round trip
proves the LISTEN connection alive; if it does not come back within
``listen_timeout`` the relay reconnects.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from functions.app import isoformat
from functions.metrics import SAMPLE_FIELDS, rate_mb_s

from .config import RelaySettings
from .webhooks import KEEP_DONE_SECONDS

log = logging.getLogger("vigie.relay")

CHANNEL = "vigie_events"
ALL = "all"

# emit(event, data, rooms); rooms None means every connected client.
Emitter = Callable[[str, dict, "list[str] | None"], None]
Spawner = Callable[..., Any]


def server_room(server_id: int) -> str:
    return f"server:{server_id}"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# The samples one write stored: its rows are those of the range whose xmin is the
# transaction of its first row (a range can also hold older samples), newest
# first so a large batch can be cut; plus, per sample, the one stored before it
# for the network throughput.
FETCH_SAMPLES = f"""
SELECT w.ord, m.id, m.server_id, m.recorded_at, {", ".join("m." + c for c in SAMPLE_FIELDS)},
       p.recorded_at AS prev_at, p.network_sent_mb AS prev_sent,
       p.network_recv_mb AS prev_recv
  FROM unnest(%(servers)s::integer[], %(firsts)s::timestamptz[], %(lasts)s::timestamptz[])
       WITH ORDINALITY AS w(server_id, first_at, last_at, ord)
  -- LIMIT keeps these lookups per write (an index probe each): joined, the
  -- planner may hash the whole metrics table.
  CROSS JOIN LATERAL (
        SELECT f.xmin FROM metrics f
         WHERE f.server_id = w.server_id AND f.recorded_at = w.first_at LIMIT 1) f
  CROSS JOIN LATERAL (
        SELECT * FROM metrics m
         WHERE m.server_id = w.server_id
           AND m.recorded_at BETWEEN w.first_at AND w.last_at
           AND m.xmin = f.xmin
         ORDER BY m.recorded_at DESC
         LIMIT %(limit)s) m
  LEFT JOIN LATERAL (
        SELECT p.recorded_at, p.network_sent_mb, p.network_recv_mb FROM metrics p
         WHERE p.server_id = m.server_id AND p.recorded_at < m.recorded_at
         ORDER BY p.recorded_at DESC LIMIT 1) p ON true
 ORDER BY w.ord, m.recorded_at
"""  # noqa: S608 - column names are constants

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
# The webhook outbox holds each alert event as it was announced (plus the server's
# names, for the message text). Rows from before sql/040 have no xid: never read.
MISSED_ALERTS = """
SELECT xid::text::bigint AS xid, id, payload
  FROM alert_notifications
 WHERE xid >= pg_snapshot_xmin(%(h)s::pg_snapshot)
   AND NOT pg_visible_in_snapshot(xid, %(h)s::pg_snapshot)
"""
OUTBOX_ONLY = ("server_name", "hostname")


@dataclass
class Write:
    """A write that stored samples: what a metrics notification announces."""

    server_id: int
    count: int
    first: datetime
    last: datetime

    @property
    def key(self) -> tuple:
        # (server_id, recorded_at) is the primary key of metrics: two writes never
        # store the same first row, so this names one write.
        return ("m", self.server_id, self.first)


def status_key(server_id: int, is_active: bool, last_seen: datetime | None) -> tuple:
    return ("s", server_id, is_active, last_seen)


def alert_key(data: dict) -> tuple | None:
    # An alert fires once and resolves once: its id and state name one event. Its
    # start too, should ids ever be reused (a table emptied, a restored backup).
    alert_id, state = data.get("id"), data.get("state")
    if not (isinstance(alert_id, int) and isinstance(state, str)):
        return None
    try:
        return ("a", alert_id, state, parse_time(data.get("started_at")))
    except (TypeError, ValueError):
        return None


# A time with its UTC offset, as PostgreSQL's JSON writes timestamptz values (in
# the writer's session time zone: +00:00, +02:00...) and as Python writes them.
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:\d{2}){0,2})")


def wire(value: Any) -> Any:
    """An event's payload with every time as the API writes it: UTC, ending in Z,
    with the shortest exact fraction (functions.app.isoformat). Payloads built in
    SQL (alerts) carry PostgreSQL's format; this is the one place
    every event goes through, so a new field or event cannot miss it."""
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return isoformat(value)
    if isinstance(value, str) and TIME.fullmatch(value):
        try:
            return isoformat(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


@dataclass
class Check:
    """A horizon candidate, waiting for its notification to come back."""

    n: int
    snapshot: str
    started: float
    sent: float


@dataclass
class Health:
    listening: bool = False
    listening_since: float | None = None
    last_notification: float | None = None
    reconnects: int = 0
    catch_ups: int = 0
    caught_up_samples: int = 0
    caught_up_alerts: int = 0
    emitted: int = 0
    backend_pid: int | None = None
    last_error: str | None = None


class Feed:
    def __init__(self, settings: RelaySettings, emit: Emitter, database_url: str) -> None:
        self.settings = settings
        self.emit = emit
        self.url = database_url
        self.relay_id = secrets.token_hex(8)
        self.pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=settings.pool_size,
            kwargs={"row_factory": dict_row, "application_name": "vigie-relay"},
            timeout=5,
            # A connection left dead by a database restart is replaced before use.
            check=ConnectionPool.check_connection,
            name="vigie-relay",
            open=False,
        )
        self.health = Health()
        self._queue: queue.Queue = queue.Queue()
        self._stopping = False
        self._reconnect = False
        self._listened = False
        # Processor state (only the process loop touches it).
        self._horizon: str | None = None
        self._horizon_taken = 0.0
        self._horizons: deque[tuple[float, int]] = deque()  # (monotonic, xmin) for pruning
        self._need_catch_up = False
        self._check: Check | None = None
        self._checks_sent = 0
        self._last_check = 0.0
        self._checks_back = 0  # set by the listen loop
        # What was emitted since the horizon was taken: key -> monotonic receive time.
        self._seen: dict[tuple, float] = {}

    # -- life cycle -------------------------------------------------------------

    def start(self, spawn: Spawner) -> None:
        self.pool.open(wait=False)
        spawn(self._listen_forever)
        spawn(self._process_forever)
        spawn(self._sweep_forever)

    def stop(self) -> None:
        self._stopping = True
        self.pool.close()

    def status(self) -> dict:
        h = self.health
        now = time.monotonic()

        def ago(t: float | None) -> float | None:
            return None if t is None else round(now - t, 3)

        return {
            "listening": h.listening,
            "listening_for": ago(h.listening_since),
            # To find the LISTEN session in pg_stat_activity.
            "listen_backend_pid": h.backend_pid if h.listening else None,
            "last_notification_ago": ago(h.last_notification),
            "reconnects": h.reconnects,
            "catch_ups": h.catch_ups,
            "caught_up_samples": h.caught_up_samples,
            "caught_up_alerts": h.caught_up_alerts,
            "events_emitted": h.emitted,
            "queued": self._queue.qsize(),
            "last_error": h.last_error,
        }

    # -- listen -----------------------------------------------------------------

    def _listen_forever(self) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                self._listen_once()
            except psycopg.Error as exc:
                self.health.last_error = f"{type(exc).__name__}: {exc}".strip()
                log.warning("LISTEN connection lost: %s", self.health.last_error)
            except Exception as exc:  # never let the loop die: the relay would go silent
                self.health.last_error = f"{type(exc).__name__}: {exc}".strip()
                log.exception("LISTEN loop failed")
            finally:
                if self.health.listening:
                    # It listened: the next wait starts short again.
                    backoff = 0.5
                    self.health.listening = False
                    self.health.listening_since = None
            if self._stopping:
                return
            if self._reconnect:
                self._reconnect = False
                continue
            # Full jitter: several relays do not all knock at once after a restart.
            time.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, 10.0)

    def _listen_once(self) -> None:
        with psycopg.connect(
            self.url,
            autocommit=True,
            application_name="vigie-relay-listen",
            connect_timeout=5,
            # A peer that vanishes without closing (network cut) is noticed.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        ) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            if self._listened:
                self.health.reconnects += 1
            self._listened = True
            self.health.backend_pid = conn.info.backend_pid
            self.health.listening = True
            self.health.listening_since = time.monotonic()
            self.health.last_error = None
            log.info("listening on %s (backend %s)", CHANNEL, conn.info.backend_pid)
            # Everything committed from now on arrives here; what came before is
            # read from the log by the catch-up, which this item asks for.
            self._queue.put(("listening", None, time.monotonic()))
            while not self._stopping and not self._reconnect:
                for notify in conn.notifies(timeout=1.0):
                    received = time.monotonic()
                    self.health.last_notification = received
                    try:
                        payload = json.loads(notify.payload)
                    except ValueError:
                        log.warning("ignored a notification that is not JSON")
                        continue
                    if not isinstance(payload, dict):
                        continue
                    n = payload.get("n")
                    mine = payload.get("kind") == "relay-check" and payload.get("relay") == (
                        self.relay_id
                    )
                    if mine and isinstance(n, int):
                        self._checks_back = max(self._checks_back, n)
                    self._queue.put(("notify", payload, received))
                self._queue.put(("tick", None, time.monotonic()))

    # -- process ----------------------------------------------------------------

    def _process_forever(self) -> None:
        while not self._stopping:
            items = [self._queue.get()]
            while len(items) < 1000:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._handle(items)
            except Exception:  # never let the loop die: the relay would go silent
                log.exception("failed to handle notifications")
                self._lost_track("an unexpected error")
            try:
                self._housekeeping()
            except Exception:
                log.exception("relay housekeeping failed")

    def _lost_track(self, why: str) -> None:
        """Something announced could not be emitted: read it again from the log."""
        if not self._need_catch_up:
            log.warning("%s: will catch up from the log", why)
        self._need_catch_up = True
        self._check = None

    def _handle(self, items: list[tuple[str, Any, float]]) -> None:
        """Emit what a batch of queued items announces, in queue order. After a
        new LISTEN, what was missed before it is emitted first."""
        segment: list[tuple[str, Any, float]] = []
        for item in items:
            if item[0] == "listening":
                self._handle_notifications(segment)
                segment = []
                self._listening_again()
            else:
                segment.append(item)
        self._handle_notifications(segment)

    def _listening_again(self) -> None:
        """Catch up now, before what the new connection delivers: a client then
        sees a missed alert fire before it sees it resolve. While the database
        refuses, the new notifications wait, a while; then they go out and the
        catch-up keeps being retried (their order is then the only thing lost)."""
        self._need_catch_up = True
        self._check = None
        deadline = time.monotonic() + self.settings.listen_timeout
        delay = 0.1
        while not self._stopping:
            try:
                self._catch_up()
                return
            except (psycopg.Error, OSError) as exc:
                self.health.last_error = f"catch-up: {exc}"
                if time.monotonic() + delay > deadline:
                    log.warning("catch-up failed, will retry: %s", exc)
                    return
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _handle_notifications(self, items: list[tuple[str, Any, float]]) -> None:
        """Emit what these notifications announce, in order, with one query for the
        samples of all their writes."""
        if not items:
            return
        actions: list[tuple[str, Any, float]] = []
        for kind, payload, received in items:
            if kind != "notify":
                continue
            try:
                actions.extend(self._parse(payload, received))
            except (KeyError, TypeError, ValueError):
                log.warning("ignored a malformed notification: %r", payload)

        # A write announced twice (a reconnection may repeat a few) is read once.
        writes = {w.key: w for what, w, _ in actions if what == "write" and w.key not in self._seen}
        samples: dict[tuple, list[dict]] | None = {}
        if writes:
            try:
                samples = self._fetch_samples(writes.values())
            except (psycopg.Error, OSError) as exc:
                samples = None  # the log still has them: the catch-up reads them
                self._lost_track(f"could not read announced samples ({exc})")

        for what, data, received in actions:
            if what == "write":
                if samples is not None and data.key in samples:
                    self._emit_write(data, samples[data.key], received)
            elif what == "status":
                self._emit_status(*data, received)
            elif what == "alert":
                self._emit_alert(data, received)
            elif what == "check":
                self._check_came_back(data)
            else:
                self._send(what, data[0], data[1])

    def _parse(self, payload: dict, received: float) -> list[tuple[str, Any, float]]:
        what = payload.get("kind")
        if what == "metrics":
            server_id = int(payload["server_id"])
            actions = []
            if payload.get("online"):
                status = (server_id, True, parse_time(payload.get("last_seen")))
                actions.append(("status", status, received))
            if payload.get("count"):
                first, last = parse_time(payload["first"]), parse_time(payload["last"])
                if first is None or last is None:
                    raise ValueError("a metrics notification without its time range")
                write = Write(server_id, int(payload["count"]), first, last)
                actions.append(("write", write, received))
            return actions
        if what == "status":
            status = (
                int(payload["server_id"]),
                bool(payload["is_active"]),
                parse_time(payload.get("last_seen")),
            )
            return [("status", status, received)]
        if what == "alert":
            return [("alert", {k: v for k, v in payload.items() if k != "kind"}, received)]
        if what == "server":
            data = {k: v for k, v in payload.items() if k != "kind"}
            return [("server-update", (data, [ALL]), received)]
        if what == "relay-check" and payload.get("relay") == self.relay_id:
            return [("check", int(payload.get("n", 0)), received)]
        return []

    # -- emitting ---------------------------------------------------------------

    def _send(self, event: str, data: dict, rooms: list[str] | None) -> None:
        self.emit(event, wire(data), rooms)
        self.health.emitted += 1

    def _emit_alert(self, data: dict, received: float) -> bool:
        key = alert_key(data)
        if key is not None:
            if key in self._seen:
                return False
            self._seen[key] = received
        try:
            rooms = [server_room(int(data["server_id"])), ALL]
        except (KeyError, TypeError, ValueError):
            rooms = [ALL]
        self._send("alert", data, rooms)
        return True

    def _emit_status(
        self, server_id: int, is_active: bool, last_seen: datetime | None, received: float
    ) -> None:
        key = status_key(server_id, is_active, last_seen)
        if key in self._seen:
            return
        self._seen[key] = received
        data = {
            "server_id": server_id,
            "is_active": is_active,
            "last_seen": isoformat(last_seen) if last_seen else None,
        }
        self._send("server-status", data, [server_room(server_id), ALL])

    def _fetch_samples(self, writes: Iterable[Write], conn: Any = None) -> dict[tuple, list]:
        """The stored samples of these writes, oldest first (the newest
        `max_live_samples` of each), by write key."""
        todo = list(writes)
        params = {
            "servers": [w.server_id for w in todo],
            "firsts": [w.first for w in todo],
            "lasts": [w.last for w in todo],
            "limit": self.settings.max_live_samples,
        }
        if conn is None:
            with self.pool.connection() as c:
                rows = c.execute(FETCH_SAMPLES, params).fetchall()
        else:
            rows = conn.execute(FETCH_SAMPLES, params).fetchall()
        # Every write gets an entry: one whose rows are gone (deleted since) has
        # nothing left to send, and is done.
        found: dict[tuple, list[dict]] = {w.key: [] for w in todo}
        for row in rows:
            found[todo[row["ord"] - 1].key].append(row)
        return found

    def _emit_write(self, write: Write, samples: list[dict], received: float) -> int:
        if write.key in self._seen:
            return 0
        self._seen[write.key] = received
        if write.count > len(samples) and samples:
            data = {
                "server_id": write.server_id,
                "count": write.count,
                "first": isoformat(write.first),
                "last": isoformat(write.last),
                "live": len(samples),
            }
            self._send("metrics-backfill", data, [server_room(write.server_id)])
        for i, row in enumerate(samples):
            rooms = [server_room(write.server_id)]
            if i == len(samples) - 1:
                # The overview follows each server's latest values: the newest
                # sample of each write.
                rooms.append(ALL)
            self._send("metrics-update", sample_json(row), rooms)
        return len(samples)

    # -- horizon, catch-up ------------------------------------------------------

    def _housekeeping(self) -> None:
        if not self.health.listening:
            return
        now = time.monotonic()
        if self._need_catch_up:
            try:
                self._catch_up()
            except (psycopg.Error, OSError) as exc:
                self.health.last_error = f"catch-up: {exc}"
                log.warning("catch-up failed, will retry: %s", exc)
            return
        check = self._check
        if check is None:
            if now - self._last_check >= self.settings.check_seconds:
                self._send_check()
        elif self._checks_back < check.n and now - check.sent > self.settings.listen_timeout:
            # Our own NOTIFY did not come back: the LISTEN connection is not
            # delivering, whatever the socket says. Start over.
            log.warning("LISTEN connection silent for %.0fs: reconnecting", now - check.sent)
            self._check = None
            self._reconnect = True

    def _send_check(self) -> None:
        started = time.monotonic()
        self._last_check = started
        self._checks_sent += 1
        n = self._checks_sent
        payload = json.dumps({"kind": "relay-check", "relay": self.relay_id, "n": n})
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

    def _check_came_back(self, n: int) -> None:
        check = self._check
        if check is None or n != check.n:
            return
        self._check = None
        self._advance_horizon(check.snapshot, check.started)

    def _advance_horizon(self, snapshot: str, taken: float) -> None:
        self._horizon = snapshot
        self._horizon_taken = taken
        # Received before the snapshot was taken: committed before it, so it sees
        # them and no catch-up will read them again.
        self._seen = {k: t for k, t in self._seen.items() if t >= taken}
        self._horizons.append((taken, int(snapshot.split(":", 1)[0])))
        while len(self._horizons) > 1 and self._horizons[1][0] < taken - 2 * (
            self.settings.log_retention
        ):
            self._horizons.popleft()

    def _catch_up(self) -> None:
        started = time.monotonic()
        horizon = self._horizon
        with self.pool.connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            snapshot = conn.execute("SELECT pg_current_snapshot()::text AS s").fetchone()["s"]
            if horizon is None:
                # First start: nobody was listening to us before.
                self._need_catch_up = False
                self._advance_horizon(snapshot, started)
                return
            writes = conn.execute(MISSED_WRITES, {"h": horizon}).fetchall()
            changes = conn.execute(MISSED_CHANGES, {"h": horizon}).fetchall()
            alerts = conn.execute(MISSED_ALERTS, {"h": horizon}).fetchall()
            # (transaction, rank, order within it): transaction by transaction, and
            # in each, alerts, status, samples, as their notifications are sent
            # (alerts by triggers during the write, the rest at its end).
            missed: list[tuple[tuple, str, Any]] = []
            for a in alerts:
                event = {k: v for k, v in a["payload"].items() if k not in OUTBOX_ONLY}
                missed.append(((a["xid"], 0, a["id"]), "alert", event))
            for c in changes:
                status = (c["server_id"], c["is_active"], c["last_seen"])
                missed.append(((c["xid"], 1, c["id"]), "status", status))
            for r in writes:
                write = Write(r["server_id"], r["count"], r["first_at"], r["last_at"])
                missed.append(((r["xid"], 2, r["server_id"], r["first_at"]), "write", write))
            missed.sort(key=lambda m: m[0])
            todo = {w.key: w for _, what, w in missed if what == "write"}
            todo = {k: w for k, w in todo.items() if k not in self._seen}
            samples = self._fetch_samples(todo.values(), conn) if todo else {}
            before = self.health.emitted
            sent = alerted = 0
            for _, what, data in missed:
                if what == "alert":
                    alerted += self._emit_alert(data, started)
                elif what == "status":
                    self._emit_status(*data, started)
                elif data.key in samples:
                    sent += self._emit_write(data, samples[data.key], started)
        self.health.catch_ups += 1
        self.health.caught_up_samples += sent
        self.health.caught_up_alerts += alerted
        if self.health.emitted > before:
            log.info(
                "caught up %d write(s), %d sample(s), %d status change(s), %d alert event(s)",
                len(todo),
                sent,
                len(changes),
                alerted,
            )
        # The log of writes is pruned after log_retention, the outbox after a week.
        if started - self._horizon_taken > min(self.settings.log_retention, KEEP_DONE_SECONDS):
            # The log may have been pruned past our horizon: tell clients to
            # refetch what they show from the API.
            self._send("resync", {"reason": "relay was disconnected too long"}, None)
        self._need_catch_up = False
        self._advance_horizon(snapshot, started)

    # -- sweep ------------------------------------------------------------------

    def _sweep_forever(self) -> None:
        last_prune = time.monotonic()
        while not self._stopping:
            time.sleep(self.settings.sweep_seconds)
            try:
                with self.pool.connection() as conn:
                    flipped = conn.execute(
                        "SELECT * FROM vigie_sweep_offline(%s)", [self.settings.offline_after]
                    ).fetchall()
                for row in flipped:
                    log.info("server %s went offline (last seen %s)", *row.values())
                # Prune a few times per retention period (at most every minute).
                if time.monotonic() - last_prune > min(60.0, self.settings.log_retention / 4):
                    last_prune = time.monotonic()
                    self._prune()
            except (psycopg.Error, OSError) as exc:
                log.warning("offline sweep failed: %s", exc)

    def _prune(self) -> None:
        cutoff = time.monotonic() - self.settings.log_retention
        old = [xmin for taken, xmin in self._horizons if taken <= cutoff]
        if not old:
            return
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM metric_writes WHERE xid < %s::text::xid8", [str(old[-1])])

    # -- queries for the socket handlers -----------------------------------------

    def server_state(self, server_id: int) -> dict | None:
        with self.pool.connection() as conn:
            return conn.execute(
                "SELECT id, is_active, last_seen FROM servers WHERE id = %s", [server_id]
            ).fetchone()


def sample_json(row: dict) -> dict:
    """A stored sample as `metrics-update` carries it: the API's current-sample shape."""
    previous = None
    if row["prev_at"] is not None:
        previous = {
            "recorded_at": row["prev_at"],
            "network_sent_mb": row["prev_sent"],
            "network_recv_mb": row["prev_recv"],
        }
    data = {
        "id": row["id"],
        "server_id": row["server_id"],
        "recorded_at": isoformat(row["recorded_at"]),
    }
    for column in SAMPLE_FIELDS:
        data[column] = row[column]
    data["network_sent_mb_s"] = rate_mb_s(row, previous, "network_sent_mb")
    data["network_recv_mb_s"] = rate_mb_s(row, previous, "network_recv_mb")
    return data
