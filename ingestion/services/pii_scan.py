"""Personal data in passages, found ahead of questions (issue #14).

Scrubbing a question's prompt before an external model (``qa.pipeline.privacy``) needs the
personal values in the question and in every passage sent with it. The NER model costs about
0.085 ms per word here, ~65 ms for five passages: too slow to run on each question. So a
passage's detections are stored with it (``Chunk.pii_spans``): filled by the off-peak beat job
(``ingestion.pii_scan``, a bounded batch of unscanned chunks per run) and written back whenever a
question's scrubbing had to analyse a passage itself. Detections carry the types they looked
for: when an installation enables more national ids, stored detections no longer match and the
passage is analysed again."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from core.pii import PiiSpan, PiiType, pii_detect, pii_spans_dump, pii_spans_load, pii_types_enabled
from ingestion.models import Chunk

logger = logging.getLogger(__name__)


def pii_types_configured() -> frozenset[PiiType]:
    """The types this installation scrubs (the defaults plus ``PII_NATIONAL_IDS``)."""
    return pii_types_enabled(national_ids=settings.PII_NATIONAL_IDS)


def chunk_pii_known(
    *, chunk_ids: list[int], enabled: frozenset[PiiType]
) -> dict[int, tuple[str, tuple[PiiSpan, ...] | None]]:
    """These chunks' texts with their stored detections when they were made for exactly
    ``enabled`` (None: not scanned yet, or for other types). One query."""
    rows = Chunk.objects.filter(pk__in=chunk_ids).values_list("pk", "text", "pii_spans")
    return {pk: (text, pii_spans_load(data=data, enabled=enabled)) for pk, text, data in rows}


def chunk_pii_save(*, detections: Mapping[int, tuple[PiiSpan, ...]], enabled: frozenset[PiiType]) -> None:
    """Store detections of chunks' texts (as analysed, unchanged) for later questions."""
    with transaction.atomic():
        for pk, spans in detections.items():
            Chunk.objects.filter(pk=pk).update(pii_spans=pii_spans_dump(spans=spans, enabled=enabled))


def chunks_pii_scan(*, limit: int, batch_size: int = 64) -> dict[str, Any]:
    """Analyse up to ``limit`` chunks that have no stored detections (newest documents first:
    they are the ones questions are about to reach), in batches. Returns counts."""
    enabled = pii_types_configured()
    scanned = with_pii = 0
    while scanned < limit:
        rows = list(
            Chunk.objects.filter(pii_spans__isnull=True, document__is_current=True)
            .order_by("-document_id", "ordinal")
            .values_list("pk", "text")[: min(batch_size, limit - scanned)]
        )
        if not rows:
            break
        spans = pii_detect(texts=[text for _, text in rows], enabled=enabled)
        chunk_pii_save(detections={pk: found for (pk, _), found in zip(rows, spans, strict=True)}, enabled=enabled)
        scanned += len(rows)
        with_pii += sum(1 for found in spans if found)
    remaining = Chunk.objects.filter(pii_spans__isnull=True, document__is_current=True).count()
    logger.info("ingestion.pii_scan scanned=%s with_pii=%s remaining=%s", scanned, with_pii, remaining)
    return {"scanned": scanned, "with_pii": with_pii, "remaining": remaining}
