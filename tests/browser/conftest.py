"""Browser tests: Playwright's Python package driving Debian's Chromium (nothing downloads a browser).

Pages are served by pytest-django's live server; axe-core (from the frontend's npm packages) is
run on every page a test visits, and a Content-Security-Policy violation fails the test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module.

    Playwright's sync API keeps an event loop running in the test's thread while it is open, so it
    is closed at the end of each module: other modules' tests call asyncio.run(). Meanwhile the
    test's own ORM calls are allowed in that thread (DJANGO_ALLOW_ASYNC_UNSAFE, for this module
    only; it must never reach a subprocess or another test).
    """
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"No Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make assets` (it installs the frontend's npm packages)")
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


class Visitor:
    """A page of one browser context, with the checks every visited page gets."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.csp_violations: list[str] = []
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def check_accessibility(self) -> None:
        """axe-core on the page as it is now: no serious or critical violation."""
        # evaluate() runs outside the page's CSP, which (rightly) refuses injected scripts.
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        results = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, serious
        assert not self.csp_violations, self.csp_violations


@pytest.fixture
def visitor(browser: Browser, live_server: Any) -> Iterator[Visitor]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield Visitor(context.new_page(), live_server.url)
    context.close()


@pytest.fixture
def phone(browser: Browser, live_server: Any) -> Iterator[Visitor]:
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark", is_mobile=True)
    yield Visitor(context.new_page(), live_server.url)
    context.close()
