"""The review flow in a real browser: a medical question is held; a reviewer approves it on the
review page; the asking user's page shows the answer live; the user reports it with a thumbs
down and the reviewer finds it in triage."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from ingestion.services.documents import document_create_from_bytes
from ingestion.services.pipeline import document_process
from qa.models import ReviewAction, ReviewItem
from tests.factories import collection_create, user_create
from tests.helpers import WELLNESS, database_url_for, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
QUESTION = "What dose of ibuprofen should I take for my back pain at work?"


def test_held_answer_is_approved_by_a_reviewer_and_appears_live(
    daphne_server: str, celery_worker_for, two_browser_pages, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    celery_worker_for(settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]))
    user_create(username="asker", groups=("staff",))
    user_create(username="checker", groups=("reviewers", "staff"))  # reviewers see what they may read
    collection = collection_create(name="Staff handbook", groups=("staff",))
    document = document_create_from_bytes(
        collection=collection, data=WELLNESS, source_name="wellness.md", enqueue=False
    ).document
    document_process(document_id=document.pk)
    asker, checker = two_browser_pages

    sign_in(asker, daphne_server, "asker", "/chat/")
    expect(asker.locator("#connection")).to_have_text("live", timeout=10_000)
    asker.fill("#question", QUESTION)
    asker.keyboard.press("Enter")
    held = asker.locator(".bubble.answer.final[data-status=pending_review]")
    expect(held).to_be_visible(timeout=60_000)
    expect(held).to_contain_text("Waiting for a reviewer")
    expect(held).not_to_contain_text("company nurse")  # the answer itself is not shown yet
    asker.screenshot(path=str(artifacts_dir / "issue5-held.png"), full_page=True)

    sign_in(checker, daphne_server, "checker", "/review/")
    row = checker.locator("tr.review-row", has_text="ibuprofen")
    expect(row).to_contain_text("medical")
    expect(row).to_contain_text("held")
    row.locator("a").click()
    expect(checker.locator("table.verification")).to_contain_text("kept")
    expect(checker.locator("#review-answer-text")).to_contain_text("company nurse")
    checker.screenshot(path=str(artifacts_dir / "issue5-review-item.png"), full_page=True)
    checker.fill("form.inline input[name=note]", "Points to the nurse; no dose given.")
    checker.click("#approve")
    expect(checker.locator(".notice")).to_contain_text("Decision recorded")

    # The asker's page updates without a reload.
    answered = asker.locator(".bubble.answer.final[data-status=answered]")
    expect(answered).to_be_visible(timeout=15_000)
    expect(answered).to_contain_text("company nurse")
    expect(answered.locator(".badge.reviewed")).to_have_text("Checked by a reviewer")
    expect(answered.locator("a.cite").first).to_have_text("[1]")
    asker.screenshot(path=str(artifacts_dir / "issue5-approved-live.png"), full_page=True)
    item = ReviewItem.objects.get()
    assert item.state == "approved" and ReviewAction.objects.get(item=item).reviewer.username == "checker"

    # Thumbs down with a reason lands in the reviewers' triage list.
    answered.locator("summary.thumb").click()
    answered.locator("select[name=reason]").select_option("wrong_citation")
    answered.locator("textarea[name=comment]").fill("The citation should point at the nurse's extension.")
    answered.locator(".feedback-down button[type=submit]").click()
    expect(asker.locator(".feedback-thanks")).to_contain_text("wrong citation")
    checker.goto(f"{daphne_server}/review/triage/")
    triage = checker.locator("tr.triage-row")
    expect(triage).to_contain_text("nurse's extension")
    expect(triage.locator(".reason")).to_have_text("Wrong citation")
    checker.screenshot(path=str(artifacts_dir / "issue5-triage.png"), full_page=True)
