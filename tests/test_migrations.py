"""Migrations apply in order, are recorded, and change nothing the second time."""

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
