"""Thumbs up or down on an answer. A thumbs down enters the reviewers' triage list; "incorrect"
also forgets any cached answer it came from or became, so it is never served again. A
reviewer-curated answer is a reviewer's decision: one user's "incorrect" leaves it in place and
waits in the triage list, where a reviewer can withdraw it (a reviewer's own "incorrect" does)."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.models import AuditAction
from core.selectors.roles import user_roles
from core.services.audit import AuditRequest, audit_record
from qa.models import Answer, Feedback, FeedbackReason, ReusableAnswer, ReuseOrigin, TriageState
from qa.selectors import answer_get, answer_list_reviewable

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
    previous = Feedback.objects.select_for_update().filter(answer=answer, user=user).first()
    if previous is not None and (previous.helpful, previous.reason) == (helpful, reason):
        # The same rating again (perhaps another comment): the reviewer's triage of it stands.
        Feedback.objects.filter(pk=previous.pk).update(comment=comment, updated_at=timezone.now())
        feedback = Feedback.objects.get(pk=previous.pk)
    else:
        # A new rating is a new complaint (or none): it opens afresh. The reviewer's triage of
        # the old one is not lost: each triage wrote a feedback.triaged audit event (state,
        # reviewer, note), which this reset does not touch.
        feedback, _ = Feedback.objects.update_or_create(
            answer=answer, user=user,
            defaults={"helpful": helpful, "reason": reason, "comment": comment,
                      "triage_state": "" if helpful else TriageState.OPEN, "triaged_by": None, "triage_note": ""},
        )  # fmt: skip
    if not helpful and reason == FeedbackReason.INCORRECT:
        _reusable_withdraw(answer=answer, by=user, curated_too=user_roles(user=user).is_reviewer)
    return feedback


def _reusable_withdraw(*, answer: Answer, by: User, curated_too: bool) -> int:
    """Stop serving the stored answers this answer came from or became. Curated ones only when
    ``curated_too`` (a reviewer decides): otherwise any user could withdraw a reviewer-approved
    answer for everyone with one click; their feedback waits in the triage list instead."""
    entries = ReusableAnswer.objects.filter(active=True, source_answer=answer)
    if answer.reused_from_id:
        entries = entries | ReusableAnswer.objects.filter(active=True, pk=answer.reused_from_id)
    if not curated_too:
        kept = entries.filter(origin=ReuseOrigin.CURATED).count()
        if kept:
            logger.info("feedback.curated_kept_for_triage answer=%s count=%s", answer.pk, kept)
        entries = entries.exclude(origin=ReuseOrigin.CURATED)
    purged = entries.update(active=False, invalidated_reason=f"marked incorrect by user {by.pk}")
    if purged:
        logger.info("feedback.purged_reusable answer=%s count=%s", answer.pk, purged)
    return purged


@transaction.atomic
def feedback_triage(
    *, feedback_id: int, reviewer: User, state: str, note: str = "", withdraw: bool = False,
    request: AuditRequest | None = None,
) -> Feedback:  # fmt: skip
    """Close a thumbs-down on an answer the reviewer may see. ``withdraw`` (with "resolved"): the
    reviewer agrees the answer is wrong, and the stored answers it came from or became, curated
    ones included, are no longer served. Audited."""
    if state not in (TriageState.RESOLVED, TriageState.DISMISSED):
        raise ApplicationError("Triage state must be resolved or dismissed.")
    feedback = (
        Feedback.objects.filter(pk=feedback_id, helpful=False, answer__in=answer_list_reviewable(user=reviewer))
        .select_related("answer")
        .first()
    )
    if feedback is None:
        raise ApplicationError("That feedback does not exist.")
    Feedback.objects.filter(pk=feedback.pk).update(
        triage_state=state, triaged_by=reviewer, triage_note=note.strip()[:2000], updated_at=timezone.now()
    )
    withdrawn = 0
    if withdraw and state == TriageState.RESOLVED:
        withdrawn = _reusable_withdraw(answer=feedback.answer, by=reviewer, curated_too=True)
    audit_record(
        action=AuditAction.FEEDBACK_TRIAGED, actor=reviewer, target_type="feedback", target_id=feedback.pk,
        before={"triage_state": feedback.triage_state}, after={"triage_state": state, "note": note.strip()[:2000]},
        detail={"answer_id": feedback.answer_id, "reason": feedback.reason, "withdrawn": withdrawn}, request=request,
    )  # fmt: skip
    return Feedback.objects.get(pk=feedback_id)
