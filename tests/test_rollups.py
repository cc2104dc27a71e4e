"""Rollups: the minute and hour rows equal the same aggregation of the raw samples,
however the samples arrive (late, twice, across counter resets), and history read
through them gives the numbers the raw samples give."""

from __future__ import annotations

import math
import struct
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from functions.factory import create_app
from functions.history import INTERVALS, history_query, plan

from .helpers import iso, mark_loaded, roll_up, sample

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
GAUGES = ["cpu_percent", "ram_percent", "ram_used_mb", "ram_total_mb", "disk_percent",
          "disk_used_gb", "disk_total_gb"]  # fmt: skip


def real(value: float) -> float:
    """The value a `real` column stores."""
    return struct.unpack("f", struct.pack("f", value))[0]


def floor_to(moment: datetime, seconds: int) -> datetime:
    step = timedelta(seconds=seconds)
    return ORIGIN + ((moment - ORIGIN) // step) * step


@dataclass
class Bucket:
    samples: int = 0
    sums: dict | None = None
    peaks: dict | None = None
    seconds: float = 0.0
    sent: float = 0.0
    recv: float = 0.0
    sent_rate: float | None = None
    recv_rate: float | None = None
    last_at: datetime | None = None
    last_sent: float = 0.0
    last_recv: float = 0.0


def increment(previous: float, current: float) -> float:
    # A counter that went down was reset and restarted from zero.
    return current if current < previous else current - previous


def expected_buckets(samples: list[dict], seconds: int, start=None, end=None) -> dict:
    """The oracle: buckets computed in Python from every sample stored, each
    sample's counter increment taken from the sample before it (in range or not)."""
    ordered = sorted(samples, key=lambda s: s["at"])
    buckets: dict[datetime, Bucket] = {}
    for i, s in enumerate(ordered):
        if (start and s["at"] < start) or (end and s["at"] > end):
            continue
        b = buckets.setdefault(floor_to(s["at"], seconds), Bucket(sums={}, peaks={}))
        b.samples += 1
        for g in GAUGES:
            b.sums[g] = b.sums.get(g, 0.0) + real(s[g])
            b.peaks[g] = max(b.peaks.get(g, 0.0), real(s[g]))
        if i > 0:
            prev = ordered[i - 1]
            dt = (s["at"] - prev["at"]).total_seconds()
            inc_sent = increment(prev["network_sent_mb"], s["network_sent_mb"])
            inc_recv = increment(prev["network_recv_mb"], s["network_recv_mb"])
            b.seconds += dt
            b.sent += inc_sent
            b.recv += inc_recv
            b.sent_rate = max(b.sent_rate or 0.0, inc_sent / dt)
            b.recv_rate = max(b.recv_rate or 0.0, inc_recv / dt)
        b.last_at, b.last_sent, b.last_recv = s["at"], s["network_sent_mb"], s["network_recv_mb"]
    return buckets


def close(a, b, rel=1e-9, abs_=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def check_rows(db, server_id: int, samples: list[dict], seconds: int) -> None:
    expected = expected_buckets(samples, seconds)
    rows = db.execute(
        "SELECT * FROM metrics_rollup WHERE server_id = %s AND seconds = %s ORDER BY bucket",
        [server_id, seconds],
    ).fetchall()
    assert [r["bucket"] for r in rows] == sorted(expected)
    for row in rows:
        b = expected[row["bucket"]]
        assert row["samples"] == b.samples
        for g in ["cpu_percent", "ram_percent", "ram_used_mb", "disk_percent", "disk_used_gb"]:
            assert close(row[f"{g}_sum"], b.sums[g]), g
        for g in ["cpu_percent", "ram_percent", "ram_total_mb", "disk_percent", "disk_total_gb"]:
            assert real(row[f"{g}_max"]) == b.peaks[g], g
        assert close(row["network_seconds"], b.seconds)
        assert close(row["network_sent_mb_inc"], b.sent)
        assert close(row["network_recv_mb_inc"], b.recv)
        assert close(row["network_sent_mb_s_max"], b.sent_rate)
        assert close(row["network_recv_mb_s_max"], b.recv_rate)
        assert row["last_at"] == b.last_at
        assert row["network_sent_mb_last"] == b.last_sent
        assert row["network_recv_mb_last"] == b.last_recv


def check_history(points: list[dict], samples: list[dict], seconds: int, start, end) -> None:
    expected = expected_buckets(samples, seconds, start, end)
    assert [p["recorded_at"] for p in points] == [iso(b) for b in sorted(expected)]
    for point, key in zip(points, sorted(expected), strict=True):
        b = expected[key]
        assert point["samples"] == b.samples
        for g in ["cpu_percent", "ram_percent", "ram_used_mb", "disk_percent", "disk_used_gb"]:
            # Averages are rounded to 2 decimals; summing in another order may tip one.
            assert point[g] == pytest.approx(b.sums[g] / b.samples, abs=0.0051), g
        for g in ["cpu_percent", "ram_percent", "disk_percent"]:
            assert point[f"{g}_max"] == b.peaks[g]
        assert point["ram_total_mb"] == b.peaks["ram_total_mb"]
        assert point["disk_total_gb"] == b.peaks["disk_total_gb"]
        assert point["network_sent_mb"] == b.last_sent
        assert point["network_recv_mb"] == b.last_recv
        if b.seconds:
            assert point["network_sent_mb_s"] == pytest.approx(b.sent / b.seconds, abs=1e-6)
            assert point["network_recv_mb_s"] == pytest.approx(b.recv / b.seconds, abs=1e-6)
            assert point["network_sent_mb_s_max"] == pytest.approx(b.sent_rate, abs=1e-6)
            assert point["network_recv_mb_s_max"] == pytest.approx(b.recv_rate, abs=1e-6)
        else:
            assert point["network_sent_mb_s"] is None
            assert point["network_sent_mb_s_max"] is None


def as_payload(s: dict) -> dict:
    return sample(
        recorded_at=iso(s["at"]),
        **{g: s[g] for g in GAUGES},
        network_sent_mb=s["network_sent_mb"],
        network_recv_mb=s["network_recv_mb"],
    )


# --- generated histories ---------------------------------------------------------

percent = st.integers(0, 10000).map(lambda x: x / 100)
size = st.integers(0, 10**7).map(lambda x: x / 100)
# Mostly the collector's few seconds, sometimes an outage that skips minutes or hours.
gap = st.one_of(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20), st.integers(21, 7200))
# A counter grows, or the host rebooted and it restarted near zero.
step = st.one_of(
    st.integers(0, 100000).map(lambda x: ("grow", x / 1000)),
    st.integers(0, 5000).map(lambda x: ("reset", x / 1000)),
)


@st.composite
def histories(draw):
    """Samples of one server (strictly increasing times, from an unaligned start),
    and the order they arrive in: batches sent in any order, some sent twice."""
    count = draw(st.integers(1, 60))
    at = T0 + timedelta(seconds=draw(st.integers(0, 3599)), milliseconds=draw(st.integers(0, 999)))
    sent, recv = draw(size), draw(size)
    samples = []
    for _ in range(count):
        sample_values = {g: draw(percent if g.endswith("percent") else size) for g in GAUGES}
        kind, amount = draw(step)
        sent = round(sent + amount, 3) if kind == "grow" else amount
        kind, amount = draw(step)
        recv = round(recv + amount, 3) if kind == "grow" else amount
        samples.append(
            {"at": at, **sample_values, "network_sent_mb": sent, "network_recv_mb": recv}
        )
        at += timedelta(seconds=draw(gap))
    batch_of = draw(st.lists(st.integers(0, 4), min_size=count, max_size=count))
    batches = [[s for s, b in zip(samples, batch_of, strict=True) if b == i] for i in range(5)]
    batches = [draw(st.permutations(b)) for b in batches if b]
    order = draw(st.permutations(range(len(batches))))
    retried = draw(st.lists(st.sampled_from(range(len(batches))), max_size=2))
    return samples, [batches[i] for i in [*order, *retried]]


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def raw_client(settings):
    """A client of an app that reads raw samples only (rollups off)."""
    app = create_app(settings.replace(api=replace(settings.api, history_rollups=False)))
    yield app.test_client()
    app.extensions["vigie_db"].close()


@PROPERTY
@given(history=histories(), data=st.data())
def test_rollups_equal_the_raw_aggregation_whatever_the_arrival_order(
    api, client, raw_client, db, history, data
):
    samples, arrivals = history
    db.execute("TRUNCATE servers, metrics RESTART IDENTITY CASCADE")
    sid, token = api.register()
    # History over any range, at any interval, from the rollups and from raw.
    interval = data.draw(st.sampled_from(sorted(INTERVALS)), label="interval")
    first, last = samples[0]["at"], samples[-1]["at"]
    span = (last - first).total_seconds()
    start = first + timedelta(seconds=data.draw(st.floats(-300, span + 60), label="from"))
    end = start + timedelta(seconds=data.draw(st.floats(0, span + 3600), label="to"))
    params = {"from": iso(start), "to": iso(end), "interval": interval}
    # Rolled up after some of the writes: a chart asked for while the rest is not
    # rolled up yet is the same chart as after the roll-up.
    rolled_after = data.draw(st.integers(0, len(arrivals)), label="rolled after")
    for i, batch in enumerate(arrivals):
        if i == rolled_after:
            roll_up(db)
        response = api.post_batch(sid, token, [as_payload(s) for s in batch])
        assert response.status_code in (200, 201), response.json

    def charts() -> list:
        answers = []
        for reader in (client, raw_client):
            response = reader.get(f"/api/metrics/history/{sid}", query_string=params)
            assert response.status_code == 200, response.json
            check_history(response.json, samples, INTERVALS[interval], start, end)
            answers.append(response.json)
        return answers

    before = charts()
    roll_up(db)
    for seconds in (60, 300, 3600):
        check_rows(db, sid, samples, seconds)
    assert charts() == before


def test_a_late_sample_updates_its_minute_and_the_next_samples_increment(api, db):
    sid, token = api.register()
    at = [T0 + timedelta(seconds=s) for s in (0, 50, 70)]
    api.post_batch(
        sid,
        token,
        [
            sample(recorded_at=iso(at[0]), cpu_percent=10, network_sent_mb=100),
            sample(recorded_at=iso(at[2]), cpu_percent=30, network_sent_mb=170),
        ],
    )
    roll_up(db)
    minute = db.execute(
        "SELECT * FROM metrics_1m WHERE server_id = %s AND bucket = %s",
        [sid, T0 + timedelta(minutes=1)],
    ).fetchone()
    assert minute["network_sent_mb_inc"] == 70 and minute["network_seconds"] == 70
    # The sample at :50 arrives last: it belongs to the first minute, and the :70
    # sample's increment is now from it.
    api.post_sample(sid, token, recorded_at=iso(at[1]), cpu_percent=20, network_sent_mb=150)
    roll_up(db)
    rows = db.execute(
        "SELECT * FROM metrics_1m WHERE server_id = %s ORDER BY bucket", [sid]
    ).fetchall()
    assert [r["samples"] for r in rows] == [2, 1]
    assert rows[0]["cpu_percent_sum"] == 30 and rows[0]["network_sent_mb_inc"] == 50
    assert rows[1]["network_sent_mb_inc"] == 20 and rows[1]["network_seconds"] == 20
    hour = db.execute("SELECT * FROM metrics_1h WHERE server_id = %s", [sid]).fetchone()
    assert hour["samples"] == 3 and hour["network_sent_mb_inc"] == 70
    assert hour["network_sent_mb_last"] == 170 and hour["last_at"] == at[2]


def test_live_samples_one_at_a_time_add_up_to_the_raw_aggregation(api, db):
    """The common write: each sample newer than every stored one, added to its
    buckets with its increment from the previous sample (a reboot halfway)."""
    sid, token = api.register()
    samples = []
    for i in range(40):
        sent = 10.0 * i if i < 25 else 3.0 * (i - 25)
        at = T0 + timedelta(seconds=17 * i + 3)
        values = {g: real(i + 1.5) for g in GAUGES}
        samples.append({"at": at, **values, "network_sent_mb": sent, "network_recv_mb": 2.0 * i})
        assert api.post_sample(sid, token, **as_payload(samples[-1])).status_code == 201
        if i % 7 == 3:
            roll_up(db)  # rolled up now and then, as the relay does
    roll_up(db)
    for seconds in (60, 300, 3600):
        check_rows(db, sid, samples, seconds)


INSERT_SAMPLE = """
INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
    ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""


def insert_sample(conn, server_id: int, s: dict) -> None:
    values = [s["at"], *[s[g] for g in GAUGES], s["network_sent_mb"], s["network_recv_mb"]]
    conn.execute(INSERT_SAMPLE, [server_id, *values])


@pytest.mark.parametrize("second_at", [40, 20], ids=["after", "before"])
def test_a_roll_up_while_a_write_is_in_flight_leaves_nothing_out(
    api, db, direct_database_url, second_at
):
    """A roll-up that runs while a write of the same server is not committed yet
    does not take that server for done: the next one counts the sample, with its
    increment from the sample before it."""
    sid, token = api.register()
    first = {"at": T0 + timedelta(seconds=30), **{g: 10.0 for g in GAUGES},
             "network_sent_mb": 100.0, "network_recv_mb": 50.0}  # fmt: skip
    second = {**first, "at": T0 + timedelta(seconds=second_at), "cpu_percent": 20.0,
              "network_sent_mb": 160.0 if second_at > 30 else 70.0}  # fmt: skip
    earlier = {**first, "at": T0, "network_sent_mb": 40.0}
    assert api.post_batch(sid, token, [as_payload(earlier), as_payload(first)]).status_code == 201
    with psycopg.connect(direct_database_url) as writer:
        writer.execute("SELECT * FROM vigie_ingest(%s, %s)", [sid, Jsonb([as_payload(second)])])
        # Not committed: the roll-up sees the first two samples only, and must not
        # clear the server's mark when the writer commits after it read it.
        done = threading.Event()
        rolled = threading.Thread(target=lambda: (roll_up(db), done.set()))
        rolled.start()
        time.sleep(0.2)
        writer.commit()
        rolled.join(60)
        assert done.is_set()
    roll_up(db)
    for seconds in (60, 300, 3600):
        check_rows(db, sid, [earlier, first, second], seconds)


def test_a_roll_up_killed_midway_counts_nothing_twice(api, db, direct_database_url):
    sid, token = api.register()
    samples = [
        {"at": T0 + timedelta(seconds=7 * i), **{g: real(i + 0.5) for g in GAUGES},
         "network_sent_mb": 3.0 * i, "network_recv_mb": float(i)}
        for i in range(30)
    ]  # fmt: skip
    assert api.post_batch(sid, token, [as_payload(s) for s in samples]).status_code == 201
    with psycopg.connect(direct_database_url) as doomed:
        assert doomed.execute("SELECT vigie_rollup_pending()").fetchone()[0] == 1
        # Its rows are written but not committed when its connection is killed.
        db.execute("SELECT pg_terminate_backend(%s)", [doomed.info.backend_pid])
        with pytest.raises(psycopg.OperationalError):
            doomed.commit()
    assert db.execute("SELECT count(*) AS n FROM metrics_rollup").fetchone()["n"] == 0
    assert roll_up(db) == 1
    assert roll_up(db) == 0  # nothing left to do, and doing it again changes nothing
    for seconds in (60, 300, 3600):
        check_rows(db, sid, samples, seconds)


def test_a_retried_batch_counts_once(api, db):
    sid, token = api.register()
    batch = [sample(recorded_at=iso(T0 + timedelta(seconds=5 * i))) for i in range(24)]
    assert api.post_batch(sid, token, batch).status_code == 201
    assert api.post_batch(sid, token, batch).status_code == 200
    roll_up(db)
    rows = db.execute("SELECT samples FROM metrics_1m ORDER BY bucket").fetchall()
    assert [r["samples"] for r in rows] == [12, 12]


def test_the_server_list_shows_the_newest_sample_even_after_a_backfill(api, client):
    sid, token = api.register()
    api.post_sample(sid, token, recorded_at=iso(T0), cpu_percent=42)
    api.post_sample(sid, token, recorded_at=iso(T0 - timedelta(hours=1)), cpu_percent=7)
    [server] = client.get("/api/servers").json
    assert server["latest"]["cpu_percent"] == 42
    assert server["latest"]["recorded_at"] == iso(T0)


# --- requests that span tiers --------------------------------------------------------


def label_seconds(label: str) -> int:
    return int(label[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[label[-1]]


def seed_days(api, sid, token, start: datetime, hours: int, step: int = 60):
    samples = []
    for i in range(hours * 3600 // step):
        at = start + timedelta(seconds=step * i)
        samples.append(
            {
                "at": at,
                **{
                    g: real((i * 7 % 100) if g.endswith("percent") else 1000 + i % 37)
                    for g in GAUGES
                },
                # 2 MiB/min sent; the host reboots every 500 samples.
                "network_sent_mb": 2.0 * (i % 500) + 1,
                "network_recv_mb": 3.0 * i,
            }
        )
    for chunk in range(0, len(samples), 1000):
        batch = [as_payload(s) for s in samples[chunk : chunk + 1000]]
        assert api.post_batch(sid, token, batch).status_code == 201
    return samples


@pytest.mark.parametrize(
    ("interval", "start_offset", "span"),
    [
        ("1h", timedelta(minutes=17, seconds=29), timedelta(hours=50, minutes=3)),
        ("15m", timedelta(minutes=3, seconds=31), timedelta(hours=30)),
        ("1m", timedelta(seconds=30), timedelta(hours=5, seconds=15)),
        (None, timedelta(minutes=41, seconds=1), timedelta(days=2, hours=5)),
    ],
)
def test_a_request_across_tiers_has_every_bucket_once(
    api, client, raw_client, interval, start_offset, span
):
    sid, token = api.register()
    samples = seed_days(api, sid, token, T0, hours=72)
    start = T0 + start_offset
    end = start + span
    params = {"from": iso(start), "to": iso(end)}
    if interval:
        params["interval"] = interval
    response = client.get(f"/api/metrics/history/{sid}", query_string=params)
    points = response.json
    seconds = label_seconds(response.headers["Vigie-Interval"])
    times = [datetime.fromisoformat(p["recorded_at"]) for p in points]
    step = timedelta(seconds=seconds)
    in_range = [s["at"] for s in samples if start <= s["at"] <= end]
    # One sample a minute over the whole range: every bucket, in order, once.
    first, last = floor_to(in_range[0], seconds), floor_to(in_range[-1], seconds)
    assert times == [first + k * step for k in range((last - first) // step + 1)]
    assert sum(p["samples"] for p in points) == len(in_range)
    check_history(points, samples, seconds, start, end)
    raw = raw_client.get(f"/api/metrics/history/{sid}", query_string=params)
    assert raw.headers["Vigie-Interval"] == response.headers["Vigie-Interval"]
    for a, b in zip(points, raw.json, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, float):
                assert value == pytest.approx(b[key], abs=0.0051), key
            else:
                assert value == b[key], key


# --- which tier a request reads ------------------------------------------------------


def rows_read(db, sql: str, params: dict) -> dict[str, int]:
    """Rows each tier gave the query, from its plan as executed: metrics_p20260301
    (a raw partition) counts for raw, metrics_1h_... for 1h."""
    plan = db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()["QUERY PLAN"]
    read = {"raw": 0, "1m": 0, "5m": 0, "1h": 0}

    def walk(node):
        name = node.get("Relation Name", "")
        if name.startswith("metrics"):
            tier = next((t for t in ("1m", "5m", "1h") if name.startswith(f"metrics_{t}")), "raw")
            read[tier] += node["Actual Rows"] * node["Actual Loops"]
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return read


@pytest.fixture
def month_of_samples(api, db):
    """One sample every 10 minutes for a month and a bit, from an hour before T0."""
    sid, _ = api.register()
    db.execute(
        """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
               ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, network_sent_mb,
               network_recv_mb)
           SELECT %s, t, 50, 50, 1000, 2000, 50, 10, 20, extract(epoch FROM t - %s), 1
             FROM generate_series(%s::timestamptz, %s, interval '10 minutes') t""",
        [sid, T0 - timedelta(hours=1), T0 - timedelta(hours=1), T0 + timedelta(days=31)],
    )
    mark_loaded(db, sid)
    roll_up(db)
    return sid


MICRO = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("start", "end", "bucket", "rollups", "expected"),
    [
        # 30 days in hour buckets: the 720 hour rows; around the end, the sample at
        # `to` and the one before it (its counter increment).
        (T0, T0 + timedelta(days=30), 3600, True, {"1h": 720, "5m": 0, "1m": 1, "raw": 2}),
        (T0, T0 + timedelta(days=30) - MICRO, 3600, True, {"1h": 720, "5m": 0, "1m": 0, "raw": 0}),
        # Ending 20 minutes into an hour: that hour's 5-minute rows (two have
        # samples), then the raw sample at :20 (each raw part also reads the sample,
        # or the minute row, before it).
        (T0, T0 + timedelta(days=30, minutes=20, seconds=5), 3600, True,
         {"1h": 720, "5m": 2, "1m": 1, "raw": 1 + 1}),
        # 7 days at 15 minutes: 5-minute rows (one sample every 10 minutes: 1008).
        (T0, T0 + timedelta(days=7) - MICRO, 900, True, {"1h": 0, "5m": 1008, "1m": 0, "raw": 0}),
        # 24 hours at 2 minutes, unaligned: 143 minute rows, raw samples at the ends
        # (none in the first partial minute, one in the last).
        (T0 + timedelta(seconds=7), T0 + timedelta(hours=24, seconds=7), 120, True,
         {"1h": 0, "5m": 0, "1m": 143 + 2, "raw": 1 + 2}),
        # An hour at 5 s: raw samples (and the one before, or its minute row).
        (T0, T0 + timedelta(hours=1), 5, True, {"1h": 0, "5m": 0, "1m": 1, "raw": 8}),
        # Rollups off: raw samples only, whatever the range.
        (T0, T0 + timedelta(days=30), 3600, False, {"1h": 0, "5m": 0, "1m": 0, "raw": 4322}),
    ],
)  # fmt: skip
def test_each_request_reads_the_tier_expected(
    db, month_of_samples, start, end, bucket, rollups, expected
):
    sql, params = history_query(month_of_samples, start, end, bucket, rollups)
    assert rows_read(db, sql, params) == expected


def test_raw_samples_are_read_only_for_the_partial_minutes_at_either_end():
    start = T0 + timedelta(minutes=17, seconds=3)
    end = T0 + timedelta(days=30, minutes=7, seconds=9)
    pieces = plan(start, end, (3600, 300, 60))
    assert [p.source for p in pieces] == [0, 60, 300, 3600, 300, 60, 0]
    assert pieces[0].start == start and pieces[-1].end == end
    for before, after in zip(pieces, pieces[1:], strict=False):
        assert before.end == after.start  # no gap, no overlap
    finer = {0: timedelta(minutes=1), 60: timedelta(minutes=5), 300: timedelta(hours=1)}
    for piece in pieces:
        if piece.source != 3600:
            assert piece.end - piece.start < finer[piece.source]


def test_rebuilding_from_raw_samples_gives_the_rows_the_roll_ups_keep(api, db):
    sid, token = api.register("web-01")
    seed_days(api, sid, token, T0, hours=3)
    other, token2 = api.register("web-02")
    # Irregular samples, one arriving late, and an outage of two hours.
    for seconds in (7, 13, 61, 3 * 3600, 62, 3 * 3600 + 5):
        api.post_sample(
            other, token2, recorded_at=iso(T0 + timedelta(seconds=seconds)),
            network_sent_mb=seconds % 1000, cpu_percent=seconds % 100,
        )  # fmt: skip
    query = "SELECT * FROM metrics_rollup ORDER BY server_id, seconds, bucket"
    roll_up(db)
    kept = db.execute(query).fetchall()
    db.execute("TRUNCATE metrics_rollup")
    db.execute(
        "SELECT vigie_rebuild_rollups(%s, %s)", [T0 - timedelta(hours=1), T0 + timedelta(hours=4)]
    )
    rebuilt = db.execute(query).fetchall()
    assert len(rebuilt) == len(kept)
    for a, b in zip(rebuilt, kept, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert close(a[key], b[key]), key
            else:
                assert a[key] == b[key], key
