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


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["vigie_db"] = Database(settings.database, "vigie-functions")


def get_db() -> Database:
    return current_app.extensions["vigie_db"]


@contextmanager
def connection(autocommit: bool = False) -> Iterator[psycopg.Connection]:
    with get_db().connection(autocommit) as conn:
        yield conn
