"""Retrieval: through ingestion's access-controlled hybrid search."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

from ingestion.contracts import RetrievedChunk
from ingestion.selectors.search import SearchTrace, chunk_search
from providers.embeddings.base import EmbeddingProvider


def passages_retrieve(
    *,
    question: str,
    user: User | AnonymousUser,
    k: int,
    embedder: EmbeddingProvider | None = None,
    collection_ids: list[int] | None = None,
    query_embedding: list[float] | None = None,
) -> tuple[list[RetrievedChunk], SearchTrace]:
    trace = SearchTrace()
    chunks = chunk_search(
        question=question,
        user=user,
        k=k,
        embedder=embedder,
        trace=trace,
        collection_ids=collection_ids,
        query_embedding=query_embedding,
    )
    return chunks, trace
