"""Migrations: the numbered plain-SQL files of ``sql/``, applied in order by yoyo,
recorded in the database (table ``_yoyo_migration``), safe to run again."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .embedded import ROOT


def sql_dir() -> Path:
    return Path(os.environ.get("VIGIE_SQL_DIR", ROOT / "sql"))


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


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; return the ids applied (empty when up to date)."""
    from yoyo import read_migrations

    backend = backend_for(database_url)
    try:
        migrations = read_migrations(str(sql_dir()))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def pending(database_url: str) -> list[str]:
    from yoyo import read_migrations

    backend = backend_for(database_url)
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(sql_dir())))]
    finally:
        backend.connection.close()
