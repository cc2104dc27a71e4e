"""The relay's feed: PostgreSQL notifications in, socket.io events out.

Four loops run in each relay process (greenlets under gevent), each its own part:

* **listen** (realtime/listener.py) holds the LISTEN connection and queues every
  notification;
* **process** (here) takes the queue in order, reads what a notification announces
  on a pooled connection (a metrics notification carries a time range and the
  newest sample's values, not rows), and hands it to the emission
  (realtime/emission.py); after a new LISTEN, the catch-up (realtime/catchup.py)
  first emits what was missed;
* **fleet** (here) sends the overview, every ``fleet_seconds``, the latest state
  of the servers that changed;
* **upkeep** (realtime/upkeep.py) runs the offline sweep, prunes the catch-up log,
  and offers to run history maintenance.

Samples are read only for the rooms someone watches: the overview needs only the
values the notification carries. (A notification without them, from routines
older than this relay, is read as before.)
"""

from __future__ import annotations

import logging
import queue
import secrets
import time
from collections.abc import Callable
from typing import Any

import psycopg

from vigie.db import make_pool
from vigie.settings import RelaySettings

from .catchup import CatchUp
from .emission import ALL, Emission, Emitter, Write, parse_latest, parse_time, server_room
from .health import Health
from .listener import Listener
from .upkeep import Upkeep

log = logging.getLogger("vigie.relay")

Spawner = Callable[..., Any]
# watched(room): does this room have members here?
Watched = Callable[[str], bool]

__all__ = ["ALL", "Feed", "server_room"]


def parse(payload: dict, received: float, relay_id: str) -> list[tuple[str, Any, float]]:
    """What one notification asks the relay to do, as (action, data, received)."""
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
            write = Write(
                server_id,
                int(payload["count"]),
                first,
                last,
                latest=parse_latest(payload.get("latest")),
                last_seen=parse_time(payload.get("last_seen")),
            )
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
        if data.get("event") == "removed":
            return [("removed", int(data["server_id"]), received)]
        if data.get("event") == "registered":
            return [("registered", int(data["server_id"]), received)]
        if data.get("event") == "updated":
            return [("updated", data, received)]
        return [("server-update", (data, [ALL]), received)]
    if what in ("silence", "share"):
        # For the relay's other parts (the notification sender, the share links'
        # sockets): see Feed.on_event.
        return [("event", payload, received)]
    if what == "relay-check" and payload.get("relay") == relay_id:
        return [("check", int(payload.get("n", 0)), received)]
    return []


class Feed:
    def __init__(
        self,
        settings: RelaySettings,
        emit: Emitter,
        database_url: str,
        watched: Watched = lambda room: True,
    ) -> None:
        self.settings = settings
        # Told of every silence and share link notification (set by the relay).
        self.on_event: Callable[[dict], None] = lambda payload: None
        self.watched = watched
        self.url = database_url
        self.relay_id = secrets.token_hex(8)
        self.pool = make_pool(database_url, name="vigie-relay", max_size=settings.pool_size)
        self.health = Health()
        self._queue: queue.Queue = queue.Queue()
        self._stopping = False
        self.listener = Listener(database_url, self._queue, self.relay_id, self.health)
        self.emission = Emission(emit, self.health, settings.max_live_samples)
        self.catch_up = CatchUp(self.pool, self.emission, self.listener, settings, self.health)
        self.upkeep = Upkeep(self.pool, settings, self.catch_up.prunable_xid)

    # -- life cycle -------------------------------------------------------------

    def start(self, spawn: Spawner) -> None:
        self.pool.open(wait=False)
        spawn(self.listener.run_forever)
        spawn(self._process_forever)
        spawn(self._fleet_forever)
        spawn(self.upkeep.sweep_forever)

    def stop(self) -> None:
        self._stopping = True
        self.listener.stopping = True
        self.upkeep.stopping = True
        self.pool.close()

    def status(self) -> dict:
        return self.health.report(self._queue.qsize())

    # -- fleet ------------------------------------------------------------------

    def _fleet_forever(self) -> None:
        """One `fleet-update` per period at most: the processing loop only records
        what changed (one entry per server), this sends it."""
        while not self._stopping:
            time.sleep(self.settings.fleet_seconds)
            try:
                self.emission.flush_fleet(self.watched(ALL))
            except Exception:  # never let the loop die: the overview would go still
                log.exception("failed to send the fleet update")

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
                self.catch_up.lost_track("an unexpected error")
            try:
                self.catch_up.housekeeping()
            except Exception:
                log.exception("relay housekeeping failed")

    def _handle(self, items: list[tuple[str, Any, float]]) -> None:
        """Emit what a batch of queued items announces, in queue order. After a
        new LISTEN, what was missed before it is emitted first."""
        segment: list[tuple[str, Any, float]] = []
        for item in items:
            if item[0] == "listening":
                self._handle_notifications(segment)
                segment = []
                self.catch_up.listening_again(lambda: self._stopping)
            else:
                segment.append(item)
        self._handle_notifications(segment)

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
                actions.extend(parse(payload, received, self.relay_id))
            except (KeyError, TypeError, ValueError):
                log.warning("ignored a malformed notification: %r", payload)

        # A write announced twice (a reconnection may repeat a few) is read once,
        # and only if its room has members or its notification lacks the values
        # the fleet needs.
        writes = {
            w.key: w
            for what, w, _ in actions
            if what == "write"
            and not self.emission.seen(w.key)
            and (w.latest is None or self.watched(server_room(w.server_id)))
        }
        samples: dict[tuple, list[dict]] | None = {}
        if writes:
            try:
                with self.pool.connection() as conn:
                    samples = self.emission.fetch_samples(conn, writes.values())
            except (psycopg.Error, OSError) as exc:
                samples = None  # the log still has them: the catch-up reads them
                self.catch_up.lost_track(f"could not read announced samples ({exc})")

        for what, data, received in actions:
            if what == "write":
                if samples is not None and data.key in samples:
                    self.emission.write(data, samples[data.key], received)
                elif data.key not in writes and data.latest is not None:
                    self.emission.write(data, None, received)
            elif what == "status":
                self.emission.status(*data, received)
            elif what == "alert":
                self.emission.alert(data, received)
            elif what == "check":
                self.catch_up.check_came_back(data)
            elif what == "removed":
                self.emission.removed(data, received)
            elif what == "registered":
                self.emission.registered(data, received)
            elif what == "updated":
                self.emission.updated(data)
            elif what == "event":
                self.on_event(data)
            else:
                self.emission.send(what, data[0], data[1])

    # -- queries for the socket handlers -----------------------------------------

    def server_state(self, server_id: int) -> dict | None:
        with self.pool.connection() as conn:
            return conn.execute(
                "SELECT id, is_active, last_seen FROM servers WHERE id = %s", [server_id]
            ).fetchone()
