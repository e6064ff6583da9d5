from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import PASSWORD, user_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_chat_page_with_live_websocket(daphne_server: str, browser_page, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect

    user_create(username="demo-e2e")
    page = browser_page
    page.goto(f"{daphne_server}/chat/")
    expect(page).to_have_url(f"{daphne_server}/accounts/login/?next=/chat/")
    page.screenshot(path=str(artifacts_dir / "issue2-login.png"), full_page=True)
    page.fill("#id_username", "demo-e2e")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{daphne_server}/chat/")
    expect(page.locator("h1")).to_have_text("Ask your documents")
    # The page's websocket (htmx ws extension -> Channels consumer) connects for real.
    expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
    nav = page.locator("nav.nav")
    expect(nav.get_by_role("link", name="Chat")).to_be_visible()
    expect(nav.get_by_role("link", name="Documents")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "issue2-chat.png"), full_page=True)


def test_wrong_password_shows_an_error(daphne_server: str, browser_page) -> None:
    from playwright.sync_api import expect

    user_create(username="demo-e2e")
    page = browser_page
    page.goto(f"{daphne_server}/accounts/login/")
    page.fill("#id_username", "demo-e2e")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("didn't match")
