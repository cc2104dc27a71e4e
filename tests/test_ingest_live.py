"""The live write, vigie_ingest_live (one sample without wide fields, what
POST /api/metrics receives from each server every few seconds), does what
vigie_ingest does with the same sample: the same rows, server row, write log,
alerts, rollups and notifications, for any values, order, retries, old samples,
offline spells, roll-ups between writes and changes of the default rules. And
its one statement is what serves the common case: vigie_ingest is not called for
a quiet sample of an active server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.metrics import COLUMNS, INGEST_LIVE, INGEST_ONE

from .helpers import roll_up, sample

# Values on and around the lines of the rules below (thresholds 80 and 90, clear
# margins 5 and 10), and, as often, values far under them: the live write's own
# case, where no alert changes.
LINES = st.sampled_from([0.0, 50.0, 69.9, 70.0, 79.9, 80.0, 84.9, 85.0, 89.9, 90.0, 100.0])
VALUES = st.one_of(st.sampled_from([5.0, 20.0, 45.5, 60.0]), LINES)
DEFAULTS = [
    json.dumps({"cpu": 90, "ram": 90, "disk": 90, "for_samples": 2, "clear_margin": 5}),
    json.dumps({"cpu": 80, "ram": 90, "disk": 85, "for_samples": 1, "clear_margin": 10}),
]
# When a sample was taken: recent (in order, out of order or repeated), more than
# an hour ago, or older than the raw samples are kept (7 days).
RECENT = st.integers(0, 40).map(lambda i: ("recent", i))
MOMENTS = st.one_of(
    RECENT,
    RECENT,
    st.integers(0, 5).map(lambda i: ("hours", i)),
    st.integers(0, 2).map(lambda i: ("days", i)),
)

# Mostly samples; now and then something else happens.
SAMPLE = st.tuples(st.just("sample"), MOMENTS, VALUES, VALUES, VALUES)
STEPS = st.one_of(
    SAMPLE,
    SAMPLE,
    SAMPLE,
    SAMPLE,
    # The API's default rules change (a restart with other settings).
    st.tuples(st.just("rules")),
    st.tuples(st.just("offline")),
    st.tuples(st.just("roll_up")),
    st.tuples(st.just("wrong_token"), MOMENTS),
)


def moment(now: datetime, at: tuple[str, int]) -> datetime:
    kind, i = at
    if kind == "recent":
        return now - timedelta(minutes=50) + timedelta(seconds=5 * i)
    if kind == "hours":
        return now - timedelta(hours=2) + timedelta(seconds=5 * i)
    return now - timedelta(days=8) + timedelta(seconds=5 * i)


def params(server_id: int, token_hash: bytes, defaults: str, at: datetime, cpu, ram, disk):
    body = sample(recorded_at=at, cpu_percent=cpu, ram_percent=ram, disk_percent=disk)
    return [server_id, token_hash, defaults, *[body[c] for c in COLUMNS]]


SERVER_STATE = """
SELECT is_active, latest_at, latest_sent, latest_recv, latest_cpu, latest_ram, latest_disk,
       latest_load, latest_fs_id, latest_fs_percent, latest_top_at, rollup_from, writes,
       alert_band, alert_band_defaults, wide_band
  FROM servers WHERE id = %s
