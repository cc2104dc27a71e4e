"""History at fleet scale: rollups beside raw samples, ingest before and after, retention.

    .venv/bin/python bench/rollups.py [--fleet 1000 --fleet-days 3 --long 10 --long-days 30]
                                      [--requests 100] [--ingest-seconds 10] [--skip-ingest]

In databases of its own (created, then dropped), on the PostgreSQL of DATABASE_URL or
the embedded one, it prints:

 1. Ingest before and after: the same single-sample requests (through gunicorn, and
    the same statements from psycopg) and 1000-sample batches, against a database
    with every migration but this feature's (partitions, rollups, retention) and one
    with all of them, run alternately, twice.
 2. Load, generated in SQL at 5 s: `--fleet` servers for `--fleet-days` days and
    `--long` servers for `--long-days` days, ending now (without triggers, then
    vigie_rebuild_rollups; raw samples kept for the whole range so that the
    raw path can be compared).
 3. p50/p95 of the dashboard's history requests (1h, 6h, 24h, 7d, 30d, no interval)
    through the HTTP API, from rollups and from raw samples (VIGIE_HISTORY_ROLLUPS=off),
    the same requests alternately, and whether both give the same numbers. The
    server list (GET /api/servers) too.
 4. Bytes per row of each tier (vigie_history_stats(), what GET /api/stats shows,
    after VACUUM ANALYZE).
 5. Retention: a first maintenance run keeping 2 days and an hour of raw samples,
    then one keeping 2 days (the hour of the whole fleet's samples that aged), their
    time, and the latency of single-sample writes while they run.

It takes a while (about half an hour with the defaults on two cores). The numbers
depend on what else runs on the machine: say so when quoting them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import requests
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SAMPLE, add_servers, create_database, drop_database, quantiles, run_threads  # noqa: E402
from tests.helpers import free_port, gunicorn_api  # noqa: E402
from vigie import embedded  # noqa: E402
from vigie.migrate import migrate  # noqa: E402

FIELDS = SAMPLE
PROCESSES = 4
OWN_MIGRATIONS = ("030_", "031_", "032_")


# --- databases --------------------------------------------------------------------


def migrated_database(server: str, name: str, without_own: bool = False) -> str:
    url = create_database(server, name)
    if without_own:
        # "Before": every migration of the project but this feature's.
        folder = Path(tempfile.mkdtemp(prefix="vigie-sql-"))
        for f in (ROOT / "sql").glob("*.sql"):
            if not f.name.startswith(OWN_MIGRATIONS):
                shutil.copy(f, folder / f.name)
        os.environ["VIGIE_SQL_DIR"] = str(folder)
        try:
            migrate(url)
        finally:
            del os.environ["VIGIE_SQL_DIR"]
            shutil.rmtree(folder)
    else:
        migrate(url)
    return url


# --- 1. ingest before and after ---------------------------------------------------------


def _http_single(i, base, servers, start, seconds):
    sid, token = servers[i]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        at = start + timedelta(seconds=5 * len(latencies))
        body = {"server_id": sid, "recorded_at": at.isoformat(), **FIELDS}
        began = time.perf_counter()
        response = session.post(f"{base}/api/metrics", json=body)
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 201, response.text
    return latencies


def _sql_single(i, url, servers, start, seconds):
    """The statements POST /api/metrics runs, without HTTP, Flask or validation."""
    sid, _ = servers[i]
    latencies = []
    with psycopg.connect(url) as conn:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            at = start + timedelta(seconds=5 * len(latencies))
            began = time.perf_counter()
            with conn.transaction():
                conn.execute("SELECT token_hash FROM servers WHERE id = %s", [sid]).fetchone()
                conn.execute(
                    "SELECT * FROM vigie_ingest(%s, %s)",
                    [sid, Jsonb([{"recorded_at": at.isoformat(), **FIELDS}])],
                )
            latencies.append(time.perf_counter() - began)
    return latencies


def _sql_batch(i, url, servers, start, seconds, size=1000):
    """A collector draining its spool: 1000 samples 5 s apart per request."""
    sid, _ = servers[i]
    latencies, n = [], 0
    with psycopg.connect(url) as conn:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            samples = [
                {"recorded_at": (start + timedelta(seconds=5 * (n + k))).isoformat(), **FIELDS}
                for k in range(size)
            ]
            began = time.perf_counter()
            with conn.transaction():
                conn.execute("SELECT * FROM vigie_ingest(%s, %s)", [sid, Jsonb(samples)])
            latencies.append(time.perf_counter() - began)
            n += size
    return latencies


WORKERS = {f.__name__: f for f in (_http_single, _sql_single, _sql_batch)}


def _process(name, threads, target, servers, start, seconds):
    return run_threads(threads, WORKERS[name], target, servers, start, seconds)


def run_clients(pool, name, clients, target, servers, start, seconds):
    per = max(1, clients // PROCESSES)
    began = time.perf_counter()
    futures = [
        pool.submit(_process, name, per, target, servers[p * per : (p + 1) * per], start, seconds)
        for p in range(min(PROCESSES, clients))
    ]
    latencies = [x for f in futures for client in f.result() for x in client]
    return latencies, time.perf_counter() - began


def ingest_benchmark(server: str, args, pid: int) -> None:
    names = {"before": f"vigie_bench_before_{pid}", "after": f"vigie_bench_after_{pid}"}
    urls = {k: migrated_database(server, n, without_own=(k == "before")) for k, n in names.items()}
    try:
        with psycopg.connect(urls["after"], autocommit=True) as conn:
            # The partitions maintenance keeps, for the days the samples fall in.
            conn.execute(
                "SELECT vigie_create_partitions('metrics', 'day', now() - interval '8 days', "
                "now() + interval '3 days')"
            )
        phases = ["http", "sql", "batch"]
        clients = {"http": args.clients, "sql": args.clients, "batch": args.batch_clients}
        # Each phase and round writes to servers of its own, from a week ago.
        servers = {
            key: {
                (phase, r): add_servers(url, 1000 * r + 100 * i, clients[phase])
                for i, phase in enumerate(phases)
                for r in range(2)
            }
            for key, url in urls.items()
        }
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7)
        results: dict = {k: {p: [] for p in phases} for k in urls}
        ports = {k: free_port() for k in urls}
        print(
            f"\n1. Ingest, before (no partitions, rollups or retention) and after; "
            f"{args.clients} clients ({args.batch_clients} for batches), gunicorn "
            f"{args.workers} workers x 4 threads, {args.ingest_seconds:.0f} s per phase, "
            "two rounds alternating before and after"
        )
        with (
            gunicorn_api(urls["before"], ports["before"], workers=args.workers),
            gunicorn_api(urls["after"], ports["after"], workers=args.workers),
            ProcessPoolExecutor(PROCESSES) as pool,
        ):
            for r in range(2):
                for phase in phases:
                    for key in ("before", "after") if r == 0 else ("after", "before"):
                        name = {"http": "_http_single", "sql": "_sql_single"}.get(
                            phase, "_sql_batch"
                        )
                        target = f"http://127.0.0.1:{ports[key]}" if phase == "http" else urls[key]
                        latencies, elapsed = run_clients(
                            pool,
                            name,
                            clients[phase],
                            target,
                            servers[key][(phase, r)],
                            start,
                            args.ingest_seconds,
                        )
                        results[key][phase].append((latencies, elapsed))
        sequential_latency(urls, args)
        labels = {
            "http": "POST /api/metrics (gunicorn), requests/s",
            "sql": "same statements, psycopg direct, tx/s",
            "batch": "vigie_ingest, 1000 samples/tx, samples/s",
        }
        for phase in phases:
            print(f"  {labels[phase]}")
            rates = {}
            for key in ("before", "after"):
                runs = results[key][phase]
                count = sum(len(lat) for lat, _ in runs) * (1000 if phase == "batch" else 1)
                rates[key] = count / sum(elapsed for _, elapsed in runs)
                p50, p95, p99 = quantiles([x for lat, _ in runs for x in lat])
                print(
                    f"    {key:<7} {rates[key]:>10,.0f}/s   p50 {p50:7.2f} ms   "
                    f"p95 {p95:7.2f} ms   p99 {p99:7.2f} ms"
                )
            print(f"    after / before: {rates['after'] / rates['before']:.2f}")
    finally:
        for name in names.values():
            drop_database(server, name)


def sequential_latency(urls: dict[str, str], args) -> None:
    """One client, one write at a time, alternating between the two databases in
    blocks: the cost of a write with little noise from the machine's load."""
    print(
        "  one client, one write at a time (vigie_ingest and commit), alternating blocks of "
        "50 between before and after"
    )
    conns = {k: psycopg.connect(u, autocommit=True) for k, u in urls.items()}
    try:
        sids = {k: add_servers(u, 5000, 2) for k, u in urls.items()}
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=6)
        for label, size in (("1 sample", 1), ("a batch of 100", 100)):
            times: dict[str, list[float]] = {k: [] for k in urls}
            for block in range(max(2, args.blocks)):  # the first only warms up
                for key in ("before", "after") if block % 2 else ("after", "before"):
                    sid = sids[key][0 if size == 1 else 1][0]
                    for i in range(50):
                        at = start + timedelta(seconds=5 * size * (block * 50 + i))
                        samples = [
                            {"recorded_at": (at + timedelta(seconds=5 * k)).isoformat(), **FIELDS}
                            for k in range(size)
                        ]
                        began = time.perf_counter()
                        conns[key].execute(
                            "SELECT * FROM vigie_ingest(%s, %s)", [sid, Jsonb(samples)]
                        )
                        if block:  # the first blocks warm plans and caches
                            times[key].append(time.perf_counter() - began)
            medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
            print(
                f"    {label:<15} median before {medians['before']:.3f} ms, after "
                f"{medians['after']:.3f} ms: {medians['after'] - medians['before']:+.3f} ms "
                f"per write ({len(times['after'])} writes each)"
            )
    finally:
        for conn in conns.values():
            conn.close()


