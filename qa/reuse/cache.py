"""The semantic answer cache, in front of every model call.

Lookup: the normalised standalone question's embedding among cached verified answers of the
current prompt version and of models still configured, restricted to documents the asking user
may read, with the near-miss guard (``reusable.questions_compatible``). Every lookup is logged
with its nearest similarity. Store: only answers that passed verification completely, with a
confident score, that are not high-stakes. Entries expire (TTL), are invalidated when a cited
document changes (``reusable.reusable_invalidate_for_documents``) and when a user marks a served
answer incorrect (``feedback``)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from core.db import commit_without_waiting
from ingestion.contracts import RetrievedChunk
from ingestion.selectors.collections import collection_ids_of_documents
from qa.models import Answer, AnswerStatus, CacheLookup, ReusableAnswer, ReuseOrigin
from qa.observability import cache_lookup_record
from qa.reuse.reusable import ReuseMatch, citations_snapshot, questions_compatible, reusable_candidates, reusable_find


def question_normalise(question: str) -> str:
    """Spacing and trailing punctuation do not make a different question. (Case stays: the
    near-miss guard reads names and code identifiers from it; the embedding ignores case.)"""
    return re.sub(r"[\s?!.]+$", "", " ".join(question.split()))


def cache_lookup(
    *, user: User, question: str, embedding: list[float], answer_id: int | None, models: list[str],
    prompt_key: str, collection_ids: list[int] | None = None, cached: bool = True,
) -> ReuseMatch | None:  # fmt: skip
    """One vector query for the reviewer-curated answers (``QA_CURATED_MIN_SIMILARITY``) and,
    when ``cached``, the cache (``QA_CACHE_MIN_SIMILARITY``); cache lookups are logged."""
    started = time.perf_counter()
    origins = [str(ReuseOrigin.CURATED)] + ([str(ReuseOrigin.CACHED), str(ReuseOrigin.PRECOMPUTED)] if cached else [])
    match, nearest, why = reusable_find(
        user=user, question=question_normalise(question), embedding=embedding, origins=origins,
        min_similarity=settings.QA_CACHE_MIN_SIMILARITY if cached else settings.QA_CURATED_MIN_SIMILARITY,
        min_similarity_by_origin={ReuseOrigin.CURATED: settings.QA_CURATED_MIN_SIMILARITY},
        collection_ids=collection_ids, prompt_version=prompt_key, models=models,
    )  # fmt: skip
    if cached:
        cache_lookup_record(hit=match is not None)
        with commit_without_waiting():
            CacheLookup.objects.create(
                answer_id=answer_id, entry=match.entry if match else None, nearest_similarity=nearest,
                hit=match is not None, reason=("hit" if match else why)[:300],
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )  # fmt: skip
    return match


def cache_confirm(
    *, user: User, question: str, embedding: list[float], chunks: list[RetrievedChunk], answer_id: int | None,
    models: list[str], prompt_key: str, collection_ids: list[int] | None = None,
) -> ReusableAnswer | None:  # fmt: skip
    """The second chance for a paraphrase worded too differently for the similarity threshold
    (0.6-0.84 with this embedding model): a cached answer is used when retrieval for the new
    question puts one of that answer's cited passages in its top two and at least half of them
    among its passages, and the near-miss guard passes. Runs after retrieval, before any model."""
    if not chunks:
        return None
    started = time.perf_counter()
    top = {c.chunk_id for c in chunks[:2]}
    retrieved = {c.chunk_id for c in chunks}
    candidates = reusable_candidates(
        user=user, embedding=embedding, origins=[ReuseOrigin.CACHED, ReuseOrigin.PRECOMPUTED],
        min_similarity=settings.QA_CACHE_CONFIRM_MIN_SIMILARITY, collection_ids=collection_ids,
        prompt_version=prompt_key, models=models,
    )  # fmt: skip
    why = "no candidate" if not candidates else ""
    for entry, similarity in candidates:
        cited = {c["chunk_id"] for c in entry.citations}
        guard = questions_compatible(question_normalise(question), entry.question, names_on_one_side=True)
        if not guard.compatible:
            why = why or f"near-miss guard: {guard.reason}"
            continue
        if not cited & top or len(cited & retrieved) * 2 < len(cited):
            why = why or f"similarity {similarity:.3f}: retrieval does not confirm the cached passages"
            continue
        _log_confirm(answer_id, started, entry=entry, similarity=similarity, hit=True,
                     reason="hit confirmed by retrieval (same top passages)")  # fmt: skip
        return entry
    _log_confirm(answer_id, started, entry=None, similarity=candidates[0][1] if candidates else None, hit=False,
                 reason=f"confirm: {why}")  # fmt: skip
    return None


def _log_confirm(
    answer_id: int | None, started: float, *, entry: ReusableAnswer | None, similarity: float | None, hit: bool,
    reason: str,
) -> None:  # fmt: skip
    """One lookup row per question: the confirm step completes the row of the first lookup."""
    elapsed = (time.perf_counter() - started) * 1000
    cache_lookup_record(hit=hit)
    row = CacheLookup.objects.filter(answer_id=answer_id).order_by("-pk").first() if answer_id else None
    if row is None:
        CacheLookup.objects.create(answer_id=answer_id, entry=entry, nearest_similarity=similarity, hit=hit,
                                   reason=reason[:300], elapsed_ms=elapsed)  # fmt: skip
        return
    row.hit, row.entry = hit, entry
    row.reason = f"{row.reason}; {reason}"[:300]
    row.elapsed_ms += elapsed
    row.save(update_fields=["hit", "entry", "reason", "elapsed_ms"])


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
        # Kept under its own key, a fallback prompt's answer would match no lookup anyway.
        and not answer.prompt_fallback_used
        # An experiment arm that pins a model tier reuses only that tier's answers; kept out of
        # the cache, its answers cannot reach the other arms either (the comparison stays clean).
        and not (answer.experiment_arm_id is not None and answer.experiment_arm and answer.experiment_arm.tier_name)
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
    collections = collection_ids_of_documents(document_ids=document_ids)
    ttl = settings.QA_CACHE_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    return ReusableAnswer.objects.create(
        origin=origin, question=question_normalise(answer.standalone_question or answer.question),
        embedding=embedding, text=answer.text,
        citations=citations_snapshot(citations),
        document_ids=document_ids, collection_ids=collections, prompt_version=answer.prompt_key, model=answer.model,
        confidence=answer.confidence, confidence_level=answer.confidence_level, source_answer=answer,
        expires_at=timezone.now() + timedelta(seconds=ttl) if ttl else None,
    )  # fmt: skip
