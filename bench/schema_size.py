"""Bytes per metrics row: the seed's layout beside Vigie's, same data, same order.

    .venv/bin/python bench/schema_size.py [--servers 10] [--hours 24]

Loads the same samples (servers interleaved in time order, as live ingest writes
them) into the seed's table (DECIMAL columns, BIGSERIAL key, three indexes) and
into Vigie's (real columns, double counters, one (server_id, recorded_at) key),
one INSERT per hour of data, then prints table + index bytes
per row and the load rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_database, drop_database  # noqa: E402
from vigie import embedded  # noqa: E402

SEED = """
CREATE TABLE seed_metrics (
    id BIGSERIAL PRIMARY KEY,
    server_id INTEGER NOT NULL,
    cpu_percent DECIMAL(5,2), ram_percent DECIMAL(5,2),
    ram_used_mb DECIMAL(10,2), ram_total_mb DECIMAL(10,2),
    disk_percent DECIMAL(5,2), disk_used_gb DECIMAL(10,2), disk_total_gb DECIMAL(10,2),
    network_sent_mb DECIMAL(10,2), network_recv_mb DECIMAL(10,2),
    recorded_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX idx_metrics_server_id ON seed_metrics(server_id);
CREATE INDEX idx_metrics_recorded_at ON seed_metrics(recorded_at);
CREATE INDEX idx_metrics_server_time ON seed_metrics(server_id, recorded_at);
"""
VIGIE = (ROOT / "sql" / "001_servers_and_metrics.sql").read_text().split("CREATE TABLE metrics")[1]
VIGIE = "CREATE TABLE vigie_metrics" + VIGIE.replace(
    "REFERENCES servers (id) ON DELETE CASCADE", ""
)

# Realistic values: percentages with decimals, sizes, ever-growing counters.
LOAD = """
INSERT INTO {table} (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
    ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
SELECT s, t, round((random() * 100)::numeric, 2), round((30 + random() * 40)::numeric, 2),
       round((4000 + random() * 4000)::numeric, 2), 16384, round((50 + random())::numeric, 2),
       round((200 + random())::numeric, 2), 512, extract(epoch from t - %(origin)s) * 0.5 + s,
       extract(epoch from t - %(origin)s) * 1.5 + s
  FROM generate_series(%(first)s, %(last)s, interval '5 seconds') t,
       generate_series(1, %(servers)s) s
 ORDER BY t, s
"""
ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)


def measure(conn: psycopg.Connection, table: str, servers: int, hours: int) -> dict:
    """Load hour by hour (as live ingest appends), then measure."""
    began = time.perf_counter()
    for h in range(hours):
        first = ORIGIN + timedelta(hours=h)
        last = first + timedelta(hours=1, seconds=-5)
        params = {"origin": ORIGIN, "first": first, "last": last, "servers": servers}
        conn.execute(LOAD.format(table=table), params)
    elapsed = time.perf_counter() - began
    conn.execute(f"VACUUM ANALYZE {table}")
    rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
    heap, total = conn.execute(
        "SELECT pg_table_size(%s), pg_total_relation_size(%s)", [table, table]
    ).fetchone()
    return {
        "rows": rows,
        "heap": heap / rows,
        "index": (total - heap) / rows,
        "total": total / rows,
        "rate": rows / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--hours", type=int, default=24)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata")
    name = f"vigie_schema_{os.getpid()}"
    url = create_database(server, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SEED)
            conn.execute(VIGIE)
            results = {
                t: measure(conn, t, args.servers, args.hours)
                for t in ("seed_metrics", "vigie_metrics")
            }
    finally:
        drop_database(server, name)
    print(f"{args.servers} servers x {args.hours} h at 5 s, bytes per row:")
    print(f"  {'layout':<16}{'rows':>10}{'heap':>8}{'indexes':>9}{'total':>8}{'load rows/s':>13}")
    for table, r in results.items():
        print(
            f"  {table:<16}{r['rows']:>10,}{r['heap']:>8.1f}{r['index']:>9.1f}"
            f"{r['total']:>8.1f}{r['rate']:>13,.0f}"
        )
    seed, vigie = results["seed_metrics"], results["vigie_metrics"]
    print(f"  Vigie's layout: {100 * (1 - vigie['total'] / seed['total']):.0f}% smaller per row")


if __name__ == "__main__":
    main()
