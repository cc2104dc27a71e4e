"""Database access shared by the functions and the relay: one pool builder, and
the two ways the functions hold connections.

A long-running process (gunicorn) keeps a small pool; a function host keeps one
connection and reuses it between invocations, since its instances serve one
request at a time. Nothing connects until something needs the database.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from . import embedded
from .settings import DatabaseSettings

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


def connect_kwargs(
    application_name: str, *, prepare: bool = True, connect_timeout: int = 5
) -> dict[str, Any]:
    return {
        "row_factory": dict_row,
        # None: never prepare, which a transaction pooler requires.
        "prepare_threshold": 5 if prepare else None,
        "connect_timeout": connect_timeout,
        "application_name": application_name,
    }


# A pooled connection idle longer than this is checked (one round trip) before it is
# handed out, so one left dead by a database restart is replaced instead of failing
# the request; one returned more recently is handed out as it is. A connection that
# breaks in use is thrown away on its return, whatever its age.
CHECK_IDLE_SECONDS = 5.0


# When each pooled connection was last given back.
_returned: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _given_back(conn: psycopg.Connection) -> None:
    _returned[conn] = time.monotonic()


def _check_if_idle(conn: psycopg.Connection) -> None:
    returned = _returned.get(conn)
    if returned is None or time.monotonic() - returned > CHECK_IDLE_SECONDS:
        from psycopg_pool import ConnectionPool

        ConnectionPool.check_connection(conn)


def make_pool(
    url: str,
    *,
    name: str,
    max_size: int,
    timeout: float = 5,
    prepare: bool = True,
    connect_timeout: int = 5,
) -> ConnectionPool:
    """A pool, not yet open: ``pool.open(wait=False)`` connects in the background.
    Connections idle a while are checked before they are handed out."""
    # Imported here: a function host that keeps one connection never needs it.
    from psycopg_pool import ConnectionPool

    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs=connect_kwargs(name, prepare=prepare, connect_timeout=connect_timeout),
        timeout=timeout,
        check=_check_if_idle,
        reset=_given_back,
        name=name,
        open=False,
    )


def resolve_url(url: str) -> str:
    """The URL itself, or with none, the embedded server of this checkout (left
    running when this process exits: `vigie db stop` stops it)."""
    return url or embedded.start(stop_when_unused=False)


class Database:
    """The connections of one application: a pool, or one reused connection."""

    def __init__(self, settings: DatabaseSettings, application_name: str) -> None:
        self.settings = settings
        self.mode = settings.resolved_mode
        self.application_name = application_name
        self._url = settings.url
        self._pool: ConnectionPool | None = None
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if not self._url:
            self._url = resolve_url(self._url)
        return self._url

    def _get_pool(self) -> ConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    pool = make_pool(
                        self.url,
                        name=self.application_name,
                        max_size=self.settings.pool_size,
                        timeout=self.settings.connect_timeout,
                        prepare=self.settings.prepare,
                        connect_timeout=self.settings.connect_timeout,
                    )
                    pool.open(wait=False)
                    self._pool = pool
        return self._pool

    @contextmanager
    def connection(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection in a transaction, committed if the block succeeds; or, with
        ``autocommit``, one whose every statement is its own transaction (a write
        that is one statement then takes one round trip, not three)."""
        if self.mode == "pool":
            with self._get_pool().connection() as conn:
                if autocommit:
                    conn.autocommit = True
                try:
                    yield conn
                finally:
                    if autocommit and not (conn.closed or conn.broken):
                        conn.autocommit = False
            return
        with self._lock:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                conn = self._conn = psycopg.connect(
                    self.url,
                    **connect_kwargs(
                        self.application_name,
                        prepare=self.settings.prepare,
                        connect_timeout=self.settings.connect_timeout,
                    ),
                )
            try:
                if autocommit:
                    conn.autocommit = True
                yield conn
                if not autocommit:
                    conn.commit()
            except BaseException:
                if conn.broken or conn.closed:
                    self._conn = None
                elif not conn.autocommit:
                    conn.rollback()
                raise
            finally:
                if autocommit and not (conn.closed or conn.broken):
                    conn.autocommit = False

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
