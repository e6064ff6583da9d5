"""Benchmark 1 of issue #3: ingest the Python 3.11 documentation through the real pipeline
(Celery workers, PostgreSQL + pgvector) and compare with an in-process baseline.

    .venv/bin/python bench/ingest_python_docs.py [--concurrency 2]

Prints wall time, pages/s, chunks/s and the workers' peak memory, then the same pipeline run
in this process without Celery or the database on a 40-page sample (the baseline), as a ratio.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (  # noqa: E402
    DOCS_COLLECTION,
    PYTHON_DOCS,
    django_setup,
    machine,
    process_tree_peak_rss_mb,
    workers,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep an existing ingested collection (skip ingestion)")
    args = parser.parse_args()
    django_setup()
    from ingestion.models import Chunk, Collection, Document, DocumentStatus
    from ingestion.parsers import ParseError, parse_document
    from ingestion.services.batch import batch_ingest, batch_wait
    from ingestion.services.chunking import chunk_document
    from ingestion.services.documents import document_delete
    from providers.registry import embedding_provider_default

    print(f"machine: {machine()}")
    pages = sorted(PYTHON_DOCS.rglob("*.html"))
    if not pages:
        raise SystemExit(f"no HTML pages under {PYTHON_DOCS}: install Debian's python3.11-doc or set PYTHON_DOCS_HTML")
    print(f"corpus: {PYTHON_DOCS} ({len(pages)} HTML pages, {sum(p.stat().st_size for p in pages) / 1e6:.1f} MB)")
    existing = Collection.objects.filter(name=DOCS_COLLECTION).first()
    if existing and args.keep and Document.objects.filter(collection=existing, status=DocumentStatus.READY).exists():
        print("keeping the existing collection; ingestion not re-run")
        return
    if existing:
        for document in Document.objects.filter(collection=existing):
            document_delete(document=document)

    peak = 0.0
    with workers(args.concurrency) as worker:
        stop = threading.Event()

        def sample_memory() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, process_tree_peak_rss_mb(worker.pid))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample_memory, daemon=True)
        sampler.start()
        started = time.perf_counter()
        report = batch_ingest(paths=[PYTHON_DOCS], collection_name=DOCS_COLLECTION, pattern="*.html")
        counts = batch_wait(document_ids=report.queued, timeout=3600)
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
    ready = counts.get(DocumentStatus.READY, 0)
    failed = Document.objects.filter(pk__in=report.queued, status=DocumentStatus.FAILED)
    chunks = Chunk.objects.filter(document_id__in=report.queued).count()
    print(
        f"pipeline (Celery, {args.concurrency} worker processes): {len(report.queued)} pages in {wall:.1f} s: "
        f"{ready} ready, {failed.count()} failed; {chunks} chunks; {len(report.queued) / wall:.2f} pages/s, "
        f"{chunks / wall:.1f} chunks/s; worker peak RSS {peak:.0f} MB (all processes)"
    )
    for document in failed:
        print(f"  failed {document.source_name}: {document.error}")

    # Baseline: the same parse, chunk and embed steps in this process, sequentially, no DB.
    sample = pages[:: max(1, len(pages) // 40)][:40]
    embedder = embedding_provider_default()
    embedder.embed_texts(["warm up"])
    started = time.perf_counter()
    baseline_chunks = 0
    for page in sample:
        try:
            parsed = parse_document(data=page.read_bytes(), name=page.name)
        except ParseError:
            continue
        drafts = chunk_document(parsed)
        embedder.embed_texts([d.embedding_text(parsed.title) for d in drafts])
        baseline_chunks += len(drafts)
    base = time.perf_counter() - started
    base_rate = len(sample) / base
    print(
        f"baseline (in-process, 1 thread, no Celery/DB, {len(sample)}-page sample): {base_rate:.2f} pages/s, "
        f"{baseline_chunks / base:.1f} chunks/s"
    )
    print(f"ratio pipeline/baseline pages/s: {len(report.queued) / wall / base_rate:.2f}x")


if __name__ == "__main__":
    main()
