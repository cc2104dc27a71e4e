"""What alert evaluation adds to each write: the same ingest for a server whose
rules are on and for one whose rules are all turned off, in one database,
alternating.

    .venv/bin/python bench/alerts_cost.py [--rounds 10] [--block 200]

One client, one connection: each transaction is what POST /api/metrics runs in the
database (the token check that hands over the alert defaults, then vigie_ingest),
committed. Blocks of `--block` transactions alternate between the two servers, so
load from anything else on the machine falls on both sides alike. Cases:
  * quiet: values under every threshold (the common case: a few comparisons with
    the band kept in the server's row);
  * firing: every value over the CPU threshold, so an alert stays active and each
    sample walks the full evaluation;
  * flapping batch: 1000 samples crossing the threshold and the clear level, so
    alerts fire and resolve all through the batch (the worst case).
Prints the median time of the statements of a write (its commit left out: a disk
flush, the same on both sides) and, for batches, the difference per sample.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SAMPLE, create_database, drop_database  # noqa: E402
from vigie import embedded  # noqa: E402
from vigie.migrate import migrate  # noqa: E402
from vigie.settings import AlertSettings  # noqa: E402
from vigie.tokens import hash_token  # noqa: E402

FIELDS = {k: v for k, v in SAMPLE.items() if k != "cpu_percent"}
DEFAULTS = json.dumps(AlertSettings().defaults)
TOKEN_CHECK = (
    "SELECT token_hash, set_config('vigie.alert_defaults', %s, true) FROM servers WHERE id = %s"
)


class Clock:
    """Distinct, increasing sample times per server."""

    def __init__(self) -> None:
        self.next = datetime(2020, 1, 1, tzinfo=UTC)

    def take(self, n: int) -> list[str]:
        times = [(self.next + timedelta(seconds=5 * i)).isoformat() for i in range(n)]
        self.next += timedelta(seconds=5 * n)
        return times


def write(conn: psycopg.Connection, sid: int, clock: Clock, values: list[float]) -> float:
    samples = [
        {"recorded_at": t, "cpu_percent": v, **FIELDS}
        for t, v in zip(clock.take(len(values)), values, strict=True)
    ]
    with conn.transaction():
        start = time.perf_counter()
        conn.execute(TOKEN_CHECK, [DEFAULTS, sid]).fetchone()
        conn.execute("SELECT * FROM vigie_ingest(%s, %s)", [sid, Jsonb(samples)]).fetchone()
        # The statements only: the commit (a disk flush, the same on both sides) is
        # left out, as it would drown the difference on a busy disk.
        return time.perf_counter() - start


def rules_off(conn: psycopg.Connection, sid: int) -> None:
    """Every metric rule of the server turned off: no value can change an alert."""
    for kind in ("cpu", "ram", "disk"):
        conn.execute(
            "INSERT INTO alert_rules (server_id, type, enabled) VALUES (%s, %s, false)",
            [sid, kind],
        )


CASES = {
    "quiet, 1 sample": lambda i: [45.2],
    "firing, 1 sample": lambda i: [99.0],
    "quiet batch, 1000 samples": lambda i: [45.2] * 1000,
    "firing batch, 1000 samples": lambda i: [99.0] * 1000,
    # 95, 95, 95 fires; 50 resolves: an alert fires and resolves every 4 samples.
    "flapping batch, 1000 samples": lambda i: [95.0, 95.0, 95.0, 50.0] * 250,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=200, help="single-sample writes per block")
    parser.add_argument("--batch-block", type=int, default=5, help="batches per block")
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata")
    name = f"vigie_bench_alerts_{os.getpid()}"
    url = create_database(server, name)
    print(f"PostgreSQL: {server.split('?')[0]}  rounds: {args.rounds}  (one client)")
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            for case, values_for in CASES.items():
                block = args.batch_block if len(values_for(0)) > 1 else args.block
                timings: dict[bool, list[float]] = {True: [], False: []}
                # A server per side, so each side keeps its own alert state.
                sids, clocks = {}, {}
                for on in (True, False):
                    sids[on] = conn.execute(
                        "INSERT INTO servers (name, hostname, token_hash) VALUES (%s, %s, %s) "
                        "RETURNING id",
                        [case, f"{case} {on}", hash_token("x")],
                    ).fetchone()[0]
                    clocks[on] = Clock()
                rules_off(conn, sids[False])
                for r in range(args.rounds):
                    for on in (True, False) if r % 2 == 0 else (False, True):
                        for i in range(block):
                            timings[on].append(write(conn, sids[on], clocks[on], values_for(i)))
                n = len(values_for(0))
                on, off = statistics.median(timings[True]), statistics.median(timings[False])
                per = f"   per sample: +{(on - off) / n * 1e6:6.2f} µs" if n > 1 else ""
                print(
                    f"  {case:<30} off {off * 1000:7.3f} ms   on {on * 1000:7.3f} ms   "
                    f"+{(on - off) * 1000:6.3f} ms ({(on / off - 1) * 100:+5.1f} %){per}"
                )
                alerts = conn.execute(
                    "SELECT count(*) FROM alerts WHERE server_id = %s", [sids[True]]
                ).fetchone()[0]
                assert (alerts > 0) == ("quiet" not in case), (case, alerts)
    finally:
        drop_database(server, name)


if __name__ == "__main__":
    main()
