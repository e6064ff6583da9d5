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
from tests.conftest import database_url_for, process_env, stop_process
from tests.factories import collection_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _start_worker(name: str):  # noqa: ANN202
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = process_env(
        DATABASE_URL=database_url_for(settings.DATABASES["default"]["NAME"]),
        REDIS_URL=settings.REDIS_URL,
        # Hand an unacknowledged task to another worker after 5 s instead of 15 minutes.
        CELERY_VISIBILITY_TIMEOUT="5",
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            f"--hostname={name}-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
    )


def test_worker_killed_mid_document_leaves_no_duplicates() -> None:
    paragraphs = [
        f"## Part {i}\n\nSection {i} explains how widget {i} connects to port {i % 97}. "
        + "Filler sentence about widgets. " * 25
        for i in range(700)
    ]
    data = ("# Big manual\n\n" + "\n\n".join(paragraphs)).encode()
    collection = collection_create(name="Faults")
    first = _start_worker("doomed")
    second = None
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

        second = _start_worker("rescuer")
        _wait(lambda: Document.objects.get(pk=document.pk).status == DocumentStatus.READY, 300, "the rerun to finish")
        document.refresh_from_db()
        assert document.attempts >= 2
        chunks = Chunk.objects.filter(document_id=document.pk)
        assert chunks.count() == document.chunk_count
        assert chunks.values("ordinal").distinct().count() == document.chunk_count
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
