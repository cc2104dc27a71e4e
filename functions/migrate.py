"""Migrations: the numbered plain-SQL files of ``sql/``, applied in order by yoyo,
recorded in the database (table ``_yoyo_migration``), safe to run again."""

from __future__ import annotations

import os
from pathlib import Path
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


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; return the ids applied (empty when up to date)."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_url(database_url))
    try:
        migrations = read_migrations(str(sql_dir()))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def pending(database_url: str) -> list[str]:
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_url(database_url))
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(sql_dir())))]
    finally:
        backend.connection.close()
