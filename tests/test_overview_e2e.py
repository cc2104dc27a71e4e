"""The overview's load per core, fullest filesystem and grouping by tag, in a real
headless Chromium (Debian's, driven by Playwright) against the real stack:
PostgreSQL, the API under gunicorn, and the relay serving the built dashboard,
/api and /socket.io on one port, as `vigie run` does.

Servers are registered, tagged (PATCH, with the admin token) and sent wide
samples through the API, as collectors and an operator do. Other modules of the
same worker may have left servers in the database: each test filters the
overview to this module's servers by name ("ovw-"), as a person would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from playwright.sync_api import Page, expect

from .browser import DIST, browser_tests
from .conftest import ADMIN, ENROLL, bearer, wait_until
from .helpers import free_port, gunicorn_api, gunicorn_relay, sample
from .test_dashboard_e2e import screenshot, wait_live

pytestmark = browser_tests("overview-e2e")


def filesystems(*mounts: tuple[str, float]) -> list[dict]:
    return [
        {
            "mount": mount,
            "device": f"/dev/vd{chr(97 + i)}",
            "fstype": "ext4",
            "used_gb": percent,
            "total_gb": 100.0,
            "percent": percent,
            "inodes_percent": 1.0,
        }
        for i, (mount, percent) in enumerate(mounts)
    ]


@dataclass
class Host:
    name: str
    tags: list[str]
    fields: dict  # of its sample: load, CPUs, filesystems, CPU


# Load per core and fullest filesystem, each different so a sort has one answer:
# load 1.5 (critical), 1.1 (warning), 0.42, 0.25, 0.05 and none; fullest 91.5,
# 75, 55, 40, 20 and none.
HOSTS = [
    Host(
        "ovw-web-1",
        ["ovw-web", "ovw-eu"],
        {"load_1": 1.68, "cpu_count": 4, "filesystems": filesystems(("/", 30), ("/var", 91.5))},
    ),
    Host(
        "ovw-web-2",
        ["ovw-web"],
        {"load_1": 6.0, "cpu_count": 4, "cpu_percent": 96.0, "filesystems": filesystems(("/", 40))},
    ),
    Host(
        "ovw-db-1",
        ["ovw-db", "ovw-eu"],
        {"load_1": 2.0, "cpu_count": 8, "filesystems": filesystems(("/", 10), ("/srv/pg", 75))},
    ),
    Host("ovw-db-2", ["ovw-db"], {}),  # a collector of the seed's fields only
    Host(
        "ovw-cache",
        [],
        {
            "load_1": 1.1,
            "cpu_count": 1,
            "cpu_percent": 80.0,
            "filesystems": filesystems(("/data", 55)),
        },
    ),
    Host("ovw-mail", [], {"load_1": 0.1, "cpu_count": 2, "filesystems": filesystems(("/", 20))}),
]


class Stack:
    def __init__(self, url: str, api: str) -> None:
        self.url = url  # what the browser opens
        self.api = api  # where the test writes, like a collector
        self.ids: dict[str, int] = {}
        self.tokens: dict[str, str] = {}

    def register(self, hostname: str) -> None:
        response = requests.post(
            f"{self.api}/api/servers/register",
            # Hourly: none goes silent (stale, offline) while the module runs.
            json={"hostname": hostname, "interval_seconds": 3600},
            headers=bearer(ENROLL),
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        self.ids[hostname], self.tokens[hostname] = body["id"], body["ingest_token"]

    def tag(self, hostname: str, tags: list[str]) -> None:
        response = requests.patch(
            f"{self.api}/api/servers/{self.ids[hostname]}",
            json={"tags": tags},
            headers=bearer(ADMIN),
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def post(self, hostname: str, **values) -> None:
        response = requests.post(
            f"{self.api}/api/metrics",
            json={"server_id": self.ids[hostname], **sample(**values)},
            headers=bearer(self.tokens[hostname]),
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    logs = tmp_path_factory.mktemp("overview-e2e-logs")
    env = {
        "VIGIE_ENROLL_TOKEN": ENROLL,
        "VIGIE_ADMIN_TOKEN": ADMIN,
        "VIGIE_DASHBOARD_DIR": str(DIST),
    }
    api_port, port = free_port(), free_port()
    with (
        gunicorn_api(database_url, api_port, env, log=logs / "api.log"),
        gunicorn_relay(database_url, port, env, log=logs / "relay.log", entry="vigie.local:app"),
    ):
        stack = Stack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}")
        for host in HOSTS:
            stack.register(host.name)
            if host.tags:
                stack.tag(host.name, host.tags)
            stack.post(host.name, **host.fields)
        yield stack


def open_overview(page: Page, stack: Stack, path: str = "/") -> None:
    page.goto(stack.url + path)
    wait_live(page)
    page.get_by_role("searchbox", name="Filter servers").fill("ovw-")


def card(page: Page, stack: Stack, hostname: str):
    return page.locator(f'[data-card-index][data-server-id="{stack.ids[hostname]}"]')


# The virtual list's rows in the order drawn: a section's header, or the names of
# the servers of a row (of cards or of the table).
ROWS_JS = """root => [
  ...root.querySelectorAll(':scope [data-index], :scope tbody tr[aria-rowindex]'),
].map(row => {
    const header = row.querySelector('[data-testid="section-header"]');
    if (header) return '#' + (header.dataset.section || 'untagged') + ' ' + header.dataset.count
      + '/' + header.dataset.trouble;
    return [...row.querySelectorAll('h3, a[data-row-server-id]')].map(e => e.textContent);
  })"""


def drawn(page: Page, root: str) -> list[str]:
    """What the overview shows, flattened: '#tag count/trouble' then names."""
    out: list[str] = []
    for row in page.locator(root).evaluate(ROWS_JS):
        out.extend([row] if isinstance(row, str) else row)
    return out


def shows(page: Page, root: str, expected: list[str]) -> None:
    """The overview comes to show exactly these rows (the virtual list draws its
    rows once it has measured them, a frame or two after the headers)."""
    wait_until(lambda: drawn(page, root) == expected, timeout=10, what=f"rows {expected}")


def test_cards_show_load_per_core_and_the_fullest_filesystem_live(stack: Stack, page: Page):
    open_overview(page, stack)
    expect(page.locator("[data-card-index]")).to_have_count(len(HOSTS))

    web1 = card(page, stack, "ovw-web-1")
    expect(web1.locator('[data-metric="load"]')).to_have_text("load 0.42/core")
    expect(web1.locator('[data-metric="load"]')).to_have_attribute("data-level", "ok")
    fs = web1.locator('[data-metric="fs"]')
    expect(fs).to_have_attribute("data-mount", "/var")
    expect(fs).to_contain_text("91%")
    expect(fs).to_have_attribute("data-level", "critical")
    web2 = card(page, stack, "ovw-web-2")
    expect(web2.locator('[data-metric="load"]')).to_have_text("load 1.5/core")
    expect(web2.locator('[data-metric="load"]')).to_have_attribute("data-level", "critical")
    expect(card(page, stack, "ovw-cache").locator('[data-metric="load"]')).to_have_attribute(
        "data-level", "warning"
    )
    seed_only = card(page, stack, "ovw-db-2")
    expect(seed_only.locator('[data-metric="load"]')).to_have_text("load —")
    expect(seed_only.locator('[data-metric="fs"]')).to_contain_text("—")
    screenshot(page, "overview-load-fs.png")

    # A new sample arrives (fleet-update): the card follows; one without
    # filesystems keeps the fullest known. (The fullest stays under 90 % for
    # less than three samples in a row: no filesystem alert, no trouble.)
    stack.post("ovw-web-1", load_1=8.0, cpu_count=4, filesystems=filesystems(("/var", 85.9)))
    expect(web1.locator('[data-metric="load"]')).to_have_text("load 2.0/core")
    expect(fs).to_contain_text("85%")
    expect(fs).to_have_attribute("data-level", "warning")
    stack.post("ovw-web-1", load_1=0.4, cpu_count=4)
    expect(web1.locator('[data-metric="load"]')).to_have_text("load 0.10/core")
    expect(fs).to_have_attribute("data-mount", "/var")
    expect(fs).to_contain_text("85%")
    # Back to what the other tests expect.
    stack.post("ovw-web-1", **HOSTS[0].fields)
    expect(fs).to_contain_text("91%")


def test_grouped_by_tag_one_section_per_tag_and_the_untagged_last(stack: Stack, page: Page):
    open_overview(page, stack)
    page.get_by_role("button", name="Group by tag").click()
    expect(page).to_have_url(stack.url + "/?group=tag")
    expect(page.get_by_test_id("section-header")).to_have_count(4)
    # Trouble first in each section: web-2 is critical (CPU), cache a warning.
    sections = [
        "#ovw-db 2/0",
        "ovw-db-1",
        "ovw-db-2",
        "#ovw-eu 2/0",
        "ovw-db-1",
        "ovw-web-1",
        "#ovw-web 2/1",
        "ovw-web-2",
        "ovw-web-1",
        "#untagged 2/1",
        "ovw-cache",
        "ovw-mail",
    ]
    expect(
        page.get_by_role("list", name="Servers by tag, most urgent first in each")
    ).to_be_visible()
    shows(page, '[role="list"][aria-label^="Servers by tag"]', sections)
    header = page.locator('[data-testid="section-header"][data-section="ovw-web"]')
    expect(header).to_contain_text("ovw-web")
    expect(header).to_contain_text("2 servers")
    expect(header).to_contain_text("1 in trouble")
    screenshot(page, "overview-grouped.png")

    # The table, grouped the same way.
    page.get_by_role("button", name="Table").click()
    expect(page.get_by_test_id("fleet-table").get_by_test_id("section-header")).to_have_count(4)
    shows(page, '[data-testid="fleet-table"]', sections)

    # Bookmarked with a tag: only that tag's servers, in the sections of their tags.
    page.goto(stack.url + "/?tag=ovw-eu&group=tag")
    wait_live(page)
    expect(page.get_by_test_id("section-header")).to_have_count(3)
    shows(
        page,
        '[data-testid="fleet-table"]',
        [
            "#ovw-db 1/0",
            "ovw-db-1",
            "#ovw-eu 2/0",
            "ovw-db-1",
            "ovw-web-1",
            "#ovw-web 1/0",
            "ovw-web-1",
        ],
    )
    # Ungrouped again, the tag kept.
    page.get_by_role("button", name="Group by tag").click()
    expect(page).to_have_url(stack.url + "/?tag=ovw-eu")
    expect(page.get_by_test_id("section-header")).to_have_count(0)


def test_the_table_sorts_by_load_per_core_and_the_fullest_filesystem(stack: Stack, page: Page):
    open_overview(page, stack)
    page.get_by_role("button", name="Table").click()
    table = page.get_by_test_id("fleet-table")
    expect(table.locator("a[data-row-server-id]")).to_have_count(len(HOSTS))

    def order() -> list[str]:
        return drawn(page, '[data-testid="fleet-table"]')

    table.get_by_role("button", name="Load/core").click()
    expect(table).to_have_attribute("data-sort", "load:desc")
    assert order() == ["ovw-web-2", "ovw-cache", "ovw-web-1", "ovw-db-1", "ovw-mail", "ovw-db-2"]
    table.get_by_role("button", name="Load/core").click()
    expect(table).to_have_attribute("data-sort", "load:asc")
    # No load: last either way.
    assert order() == ["ovw-mail", "ovw-db-1", "ovw-web-1", "ovw-cache", "ovw-web-2", "ovw-db-2"]
    table.get_by_role("button", name="Fullest FS").click()
    expect(table).to_have_attribute("data-sort", "fs:desc")
    assert order() == ["ovw-web-1", "ovw-db-1", "ovw-cache", "ovw-web-2", "ovw-mail", "ovw-db-2"]

    row = table.locator("tr", has=page.locator(f'a[data-row-server-id="{stack.ids["ovw-web-1"]}"]'))
    expect(row.locator('[data-metric="load"]')).to_have_text("0.42")
    expect(row.locator('[data-metric="fs"]')).to_contain_text("/var")
    expect(row.locator('[data-metric="fs"]')).to_contain_text("91%")
    none = table.locator("tr", has=page.locator(f'a[data-row-server-id="{stack.ids["ovw-db-2"]}"]'))
    expect(none.locator('[data-metric="load"]')).to_have_text("—")
    expect(none.locator('[data-metric="fs"]')).to_have_text("—")
    screenshot(page, "overview-table-load-fs.png")

    # Remembered in this browser, like the other columns.
    page.reload()
    wait_live(page)
    expect(page.get_by_test_id("fleet-table")).to_have_attribute("data-sort", "fs:desc")
