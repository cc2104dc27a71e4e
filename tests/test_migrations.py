"""Migrations apply in order, are recorded, and change nothing the second time."""

import psycopg

from functions.migrate import migrate, pending

from .helpers import admin_connect, with_dbname


def schema_of(url):
    with admin_connect(url) as conn:
        return conn.execute(
            """SELECT table_name, column_name, data_type, is_nullable
                 FROM information_schema.columns WHERE table_schema = 'public'
                ORDER BY table_name, column_name"""
        ).fetchall()


def test_migrations_applied_twice_change_nothing(server_url):
    name = "vigie_test_migrations"
    with admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server_url, name)
    try:
        applied = migrate(url)
        assert applied[:2] == ["001_servers_and_metrics", "002_ingest"]
        assert applied == sorted(applied)
        schema = schema_of(url)
        assert migrate(url) == []
        assert pending(url) == []
        assert schema_of(url) == schema
        with admin_connect(url) as conn:
            recorded = conn.execute("SELECT migration_id FROM _yoyo_migration").fetchall()
        assert sorted(r[0] for r in recorded) == applied
    finally:
        with admin_connect(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_database_refuses_what_validation_should_have(db):
    import psycopg
    import pytest

    db.execute("INSERT INTO servers (name, hostname, token_hash) VALUES ('a', 'a', sha256('x'))")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
               ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, network_sent_mb,
               network_recv_mb) VALUES (1, now(), 101, 1, 1, 1, 1, 1, 1, 1, 1)"""
        )


def test_alert_replay_on_an_existing_database_skips_the_alerts_announced_before(
    server_url, tmp_path, monkeypatch
):
    """sql/040 on a database that already has alerts: those keep no transaction id,
    so a relay catching up from a horizon older than the migration does not replay
    them; alerts announced afterwards are replayed."""
    import shutil
    from datetime import UTC, datetime, timedelta

    from psycopg.types.json import Jsonb

    from functions.migrate import sql_dir
    from realtime.feed import MISSED_ALERTS

    from .helpers import iso, sample

    before = tmp_path / "sql"
    before.mkdir()
    for path in sql_dir().glob("*.sql"):
        if path.name < "040":
            shutil.copy(path, before)
    name = "vigie_test_migrations_alerts"
    with admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server_url, name)
    start = datetime.now(UTC) - timedelta(minutes=10)

    def ingest(conn, n: int, cpu: float) -> None:
        samples = [
            sample(recorded_at=iso(start + timedelta(seconds=5 * (n + i))), cpu_percent=cpu)
            for i in range(3)
        ]
        conn.execute("SELECT * FROM vigie_ingest(1, %s)", [Jsonb(samples)])

    try:
        with monkeypatch.context() as env:
            env.setenv("VIGIE_SQL_DIR", str(before))
            assert "040_alert_catch_up" not in migrate(url)
        with admin_connect(url) as conn:
            conn.execute(
                "INSERT INTO servers (name, hostname, token_hash) VALUES ('a', 'a', sha256('x'))"
            )
            ingest(conn, 0, cpu=99)  # fires a CPU alert
            horizon = conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
        assert migrate(url) == ["040_alert_catch_up"]
        with admin_connect(url) as conn:
            ingest(conn, 3, cpu=10)  # resolves it
            rows = conn.execute(
                "SELECT state, xid IS NOT NULL FROM alert_notifications ORDER BY id"
            ).fetchall()
            assert rows == [("firing", False), ("resolved", True)]
            conn.row_factory = psycopg.rows.dict_row
            missed = conn.execute(MISSED_ALERTS, {"h": horizon}).fetchall()
            assert [m["payload"]["state"] for m in missed] == ["resolved"]
    finally:
        with admin_connect(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
