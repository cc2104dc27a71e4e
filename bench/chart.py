"""One server's charts through the HTTP API: 24 hours, 7 days and 30 days of
samples every 5 s, read as the dashboard reads them (history with its interval),
from the API under gunicorn as the Procfile runs it, one request at a time.

    .venv/bin/python bench/chart.py [--days 30] [--requests 100]

Prints p50 and p95 per chart, and where a request's time goes in the database
(planning and execution, from EXPLAIN ANALYZE). With no DATABASE_URL, a private
embedded PostgreSQL (.vigie/bench-chart-pgdata) is used; the samples are loaded
once with COPY and rolled up with vigie_rebuild_rollups.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402

from bench.common import add_servers, bench_database, options  # noqa: E402
from functions.history import history_query  # noqa: E402
from tests.helpers import free_port, gunicorn_api  # noqa: E402

CHARTS = {"24h": (timedelta(hours=24), "5m"), "7d": (timedelta(days=7), "1h"),
          "30d": (timedelta(days=30), "1h")}  # fmt: skip


def load(url: str, server_id: int, days: int, now: datetime) -> int:
    start = now - timedelta(days=days)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent,
                   ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb,
                   network_sent_mb, network_recv_mb)
               SELECT %s, t, 20 + 30 * random(), 40 + 20 * random(), 4000, 8000,
                      55, 110, 200, extract(epoch FROM t - %s) / 10, 1
                 FROM generate_series(%s::timestamptz, %s, interval '5 seconds') t""",
            [server_id, start, start, now],
        )
        conn.execute("SELECT vigie_rebuild_rollups(%s, %s)", [start, now + timedelta(hours=1)])
        conn.execute("VACUUM ANALYZE metrics, metrics_rollup")
        return conn.execute("SELECT count(*) FROM metrics").fetchone()[0]


def main() -> None:
    args = options(__doc__, days=30, requests=100)
    url = bench_database("vigie_bench_chart", "bench-chart-pgdata")
    [(sid, _)] = add_servers(url, 1, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    rows = load(url, sid, args.days, now)
    print(f"{rows} samples over {args.days} days loaded and rolled up "
          f"in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    port = free_port()
    with gunicorn_api(url, port):
        session = requests.Session()
        print(f"{'chart':<6}{'interval':>9}{'points':>8}{'p50 ms':>9}{'p95 ms':>9}"
              f"{'plan ms':>9}{'exec ms':>9}")  # fmt: skip
        for name, (span, interval) in CHARTS.items():
            if span > timedelta(days=args.days):
                continue
            params = {"from": (now - span).isoformat(), "to": now.isoformat(),
                      "interval": interval}  # fmt: skip
            base = f"http://127.0.0.1:{port}/api/metrics/history/{sid}"
            for _ in range(10):  # warm: plans, pools
                session.get(base, params=params)
            times, points = [], 0
            for _ in range(args.requests):
                t = time.perf_counter()
                answer = session.get(base, params=params)
                times.append(time.perf_counter() - t)
                points = len(answer.json())
            q = statistics.quantiles(times, n=100, method="inclusive")
            sql, values = history_query(sid, now - span, now, {"5m": 300, "1h": 3600}[interval])
            with psycopg.connect(url) as conn:
                plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, values).fetchone()[0]
            print(f"{name:<6}{interval:>9}{points:>8}{q[49] * 1000:>9.1f}{q[94] * 1000:>9.1f}"
                  f"{plan[0]['Planning Time']:>9.1f}{plan[0]['Execution Time']:>9.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
