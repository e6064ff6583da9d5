"""Every review read (queue, item page, triage, curated export) and every review decision is
scoped by the reviewer's collection access: an answer drawn from several collections is shown
only to reviewers who may read all of them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.errors import ApplicationError
from ingestion.models import Document, DocumentStatus
from qa.models import Answer, Citation, Conversation, Feedback, ReviewItem, ReviewReason
from qa.reuse.curated import curated_create_from
from qa.review.feedback import feedback_triage
from qa.review.queue import review_approve, review_reject
from tests.factories import collection_create, user_create

pytestmark = pytest.mark.django_db


def _document(collection, name: str) -> Document:
    return Document.objects.create(
        collection=collection, title=f"{name} title", source_name=f"{name}.md", content_hash=name.ljust(64, "0"),
        status=DocumentStatus.READY, is_current=True,
    )  # fmt: skip


def _answer(user, marker: str, documents: list[Document], *, searched: dict | None = None) -> Answer:
    """An answer to a question naming ``marker``, citing ``documents``, in review and in triage."""
    conversation = Conversation.objects.create(user=user, title="q")
    answer = Answer.objects.create(
        conversation=conversation, question=f"question about {marker}", status="answered",
        text=f"answer about {marker} [1]" if documents else "", searched=searched or {},
        verification={"sentences": [{"text": f"{marker} sentence", "action": "kept", "citations": [1],
                                     "original_citations": [1], "claim": True, "support": 0.9, "issues": []}]},
    )  # fmt: skip
    for n, document in enumerate(documents, start=1):
        Citation.objects.create(answer=answer, n=n, chunk_id=0, document_id=document.pk, title=document.title,
                                source_name=document.source_name, quote=f"{marker} passage")  # fmt: skip
    ReviewItem.objects.create(answer=answer, reason=ReviewReason.HIGH_STAKES, topics=["legal"], detail="d")
    Feedback.objects.create(answer=answer, user=user, helpful=False, reason="incorrect", triage_state="open",
                            comment=f"{marker} comment")  # fmt: skip
    return answer


@pytest.fixture
def world(db):
    company = collection_create(name="Company", groups=("everyone",))
    hr = collection_create(name="HR", groups=("hr",))
    asker = user_create(username="asker", groups=("everyone", "hr"))
    public_doc, hr_doc = _document(company, "companydoc"), _document(hr, "hrdoc")
    answers = {
        "publicmark": _answer(asker, "publicmark", [public_doc]),
        "hrmark": _answer(asker, "hrmark", [hr_doc]),
        "bothmark": _answer(asker, "bothmark", [public_doc, hr_doc]),
        # Declined: no citation, but retrieval drew HR passages (the draft was written from them).
        "declinedmark": _answer(asker, "declinedmark", [], searched={"collection_ids": [hr.pk]}),
    }
    for answer in answers.values():
        if answer.citations.exists():
            curated_create_from(answer=answer, reviewer=None)
    general = user_create(username="general-reviewer", groups=("reviewers", "everyone"))
    hr_reviewer = user_create(username="hr-reviewer", groups=("reviewers", "everyone", "hr"))
    return answers, general, hr_reviewer


def _pages(client, user, answers: dict[str, Answer]) -> str:
    client.force_login(user)
    text = ""
    for url in (reverse("qa:review") + "?state=", reverse("qa:triage") + "?state=", reverse("qa:curated-export")):
        response = client.get(url)
        assert response.status_code == 200
        text += response.content.decode()
    for answer in answers.values():
        response = client.get(reverse("qa:review-item", args=[answer.review.pk]))
        assert response.status_code in (200, 404)
        if response.status_code == 200:
            text += response.content.decode()
    return text


def test_a_reviewer_sees_only_answers_from_collections_they_read(world, client) -> None:
    answers, general, hr_reviewer = world
    seen = _pages(client, general, answers)
    assert "publicmark" in seen
    for marker in ("hrmark", "bothmark", "declinedmark", "hrdoc"):
        assert marker not in seen, marker
    seen = _pages(client, hr_reviewer, answers)
    for marker in ("publicmark", "hrmark", "bothmark", "declinedmark"):
        assert marker in seen, marker


def test_an_item_page_outside_the_reviewers_collections_is_not_found(world, client) -> None:
    answers, general, _ = world
    client.force_login(general)
    assert client.get(reverse("qa:review-item", args=[answers["hrmark"].review.pk])).status_code == 404
    assert client.get(reverse("qa:review-item", args=[answers["publicmark"].review.pk])).status_code == 200


def test_a_reviewer_cannot_decide_on_an_answer_they_may_not_read(world) -> None:
    answers, general, hr_reviewer = world
    item = answers["bothmark"].review
    with pytest.raises(ApplicationError, match="does not exist"):
        review_approve(item_id=item.pk, reviewer=general)
    with pytest.raises(ApplicationError, match="does not exist"):
        review_reject(item_id=item.pk, reviewer=general, note="no")
    with pytest.raises(ApplicationError, match="does not exist"):
        feedback_triage(feedback_id=answers["hrmark"].feedback.get().pk, reviewer=general, state="dismissed")
    review_reject(item_id=item.pk, reviewer=hr_reviewer, note="checked")
    item.refresh_from_db()
    assert item.state == "rejected"


def test_a_superuser_reviews_everything(world, client) -> None:
    answers, _, _ = world
    admin = user_create(username="root", superuser=True)
    seen = _pages(client, admin, answers)
    for marker in ("publicmark", "hrmark", "bothmark", "declinedmark"):
        assert marker in seen, marker
