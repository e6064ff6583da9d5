"""Issue #14 in the browser: a question with personal data answered by an external tier (a
loopback OpenAI-compatible server, called by the real Celery worker): the page streams and shows
the originals, with the "personal data masked" badge; the endpoint saw placeholders only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from ingestion.services.documents import document_create_from_bytes
from ingestion.services.pipeline import document_process
from tests.factories import collection_create, user_create
from tests.helpers import database_url_for, routed_priced_tier, sign_in
from tests.qa.pipeline.test_privacy import CONTACTS, MODEL_ANSWER, ORIGINALS, QUESTION

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_reader_sees_the_originals_and_the_badge(
    daphne_server: str, celery_worker_for, browser_page, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    celery_worker_for(settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]))
    user_create(username="clerk", groups=("finance",))
    collection = collection_create(name="Finance", groups=("finance",))
    document = document_create_from_bytes(
        collection=collection, data=CONTACTS, source_name="cards.md", enqueue=False
    ).document
    document_process(document_id=document.pk)

    with routed_priced_tier(MODEL_ANSWER) as server:
        page = browser_page
        sign_in(page, daphne_server, "clerk", "/chat/")
        expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
        page.fill("#question", QUESTION)
        page.keyboard.press("Enter")
        final = page.locator(".bubble.answer.final")
        # The worker loads the PII analyzer on its first scrubbed call (seconds).
        expect(final).to_be_visible(timeout=90_000)
        expect(final).to_contain_text("Anna Berg handles lost expense cards")
        expect(final).to_contain_text("anna.berg@example.com")
        expect(final.locator(".badge.masked")).to_contain_text("Personal data masked")
        assert "<PERSON_1>" not in final.inner_text()
        page.screenshot(path=str(artifacts_dir / "issue14-masked-answer.png"), full_page=True)
        sent = json.dumps([r["body"] for r in server.requests])
    assert server.requests, "the external tier answered"
    assert not any(original in sent for original in ORIGINALS) and "<PERSON_1>" in sent
