"""Rollups of the wide sample's series: a per-filesystem series and a per-disk
counter, charted before and after the roll-up, from the rollups or raw, at every
interval, whatever the arrival order; and the series expire with their tiers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.factory import create_app
from functions.schemas import INTERVALS
from vigie.maintenance import maintain
from vigie.settings import RetentionSettings

from .helpers import iso, roll_up, sample

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
MOUNTS = ("/", "/data")


def floor_to(moment: datetime, seconds: int) -> datetime:
    step = timedelta(seconds=seconds)
    return ORIGIN + ((moment - ORIGIN) // step) * step


def real(value: float) -> float:
    import struct

    return struct.unpack("f", struct.pack("f", value))[0]


def increment(previous: float, current: float) -> float:
    return current if current < previous else current - previous


def expected(samples: list[dict], seconds: int, start, end) -> dict:
    """The oracle, per bucket: per mount the average and peak percent; the disk's
    read rate, each increment from the sample just before (when it has the disk)."""
    ordered = sorted(samples, key=lambda s: s["at"])
    buckets: dict = {}
    for i, s in enumerate(ordered):
        if s["at"] < start or s["at"] > end:
            continue
        b = buckets.setdefault(floor_to(s["at"], seconds), {"fs": {}, "inc": 0.0, "secs": 0.0,
                                                               "rmax": None})  # fmt: skip
        for mount, percent in s["fs"].items():
            total, n, peak = b["fs"].get(mount, (0.0, 0, None))
            b["fs"][mount] = (total + real(percent), n + 1, max(peak or 0.0, real(percent)))
        prev = ordered[i - 1] if i else None
        if s["read"] is not None and prev is not None and prev["read"] is not None:
            dt = (s["at"] - prev["at"]).total_seconds()
            inc = increment(prev["read"], s["read"])
            b["inc"] += inc
            b["secs"] += dt
            b["rmax"] = max(b["rmax"] or 0.0, inc / dt)
    return buckets


def as_payload(s: dict) -> dict:
    body = sample(recorded_at=iso(s["at"]))
    body["filesystems"] = [
        {"mount": m, "device": f"/dev/{i}", "fstype": "xfs", "used_gb": 1.0, "total_gb": 2.0,
         "percent": p}
        for i, (m, p) in enumerate(s["fs"].items())
    ]  # fmt: skip
    if s["read"] is not None:
        body["disks"] = [{"name": "nvme0n1", "read_mb": s["read"], "write_mb": 0.0,
                          "reads": 0.0, "writes": 0.0}]  # fmt: skip
    return body


percent = st.integers(0, 10000).map(lambda x: x / 100)
gap = st.one_of(st.integers(1, 20), st.integers(1, 20), st.integers(21, 4000))
step = st.one_of(
    st.integers(0, 100000).map(lambda x: ("grow", x / 1000)),
    st.integers(0, 5000).map(lambda x: ("reset", x / 1000)),
)


@st.composite
def histories(draw):
    count = draw(st.integers(1, 50))
    at = T0 + timedelta(seconds=draw(st.integers(0, 3599)), milliseconds=draw(st.integers(0, 999)))
    read = draw(st.integers(0, 10**6)).__float__() / 100
    samples = []
    for _ in range(count):
        # A mount may be missing from a sample (unmounted for a while), the disk too.
        mounts = draw(st.lists(st.sampled_from(MOUNTS), unique=True))
        fs = {m: draw(percent) for m in mounts}
        kind, amount = draw(step)
        read = round(read + amount, 3) if kind == "grow" else amount
        has_disk = draw(st.integers(0, 5)) > 0
        samples.append({"at": at, "fs": fs, "read": read if has_disk else None})
        at += timedelta(seconds=draw(gap))
    batch_of = draw(st.lists(st.integers(0, 4), min_size=count, max_size=count))
    batches = [[s for s, b in zip(samples, batch_of, strict=True) if b == i] for i in range(5)]
    batches = [draw(st.permutations(b)) for b in batches if b]
    order = draw(st.permutations(range(len(batches))))
    retried = draw(st.lists(st.sampled_from(range(len(batches))), max_size=2))
    return samples, [batches[i] for i in [*order, *retried]]


@pytest.fixture
def raw_client(settings):
    app = create_app(settings.replace(api=replace(settings.api, history_rollups=False)))
    yield app.test_client()
    app.extensions["vigie_db"].close()


def check(points: list[dict], samples: list[dict], seconds: int, start, end) -> None:
    want = expected(samples, seconds, start, end)
    assert [p["recorded_at"] for p in points] == [iso(b) for b in sorted(want)]
    for point, key in zip(points, sorted(want), strict=True):
        b = want[key]
        got = {f["mount"]: f for f in point["filesystems"]}
        assert set(got) == set(b["fs"])
        for mount, (total, n, peak) in b["fs"].items():
            assert got[mount]["percent"] == pytest.approx(total / n, abs=0.0051)
            assert got[mount]["percent_max"] == peak
        disks = point["disks"]
        if b["secs"]:
            (disk,) = disks
            assert disk["read_mb_s"] == pytest.approx(b["inc"] / b["secs"], abs=1e-6)
            assert disk["read_mb_s_max"] == pytest.approx(b["rmax"], abs=1e-6)
        else:
            assert all(d["read_mb_s"] is None for d in disks)


PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(history=histories(), data=st.data())
def test_series_rollups_equal_the_raw_aggregation_whatever_the_arrival_order(
    api, client, raw_client, db, history, data
):
    samples, arrivals = history
    db.execute("TRUNCATE servers, metrics RESTART IDENTITY CASCADE")
    sid, token = api.register()
    interval = data.draw(st.sampled_from(sorted(INTERVALS)), label="interval")
    first, last = samples[0]["at"], samples[-1]["at"]
    span = (last - first).total_seconds()
    start = first + timedelta(seconds=data.draw(st.floats(-300, span + 60), label="from"))
    end = start + timedelta(seconds=data.draw(st.floats(0, span + 3600), label="to"))
    params = {"from": iso(start), "to": iso(end), "interval": interval,
              "metrics": "filesystems,disks"}  # fmt: skip
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
            check(response.json, samples, INTERVALS[interval], start, end)
            answers.append(response.json)
        return answers

    before = charts()
    roll_up(db)
    assert charts() == before


def test_the_series_expire_with_each_tier(api, client, db, database_url):
    """Retention per tier: a rollup row goes whole, its series with it."""
    sid, token = api.register()
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(days=3)
    bodies = [as_payload({"at": old + timedelta(seconds=5 * k), "fs": {"/": 50.0 + k},
                          "read": 10.0 * k}) for k in range(30)]  # fmt: skip
    recent = [as_payload({"at": now - timedelta(minutes=30, seconds=-5 * k), "fs": {"/": 20.0},
                          "read": 1.0 * k}) for k in range(30)]  # fmt: skip
    assert api.post_batch(sid, token, bodies + recent).status_code == 201
    roll_up(db)

    def series_rows(seconds: int) -> list:
        return db.execute(
            "SELECT bucket FROM metrics_rollup WHERE server_id = %s AND seconds = %s"
            " AND gauge_keys IS NOT NULL AND counter_keys IS NOT NULL ORDER BY bucket",
            [sid, seconds],
        ).fetchall()

    assert len(series_rows(60)) >= 3 and series_rows(3600)
    # The raw samples kept 1 day, minutes 2 days: the old samples' minutes go, their
    # hours stay (730 days), and the chart of those hours still has the series.
    keep = RetentionSettings(raw=timedelta(days=1), minute=timedelta(days=2),
                             five_minutes=timedelta(days=2), hour=timedelta(days=30))  # fmt: skip
    assert maintain(database_url, keep, min_interval=timedelta(0))["ran"]
    assert (
        db.execute(
            "SELECT count(*) AS n FROM metrics WHERE server_id = %s AND recorded_at < %s",
            [sid, now - timedelta(days=1)],
        ).fetchone()["n"]
        == 0
    )
    minutes = [r["bucket"] for r in series_rows(60)]
    assert minutes and min(minutes) >= now - timedelta(days=2)
    hours = [r["bucket"] for r in series_rows(3600)]
    assert min(hours) <= old
    response = client.get(
        f"/api/metrics/history/{sid}",
        query_string={"from": iso(old - timedelta(hours=1)), "to": iso(old + timedelta(hours=1)),
                      "interval": "1h", "metrics": "filesystems,disks"},
    )  # fmt: skip
    assert response.status_code == 200
    points = [p for p in response.json if p["samples"]]
    assert max(p["filesystems"][0]["percent_max"] for p in points) == 79.0
    assert points[0]["disks"][0]["read_mb_s"] == pytest.approx(10 / 5)
