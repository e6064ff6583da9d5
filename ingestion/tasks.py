"""Celery tasks of ingestion: they take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from ingestion.services.pipeline import document_process
from ingestion.services.status import FAILURE_UNAVAILABLE, FAILURE_UNEXPECTED, document_fail, failure_detail

logger = logging.getLogger(__name__)
TRANSIENT_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, OSError)
MAX_RETRIES = 3


@shared_task(
    name="ingestion.process_document",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=settings.INGESTION_TASK_TIME_LIMIT,
    time_limit=settings.INGESTION_TASK_TIME_LIMIT + 30,
)
def process_document(self, document_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    try:
        result = document_process(document_id=document_id)
    except SoftTimeLimitExceeded:
        document_fail(
            document_id=document_id,
            reason=f"processing took longer than {settings.INGESTION_TASK_TIME_LIMIT} s and was stopped",
        )
        return {"document_id": document_id, "status": "failed"}
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            logger.exception("ingestion.retries_exhausted document_id=%s", document_id)
            document_fail(
                document_id=document_id,
                reason=FAILURE_UNAVAILABLE,
                detail=f"failed after {MAX_RETRIES + 1} attempts\n{failure_detail(exc)}",
            )
            return {"document_id": document_id, "status": "failed"}
        countdown = 2 ** (self.request.retries + 1)
        logger.warning("ingestion.retry document_id=%s in=%ss error=%s", document_id, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:  # noqa: BLE001 - a bug must still leave a visible reason
        logger.exception("ingestion.unexpected_error document_id=%s", document_id)
        document_fail(document_id=document_id, reason=FAILURE_UNEXPECTED, detail=failure_detail(exc))
        return {"document_id": document_id, "status": "failed"}
    return {"document_id": result.document_id, "status": result.status, "chunks": result.chunk_count}


@shared_task(name="ingestion.pii_scan", acks_late=True)
def pii_scan() -> dict[str, object]:
    """Off-peak: find personal data in passages not scanned yet (``services.pii_scan``)."""
    from ingestion.services.pii_scan import chunks_pii_scan

    return chunks_pii_scan(limit=settings.PII_SCAN_BATCH)
