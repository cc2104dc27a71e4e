"""What the browser tests share: Debian's chromium (Playwright's own browser is never
downloaded: make test installs the package where it can, else says so and these
tests are skipped), how it is launched, and a page that fails its test if it raises.

A module's tests run in one xdist worker (``browser_tests(group)``): they share one
stack and one browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .helpers import ROOT

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DIST = ROOT / "frontend" / "dist"
ARTIFACTS = ROOT / "test-artifacts"
# Generous: the machine is shared, and a wait ends as soon as its condition holds.
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)


def browser_tests(group: str) -> list:
    """A browser module's marks: slow, one worker for the module, skipped without chromium."""
    return [
        pytest.mark.slow,
        pytest.mark.xdist_group(group),
        pytest.mark.skipif(
            CHROMIUM is None,
            reason="skipping the browser tests: install Debian's chromium"
            " (apt-get install -y chromium)",
        ),
    ]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
