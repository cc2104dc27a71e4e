"""A fleet of servers posting samples, open loop, through the API as the Procfile
runs it, beside the stack's floor route (bench/floor.py) at the same loads.

For each fleet size (servers posting one single-sample POST /api/metrics every
--interval seconds, phases spread evenly), for --seconds: achieved requests/s,
latency p50/p99 (from each request's scheduled time, so saturation shows as
latency, not as a slower schedule), errors, samples sent / acknowledged /
stored, and the CPU-seconds of the API's processes and of PostgreSQL's. Then the
floor route under the same load, and the ratio of the two.

    .venv/bin/python bench/fleet.py --sizes 500,1000,2000,3000 --seconds 60

With --wide, each load runs twice in the same run: the seed-only sample, then the
wide sample (a host with 4 filesystems, 2 disks, 3 interfaces, 6 sensors, and the
top processes on every 6th sample), and prints the wide sample's throughput and
CPU per sample against the seed-only one's.

With no DATABASE_URL, a private embedded PostgreSQL (.vigie/bench-fleet-pgdata) is
used. The load generator runs on this machine too, so its CPU is not the API's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402

from bench.common import SAMPLE, add_servers, bench_database  # noqa: E402
from bench.floor import TABLE as FLOOR_TABLE  # noqa: E402
from tests.helpers import BIN, free_port, wait_for_http, wide_fields  # noqa: E402
from vigie.serve import WEB_OPTIONS  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def children(pid: int) -> list[int]:
    found = [pid]
    for task in Path("/proc").glob("[0-9]*"):
        try:
            if int((task / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found += children(int(task.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def postgres_pids(url: str) -> list[int]:
    """The postmaster and its children (backends, WAL writer, checkpointer…)."""
    with psycopg.connect(url) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    try:
        postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except (OSError, PermissionError):
        return []
    return children(postmaster)


def start_gunicorn(app: str, port: int, env: dict[str, str], workers: int, threads: int):
    args = [
        str(BIN / "gunicorn"), *WEB_OPTIONS, "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--threads", str(threads), app,
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    return proc


def wide_bodies() -> list[dict]:
    """Six wide samples' fields, the first with the top processes, the counters of
    each a step further."""
    return [wide_fields(step, top=step == 0) for step in range(6)]


async def drive(
    base: str, servers: list[tuple[int, str]], interval: float, seconds: float, wide: bool = False
):
    """Each server posts at phase + k * interval, whatever the answers."""
    extra = wide_bodies() if wide else [{}]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    acked = 0
    sent = 0
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    # The generator's own CPU is taken from the machine's two cores: no cookies,
    # no decompression, bodies encoded once per request here, headers made once.
    heads = {token: {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
             for _, token in servers}  # fmt: skip
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    ) as session:  # fmt: skip
        start = time.monotonic() + 0.5
        url = f"{base}/api/metrics"

        async def one(sid: int, token: str, due: float, k: int) -> None:
            nonlocal acked
            body = {"server_id": sid, **SAMPLE, **extra[k % len(extra)],
                    "recorded_at": datetime.now(UTC).isoformat()}  # fmt: skip
            try:
                async with session.post(
                    url, data=json.dumps(body).encode(), headers=heads[token]
                ) as response:
                    await response.read()
                    if response.status in (200, 201):
                        acked += 1
                    else:
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            latencies.append(time.monotonic() - due)

        # One scheduler starts each request at its time: the pending requests are
        # the ones in flight, not the whole run's (a run's worth of sleeping tasks
        # would make the generator's own pauses show as latency).
        n = len(servers)
        began = time.monotonic()
        tasks = set()
        for k in range(int(seconds / interval)):
            for i, (sid, token) in enumerate(servers):
                due = start + k * interval + interval * i / n
                delay = due - time.monotonic()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                task = asyncio.ensure_future(one(sid, token, due, k))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
        await asyncio.gather(*tasks)
        took = time.monotonic() - began
    return {"sent": sent, "acked": acked, "errors": errors, "latencies": latencies, "took": took}


def run_load(label: str, app: str, url: str, servers, args, count_stored) -> dict:
    port = free_port()
    proc = start_gunicorn(
        app, port, {"DATABASE_URL": url, "FLOOR_DATABASE_URL": url}, args.workers, args.threads
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/health", timeout=60, proc=proc)
        api_pids = children(proc.pid)
        pg_pids = postgres_pids(url)
        stored_before = count_stored()
        api0, pg0 = cpu_seconds(api_pids), cpu_seconds(pg_pids)
        base = f"http://127.0.0.1:{port}"
        gen0 = time.process_time()
        wide = label == "wide"
        result = asyncio.run(drive(base, servers, args.interval, args.seconds, wide))
        result["gen_cpu"] = time.process_time() - gen0
        api_pids = children(proc.pid)
        pg_pids = postgres_pids(url)
        result["api_cpu"] = cpu_seconds(api_pids) - api0
        result["pg_cpu"] = cpu_seconds(pg_pids) - pg0
        result["stored"] = count_stored() - stored_before
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    lat = sorted(result["latencies"])
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [0] * 99
    result.update(label=label, p50=q[49] * 1000, p99=q[98] * 1000,
                  rate=result["acked"] / max(result["took"], 1e-9))  # fmt: skip
    return result


def by_size(rows: list) -> dict[int, dict[str, dict]]:
    by: dict[int, dict[str, dict]] = {}
    for size, r in rows:
        by.setdefault(size, {})[r["label"]] = r
    return by


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000,3000")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (Procfile)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (Procfile)")
    parser.add_argument("--no-floor", action="store_true", help="Vigie only")
    parser.add_argument(
        "--wide", action="store_true", help="also the wide sample, against the seed-only one"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    url = bench_database("vigie_bench_fleet", "bench-fleet-pgdata")
    fleet = add_servers(url, 1, max(sizes))
    # The floor's table, made here: two workers creating it at once can race, and
    # the one that loses does not boot.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FLOOR_TABLE)

    def stored_vigie() -> int:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM metrics").fetchone()[0]

    def stored_floor() -> int:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM floor_metrics").fetchone()[0]

    print(f"open loop, one sample per server every {args.interval:g} s, {args.seconds:g} s per "
          f"load; gunicorn --workers {args.workers} --threads {args.threads}; "
          f"{os.cpu_count()} cores shared with the load generator")  # fmt: skip
    header = (f"{'route':<8}{'servers':>8}{'target/s':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
              f"{'errors':>8}{'sent':>8}{'acked':>8}{'stored':>8}{'API CPU s':>10}"
              f"{'PG CPU s':>9}{'gen CPU s':>10}")  # fmt: skip
    print(header)
    rows = []
    for size in sizes:
        servers = fleet[:size]
        for label, app, count in (("vigie", "functions.app:app", stored_vigie),
                                  ("wide", "functions.app:app", stored_vigie),
                                  ("floor", "bench.floor:app", stored_floor)):  # fmt: skip
            if label == "floor" and args.no_floor or label == "wide" and not args.wide:
                continue
            r = run_load(label, app, url, servers, args, count)
            rows.append((size, r))
            errors = sum(r["errors"].values())
            print(f"{label:<8}{size:>8}{size / args.interval:>9.0f}{r['rate']:>8.0f}"
                  f"{r['p50']:>9.1f}{r['p99']:>9.1f}{errors:>8}{r['sent']:>8}{r['acked']:>8}"
                  f"{r['stored']:>8}{r['api_cpu']:>10.1f}{r['pg_cpu']:>9.1f}{r['gen_cpu']:>10.1f}",
                  flush=True)  # fmt: skip
            if r["errors"]:
                print(f"{'':<8}errors: {json.dumps(r['errors'])}")
    if not args.no_floor:
        print("\nVigie beside the floor (achieved req/s, Vigie / floor):")
        for size, pair in by_size(rows).items():
            if "floor" in pair and pair["floor"]["rate"]:
                ratio = pair["vigie"]["rate"] / pair["floor"]["rate"]
                print(f"  {size:>6} servers: {ratio:.2f}  (p99 {pair['vigie']['p99']:.0f} ms "
                      f"against {pair['floor']['p99']:.0f} ms)")  # fmt: skip
    if args.wide:
        print("\nThe wide sample beside the seed-only one (achieved req/s; CPU ms per sample "
              "stored, API + PostgreSQL):")  # fmt: skip
        for size, pair in by_size(rows).items():
            seed, wide = pair["vigie"], pair["wide"]
            cost = {k: (r["api_cpu"] + r["pg_cpu"]) * 1000 / max(r["stored"], 1)
                    for k, r in (("seed", seed), ("wide", wide))}  # fmt: skip
            print(f"  {size:>6} servers: req/s {wide['rate'] / max(seed['rate'], 1e-9):.2f} "
                  f"(p99 {wide['p99']:.0f} ms against {seed['p99']:.0f} ms); CPU per sample "
                  f"{cost['wide']:.2f} ms against {cost['seed']:.2f} ms "
                  f"({cost['wide'] / max(cost['seed'], 1e-9):.2f}x)")  # fmt: skip
    print("\nPer-sample costs side by side: .venv/bin/python bench/write_path.py")


if __name__ == "__main__":
    main()
