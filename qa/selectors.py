"""Reads of conversations and answers: a user sees only their own."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from qa.models import Answer, Citation, Conversation


def conversation_list(*, user: User | AnonymousUser) -> QuerySet[Conversation]:
    if not user.is_authenticated:
        return Conversation.objects.none()
    return Conversation.objects.filter(user=user).order_by("-updated_at")


def conversation_get(*, user: User | AnonymousUser, conversation_id: int) -> Conversation | None:
    return conversation_list(user=user).filter(pk=conversation_id).first()


def answer_list_for(*, conversation: Conversation) -> QuerySet[Answer]:
    return conversation.answers.prefetch_related("citations").order_by("created_at")


def answer_get(*, user: User | AnonymousUser, answer_id: int) -> Answer | None:
    if not user.is_authenticated:
        return None
    return Answer.objects.filter(pk=answer_id, conversation__user=user).select_related("conversation").first()


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
