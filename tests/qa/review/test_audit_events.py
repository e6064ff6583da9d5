"""Review decisions and feedback triage in the audit trail: who decided, from where, the states
before and after; never the asking user's question or the answer's text."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditAction, AuditEvent
from core.services.audit import audit_verify
from qa.models import Feedback, ReviewItem
from qa.review.feedback import feedback_submit
from qa.review.queue import review_reject
from qa.services.conversations import conversation_delete
from tests.factories import PASSWORD, user_create
from tests.helpers import ask

pytestmark = pytest.mark.django_db

QUESTION = "What dose of ibuprofen should I take for my back pain at work?"


def _reviewer() -> tuple[Client, int]:
    user = user_create(username="rev", groups=("reviewers", "staff"))
    client = Client(REMOTE_ADDR="192.0.2.77")
    assert client.login(username="rev", password=PASSWORD)
    return client, user.pk


def test_an_edit_and_a_rejection_on_the_review_page_are_recorded(staff) -> None:
    user, _, _ = staff
    client, reviewer_id = _reviewer()
    edited = ReviewItem.objects.get(answer=ask(user, QUESTION))
    # Asked before the first is approved (after, the approved answer would be reused).
    rejected = ReviewItem.objects.get(answer=ask(user, QUESTION))
    client.post(reverse("qa:review-item", args=[edited.pk]),
                {"action": "edit", "text": "Ask the company nurse what dose to take [1].", "note": "safer"})  # fmt: skip
    [event] = AuditEvent.objects.filter(action=AuditAction.REVIEW_EDITED)
    assert (event.actor_id, event.ip, event.target_type, event.target_id) == (
        reviewer_id, "192.0.2.77", "review_item", str(edited.pk),
    )  # fmt: skip
    assert event.before == {"state": "pending"} and event.after == {"state": "edited", "note": "safer"}
    assert event.detail["edited"] is True and event.detail["answer_id"] == edited.answer_id

    client.post(reverse("qa:review-item", args=[rejected.pk]), {"action": "reject", "note": "Ask a pharmacist."})
    [event] = AuditEvent.objects.filter(action=AuditAction.REVIEW_REJECTED)
    assert event.target_id == str(rejected.pk) and event.after == {"state": "rejected", "note": "Ask a pharmacist."}
    stored = json.dumps([[e.before, e.after, e.detail] for e in AuditEvent.objects.all()])
    assert "ibuprofen" not in stored and "company nurse" not in stored


def test_triage_on_the_page_is_recorded_with_the_state_before_and_after(staff) -> None:
    user, _, _ = staff
    answer = ask(user, "How many days of annual leave do I get?")
    feedback = feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="incomplete", comment="?")
    client, reviewer_id = _reviewer()
    client.post(reverse("qa:triage"), {"feedback_id": feedback.pk, "state": "dismissed", "note": "it is complete"})
    feedback.refresh_from_db()
    assert feedback.triage_state == "dismissed"
    [event] = AuditEvent.objects.filter(action=AuditAction.FEEDBACK_TRIAGED)
    assert (event.actor_id, event.ip, event.target_id) == (reviewer_id, "192.0.2.77", str(feedback.pk))
    assert event.before == {"triage_state": "open"}
    assert event.after == {"triage_state": "dismissed", "note": "it is complete"}
    assert event.detail == {"answer_id": answer.pk, "reason": "incomplete", "withdrawn": 0}


def test_a_refused_triage_leaves_no_event(staff) -> None:
    client, _ = _reviewer()
    client.post(reverse("qa:triage"), {"feedback_id": 999_999, "state": "dismissed"})
    assert not Feedback.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.FEEDBACK_TRIAGED).exists()


def test_the_record_of_a_decision_outlives_the_conversation_it_concerns(staff) -> None:
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = ask(user, QUESTION)
    item = ReviewItem.objects.get(answer=answer)
    review_reject(item_id=item.pk, reviewer=reviewer, note="Ask a pharmacist.")
    conversation_delete(conversation=answer.conversation)
    item.refresh_from_db()  # the review record stays, with the texts it judged
    assert item.answer_id is None and item.answer_deleted_at is not None and item.question_text == QUESTION
    [event] = AuditEvent.objects.filter(action=AuditAction.REVIEW_REJECTED)
    assert (event.actor_id, event.target_id, event.detail["answer_id"]) == (reviewer.pk, str(item.pk), answer.pk)
    assert audit_verify().ok
