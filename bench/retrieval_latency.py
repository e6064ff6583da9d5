"""Benchmark 2 of issue #3: retrieval latency (query embedding included), HNSW recall@10
against an exact scan, and a user who can read only a collection holding 1% of the chunks.

    .venv/bin/python bench/retrieval_latency.py [--scale 100000]

Phase 1 runs on the ingested Python documentation. Phase 2 adds synthetic chunks up to
``--scale`` rows: texts copied from real chunks and vectors drawn around real ones (a real
vector plus Gaussian noise, renormalised) so that the index sees realistic clusters; 1% of the
rows go to a separate collection for phase 3. The baseline of each phase is in the same run:
the exact scan for latency and recall, and a plain filtered HNSW query for rows returned.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DOCS_COLLECTION, EVAL_SET, django_setup, machine, percentile, summary_ms  # noqa: E402

SYNTHETIC = "Synthetic scale"
ONE_PERCENT = "Synthetic one percent"


def queries() -> list[str]:
    items = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    questions = [item["question"] for item in items]
    # 100 queries: the 50 questions, then the same questions reworded as keyword queries.
    keyword = [" ".join(q.replace("?", "").split()[-6:]) for q in questions]
    return questions + keyword


def timed_search(question: str, user, **kwargs) -> tuple[float, list, object]:  # noqa: ANN001
    from ingestion.selectors.search import SearchTrace, chunk_search

    trace = SearchTrace()
    started = time.perf_counter()
    results = chunk_search(question=question, user=user, trace=trace, **kwargs)
    return (time.perf_counter() - started) * 1000, results, trace


def vector_ids(question: str, user, exact: bool, embedder) -> list[int]:  # noqa: ANN001
    from django.test import override_settings

    from ingestion.selectors.search import SearchMode, chunk_search

    with override_settings(RETRIEVAL_EXACT_SCAN_MAX_ROWS=10**9 if exact else 0):
        return [
            r.chunk_id
            for r in chunk_search(question=question, user=user, k=10, mode=SearchMode.VECTOR, embedder=embedder)
        ]


def recall_at_10(qs: list[str], user, embedder) -> float:  # noqa: ANN001
    total = 0.0
    for q in qs:
        truth = set(vector_ids(q, user, True, embedder))
        got = set(vector_ids(q, user, False, embedder))
        total += len(truth & got) / max(1, len(truth))
    return total / len(qs)


def phase(label: str, qs: list[str], user, embedder) -> dict[str, float]:  # noqa: ANN001
    from django.test import override_settings

    from ingestion.selectors.search import SearchMode

    for q in qs[:5]:
        timed_search(q, user, k=10, embedder=embedder)  # warm caches and the model
    hybrid = [timed_search(q, user, k=10, embedder=embedder) for q in qs]
    latencies = [t for t, _, _ in hybrid]
    rows = [len(r) for _, r, _ in hybrid]
    strategies = sorted({tr.vector_strategy for _, _, tr in hybrid})
    embed_ms = [tr.timings_ms.get("embed", 0.0) for _, _, tr in hybrid]
    fulltext_ms = [tr.timings_ms.get("fulltext", 0.0) for _, _, tr in hybrid]
    vector_ms = [tr.timings_ms.get("vector", 0.0) for _, _, tr in hybrid]
    with override_settings(RETRIEVAL_EXACT_SCAN_MAX_ROWS=10**9):
        exact = [timed_search(q, user, k=10, embedder=embedder, mode=SearchMode.VECTOR)[0] for q in qs]
    with override_settings(RETRIEVAL_EXACT_SCAN_MAX_ROWS=0):
        hnsw = [timed_search(q, user, k=10, embedder=embedder, mode=SearchMode.VECTOR)[0] for q in qs]
    recall = recall_at_10(qs, user, embedder)
    print(f"[{label}] hybrid search (embedding included): {summary_ms(latencies)}; vector strategy {strategies}")
    print(f"[{label}]   of which query embedding: {summary_ms(embed_ms)}")
    print(f"[{label}]   of which vector leg: {summary_ms(vector_ms)}; full-text leg: {summary_ms(fulltext_ms)}")
    print(
        f"[{label}] vector leg alone: HNSW {summary_ms(hnsw)} vs exact scan {summary_ms(exact)}; "
        f"p95 ratio exact/HNSW {percentile(exact, 95) / percentile(hnsw, 95):.2f}x"
    )
    print(
        f"[{label}] rows per query: min {min(rows)}, mean {sum(rows) / len(rows):.1f}; HNSW recall@10 vs exact {recall:.3f}"
    )
    return {
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "recall_at_10": recall,
        "min_rows": min(rows),
    }


def plain_filtered_hnsw_rows(qs: list[str], collection_id: int, embedder, post_filter: bool) -> list[int]:  # noqa: ANN001
    """Naive queries, for comparison, with pgvector's default ef_search (40): the filter in
    WHERE (the planner decides whether to use HNSW), or the HNSW scan then the filter (what
    HNSW does whenever it is used with a filter)."""
    from django.db import connection, transaction

    counts = []
    for q in qs:
        vector = "[" + ",".join(f"{x:.7f}" for x in embedder.embed_query(q)) + "]"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = 40")
            if post_filter:
                cursor.execute(
                    "SELECT id FROM (SELECT id, collection_id FROM ingestion_chunk ORDER BY embedding <=> %s::vector "
                    "LIMIT 40) s WHERE collection_id = %s LIMIT 10",
                    [vector, collection_id],
                )
            else:
                cursor.execute(
                    "SELECT id FROM ingestion_chunk WHERE collection_id = %s ORDER BY embedding <=> %s::vector LIMIT 10",
                    [collection_id, vector],
                )
            counts.append(len(cursor.fetchall()))
    return counts


def add_synthetic(target_rows: int) -> None:
    import numpy as np
    from django.db import connection

    from ingestion.models import Chunk, Collection, Document, DocumentStatus
    from ingestion.services.documents import document_delete

    for document in Document.objects.filter(collection__name__in=[SYNTHETIC, ONE_PERCENT]):
        document_delete(document=document)  # start from the real corpus alone, every run
    existing = Chunk.objects.count()
    need = target_rows - existing
    one_percent = target_rows // 100
    real = list(Chunk.objects.filter(collection__name=DOCS_COLLECTION).values_list("text", "embedding")[:20000])
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    for name, rows in ((ONE_PERCENT, one_percent), (SYNTHETIC, need - one_percent)):
        collection, _ = Collection.objects.get_or_create(name=name, defaults={"slug": name.lower().replace(" ", "-")})
        document = Document.objects.create(
            collection=collection,
            title=name,
            source_name=f"{collection.slug}.txt",
            content_hash=f"synthetic-{name}",
            status=DocumentStatus.READY,
            is_current=True,
            chunk_count=rows,
        )
        batch = []
        for i in range(rows):
            text, vector = real[int(rng.integers(len(real)))]
            noisy = np.asarray(vector) + rng.normal(0, 0.03, size=384)
            noisy /= np.linalg.norm(noisy)
            batch.append(
                Chunk(document=document, collection=collection, ordinal=i, text=text, embedding=noisy.tolist())
            )
            if len(batch) == 2000:
                Chunk.objects.bulk_create(batch)
                batch = []
        Chunk.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        # Deleted rows stay in the HNSW graph until VACUUM repairs it; measure a maintained index.
        cursor.execute("VACUUM ANALYZE ingestion_chunk")
    print(f"added {need} synthetic chunks in {time.perf_counter() - started:.0f} s (total {Chunk.objects.count()})")


def thread_comparison(embedder) -> None:  # noqa: ANN001
    import torch

    qs = queries()[:40]
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        embedder.embed_query("warm up")
        samples = []
        for q in qs:
            started = time.perf_counter()
            embedder.embed_query(q)
            samples.append((time.perf_counter() - started) * 1000)
        results[threads] = samples
        print(f"query embedding with torch threads={threads}: {summary_ms(samples)}")
    torch.set_num_threads(1)
    print(f"p95 ratio 2 threads / 1 thread: {percentile(results[2], 95) / percentile(results[1], 95):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--drop-synthetic", action="store_true", help="remove the synthetic rows at the end")
    args = parser.parse_args()
    django_setup()
    from django.contrib.auth import get_user_model

    from ingestion.models import Collection, Document
    from ingestion.services.documents import document_delete
    from providers.registry import embedding_provider_default

    print(f"machine: {machine()}")
    embedder = embedding_provider_default()
    thread_comparison(embedder)
    qs = queries()
    users = get_user_model().objects
    everything, _ = users.get_or_create(username="bench-all")
    docs = Collection.objects.get(name=DOCS_COLLECTION)
    docs.reader_users.add(everything)

    random.seed(1)
    results = {"corpus": phase("corpus", qs, everything, embedder)}
    add_synthetic(args.scale)
    for name in (SYNTHETIC, ONE_PERCENT):
        Collection.objects.get(name=name).reader_users.add(everything)
    results["scale"] = phase(f"{args.scale} chunks", qs, everything, embedder)
    small_reader, _ = users.get_or_create(username="bench-one-percent")
    small = Collection.objects.get(name=ONE_PERCENT)
    small.reader_users.add(small_reader)
    results["one_percent"] = phase("1% reader", qs, small_reader, embedder)
    for post_filter, label in ((False, "filter in WHERE"), (True, "HNSW scan, then filter")):
        naive = plain_filtered_hnsw_rows(qs, small.pk, embedder, post_filter)
        print(
            f"[1% reader] baseline, plain query ({label}, ef_search 40): rows per query min {min(naive)}, "
            f"mean {sum(naive) / len(naive):.1f}, queries with fewer than 10: {sum(1 for n in naive if n < 10)}/{len(naive)}"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "retrieval_latency.json").write_text(json.dumps(results, indent=2))
    if args.drop_synthetic:
        for document in Document.objects.filter(collection__name__in=[SYNTHETIC, ONE_PERCENT]):
            document_delete(document=document)


if __name__ == "__main__":
    main()
