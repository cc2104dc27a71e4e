"""What operating servers costs: the server list with tags and silences, and a removal.

1. The server list (GET /api/servers' query) at fleet size, as it reads now (each
   server's tags, load, fullest filesystem and the silence covering it, the active
   silences read once and matched by id and by tag) beside the same list without
   them (the query before tags and silences), in interleaved rounds; with
   `--silences` active silences, half by server, half by tag, and every server
   carrying two of 20 tags. Figures: median milliseconds
   per list in the database (execute and fetch on one connection).
2. Removing a server with `--days` days of samples at 5 s (DELETE /api/servers/:id's
   function, vigie_delete_server): milliseconds for the transaction.

    .venv/bin/python bench/operations.py [--servers 5000] [--silences 50] [--rounds 15] [--days 1]

With no DATABASE_URL, a private embedded PostgreSQL (.vigie/bench-pgdata) is used.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from bench.common import bench_database, options  # noqa: E402
from functions.servers import LIST_QUERY  # noqa: E402

BEFORE = """
SELECT s.id, s.name, s.hostname, s.machine_id, s.ip_address, s.os_type, s.created_at,
       s.last_seen, s.is_active, s.interval_seconds,
       s.latest_cpu AS cpu_percent, s.latest_ram AS ram_percent, s.latest_disk AS disk_percent,
       s.latest_at
  FROM servers s ORDER BY s.id
"""


def timed(conn: psycopg.Connection, sql: str) -> float:
    start = time.perf_counter()
    rows = conn.execute(sql).fetchall()
    elapsed = time.perf_counter() - start
    assert rows
    return elapsed


def main() -> None:
    args = options(__doc__, servers=5000, silences=50, rounds=15, days=1)
    url = bench_database("vigie_bench_operations")
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(
            """INSERT INTO servers (name, hostname, token_hash, tags, latest_at, latest_cpu,
                                    latest_ram, latest_disk)
               SELECT 'bench-' || i, 'bench-' || i, sha256(i::text::bytea),
                      ARRAY['t' || (i %% 20), 'u' || (i %% 20)], now(), 10, 20, 30
                 FROM generate_series(1, %s) i""",
            [args.servers],
        )
        half = args.silences // 2
        conn.execute(
            """INSERT INTO silences (server_id, ends_at, reason)
               SELECT i * 7, now() + interval '1 hour', 'bench' FROM generate_series(1, %s) i""",
            [half],
        )
        conn.execute(
            """INSERT INTO silences (tag, ends_at, reason)
               SELECT 't' || (i %% 20), now() + interval '1 hour', 'bench'
                 FROM generate_series(1, %s) i""",
            [args.silences - half],
        )
        conn.execute("ANALYZE servers")
        conn.execute("ANALYZE silences")
        now_sql = LIST_QUERY + " ORDER BY s.id"
        timings: dict[str, list[float]] = {"before": [], "now": []}
        for _ in range(2):  # warm
            timed(conn, BEFORE)
            timed(conn, now_sql)
        for _ in range(args.rounds):
            timings["before"].append(timed(conn, BEFORE))
            timings["now"].append(timed(conn, now_sql))
        before = statistics.median(timings["before"]) * 1000
        after = statistics.median(timings["now"]) * 1000
        print(f"server list, {args.servers} servers, {args.silences} active silences "
              f"(median of {args.rounds}):")  # fmt: skip
        print(f"  without tags and silences  {before:8.1f} ms")
        print(f"  with tags and silences     {after:8.1f} ms  ({after / before:.2f}x)")

        samples = int(args.days * 86400 / 5)
        conn.execute(
            """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
                                    ram_total_mb, disk_percent, disk_used_gb, disk_total_gb,
                                    network_sent_mb, network_recv_mb)
               SELECT 1, now() - i * interval '5 seconds', 10, 20, 1, 2, 30, 1, 2, i, i
                 FROM generate_series(1, %s) i""",
            [samples],
        )
        conn.execute(
            "UPDATE servers SET rollup_from = now() - %s * interval '5 seconds', writes = 1 "
            "WHERE id = 1",
            [samples],
        )
        conn.execute("SELECT vigie_rollup_pending()")
        start = time.perf_counter()
        with conn.transaction():
            conn.execute("SELECT vigie_delete_server(1)")
        removal = (time.perf_counter() - start) * 1000
        left = conn.execute("SELECT count(*) AS n FROM metrics WHERE server_id = 1").fetchone()
        assert left["n"] == 0
        print(f"removing a server with {samples} samples and their rollups: {removal:.0f} ms")


if __name__ == "__main__":
    main()
