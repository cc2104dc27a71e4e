"""Behind a transaction pooler (PgBouncer here; Supabase's port 6543 in production)
and over TLS: the settings docs/deploy.md tells a user to set, proven against a
real PgBouncer in transaction mode.

The whole functions suite also runs through it (VIGIE_TEST_POOLER=pgbouncer, in CI);
these tests show what that pass guards against, and run in every pass."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from functions.factory import create_app
from vigie.migrate import migrate, sql_dir
from vigie.settings import ApiSettings, DatabaseSettings, Settings

from . import pgbouncer as bouncers
from .conftest import ENROLL, bearer
from .helpers import admin_connect, sample, with_dbname


def test_the_pooler_moves_a_client_between_server_connections(pgbouncer, direct_database_url):
    """Transaction mode, as Supabase's: a client's next transaction may run on
    another server connection, so a statement prepared on one is unknown on the
    other. (If this passed in session mode, the tests below would prove nothing.)"""
    url = pgbouncer.url_for(direct_database_url)
    with (
        psycopg.connect(url, autocommit=True, prepare_threshold=None) as a,
        psycopg.connect(url, autocommit=True, prepare_threshold=0) as b,
    ):
        with a.transaction():
            held = a.execute("SELECT pg_backend_pid()").fetchone()[0]
            # a holds its server connection: b's statement runs on another one,
            # and prepare_threshold=0 prepares it there.
            first = b.execute("SELECT pg_backend_pid() + %s", [0]).fetchone()[0]
        assert first != held
        # a's server connection is now the most recently freed one: PgBouncer
        # gives it to b's next transaction, where the statement was never prepared.
        with pytest.raises(psycopg.errors.InvalidSqlStatementName, match="does not exist"):
            b.execute("SELECT pg_backend_pid() + %s", [0])


def _app(url: str, mode: str, **settings):
    return create_app(
        Settings(
            database=DatabaseSettings(url=url, mode=mode, pool_size=4, **settings),
            api=ApiSettings(enroll_token=ENROLL),
        )
    )


@pytest.mark.parametrize("mode", ["pool", "single"])
def test_functions_with_prepared_statements_off_work_through_the_pooler(
    pgbouncer, direct_database_url, db, mode
):
    app = _app(pgbouncer.url_for(direct_database_url), mode, prepared_statements="off")
    client = app.test_client()
    try:
        registered = client.post(
            "/api/servers/register", json={"hostname": "pooled"}, headers=bearer(ENROLL)
        )
        sid, token = registered.json["id"], registered.json["ingest_token"]

        def post(i: int) -> int:
            body = {
                "server_id": sid,
                **sample(recorded_at=f"2026-02-04T10:{i // 60:02}:{i % 60:02}Z"),
            }
            return client.post("/api/metrics", json=body, headers=bearer(token)).status_code

        # Far more statements than psycopg's prepare threshold (5), from several
        # threads at once, so server connections are shared between clients.
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(post, range(40)))
        assert statuses == [201] * 40
        for _ in range(10):
            assert client.get(f"/api/metrics/current/{sid}").status_code == 200
            assert client.get(f"/api/metrics/history/{sid}").status_code == 200
        count = db.execute("SELECT count(*) AS n FROM metrics WHERE server_id = %s", [sid])
        assert count.fetchone()["n"] == 40
    finally:
        app.extensions["vigie_db"].close()


def test_a_notify_sent_through_the_pooler_reaches_a_direct_listener(
    pgbouncer, direct_database_url, db
):
    """The functions write through the transaction pooler; the relay LISTENs on a
    direct (or session-mode) connection: every event still arrives, once."""
    app = _app(pgbouncer.url_for(direct_database_url), "single", prepared_statements="off")
    client = app.test_client()
    try:
        with psycopg.connect(direct_database_url, autocommit=True) as listener:
            listener.execute("LISTEN vigie_events")
            registered = client.post(
                "/api/servers/register", json={"hostname": "pooled"}, headers=bearer(ENROLL)
            )
            sid, token = registered.json["id"], registered.json["ingest_token"]
            for second in range(3):
                body = {"server_id": sid, **sample(recorded_at=f"2026-02-04T10:00:0{second}Z")}
                assert (
                    client.post("/api/metrics", json=body, headers=bearer(token)).status_code == 201
                )
            events = []
            for note in listener.notifies(timeout=10):
                events.append(json.loads(note.payload))
                if len(events) == 4:
                    break
    finally:
        app.extensions["vigie_db"].close()
    assert [(e["kind"], e["server_id"]) for e in events] == [("server", sid)] + [
        ("metrics", sid)
    ] * 3
    assert [e["first"][:19] for e in events[1:]] == [f"2026-02-04T10:00:0{s}" for s in range(3)]


@pytest.mark.parametrize("mode", ["pool", "single"])
def test_sslmode_in_database_url_reaches_the_connection(pgbouncer, direct_database_url, db, mode):
    """TLS settings travel in DATABASE_URL's query string (as Supabase gives it)."""
    tls = pgbouncer.url_for(direct_database_url, sslmode="require")
    app = _app(tls, mode, prepared_statements="off")
    try:
        assert app.test_client().get("/api/health").status_code == 200
        with app.app_context(), app.extensions["vigie_db"].connection() as conn:
            assert conn.pgconn.ssl_in_use
    finally:
        app.extensions["vigie_db"].close()

    # Asking to verify the certificate against a root it was not signed by fails:
    # the setting is applied, not ignored; the API answers 503, never a traceback.
    untrusted = pgbouncer.url_for(
        direct_database_url, sslmode="verify-ca", sslrootcert=str(pgbouncer.folder / "other.pem")
    )
    app = _app(untrusted, mode, prepared_statements="off", connect_timeout=2)
    try:
        refused = app.test_client().get("/api/servers")
        assert refused.status_code == 503
        assert refused.json["error"] == "database_unavailable"
    finally:
        app.extensions["vigie_db"].close()


