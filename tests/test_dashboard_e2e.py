"""The dashboard in a real headless Chromium (Debian's, driven by Playwright)
against the real stack: PostgreSQL, the API under gunicorn, and the relay serving
the built dashboard, /api and /socket.io on one port, as `vigie run` does.

Samples are written through a separate API process, as collectors do in
production; that one keeps running while the relay is stopped.

Screenshots of the overview and the server page are saved in test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import ENROLL, bearer
from .helpers import ROOT, free_port, gunicorn_api, gunicorn_relay, iso, sample

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dashboard-e2e")]

DIST = ROOT / "frontend" / "dist"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Generous: the machine is shared, and a wait ends as soon as its condition holds.
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)


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
            gunicorn_relay(*self.args, self.env, log=self.log, entry="realtime.relay:local_app")
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is needed: apt-get install chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(error.stack or str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


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
    with gunicorn_relay(database_url, port, env, log=log, entry="realtime.relay:local_app"):
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
