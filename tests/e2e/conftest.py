"""Playwright (Python) driving Debian's Chromium, headless, as the developers' guide requires."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("VERITY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


class CSPViolations:
    """Collects the browser's console reports of content-security policy violations on a page;
    the fixtures fail the test if any were seen (a blocked script or style is a broken page
    under the policy, even when the test's own assertions happened to pass)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page) -> None:  # noqa: ANN001
        page.on("console", self._console)

    def _console(self, message) -> None:  # noqa: ANN001
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.messages.append(f"{message.type}: {message.text} ({message.location.get('url', '')})")

    def check(self) -> None:
        if self.messages:
            pytest.fail("Content-Security-Policy violations in the browser console:\n" + "\n".join(self.messages))


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # Playwright's sync API runs an event loop; the test's own ORM calls are in plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        violations = CSPViolations()
        violations.watch(page)
        try:
            yield page
        finally:
            context.close()
            browser.close()
        violations.check()


@pytest.fixture
def two_browser_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, object]]:
    """Two separate sessions (for example a user and a reviewer) in one Chromium."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
        pages = (contexts[0].new_page(), contexts[1].new_page())
        violations = CSPViolations()
        for page in pages:
            violations.watch(page)
        try:
            yield pages
        finally:
            for context in contexts:
                context.close()
            browser.close()
        violations.check()


def sign_in(page, base: str, username: str, next_url: str) -> None:  # noqa: ANN001
    """Sign in through the login form (the factories' password), then go to ``next_url``."""
    from tests.factories import PASSWORD

    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
