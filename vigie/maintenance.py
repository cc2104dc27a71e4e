"""History upkeep: retention and the coming days' partitions.

The work is the SQL procedure ``vigie_maintain()`` (sql/routines/retention.sql),
which claims the run in the database: however many processes call :func:`maintain` (every relay
instance does, once a minute), one run happens at a time, at most every
``min_interval``. On Supabase, pg_cron can call the procedure instead::

    SELECT vigie_set_retention('7 days', '90 days', '180 days', '2 years');
    SELECT cron.schedule('vigie-maintain', '* * * * *', 'CALL vigie_maintain()');
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg

from .settings import RetentionSettings

log = logging.getLogger("vigie.maintenance")

DEFAULT_MIN_INTERVAL = timedelta(seconds=30)


def set_retention(conn: psycopg.Connection, retention: RetentionSettings) -> None:
    """Store the configured retention where the procedure (and pg_cron) reads it."""
    conn.execute(
        "SELECT vigie_set_retention(%s, %s, %s, %s)",
        [retention.raw, retention.minute, retention.five_minutes, retention.hour],
    )


def maintain(
    database_url: str, retention: RetentionSettings, min_interval: timedelta = DEFAULT_MIN_INTERVAL
) -> dict[str, Any]:
    """Apply the configured retention and create the coming partitions, unless
    another process ran it less than ``min_interval`` ago (or is running it).
    Returns the procedure's report: ``{"ran": false}`` when it did not run."""
    # The procedure commits between its steps: it must not run inside a transaction.
    with psycopg.connect(
        database_url, autocommit=True, application_name="vigie-maintenance"
    ) as conn:
        set_retention(conn, retention)
        row = conn.execute("CALL vigie_maintain(NULL, %s)", [min_interval]).fetchone()
    report = row[0] if row else {"ran": False}
    if report.get("ran"):
        log.info("history maintenance: %s", report)
    return report


def run_forever(
    database_url: str, retention: RetentionSettings, stopping: Callable[[], bool] = lambda: False
) -> None:
    """Offer to run maintenance every ``retention.maintenance_seconds``: what each
    relay does in the background. A failed run is logged and tried again later."""
    # Spread the relays that start together; the claim makes extra calls no-ops anyway.
    time.sleep(random.uniform(1, 5))
    while not stopping():
        try:
            maintain(database_url, retention)
        except (psycopg.Error, OSError) as exc:
            log.warning("history maintenance failed: %s", exc)
        time.sleep(retention.maintenance_seconds)
