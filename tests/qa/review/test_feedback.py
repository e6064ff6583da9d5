"""Feedback: thumbs down with a reason goes to triage; a reviewer may withdraw a curated answer;
feedback is validated and only for one's own answers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.errors import ApplicationError
from qa.models import Feedback, ReusableAnswer, ReviewItem
from qa.review.feedback import feedback_submit
from qa.review.queue import review_approve
from tests.factories import user_create
from tests.helpers import ask

pytestmark = pytest.mark.django_db


def test_thumbs_down_with_a_reason_enters_triage_and_incorrect_purges_reuse(staff, client) -> None:
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    held = ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    review_approve(item_id=ReviewItem.objects.get(answer=held).pk, reviewer=reviewer)
    reused = ask(user, "What dose of ibuprofen should I take for back pain at work?")
    assert reused.reused_from_id is not None

    client.force_login(user)
    response = client.post(
        reverse("qa:feedback", args=[reused.pk]),
        {"helpful": "no", "reason": "incorrect", "comment": "The nurse left last year."},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and b"A reviewer will look at it" in response.content
    feedback = Feedback.objects.get(answer=reused)
    assert feedback.triage_state == "open" and feedback.reason == "incorrect"
    # One user's "incorrect" does not withdraw a reviewer's decision for everyone: it waits in triage.
    assert ReusableAnswer.objects.filter(active=True, origin="curated").exists()

    client.force_login(reviewer)
    page = client.get(reverse("qa:triage"))
    assert b"The nurse left last year." in page.content and b"Incorrect" in page.content
    client.post(
        reverse("qa:triage"),
        {"feedback_id": feedback.pk, "state": "resolved", "note": "updated the doc", "withdraw": "yes"},
    )
    feedback.refresh_from_db()
    assert feedback.triage_state == "resolved" and feedback.triaged_by == reviewer
    assert not ReusableAnswer.objects.filter(active=True).exists(), "withdrawn by the reviewer: never served again"


def test_feedback_rejects_unknown_reasons_and_other_users_answers(staff) -> None:
    user, _, _ = staff
    answer = ask(user, "What is the hotel limit in London?")
    with pytest.raises(ApplicationError, match="Unknown reason"):
        feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="because")
    stranger = user_create(username="stranger")
    with pytest.raises(ApplicationError, match="does not exist"):
        feedback_submit(user=stranger, answer_id=answer.pk, helpful=True)
    with pytest.raises(ApplicationError, match="longer than"):
        feedback_submit(user=user, answer_id=answer.pk, helpful=False, comment="x" * 2001)
