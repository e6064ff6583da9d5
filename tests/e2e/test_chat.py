from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from ingestion.services.documents import document_create_from_bytes
from ingestion.services.pipeline import document_process
from tests.factories import collection_create, user_create
from tests.helpers import HANDBOOK, database_url_for, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECORD_STREAM = """
window.__streamLengths = [];
new MutationObserver(() => {
  const el = document.querySelector('.answer-text.streaming');
  if (el) window.__streamLengths.push(el.textContent.length);
}).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});
"""


def test_ask_stream_cite_and_open_the_source(
    daphne_server: str, celery_worker_for, browser_page, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    celery_worker_for(settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]))
    user_create(username="asker", groups=("readers",))
    collection = collection_create(name="Handbook", groups=("readers",))
    document = document_create_from_bytes(
        collection=collection, data=HANDBOOK, source_name="travel.md", enqueue=False
    ).document
    document_process(document_id=document.pk)

    page = browser_page
    sign_in(page, daphne_server, "asker", "/chat/")
    expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
    page.evaluate(RECORD_STREAM)
    page.fill("#question", "What is the hotel limit in London?")
    page.keyboard.press("Enter")
    expect(page.locator(".bubble.question")).to_have_text("What is the hotel limit in London?")
    final = page.locator(".bubble.answer.final")
    expect(final).to_be_visible(timeout=60_000)
    lengths = [n for n in page.evaluate("window.__streamLengths") if n > 0]
    assert len(set(lengths)) >= 2, f"the answer should grow in steps before it is final, saw {lengths}"
    expect(final).to_contain_text("260 euros")
    expect(final.locator("a.cite")).to_have_text("[1]")
    expect(final.locator("ol.sources li")).to_contain_text("Travel Policy")
    page.screenshot(path=str(artifacts_dir / "issue4-chat-answer.png"), full_page=True)

    final.locator("a.cite").first.click()
    expect(page.locator("mark#cited")).to_contain_text("260 euros")
    expect(page.locator("#original-file")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "issue4-source-viewer.png"), full_page=True)

    # Asked again in other words: answered from the semantic cache, and the page says so.
    page.go_back()
    expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
    page.fill("#question", "what's the hotel limit in London")
    page.keyboard.press("Enter")
    second = page.locator(".bubble.answer.final", has=page.locator(".badge.reused"))
    expect(second).to_be_visible(timeout=60_000)
    expect(second.locator(".badge.reused")).to_contain_text("Cached answer")
    expect(second).to_contain_text("260 euros")
    expect(second.locator("a.cite")).to_have_text("[1]")
    page.screenshot(path=str(artifacts_dir / "issue6-cached-answer.png"), full_page=True)
