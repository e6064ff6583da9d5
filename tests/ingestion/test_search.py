from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.selectors.search import SearchMode, SearchTrace, chunk_search, reciprocal_rank_fusion
from ingestion.services.documents import document_create_from_bytes
from ingestion.services.pipeline import document_process
from providers.embeddings.base import EmbeddingProvider
from tests.factories import collection_create, user_create

pytestmark = pytest.mark.django_db

ALPHA = b"# Alpha handbook\n\nThe alpha reactor runs at 451 kelvin. Its coolant is heavy water.\n\n## Shutdown\n\nPress the red button twice to stop the alpha reactor."
BETA = b"# Beta handbook\n\nThe beta reactor runs at 300 kelvin. Its coolant is liquid sodium.\n\n## Shutdown\n\nTurn the blue key to stop the beta reactor."


def _ingest(collection, data: bytes, name: str) -> Document:
    document = document_create_from_bytes(collection=collection, data=data, source_name=name, enqueue=False).document
    assert document_process(document_id=document.pk).status == DocumentStatus.READY
    return document


def test_hybrid_search_finds_the_passage_with_score_components() -> None:
    user = user_create(username="reader", groups=("team",))
    collection = collection_create(name="Reactors", groups=("team",))
    _ingest(collection, ALPHA, "alpha.md")
    _ingest(collection, BETA, "beta.md")
    trace = SearchTrace()
    results = chunk_search(question="How do I stop the beta reactor?", user=user, k=3, trace=trace)
    assert results[0].title == "Beta handbook"
    assert "blue key" in results[0].text
    top = results[0]
    assert top.heading_path == ("Beta handbook", "Shutdown") and top.section == "Shutdown"
    assert top.vector_rank is not None and top.vector_distance is not None
    assert top.text_rank is not None and top.text_score is not None
    assert trace.vector_strategy == "exact" and trace.timings_ms["total"] > 0
    for mode in (SearchMode.VECTOR, SearchMode.FULLTEXT):
        assert chunk_search(question="blue key beta", user=user, k=2, mode=mode)


def test_a_user_never_retrieves_another_groups_collection() -> None:
    alice = user_create(username="alice", groups=("group-a",))
    bob = user_create(username="bob", groups=("group-b",))
    outsider = user_create(username="eve")
    a = collection_create(name="A only", groups=("group-a",))
    b = collection_create(name="B only", groups=("group-b",))
    _ingest(a, ALPHA, "alpha.md")
    _ingest(b, BETA, "beta.md")
    for question in ("beta reactor blue key sodium", "alpha reactor red button", "reactor"):
        assert {r.collection_id for r in chunk_search(question=question, user=alice, k=10)} <= {a.pk}
        assert {r.collection_id for r in chunk_search(question=question, user=bob, k=10)} <= {b.pk}
        assert chunk_search(question=question, user=outsider, k=10) == []
    # A collection granted to a user directly (not through a group) is readable too.
    b.reader_users.add(alice)
    assert {r.collection_id for r in chunk_search(question="beta sodium", user=alice, k=10)} == {a.pk, b.pk}


def test_access_filter_is_inside_the_sql() -> None:
    alice = user_create(username="alice", groups=("group-a",))
    a = collection_create(name="A only", groups=("group-a",))
    _ingest(a, ALPHA, "alpha.md")
    with CaptureQueriesContext(connection) as queries:
        chunk_search(question="alpha reactor", user=alice, k=5)
    legs = [q["sql"] for q in queries.captured_queries if "FROM ingestion_chunk" in q["sql"] and "ORDER BY" in q["sql"]]
    assert len(legs) == 2  # vector and full-text
    assert all("collection_id = ANY" in sql for sql in legs)


class FixedEmbeddings(EmbeddingProvider):
    """Random unit vectors: scale tests need many chunks, not meaningful ones."""

    name = "fixed"
    dimensions = 384

    def _embed(self, texts: list[str]) -> list[list[float]]:
        rng = random.Random(hash(tuple(texts)) & 0xFFFF)
        return [[rng.gauss(0, 1) for _ in range(384)] for _ in texts]


def _bulk_chunks(collection, n: int, seed: int) -> None:
    rng = random.Random(seed)
    document = Document.objects.create(
        collection=collection,
        title=collection.name,
        source_name=f"{collection.slug}.txt",
        content_hash=f"{seed:064d}",
        status=DocumentStatus.READY,
        is_current=True,
        chunk_count=n,
    )
    Chunk.objects.bulk_create(
        [
            Chunk(
                document=document,
                collection=collection,
                ordinal=i,
                text=f"synthetic passage {i}",
                embedding=[rng.gauss(0, 1) for _ in range(384)],
            )
            for i in range(n)
        ],
        batch_size=1000,
    )


@pytest.mark.parametrize("exact_scan_max_rows", [20000, 0], ids=["exact-scan", "hnsw-then-fallback"])
def test_a_user_of_a_small_collection_still_gets_k_results(settings, exact_scan_max_rows: int) -> None:
    settings.RETRIEVAL_EXACT_SCAN_MAX_ROWS = exact_scan_max_rows
    settings.RETRIEVAL_HNSW_EF_SEARCH = 40
    big = collection_create(name="Big", groups=("everyone",))
    small = collection_create(name="Small", groups=("few",))
    _bulk_chunks(big, 3960, seed=1)
    _bulk_chunks(small, 40, seed=2)  # 1% of the rows
    user = user_create(username="few-reader", groups=("few",))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ingestion_chunk")
    for i in range(5):
        trace = SearchTrace()
        results = chunk_search(
            question=f"question {i}", user=user, k=10, mode=SearchMode.VECTOR, embedder=FixedEmbeddings(), trace=trace
        )
        assert len(results) == 10, trace
        assert {r.collection_id for r in results} == {small.pk}
    assert trace.readable_chunks == 40 and trace.total_chunks == 4000
    assert trace.vector_strategy in (
        {"exact"} if exact_scan_max_rows else {"hnsw-filtered", "hnsw-filtered+exact-fallback"}
    )


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [cid for cid, _ in fused][:2] == [1, 3]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
