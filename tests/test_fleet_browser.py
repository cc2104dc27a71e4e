"""The overview at fleet scale, in a real headless Chromium (Debian's, driven by
Playwright) against the real relay serving the built dashboard and the API on one
port, as `vigie run` does, on a database of its own holding a few thousand
servers with half an hour of samples each.

The servers and their samples are written in SQL (vigie_ingest, the API's own
write, many servers per statement) so that a fleet this size is set up in
seconds; the one server that goes offline registers and posts through the API,
as a collector does. While a test runs, a writer keeps samples arriving for the
healthy servers at a rate the test sets.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
import requests
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from vigie.migrate import migrate
from vigie.tokens import hash_token

from .browser import ARTIFACTS, DIST, browser_tests
from .conftest import ENROLL, bearer, scratch_database, wait_until
from .helpers import free_port, gunicorn_relay, sample
from .test_dashboard_e2e import wait_live

pytestmark = browser_tests("fleet-browser")

# The fleet, by position in name order (fleet-0001 …): a few critical (CPU at
# 96 %, which fires their CPU alert), a few offline, some warning (CPU at 80 %),
# and the rest healthy. Every server reports hourly, so none goes silent while
# the module runs unless a test makes it.
SERVERS = 3000
CRITICAL = range(1, 7)
OFFLINE = range(7, 10)
WARNING = range(10, 40)
HISTORY_MINUTES = 28
HISTORY_STEP_MINUTES = 2
FLEET_SECONDS = 1.0
BASE = {k: v for k, v in sample().items() if k != "recorded_at"} | {
    "ram_percent": 40.0,
    "disk_percent": 50.0,
}


def name(i: int) -> str:
    return f"fleet-{i:04d}"


def cpu_of(i: int) -> float:
    if i in CRITICAL:
        return 96.0
    if i in WARNING:
        return 80.0
    return float(10 + (i * 7) % 55)  # healthy: 10 to 64 %


# One statement per chunk of servers: each server's samples every two minutes
# over the last half hour, through vigie_ingest (alerts, the server's row, the
# write log), each at its server's CPU.
SEED = """
SELECT count(*)
  FROM unnest(%(ids)s::integer[], %(cpus)s::real[]) AS w(id, cpu)
 CROSS JOIN LATERAL vigie_ingest(w.id, (
       SELECT jsonb_agg(%(base)s::jsonb || jsonb_build_object(
                  'recorded_at', t, 'cpu_percent', w.cpu) ORDER BY t)
         FROM generate_series(now() - make_interval(mins => %(minutes)s), now(),
                              make_interval(mins => %(step)s)) AS t))
"""

# One tick of the writer: one new sample for each of these servers.
WRITE = """
SELECT count(*)
  FROM unnest(%(ids)s::integer[], %(cpus)s::real[]) AS w(id, cpu)
 CROSS JOIN LATERAL vigie_ingest(w.id, jsonb_build_array(%(base)s::jsonb || jsonb_build_object(
       'recorded_at', clock_timestamp(), 'cpu_percent', w.cpu)))
