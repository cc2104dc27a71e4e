"""Ingest benchmark: the API under gunicorn beside the same work done in SQL.

    .venv/bin/python bench/ingest.py [--seconds 10] [--clients 16] [--cpu 99]

Prints, in one run against one PostgreSQL (the embedded one unless DATABASE_URL
is set), for single-sample and batch ingest:
  * POST /api/metrics through gunicorn: requests/s, p50 and p99 latency
  * the statement the API runs for a live sample (vigie_ingest_live, its token
    check included) from psycopg directly, and a bare INSERT + pg_notify
    transaction
  * POST /api/metrics/batch rows/s, vigie_ingest with the same batch, and COPY
The ratios matter more than the absolute numbers: clients and server share the
machine's cores. `--cpu 99` sends every sample over the alert threshold, so each
server fires a CPU alert and every write then evaluates an active alert (the
default, 45.2, never reaches a threshold).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import requests
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SAMPLE, add_servers, create_database, drop_database, run_threads  # noqa: E402
from functions.metrics import INGEST_LIVE, defaults_json  # noqa: E402
from tests.helpers import free_port, gunicorn_api  # noqa: E402
from vigie import embedded  # noqa: E402
from vigie.migrate import migrate  # noqa: E402
from vigie.settings import AlertSettings  # noqa: E402
from vigie.tokens import hash_token  # noqa: E402
from vigie.wire import SAMPLE_FIELDS  # noqa: E402

# Worker processes read the CPU value from the environment, which main() sets from --cpu.
FIELDS = {**SAMPLE, "cpu_percent": float(os.environ.get("VIGIE_BENCH_CPU", "45.2"))}
BASE = datetime(2020, 1, 1, tzinfo=UTC)
# Single samples are recent, as live ones are (the API's live path serves samples
# of the last hour); the worker processes take the moment main() chose.
LIVE_BASE = datetime.fromisoformat(
    os.environ.setdefault(
        "VIGIE_BENCH_LIVE_BASE", (datetime.now(UTC) - timedelta(minutes=50)).isoformat()
    )
)
LIVE_PHASES = 3
PROCESSES = 4


def stamp(client: int, n: int, epoch: int) -> str:
    # Unique per (client, n, phase): every request stores a new row.
    if epoch <= LIVE_PHASES:
        moment = LIVE_BASE + timedelta(seconds=n, microseconds=epoch * 1000 + client)
    else:
        moment = BASE + timedelta(days=epoch * 400, seconds=n, microseconds=client)
    return moment.isoformat()


# --- load generators: each runs in a process with several threads -------------


def _http_single(i: int, base: str, servers, offset: int, seconds: float, epoch: int):
    sid, token = servers[offset + i]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    latencies, n = [], 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        body = {"server_id": sid, "recorded_at": stamp(offset + i, n, epoch), **FIELDS}
        start = time.perf_counter()
        response = session.post(f"{base}/api/metrics", json=body)
        latencies.append(time.perf_counter() - start)
        assert response.status_code == 201, response.text
        n += 1
    return latencies


def _http_batch(i: int, base: str, servers, offset: int, seconds: float, epoch: int, size: int):
    sid, token = servers[offset + i]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    rows, n = 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        samples = [{"recorded_at": stamp(offset + i, n + k, epoch), **FIELDS} for k in range(size)]
        response = session.post(
            f"{base}/api/metrics/batch", json={"server_id": sid, "samples": samples}
        )
        assert response.status_code == 201, response.text
        rows += size
        n += size
    return rows


def _sql_single(i: int, url: str, servers, offset: int, seconds: float, epoch: int):
    """The statement POST /api/metrics runs, without HTTP, Flask or validation."""
    sid, token = servers[offset + i]
    latencies, n = [], 0
    head = [sid, hash_token(token), defaults_json(AlertSettings())]
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            values = [stamp(offset + i, n, epoch), *(FIELDS[name] for name in SAMPLE_FIELDS)]
            start = time.perf_counter()
            conn.execute(INGEST_LIVE, [*head, *values]).fetchone()
            latencies.append(time.perf_counter() - start)
            n += 1
    return latencies


def _sql_bare(i: int, url: str, servers, offset: int, seconds: float, epoch: int):
    """The floor: one INSERT and one pg_notify per transaction."""
    sid, _ = servers[offset + i]
    latencies, n = [], 0
    columns = ", ".join(FIELDS)
    with psycopg.connect(url) as conn:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            with conn.transaction():
                conn.execute(
                    f"INSERT INTO metrics (server_id, recorded_at, {columns}) "  # noqa: S608
                    f"VALUES (%s, %s, {', '.join(['%s'] * len(FIELDS))})",
                    [sid, stamp(offset + i, n, epoch), *FIELDS.values()],
                )
                conn.execute("SELECT pg_notify('vigie_bench', %s)", [str(sid)])
            latencies.append(time.perf_counter() - start)
            n += 1
    return latencies


def _sql_batch(i: int, url: str, servers, offset: int, seconds: float, epoch: int, size: int):
    sid, _ = servers[offset + i]
    rows, n = 0, 0
    with psycopg.connect(url) as conn:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            samples = [
                {"recorded_at": stamp(offset + i, n + k, epoch), **FIELDS} for k in range(size)
            ]
            with conn.transaction():
                conn.execute("SELECT * FROM vigie_ingest(%s, %s)", [sid, Jsonb(samples)])
            rows += size
            n += size
    return rows


def _sql_copy(i: int, url: str, servers, offset: int, seconds: float, epoch: int, size: int):
    sid, _ = servers[offset + i]
    rows, n = 0, 0
    columns = ["server_id", "recorded_at", *FIELDS]
    with psycopg.connect(url) as conn:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            copy_sql = f"COPY metrics ({', '.join(columns)}) FROM STDIN"
            with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for k in range(size):
                    copy.write_row([sid, stamp(offset + i, n + k, epoch), *FIELDS.values()])
            rows += size
            n += size
    return rows


WORKERS = {
    f.__name__: f
    for f in (_http_single, _http_batch, _sql_single, _sql_bare, _sql_batch, _sql_copy)
}


def _process(name: str, threads: int, offset: int, *args):
    return run_threads(threads, WORKERS[name], *args[:1], args[1], offset, *args[2:])


def run(
    pool: ProcessPoolExecutor,
    name: str,
    clients: int,
    target: str,
    servers,
    seconds: float,
    epoch: int,
    *extra,
) -> tuple[list, float]:
    per = clients // PROCESSES
    started = time.perf_counter()
    futures = [
        pool.submit(_process, name, per, p * per, target, servers, seconds, epoch, *extra)
        for p in range(PROCESSES)
    ]
    results = [r for f in futures for r in f.result()]
    return results, time.perf_counter() - started


def describe_latency(label: str, latencies_per_client: list[list[float]], elapsed: float) -> dict:
    flat = sorted(x for client in latencies_per_client for x in client)
    q = statistics.quantiles(flat, n=100)
    result = {
        "label": label,
        "per_s": len(flat) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }
    print(
        f"  {label:<44} {result['per_s']:>9,.0f} req/s   p50 {result['p50_ms']:6.2f} ms"
        f"   p99 {result['p99_ms']:6.2f} ms"
    )
    return result


def describe_rows(label: str, rows: list[int], elapsed: float) -> dict:
    result = {"label": label, "rows_per_s": sum(rows) / elapsed}
    print(f"  {label:<44} {result['rows_per_s']:>9,.0f} rows/s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--cpu", type=float, default=45.2, help="cpu_percent of every sample")
    args = parser.parse_args()
    os.environ["VIGIE_BENCH_CPU"] = str(args.cpu)
    FIELDS["cpu_percent"] = args.cpu
    assert args.clients % PROCESSES == 0 and args.batch_clients % PROCESSES == 0

    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata")
    name = f"vigie_bench_{os.getpid()}"
    url = create_database(server, name)
    figures: dict = {"clients": args.clients, "batch_size": args.batch_size, "cpu": args.cpu}
    try:
        migrate(url)
        servers = add_servers(url, 0, max(args.clients, args.batch_clients))
        port = free_port()
        print(
            f"PostgreSQL: {server.split('?')[0]}  clients: {args.clients}  "
            f"gunicorn: {args.workers} workers x 4 threads  {args.seconds:.0f} s per phase  "
            f"cpu_percent: {args.cpu:g}"
        )
        with gunicorn_api(url, port, workers=args.workers), ProcessPoolExecutor(PROCESSES) as pool:
            base = f"http://127.0.0.1:{port}"
            print("\nsingle-sample ingest")
            api = describe_latency(
                "POST /api/metrics (gunicorn)",
                *run(pool, "_http_single", args.clients, base, servers, args.seconds, 1),
            )
            same = describe_latency(
                "same statements, psycopg direct",
                *run(pool, "_sql_single", args.clients, url, servers, args.seconds, 2),
            )
            bare = describe_latency(
                "bare INSERT + pg_notify, psycopg direct",
                *run(pool, "_sql_bare", args.clients, url, servers, args.seconds, 3),
            )
            print(
                f"  API / same statements: {api['per_s'] / same['per_s']:.2f}   "
                f"API / bare INSERT: {api['per_s'] / bare['per_s']:.2f}"
            )
            print(
                f"\nbatch ingest ({args.batch_size} samples per request, "
                f"{args.batch_clients} clients)"
            )
            bapi = describe_rows(
                "POST /api/metrics/batch (gunicorn)",
                *run(
                    pool,
                    "_http_batch",
                    args.batch_clients,
                    base,
                    servers,
                    args.seconds,
                    4,
                    args.batch_size,
                ),
            )
            bsql = describe_rows(
                "vigie_ingest(batch), psycopg direct",
                *run(
                    pool,
                    "_sql_batch",
                    args.batch_clients,
                    url,
                    servers,
                    args.seconds,
                    5,
                    args.batch_size,
                ),
            )
            bcopy = describe_rows(
                "COPY, psycopg direct",
                *run(
                    pool,
                    "_sql_copy",
                    args.batch_clients,
                    url,
                    servers,
                    args.seconds,
                    6,
                    args.batch_size,
                ),
            )
            print(
                f"  API / vigie_ingest: {bapi['rows_per_s'] / bsql['rows_per_s']:.2f}   "
                f"API / COPY: {bapi['rows_per_s'] / bcopy['rows_per_s']:.2f}"
            )
            figures.update(single=[api, same, bare], batch=[bapi, bsql, bcopy])
    finally:
        drop_database(server, name)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
