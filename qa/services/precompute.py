"""Answers ahead of demand: off-peak, a beat job finds the question clusters asked most often
in the last days, adds the admins' FAQ entries, and stores verified answers for them in the
cache (origin "precomputed"), so that the next asker gets a cache hit."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from ingestion.selectors.collections import collection_ids_of_documents
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider
from providers.registry import embedding_provider_default
from qa.models import Answer, AnswerStatus, Citation, FaqEntry, ReusableAnswer, ReuseOrigin
from qa.services.answering import answer_create, answer_run
from qa.services.cache import question_normalise
from qa.services.reuse import questions_compatible

logger = logging.getLogger(__name__)
SYSTEM_USERNAME = "verity-precompute"


def precompute_user() -> User:
    """A system account (no password, cannot sign in) that answers within one collection at a time."""
    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_superuser": True, "is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@dataclass
class Candidate:
    question: str
    collection_ids: list[int]
    asks: int
    source: str  # "faq" or "logs"


def frequent_questions(
    *, days: int, min_asks: int, limit: int, embedder: EmbeddingProvider, exclude_user_id: int | None = None
) -> list[Candidate]:
    """Clusters of similar questions (embedding similarity plus the near-miss guard) asked at
    least ``min_asks`` times, most frequent first, each with the collections its answers cited."""
    since = timezone.now() - timedelta(days=days)
    answers = Answer.objects.filter(created_at__gte=since).exclude(status=AnswerStatus.FAILED)
    if exclude_user_id is not None:
        answers = answers.exclude(conversation__user_id=exclude_user_id)
    rows = list(answers.order_by("-created_at").values_list("pk", "standalone_question", "question")[:5000])
    counts = Counter(question_normalise(s or q) for _, s, q in rows)
    answers_of: dict[str, list[int]] = {}
    for pk, s, q in rows:
        answers_of.setdefault(question_normalise(s or q), []).append(pk)
    texts = [t for t, _ in counts.most_common(2000)]
    if not texts:
        return []
    vectors = np.asarray(embedder.embed_texts(texts))
    clusters: list[tuple[int, list[int]]] = []  # (representative index, members)
    for index in range(len(texts)):
        for rep, members in clusters:
            if (
                float(vectors[rep] @ vectors[index]) >= settings.QA_CACHE_MIN_SIMILARITY
                and questions_compatible(texts[index], texts[rep]).compatible
            ):
                members.append(index)
                break
        else:
            clusters.append((index, [index]))
    candidates = []
    for rep, members in clusters:
        asks = sum(counts[texts[m]] for m in members)
        if asks < min_asks:
            continue
        answer_ids = [a for m in members for a in answers_of[texts[m]]]
        document_ids = set(Citation.objects.filter(answer_id__in=answer_ids).values_list("document_id", flat=True))
        collections = collection_ids_of_documents(document_ids=document_ids)
        if collections:
            candidates.append(Candidate(texts[rep], collections, asks, "logs"))
    candidates.sort(key=lambda c: -c.asks)
    return candidates[:limit]


@dataclass
class PrecomputeReport:
    considered: int = 0
    stored: int = 0
    already_cached: int = 0
    not_verified: int = 0
    details: list[str] = field(default_factory=list)


def precompute_run(
    *, embedder: EmbeddingProvider | None = None, providers: list[LLMProvider] | None = None
) -> PrecomputeReport:
    embedder = embedder or embedding_provider_default()
    user = precompute_user()
    report = PrecomputeReport()
    faq = [
        (entry, Candidate(entry.question, [entry.collection_id], 0, "faq"))
        for entry in FaqEntry.objects.filter(active=True).select_related("collection")
    ]
    logs = frequent_questions(
        days=settings.QA_PRECOMPUTE_LOOKBACK_DAYS, min_asks=settings.QA_PRECOMPUTE_MIN_ASKS,
        limit=settings.QA_PRECOMPUTE_MAX_QUESTIONS, embedder=embedder, exclude_user_id=user.pk,
    )  # fmt: skip
    work: list[tuple[FaqEntry | None, Candidate]] = [*faq, *[(None, c) for c in logs]]
    for entry, candidate in work[: settings.QA_PRECOMPUTE_MAX_QUESTIONS]:
        report.considered += 1
        answer = answer_create(user=user, question=candidate.question)
        before = ReusableAnswer.objects.filter(source_answer=answer).count()
        result = answer_run(
            answer_id=answer.pk, emit=lambda *_: None, embedder=embedder, providers=providers,
            collection_ids=candidate.collection_ids,
        )  # fmt: skip
        stored = ReusableAnswer.objects.filter(source_answer=result, origin=ReuseOrigin.CACHED)
        if result.reused_from_id is not None:
            report.already_cached += 1
            outcome = "already cached"
        elif stored.count() > before:
            stored.update(origin=ReuseOrigin.PRECOMPUTED)
            report.stored += 1
            outcome = "stored"
        else:
            report.not_verified += 1
            outcome = f"not stored ({result.status}: {result.decline_reason[:80] or 'not fully verified'})"
        report.details.append(f"[{candidate.source} x{candidate.asks}] {candidate.question[:80]}: {outcome}")
        if entry is not None:
            FaqEntry.objects.filter(pk=entry.pk).update(last_precomputed_at=timezone.now(), last_result=outcome[:200])
    logger.info(
        "precompute.done considered=%s stored=%s already_cached=%s not_verified=%s",
        report.considered, report.stored, report.already_cached, report.not_verified,
    )  # fmt: skip
    return report
