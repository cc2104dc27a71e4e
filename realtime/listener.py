"""Listening: one dedicated autocommit connection, ``LISTEN vigie_events``, every
notification moved into a queue in the order PostgreSQL delivers them.

Nothing else ever runs on that connection: a query there while ``notifies()`` holds
it deadlocks. When it drops, the listener reconnects with backoff and listens
again, and puts a ``listening`` item in the queue: what was committed before it is
the catch-up's to read (realtime/catchup.py).

Queue items are ``(kind, payload, received)``: ``("listening", None, t)``,
``("notify", payload, t)`` and ``("tick", None, t)`` (at least once a second, so the
processor's housekeeping runs when nothing is written).
"""

from __future__ import annotations

import json
import logging
import queue
import random
import time

import psycopg

from .backoff import Backoff
from .health import Health

log = logging.getLogger("vigie.relay")

CHANNEL = "vigie_events"


class Listener:
    def __init__(self, url: str, out: queue.Queue, relay_id: str, health: Health) -> None:
        self.url = url
        self.out = out
        self.relay_id = relay_id
        self.health = health
        self.stopping = False
        self._reconnect = False
        self._listened = False
        # The highest number of this relay's own check notifications seen back.
        self.checks_back = 0

    def reconnect(self) -> None:
        """Drop the connection and listen again (it is not delivering)."""
        self._reconnect = True

    def run_forever(self) -> None:
        backoff = Backoff(0.5, 10.0)
        while not self.stopping:
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
                    backoff.reset()
                    self.health.listening = False
                    self.health.listening_since = None
            if self.stopping:
                return
            if self._reconnect:
                self._reconnect = False
                continue
            # Full jitter: several relays do not all knock at once after a restart.
            wait = backoff.next()
            time.sleep(random.uniform(wait / 2, wait))

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
            self.out.put(("listening", None, time.monotonic()))
            while not self.stopping and not self._reconnect:
                for notify in conn.notifies(timeout=1.0):
                    self._received(notify.payload)
                self.out.put(("tick", None, time.monotonic()))

    def _received(self, text: str) -> None:
        received = time.monotonic()
        self.health.last_notification = received
        try:
            payload = json.loads(text)
        except ValueError:
            log.warning("ignored a notification that is not JSON")
            return
        if not isinstance(payload, dict):
            return
        n = payload.get("n")
        mine = payload.get("kind") == "relay-check" and payload.get("relay") == self.relay_id
        if mine and isinstance(n, int):
            self.checks_back = max(self.checks_back, n)
        self.out.put(("notify", payload, received))
