"""Fleet view benchmark: the overview of 5,000 servers in headless Chromium, live.

    make dashboard && .venv/bin/python bench/fleet_view.py [--servers 5000] [--rate 600]
        [--seconds 60] [--history 30] [--loads 3] [--dist frontend/dist]

Sets up a database of its own (on DATABASE_URL's server, else the embedded one)
with `--servers` servers, each with `--history` minutes of samples, one a minute
(vigie_ingest in SQL, many servers per statement, rolled up before the relay
starts); the relay serving the dashboard and the API on one port (vigie.local:app,
as `vigie run` does); and the live load: writer threads in a process of their
own, one vigie_ingest transaction per sample (as the API writes one), `--rate`
samples a second spread over every server, as bench/relay_latency.py --fleet does.

With the load running, in Debian's headless Chromium (1280x900), it prints:
  * first render, over `--loads` cold loads (a new browser context each): from the
    end of the /api/servers response (the page's data arrived) to the first frame
    in which the page shows every server (the heading's count, the cards on
    screen), and to the first card's trend drawn from history;
  * main-thread stalls over `--seconds` on the last page: how late a 100 ms timer
    fires (p50, p99, max), and the long tasks (> 50 ms) the browser counted;
  * the JS heap after a forced garbage collection, at the start and at the end of
    those seconds, and the page's DOM nodes;
  * the `fleet-update` events a second the page received, and servers per event.
Budgets: first render < 2 s, stall p99 < 100 ms, a heap that does not grow.

`--dist` serves another build of the dashboard (an earlier commit's
frontend/dist, say) with this checkout's relay. Stops by itself; the machine is
shared: compare runs made side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SAMPLE, bench_database, drop_database  # noqa: E402
from tests.helpers import free_port, gunicorn_relay, with_dbname  # noqa: E402
from vigie.tokens import hash_token  # noqa: E402

# Set a User Timing mark at the first frame after the DOM shows every server, and
# at the first frame after a card's trend has more than its current value; keep a
# 100 ms timer's lateness and the long tasks.
OBSERVER = """
(() => {
  const total = %d;
  const seen = new Set();
  const at = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    requestAnimationFrame(() => performance.mark(name));
  };
  const check = () => {
    const title = document.querySelector('#overview-title');
    const cards = document.querySelector('a[data-server-id]');
    if (title && title.textContent.includes(`(${total})`) && cards) at('vigie:all-shown');
    const spark = document.querySelector('a[data-server-id] svg[data-points]');
    if (spark && Number(spark.dataset.points) > 1) at('vigie:trend-drawn');
  };
  new MutationObserver(check)
    .observe(document, { subtree: true, childList: true, attributes: true });
  window.__stalls = [];
  let due = performance.now() + 100;
  const tick = () => {
    const now = performance.now();
    window.__stalls.push(now - due);
    due = now + 100;
    setTimeout(tick, 100);
  };
  setTimeout(tick, 100);
  window.__longTasks = 0;
  try {
    new PerformanceObserver((list) => { window.__longTasks += list.getEntries().length; })
      .observe({ type: 'longtask', buffered: true });
  } catch (e) { /* no long task timing */ }
})();
"""

TIMINGS = """() => {
  const mark = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
  const list = performance.getEntriesByType('resource')
    .filter((e) => new URL(e.name).pathname === '/api/servers');
  const history = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/api/metrics/fleet-history'));
  return {
    data: list.length ? list[0].responseEnd : null,
    shown: mark('vigie:all-shown'),
    trend: mark('vigie:trend-drawn'),
    history_end: history.length ? history[0].responseEnd : null,
  };
}"""

PAGE_STATE = """() => {
  const seen = window.__vigieFleetEvents ?? { count: 0, servers: 0 };
  return { events: seen.count, servers: seen.servers, at: performance.now(),
           stalls: window.__stalls.length, long_tasks: window.__longTasks,
           nodes: document.getElementsByTagName('*').length };
}"""


def seed(url: str, servers: int, minutes: int, interval: float) -> list[int]:
    """`servers` servers with `minutes` of samples each, one a minute, ending now."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                """INSERT INTO servers (name, hostname, ip_address, os_type, interval_seconds,
                                        token_hash)
                   SELECT 'web-' || lpad(i::text, 5, '0'), 'web-' || lpad(i::text, 5, '0'),
                          '10.8.' || i / 256 || '.' || i %% 256, 'Linux', %s, %s
                     FROM generate_series(1, %s) AS i RETURNING id""",
                [interval, hash_token("vgi_bench_unused"), servers],
            ).fetchall()
        ]
        for start in range(0, len(ids), 250):
            conn.execute(
                """SELECT count(*) FROM unnest(%(ids)s::integer[]) AS w(id)
                    CROSS JOIN LATERAL vigie_ingest(w.id, (
                      SELECT jsonb_agg(%(base)s::jsonb || jsonb_build_object(
                                 'recorded_at', t,
                                 'cpu_percent',
                                 round((35 + 25 * sin(w.id + extract(epoch FROM t) / 600)
                                        + random() * 10)::numeric, 1))
                                 ORDER BY t)
                        FROM generate_series(now() - make_interval(mins => %(minutes)s), now(),
                                             interval '1 minute') AS t))""",
                {"ids": ids[start : start + 250], "base": Jsonb(SAMPLE), "minutes": minutes},
            )
        conn.execute("SELECT vigie_rollup_pending()")
        samples = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
    print(
        f"seeded {len(ids):,} servers, {samples:,} samples ({minutes} min each, one a minute)"
        f" in {time.monotonic() - started:.0f} s"
    )
    return ids


def run_writers(
    url: str, ids: list[int], rate: float, threads: int, stop, results
) -> None:  # pragma: no cover - runs in a child process
    """One vigie_ingest transaction per sample, `rate` a second over `ids` in turn."""
    written = [0] * threads
    start = time.monotonic() + 0.2

    def writer(index: int) -> None:
        pick = random.Random(index)
        with psycopg.connect(url, application_name="vigie-bench-writer") as conn:
            n = index
            while not stop.is_set():
                pause = start + n / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                body = {
                    **SAMPLE,
                    "cpu_percent": round(pick.uniform(5, 95), 1),
                    "recorded_at": datetime.now(UTC).isoformat(),
                }
                conn.execute(
                    "SELECT * FROM vigie_ingest(%s, %s)", [ids[n % len(ids)], Jsonb([body])]
                )
                conn.commit()
                written[index] += 1
                n += threads

    pool = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    results.put((sum(written), time.monotonic() - start))


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def heap_mib(cdp) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    return cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20


def describe(label: str, values: list[float | None]) -> None:
    got = [v for v in values if v is not None]
    if not got:
        print(f"  {label:<52} (not recorded)")
        return
    print(
        f"  {label:<52} median {statistics.median(got):6.0f} ms"
        f"   min {min(got):6.0f}   max {max(got):6.0f}   ({len(got)} loads)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=600, help="samples per second")
    parser.add_argument("--seconds", type=float, default=60, help="of stall measurement")
    parser.add_argument("--history", type=int, default=30, help="minutes of samples per server")
    parser.add_argument("--loads", type=int, default=3, help="cold loads for the first render")
    parser.add_argument("--dist", type=Path, default=ROOT / "frontend" / "dist")
    args = parser.parse_args()
    dist = args.dist.resolve()
    if not (dist / "index.html").is_file():
        sys.exit(f"no dashboard build in {dist}: make dashboard")
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian's chromium is needed: apt-get install chromium")

    name = f"vigie_bench_fleet_view_{os.getpid()}"
    url = bench_database(name)
    server = with_dbname(url, "postgres")
    ctx = mp.get_context("spawn")
    try:
        # Each server writes every servers/rate seconds: twice that is its interval,
        # so the offline sweep finds none silent.
        interval = max(5.0, 2 * args.servers / args.rate)
        ids = seed(url, args.servers, args.history, interval)
        port = free_port()
        env = {"VIGIE_DASHBOARD_DIR": str(dist)}
        log = ROOT / "bench" / "results" / "fleet_view_relay.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with gunicorn_relay(url, port, env, log=log, entry="vigie.local:app") as relay_proc:
            relay = psutil.Process(relay_proc.pid).children()[0]
            stop, results = ctx.Event(), ctx.Queue()
            threads = max(1, min(8, int(args.rate // 50) + 1))
            writers = ctx.Process(
                target=run_writers, args=(url, ids, args.rate, threads, stop, results)
            )
            writers.start()
            time.sleep(3)  # the load running before the first page opens
            cpu_start = relay.cpu_times()
            wall_start = time.monotonic()
            page_url = f"http://127.0.0.1:{port}/"
            print(
                f"relay: gunicorn -k gevent -w 1 (pid {relay.pid}); dashboard: {dist}\n"
                f"live load: {args.rate:.0f} samples/s over {args.servers:,} servers"
                f" ({threads} writer threads); {os.cpu_count()} cores, shared\n"
            )
            loads = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                for i in range(args.loads):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    context.add_init_script(OBSERVER % len(ids))
                    page = context.new_page()
                    page.goto(page_url)
                    page.wait_for_function(
                        "performance.getEntriesByName('vigie:all-shown').length", timeout=120_000
                    )
                    with contextlib.suppress(PlaywrightError):  # reported as not recorded
                        page.wait_for_function(
                            "performance.getEntriesByName('vigie:trend-drawn').length",
                            timeout=30_000,
                        )
                    loads.append(page.evaluate(TIMINGS))
                    if i < args.loads - 1:
                        context.close()

                # The last page, live, for --seconds.
                cdp = context.new_cdp_session(page)
                time.sleep(3)  # its trends loaded, its first updates applied
                heap_start = heap_mib(cdp)
                start = page.evaluate(PAGE_STATE)
                time.sleep(args.seconds)
                end = page.evaluate(PAGE_STATE)
                stalls = page.evaluate(f"window.__stalls.slice({start['stalls']})")
                heap_end = heap_mib(cdp)
                browser.close()
            cpu_end = relay.cpu_times()
            wall = time.monotonic() - wall_start
            stop.set()
            written, writing = results.get()
            writers.join()

        print(f"first render, {len(ids):,} servers (cold loads, under the live load)")
        describe(
            "/api/servers response end -> every server shown",
            [t["shown"] - t["data"] if t["shown"] and t["data"] else None for t in loads],
        )
        describe("navigation -> /api/servers response end", [t["data"] for t in loads])
        describe("navigation -> every server shown", [t["shown"] for t in loads])
        describe("navigation -> first card's trend drawn (history)", [t["trend"] for t in loads])
        seconds = (end["at"] - start["at"]) / 1000
        events = end["events"] - start["events"]
        entries = end["servers"] - start["servers"]
        print(f"\nlive, {seconds:.0f} s on one page")
        print(
            f"  100 ms timer lateness: p50 {statistics.median(stalls):.1f} ms,"
            f" p99 {percentile(stalls, 99):.1f} ms, max {max(stalls):.1f} ms"
            f" ({len(stalls)} ticks); long tasks: {end['long_tasks'] - start['long_tasks']}"
        )
        print(
            f"  JS heap after GC: {heap_start:.1f} MiB at the start, {heap_end:.1f} MiB at the end"
            f" ({heap_end - heap_start:+.1f} MiB); DOM nodes: {start['nodes']} then {end['nodes']}"
        )
        print(
            f"  fleet-update received: {events / seconds:.2f} events/s,"
            f" {entries / max(events, 1):.0f} servers per event"
        )
        relay_cpu = cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system
        print(
            f"  writes: {written:,} samples in {writing:.0f} s ({written / writing:.0f}/s);"
            f" relay CPU {relay_cpu / wall * 100:.0f}% of a core"
        )
    finally:
        drop_database(server, name)


if __name__ == "__main__":
    main()
