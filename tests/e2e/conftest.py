"""Playwright (Python) driving Debian's Chromium, headless, as the developers' guide requires.
The one-page fixture (``browser_page``) is in the suite's conftest: the CSP tests use it too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import CHROMIUM, CHROMIUM_ARGS, CSPViolations


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
