"""Single-sample writes that arrive together committed together.

A live sample is one small transaction, and each ends with a NOTIFY; PostgreSQL
takes one cluster-wide lock for a notifying transaction's commit, WAL flush
included, so notifying commits run one after another: past about a thousand a
second on a small machine, samples queue for that lock, not for CPU. The writer
lets the writes that are waiting share one transaction: while one group is being
written, the requests that arrive wait, then go together, each ``vigie_ingest``
call unchanged (its own server, token check, write log and NOTIFY), sent in one
pipeline and committed once. Nobody waits for company: a write that finds the
writer idle goes at once, alone.

Every request still gets its own answer. If a group fails (a wrong token, data the
database refuses, a lost connection), nothing of it was committed, and each of its
writes is made again alone, so each request gets the answer it would have had alone
and no write is blocked by another's error. Within a group the calls go in server
order, so two groups never wait on each other's server rows.

At most three groups per process are in flight (with the Procfile's eight
threads, a write waits for company only when three groups are being written, and
the threads waiting are what let the next group form); ``VIGIE_INGEST_GROUP`` bounds a
group's size (1: every write alone, as many at once as there are threads). No
thread of its own: a request that finds a place free writes the group, then hands
the next one to the first request waiting.
"""

from __future__ import annotations

import threading
from typing import Any

from vigie.db import Database


class _Write:
    __slots__ = ("query", "params", "done", "leads", "result", "error")

    def __init__(self, query: str, params: list[Any]) -> None:
        self.query = query
        self.params = params
        self.done = threading.Event()
        self.leads = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupWriter:
    def __init__(self, db: Database, limit: int, leaders: int = 3) -> None:
        self.db = db
        self.limit = max(1, limit)
        self.leaders = max(1, leaders)
        self._lock = threading.Lock()
        self._waiting: list[_Write] = []
        self._leading = 0

    def waiting(self) -> int:
        """How many writes wait for a group."""
        with self._lock:
            return len(self._waiting)

    def execute(self, query: str, params: list[Any]) -> Any:
        """The first row of one write statement, committed; its error re-raised here.
        ``params[0]`` is the server id (the order writes take in a group)."""
        write = _Write(query, params)
        if self.limit == 1:
            self._write([write])
        else:
            self._join(write)
        if write.error is not None:
            raise write.error
        return write.result

    def _join(self, write: _Write) -> None:
        with self._lock:
            self._waiting.append(write)
            leads = self._leading < self.leaders
            if leads:
                self._leading += 1
        if not leads:
            write.done.wait()
            leads = write.leads
        if leads:
            self._lead()

    def _lead(self) -> None:
        with self._lock:
            group = self._waiting[: self.limit]
            del self._waiting[: self.limit]
        try:
            self._write(group)
        finally:
            with self._lock:
                if self._waiting:
                    following = self._waiting[0]
                    following.leads = True
                    following.done.set()
                else:
                    self._leading -= 1
            for write in group:
                if not write.leads:
                    write.done.set()

    def _write(self, group: list[_Write]) -> None:
        if len(group) > 1:
            ordered = sorted(group, key=lambda w: w.params[0])
            rows = None
            try:
                # BEGIN, the calls and COMMIT in one pipeline: one round trip.
                with self.db.connection() as conn:
                    with conn.pipeline(), conn.transaction():
                        cursors = [conn.execute(w.query, w.params) for w in ordered]
                    rows = [cursor.fetchone() for cursor in cursors]
            except Exception:  # noqa: BLE001 - nothing was committed: each write again, alone
                rows = None
            if rows is not None:
                for write, row in zip(ordered, rows, strict=True):
                    write.result = row
                return
        for write in group:
            try:
                with self.db.connection(autocommit=True) as conn:
                    write.result = conn.execute(write.query, write.params).fetchone()
            except BaseException as exc:  # noqa: BLE001 - raised in the request's thread
                write.error = exc
