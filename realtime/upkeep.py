"""Upkeep, in the background of every relay: the offline sweep, pruning the
catch-up log, the rollups, and history maintenance (retention, coming
partitions)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
from psycopg_pool import ConnectionPool

from vigie import maintenance
from vigie.settings import RelaySettings, RetentionSettings

log = logging.getLogger("vigie.relay")


class Upkeep:
    def __init__(
        self,
        pool: ConnectionPool,
        settings: RelaySettings,
        prunable_xid: Callable[[], int | None],
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.prunable_xid = prunable_xid
        self.stopping = False

    def sweep_forever(self) -> None:
        """Every ``sweep_seconds``: servers silent for ``offline_after`` of their
        intervals go offline (stored and announced once, vigie_sweep_offline); a
        few times per log retention, the catch-up logs are pruned."""
        last_prune = time.monotonic()
        while not self.stopping:
            time.sleep(self.settings.sweep_seconds)
            try:
                with self.pool.connection() as conn:
                    flipped = conn.execute(
                        "SELECT * FROM vigie_sweep_offline(%s)", [self.settings.offline_after]
                    ).fetchall()
                for row in flipped:
                    log.info("server %s went offline (last seen %s)", *row.values())
                # Prune a few times per retention period (at most every minute).
                if time.monotonic() - last_prune > min(60.0, self.settings.log_retention / 4):
                    last_prune = time.monotonic()
                    self.prune()
            except (psycopg.Error, OSError) as exc:
                log.warning("offline sweep failed: %s", exc)

    def prune(self) -> None:
        xid = self.prunable_xid()
        if xid is None:
            return
        with self.pool.connection() as conn:
            for log_table in ("metric_writes", "server_events"):
                conn.execute(
                    f"DELETE FROM {log_table} WHERE xid < %s::text::xid8",  # noqa: S608 - constant
                    [str(xid)],
                )

    def roll_up_forever(self, every: float) -> None:
        """Bring the rollups up to date with what was written, every ``every``
        seconds (vigie_rollup_pending: one relay at a time does the work)."""
        while not self.stopping:
            time.sleep(every)
            try:
                with self.pool.connection() as conn:
                    conn.execute("SELECT vigie_rollup_pending()")
            except (psycopg.Error, OSError) as exc:
                log.warning("rollups not brought up to date: %s", exc)

    def maintain_forever(self, database_url: str, retention: RetentionSettings) -> None:
        """History retention and partitions: every relay offers, one at a time runs."""
        maintenance.run_forever(database_url, retention, lambda: self.stopping)
