"""Reads of conversations and answers: a user sees only their own. Reviewers' reads (queue,
items, triage, curated answers) see only answers drawn from collections they may read."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from ingestion.selectors.collections import collection_ids_readable, document_ids_readable, documents_all_readable_sql
from qa.models import (
    FINAL_STATUSES,
    Answer,
    BudgetAlert,
    Citation,
    Conversation,
    Feedback,
    ReusableAnswer,
    ReviewItem,
)


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
    return list(
        Answer.objects.filter(conversation_id=conversation_id)
        .exclude(status__in=FINAL_STATUSES)
        .values_list("pk", flat=True)
    )


def answer_list_reviewable(*, user: User | AnonymousUser) -> QuerySet[Answer]:
    """Answers a reviewer may see (their question, text, sources and verification detail): every
    document they cite, and every collection their retrieval drew passages from (the draft was
    written from those; removed sentences are shown on the review page), is readable by
    ``user``. Several collections: all of them. An answer that cites nothing and drew on no
    passage (refused before retrieval) shows none. A cited document that no longer exists
    cannot be checked, so only superusers (who read everything) see such an answer."""
    if not user.is_authenticated:
        return Answer.objects.none()
    if getattr(user, "is_superuser", False):
        return Answer.objects.all()
    readable = collection_ids_readable(user=user)
    unreadable_citation = Citation.objects.filter(answer_id=OuterRef("pk")).exclude(
        document_id__in=document_ids_readable(user=user)
    )
    # ``searched.collection_ids``: the collections of the passages retrieval gave the pipeline
    # (answers stored before it was recorded have only their citations to go by).
    retrieved_readable = Q(searched__collection_ids__isnull=True) | Q(searched__collection_ids__contained_by=readable)
    return Answer.objects.filter(~Exists(unreadable_citation), retrieved_readable)


def reusable_list_readable(*, user: User | AnonymousUser) -> QuerySet[ReusableAnswer]:
    """Stored answers (curated, cached, precomputed) that cite at least one document and only
    documents ``user`` may read (any version: a reviewer's export, not a reuse)."""
    if not user.is_authenticated:
        return ReusableAnswer.objects.none()
    sql, params = documents_all_readable_sql(
        column='"qa_reusableanswer"."document_ids"', collection_ids=collection_ids_readable(user=user),
        current_only=False,
    )  # fmt: skip
    return ReusableAnswer.objects.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611 - parameters


def review_queue(
    *, user: User | AnonymousUser, state: str = "pending", topic: str = "", reason: str = "", held: str = ""
) -> QuerySet[ReviewItem]:
    """Review items of answers ``user`` may see (``answer_list_reviewable``), oldest first,
    filtered by state, topic, reason and whether the user waits."""
    items = (
        ReviewItem.objects.filter(answer__in=answer_list_reviewable(user=user))
        .select_related("answer__conversation__user", "decided_by")
        .order_by("created_at")
    )
    if state:
        items = items.filter(state=state)
    if topic:
        items = items.filter(topics__contains=[topic])
    if reason:
        items = items.filter(reason=reason)
    if held in ("yes", "no"):
        items = items.filter(held=held == "yes")
    return items


def review_item_get(*, user: User | AnonymousUser, item_id: int) -> ReviewItem | None:
    return (
        ReviewItem.objects.filter(answer__in=answer_list_reviewable(user=user))
        .select_related("answer__conversation__user", "decided_by")
        .prefetch_related("answer__citations", "actions__reviewer")
        .filter(pk=item_id)
        .first()
    )


def triage_list(*, user: User | AnonymousUser, state: str = "open", reason: str = "") -> QuerySet[Feedback]:
    """Thumbs-down feedback on answers ``user`` may see (``answer_list_reviewable``)."""
    items = Feedback.objects.filter(helpful=False, answer__in=answer_list_reviewable(user=user)).select_related(
        "answer", "user", "triaged_by"
    )
    if state:
        items = items.filter(triage_state=state)
    if reason:
        items = items.filter(reason=reason)
    return items.order_by("created_at")


def feedback_of(*, user: User | AnonymousUser, answer_ids: list[int]) -> dict[int, Feedback]:
    if not user.is_authenticated:
        return {}
    return {f.answer_id: f for f in Feedback.objects.filter(user=user, answer_id__in=answer_ids)}


def budget_alert_list_recent(*, limit: int) -> QuerySet[BudgetAlert]:
    """The latest budget alerts, newest first (the operators' usage page)."""
    return BudgetAlert.objects.all()[:limit]
