"""Conversations: create, rename, delete, and the standalone question for retrieval."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from core.errors import ApplicationError
from qa.models import Answer, AnswerStatus, Conversation

_FOLLOW_UP = re.compile(r"\b(it|its|that|this|they|them|those|these|he|she|one|ones|same|above|previous)\b", re.I)


@transaction.atomic
def conversation_create(*, user: User, title: str = "") -> Conversation:
    return Conversation.objects.create(user=user, title=title[:200])


@transaction.atomic
def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = title.strip()
    if not title:
        raise ApplicationError("A conversation needs a name.")
    conversation.title = title[:200]
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def standalone_question_of(*, conversation: Conversation, question: str) -> str:
    """Condense a follow-up into a question retrieval can use on its own.

    Without a language model this is a rule: a short question, or one that points back
    ("what about its default?"), is joined to the previous standalone question of the
    conversation. A self-contained question stays as it is.
    """
    carried = max(0, settings.QA_MAX_TURNS_CARRIED - 1)
    rows = list(
        Answer.objects.filter(conversation=conversation)
        .exclude(status=AnswerStatus.FAILED)
        .exclude(standalone_question="")
        .order_by("-created_at")
        .values_list("question", "standalone_question")[: max(1, carried)]
    )
    if not rows or not carried:
        return question
    if not (len(question.split()) <= 4 or _FOLLOW_UP.search(question)):
        return question
    # Carry at most QA_MAX_TURNS_CARRIED turns: the previous turns of the current thread of
    # follow-ups, oldest first, then this one.
    thread: list[str] = []
    for asked, standalone in rows:
        thread.insert(0, asked)
        if standalone == asked:  # that turn started the thread
            break
    return " ".join([*thread[-carried:], question])
