"""Human review: held and flagged answers wait for a reviewer, who approves, edits and
approves, or rejects them. Every action is recorded; an approved answer becomes a curated
answer Verity reuses; the asking user's open pages are told at once."""

from __future__ import annotations

import logging
import re

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.models import AuditAction
from core.realtime import group_send_now
from core.services.audit import AuditRequest, audit_record
from core.text import CITATION
from qa.models import (
    Answer,
    AnswerStatus,
    ReusableAnswer,
    ReviewAction,
    ReviewItem,
    ReviewState,
)
from qa.presenters import answer_payload
from qa.realtime import Event, user_group
from qa.reuse.curated import curated_create_from
from qa.selectors import answer_list_reviewable

logger = logging.getLogger(__name__)
MAX_EDIT_CHARS = 20_000


def review_item_open(*, answer_id: int, reason: str, topics: list[str], detail: str, held: bool) -> ReviewItem:
    # The record keeps the texts it judges: it outlives the conversation (the asker may delete it).
    question, text, asker = (
        Answer.objects.filter(pk=answer_id).values_list("question", "text", "conversation__user_id").get()
    )
    item, _ = ReviewItem.objects.update_or_create(
        answer_id=answer_id,
        defaults={"reason": reason, "topics": topics, "detail": detail[:2000], "held": held,
                  "state": ReviewState.PENDING, "question_text": question, "answer_text": text, "asked_by_id": asker},
    )  # fmt: skip
    return item


def _locked_pending(item_id: int, reviewer: User) -> tuple[ReviewItem, Answer]:
    """The pending item and its answer, locked. A reviewer decides only on answers they may see
    (the queue's own access rule), so never on one whose conversation was deleted (the filter
    needs the answer: the item's answer is then null and nothing is left to decide)."""
    item = (
        ReviewItem.objects.select_for_update()
        .select_related("answer__conversation")
        .filter(pk=item_id, answer__in=answer_list_reviewable(user=reviewer))
        .first()
    )
    if item is None:
        raise ApplicationError("That review item does not exist.")
    if item.state != ReviewState.PENDING:
        raise ApplicationError(f"This answer was already {item.get_state_display().lower()}.")
    answer = item.answer
    if answer is None:  # unreachable through the filter above; says so to the type checker
        raise ApplicationError("That review item does not exist.")
    return item, answer


def _notify_user(answer: Answer) -> None:
    def send() -> None:
        fresh = Answer.objects.select_related("reused_from").get(pk=answer.pk)
        group_send_now(
            group=user_group(answer.conversation.user_id), event_type=Event.FINAL,
            payload={"answer_id": fresh.pk, **answer_payload(fresh)},
        )  # fmt: skip

    transaction.on_commit(send)


def _clean_edit(text: str, answer: Answer) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ApplicationError("The edited answer is empty.")
    if len(text) > MAX_EDIT_CHARS:
        raise ApplicationError(f"The edited answer is longer than {MAX_EDIT_CHARS:,} characters.")
    valid = set(answer.citations.values_list("n", flat=True))
    unknown = sorted({int(n) for n in CITATION.findall(text)} - valid)
    if unknown:
        raise ApplicationError(
            f"The edited answer cites {', '.join(f'[{n}]' for n in unknown)}, which is not among its sources."
        )
    return re.sub(r"\n{3,}", "\n\n", text)


_REVIEW_AUDIT = {
    ReviewState.APPROVED: AuditAction.REVIEW_APPROVED,
    ReviewState.EDITED: AuditAction.REVIEW_EDITED,
    ReviewState.REJECTED: AuditAction.REVIEW_REJECTED,
}


def _review_audit(
    *, item: ReviewItem, answer: Answer, state: ReviewState, note: str, request: AuditRequest | None,
    detail: dict[str, object],
) -> None:  # fmt: skip
    # The decision and the note, not the answer's text: the trail outlives the conversation and
    # must not become a second copy of what a user asked (the review record keeps the texts).
    audit_record(
        action=_REVIEW_AUDIT[state], actor=item.decided_by, target_type="review_item", target_id=item.pk,
        before={"state": ReviewState.PENDING}, after={"state": state, "note": note[:2000]},
        detail={"answer_id": answer.pk, "reason": item.reason, **detail}, request=request,
    )  # fmt: skip


@transaction.atomic
def review_approve(
    *, item_id: int, reviewer: User, text: str | None = None, note: str = "", request: AuditRequest | None = None
) -> ReviewItem:
    """Approve a held or flagged answer, optionally with an edited text; it becomes curated. Audited."""
    item, answer = _locked_pending(item_id, reviewer)
    before = answer.text
    edited = text is not None and text.strip() != before.strip()
    after = _clean_edit(text, answer) if edited and text is not None else before
    state = ReviewState.EDITED if edited else ReviewState.APPROVED
    item.state, item.decided_by, item.decided_at, item.note = state, reviewer, timezone.now(), note[:2000]
    item.save(update_fields=["state", "decided_by", "decided_at", "note", "updated_at"])
    ReviewAction.objects.create(
        item=item, reviewer=reviewer, action=str(state), note=note[:2000], text_before=before, text_after=after
    )
    Answer.objects.filter(pk=answer.pk).update(status=AnswerStatus.ANSWERED, text=after, review_state=state)
    _review_audit(item=item, answer=answer, state=state, note=note, request=request,
                  detail={"edited": edited, "chars_before": len(before), "chars_after": len(after)})  # fmt: skip
    answer.refresh_from_db()
    curated_create_from(answer=answer, reviewer=reviewer)
    _notify_user(answer)
    logger.info("review.approved item=%s answer=%s edited=%s reviewer=%s", item.pk, answer.pk, edited, reviewer.pk)
    return item


@transaction.atomic
def review_reject(*, item_id: int, reviewer: User, note: str, request: AuditRequest | None = None) -> ReviewItem:
    """Reject an answer: the user is told a reviewer withdrew it, with the note. Audited."""
    note = note.strip()
    if not note:
        raise ApplicationError("Say why the answer is rejected; the note is shown to the user.")
    item, answer = _locked_pending(item_id, reviewer)
    item.state, item.decided_by, item.decided_at, item.note = (
        ReviewState.REJECTED,
        reviewer,
        timezone.now(),
        note[:2000],
    )
    item.save(update_fields=["state", "decided_by", "decided_at", "note", "updated_at"])
    ReviewAction.objects.create(
        item=item, reviewer=reviewer, action="rejected", note=note[:2000], text_before=answer.text
    )
    Answer.objects.filter(pk=answer.pk).update(
        status=AnswerStatus.DECLINED, review_state=ReviewState.REJECTED,
        decline_reason=f"A reviewer did not approve this answer: {note[:500]}",
    )  # fmt: skip
    ReusableAnswer.objects.filter(source_answer=answer, active=True).update(
        active=False, invalidated_reason="rejected by a reviewer"
    )
    _review_audit(item=item, answer=answer, state=ReviewState.REJECTED, note=note, request=request, detail={})
    answer.refresh_from_db()
    _notify_user(answer)
    logger.info("review.rejected item=%s answer=%s reviewer=%s", item.pk, answer.pk, reviewer.pk)
    return item
