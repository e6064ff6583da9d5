"""Conversations: create, rename, delete, and the standalone question for retrieval."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from core.errors import ApplicationError
from qa.models import Answer, AnswerStatus, CacheLookup, Conversation, Interaction, ReusableAnswer, ReuseOrigin
from qa.selectors import answers_on_legal_hold_q

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
def answer_traces_delete(*, answer_ids: list[int]) -> dict[str, int]:
    """Delete the copies of these answers' questions that would otherwise outlive them (their
    foreign keys are SET_NULL): the model interactions (the prompt carries the question), the
    cache lookups, and the cached answers built from them (stored under the asker's question).
    Reviewer-curated answers stay: they are a reviewer's decision, served again to others
    (erasure replaces their question text instead). Review records stay too, with the texts
    they judged (``receivers.on_answer_deleted`` dates them). Returns the counts deleted."""
    interactions, _ = Interaction.objects.filter(answer_id__in=answer_ids).delete()
    lookups, _ = CacheLookup.objects.filter(answer_id__in=answer_ids).delete()
    cached, _ = ReusableAnswer.objects.filter(
        source_answer_id__in=answer_ids, origin__in=[ReuseOrigin.CACHED, ReuseOrigin.PRECOMPUTED]
    ).delete()
    return {"interactions": interactions, "cache_lookups": lookups, "cached_answers": cached}


class ConversationOnLegalHold(ApplicationError):
    """The conversation holds answers under a legal hold (of the person, or of a collection they
    drew on): nothing of it may be deleted until the hold is released."""


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation, its answers and their traces (``answer_traces_delete``): what
    the user deleted is gone, except the review records that judged its answers. Refused
    (``ConversationOnLegalHold``) while a legal hold keeps any of its answers."""
    if Answer.objects.filter(conversation=conversation).filter(answers_on_legal_hold_q()).exists():
        raise ConversationOnLegalHold(
            "This conversation is under a legal hold and cannot be deleted now; ask an administrator."
        )
    answer_traces_delete(answer_ids=list(conversation.answers.values_list("pk", flat=True)))
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
