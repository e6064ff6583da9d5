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
from tests.factories import collection_create, document_with_vectors, user_create

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
    document_with_vectors(
        collection, title=collection.name, source_name=f"{collection.slug}.txt", content_hash=f"{seed:064d}",
        texts=[f"synthetic passage {i}" for i in range(n)],
        vectors=[[rng.gauss(0, 1) for _ in range(384)] for _ in range(n)],
    )  # fmt: skip


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


def _bulk_chunks_near(collection, n: int, vector: list[float], *, marker: str, seed: int) -> Document:
    """``n`` chunks of one document whose vectors are all close to ``vector`` (so that an
    unfiltered nearest-neighbour query would put them first)."""
    rng = random.Random(seed)
    return document_with_vectors(
        collection, title=f"{marker} title", source_name=f"{marker}.txt", content_hash=f"{seed:064d}",
        texts=[f"{marker} salary band {i}" for i in range(n)],
        vectors=[[x + rng.gauss(0, 0.01) for x in vector] for _ in range(n)],
    )  # fmt: skip


def test_a_reader_of_nearly_everything_never_gets_the_restricted_collection(settings) -> None:
    """The shape of the finding: a large collection everybody reads and a small HR collection.
    A reader of the large one alone reads over 99.9% of all chunks; the vector query used to
    drop its collection filter then, and HR chunks (nearest to the question) came back."""
    settings.RETRIEVAL_EXACT_SCAN_MAX_ROWS = 100  # take the HNSW path without 50,000 real chunks
    settings.RETRIEVAL_HNSW_EF_SEARCH = 40
    company = collection_create(name="Company", groups=("everyone", "hr"))
    hr = collection_create(name="HR", groups=("hr",))
    _bulk_chunks(company, 5000, seed=3)
    question_vector = FixedEmbeddings().embed_query("what is the salary band of the CEO")
    _bulk_chunks_near(hr, 4, question_vector, marker="hrsecret", seed=4)  # 5000 / 5004 > 99.9%
    employee = user_create(username="employee", groups=("everyone",))
    hr_officer = user_create(username="hr-officer", groups=("hr",))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ingestion_chunk")
    for mode in (SearchMode.VECTOR, SearchMode.HYBRID):
        trace = SearchTrace()
        results = chunk_search(
            question="what is the salary band of the CEO", user=employee, k=10, mode=mode,
            embedder=FixedEmbeddings(), trace=trace,
        )  # fmt: skip
        assert trace.vector_strategy.startswith("hnsw"), trace
        assert len(results) == 10
        assert {r.collection_id for r in results} == {company.pk}
        assert not any("hrsecret" in r.text or "hrsecret" in r.title for r in results)
    # The filter that matches nearly everything keeps the HNSW index (no exact scan of 5,000 rows).
    with CaptureQueriesContext(connection) as queries:
        chunk_search(question="salary", user=employee, k=10, mode=SearchMode.VECTOR, embedder=FixedEmbeddings())
    leg = next(q["sql"] for q in queries.captured_queries if "ORDER BY embedding" in q["sql"])
    assert "collection_id = ANY" in leg
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + leg)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "chunk_embedding_hnsw" in plan, plan
    # The HR officer reads both and gets the HR passages first: the test's vectors do point there.
    results = chunk_search(
        question="what is the salary band of the CEO", user=hr_officer, k=4, mode=SearchMode.VECTOR,
        embedder=FixedEmbeddings(),
    )  # fmt: skip
    assert {r.collection_id for r in results} == {hr.pk}


def test_hydration_drops_chunks_outside_the_readable_collections() -> None:
    """The second line of defence: ids that reach hydration from a leg that lost its filter
    are dropped unless their collection is readable."""
    from ingestion.selectors.search import _hydrate

    a = collection_create(name="A only", groups=("group-a",))
    b = collection_create(name="B only", groups=("group-b",))
    _ingest(a, ALPHA, "alpha.md")
    _ingest(b, BETA, "beta.md")
    ids = list(Chunk.objects.values_list("pk", flat=True))
    rows = _hydrate(ids, collection_ids=[a.pk])
    assert rows and {int(row[2]) for row in rows.values()} == {a.pk}
    assert _hydrate(ids, collection_ids=[]) == {}
