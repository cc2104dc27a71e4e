"""Retention: each tier keeps exactly what is newer than its horizon; maintenance
runs once at a time; GET /api/stats shows what each tier costs; existing samples
survive the move to partitions."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from vigie.cli import cli
from vigie.maintenance import maintain
from vigie.migrate import migrate
from vigie.settings import RetentionSettings

from .conftest import bearer, scratch_database
from .helpers import (
    ROOT,
    free_port,
    gunicorn_relay,
    iso,
    mark_loaded,
    previous_layout,
    roll_up,
    sample,
    wide_fields,
)

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
NOW = timedelta(0)


def floor_to(moment: datetime, seconds: int) -> datetime:
    step = timedelta(seconds=seconds)
    return ORIGIN + ((moment - ORIGIN) // step) * step


def insert_every(db, server_id: int, since: timedelta, step: timedelta) -> list[datetime]:
    """Samples from `since` ago until now, one every `step`, in one statement, then
    rolled up."""
    times = [
        r["t"]
        for r in db.execute(
            """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent,
                   ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb,
                   network_sent_mb, network_recv_mb)
               SELECT %s, t, 10 + extract(minute FROM t), 50, 1000, 2000, 50, 10, 20,
                      extract(epoch FROM t - (now() - %s)), 1
                 FROM generate_series(now() - %s, now(), %s) t
               RETURNING recorded_at AS t""",
            [server_id, since, since, step],
        ).fetchall()
    ]
    mark_loaded(db, server_id)
    roll_up(db)
    return times


def cutoffs(db) -> dict[str, datetime]:
    return {r["name"]: r["cutoff"] for r in db.execute("SELECT name, cutoff FROM metrics_tiers")}


TIERS = {"1m": 60, "5m": 300, "1h": 3600}


def kept(db, server_id: int) -> dict[str, set]:
    """What each tier holds for a server: sample times, or bucket starts."""
    held = {
        "raw": {
            r["recorded_at"]
            for r in db.execute("SELECT recorded_at FROM metrics WHERE server_id = %s", [server_id])
        }
    }
    for tier in TIERS:
        held[tier] = {
            r["bucket"]
            for r in db.execute(
                f"SELECT bucket FROM metrics_{tier} WHERE server_id = %s", [server_id]
            )
        }
    return held


def test_retention_removes_exactly_what_is_older_than_each_horizon(api, db, database_url, settings):
    # Partitions for the whole period, so that most of the expired data goes by
    # dropping them, and the rest by deleting rows from the partition the horizon
    # falls in (or from the default partition).
    db.execute("SELECT vigie_create_partitions('metrics', 'day', now() - interval '9 days', now())")
    for tier in ("1m", "5m"):
        db.execute(
            f"SELECT vigie_create_partitions('metrics_{tier}', 'week', now() - interval '30 days',"
            " now())"
        )
    servers = [api.register(f"web-{i}")[0] for i in range(2)]
    samples = {
        sid: insert_every(db, sid, timedelta(days=40), timedelta(minutes=13)) for sid in servers
    }
    hours_before = {
        (r["server_id"], r["bucket"]): r for r in db.execute("SELECT * FROM metrics_1h").fetchall()
    }

    keep = RetentionSettings(raw=timedelta(days=2), minute=timedelta(days=10),
                             five_minutes=timedelta(days=20), hour=timedelta(days=30))  # fmt: skip
    report = maintain(database_url, keep, min_interval=NOW)
    assert report["ran"]
    assert report["tiers"]["raw"]["partitions_dropped"] >= 7
    assert report["tiers"]["1m"]["partitions_dropped"] >= 2
    cut = cutoffs(db)
    for tier, days in (("raw", 2), ("1m", 10), ("5m", 20), ("1h", 30)):
        assert timedelta(days=days) <= datetime.now(UTC) - cut[tier] < timedelta(days=days, hours=1)

    for sid in servers:
        held = kept(db, sid)
        times = samples[sid]
        assert held["raw"] == {t for t in times if t >= cut["raw"]}
        # A bucket goes when it ends at or before the horizon.
        for tier, width in TIERS.items():
            step = timedelta(seconds=width)
            assert held[tier] == {
                floor_to(t, width) for t in times if floor_to(t, width) + step > cut[tier]
            }, tier
        # What is kept is untouched.
        for hour in held["1h"]:
            after = db.execute(
                "SELECT * FROM metrics_1h WHERE server_id = %s AND bucket = %s", [sid, hour]
            ).fetchone()
            assert after == hours_before[(sid, hour)]
    # No partition left that holds only expired rows.
    for table, tier in [("metrics", "raw")] + [(f"metrics_{t}", t) for t in TIERS]:
        old = db.execute(
            "SELECT partition FROM vigie_partitions(%s) WHERE upper_bound <= %s",
            [table, cut[tier]],
        ).fetchall()
        assert old == []

    # Run again: nothing more to remove, and the history still reads.
    again = maintain(database_url, keep, min_interval=NOW)
    assert sum(t["rows_deleted"] for t in again["tiers"].values()) <= 2 * 3  # a few seconds aged


def aged_server(api, db, database_url, settings):
    """A server with three days of samples every 30 min, of which raw samples are
    kept two days, maintained once: (id, token, sample times, retention)."""
    sid, token = api.register()
    times = insert_every(db, sid, timedelta(days=3), timedelta(minutes=30))
    keep = replace(settings.retention, raw=timedelta(days=2))
    maintain(database_url, keep, min_interval=NOW)
    return sid, token, times, keep


def test_a_sample_older_than_the_raw_horizon_counts_in_the_rollups_and_then_goes(
    api, db, database_url, settings
):
    sid, token, times, keep = aged_server(api, db, database_url, settings)
    raw_cutoff = cutoffs(db)["raw"]
    # A collector drains a backlog older than the raw horizon: its minute and hour
    # have no raw samples left to recompute from, so the sample is added to them.
    stored = next(t for t in times if t < raw_cutoff - timedelta(hours=12))
    late = stored + timedelta(microseconds=1)
    if floor_to(late, 60) != floor_to(stored, 60):
        late = stored - timedelta(microseconds=1)

    def rollups_of_late() -> tuple[dict, dict]:
        """The minute and the hour the late sample counts in."""
        minute = db.execute(
            "SELECT * FROM metrics_1m WHERE server_id = %s AND bucket = %s",
            [sid, floor_to(late, 60)],
        ).fetchone()
        hour = db.execute(
            "SELECT * FROM metrics_1h WHERE server_id = %s AND bucket = %s",
            [sid, floor_to(late, 3600)],
        ).fetchone()
        return minute, hour

    minute_before, hour_before = rollups_of_late()
    response = api.post_sample(sid, token, recorded_at=iso(late), cpu_percent=99.5)
    assert response.status_code == 201

    minute, hour = rollups_of_late()
    assert minute["samples"] == minute_before["samples"] + 1
    assert minute["cpu_percent_sum"] == pytest.approx(minute_before["cpu_percent_sum"] + 99.5)
    assert minute["cpu_percent_max"] == 99.5
    assert hour["samples"] == hour_before["samples"] + 1
    assert hour["cpu_percent_max"] == 99.5
    assert db.execute("SELECT count(*) AS n FROM metrics_expired").fetchone()["n"] == 1

    report = maintain(database_url, keep, min_interval=NOW)
    assert report["tiers"]["raw"]["rows_deleted"] >= 1
    assert (
        db.execute(
            "SELECT count(*) AS n FROM metrics WHERE recorded_at < %s", [cutoffs(db)["raw"]]
        ).fetchone()["n"]
        == 0
    )
    assert db.execute("SELECT count(*) AS n FROM metrics_expired").fetchone()["n"] == 0
    # Counted once, and still counted.
    assert (
        db.execute(
            "SELECT samples FROM metrics_1h WHERE server_id = %s AND bucket = %s",
            [sid, floor_to(late, 3600)],
        ).fetchone()["samples"]
        == hour["samples"]
    )


def test_wide_samples_older_than_the_raw_horizon_count_in_the_rollups_series(
    api, db, database_url, settings
):
    sid, token, times, keep = aged_server(api, db, database_url, settings)
    raw_cutoff = cutoffs(db)["raw"]
    # Two wide samples a minute apart, in an hour whose raw samples are gone, one
    # alone in its minute; they arrive one request at a time.
    first = floor_to(raw_cutoff - timedelta(hours=20), 3600) + timedelta(minutes=7, seconds=3)
    second = first + timedelta(minutes=1)
    assert not any(floor_to(t, 60) in (floor_to(first, 60), floor_to(second, 60)) for t in times)
    for step, at in enumerate((first, second)):
        fields = {**sample(), **wide_fields(step, top=False), "recorded_at": iso(at)}
        response = api.post_sample(sid, token, **fields)
        assert response.status_code == 201, response.json

    def series(seconds: int, at: datetime) -> dict[int, dict]:
        rows = db.execute(
            """SELECT u.* FROM metrics_rollup r CROSS JOIN LATERAL vigie_series_unpack(r) u
                WHERE r.server_id = %s AND r.seconds = %s AND r.bucket = %s""",
            [sid, seconds, floor_to(at, seconds)],
        ).fetchall()
        return {row["key"]: row for row in rows}

    root = db.execute(
        "SELECT array_position(fs_names, '/') AS id FROM servers WHERE id = %s", [sid]
    ).fetchone()["id"]
    sda = db.execute(
        "SELECT array_position(disk_names, 'sda') AS id FROM servers WHERE id = %s", [sid]
    ).fetchone()["id"]
    root_percent = db.execute("SELECT vigie_series_key(1, %s, 1) AS k", [root]).fetchone()["k"]
    sda_read = db.execute("SELECT vigie_series_key(2, %s, 1) AS k", [sda]).fetchone()["k"]
    load_1 = 1  # the host's first series

    minute = series(60, first)
    assert (minute[root_percent]["g_n"], minute[root_percent]["g_sum"]) == (1, 40.0)
    assert minute[load_1]["g_max"] == 1.5
    hour = series(3600, first)
    assert (hour[root_percent]["g_n"], hour[root_percent]["g_max"]) == (2, 40.0)
    assert hour[load_1]["g_sum"] == pytest.approx(3.0)
    # The second sample's read counter steps from the first: 1 MB in 60 s.
    later = series(60, second)
    assert later[sda_read]["c_inc"] == pytest.approx(1.0)
    assert later[sda_read]["c_secs"] == pytest.approx(60.0)
    assert hour[sda_read]["c_inc"] == pytest.approx(1.0)


def test_forever_keeps_everything(api, db, database_url, settings):
    sid, _ = api.register()
    insert_every(db, sid, timedelta(days=3), timedelta(hours=1))
    before = kept(db, sid)
    forever = RetentionSettings(raw=None, minute=None, five_minutes=None, hour=None)
    report = maintain(database_url, forever, min_interval=NOW)
    assert report["ran"] and report["tiers"] == {}
    assert kept(db, sid) == before


def test_a_finer_tier_cannot_be_kept_longer_than_a_coarser_one(db):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.execute("SELECT vigie_set_retention('30 days', '7 days', '1 year', '1 year')")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.execute("SELECT vigie_set_retention('7 days', NULL, '1 year', '1 year')")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.execute("SELECT vigie_set_retention('7 days', '7 days', '2 years', '1 year')")


def test_one_maintenance_run_at_a_time(db, database_url, settings):
    # Several relays calling at once: exactly one runs.
    reports = []
    threads = [
        threading.Thread(
            target=lambda: reports.append(
                maintain(database_url, settings.retention, min_interval=timedelta(hours=1))
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["ran"] for r in reports) == [False, False, False, True]

    # A run in progress (its lease not expired) keeps others out...
    db.execute(
        "UPDATE metrics_maintenance SET started_at = NULL,"
        " lease_until = now() + interval '1 minute'"
    )
    assert maintain(database_url, settings.retention, min_interval=NOW) == {"ran": False}
    # ...until it finishes, or its lease runs out because it died.
    db.execute("UPDATE metrics_maintenance SET lease_until = now() - interval '1 second'")
    assert maintain(database_url, settings.retention, min_interval=NOW)["ran"]
    state = db.execute("SELECT * FROM metrics_maintenance").fetchone()
    assert state["lease_until"] is None and state["finished_at"] is not None


def test_vigie_maintain_command(db, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("VIGIE_RETENTION_RAW", "3d")
    result = CliRunner().invoke(cli, ["maintain"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("raw: kept from ")
    keep = db.execute("SELECT keep FROM metrics_tiers WHERE name = 'raw'").fetchone()["keep"]
    assert keep == timedelta(days=3)

    monkeypatch.setenv("VIGIE_RETENTION_RAW", "1 fortnight")
    result = CliRunner().invoke(cli, ["maintain"])
    assert result.exit_code != 0
    assert "VIGIE_RETENTION_RAW must be a duration" in result.output


# --- what history costs -------------------------------------------------------------


def test_stats_reports_rows_and_bytes_per_tier(api, client, db, database_url, settings):
    sid, token = api.register()
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    batch = [sample(recorded_at=iso(start + timedelta(seconds=5 * i))) for i in range(120)]
    assert api.post_batch(sid, token, batch).status_code == 201
    roll_up(db)
    db.execute("ANALYZE metrics, metrics_rollup")

    body = client.get("/api/stats").json
    tiers = {t["tier"]: t for t in body["tiers"]}
    assert list(tiers) == ["raw", "1m", "5m", "1h"]
    assert [tiers[t]["rows"] for t in tiers] == [120, 10, 2, 1]
    assert [tiers[t]["bucket_seconds"] for t in tiers] == [None, 60, 300, 3600]
    assert [tiers[t]["retention_seconds"] for t in tiers] == [
        7 * 86400, 90 * 86400, 180 * 86400, 730 * 86400]  # fmt: skip
    for tier in tiers.values():
        assert tier["bytes"] > 0 and tier["partitions"] >= 2
        assert tier["expired_before"] is None
    assert tiers["raw"]["bytes_per_row"] == round(tiers["raw"]["bytes"] / 120, 1)
    assert body["total_bytes"] == sum(t["bytes"] for t in tiers.values())
    assert body["maintained_at"] is None

    maintain(database_url, settings.retention, min_interval=NOW)
    body = client.get("/api/stats").json
    assert body["maintained_at"] is not None
    assert all(t["expired_before"] is not None for t in body["tiers"])


def test_stats_needs_the_dashboard_token_when_one_is_set(settings):
    from functions.factory import create_app

    app = create_app(settings.replace(api=replace(settings.api, dashboard_token="dash")))
    try:
        reader = app.test_client()
        assert reader.get("/api/stats").status_code == 401
        assert reader.get("/api/stats", headers=bearer("nope")).status_code == 403
        assert reader.get("/api/stats", headers=bearer("dash")).status_code == 200
    finally:
        app.extensions["vigie_db"].close()


# --- moving an existing installation to partitions -------------------------------


def test_existing_samples_survive_the_move_to_partitions(server_url, tmp_path, monkeypatch):
    with scratch_database(server_url, "vigie_test_partitioning") as url:
        # An installation from before partitions: the first two migrations of the
        # earlier layout, samples, and a trigger on metrics that another feature added.
        monkeypatch.setenv("VIGIE_SQL_DIR", str(previous_layout(tmp_path, before="010")))
        assert migrate(url) == ["001_servers_and_metrics", "002_ingest"]
        now = datetime.now(UTC).replace(microsecond=0)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO servers (name, hostname, token_hash) VALUES ('a', 'a', sha256('x'))"
            )
            conn.execute(
                """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent,
                       ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb,
                       network_sent_mb, network_recv_mb)
                   SELECT 1, t, 20, 30, 100, 1000, 40, 5, 50, 10 * n, 1
                     FROM generate_series(1, 30) n,
                          LATERAL (SELECT %s - n * interval '1 minute' AS t) x""",
                [now],
            )
            conn.execute(
                """CREATE TABLE seen (recorded_at timestamptz);
                   CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN INSERT INTO seen VALUES (NEW.recorded_at); RETURN NULL; END $$;
                   CREATE TRIGGER noted AFTER INSERT ON metrics
                       FOR EACH ROW EXECUTE FUNCTION note();"""
            )
            before = conn.execute("SELECT * FROM metrics ORDER BY id").fetchall()

        # Then the rest of the earlier layout, as its last release did, and this one.
        monkeypatch.setenv("VIGIE_SQL_DIR", str(previous_layout(tmp_path)))
        migrate(url)
        monkeypatch.setenv("VIGIE_SQL_DIR", str(ROOT / "sql"))
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'metrics'")
            assert kind.fetchone()[0] == "p"
            after = conn.execute("SELECT * FROM metrics ORDER BY id").fetchall()
            # The columns later migrations add come after the ones the samples had.
            assert [row[: len(before[0])] for row in after] == before
            minutes = conn.execute("SELECT sum(samples) FROM metrics_1m").fetchone()[0]
            assert minutes == 30
            latest = conn.execute("SELECT latest_at FROM servers").fetchone()[0]
            assert latest == now - timedelta(minutes=1)
            constraints = {
                r[0]
                for r in conn.execute(
                    "SELECT conname FROM pg_constraint WHERE conrelid = 'metrics'::regclass"
                )
            }
            assert "metrics_server_id_fkey" in constraints
            # A sample's bounds are its columns' types (sql/106_checks_as_domains.sql).
            kind = conn.execute(
                """SELECT atttypid::regtype::text FROM pg_attribute
                    WHERE attrelid = 'metrics'::regclass AND attname = 'cpu_percent'"""
            ).fetchone()[0]
            assert kind == "vigie_percent"
            # Ids go on from the old table's, and the other feature's trigger still fires.
            one = {**sample(recorded_at=now.isoformat())}
            row = conn.execute("SELECT * FROM vigie_ingest(1, %s)", [Jsonb([one])]).fetchone()
            assert row[2] == [31]
            assert conn.execute("SELECT count(*) FROM seen").fetchone()[0] == 1


@pytest.mark.slow
def test_the_relay_runs_maintenance(db, direct_database_url, tmp_path):
    forever = {f"VIGIE_RETENTION_{t}": "forever" for t in ("RAW", "1M", "5M", "1H")}
    env = {"VIGIE_MAINTENANCE_SECONDS": "1", **forever}
    with gunicorn_relay(direct_database_url, free_port(), env, log=tmp_path / "relay.log"):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = db.execute("SELECT finished_at, last_report FROM metrics_maintenance")
            state = state.fetchone()
            if state["finished_at"] is not None:
                break
            time.sleep(0.2)
    assert state["finished_at"] is not None, (tmp_path / "relay.log").read_text()
    assert state["last_report"]["ran"]
    # The relay stored the retention it was configured with.
    keeps = db.execute("SELECT keep FROM metrics_tiers").fetchall()
    assert [k["keep"] for k in keeps] == [None, None, None, None]


def test_retention_settings_are_checked():
    from vigie.settings import ConfigError, Settings

    assert Settings.from_env({"VIGIE_RETENTION_1H": "forever"}).retention.hour is None
    assert Settings.from_env({"VIGIE_RETENTION_RAW": "36h"}).retention.raw == timedelta(hours=36)
    with pytest.raises(ConfigError, match="VIGIE_RETENTION_1M must not be longer than .*_5M"):
        _ = Settings.from_env({"VIGIE_RETENTION_1M": "1y"}).retention
    with pytest.raises(ConfigError, match="VIGIE_RETENTION_RAW must be a duration"):
        _ = Settings.from_env({"VIGIE_RETENTION_RAW": "0d"}).retention
