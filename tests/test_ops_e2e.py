"""Operating Vigie from the dashboard, in a real headless Chromium (Debian's,
driven by Playwright) against the real stack: PostgreSQL, the API under gunicorn,
and the relay serving the built dashboard, /api and /socket.io on one port, as
`vigie run` does. The stack requires a dashboard token, so a share link that
works in a fresh browser works with its own token only.

An admin signs in, renames a server, tags it, edits a rule, silences it, shares
it and removes it; a share link opened in a fresh browser context shows that
server live and nothing else, and stops working when revoked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from .browser import DIST, WAIT_MS, browser_tests
from .conftest import ADMIN, ENROLL, bearer
from .helpers import free_port, gunicorn_api, gunicorn_relay, sample

pytestmark = browser_tests("ops-e2e")

DASHBOARD = "ops-e2e-dashboard-token"


class Stack:
    def __init__(self, url: str, api: str) -> None:
        self.url = url  # what the browser opens
        self.api = api  # where the test writes, like a collector

    def register(self, hostname: str) -> tuple[int, str]:
        response = requests.post(
            f"{self.api}/api/servers/register",
            json={"hostname": hostname, "interval_seconds": 5},
            headers=bearer(ENROLL),
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return body["id"], body["ingest_token"]

    def post(self, server_id: int, token: str, **values) -> requests.Response:
        return requests.post(
            f"{self.api}/api/metrics",
            json={"server_id": server_id, **sample(**values)},
            headers=bearer(token),
            timeout=10,
        )

    def get(self, path: str, token: str = DASHBOARD) -> requests.Response:
        return requests.get(f"{self.api}{path}", headers=bearer(token), timeout=10)


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    logs = tmp_path_factory.mktemp("ops-e2e-logs")
    env = {
        "VIGIE_ENROLL_TOKEN": ENROLL,
        "VIGIE_ADMIN_TOKEN": ADMIN,
        "VIGIE_DASHBOARD_TOKEN": DASHBOARD,
        "VIGIE_DASHBOARD_DIR": str(DIST),
    }
    api_port, port = free_port(), free_port()
    with (
        gunicorn_api(database_url, api_port, env, log=logs / "api.log"),
        gunicorn_relay(database_url, port, env, log=logs / "relay.log", entry="vigie.local:app"),
    ):
        yield Stack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}")


def new_page(context: BrowserContext, errors: list[str]) -> Page:
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda error: errors.append(error.stack or str(error)))
    return page


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list]:
    """Fresh browser contexts (each its own storage, as another browser), closed
    after the test; a page error in any of them fails it."""
    opened: list[BrowserContext] = []
    errors: list[str] = []

    def open_context(dashboard_token: bool = True) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        if dashboard_token:
            # The dashboard token this browser was given before (the prompt is
            # tested elsewhere).
            context.add_init_script(f"localStorage.setItem('vigie.dashboardToken', {DASHBOARD!r})")
        opened.append(context)
        return new_page(context, errors)

    yield open_context
    for context in opened:
        context.close()
    assert not errors, f"a page raised: {errors}"


def wait_live(page: Page) -> None:
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "live")


def sign_in(page: Page) -> None:
    expect(page.get_by_test_id("admin-panel")).to_have_count(0)
    page.get_by_role("button", name="Sign in as admin").click()
    dialog = page.get_by_role("dialog", name="Sign in as admin")
    dialog.get_by_label("Admin token").fill("not-the-admin-token")
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.get_by_role("alert")).to_contain_text("not the admin token")
    dialog.get_by_label("Admin token").fill(ADMIN)
    dialog.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def manage(page: Page) -> None:
    page.locator("summary", has_text="Manage").click()


def test_an_admin_renames_tags_edits_a_rule_and_silences_a_server(stack: Stack, contexts) -> None:
    server, token = stack.register("ops-e2e-web-01")
    assert stack.post(server, token, cpu_percent=20.0).status_code == 201
    page = contexts()
    page.goto(f"{stack.url}/servers/{server}")
    wait_live(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("ops-e2e-web-01")
    sign_in(page)
    # Signed in for this browser session: a reload keeps it.
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    manage(page)

    rename = page.get_by_role("form", name="Rename")
    rename.get_by_label("Name").fill("ops-e2e-frontend")
    rename.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ops-e2e-frontend")
    assert stack.get(f"/api/servers/{server}").json()["name"] == "ops-e2e-frontend"

    tags = page.get_by_role("form", name="Add a tag")
    tags.get_by_label("New tag").fill("Web")
    tags.get_by_role("button", name="Add tag").click()
    expect(tags.get_by_role("alert")).to_contain_text("lower case")
    tags.get_by_label("New tag").fill("ops-web")
    tags.get_by_role("button", name="Add tag").click()
    expect(page.get_by_role("list", name="Tags")).to_contain_text("ops-web")
    assert stack.get(f"/api/servers/{server}").json()["tags"] == ["ops-web"]

    page.get_by_role("button", name="Edit the CPU rule").click()
    rule = page.get_by_role("form", name="CPU rule")
    rule.get_by_label("Threshold (%)").fill("70")
    rule.get_by_role("button", name="Save CPU rule").click()
    cpu = page.locator('[data-rule="cpu"] [data-field="threshold"]')
    expect(cpu).to_contain_text("70")
    expect(cpu).to_contain_text("this server")
    rules = stack.get(f"/api/servers/{server}/alert-rules").json()
    assert rules["cpu"]["threshold"] == 70
    assert rules["overrides"]["cpu"]["threshold"] == 70
    expect(page.locator('[data-rule="ram"] [data-field="threshold"]')).to_contain_text("default")

    silence = page.get_by_role("form", name="Silence notifications")
    silence.get_by_label("Period", exact=True).fill("2h")
    silence.get_by_label("Reason").fill("kernel upgrade")
    silence.get_by_role("button", name="Silence").click()
    expect(page.get_by_test_id("silence-note")).to_contain_text("kernel upgrade")
    body = stack.get(f"/api/servers/{server}").json()
    assert body["silence"]["reason"] == "kernel upgrade"

    # The overview's card says it too, and the tag filter is in the address.
    page.goto(f"{stack.url}/?tag=ops-web")
    # Server cards (the alert banner links to servers too, with alerts of other tests).
    card = page.locator(f'a[data-card-index][data-server-id="{server}"]')
    expect(card).to_contain_text("ops-e2e-frontend")
    expect(card.get_by_test_id("silence-note")).to_contain_text("kernel upgrade")
    expect(page.locator("a[data-card-index]")).to_have_count(1)


def test_a_share_link_shows_its_server_live_and_nothing_else(stack: Stack, contexts) -> None:
    shared, token = stack.register("ops-e2e-shared")
    assert stack.post(shared, token, cpu_percent=31.0).status_code == 201
    other, other_token = stack.register("ops-e2e-private")
    assert stack.post(other, other_token, cpu_percent=44.0).status_code == 201

    admin = contexts()
    admin.goto(f"{stack.url}/servers/{shared}")
    sign_in(admin)
    manage(admin)
    share = admin.get_by_role("form", name="Share ops-e2e-shared")
    share.get_by_label("Expires in").fill("1d")
    share.get_by_role("button", name="Create a share link").click()
    url = admin.get_by_label("Share link").input_value()
    assert "/share/vgs_" in url, url

    # A fresh browser: no dashboard token, no admin token, only the link.
    viewer = contexts(dashboard_token=False)
    viewer.goto(url.replace(url.split("/share/")[0], stack.url))
    wait_live(viewer)
    expect(viewer.get_by_role("heading", level=1)).to_have_text("ops-e2e-shared")
    expect(viewer.get_by_role("button", name="Sign in as admin")).to_have_count(0)
    expect(viewer.get_by_role("link", name="All servers")).to_have_count(0)
    expect(viewer.get_by_role("dialog")).to_have_count(0)
    expect(viewer.get_by_text("ops-e2e-private")).to_have_count(0)
    # Live: a new sample shows without a reload.
    assert stack.post(shared, token, cpu_percent=87.5).status_code == 201
    expect(viewer.get_by_test_id("metrics-cards")).to_contain_text("87.5%")
    # What the page itself may read: its server only.
    listed = viewer.evaluate(
        """async (token) => (await (await fetch('/api/servers',
             { headers: { Authorization: `Bearer ${token}` } })).json()).map((s) => s.id)""",
        url.split("/share/")[1],
    )
    assert listed == [shared]
    assert stack.get(f"/api/servers/{other}", url.split("/share/")[1]).status_code == 403

    # Revoked from the share links page: the open view says so at once.
    admin.goto(f"{stack.url}/shares")
    admin.get_by_role("button", name="Revoke the link to ops-e2e-shared").click()
    expect(admin.get_by_role("button", name="Revoke the link to ops-e2e-shared")).to_have_count(0)
    expect(viewer.get_by_test_id("share-ended")).to_be_visible()


def test_a_removed_server_leaves_every_open_dashboard(stack: Stack, contexts) -> None:
    server, token = stack.register("ops-e2e-retired")
    assert stack.post(server, token, cpu_percent=12.0).status_code == 201
    watcher = contexts()
    watcher.goto(f"{stack.url}/")
    expect(watcher.locator(f'a[data-server-id="{server}"]')).to_contain_text("ops-e2e-retired")

    admin = contexts()
    admin.goto(f"{stack.url}/servers/{server}")
    wait_live(admin)
    sign_in(admin)
    manage(admin)
    admin.get_by_role("button", name="Remove this server…").click()
    dialog = admin.get_by_role("dialog", name="Remove ops-e2e-retired?")
    expect(dialog).to_contain_text("samples and its history")
    dialog.get_by_role("button", name="Remove ops-e2e-retired").click()

    expect(admin.get_by_test_id("removed-notice")).to_contain_text("ops-e2e-retired was removed")
    assert admin.evaluate("location.pathname") == "/"
    expect(watcher.locator(f'a[data-server-id="{server}"]')).to_have_count(0)
    assert stack.get(f"/api/servers/{server}").status_code == 404
    # Its collector is refused from then on.
    assert stack.post(server, token, cpu_percent=13.0).status_code == 403