"""


def seed(url: str) -> dict[int, int]:
    """The fleet, as described above: {position: server id}."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """INSERT INTO servers (name, hostname, ip_address, os_type, interval_seconds,
                                    token_hash)
               SELECT 'fleet-' || lpad(i::text, 4, '0'), 'fleet-' || lpad(i::text, 4, '0'),
                      '10.7.' || i / 256 || '.' || i %% 256, 'Linux', 3600, %s
                 FROM generate_series(1, %s) AS i
               RETURNING id, name""",
            [hash_token("vgi_fleet_unused"), SERVERS],
        ).fetchall()
        ids = {int(row_name.removeprefix("fleet-")): row_id for row_id, row_name in rows}
        positions = sorted(ids)
        for start in range(0, len(positions), 500):
            chunk = positions[start : start + 500]
            conn.execute(
                SEED,
                {
                    "ids": [ids[i] for i in chunk],
                    "cpus": [cpu_of(i) for i in chunk],
                    "base": Jsonb(BASE),
                    "minutes": HISTORY_MINUTES,
                    "step": HISTORY_STEP_MINUTES,
                },
            )
        # Offline: the relay's sweep would say so after three hours of silence.
        conn.execute(
            "UPDATE servers SET is_active = false WHERE id = ANY(%s)",
            [[ids[i] for i in OFFLINE]],
        )
    return ids


class Writer:
    """Samples arriving for `ids` at `rate` a second (changeable while it runs), in
    ticks of 50 ms, each tick's in one transaction; `written` counts them."""

    TICK = 0.05

    def __init__(self, url: str, ids: list[int], rate: float) -> None:
        self.url = url
        self.ids = ids
        self.rate = rate
        self.written = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        shuffle = random.Random(15)
        owed = 0.0
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                due = time.monotonic()
                while not self._stop.is_set():
                    owed += self.rate * self.TICK
                    n = min(int(owed), len(self.ids))
                    owed -= n
                    if n:
                        # In id order, as the API's grouped writes lock server rows.
                        chosen = sorted(shuffle.sample(self.ids, n))
                        cpus = [round(shuffle.uniform(10, 60), 1) for _ in chosen]
                        conn.execute(WRITE, {"ids": chosen, "cpus": cpus, "base": Jsonb(BASE)})
                        self.written += n
                    due += self.TICK
                    self._stop.wait(max(0.0, due - time.monotonic()))
        except BaseException as exc:  # reported by __exit__
            self.error = exc

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise self.error


@dataclass
class Fleet:
    url: str  # the page, the API and the relay
    db: str
    ids: dict[int, int]  # position -> server id

    @property
    def healthy(self) -> list[int]:
        last = max(max(CRITICAL), max(OFFLINE), max(WARNING))
        return [sid for i, sid in self.ids.items() if i > last]

    def writer(self, rate: float) -> Writer:
        return Writer(self.db, self.healthy, rate)

    def count(self) -> int:
        with psycopg.connect(self.db) as conn:
            return conn.execute("SELECT count(*) FROM servers").fetchone()[0]