# --- 2. load ----------------------------------------------------------------------------

LOAD_HOUR = """
INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
    ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
SELECT s, t,
       round((random() * 100)::numeric, 2), round((30 + random() * 40)::numeric, 2),
       round((4000 + random() * 4000)::numeric, 2), 16384,
       round((50 + random())::numeric, 2), round((200 + random())::numeric, 2), 512,
       -- Counters that grow and restart every two days or so (a reboot), per server.
       mod(extract(epoch FROM t - %(origin)s)::bigint, 172800 + s * 37) * 0.5,
       mod(extract(epoch FROM t - %(origin)s)::bigint, 172800 + s * 37) * 1.5
  FROM generate_series(%(first)s, %(last)s, interval '5 seconds') t,
       generate_series(%(low)s::int, %(high)s::int) s
 ORDER BY t, s
"""


def load(url: str, args, end: datetime) -> dict:
    start_long = end - timedelta(days=args.long_days)
    start_fleet = end - timedelta(days=args.fleet_days)
    fleet = add_servers(url, 0, args.fleet)
    long = add_servers(url, args.fleet, args.long)
    fleet_ids = [sid for sid, _ in fleet]
    long_ids = [sid for sid, _ in long]
    total = args.fleet * args.fleet_days * 17280 + args.long * args.long_days * 17280
    print(
        f"\n2. Loading {args.fleet} servers x {args.fleet_days} days and {args.long} servers x "
        f"{args.long_days} days at 5 s ({total:,} samples)"
    )
    began = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute(
            "SELECT vigie_create_partitions('metrics', 'day', %s, now() + interval '3 days')",
            [start_long],
        )
        conn.execute(
            "SELECT vigie_create_partitions('metrics_1m', 'week', %s, now() + interval '14 days')",
            [start_long],
        )
        conn.execute(
            "SELECT vigie_create_partitions('metrics_1h', 'month', %s, now())", [start_long]
        )
        # Raw samples for the whole range, so the raw path can be compared.
        conn.execute("SELECT vigie_set_retention(NULL, NULL, NULL, NULL)")
        # No triggers while loading (vigie_rebuild_rollups rolls everything up after).
        conn.execute("SET session_replication_role = replica")
        hour, step = start_long, timedelta(hours=1)
        while hour < end:
            # An hour at a time, servers interleaved in time order, as live ingest
            # writes them (what bytes per row depends on).
            low = fleet_ids[0] if hour >= start_fleet else long_ids[0]
            conn.execute(
                LOAD_HOUR,
                {"origin": start_long, "first": hour, "last": hour + step - timedelta(seconds=5),
                 "low": low, "high": long_ids[-1]},
            )  # fmt: skip
            hour += step
        loaded = time.perf_counter()
        print(f"  raw samples: {loaded - began:.0f} s")
        conn.execute("SELECT vigie_rebuild_rollups(%s, %s)", [start_long, end + step])
        conn.execute("SET session_replication_role = origin")
        rolled = time.perf_counter()
        print(f"  rollups (vigie_rebuild_rollups): {rolled - loaded:.0f} s")
        conn.execute("VACUUM ANALYZE servers, metrics, metrics_rollup")
        print(f"  VACUUM ANALYZE: {time.perf_counter() - rolled:.0f} s")
    return {"fleet": fleet_ids, "long": long_ids}


