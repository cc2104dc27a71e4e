"""The durable backlog: every sample is written here first and deleted only once
the API has acknowledged it, so a crash, a reboot or an API outage loses nothing.

SQLite in WAL mode with synchronous=FULL: each sample is on disk before it is
sent. At one write per interval the cost is negligible, and SQLite ships with
Python. Bounded by a number of samples and an age (or only a number, with no
age limit); the oldest go first and each drop is logged with its count.

The sampling thread adds while the sending thread reads and removes: one
connection, shared by both under a lock. Each use is a statement or two, never
held across a request to the API, so neither thread waits on the other for long.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .durations import format_duration

log = logging.getLogger("vigie_collector")

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at    REAL NOT NULL,              -- unix time, for the age bound
    body        TEXT NOT NULL               -- the sample as sent, recorded_at included
)
"""


class Backlog:
    def __init__(
        self, path: Path, max_samples: int = 100_000, max_age: float | None = 7 * 86400
    ) -> None:
        self.path = path
        self.max_samples = max_samples
        self.max_age = max_age  # None: no age limit, only the number of samples
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we say where transactions start and end.
        # check_same_thread=False: the lock below makes sharing the connection safe.
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self.lock = threading.RLock()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(SCHEMA)
        path.chmod(0o600)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def add(self, sample: dict) -> None:
        now = time.time()
        too_old = too_many = 0
        with self._transaction():
            self.db.execute(
                "INSERT INTO samples (taken_at, body) VALUES (?, ?)",
                (now, json.dumps(sample, separators=(",", ":"))),
            )
            if self.max_age is not None:
                too_old = self.db.execute(
                    "DELETE FROM samples WHERE taken_at < ?", (now - self.max_age,)
                ).rowcount
            over = self.count() - self.max_samples
            if over > 0:
                too_many = self.db.execute(
                    "DELETE FROM samples WHERE id IN (SELECT id FROM samples ORDER BY id LIMIT ?)",
                    (over,),
                ).rowcount
        if too_old:
            log.warning(
                "backlog: dropped %d sample(s) older than %s (the API has been unreachable "
                "that long)",
                too_old,
                format_duration(self.max_age),
            )
        if too_many:
            log.warning(
                "backlog: full at %d samples, dropped the %d oldest", self.max_samples, too_many
            )

    def oldest(self, limit: int) -> list[tuple[int, dict]]:
        return [(row_id, json.loads(body)) for row_id, body in self.oldest_bodies(limit)]

    def oldest_bodies(self, limit: int) -> list[tuple[int, str]]:
        """The oldest samples as stored: JSON, ready to send as they are."""
        with self.lock:
            return self.db.execute(
                "SELECT id, body FROM samples ORDER BY id LIMIT ?", (limit,)
            ).fetchall()

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._transaction():
            self.db.executemany("DELETE FROM samples WHERE id = ?", [(i,) for i in ids])

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT count(*) FROM samples").fetchone()[0]

    def oldest_recorded_at(self) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT body FROM samples ORDER BY id LIMIT 1").fetchone()
        return json.loads(row[0])["recorded_at"] if row else None

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db, self.lock)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error), holding the backlog's lock
    throughout, so the other thread's statements never land inside it."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, kind, value, tb) -> None:
        try:
            self.db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.lock.release()