@pytest.fixture(scope="module")
def fleet(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if not (DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    logs = tmp_path_factory.mktemp("fleet-logs")
    with scratch_database(server_url, f"vigie_test_fleet_{os.getpid()}") as db:
        migrate(db)
        ids = seed(db)
        env = {
            "VIGIE_ENROLL_TOKEN": ENROLL,
            "VIGIE_DASHBOARD_DIR": str(DIST),
            "VIGIE_FLEET_SECONDS": str(FLEET_SECONDS),
            "VIGIE_SWEEP_SECONDS": "0.5",
        }
        port = free_port()
        with gunicorn_relay(db, port, env, log=logs / "relay.log", entry="vigie.local:app"):
            yield Fleet(f"http://127.0.0.1:{port}", db, ids)


def open_overview(page: Page, fleet: Fleet, total: int) -> None:
    page.goto(fleet.url + "/")
    wait_live(page)
    expect(page.locator("#overview-title")).to_contain_text(f"({total})")


def cards_in_page(page: Page) -> int:
    return page.locator("a[data-server-id]").count()


def card_at(page: Page, index: int):
    return page.locator(f'a[data-card-index="{index}"]')


# The page's count of fleet-update events and of the server entries they held,
# with the page's own clock (ms), read in one step.
FLEET_EVENTS = """() => {
  const seen = window.__vigieFleetEvents ?? { count: 0, servers: 0 };
  return { count: seen.count, servers: seen.servers, at: performance.now() };
}"""


def test_the_overview_shows_every_server_trouble_first_with_its_trend(
    fleet: Fleet, page: Page
) -> None:
    total = fleet.count()  # the fleet, and a server another test registered, if it ran
    open_overview(page, fleet, total)
    summary = page.get_by_test_id("summary")
    healthy = SERVERS - len(CRITICAL) - len(OFFLINE) - len(WARNING)
    for state, count in [
        ("critical", len(CRITICAL)),
        ("offline", len(OFFLINE)),
        ("warning", len(WARNING)),
        ("ok", healthy),
    ]:
        expect(summary.locator(f'[data-count-of="{state}"]')).to_have_attribute(
            "data-count", str(count)
        )
    # The worst CPU of the fleet is named at the top: one of the critical servers.
    worst = page.locator('[data-worst="cpu"]').first
    expect(worst).to_have_text(name(min(CRITICAL)))

    # Trouble first: critical, then offline, then warning, then healthy, each by name.
    first = card_at(page, 0)
    expect(first).to_have_attribute("data-server-id", str(fleet.ids[min(CRITICAL)]))
    expect(first).to_have_attribute("data-health", "critical")
    expect(first).to_contain_text("1 active alert")
    expect(card_at(page, len(CRITICAL))).to_have_attribute("data-health", "offline")
    # Every card on screen has its trend from history at the first paint: the
    # half hour's samples, not only the current value.
    spark = first.locator("svg[data-points]")
    expect(spark).to_have_attribute("data-points", str(HISTORY_MINUTES // HISTORY_STEP_MINUTES + 1))
    on_screen = page.locator("a[data-server-id] svg[data-points]")
    points = on_screen.evaluate_all("svgs => svgs.map(s => Number(s.dataset.points))")
    assert points and min(points) > 1, points

    # Every server is in the list, but only the ones on screen are in the page.
    card = page.locator('[role="listitem"][aria-setsize]').first
    expect(card).to_have_attribute("aria-setsize", str(total))
    assert cards_in_page(page) < 60
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    last = card_at(page, total - 1)
    expect(last).to_have_attribute("data-server-id", str(fleet.ids[SERVERS]))
    expect(last).to_have_attribute("data-health", "ok")
    assert cards_in_page(page) < 60
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "fleet-bottom.png"))  # the screen: the page is 200,000 px


def test_the_table_sorts_by_a_column_filters_and_remembers_the_choice(
    fleet: Fleet, page: Page
) -> None:
    open_overview(page, fleet, fleet.count())
    page.get_by_role("group", name="View").get_by_role("button", name="Table").click()
    table = page.get_by_test_id("fleet-table")
    expect(table).to_have_attribute("aria-rowcount", str(SERVERS + 1))
    expect(table).to_have_attribute("data-sort", "trouble")
    first_row = table.locator('[data-row-index="0"]')
    expect(first_row).to_have_attribute("data-row-server-id", str(fleet.ids[min(CRITICAL)]))
    # Only the rows on screen are in the page.
    assert table.locator("tbody tr[data-health]").count() < 80

    # CPU, highest first: the critical servers (96 %), ties in trouble order.
    cpu = table.get_by_role("button", name="CPU")
    cpu.click()
    expect(table).to_have_attribute("data-sort", "cpu:desc")
    expect(first_row).to_have_attribute("data-row-server-id", str(fleet.ids[min(CRITICAL)]))
    # Then lowest first: the fleet's lowest CPU, the first by name of those at it.
    cpu.click()
    expect(table).to_have_attribute("data-sort", "cpu:asc")
    lowest = min(range(1, SERVERS + 1), key=lambda i: (cpu_of(i), i))
    expect(first_row).to_have_attribute("data-row-server-id", str(fleet.ids[lowest]))
    expect(first_row).to_have_text(name(lowest))

    # The search filters the 3,000 rows at once, in the chosen order.
    page.get_by_label("Filter servers").fill("fleet-012")
    expect(table).to_have_attribute("aria-rowcount", "11")  # fleet-0120 … fleet-0129, and the head
    shown = table.locator("[data-row-server-id]").evaluate_all(
        "links => links.map(a => a.textContent)"
    )
    wanted = sorted(range(120, 130), key=lambda i: (cpu_of(i), i))
    assert shown == [name(i) for i in wanted], shown
    page.get_by_label("Filter servers").fill("")
    expect(table).to_have_attribute("aria-rowcount", str(SERVERS + 1))

    # The view and the sort are remembered in this browser.
    page.reload()
    wait_live(page)
    expect(page.get_by_test_id("fleet-table")).to_have_attribute("data-sort", "cpu:asc")
    expect(first_row).to_have_attribute("data-row-server-id", str(fleet.ids[lowest]))


def test_a_server_going_offline_moves_to_the_top_within_a_coalescing_period(
    fleet: Fleet, page: Page
) -> None:
    total = fleet.count()
    page.set_viewport_size({"width": 1280, "height": 1400})  # its place at the top in view
    open_overview(page, fleet, total)
    # A server registers and reports every second, as a collector does; the page
    # learns of it live and puts it last (healthy, named zz-…).
    response = requests.post(
        f"{fleet.url}/api/servers/register",
        json={"hostname": "zz-fleet-leaving", "interval_seconds": 1},
        headers=bearer(ENROLL),
        timeout=10,
    )
    response.raise_for_status()
    leaving, token = response.json()["id"], response.json()["ingest_token"]
    reporting = threading.Event()

    def report() -> None:
        while not reporting.wait(0.3):
            requests.post(
                f"{fleet.url}/api/metrics",
                json={"server_id": leaving, **sample(cpu_percent=20.0, ram_percent=40.0)},
                headers=bearer(token),
                timeout=10,
            ).raise_for_status()

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        with fleet.writer(rate=50):  # the rest of the fleet keeps writing: fleet-updates flow
            expect(page.locator("#overview-title")).to_contain_text(f"({total + 1})")
            page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            bottom = card_at(page, total)
            expect(bottom).to_have_attribute("data-server-id", str(leaving))
            expect(bottom).to_have_attribute("data-health", "ok")
            page.evaluate("window.scrollTo(0, 0)")

            # It goes silent; the relay's sweep finds it offline after three intervals.
            reporting.set()
            reporter.join()
            with psycopg.connect(fleet.db, autocommit=True) as conn:
                wait_until(
                    lambda: (
                        not conn.execute(
                            "SELECT is_active FROM servers WHERE id = %s", [leaving]
                        ).fetchone()[0]
                    ),
                    what="the sweep marking the server offline",
                )
            before = page.evaluate(FLEET_EVENTS)
            # Its place: after the critical servers and the offline ones named before it.
            place = len(CRITICAL) + len(OFFLINE)
            moved = page.wait_for_function(
                """([place, id]) => {
                  const card = document.querySelector(`a[data-card-index="${place}"]`);
                  if (!card || card.dataset.serverId !== String(id)
                      || card.dataset.health !== 'offline') return null;
                  return (window.__vigieFleetEvents ?? { count: 0 }).count;
                }""",
                arg=[place, leaving],
                polling="raf",
            ).json_value()
            # The status change came at once, not with the coalesced updates: at
            # most one of those reached the page in between.
            assert moved - before["count"] <= 1, (before, moved)
            assert page.evaluate(FLEET_EVENTS)["count"] > 0  # fleet-updates were flowing
        expect(
            page.get_by_test_id("summary").locator('[data-count-of="offline"]')
        ).to_have_attribute("data-count", str(len(OFFLINE) + 1))
    finally:
        reporting.set()
        reporter.join()


def test_fleet_events_per_second_stay_bounded_while_the_write_rate_rises(
    fleet: Fleet, page: Page
) -> None:
    open_overview(page, fleet, fleet.count())
    phases = []
    with fleet.writer(rate=10) as writer:
        time.sleep(2 * FLEET_SECONDS)  # the first updates reach the page
        for rate in (10, 100, 400):
            writer.rate = rate
            time.sleep(FLEET_SECONDS)  # the previous rate's last update
            start, written = page.evaluate(FLEET_EVENTS), writer.written
            time.sleep(5 * FLEET_SECONDS)
            end = page.evaluate(FLEET_EVENTS)
            phases.append(
                {
                    "rate": rate,
                    "writes": writer.written - written,
                    "events": end["count"] - start["count"],
                    "entries": end["servers"] - start["servers"],
                    "seconds": (end["at"] - start["at"]) / 1000,
                }
            )
    for phase in phases:
        # At most one fleet-update per period, whatever the rate (with slack for
        # the window's ends, and for two arriving closer than a period apart when
        # the first was delayed).
        assert 1 <= phase["events"] <= phase["seconds"] / FLEET_SECONDS + 2, phases
        # Every write reached the page, as the entries of those few events.
        assert phase["entries"] >= 0.5 * phase["writes"], phases
    slow, fast = phases[0], phases[-1]
    assert fast["writes"] >= 10 * slow["writes"], phases  # the rate really rose
    assert fast["events"] <= slow["events"] + 2, phases
    # Coalesced: many servers per event, never one event per sample.
    assert fast["entries"] / fast["events"] >= 50, phases
    assert fast["events"] * 50 <= fast["writes"], phases
