"""Reads of conversations and answers: a user sees only their own."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from qa.models import Answer, Citation, Conversation, Feedback, ReviewItem


def conversation_list(*, user: User | AnonymousUser) -> QuerySet[Conversation]:
    if not user.is_authenticated:
        return Conversation.objects.none()
    return Conversation.objects.filter(user=user).order_by("-updated_at")


def conversation_get(*, user: User | AnonymousUser, conversation_id: int) -> Conversation | None:
    return conversation_list(user=user).filter(pk=conversation_id).first()


def answer_list_for(*, conversation: Conversation) -> QuerySet[Answer]:
    return conversation.answers.select_related("reused_from").prefetch_related("citations").order_by("created_at")


def answer_get(*, user: User | AnonymousUser, answer_id: int) -> Answer | None:
    if not user.is_authenticated:
        return None
    return (
        Answer.objects.filter(pk=answer_id, conversation__user=user)
        .select_related("conversation", "reused_from")
        .first()
    )


def citation_get(*, user: User | AnonymousUser, answer_id: int, n: int) -> Citation | None:
    answer = answer_get(user=user, answer_id=answer_id)
    if answer is None:
        return None
    return answer.citations.filter(n=n).first()


def answers_in_progress(*, conversation_id: int) -> list[int]:
    from qa.services.answering import FINAL_STATUSES

    return list(
        Answer.objects.filter(conversation_id=conversation_id)
        .exclude(status__in=FINAL_STATUSES)
        .values_list("pk", flat=True)
    )


def review_queue(*, state: str = "pending", topic: str = "", reason: str = "", held: str = "") -> QuerySet[ReviewItem]:
    """Review items, oldest first, filtered by state, topic, reason and whether the user waits."""
    items = ReviewItem.objects.select_related("answer__conversation__user", "decided_by").order_by("created_at")
    if state:
        items = items.filter(state=state)
    if topic:
        items = items.filter(topics__contains=[topic])
    if reason:
        items = items.filter(reason=reason)
    if held in ("yes", "no"):
        items = items.filter(held=held == "yes")
    return items


def review_item_get(*, item_id: int) -> ReviewItem | None:
    return (
        ReviewItem.objects.select_related("answer__conversation__user", "decided_by")
        .prefetch_related("answer__citations", "actions__reviewer")
        .filter(pk=item_id)
        .first()
    )


def triage_list(*, state: str = "open", reason: str = "") -> QuerySet[Feedback]:
    items = Feedback.objects.filter(helpful=False).select_related("answer", "user", "triaged_by")
    if state:
        items = items.filter(triage_state=state)
    if reason:
        items = items.filter(reason=reason)
    return items.order_by("created_at")


def feedback_of(*, user: User | AnonymousUser, answer_ids: list[int]) -> dict[int, Feedback]:
    if not user.is_authenticated:
        return {}
    return {f.answer_id: f for f in Feedback.objects.filter(user=user, answer_id__in=answer_ids)}
