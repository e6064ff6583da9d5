"""The semantic answer cache, in front of every model call.

Lookup: the normalised standalone question's embedding among cached verified answers of the
current prompt version and of models still configured, restricted to documents the asking user
may read, with the near-miss guard (``reuse.questions_compatible``). Every lookup is logged
with its nearest similarity. Store: only answers that passed verification completely, with a
confident score, that are not high-stakes. Entries expire (TTL), are invalidated when a cited
document changes (``reuse.reusable_invalidate_for_documents``) and when a user marks a served
answer incorrect (``feedback``)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from ingestion.models import Document
from qa.models import Answer, AnswerStatus, CacheLookup, ReusableAnswer, ReuseOrigin
from qa.services.prompt import PROMPT_VERSION
from qa.services.reuse import ReuseMatch, reusable_find


def question_normalise(question: str) -> str:
    """Case, spacing and trailing punctuation do not make a different question."""
    return re.sub(r"[\s?!.]+$", "", " ".join(question.split())).lower()


def cache_lookup(
    *, user: User, question: str, embedding: list[float], answer_id: int | None, models: list[str],
    collection_ids: list[int] | None = None,
) -> ReuseMatch | None:  # fmt: skip
    started = time.perf_counter()
    match, nearest, why = reusable_find(
        user=user, question=question_normalise(question), embedding=embedding,
        origins=[ReuseOrigin.CACHED, ReuseOrigin.PRECOMPUTED], min_similarity=settings.QA_CACHE_MIN_SIMILARITY,
        collection_ids=collection_ids, prompt_version=PROMPT_VERSION, models=models,
    )  # fmt: skip
    CacheLookup.objects.create(
        answer_id=answer_id, entry=match.entry if match else None, nearest_similarity=nearest, hit=match is not None,
        reason=("hit" if match else why)[:300], elapsed_ms=(time.perf_counter() - started) * 1000,
    )  # fmt: skip
    return match


def cacheable(answer: Answer) -> bool:
    verification = answer.verification or {}
    return (
        answer.status == AnswerStatus.ANSWERED
        and not answer.high_stakes
        and answer.reused_from_id is None
        and answer.confidence_level in ("high", "medium")
        and verification.get("claims", 0) > 0
        and verification.get("supported") == verification.get("claims")
        and not verification.get("removed")
        and not answer.fallback_used
    )


def cache_store(
    *, answer: Answer, embedding: list[float], origin: str = ReuseOrigin.CACHED, ttl_seconds: int | None = None
) -> ReusableAnswer | None:
    """Keep a verified answer for similar questions (None if it does not qualify)."""
    if not cacheable(answer):
        return None
    citations = list(answer.citations.all())
    if not citations:
        return None
    document_ids = sorted({c.document_id for c in citations})
    collections = sorted(set(Document.objects.filter(pk__in=document_ids).values_list("collection_id", flat=True)))
    ttl = settings.QA_CACHE_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    return ReusableAnswer.objects.create(
        origin=origin, question=question_normalise(answer.standalone_question or answer.question),
        embedding=embedding, text=answer.text,
        citations=[
            {"n": c.n, "chunk_id": c.chunk_id, "document_id": c.document_id, "title": c.title,
             "source_name": c.source_name, "section": c.section, "page": c.page, "quote": c.quote}
            for c in citations
        ],
        document_ids=document_ids, collection_ids=collections, prompt_version=PROMPT_VERSION, model=answer.model,
        confidence=answer.confidence, confidence_level=answer.confidence_level, source_answer=answer,
        expires_at=timezone.now() + timedelta(seconds=ttl) if ttl else None,
    )  # fmt: skip
