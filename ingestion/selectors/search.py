"""Hybrid retrieval: a vector leg (pgvector, cosine) and a full-text leg (tsvector,
websearch_to_tsquery), fused by reciprocal rank fusion.

Access control is applied inside each SQL query (``collection_id = ANY(readable)``), never by
dropping rows in Python afterwards, whatever share of the index the user reads; hydration
re-checks it (a second line of defence against a leg that loses its filter). Because HNSW filters *after* its index scan (pgvector 0.6
has no iterative scans), a selective filter would return fewer than k rows; so the vector leg
scans exactly when the readable set is small, widens ``hnsw.ef_search`` in proportion to the
readable share otherwise, and falls back to an exact scan if HNSW still returns too few.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import OperationalError, connection, transaction
from django.db.models import Sum

from core.db import local_setting
from core.text import tokens
from ingestion.contracts import RetrievedChunk
from ingestion.models import Document
from ingestion.selectors.collections import collection_ids_readable
from providers.embeddings.base import EmbeddingProvider
from providers.registry import embedding_provider_default

# Identifiers and numbers: a dot or underscore inside, a digit, or an inner capital (CamelCase, ALLCAPS).
_TECHNICAL = re.compile(r"[._]|\d|[a-z][A-Z]|^[A-Z]{2,}$")


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    VECTOR = "vector"
    FULLTEXT = "fulltext"


@dataclass
class SearchTrace:
    """How a search ran, for the retrieval tester page and benchmarks."""

    readable_collections: int = 0
    readable_chunks: int = 0
    total_chunks: int = 0
    vector_strategy: str = ""
    ef_search: int | None = None
    fulltext_skipped: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _chunk_counts(collection_ids: list[int]) -> tuple[int, int]:
    readable = Document.objects.filter(collection_id__in=collection_ids, is_current=True).aggregate(
        n=Sum("chunk_count")
    )
    total = Document.objects.filter(is_current=True).aggregate(n=Sum("chunk_count"))
    return int(readable["n"] or 0), int(total["n"] or 0)


# Each leg returns (chunk id, document id, score): the document id serves the per-document cap
# without another query.
LegRow = tuple[int, int, float]


def _leg_rows(cursor: object) -> list[LegRow]:
    return [(int(row[0]), int(row[1]), float(row[2])) for row in cursor.fetchall()]  # type: ignore[attr-defined]


def _vector_exact(cursor: object, vector: str, ids: list[int], limit: int) -> list[LegRow]:
    # "+ 0" keeps the planner off the HNSW index: an exact, complete scan of the readable rows.
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT id, document_id, (embedding <=> %s::vector) + 0 AS distance FROM ingestion_chunk "
        "WHERE collection_id = ANY(%s) ORDER BY distance LIMIT %s",
        [vector, ids, limit],
    )
    return _leg_rows(cursor)


def _vector_hnsw(cursor: object, vector: str, ids: list[int], limit: int, ef_search: int) -> list[LegRow]:
    # The collection filter is in this query whatever share of the index the user reads: a
    # reader of 99.9% of the chunks must still never get the other 0.1% (a small restricted
    # collection beside a large public one). With a filter that matches nearly every row, the
    # planner still takes the HNSW index and filters its candidates.
    cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")  # type: ignore[attr-defined]
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT id, document_id, embedding <=> %s::vector AS distance FROM ingestion_chunk "
        "WHERE collection_id = ANY(%s) "
        "ORDER BY embedding <=> %s::vector LIMIT %s",
        [vector, ids, vector, limit],
    )
    return _leg_rows(cursor)


def chunk_ids_by_vector(
    *, embedding: list[float], collection_ids: list[int], limit: int, trace: SearchTrace
) -> list[LegRow]:
    """Nearest chunks among the readable collections: ``limit`` of them whenever that many exist."""
    if not collection_ids or trace.readable_chunks == 0:
        trace.vector_strategy = "none readable"
        return []
    vector = "[" + ",".join(f"{x:.7f}" for x in embedding) + "]"
    with transaction.atomic(), connection.cursor() as cursor:
        if trace.readable_chunks <= settings.RETRIEVAL_EXACT_SCAN_MAX_ROWS:
            trace.vector_strategy = "exact"
            return _vector_exact(cursor, vector, collection_ids, limit)
        share = trace.readable_chunks / max(1, trace.total_chunks)
        ef_search = min(1000, max(settings.RETRIEVAL_HNSW_EF_SEARCH, int(limit / max(share, 1e-6) * 2)))
        trace.ef_search = ef_search
        rows = _vector_hnsw(cursor, vector, collection_ids, limit, ef_search)
        trace.vector_strategy = "hnsw-filtered"
        if len(rows) < min(limit, trace.readable_chunks):
            trace.vector_strategy += "+exact-fallback"
            return _vector_exact(cursor, vector, collection_ids, limit)
        return rows


_COMMON_LEXEMES: dict[str, object] = {"at": -1e9, "freqs": {}}


def common_lexemes() -> dict[str, float]:
    """Lexeme -> share of chunks containing it, for the most common lexemes, from PostgreSQL's
    own statistics of the tsvector column (pg_stats.most_common_elems, refreshed by ANALYZE and
    autovacuum). Cached for five minutes per process."""
    now = time.monotonic()
    if now - float(_COMMON_LEXEMES["at"]) < 300:  # type: ignore[arg-type]
        return _COMMON_LEXEMES["freqs"]  # type: ignore[return-value]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE tablename = 'ingestion_chunk' AND attname = 'search_vector'"
        )
        row = cursor.fetchone()
    freqs = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
    _COMMON_LEXEMES.update(at=now, freqs=freqs)
    return freqs


def fulltext_query_of(question: str) -> str:
    """websearch_to_tsquery input for a question ("" skips the leg).

    Only words whose lexemes are not common in the index count (PostgreSQL's statistics tell):
    an OR of every word matched most of the index and ranking it took up to 355 ms at 100,000
    chunks, and a question rarely contains every word of its answer, so AND finds nothing.
    Identifiers among them (``functools.lru_cache``, ``__slots__``, ``PYTHONHASHSEED``, numbers)
    are what full-text search finds better than embeddings: when there are some, the leg
    searches for them alone; otherwise for the longest remaining words.
    """
    words = list(dict.fromkeys(tokens(question)))[:32]
    if not words:
        return ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w, tsvector_to_array(to_tsvector('english', w)) FROM unnest(%s::text[]) AS t(w)",
            [[w.lower() for w in words]],
        )
        lexemes_of = dict(cursor.fetchall())
    common = common_lexemes()
    limit = settings.RETRIEVAL_FULLTEXT_MAX_TERM_SHARE
    telling = [w for w in words if (lx := lexemes_of.get(w.lower())) and all(common.get(x, 0.0) <= limit for x in lx)]
    technical = [w for w in telling if _TECHNICAL.search(w)]
    chosen = technical or sorted(telling, key=len, reverse=True)[: settings.RETRIEVAL_FULLTEXT_MAX_WORDS]
    return " or ".join(w.lower() for w in chosen)


def chunk_ids_by_fulltext(
    *, question: str, collection_ids: list[int], limit: int, trace: SearchTrace | None = None
) -> list[LegRow]:
    """Ranked full-text matches. An OR of common words can match most of the index, and ranking
    all of it took 350 ms at 100,000 chunks; the leg is therefore bounded by a statement
    timeout and skipped when it runs out (the vector leg still answers)."""
    query = fulltext_query_of(question)
    if not query or not collection_ids:
        return []
    try:
        timeout_ms = str(int(settings.RETRIEVAL_FULLTEXT_TIMEOUT_MS))
        with local_setting("statement_timeout", timeout_ms), connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.id, c.document_id, ts_rank_cd(c.search_vector, q, 32) AS score "
                "FROM ingestion_chunk c, websearch_to_tsquery('english', %s) q "
                "WHERE c.collection_id = ANY(%s) AND c.search_vector @@ q ORDER BY score DESC, c.id LIMIT %s",
                [query, collection_ids, limit],
            )
            return _leg_rows(cursor)
    except OperationalError as exc:
        if "statement timeout" not in str(exc):
            raise
        if trace is not None:
            trace.fulltext_skipped = True
        return []


def reciprocal_rank_fusion(
    rankings: list[list[int]], *, k: int = 60, weights: list[float] | None = None
) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for index, ranking in enumerate(rankings):
        weight = weights[index] if weights else 1.0
        for rank, chunk_id in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _cap_per_document(
    fused: list[tuple[int, float]], *, documents: dict[int, int], k: int, cap: int
) -> list[tuple[int, float]]:
    """Keep at most ``cap`` chunks of one document in the top k (then fill with the rest), so
    that one long page cannot push every other source out of the answer's context."""
    if cap <= 0:
        return fused[:k]
    kept: list[tuple[int, float]] = []
    overflow: list[tuple[int, float]] = []
    per_document: dict[int, int] = {}
    for chunk_id, score in fused:
        document_id = documents.get(chunk_id, -chunk_id)
        if per_document.get(document_id, 0) < cap:
            per_document[document_id] = per_document.get(document_id, 0) + 1
            kept.append((chunk_id, score))
        else:
            overflow.append((chunk_id, score))
        if len(kept) == k:
            break
    return (kept + overflow)[:k]


def _hydrate(ids: list[int], *, collection_ids: list[int]) -> dict[int, tuple]:
    """The rows of these chunks, re-checked against the readable collections: a second line of
    defence, so that an id a leg returned without its filter is dropped here, not shown."""
    if not ids or not collection_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, c.document_id, c.collection_id, d.title, d.source_name, c.heading_path, c.page, c.text "
            "FROM ingestion_chunk c JOIN ingestion_document d ON d.id = c.document_id "
            "WHERE c.id = ANY(%s) AND c.collection_id = ANY(%s) AND d.collection_id = ANY(%s)",
            [ids, collection_ids, collection_ids],
        )
        return {int(row[0]): row for row in cursor.fetchall()}


