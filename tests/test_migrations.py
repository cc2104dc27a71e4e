"""Migrations apply in order, are recorded, and change nothing the second time;
routine files are re-applied when, and only when, they change; a database migrated
by the earlier layout (migrations 001-040, kept in tests/fixtures) upgrades with
no data change to the same schema as a new one."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from realtime.catchup import MISSED_ALERTS
from vigie.migrate import MigrationError, migrate, pending, sql_dir

from .conftest import scratch_database
from .helpers import admin_connect, iso, previous_layout, sample


def schema_of(url):
    with admin_connect(url) as conn:
        return conn.execute(
            """SELECT table_name, column_name, data_type, is_nullable
                 FROM information_schema.columns WHERE table_schema = 'public'
                ORDER BY table_name, column_name"""
        ).fetchall()


def catalog(url) -> dict[str, list]:
    """What the schema is made of, by name: columns, constraints, indexes,
    routines and triggers (time partitions of a day, a week or a month aside)."""
    queries = {
        "columns": """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                             a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
                        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                        JOIN pg_namespace n ON n.oid = c.relnamespace
                        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                       WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
                         AND c.relkind IN ('r', 'p') AND c.relname !~ '_p[0-9]{8}$'
                         AND c.relname <> 'vigie_routines'""",
        "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                            FROM pg_constraint
                           WHERE connamespace = 'public'::regnamespace
                             -- a partition's copy of its parent's constraint: the
                             -- parent's is compared
                             AND conparentid = 0
                             AND conrelid::regclass::text !~ '_p[0-9]{8}$'
                             AND conrelid::regclass::text <> 'vigie_routines'""",
        "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes
                       WHERE schemaname = 'public' AND tablename !~ '_p[0-9]{8}$'
                         AND tablename <> 'vigie_routines'""",
        "routines": """SELECT p.proname, pg_get_function_identity_arguments(p.oid),
                              md5(pg_get_functiondef(p.oid))
                         FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace""",
        "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
                         FROM pg_trigger WHERE NOT tgisinternal
                          AND tgrelid::regclass::text !~ '_p[0-9]{8}$'""",
    }
    with admin_connect(url) as conn:
        return {k: sorted(conn.execute(q).fetchall()) for k, q in queries.items()}


TABLES = ("servers", "metrics", "metrics_rollup", "metric_writes", "server_status_changes",
          "alerts", "alert_state", "alert_rules", "alert_notifications", "metrics_tiers",
          "metrics_maintenance")  # fmt: skip
# The earlier layout's columns of each table: what an upgrade must keep as it was.
OLD_COLUMNS = """SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position)
                   FROM information_schema.columns
                  WHERE table_schema = 'public' AND table_name = ANY(%s)
                  GROUP BY table_name"""


def contents(url, columns: dict[str, list[str]]) -> dict[str, list]:
    with admin_connect(url) as conn:
        return {
            t: sorted(map(repr, conn.execute(f"SELECT {', '.join(columns[t])} FROM {t}")))
            for t in TABLES
        }


def ingest(conn, server_id: int, start: datetime, n: int, cpu: float) -> None:
    samples = [
        sample(recorded_at=iso(start + timedelta(seconds=5 * (n + i))), cpu_percent=cpu)
        for i in range(3)
    ]
    conn.execute("SELECT * FROM vigie_ingest(%s, %s)", [server_id, Jsonb(samples)])


def test_migrations_applied_twice_change_nothing(server_url):
    with scratch_database(server_url, "vigie_test_migrations") as url:
        applied = migrate(url)
        versioned = [m for m in applied if not m.startswith("routines/")]
        assert versioned[0] == "100_schema"
        assert versioned == sorted(versioned)
        routines = sorted(f"routines/{p.name}" for p in (sql_dir() / "routines").glob("*.sql"))
        assert applied == versioned + routines
        schema = schema_of(url)
        assert migrate(url) == []
        assert pending(url) == []
        assert schema_of(url) == schema
        with admin_connect(url) as conn:
            recorded = conn.execute("SELECT migration_id FROM _yoyo_migration").fetchall()
        assert sorted(r[0] for r in recorded) == versioned


def test_every_routine_is_defined_in_exactly_one_file():
    import re

    defined: dict[str, set[str]] = {}
    for path in sql_dir().rglob("*.sql"):
        for name in re.findall(
            r"CREATE (?:OR REPLACE )?(?:FUNCTION|PROCEDURE|TRIGGER) (\w+)", path.read_text()
        ):
            defined.setdefault(name, set()).add(str(path.relative_to(sql_dir())))
    assert defined, "the scan found no routine"
    # (one name defined twice in one file: the overloads of one routine)
    assert {n: f for n, f in defined.items() if len(f) > 1} == {}
    assert all(next(iter(f)).startswith("routines/") for f in defined.values())


@pytest.fixture
def sql_copy(tmp_path, monkeypatch) -> Path:
    """A copy of sql/, which migrate reads and the test may change."""
    copy = tmp_path / "sql"
    shutil.copytree(sql_dir(), copy)
    monkeypatch.setenv("VIGIE_SQL_DIR", str(copy))
    return copy


def test_a_changed_routine_file_is_applied_again_once(server_url, sql_copy):
    with scratch_database(server_url, "vigie_test_routines") as url:
        migrate(url)
        rollups = sql_copy / "routines" / "rollups.sql"
        text = rollups.read_text()
        rule = "ELSE p_current - p_previous END"
        changed = text.replace(rule, rule + " + 0")
        assert changed != text
        rollups.write_text(changed)
        assert pending(url) == ["routines/rollups.sql"]
        assert migrate(url) == ["routines/rollups.sql"]
        assert migrate(url) == []
        with admin_connect(url) as conn:
            source = conn.execute(
                "SELECT prosrc FROM pg_proc WHERE proname = 'vigie_counter_increment'"
            ).fetchone()[0]
        assert "+ 0" in source


