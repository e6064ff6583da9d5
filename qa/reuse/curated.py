"""Curated answers: a reviewer-approved answer stored for reuse on the same or a very similar
question (found again through ``qa.reuse.reusable.reusable_find``, origin "curated")."""

from __future__ import annotations

from django.contrib.auth.models import User

from ingestion.selectors.collections import collection_ids_of_documents
from providers.registry import embedding_provider_default
from qa.models import Answer, ReusableAnswer, ReuseOrigin
from qa.reuse.reusable import citations_snapshot


def curated_create_from(*, answer: Answer, reviewer: User | None) -> ReusableAnswer | None:
    """Store an approved answer for reuse on the same or a very similar question."""
    citations = list(answer.citations.all())
    if not citations or not answer.text:
        return None
    question = answer.standalone_question or answer.question
    vector = embedding_provider_default().embed_query(question)
    collections = collection_ids_of_documents(document_ids=[c.document_id for c in citations])
    ReusableAnswer.objects.filter(source_answer=answer, active=True).update(active=False, invalidated_reason="replaced")
    return ReusableAnswer.objects.create(
        origin=ReuseOrigin.CURATED, question=question, embedding=vector, text=answer.text,
        citations=citations_snapshot(citations),
        document_ids=sorted({c.document_id for c in citations}), collection_ids=collections,
        model=answer.model, confidence=answer.confidence, confidence_level="high",
        source_answer=answer, created_by=reviewer,
    )  # fmt: skip
