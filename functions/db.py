"""The application's database: one ``vigie.db.Database`` per app (a pool in a
long-running process, one reused connection on a function host), reached through
``connection()`` while a request is served."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app

from vigie.db import Database
from vigie.settings import Settings

from .grouping import GroupWriter


def init_app(app: Flask, settings: Settings) -> None:
    db = Database(settings.database, "vigie-functions")
    app.extensions["vigie_db"] = db
    app.extensions["vigie_writer"] = GroupWriter(db, settings.api.ingest_group)


def get_db() -> Database:
    return current_app.extensions["vigie_db"]


def writer() -> GroupWriter:
    """Where single-sample writes go (functions/grouping.py)."""
    return current_app.extensions["vigie_writer"]


@contextmanager
def connection(autocommit: bool = False) -> Iterator[psycopg.Connection]:
    with get_db().connection(autocommit) as conn:
        yield conn
