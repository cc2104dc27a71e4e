"""Dashboard benchmark: the weight of the built JavaScript, and the time from
navigation to the first drawn chart on a server page with 30 days of history.

    make dashboard && .venv/bin/python bench/dashboard.py [--runs 5] [--days 30] [--interval 5]

Prints:
  * the JavaScript of frontend/dist, raw and gzipped (level 6, what web servers
    and CDNs typically use): what the overview loads, and what the server page
    adds (its chunk holds the charts library);
  * cold loads (a new browser context each: empty cache) of
    /servers/<id>?range=30d in Debian's headless Chromium, against the relay
    serving the dashboard and the API as `vigie run` does, on a server with
    `--days` of samples every `--interval` seconds. All times come from the
    browser's own performance entries, in ms since navigation start:
    navigation (response end, DOMContentLoaded), first contentful paint, the
    history request (resource timing), and the first drawn live chart and
    history chart (a User Timing mark set by a MutationObserver the moment the
    chart's line gets its path).
The machine is shared: read the medians, and compare runs made side by side.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import sys
from pathlib import Path

import psycopg
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_database, drop_database  # noqa: E402
from tests.helpers import free_port, gunicorn_relay  # noqa: E402
from vigie import embedded  # noqa: E402
from vigie.migrate import migrate  # noqa: E402
from vigie.tokens import hash_token  # noqa: E402

DIST = ROOT / "frontend" / "dist"

# Set a User Timing mark the first time each chart's line has a drawn path.
OBSERVER = """
(() => {
  const charts = { 'history-chart': 'vigie:history-drawn', 'realtime-chart': 'vigie:live-drawn' };
  const seen = new Set();
  const check = () => {
    for (const [id, mark] of Object.entries(charts)) {
      if (seen.has(mark)) continue;
      const path = document.querySelector(`[data-testid="${id}"] path.recharts-line-curve`);
      if (path && /L/.test(path.getAttribute('d') || '')) {
        seen.add(mark);
        performance.mark(mark);
      }
    }
  };
  const all = { subtree: true, childList: true, attributes: true };
  new MutationObserver(check).observe(document, all);
})();
"""

COLLECT = r"""
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mark = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
  // The range's history request is the one with the widest from..to span (the
  // live chart loads its last 10 minutes through the same route).
  const span = (e) => {
    const q = new URL(e.name).searchParams;
    return Date.parse(q.get('to')) - Date.parse(q.get('from'));
  };
  const history = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/api/metrics/history/') && e.name.includes('from='))
    .sort((a, b) => span(a) - span(b))
    .map((e) => ({ start: e.startTime, end: e.responseEnd, bytes: e.encodedBodySize }));
  const chunk = performance.getEntriesByType('resource')
    .find((e) => /ServerPage-.*\.js$/.test(e.name));
  return {
    server_page_chunk: chunk ? chunk.responseEnd : null,
    live_window_request: history.length > 1 ? history[0].end : null,
    response_end: nav.responseEnd,
    dom_content_loaded: nav.domContentLoadedEventEnd,
    first_contentful_paint: mark('first-contentful-paint'),
    live_chart_drawn: mark('vigie:live-drawn'),
    history_chart_drawn: mark('vigie:history-drawn'),
    history_requests: history,
    points: Number(document.querySelector('[data-testid="history-chart"]').dataset.points),
    interval: document.querySelector('[data-testid="history-chart"]').dataset.interval,
  };
}
"""


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def bundle_sizes() -> None:
    index = (DIST / "index.html").read_text()
    entry = set(re.findall(r'(?:src|href)="/(assets/[^"]+\.js)"', index))
    scripts = {p.relative_to(DIST).as_posix(): p.read_bytes() for p in DIST.glob("assets/*.js")}
    later = sorted(set(scripts) - entry)
    print("built JavaScript (frontend/dist)")

    def line(label: str, names: list[str]) -> None:
        raw = sum(len(scripts[n]) for n in names)
        packed = sum(gz(scripts[n]) for n in names)
        print(f"  {label:<52} {raw / 1024:7.1f} KiB raw  {packed / 1024:6.1f} KiB gzipped")

    line("overview (index.html's scripts)", sorted(entry))
    for name in later:
        line(f"+ {name} (loaded on demand)", [name])
    line("all JavaScript", sorted(scripts))


def seed(url: str, days: int, interval: int) -> int:
    """One server with `days` of samples every `interval` seconds, ending now."""
    with psycopg.connect(url, autocommit=True) as conn:
        server_id = conn.execute(
            "INSERT INTO servers (name, hostname, ip_address, os_type, interval_seconds,"
            " token_hash, is_active, last_seen) VALUES ('bench-web-01', 'bench-web-01',"
            " '10.9.0.1', 'Linux', %s, %s, true, now()) RETURNING id",
            [interval, hash_token("vgi_bench_dashboard")],
        ).fetchone()[0]
        # A day per statement: the statement-level triggers see one day at a time.
        for day in range(days, 0, -1):
            conn.execute(
                """
                INSERT INTO metrics (server_id, recorded_at, cpu_percent, ram_percent,
                    ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb,
                    network_sent_mb, network_recv_mb)
                SELECT %(id)s, t,
                       (40 + 25 * sin(extract(epoch FROM t) / 3600) + random() * 10)::real,
                       (60 + 5 * sin(extract(epoch FROM t) / 7200))::real,
                       6000, 10240, 55, 110, 200,
                       extract(epoch FROM t - %(start)s) * 0.2,
                       extract(epoch FROM t - %(start)s) * 0.9
                  FROM generate_series(now() - make_interval(days => %(day)s),
                                       now() - make_interval(days => %(day)s - 1)
                                           - make_interval(secs => 0.001),
                                       make_interval(secs => %(step)s)) AS t
                """,
                {"id": server_id, "day": day, "step": interval, "start": "2020-01-01T00:00Z"},
            )
        count = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
    print(f"seeded {count:,} samples: {days} days every {interval} s")
    return server_id


def describe(label: str, values: list[float | None], unit: str = "ms") -> None:
    got = [v for v in values if v is not None]
    if not got:
        print(f"  {label:<38} (not recorded)")
        return
    print(
        f"  {label:<38} median {statistics.median(got):7.0f} {unit}"
        f"   min {min(got):7.0f}   max {max(got):7.0f}   ({len(got)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=int, default=5, help="seconds between samples")
    parser.add_argument("--range", default="30d", help="history range the page opens with")
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        sys.exit("build the dashboard first: make dashboard")
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian's chromium is needed: apt-get install chromium")

    bundle_sizes()
    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata")
    name = f"vigie_bench_dashboard_{os.getpid()}"
    url = create_database(server, name)
    try:
        migrate(url)
        server_id = seed(url, args.days, args.interval)
        port = free_port()
        env = {"VIGIE_DASHBOARD_DIR": str(DIST)}
        page_url = f"http://127.0.0.1:{port}/servers/{server_id}?range={args.range}"
        results = []
        with (
            gunicorn_relay(url, port, env, entry="vigie.local:app"),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for _ in range(args.runs + 1):  # the first run warms the server up, not counted
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_init_script(OBSERVER)
                page = context.new_page()
                page.goto(page_url)
                page.wait_for_function(
                    "performance.getEntriesByName('vigie:history-drawn').length"
                    " && performance.getEntriesByName('vigie:live-drawn').length",
                    timeout=120_000,
                )
                results.append(page.evaluate(COLLECT))
                context.close()
            browser.close()
        results = results[1:]
        last = results[-1]
        print(
            f"\nserver page, history range {args.range}: {last['points']} points"
            f" of {last['interval']} (cold loads in headless Chromium)"
        )
        describe("navigation: response end", [r["response_end"] for r in results])
        describe("DOMContentLoaded", [r["dom_content_loaded"] for r in results])
        describe("first contentful paint", [r["first_contentful_paint"] for r in results])
        describe("server page chunk loaded", [r["server_page_chunk"] for r in results])
        describe("live window (10 min) data received", [r["live_window_request"] for r in results])
        describe(
            "first drawn chart",
            [min(r["live_chart_drawn"], r["history_chart_drawn"]) for r in results],
        )
        describe("live chart drawn (last 10 min)", [r["live_chart_drawn"] for r in results])
        describe(
            "history request (start to end)",
            [r["history_requests"][-1]["end"] - r["history_requests"][-1]["start"]
             for r in results if r["history_requests"]],
        )  # fmt: skip
        describe(f"history chart drawn ({args.range})", [r["history_chart_drawn"] for r in results])
        print("\n(the machine is shared with other work: figures vary between runs)")
    finally:
        drop_database(server, name)


if __name__ == "__main__":
    main()