"""


def stored(db: psycopg.Connection, server_id: int) -> dict:
    """Everything the write path leaves for one server, without its ids."""
    return {
        "server": db.execute(SERVER_STATE, [server_id]).fetchone(),
        "samples": db.execute(
            "SELECT recorded_at, cpu_percent, ram_percent, disk_percent, network_sent_mb"
            " FROM metrics WHERE server_id = %s ORDER BY recorded_at",
            [server_id],
        ).fetchall(),
        "writes": db.execute(
            "SELECT count, first_at, last_at FROM metric_writes WHERE server_id = %s ORDER BY xid",
            [server_id],
        ).fetchall(),
        "alerts": db.execute(
            # An offline alert's times are the moments of the writes.
            "SELECT type, resolved_at IS NULL AS firing, value, threshold, peak, resolved_value,"
            " CASE WHEN type <> 'offline' THEN started_at END AS started_at,"
            " CASE WHEN type <> 'offline' THEN resolved_at END AS resolved_at"
            " FROM alerts WHERE server_id = %s ORDER BY id",
            [server_id],
        ).fetchall(),
        "over": db.execute(
            "SELECT over FROM alert_state WHERE server_id = %s", [server_id]
        ).fetchall(),
        "rollups": db.execute(
            "SELECT bucket, samples FROM metrics_1m WHERE server_id = %s ORDER BY bucket",
            [server_id],
        ).fetchall(),
    }


def announced(listener: psycopg.Connection, db: psycopg.Connection) -> dict[int, list]:
    """The notifications received since the last call, per server, without what
    differs between two servers (their ids, the moments of the writes)."""
    db.execute("NOTIFY vigie_events, 'end'")
    by_server: dict[int, list] = {}
    for note in listener.notifies(timeout=10):
        if note.payload == "end":
            break
        event = json.loads(note.payload)
        server_id = event.pop("server_id")
        for key in ("last_seen", "id"):
            event.pop(key, None)
        if event.get("type") == "offline":
            event.pop("started_at")
            event.pop("resolved_at")
        by_server.setdefault(server_id, []).append(event)
    return by_server


def new_server(db: psycopg.Connection, name: str) -> tuple[int, bytes]:
    row = db.execute(
        "INSERT INTO servers (name, hostname, token_hash) "
        "VALUES (%s, %s || gen_random_uuid(), sha256(%s::bytea)) RETURNING id, token_hash",
        [name, name, name],
    ).fetchone()
    return row["id"], row["token_hash"]


@pytest.fixture
def listener(direct_database_url):
    with psycopg.connect(direct_database_url, autocommit=True) as conn:
        conn.execute("LISTEN vigie_events")
        yield conn


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(steps=st.lists(STEPS, min_size=1, max_size=40))
def test_the_live_write_does_what_vigie_ingest_does(db, listener, steps):
    # Samples older than 7 days are past the raw horizon: added to the rollups at once.
    db.execute("UPDATE metrics_tiers SET cutoff = now() - interval '7 days' WHERE seconds = 0")
    general, general_hash = new_server(db, "general")
    live, live_hash = new_server(db, "live")
    now = datetime.now(UTC)
    answers: dict[int, list] = {general: [], live: []}
    rules = 0
    for step in steps:
        if step[0] == "rules":
            rules = 1 - rules
            continue
        if step[0] == "offline":
            # Both in one transaction: the same moment for their offline alerts.
            db.execute(
                "UPDATE servers SET is_active = false WHERE id = ANY (%s)", [[general, live]]
            )
            continue
        if step[0] == "roll_up":
            roll_up(db)
            continue
        for server_id, token_hash, query in (
            (general, general_hash, INGEST_ONE),
            (live, live_hash, INGEST_LIVE),
        ):
            extra = [None] if query is INGEST_ONE else []
            if step[0] == "wrong_token":
                values = params(server_id, b"x" * 32, DEFAULTS[0], moment(now, step[1]), 1, 2, 3)
                with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification):
                    db.execute(query, [*values, *extra])
            else:
                _, at, cpu, ram, disk = step
                at = moment(now, at)
                values = params(server_id, token_hash, DEFAULTS[rules], at, cpu, ram, disk)
                row = db.execute(query, [*values, *extra]).fetchone()
                when = db.execute(
                    "SELECT recorded_at FROM metrics WHERE id = %s", [row["ids"][0]]
                ).fetchone()
                answers[server_id].append(
                    (row["inserted"], row["duplicates"], row["online"], when["recorded_at"])
                )
    assert answers[live] == answers[general]
    roll_up(db)
    assert stored(db, live) == stored(db, general)
    events = announced(listener, db)
    assert events.get(live) == events.get(general)


def calls_of_vigie_ingest(db: psycopg.Connection, query: str, values: list) -> int:
    """How many times one write called vigie_ingest (in its own transaction). The
    counts a session has not yet reported stay in its view, so the difference."""
    count = (
        "SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_xact_user_functions"
        " WHERE funcname = 'vigie_ingest'"
    )
    with db.transaction():
        db.execute("SET LOCAL track_functions = 'all'")
        before = db.execute(count).fetchone()["n"]
        db.execute(query, values)
        return db.execute(count).fetchone()["n"] - before


def test_a_quiet_sample_of_an_active_server_is_one_statement_and_the_rest_is_vigie_ingest(db):
    server_id, token_hash = new_server(db, "live")
    now = datetime.now(UTC)

    def write(seconds_ago: float, cpu: float = 40.0, defaults: str = DEFAULTS[0]) -> int:
        at = now - timedelta(seconds=seconds_ago)
        return calls_of_vigie_ingest(
            db, INGEST_LIVE, params(server_id, token_hash, defaults, at, cpu, 50.0, 60.0)
        )

    # The first sample finds no alert band yet, and brings the server online.
    assert write(100) == 1
    # Quiet samples of an active server, with the band for these rules: one statement.
    assert write(95) == 0
    assert write(90, cpu=89.9) == 0
    # Each of these alone is left to vigie_ingest: a sample that may fire an alert,
    # other default rules, a duplicate, a sample more than an hour old, a server
    # back from offline.
    assert write(85, cpu=95.0) == 1
    assert write(80, defaults=DEFAULTS[1]) == 1
    assert write(78, defaults=DEFAULTS[1]) == 0
    assert write(80, defaults=DEFAULTS[1]) == 1
    assert write(2 * 3600, defaults=DEFAULTS[1]) == 1
    assert write(76, defaults=DEFAULTS[1]) == 0
    db.execute("UPDATE servers SET is_active = false WHERE id = %s", [server_id])
    assert write(75, defaults=DEFAULTS[1]) == 1
    assert write(70, defaults=DEFAULTS[1]) == 0
