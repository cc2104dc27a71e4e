"""The dashboard in a real headless Chromium (Debian's, driven by Playwright)
against the real stack: PostgreSQL, the API under gunicorn, and the relay serving
the built dashboard, /api and /socket.io on one port, as `vigie run` does.

Samples are written through a separate API process, as collectors do in
production; that one keeps running while the relay is stopped.

Screenshots of the overview and the server page are saved in test-artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from playwright.sync_api import Page, expect

from .browser import ARTIFACTS, DIST, WAIT_MS, browser_tests
from .conftest import ENROLL, bearer
from .helpers import admin_connect, free_port, gunicorn_api, gunicorn_relay, iso, sample

pytestmark = browser_tests("dashboard-e2e")


class Relay:
    """The relay process (with the API and the dashboard), stoppable and restartable
    on the same port."""

    def __init__(self, database_url: str, port: int, env: dict[str, str], log: Path) -> None:
        self.args = (database_url, port)
        self.env = env
        self.log = log
        self.stack: ExitStack | None = None

    def start(self) -> None:
        self.stack = ExitStack()
        self.stack.enter_context(
            gunicorn_relay(*self.args, self.env, log=self.log, entry="vigie.local:app")
        )

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.close()
            self.stack = None


class Stack:
    def __init__(self, url: str, api: str, relay: Relay) -> None:
        self.url = url  # what the browser opens
        self.api = api  # where the test writes, like a collector
        self.relay = relay

    @contextmanager
    def another_relay(self, entry: str = "vigie.local:app", **env: str) -> Iterator[str]:
        """One more relay on the same database, on a port of its own, with these
        settings over the stack's (VIGIE_RELAY_MAX_LIVE="5", say): its URL. By
        default it serves the dashboard and the API too, as the stack's does; the
        stack's writes reach it through the database, as they reach every relay.
        Only the tests that ask for one pay for its start."""
        database_url, _ = self.relay.args
        port = free_port()
        log = self.relay.log.with_name(f"relay-{port}.log")
        with gunicorn_relay(database_url, port, {**self.relay.env, **env}, log=log, entry=entry):
            yield f"http://127.0.0.1:{port}"

    def register(self, hostname: str, **fields) -> tuple[int, str]:
        response = requests.post(
            f"{self.api}/api/servers/register",
            json={"hostname": hostname, "interval_seconds": 5, **fields},
            headers=bearer(ENROLL),
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return body["id"], body["ingest_token"]

    def post(self, server_id: int, token: str, **values) -> None:
        response = requests.post(
            f"{self.api}/api/metrics",
            json={"server_id": server_id, **sample(**values)},
            headers=bearer(token),
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text

    def post_batch(self, server_id: int, token: str, samples: list[dict]) -> None:
        for start in range(0, len(samples), 1000):
            response = requests.post(
                f"{self.api}/api/metrics/batch",
                json={"server_id": server_id, "samples": samples[start : start + 1000]},
                headers=bearer(token),
                timeout=30,
            )
            assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    logs = tmp_path_factory.mktemp("e2e-logs")
    env = {"VIGIE_ENROLL_TOKEN": ENROLL, "VIGIE_DASHBOARD_DIR": str(DIST)}
    api_port, port = free_port(), free_port()
    with gunicorn_api(database_url, api_port, env, log=logs / "api.log"):
        relay = Relay(database_url, port, env, logs / "relay.log")
        relay.start()
        try:
            yield Stack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}", relay)
        finally:
            relay.stop()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def wait_live(page: Page) -> None:
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "live")


def test_overview_lists_a_registered_server_and_a_new_one_live(stack: Stack, page: Page) -> None:
    web, token = stack.register("e2e-web-01", ip_address="10.1.0.1", os_type="Linux")
    stack.post(web, token, cpu_percent=23.5, ram_percent=41.0, disk_percent=62.0)
    hot, hot_token = stack.register("e2e-db-01", ip_address="10.1.0.2", os_type="Linux")
    stack.post(hot, hot_token, cpu_percent=96.5)

    page.goto(stack.url + "/")
    wait_live(page)
    card = page.locator(f'a[data-server-id="{web}"]')
    expect(card).to_contain_text("e2e-web-01")
    expect(card).to_contain_text("23.5%")
    expect(card).to_have_attribute("data-health", "ok")
    # Trouble first: the server at 96.5 % CPU comes before the healthy one.
    expect(page.locator(f'a[data-server-id="{hot}"]')).to_have_attribute("data-health", "critical")
    order = page.locator("a[data-server-id]").evaluate_all(
        "cards => cards.map(card => Number(card.dataset.serverId))"
    )
    assert order.index(hot) < order.index(web), order

    # A server registered while the page is open appears without a reload.
    page.evaluate("window.__sameDocument = true")
    new, new_token = stack.register("e2e-new-02")
    stack.post(new, new_token, cpu_percent=12.0)
    expect(page.locator(f'a[data-server-id="{new}"]')).to_contain_text("12.0%")
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "overview.png")


def test_a_sample_appears_on_the_server_page_without_reload(stack: Stack, page: Page) -> None:
    server, token = stack.register("e2e-live-01")
    # Half a minute old: the live sample below is in another history bucket.
    stack.post(
        server, token, cpu_percent=10.0, recorded_at=iso(datetime.now(UTC) - timedelta(seconds=30))
    )

    page.goto(f"{stack.url}/servers/{server}")
    wait_live(page)
    cpu = page.get_by_role("region", name="CPU")
    expect(cpu.get_by_test_id("metric-value")).to_have_text("10.0%")
    page.evaluate("window.__sameDocument = true")

    stack.post(server, token, cpu_percent=42.4, ram_used_mb=2048.0, ram_total_mb=8192.0)
    expect(cpu.get_by_test_id("metric-value")).to_have_text("42.4%")
    expect(page.get_by_role("region", name="Memory")).to_contain_text("2 GiB / 8 GiB")
    chart = page.get_by_test_id("realtime-chart")
    expect(chart).to_have_attribute("data-points", "2")
    assert page.evaluate("window.__sameDocument") is True


def test_the_history_chart_draws_a_seeded_day(stack: Stack, page: Page) -> None:
    server, token = stack.register("e2e-history-01", ip_address="10.1.0.9", os_type="Linux")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    samples = [
        sample(
            recorded_at=iso(now - timedelta(minutes=1440 - i)),
            cpu_percent=round(50 + 40 * ((i % 240) / 240 - 0.5), 1),
            network_sent_mb=100.0 + i * 3,
            network_recv_mb=500.0 + i * 9,
        )
        for i in range(1440)
    ]
    stack.post_batch(server, token, samples)

    page.goto(f"{stack.url}/servers/{server}")
    wait_live(page)
    history = page.get_by_test_id("history-chart")
    page.get_by_role("group", name="Range").get_by_role("button", name="24 h").click()
    expect(history).to_have_attribute("data-loading", "false")
    # A day at one sample a minute: the API buckets it (5-minute averages).
    expect(history).to_have_attribute("data-interval", "5m")
    points = int(history.get_attribute("data-points"))
    assert 280 <= points <= 289, points
    # The line is really drawn: one path segment per point.
    path = history.locator("path.recharts-line-curve").first.get_attribute("d")
    segments = len(re.findall(r"[ML]", path))
    assert segments >= points - 1, (segments, points)
    network = page.get_by_test_id("network-chart").locator("path.recharts-line-curve").first
    assert len(re.findall(r"[ML]", network.get_attribute("d"))) >= points - 1
    screenshot(page, "server.png")

    # The same page on a phone, in the dark theme, for a look.
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    screenshot(page, "server-phone-dark.png")


def test_stopping_the_relay_shows_reconnecting_and_the_gap_is_filled(
    stack: Stack, page: Page
) -> None:
    server, token = stack.register("e2e-blip-01")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    stack.post_batch(
        server,
        token,
        [sample(recorded_at=iso(start + timedelta(seconds=5 * i))) for i in range(12)],
    )
    page.goto(f"{stack.url}/servers/{server}")
    wait_live(page)
    chart = page.get_by_test_id("realtime-chart")
    expect(chart).to_have_attribute("data-points", "12")

    stack.relay.stop()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "reconnecting")
    expect(page.get_by_test_id("connection")).to_have_text("Reconnecting…")
    # While the relay is away the collector keeps writing through the API.
    resumed = start + timedelta(seconds=60)
    end = datetime.now(UTC)
    missed = []
    while resumed <= end:
        missed.append(sample(recorded_at=iso(resumed), cpu_percent=77.0))
        resumed += timedelta(seconds=5)
    stack.post_batch(server, token, missed)

    stack.relay.start()
    wait_live(page)
    # The missed samples arrive from history (as 5 s buckets: up to 5 s earlier).
    last = datetime.fromisoformat(missed[-1]["recorded_at"]).timestamp() * 1000
    page.wait_for_function(
        "([chart, last]) => Date.parse(chart.dataset.last) >= last - 5000",
        arg=[chart.element_handle(), last],
    )
    # No hole: every step of the line is at most a bucket and a sample apart.
    assert int(chart.get_attribute("data-max-gap-s")) <= 10
    assert int(chart.get_attribute("data-points")) >= 12 + len(missed) - 1


def test_a_cpu_alert_shows_in_the_banner_and_clears_on_resolution(stack: Stack, page: Page) -> None:
    server, token = stack.register("e2e-alert-01", ip_address="10.1.0.7", os_type="Linux")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    stack.post(server, token, cpu_percent=20.0, recorded_at=iso(start))
    page.goto(stack.url + "/")
    wait_live(page)
    banner = page.get_by_test_id("alert-banner")
    chip = banner.locator(f'a[data-server-id="{server}"][data-alert-type="cpu"]')
    expect(chip).to_have_count(0)

    # Over the threshold (90 %) for three samples in a row: the alert fires.
    for i in range(1, 4):
        stack.post(
            server, token, cpu_percent=97.0, recorded_at=iso(start + timedelta(seconds=5 * i))
        )
    expect(chip).to_contain_text("e2e-alert-01")
    expect(chip).to_contain_text("CPU 97.0% (threshold 90.0%)")
    expect(page.locator(f'a[data-server-id="{server}"][data-health]')).to_have_attribute(
        "data-health", "critical"
    )
    screenshot(page, "overview-alert.png")

    # The banner opens the server, whose page lists the alert as firing.
    chip.click()
    expect(page).to_have_url(f"{stack.url}/servers/{server}")
    alerts = page.get_by_test_id("server-alerts")
    expect(alerts.locator('li[data-state="firing"]')).to_contain_text("CPU")

    # Back under the threshold (with its margin): resolved, the banner empties.
    for i in range(4, 8):
        stack.post(
            server, token, cpu_percent=12.0, recorded_at=iso(start + timedelta(seconds=5 * i))
        )
    expect(chip).to_have_count(0)
    expect(alerts.locator('li[data-state="resolved"]')).to_contain_text("CPU")
    expect(alerts.locator('li[data-state="firing"]')).to_have_count(0)


def on_a_bucket(moment: datetime) -> datetime:
    """The moment rounded down to a history bucket of 5 s: samples from there on,
    5 s apart, are each alone in a bucket that starts at their own time."""
    moment = moment.replace(microsecond=0)
    return moment - timedelta(seconds=moment.second % 5)


def buckets_holding(times: list[datetime], chart) -> str:
    """How many buckets of the history chart's interval (10s, 1m...) these samples
    fall in: the points the chart has when it shows them all."""
    interval = chart.get_attribute("data-interval")
    seconds = int(interval[:-1]) * {"s": 1, "m": 60, "h": 3600}[interval[-1]]
    return str(len({int(t.timestamp()) // seconds for t in times}))


def test_a_batch_over_the_live_limit_is_fetched_into_the_live_chart(
    stack: Stack, page: Page
) -> None:
    server, token = stack.register("e2e-spool-01")
    base = on_a_bucket(datetime.now(UTC) - timedelta(seconds=130))
    stack.post(server, token, cpu_percent=10.0, recorded_at=iso(base))
    # This relay pushes the newest 5 samples of a write and announces the rest
    # (metrics-backfill): the page fetches them.
    with stack.another_relay(VIGIE_RELAY_MAX_LIVE="5") as url:
        page.goto(f"{url}/servers/{server}")
        wait_live(page)
        chart = page.get_by_test_id("realtime-chart")
        history = page.get_by_test_id("history-chart")
        expect(chart).to_have_attribute("data-points", "1")
        expect(history).to_have_attribute("data-points", "1")

        # A collector flushing its spool: 24 samples 5 s apart, in one batch.
        batch = [
            sample(recorded_at=iso(base + timedelta(seconds=5 * (i + 1))), cpu_percent=30.0 + i)
            for i in range(24)
        ]
        stack.post_batch(server, token, batch)
        cpu = page.get_by_role("region", name="CPU").get_by_test_id("metric-value")
        expect(cpu).to_have_text("53.0%")
        # Every sample once (19 of them as the 5 s buckets holding one each), no hole.
        expect(chart).to_have_attribute("data-points", "25")
        assert datetime.fromisoformat(chart.get_attribute("data-first")) == base
        assert datetime.fromisoformat(chart.get_attribute("data-last")) == base + timedelta(
            seconds=120
        )
        assert chart.get_attribute("data-max-gap-s") == "5"
        # The history chart, whose range holds them, is loaded again.
        times = [base] + [datetime.fromisoformat(s["recorded_at"]) for s in batch]
        expect(history).to_have_attribute("data-points", buckets_holding(times, history))


def listen_pid(relay: str) -> int | None:
    try:
        response = requests.get(f"{relay}/health", timeout=5)
    except requests.RequestException:
        return None
    return response.json().get("listen_backend_pid") if response.status_code == 200 else None


def wait_until(condition, what: str, timeout: float = WAIT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        time.sleep(0.1)


def test_a_relay_away_too_long_makes_the_pages_load_again(
    stack: Stack, page: Page, relay_role, direct_database_url: str
) -> None:
    role_url, allow_login = relay_role
    server, token = stack.register("e2e-resync-01")
    base = on_a_bucket(datetime.now(UTC) - timedelta(seconds=70))
    stack.post(server, token, cpu_percent=10.0, recorded_at=iso(base))
    # The page's relay listens as a role the test can lock out; another relay
    # stays connected and, keeping its catch-up log for 1 s only, prunes it.
    quick = {
        "VIGIE_RELAY_LOG_RETENTION": "1",
        "VIGIE_RELAY_CHECK_SECONDS": "0.5",
        "VIGIE_SWEEP_SECONDS": "0.5",
    }
    with (
        stack.another_relay(REALTIME_DATABASE_URL=role_url, **quick) as url,
        stack.another_relay(entry="realtime.relay:app", **quick),
    ):
        page.goto(f"{url}/servers/{server}")
        wait_live(page)
        chart = page.get_by_test_id("realtime-chart")
        history = page.get_by_test_id("history-chart")
        cpu = page.get_by_role("region", name="CPU").get_by_test_id("metric-value")
        expect(chart).to_have_attribute("data-points", "1")
        expect(history).to_have_attribute("data-points", "1")
        overview = page.context.new_page()
        overview.goto(url + "/")
        card = overview.locator(f'a[data-server-id="{server}"]')
        expect(card).to_contain_text("10.0%")

        # Every change of the page's connection state from now on.
        page.evaluate(
            """() => {
                const indicator = document.querySelector('[data-testid="connection"]');
                window.__statuses = [];
                new MutationObserver(() => window.__statuses.push(indicator.dataset.status))
                    .observe(indicator, { attributes: true, attributeFilter: ['data-status'] });
            }"""
        )

        # The relay loses its LISTEN session and cannot log in again.
        allow_login(False)
        pid = listen_pid(url)
        assert pid is not None
        with admin_connect(direct_database_url) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        wait_until(lambda: listen_pid(url) is None, "the relay saying it does not listen")
        # Meanwhile a collector writes, and the log of that write is pruned: the
        # relay cannot announce it when it is back.
        missed = [
            sample(recorded_at=iso(base + timedelta(seconds=5 * (i + 1))), cpu_percent=70.0 + i)
            for i in range(12)
        ]
        stack.post_batch(server, token, missed)
        with psycopg.connect(direct_database_url, autocommit=True) as conn:
            logged = "SELECT count(*) FROM metric_writes WHERE server_id = %s"
            wait_until(
                lambda: conn.execute(logged, [server]).fetchone()[0] == 0, "the write pruned"
            )
        expect(chart).to_have_attribute("data-points", "1")
        allow_login(True)

        # Back, it tells the pages to load again (resync): they show the write.
        expect(chart).to_have_attribute("data-points", "13")
        assert chart.get_attribute("data-max-gap-s") == "5"
        expect(cpu).to_have_text("81.0%")
        times = [base] + [datetime.fromisoformat(s["recorded_at"]) for s in missed]
        expect(history).to_have_attribute("data-points", buckets_holding(times, history))
        expect(card).to_contain_text("81.0%")
        # The page's socket was never cut: this was not a reconnection.
        assert page.evaluate("window.__statuses") == []


DASHBOARD_TOKEN = "e2e-dashboard-token"


@pytest.fixture(scope="module")
def protected_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The one-URL local stack with VIGIE_DASHBOARD_TOKEN set."""
    log = tmp_path_factory.mktemp("e2e-protected") / "relay.log"
    env = {
        "VIGIE_ENROLL_TOKEN": ENROLL,
        "VIGIE_DASHBOARD_DIR": str(DIST),
        "VIGIE_DASHBOARD_TOKEN": DASHBOARD_TOKEN,
    }
    port = free_port()
    with gunicorn_relay(database_url, port, env, log=log, entry="vigie.local:app"):
        yield f"http://127.0.0.1:{port}"


def test_with_a_dashboard_token_the_page_asks_once_and_says_when_it_is_refused(
    protected_url: str, page: Page
) -> None:
    stack = Stack(protected_url, protected_url, relay=None)  # type: ignore[arg-type]
    server, token = stack.register("e2e-protected-01")
    stack.post(server, token, cpu_percent=31.5)

    page.goto(protected_url + "/")
    dialog = page.get_by_role("dialog", name="Dashboard token")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("alert")).to_have_count(0)

    dialog.get_by_label("Token").fill("not-the-token")
    dialog.get_by_role("button", name="Open the dashboard").click()
    expect(dialog.get_by_role("alert")).to_contain_text("refused the token")

    dialog.get_by_label("Token").fill(DASHBOARD_TOKEN)
    dialog.get_by_role("button", name="Open the dashboard").click()
    expect(page.locator(f'a[data-server-id="{server}"]')).to_contain_text("31.5%")
    wait_live(page)
    expect(dialog).to_have_count(0)

    # Remembered: a new visit does not ask again.
    page.reload()
    expect(page.locator(f'a[data-server-id="{server}"]')).to_contain_text("31.5%")
    expect(dialog).to_have_count(0)