# --- 3. history through the API ---------------------------------------------------------

# The dashboard's ranges (without interval: 5 s, 30 s, 2 min, 15 min and 1 h buckets).
RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24),
          "7d": timedelta(days=7), "30d": timedelta(days=30)}  # fmt: skip


def same_numbers(a: list[dict], b: list[dict]) -> bool:
    if [p["recorded_at"] for p in a] != [p["recorded_at"] for p in b]:
        return False
    for x, y in zip(a, b, strict=True):
        for key, value in x.items():
            other = y[key]
            if isinstance(value, float) and isinstance(other, float):
                # Averages are rounded to 2 decimals: summing in another order may tip one.
                if abs(value - other) > max(0.0051, 1e-9 * abs(value)):
                    return False
            elif value != other:
                return False
    return True


def history_benchmark(url: str, servers: dict, end: datetime, args) -> None:
    ports = {"rollups": free_port(), "raw": free_port()}
    env = {"rollups": {}, "raw": {"VIGIE_HISTORY_ROLLUPS": "off"}}
    rng = random.Random(1)
    print(
        "\n3. History through the HTTP API (gunicorn, one client, requests alternating "
        "between the two paths); the same requests from rollups and from raw samples"
    )
    with (
        gunicorn_api(url, ports["rollups"], env["rollups"], workers=2),
        gunicorn_api(url, ports["raw"], env["raw"], workers=2),
    ):
        sessions = {k: requests.Session() for k in ports}

        def get(path_kind: str, sid: int, start: datetime, stop: datetime):
            began = time.perf_counter()
            response = sessions[path_kind].get(
                f"http://127.0.0.1:{ports[path_kind]}/api/metrics/history/{sid}",
                params={"from": start.isoformat(), "to": stop.isoformat()},
            )
            elapsed = time.perf_counter() - began
            assert response.status_code == 200, response.text
            return elapsed, response.json(), response.headers["Vigie-Interval"]

        cases = [(name, "long", span) for name, span in RANGES.items()]
        cases += [(name, "fleet", RANGES[name]) for name in ("1h", "24h")]
        for name, group, span in cases:
            ids = servers[group]
            count = args.requests if name != "30d" else max(10, args.requests // 3)
            times: dict[str, list[float]] = {"rollups": [], "raw": []}
            differ, points, interval = 0, 0, ""
            for i in range(count + 3):
                sid = rng.choice(ids)
                # The dashboard asks up to "now": the end of the data, give or take.
                stop = end - timedelta(seconds=rng.uniform(0, 120))
                answers = {}
                for kind in ("rollups", "raw") if i % 2 else ("raw", "rollups"):
                    elapsed, body, interval = get(kind, sid, stop - span, stop)
                    answers[kind] = body
                    if i >= 3:  # the first few warm the connections and caches
                        times[kind].append(elapsed)
                points = len(answers["rollups"])
                differ += not same_numbers(answers["rollups"], answers["raw"])
            line = f"  {name:>4} {group:<5} ({interval} buckets, {points:>4} points, {count} req)"
            for kind in ("rollups", "raw"):
                p50, p95, _ = quantiles(times[kind])
                line += f"   {kind}: p50 {p50:7.2f} ms  p95 {p95:7.2f} ms"
            print(line + ("   same numbers" if not differ else f"   {differ} differ"))

        # The server list: the latest sample of every server.
        times_list = []
        for i in range(args.requests + 3):
            began = time.perf_counter()
            response = sessions["rollups"].get(f"http://127.0.0.1:{ports['rollups']}/api/servers")
            if i >= 3:
                times_list.append(time.perf_counter() - began)
            assert response.status_code == 200
        p50, p95, _ = quantiles(times_list)
        print(
            f"  GET /api/servers ({len(response.json())} servers): "
            f"p50 {p50:.2f} ms  p95 {p95:.2f} ms"
        )
    with psycopg.connect(url, autocommit=True) as conn:
        forms = {
            "the server's row (kept by the write path)": """
                SELECT s.id, s.latest_at, s.latest_cpu, s.latest_ram, s.latest_disk
                  FROM servers s""",
            "LATERAL ... LIMIT 1 over the partitions": """
                SELECT s.id, l.* FROM servers s LEFT JOIN LATERAL (
                    SELECT cpu_percent, ram_percent, disk_percent, recorded_at FROM metrics m
                     WHERE m.server_id = s.id ORDER BY recorded_at DESC LIMIT 1) l ON true""",
        }
        for label, sql in forms.items():
            runs = []
            for _ in range(7):
                plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).fetchone()[0]
                runs.append(plan[0]["Execution Time"])
            print(f"  latest sample of every server, {label}: {statistics.median(runs):.2f} ms")