def test_migrations_run_through_the_pooler(server_url, tmp_path, monkeypatch):
    """A release step may run `vigie migrate` with the functions' DATABASE_URL,
    the transaction pooler: each migration's statements may then run on another
    server connection than the one before."""
    bouncers.skip_if_missing()
    folder = tmp_path / "sql"
    folder.mkdir()
    for migration in sorted(sql_dir().glob("*.sql")):
        (folder / migration.name).write_text(migration.read_text())
    # Enough migrations for yoyo to repeat its bookkeeping statements more often
    # than psycopg's prepare threshold.
    for n in range(900, 912):
        (folder / f"{n}_probe.sql").write_text(f"CREATE TABLE probe_{n} (id int);\n")
    monkeypatch.setenv("VIGIE_SQL_DIR", str(folder))
    name = f"vigie_migrate_pooled_{os.getpid()}"
    with admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    direct = with_dbname(server_url, name)
    bouncer = bouncers.start(server_url, round_robin=True)
    try:
        url = bouncer.url_for(direct)
        # Two server connections, so that round robin alternates between them.
        with psycopg.connect(url) as a, psycopg.connect(url) as b:
            a.execute("SELECT 1")
            b.execute("SELECT 1")
        applied = migrate(url)
        assert len(applied) == len(list(folder.glob("*.sql")))
        assert migrate(url) == []
    finally:
        bouncer.stop()
        with admin_connect(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    ("url", "setting", "prepared"),
    [
        ("postgresql://u@aws-0-eu-west-3.pooler.supabase.com:6543/postgres", "auto", False),
        ("postgresql://u@aws-0-eu-west-3.pooler.supabase.com:5432/postgres", "auto", True),
        ("postgresql://u@db.example.com/postgres?sslmode=require", "auto", True),
        ("postgresql://u@pgbouncer.internal:6432/postgres", "off", False),
        ("postgresql://u@db.example.com:6543/postgres", "on", True),
    ],
)
def test_prepared_statements_follow_the_setting_and_the_port(url, setting, prepared):
    settings = Settings.from_env({"DATABASE_URL": url, "VIGIE_DB_PREPARED_STATEMENTS": setting})
    assert settings.database.prepare is prepared
