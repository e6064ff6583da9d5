"""The Celery task's fault handling: transient errors retry with backoff, permanent ones fail
at once, and running out of retries records a reason the user can see."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from ingestion.models import DocumentStatus
from ingestion.services.documents import document_create_from_bytes
from ingestion.services.pipeline import ProcessResult
from ingestion.services.status import FAILURE_UNAVAILABLE
from ingestion.tasks import MAX_RETRIES, process_document
from tests.factories import collection_create

pytestmark = pytest.mark.django_db


def _document():
    collection = collection_create(name="Tasks")
    return document_create_from_bytes(
        collection=collection, data=b"# T\n\ntext", source_name="t.md", enqueue=False
    ).document


def test_transient_error_is_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    document = _document()
    calls: list[int] = []
    countdowns: list[int] = []
    real_retry = process_document.retry

    def flaky(*, document_id: int) -> ProcessResult:
        calls.append(document_id)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return ProcessResult(document_id, DocumentStatus.READY, 1, 0.1)

    def recording_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return real_retry(*args, **kwargs)

    monkeypatch.setattr("ingestion.tasks.document_process", flaky)
    monkeypatch.setattr(process_document, "retry", recording_retry)
    result = process_document.apply(args=[document.pk]).get()
    assert result["status"] == DocumentStatus.READY
    assert len(calls) == 3
    assert countdowns == [2, 4]  # exponential backoff


def test_retries_exhausted_records_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    document = _document()

    def always_down(*, document_id: int) -> ProcessResult:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("ingestion.tasks.document_process", always_down)
    result = process_document.apply(args=[document.pk]).get()
    document.refresh_from_db()
    assert result["status"] == "failed"
    assert document.status == DocumentStatus.FAILED
    # Readers get the reason; the attempts and the exception are for admins (error_detail).
    assert document.error == FAILURE_UNAVAILABLE
    assert f"failed after {MAX_RETRIES + 1} attempts" in document.error_detail
    assert "could not connect to server" in document.error_detail


def test_permanent_error_fails_at_once_without_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    collection = collection_create(name="Corrupt")
    document = document_create_from_bytes(
        collection=collection, data=b"PK\x03\x04junk", source_name="x.docx", enqueue=False
    ).document
    retries: list[object] = []
    monkeypatch.setattr(process_document, "retry", lambda *a, **k: retries.append(k))
    result = process_document.apply(args=[document.pk]).get()
    document.refresh_from_db()
    assert result["status"] == DocumentStatus.FAILED and document.status == DocumentStatus.FAILED
    assert "corrupt" in document.error and retries == []


def test_processing_over_the_time_limit_fails_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    document = _document()

    def too_slow(*, document_id: int) -> ProcessResult:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("ingestion.tasks.document_process", too_slow)
    result = process_document.apply(args=[document.pk]).get()
    document.refresh_from_db()
    assert result["status"] == "failed" and document.status == DocumentStatus.FAILED
    assert "took longer than" in document.error
