"""Processing one document: parse -> chunk -> embed -> write, with status and progress.

Idempotent: running it again (a worker killed mid-document, a redelivered task) rewrites the
document's chunks in one transaction, so there are never two sets and never a partial one.
A new version becomes current, and its predecessor disappears, in that same transaction:
readers see the old chunks until the new ones are complete.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import metrics
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.parsers import ParseError, ParseLimits, parse_document
from ingestion.services.chunking import ChunkDraft, chunk_document
from ingestion.services.injection_scan import injection_scan
from ingestion.services.status import document_status_broadcast, document_status_set, failure_detail
from ingestion.signals import document_changed
from providers.embeddings.base import EmbeddingProvider
from providers.registry import embedding_provider_default

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessResult:
    document_id: int
    status: str
    chunk_count: int
    seconds: float


def parse_limits_from_settings() -> ParseLimits:
    return ParseLimits(
        max_pages=settings.INGESTION_MAX_PAGES,
        max_chars=settings.INGESTION_MAX_CHARS,
        max_uncompressed_bytes=settings.INGESTION_MAX_UNCOMPRESSED_BYTES,
    )


def document_process(*, document_id: int, embedder: EmbeddingProvider | None = None) -> ProcessResult:
    """Run the whole pipeline for one document. ParseError (a problem with the file) marks the
    document failed with its reason and is not raised; other errors propagate so the task can
    retry them."""
    started = time.perf_counter()
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        logger.info("ingestion.process_skipped document_id=%s reason=deleted", document_id)
        return ProcessResult(document_id, "missing", 0, 0.0)
    if document.status == DocumentStatus.READY and document.is_current:
        return ProcessResult(document_id, DocumentStatus.READY, document.chunk_count, 0.0)
    Document.objects.filter(pk=document_id).update(attempts=document.attempts + 1)
    embedder = embedder or embedding_provider_default()

    document_status_set(document_id=document_id, status=DocumentStatus.PARSING, progress=5)
    try:
        with document.file.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        document_status_set(
            document_id=document_id,
            status=DocumentStatus.FAILED,
            error="the stored original file is missing; upload it again",
            error_detail=f"storage name: {document.file.name}",
        )
        return ProcessResult(document_id, DocumentStatus.FAILED, 0, time.perf_counter() - started)
    try:
        parsed = parse_document(data=data, name=document.source_name, limits=parse_limits_from_settings())
    except ParseError as exc:
        # ParseError's message is written for readers; the library's exception behind it is not.
        document_status_set(
            document_id=document_id,
            status=DocumentStatus.FAILED,
            error=str(exc),
            error_detail=failure_detail(exc.__cause__) if exc.__cause__ else "",
        )
        logger.info("ingestion.parse_failed document_id=%s reason=%s", document_id, exc)
        metrics.ERRORS.labels(where="ingestion").inc()
        return ProcessResult(document_id, DocumentStatus.FAILED, 0, time.perf_counter() - started)

    document_status_set(document_id=document_id, status=DocumentStatus.CHUNKING, progress=20)
    drafts = chunk_document(parsed)
    title = parsed.title or document.title
    injection_flags = document_injection_findings(labels=parsed.original_labels, chunks=drafts)

    document_status_set(document_id=document_id, status=DocumentStatus.EMBEDDING, progress=30)
    vectors: list[list[float]] = []
    batch = settings.INGESTION_EMBED_BATCH
    texts = [draft.embedding_text(title) for draft in drafts]
    for start in range(0, len(texts), batch):
        vectors.extend(embedder.embed_texts(texts[start : start + batch]))
        progress = 30 + int(65 * min(len(texts), start + batch) / max(1, len(texts)))
        if len(texts) > batch:
            Document.objects.filter(pk=document_id).update(progress=progress)
            document_status_broadcast(Document.objects.get(pk=document_id))

    chunks = [
        Chunk(
            document_id=document_id,
            collection_id=document.collection_id,
            ordinal=draft.ordinal,
            text=draft.text,
            heading_path=list(draft.heading_path),
            page=draft.page,
            char_start=draft.char_start,
            char_end=draft.char_end,
            embedding=vector,
        )
        for draft, vector in zip(drafts, vectors, strict=True)
    ]
    replaced = _chunks_write(
        document_id=document_id,
        chunks=chunks,
        title=title,
        parsed_pages=parsed.page_count,
        char_count=parsed.char_count,
        injection_flags=injection_flags,
    )
    seconds = time.perf_counter() - started
    logger.info(
        "ingestion.ready document_id=%s chunks=%s seconds=%.2f replaced=%s", document_id, len(chunks), seconds, replaced
    )
    return ProcessResult(document_id, DocumentStatus.READY, len(chunks), seconds)


# An admin reviews the findings; past this many the list says enough (a document built to
# trip the scan should not store megabytes of excerpts).
INJECTION_FLAGS_MAX = 50


def document_injection_findings(*, labels: list[str], chunks: list[ChunkDraft]) -> list[dict[str, object]]:
    """What in a document addresses the model: each finding with its pattern, reason, excerpt
    and where it is (a title or heading, or the chunk's ordinal)."""
    findings: list[dict[str, object]] = []
    for label in labels:
        findings.extend({**f.as_dict(), "where": "title or heading"} for f in injection_scan(text=label))
    for draft in chunks:
        findings.extend({**f.as_dict(), "where": f"chunk {draft.ordinal}"} for f in injection_scan(text=draft.text))
    return findings[:INJECTION_FLAGS_MAX]


@transaction.atomic
def _chunks_write(
    *,
    document_id: int,
    chunks: list[Chunk],
    title: str,
    parsed_pages: int | None,
    char_count: int,
    injection_flags: list[dict[str, object]],
) -> int | None:
    # The row lock serialises two runs of the same document (a redelivered task racing the
    # original): the second waits, then replaces the first's chunks instead of adding to them.
    document = Document.objects.select_for_update().get(pk=document_id)
    Chunk.objects.filter(document_id=document_id).delete()
    Chunk.objects.bulk_create(chunks, batch_size=500)
    replaced_id: int | None = None
    if document.replaces_id:
        previous = Document.objects.select_for_update().filter(pk=document.replaces_id).first()
        if previous is not None:
            replaced_id = previous.pk
            storage, name, collection_id = previous.file.storage, previous.file.name, previous.collection_id
            previous.delete()  # its chunks go with it, in this same transaction
            transaction.on_commit(lambda: storage.delete(name) if name else None)
            transaction.on_commit(
                lambda: document_changed.send(
                    sender=Document, document_id=replaced_id, collection_id=collection_id, reason="replaced"
                )
            )
    document.title = title[:500]
    document.page_count = parsed_pages
    document.char_count = char_count
    document.chunk_count = len(chunks)
    document.injection_flags = injection_flags
    document.injection_flagged = bool(injection_flags)
    document.is_current = True
    document.replaces = None
    document.status = DocumentStatus.READY
    document.progress = 100
    document.error = ""
    document.error_detail = ""
    document.finished_at = timezone.now()
    document.save()
    document_status_broadcast(document)
    # Counted when the ready state commits: a rolled-back write must not count its pages.
    transaction.on_commit(lambda: metrics.INGESTION_PAGES.inc(parsed_pages or 0))
    return replaced_id