def test_a_routine_file_that_fails_applies_nothing(server_url, sql_copy):
    with scratch_database(server_url, "vigie_test_routines_fail") as url:
        migrate(url)
        (sql_copy / "routines" / "alerts.sql").write_text(
            "-- changed\n" + (sql_copy / "routines" / "alerts.sql").read_text()
        )
        (sql_copy / "routines" / "rollups.sql").write_text("CREATE FUNCTION broken(")
        with pytest.raises(psycopg.errors.SyntaxError):
            migrate(url)
        # Neither file is recorded: both are tried again next time.
        assert pending(url) == ["routines/alerts.sql", "routines/rollups.sql"]


def test_a_database_of_the_previous_layout_upgrades_with_no_data_change(server_url, tmp_path):
    old = previous_layout(tmp_path)
    start = datetime.now(UTC) - timedelta(minutes=30)
    with (
        scratch_database(server_url, "vigie_test_upgrade") as url,
        scratch_database(server_url, "vigie_test_fresh") as fresh,
    ):
        with pytest.MonkeyPatch.context() as env:
            env.setenv("VIGIE_SQL_DIR", str(old))
            assert migrate(url)[-1] == "040_alert_catch_up"
        with admin_connect(url) as conn:
            conn.execute(
                "INSERT INTO servers (name, hostname, token_hash) VALUES ('a', 'a', sha256('x'))"
            )
            ingest(conn, 1, start, 0, cpu=99)  # fires a CPU alert
            ingest(conn, 1, start, 3, cpu=99)
        with admin_connect(url) as conn:
            columns = dict(conn.execute(OLD_COLUMNS, [list(TABLES)]).fetchall())
            latest = conn.execute(
                "SELECT server_id, recorded_at, cpu_percent FROM metrics_latest"
            ).fetchall()
        before = contents(url, columns)

        applied = migrate(url)
        assert "100_schema" not in applied  # recorded, not run: its tables exist
        # Every versioned migration after the layout's tables, in order (101_write_path, …).
        after = sorted(f.stem for f in sql_dir().glob("*.sql") if f.stem > "100_schema")
        assert [a for a in applied if not a.startswith("routines/")] == after
        assert after[0] == "101_write_path"
        assert contents(url, columns) == before
        with admin_connect(url) as conn:
            # The latest sample of each server moved into its row.
            moved = conn.execute(
                "SELECT id, latest_at, latest_cpu FROM servers WHERE latest_at IS NOT NULL"
            ).fetchall()
        assert moved == latest and moved
        migrate(fresh)
        assert catalog(url) == catalog(fresh)
        assert migrate(url) == [] and pending(url) == []

        # The upgraded database works as a new one: the alert resolves, announced.
        with admin_connect(url) as conn:
            ingest(conn, 1, start, 6, cpu=10)
            states = conn.execute("SELECT state FROM alert_notifications ORDER BY id").fetchall()
        assert [s[0] for s in states] == ["firing", "resolved"]


def test_a_database_of_an_older_previous_layout_is_refused(server_url, tmp_path):
    old = previous_layout(tmp_path, before="040")
    with scratch_database(server_url, "vigie_test_upgrade_old") as url:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("VIGIE_SQL_DIR", str(old))
            migrate(url)
        with pytest.raises(MigrationError, match="lacks 040_alert_catch_up"):
            migrate(url)


def test_the_database_refuses_what_validation_should_have(db):
    db.execute("INSERT INTO servers (name, hostname, token_hash) VALUES ('a', 'a', sha256('x'))")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
               ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, network_sent_mb,
               network_recv_mb) VALUES (1, now(), 101, 1, 1, 1, 1, 1, 1, 1, 1)"""
        )


def test_alerts_announced_before_the_alert_log_are_not_replayed(server_url, tmp_path):
    """A database of the earlier layout migrated before its 040 (the alert log's
    transaction ids): alerts announced then keep no transaction id, so a relay
    catching up from a horizon older than it does not replay them; alerts announced
    afterwards, and after the upgrade to this layout, are replayed."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    with scratch_database(server_url, "vigie_test_migrations_alerts") as url:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("VIGIE_SQL_DIR", str(previous_layout(tmp_path, before="040")))
            assert "040_alert_catch_up" not in migrate(url)
        with admin_connect(url) as conn:
            conn.execute(
                "INSERT INTO servers (name, hostname, token_hash) VALUES ('a', 'a', sha256('x'))"
            )
            ingest(conn, 1, start, 0, cpu=99)  # fires a CPU alert
            horizon = conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
        with pytest.MonkeyPatch.context() as env:
            env.setenv("VIGIE_SQL_DIR", str(previous_layout(tmp_path)))
            assert migrate(url) == ["040_alert_catch_up"]
        migrate(url)
        with admin_connect(url) as conn:
            ingest(conn, 1, start, 3, cpu=10)  # resolves it
            rows = conn.execute(
                "SELECT state, xid IS NOT NULL FROM alert_notifications ORDER BY id"
            ).fetchall()
            assert rows == [("firing", False), ("resolved", True)]
            conn.row_factory = psycopg.rows.dict_row
            missed = conn.execute(MISSED_ALERTS, {"h": horizon}).fetchall()
            assert [m["payload"]["state"] for m in missed] == ["resolved"]
