"""A real Celery worker killed with SIGKILL in the middle of a document: the task runs again on
another worker and the document ends ready with exactly one set of chunks."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.conf import settings

from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.services.documents import document_create_from_bytes
from tests.factories import collection_create
from tests.helpers import database_url_for, stop_process

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _start_worker(celery_worker_for):
    # Hand an unacknowledged task to another worker after 5 s instead of 15 minutes.
    return celery_worker_for(
        settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]), CELERY_VISIBILITY_TIMEOUT="5"
    )


def test_worker_killed_mid_document_leaves_no_duplicates(celery_worker_for) -> None:
    paragraphs = [
        f"## Part {i}\n\nSection {i} explains how widget {i} connects to port {i % 97}. "
        + "Filler sentence about widgets. " * 25
        for i in range(700)
    ]
    data = ("# Big manual\n\n" + "\n\n".join(paragraphs)).encode()
    collection = collection_create(name="Faults")
    first = _start_worker(celery_worker_for)
    try:
        document = document_create_from_bytes(collection=collection, data=data, source_name="big.md").document
        _wait(
            lambda: Document.objects.get(pk=document.pk).status == DocumentStatus.EMBEDDING
            and Document.objects.get(pk=document.pk).progress >= 40,
            180,
            "embedding to be under way",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert Document.objects.get(pk=document.pk).status == DocumentStatus.EMBEDDING
        assert not Chunk.objects.filter(document_id=document.pk).exists()  # nothing half-written

        _start_worker(celery_worker_for)  # the rescuer
        _wait(lambda: Document.objects.get(pk=document.pk).status == DocumentStatus.READY, 300, "the rerun to finish")
        document.refresh_from_db()
        assert document.attempts >= 2
        chunks = Chunk.objects.filter(document_id=document.pk)
        assert chunks.count() == document.chunk_count
        assert chunks.values("ordinal").distinct().count() == document.chunk_count
    finally:
        stop_process(first)
