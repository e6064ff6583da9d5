"""Thumbs up or down on an answer. A thumbs down enters the reviewers' triage list; "incorrect"
also forgets any stored answer it came from or became, so it is never served again."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from qa.models import Feedback, FeedbackReason, ReusableAnswer, TriageState
from qa.selectors import answer_get

logger = logging.getLogger(__name__)
MAX_COMMENT_CHARS = 2000


@transaction.atomic
def feedback_submit(*, user: User, answer_id: int, helpful: bool, reason: str = "", comment: str = "") -> Feedback:
    answer = answer_get(user=user, answer_id=answer_id)
    if answer is None:
        raise ApplicationError("That answer does not exist.")
    reason = reason.strip()
    if reason and reason not in FeedbackReason.values:
        raise ApplicationError(f"Unknown reason {reason!r}; choose one of: {', '.join(FeedbackReason.values)}.")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ApplicationError(f"The comment is longer than {MAX_COMMENT_CHARS:,} characters.")
    if helpful:
        reason = ""
    feedback, _ = Feedback.objects.update_or_create(
        answer=answer, user=user,
        defaults={"helpful": helpful, "reason": reason, "comment": comment,
                  "triage_state": "" if helpful else TriageState.OPEN, "triaged_by": None, "triage_note": ""},
    )  # fmt: skip
    if not helpful and reason == FeedbackReason.INCORRECT:
        purged = ReusableAnswer.objects.filter(active=True, source_answer=answer).update(
            active=False, invalidated_reason=f"marked incorrect by user {user.pk}"
        )
        if answer.reused_from_id:
            purged += ReusableAnswer.objects.filter(pk=answer.reused_from_id, active=True).update(
                active=False, invalidated_reason=f"marked incorrect by user {user.pk}"
            )
        if purged:
            logger.info("feedback.purged_reusable answer=%s count=%s", answer.pk, purged)
    return feedback


def feedback_triage(*, feedback_id: int, reviewer: User, state: str, note: str = "") -> Feedback:
    if state not in (TriageState.RESOLVED, TriageState.DISMISSED):
        raise ApplicationError("Triage state must be resolved or dismissed.")
    updated = Feedback.objects.filter(pk=feedback_id, helpful=False).update(
        triage_state=state, triaged_by=reviewer, triage_note=note.strip()[:2000], updated_at=timezone.now()
    )
    if not updated:
        raise ApplicationError("That feedback does not exist.")
    return Feedback.objects.get(pk=feedback_id)
