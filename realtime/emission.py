"""Emission: what the relay sends, to which rooms, in which shape.

Every event goes through ``Emission.send`` (times written as the API writes them,
vigie.wire). A record of what was emitted since the horizon was taken
(``seen``) makes each sample, status change and alert go out once, whether it
arrives live or is read again by a catch-up.

Rooms: ``server:<id>`` for the browsers watching one server, ``all`` for the
overview (``join-all``). A server's room gets every sample; the overview gets, at
most once per ``fleet_seconds``, one ``fleet-update`` with the latest state of each
server that changed (``Fleet``): a person reads a thousand servers, not a thousand
events a second. Status changes, alerts and registrations go to it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigie.wire import (
    DICTIONARY_COLUMNS,
    SAMPLE_FIELDS,
    WIDE_COLUMNS,
    isoformat,
    wide_sample,
    wire,
)

from .health import Health

ALL = "all"

# emit(event, data, rooms); rooms None means every connected client.
Emitter = Callable[[str, dict, "list[str] | None"], None]


def server_room(server_id: int) -> str:
    return f"server:{server_id}"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class Write:
    """A write that stored samples: what a metrics notification announces.

    ``latest`` is its newest sample's values as the notification carries them
    (``{"recorded_at": datetime, "cpu_percent", "ram_percent", "disk_percent"}``),
    None when it does not (the catch-up's log, routines older than the relay);
    ``last_seen`` when the server was last heard of, if said."""

    server_id: int
    count: int
    first: datetime
    last: datetime
    latest: dict | None = None
    last_seen: datetime | None = None

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


# The samples one write stored: its rows are those of the range whose xmin is the
# transaction of its first row (a range can also hold older samples), newest
# first so a large batch can be cut; with, per sample, the throughput since the
# one stored before it (the counter rule is the database's: vigie_sample_rates).
FETCH_SAMPLES = f"""
SELECT w.ord, m.id, m.server_id, m.recorded_at,
       {", ".join("m." + c for c in (*SAMPLE_FIELDS, *WIDE_COLUMNS))}, m.top_processes,
       r.network_sent_mb_s, r.network_recv_mb_s, sr.*,
       {", ".join("s." + c for c in DICTIONARY_COLUMNS)}
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
  CROSS JOIN LATERAL vigie_sample_rates(m.server_id, m.recorded_at, m.network_sent_mb,
                                        m.network_recv_mb) r
  CROSS JOIN LATERAL vigie_series_rates(m::metrics) sr
  JOIN servers s ON s.id = m.server_id
 ORDER BY w.ord, m.recorded_at
"""  # noqa: S608 - column names are constants


# metrics is partitioned by time: planned for its parameters, FETCH_SAMPLES costs
# ~8 ms of planning (pruning the partitions) for ~1 ms of work, on every
# notification. Prepared (psycopg does after a few runs) with the generic plan,
# the partitions are pruned when it runs and the plan is made once per
# connection. PostgreSQL keeps choosing custom plans for it on its own (their
# estimate is lower), so the relay says so, for its own transaction only.
GENERIC_PLAN = "SET LOCAL plan_cache_mode = force_generic_plan"


def sample_json(row: dict) -> dict:
    """A stored sample as `metrics-update` carries it: the API's current-sample shape."""
    data = {
        "id": row["id"],
        "server_id": row["server_id"],
        "recorded_at": isoformat(row["recorded_at"]),
    }
    for column in SAMPLE_FIELDS:
        data[column] = row[column]
    data["network_sent_mb_s"] = row["network_sent_mb_s"]
    data["network_recv_mb_s"] = row["network_recv_mb_s"]
    data.update(wide_sample(row))
    # This sample's own top processes, when it carried them.
    data["top_processes"] = row["top_processes"]
    data["top_processes_at"] = (
        isoformat(row["recorded_at"]) if row["top_processes"] is not None else None
    )
    return data


LATEST_FIELDS = ("cpu_percent", "ram_percent", "disk_percent")


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_fullest(value: Any) -> dict | None:
    """A notification's fullest filesystem, or None (none reported, or a bad one)."""
    if (
        isinstance(value, dict)
        and isinstance(value.get("mount"), str)
        and number(value.get("percent"))
    ):
        return {"mount": value["mount"], "percent": value["percent"]}
    return None


def parse_latest(value: Any) -> dict | None:
    """A notification's ``latest`` object, or None when it has none (or a bad one).
    Its wide part (load per core, fullest filesystem) is optional: None if absent."""
    if not isinstance(value, dict):
        return None
    try:
        latest = {"recorded_at": parse_time(value["recorded_at"])}
        for name in LATEST_FIELDS:
            if not number(value[name]):
                return None
            latest[name] = value[name]
    except (KeyError, TypeError, ValueError):
        return None
    load = value.get("load_per_core")
    latest["load_per_core"] = load if number(load) else None
    latest["fs_fullest"] = parse_fullest(value.get("fs_fullest"))
    return latest if latest["recorded_at"] is not None else None


class Fleet:
    """What the overview is still to be told: per server that changed since the
    last ``fleet-update``, its newest values (by ``recorded_at``: a late older
    sample never replaces a newer one), whether it is active, when it was last
    heard of. One entry per server, however often it writes; sent, it is gone.
    (Between periods, the notification's values are the server's newest stored
    sample, so a late batch does not bring older values either.)

    Each entry is kept as the event carries it (times written as the API writes
    them) as it changes, so the period's `fleet-update` is only collected, never
    converted in one go: thousands of servers would hold the relay's loop (and
    every room's samples) for tens of milliseconds each period."""

    def __init__(self) -> None:
        # server_id -> [newest sample time, last seen, the entry as sent]
        self._pending: dict[int, list] = {}

    def sample(self, server_id: int, latest: dict, last_seen: datetime | None) -> None:
        seen = last_seen or latest["recorded_at"]
        pending = self._pending.get(server_id)
        if pending is None:
            self._pending[server_id] = [
                latest["recorded_at"],
                seen,
                {
                    "server_id": server_id,
                    "is_active": True,  # it wrote: the write marked it active
                    "last_seen": isoformat(seen),
                    "latest": wire(latest),
                },
            ]
            return
        newest, last, entry = pending
        if latest["recorded_at"] > newest:
            pending[0] = latest["recorded_at"]
            entry["latest"] = wire(latest)
            entry["is_active"] = True
        if seen > last:
            pending[1] = seen
            entry["last_seen"] = isoformat(seen)

    def status(self, server_id: int, is_active: bool, last_seen: datetime | None) -> None:
        """A status change goes out at once as `server-status`; what is still to
        send must not say otherwise afterwards."""
        pending = self._pending.get(server_id)
        if pending is not None:
            pending[2]["is_active"] = is_active
            if last_seen is not None and last_seen > pending[1]:
                pending[1] = last_seen
                pending[2]["last_seen"] = isoformat(last_seen)

    def forget(self, server_id: int) -> None:
        """A removed server: nothing more to say about it."""
        self._pending.pop(server_id, None)

    def take(self) -> list[dict]:
        """The entries of the servers that changed since the last call, as sent."""
        pending, self._pending = self._pending, {}
        return [entry for _, _, entry in pending.values()]


def newest_of(samples: list[dict]) -> dict | None:
    """The overview's values from the newest of some stored samples (sample_json)."""
    if not samples:
        return None
    row = max(samples, key=lambda r: r["recorded_at"])
    latest = {"recorded_at": row["recorded_at"], **{name: row[name] for name in LATEST_FIELDS}}
    load, cpus = row.get("load_1"), row.get("cpu_count")
    latest["load_per_core"] = load / cpus if number(load) and cpus else None
    fullest = max(
        (f for f in row.get("filesystems") or [] if number(f.get("percent"))),
        key=lambda f: f["percent"],
        default=None,
    )
    latest["fs_fullest"] = parse_fullest(fullest)
    return latest


class Emission:
    def __init__(self, emit: Emitter, health: Health, max_live_samples: int) -> None:
        self.emit = emit
        self.health = health
        self.max_live_samples = max_live_samples
        self.fleet = Fleet()
        # What was emitted since the horizon was taken: key -> monotonic receive time.
        self._seen: dict[tuple, float] = {}
        # The overviews of share links (a room each): the servers each may see. What
        # goes to the overview goes to those of them that see its server.
        self.scoped: dict[str, frozenset[int]] = {}

    # -- the record of what was sent ----------------------------------------------

    def seen(self, key: tuple) -> bool:
        return key in self._seen

    def forget_before(self, taken: float) -> None:
        """Received before a horizon taken at ``taken``: committed before it, so it
        sees them and no catch-up will read them again."""
        self._seen = {k: t for k, t in self._seen.items() if t >= taken}

    # -- events -------------------------------------------------------------------

    def send(self, event: str, data: dict, rooms: list[str] | None, wired: bool = False) -> None:
        """Emit an event; ``wired``: its times are already written as the API
        writes them."""
        self.emit(event, data if wired else wire(data), rooms)
        self.health.emitted += 1

    def overviews(self, server_id: int) -> list[str]:
        """The overview rooms an event of this server goes to."""
        return [ALL, *(room for room, ids in self.scoped.items() if server_id in ids)]

    # A server's registration and removal are named by its id alone (their
    # notifications carry nothing else): one delivered live always goes out, since
    # ids are reused only after the tables are emptied; one read again by the
    # catch-up goes out unless it already went out live.

    def registered(self, server_id: int, received: float, replay: bool = False) -> bool:
        """A new server: the overview is told (`server-update`), once."""
        key = ("registered", server_id)
        if replay and key in self._seen:
            return False
        self._seen[key] = received
        self.send("server-update", {"server_id": server_id, "event": "registered"}, [ALL])
        return True

    def removed(self, server_id: int, received: float, replay: bool = False) -> bool:
        """A server was removed: its room and every overview are told, once, and
        what the overview was still to be told of it is dropped."""
        key = ("removed", server_id)
        if replay and key in self._seen:
            return False
        self._seen[key] = received
        self.fleet.forget(server_id)
        self.send(
            "server-removed",
            {"server_id": server_id},
            [server_room(server_id), *self.overviews(server_id)],
        )
        return True

    def updated(self, data: dict) -> None:
        """A server was renamed or tagged: its status, with its name and tags, to its
        room and the overviews; and `server-update` to the overviews."""
        server_id = int(data["server_id"])
        details = {"name": data.get("name"), "tags": data.get("tags") or []}
        status = {
            "server_id": server_id,
            "is_active": bool(data.get("is_active")),
            "last_seen": data.get("last_seen"),
            **details,
        }
        self.send("server-status", status, [server_room(server_id), *self.overviews(server_id)])
        self.send(
            "server-update",
            {"server_id": server_id, "event": "updated", **details},
            self.overviews(server_id),
        )

    def alert(self, data: dict, received: float) -> bool:
        key = alert_key(data)
        if key is not None:
            if key in self._seen:
                return False
            self._seen[key] = received
        try:
            server_id = int(data["server_id"])
            rooms = [server_room(server_id), *self.overviews(server_id)]
        except (KeyError, TypeError, ValueError):
            rooms = [ALL]
        self.send("alert", data, rooms)
        return True

    def status(
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
        self.fleet.status(server_id, is_active, last_seen)
        self.send("server-status", data, [server_room(server_id), *self.overviews(server_id)])

    def fetch_samples(self, conn: Any, writes: Iterable[Write]) -> dict[tuple, list[dict]]:
        """The stored samples of these writes, oldest first (the newest
        `max_live_samples` of each), by write key."""
        todo = list(writes)
        params = {
            "servers": [w.server_id for w in todo],
            "firsts": [w.first for w in todo],
            "lasts": [w.last for w in todo],
            "limit": self.max_live_samples,
        }
        # One round trip: the generic plan for this transaction, then the query.
        with conn.pipeline():
            conn.execute(GENERIC_PLAN)
            cursor = conn.execute(FETCH_SAMPLES, params)
        rows = cursor.fetchall()
        # Every write gets an entry: one whose rows are gone (deleted since) has
        # nothing left to send, and is done.
        found: dict[tuple, list[dict]] = {w.key: [] for w in todo}
        for row in rows:
            found[todo[row["ord"] - 1].key].append(row)
        return found

    def write(self, write: Write, samples: list[dict] | None, received: float) -> int:
        """Emit a write: every sample (``samples``, as fetched) to the server's room,
        its newest values to the fleet. ``samples`` is None when nobody watches the
        room and the notification carries the newest values: nothing was read."""
        if write.key in self._seen:
            return 0
        self._seen[write.key] = received
        latest = write.latest or newest_of(samples or [])
        if latest is not None:
            self.fleet.sample(write.server_id, latest, write.last_seen)
        if not samples:
            return 0
        room = [server_room(write.server_id)]
        if write.count > len(samples):
            data = {
                "server_id": write.server_id,
                "count": write.count,
                "first": isoformat(write.first),
                "last": isoformat(write.last),
                "live": len(samples),
            }
            self.send("metrics-backfill", data, room)
        for row in samples:
            self.send("metrics-update", sample_json(row), room)
        return len(samples)

    def flush_fleet(self, watched: bool = True) -> int:
        """One `fleet-update` with the servers that changed since the last one
        (none sent when nothing changed); the number of servers in it."""
        entries = self.fleet.take()
        if not entries:
            return 0
        for room, ids in list(self.scoped.items()):
            mine = [e for e in entries if e["server_id"] in ids]
            if mine:
                self.send("fleet-update", {"servers": mine}, [room], wired=True)
        if not watched:
            return 0
        self.send("fleet-update", {"servers": entries}, [ALL], wired=True)
        return len(entries)
