"""Review: high-stakes answers held for a reviewer, approval told to the user live, rejection
with a reason, edits that keep real citations, curated reuse only by readers, the review pages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.errors import ApplicationError
from ingestion.services.documents import document_delete
from qa.models import AnswerStatus, ReusableAnswer, ReviewAction, ReviewItem, ReviewState
from qa.presenters import answer_payload
from qa.realtime import user_group
from qa.review.queue import review_approve, review_reject
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import WELLNESS, Recorder, ask, channel_listen, channel_receive
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db


def test_a_medical_question_is_held_then_approved_and_the_user_is_told_live(
    staff, django_capture_on_commit_callbacks
) -> None:
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    recorder = Recorder()
    answer = ask(user, "What dose of ibuprofen should I take for my back pain at work?", recorder=recorder)
    assert answer.status == AnswerStatus.HELD and answer.high_stakes == ["medical"]
    assert recorder.tokens() == "", "nobody sees a held answer's words before a reviewer"
    payload = answer_payload(answer)
    assert payload["answer"] == "" and payload["citations"] == [] and "reviewer" in payload["notice"]
    item = ReviewItem.objects.get(answer=answer)
    assert item.held and item.state == ReviewState.PENDING and item.topics == ["medical"]

    layer, channel = channel_listen(user_group(user.pk))
    with django_capture_on_commit_callbacks(execute=True):
        review_approve(item_id=item.pk, reviewer=reviewer, note="fine: it points to the nurse")
    message = channel_receive(layer, channel)
    assert message["type"] == "qa.final" and message["answer_id"] == answer.pk
    assert message["status"] == "answered" and "nurse" in message["answer"]
    assert message["review_state"] == "approved"
    action = ReviewAction.objects.get(item=item)
    assert action.reviewer == reviewer and action.action == "approved" and action.note.startswith("fine")
    with pytest.raises(ApplicationError, match="already"):
        review_reject(item_id=item.pk, reviewer=reviewer, note="too late")


def test_rejecting_tells_the_user_why(staff) -> None:
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    item = ReviewItem.objects.get(answer=answer)
    with pytest.raises(ApplicationError, match="Say why"):
        review_reject(item_id=item.pk, reviewer=reviewer, note=" ")
    review_reject(item_id=item.pk, reviewer=reviewer, note="Ask a doctor or pharmacist, not the handbook.")
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.DECLINED and "pharmacist" in answer.decline_reason
    assert ReviewAction.objects.filter(item=item, action="rejected").count() == 1
    assert not ReusableAnswer.objects.exists()


def test_an_edit_must_keep_citations_to_real_sources(staff) -> None:
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    item = ReviewItem.objects.get(answer=answer)
    with pytest.raises(ApplicationError, match=r"\[9\]"):
        review_approve(item_id=item.pk, reviewer=reviewer, text="Ask the nurse [9].")
    review_approve(item_id=item.pk, reviewer=reviewer, text="Ask the company nurse what dose to take [1].")
    answer.refresh_from_db()
    assert answer.review_state == ReviewState.EDITED and answer.text.startswith("Ask the company nurse")
    action = ReviewAction.objects.get(item=item)
    assert action.text_before != action.text_after


def test_an_approved_answer_is_reused_for_a_similar_question_only_by_readers(
    staff, django_capture_on_commit_callbacks
) -> None:
    user, collection, docs = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    review_approve(item_id=ReviewItem.objects.get(answer=answer).pk, reviewer=reviewer)
    curated = ReusableAnswer.objects.get(origin="curated")
    assert curated.document_ids == [docs["wellness"].pk]

    colleague = user_create(username="colleague", groups=("staff",))
    model = ScriptedProvider("should not be called")
    reused = ask(colleague, "What dose of ibuprofen should I take for back pain at work?", providers=[model])
    assert reused.status == AnswerStatus.ANSWERED and reused.reused_from_id == curated.pk
    assert not model.requests and reused.text == answer.text
    assert answer_payload(reused)["reused"]["origin"] == "curated"

    outsider = user_create(username="outsider", groups=("elsewhere",))
    other = collection_create(name="Elsewhere", groups=("elsewhere",))
    document_ingest(other, WELLNESS.replace(b"company nurse", b"site doctor"), "wellness-copy.md")
    theirs = ask(outsider, "What dose of ibuprofen should I take for my back pain at work?")
    assert theirs.reused_from_id is None, "a user who cannot read the cited document never gets the curated answer"

    # A near miss (another number) is not reused either.
    near = ask(colleague, "What dose of ibuprofen should I take for my back pain after 3 days at work?")
    assert near.reused_from_id is None

    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document=docs["wellness"])  # document_changed fires after commit
    curated.refresh_from_db()
    assert curated.active is False and "deleted" in curated.invalidated_reason


def test_review_pages_are_for_reviewers_and_filter_the_queue(staff, client) -> None:
    user, _, _ = staff
    ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    client.force_login(user)
    assert client.get(reverse("qa:review")).status_code == 403
    assert client.get(reverse("qa:triage")).status_code == 403
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    client.force_login(reviewer)
    page = client.get(reverse("qa:review"))
    assert b"ibuprofen" in page.content
    assert b"ibuprofen" not in client.get(reverse("qa:review") + "?topic=legal").content
    item = ReviewItem.objects.get()
    detail = client.get(reverse("qa:review-item", args=[item.pk]))
    assert b"Verification, sentence by sentence" in detail.content and b"company nurse" in detail.content
    client.post(reverse("qa:review-item", args=[item.pk]), {"action": "approve"})
    export = client.get(reverse("qa:curated-export"))
    case = json.loads(export.content.decode().splitlines()[0])
    assert case["type"] == "curated" and "ibuprofen" in case["question"] and case["sources"] == ["wellness.md"]