def chunk_search(
    *,
    question: str,
    user: User | AnonymousUser,
    k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    embedder: EmbeddingProvider | None = None,
    collection_ids: list[int] | None = None,
    trace: SearchTrace | None = None,
    query_embedding: list[float] | None = None,
) -> list[RetrievedChunk]:
    """The top ``k`` chunks for ``question`` among the collections ``user`` may read
    (optionally narrowed to ``collection_ids``), each with its score components. A caller
    that already embedded the question passes ``query_embedding``."""
    k = k or settings.RETRIEVAL_DEFAULT_K
    trace = trace if trace is not None else SearchTrace()
    began = time.perf_counter()
    readable = collection_ids_readable(user=user)
    if collection_ids is not None:
        allowed = set(collection_ids)
        readable = [c for c in readable if c in allowed]
    trace.readable_collections = len(readable)
    trace.readable_chunks, trace.total_chunks = _chunk_counts(readable)
    trace.timings_ms["access"] = _ms(began)
    candidates = max(k * 4, 20) if mode == SearchMode.HYBRID else k

    vector_rows: list[LegRow] = []
    text_rows: list[LegRow] = []
    if mode in (SearchMode.HYBRID, SearchMode.VECTOR):
        started = time.perf_counter()
        embedding = (
            query_embedding
            if query_embedding is not None
            else (embedder or embedding_provider_default()).embed_query(question)
        )
        trace.timings_ms["embed"] = _ms(started)
        started = time.perf_counter()
        vector_rows = chunk_ids_by_vector(embedding=embedding, collection_ids=readable, limit=candidates, trace=trace)
        trace.timings_ms["vector"] = _ms(started)
    if mode in (SearchMode.HYBRID, SearchMode.FULLTEXT):
        started = time.perf_counter()
        text_rows = chunk_ids_by_fulltext(question=question, collection_ids=readable, limit=candidates, trace=trace)
        trace.timings_ms["fulltext"] = _ms(started)

    started = time.perf_counter()
    vector_info = {cid: (rank, dist) for rank, (cid, _, dist) in enumerate(vector_rows, start=1)}
    text_info = {cid: (rank, score) for rank, (cid, _, score) in enumerate(text_rows, start=1)}
    documents = {cid: doc for cid, doc, _ in (*vector_rows, *text_rows)}
    fused = reciprocal_rank_fusion(
        [[cid for cid, _, _ in vector_rows], [cid for cid, _, _ in text_rows]],
        k=settings.RETRIEVAL_RRF_K,
        weights=[1.0, settings.RETRIEVAL_FULLTEXT_WEIGHT],
    )
    fused = _cap_per_document(fused, documents=documents, k=k, cap=settings.RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT)
    rows = _hydrate([cid for cid, _ in fused], collection_ids=readable)
    results = []
    for chunk_id, score in fused:
        row = rows.get(chunk_id)
        if row is None:  # deleted between the legs and here, or not readable
            continue
        v_rank, v_dist = vector_info.get(chunk_id, (None, None))
        t_rank, t_score = text_info.get(chunk_id, (None, None))
        results.append(
            RetrievedChunk(
                chunk_id=chunk_id,
                document_id=int(row[1]),
                collection_id=int(row[2]),
                title=row[3],
                source_name=row[4],
                heading_path=tuple(json.loads(row[5]) if isinstance(row[5], str) else (row[5] or ())),
                page=row[6],
                text=row[7],
                score=round(score, 6),
                vector_rank=v_rank,
                vector_distance=None if v_dist is None else round(v_dist, 6),
                text_rank=t_rank,
                text_score=None if t_score is None else round(t_score, 6),
            )
        )
    trace.timings_ms["fuse"] = _ms(started)
    trace.timings_ms["total"] = _ms(began)
    return results