# --- 4. bytes per row ------------------------------------------------------------------


def stats(url: str) -> None:
    print("\n4. Storage per tier (after VACUUM ANALYZE; table + indexes)")
    with psycopg.connect(url, autocommit=True) as conn:
        for name, _, _, _, partitions, rows, size in conn.execute(
            "SELECT * FROM vigie_history_stats()"
        ):
            per_row = size / rows if rows else 0
            print(
                f"  {name:>3}: {rows:>12,} rows  {size / 2**20:>9,.1f} MiB  "
                f"{per_row:6.1f} B/row  ({partitions} partitions)"
            )


# --- 5. retention ------------------------------------------------------------------------


def retention_benchmark(url: str, servers: dict, end: datetime, args) -> None:
    print(
        "\n5. Retention of raw samples, with one client writing single samples meanwhile "
        "(its latency before and during each run)"
    )
    sid = servers["fleet"][0]
    stop = threading.Event()
    during: list[tuple[float, float]] = []

    def ingest() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                at = end + timedelta(seconds=len(during) + 1)
                began = time.perf_counter()
                conn.execute(
                    "SELECT * FROM vigie_ingest(%s, %s)",
                    [sid, Jsonb([{"recorded_at": at.isoformat(), **FIELDS}])],
                )
                during.append((began, time.perf_counter() - began))
                time.sleep(0.01)

    def expire(conn, keep: str, label: str) -> None:
        older = conn.execute(
            "SELECT count(*) FROM metrics WHERE recorded_at < now() - %s::interval", [keep]
        ).fetchone()[0]
        conn.execute("SELECT vigie_set_retention(%s, NULL, NULL, NULL)", [keep])
        time.sleep(2)
        began = time.perf_counter()
        report = conn.execute("CALL vigie_maintain(NULL, '0')").fetchone()[0]
        took = time.perf_counter() - began
        raw = report["tiers"]["raw"]
        print(
            f"  {label}: {older:,} samples older than {keep}; the run took {took:.2f} s: "
            f"{raw['partitions_dropped']} partitions dropped, {raw['rows_deleted']:,} rows "
            "deleted by primary key"
        )
        baseline = [d for t, d in during if began - 10 <= t < began]
        meanwhile = [d for t, d in during if began <= t <= began + took]
        for what, values in (("before", baseline), ("during", meanwhile)):
            if len(values) >= 2:
                p50, _, _ = quantiles(values)
                print(
                    f"    single-sample write {what} the run: {len(values)} writes, "
                    f"p50 {p50:.2f} ms, max {max(values) * 1000:.2f} ms"
                )

    thread = threading.Thread(target=ingest)
    thread.start()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            time.sleep(10)
            # Turning retention on over a long history: whole days go, and the rows
            # of the day the horizon falls in are deleted.
            expire(conn, "2 days 1 hour", "first run")
            # Then each run expires what aged since the last one: here an hour of the
            # whole fleet's samples (a run every minute deletes a sixtieth of it).
            expire(conn, "2 days", "one hour later")
    finally:
        stop.set()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fleet", type=int, default=1000)
    parser.add_argument("--fleet-days", type=int, default=3)
    parser.add_argument("--long", type=int, default=10)
    parser.add_argument("--long-days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--ingest-seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers for ingest")
    parser.add_argument("--blocks", type=int, default=20, help="blocks of sequential writes")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-load", action="store_true", help="only the ingest benchmark")
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata")
    print(f"PostgreSQL: {server.split('?')[0]}")
    pid = os.getpid()
    if not args.skip_ingest:
        ingest_benchmark(server, args, pid)
    if args.skip_load:
        return
    name = f"vigie_bench_history_{pid}"
    try:
        url = migrated_database(server, name)
        # Whole hours: each hour of data is loaded in one statement.
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        servers = load(url, args, end)
        history_benchmark(url, servers, end, args)
        stats(url)
        retention_benchmark(url, servers, end, args)
    finally:
        drop_database(server, name)


if __name__ == "__main__":
    main()
