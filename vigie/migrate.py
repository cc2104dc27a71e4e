"""The schema: versioned migrations, then the current routines.

- ``sql/NNN_*.sql``: versioned migrations (tables, indexes, data changes), applied
  once each, in order, by yoyo, recorded in ``_yoyo_migration``; never edited once
  released.
- ``sql/routines/*.sql``: every function, procedure and trigger, one current file
  per group (ingest, alerts, rollups, retention, realtime, partitions). After the
  versioned migrations, each file whose content changed since it was last applied
  (by SHA-256, recorded in ``vigie_routines``) is run again, all of them in one
  transaction, in name order. The files are written to be re-run (``CREATE OR
  REPLACE``), so reading one file tells what runs.

A database migrated by the earlier layout (migrations 001-040, which defined the
routines themselves) is recognised: ``100_schema`` is recorded as applied there,
since those migrations made the same tables, and the routine files replace their
routines. No row changes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .embedded import ROOT

# The migrations of the earlier layout, folded into 100_schema.
PREVIOUS_LAYOUT = (
    "001_servers_and_metrics", "002_ingest", "010_realtime", "020_alerts",
    "021_alert_evaluation", "022_alert_evaluation_fast_path", "030_partition_metrics",
    "031_rollups", "032_retention", "040_alert_catch_up",
)  # fmt: skip
BASELINE = "100_schema"

ROUTINES_TABLE = """
CREATE TABLE IF NOT EXISTS vigie_routines (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


class MigrationError(RuntimeError):
    """The database cannot be brought to this version as it is; says why."""


def sql_dir() -> Path:
    return Path(os.environ.get("VIGIE_SQL_DIR", ROOT / "sql"))


def routine_files(directory: Path | None = None) -> list[Path]:
    return sorted(((directory or sql_dir()) / "routines").glob("*.sql"))


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def yoyo_url(database_url: str) -> str:
    """yoyo names its psycopg 3 backend ``postgresql+psycopg``."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def backend_for(database_url: str) -> Any:
    from yoyo import get_backend

    backend = get_backend(yoyo_url(database_url))
    # Behind a transaction pooler (Supabase's port 6543, where a release step may
    # run), a statement prepared on one server connection is unknown on the next;
    # migrations run too rarely to gain from preparing anyway.
    backend.connection.prepare_threshold = None
    return backend


def _previous_layout_applied(backend: Any) -> set[str]:
    from yoyo.migrations import get_migration_hash

    applied = set(backend.get_applied_migration_hashes())
    return {m for m in PREVIOUS_LAYOUT if get_migration_hash(m) in applied}


def _adopt_previous_layout(backend: Any, migrations: Any) -> None:
    """On a database migrated by the earlier layout, record the baseline as applied."""
    baseline = [m for m in migrations if m.id == BASELINE]
    if not baseline or backend.is_applied(baseline[0]):
        return
    done = _previous_layout_applied(backend)
    if not done:
        return
    if done != set(PREVIOUS_LAYOUT):
        missing = ", ".join(sorted(set(PREVIOUS_LAYOUT) - done))
        raise MigrationError(
            f"this database was migrated by an older Vigie and lacks {missing}: "
            "upgrade it with the last release of the earlier layout first"
        )
    backend.mark_migrations(baseline)


def apply_routines(connection: Any, directory: Path | None = None) -> list[str]:
    """Run every routine file whose content changed, in one transaction; return
    their names."""
    files = routine_files(directory)
    with connection.transaction(), connection.cursor() as cur:
        cur.execute(ROUTINES_TABLE)
        cur.execute("SELECT name, checksum FROM vigie_routines")
        recorded = dict(cur.fetchall())
        changed = [f for f in files if recorded.get(f.name) != checksum(f)]
        for path in changed:
            cur.execute(path.read_text())
            cur.execute(
                """INSERT INTO vigie_routines (name, checksum) VALUES (%s, %s)
                   ON CONFLICT (name) DO UPDATE
                      SET checksum = EXCLUDED.checksum, applied_at = now()""",
                [path.name, checksum(path)],
            )
        if changed:
            # The coming days' partitions, so that the first samples do not land in
            # the default partitions.
            cur.execute("SELECT vigie_create_coming_partitions()")
    if not connection.autocommit:
        connection.commit()
    return [f.name for f in changed]


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations, then the routines that changed; return what was
    applied (empty when up to date)."""
    from yoyo import read_migrations

    backend = backend_for(database_url)
    try:
        migrations = read_migrations(str(sql_dir()))
        with backend.lock():
            _adopt_previous_layout(backend, migrations)
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
            routines = apply_routines(backend.connection)
        return [m.id for m in pending] + [f"routines/{name}" for name in routines]
    finally:
        backend.connection.close()


def pending(database_url: str) -> list[str]:
    """What ``migrate`` would apply now."""
    from yoyo import read_migrations

    backend = backend_for(database_url)
    try:
        migrations = read_migrations(str(sql_dir()))
        todo = [m.id for m in backend.to_apply(migrations)]
        with backend.connection.cursor() as cur:
            cur.execute("SELECT to_regclass('vigie_routines') IS NOT NULL")
            recorded: dict[str, str] = {}
            if cur.fetchone()[0]:
                cur.execute("SELECT name, checksum FROM vigie_routines")
                recorded = dict(cur.fetchall())
        backend.connection.rollback()
        todo += [
            f"routines/{f.name}" for f in routine_files() if recorded.get(f.name) != checksum(f)
        ]
        if BASELINE in todo and _previous_layout_applied(backend) == set(PREVIOUS_LAYOUT):
            todo.remove(BASELINE)
        return todo
    finally:
        backend.connection.close()
