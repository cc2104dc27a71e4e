"""The database connection, owned per application.

A long-running process (gunicorn) keeps a small pool; a function host keeps one
connection and reuses it between invocations, since its instances serve one
request at a time. Nothing connects until a request needs the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask, current_app
from psycopg.rows import dict_row

from .config import Settings


class Database:
    def __init__(self, settings: Settings, application_name: str = "vigie-functions") -> None:
        self.settings = settings
        self.mode = settings.resolved_db_mode
        self.application_name = application_name
        self._url = settings.database_url
        self._pool: Any = None
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if not self._url:
            from . import embedded

            # A process that serves requests keeps the embedded server running
            # after it exits: `vigie db stop` stops it.
            self._url = embedded.start(stop_when_unused=False)
        return self._url

    def _connect_kwargs(self) -> dict[str, Any]:
        return {
            "row_factory": dict_row,
            # None: never prepare, which a transaction pooler requires.
            "prepare_threshold": 5 if self.settings.prepared_statements else None,
            "connect_timeout": self.settings.db_connect_timeout,
            "application_name": self.application_name,
        }

    def _get_pool(self) -> Any:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    from psycopg_pool import ConnectionPool

                    pool = ConnectionPool(
                        self.url,
                        min_size=1,
                        max_size=self.settings.db_pool_size,
                        kwargs=self._connect_kwargs(),
                        timeout=self.settings.db_connect_timeout,
                        # A connection left dead by a database restart is replaced
                        # before a request gets it, instead of failing that request.
                        check=ConnectionPool.check_connection,
                        name="vigie",
                        open=False,
                    )
                    pool.open(wait=False)
                    self._pool = pool
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection in a transaction: committed if the block succeeds."""
        if self.mode == "pool":
            with self._get_pool().connection() as conn:
                yield conn
            return
        with self._lock:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                conn = self._conn = psycopg.connect(self.url, **self._connect_kwargs())
            try:
                yield conn
                conn.commit()
            except BaseException:
                if conn.broken or conn.closed:
                    self._conn = None
                else:
                    conn.rollback()
                raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["vigie_db"] = Database(settings)


def get_db() -> Database:
    return current_app.extensions["vigie_db"]


@contextmanager
def connection() -> Iterator[psycopg.Connection]:
    with get_db().connection() as conn:
        yield conn
