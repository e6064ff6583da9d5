"""A document's processing status as readers see it: the stage, the failure reason (in words for
every reader, details for staff and document admins), and the live update to the pages that
list the collection. Used by the upload services, the processing pipeline and its task."""

from __future__ import annotations

import traceback

from django.db import transaction
from django.utils import timezone

from core.realtime import broadcast_on_commit
from ingestion.models import Document, DocumentStatus


def collection_group_name(collection_id: int) -> str:
    return f"ingestion.collection.{collection_id}"


def document_status_payload(document: Document) -> dict[str, object]:
    return {
        "document_id": document.pk,
        "collection_id": document.collection_id,
        "collection_name": document.collection.name,
        "source_name": document.source_name,
        "created_at": document.created_at.isoformat() if document.created_at else "",
        "title": document.title,
        "status": document.status,
        "status_display": document.get_status_display(),
        "progress": document.progress,
        "error": document.error,
        # Rendered only for document admins (templates/ingestion/_document_row.html).
        "error_detail": document.error_detail,
        "chunk_count": document.chunk_count,
        "injection_flagged": document.injection_flagged,
    }


def document_status_broadcast(document: Document) -> None:
    broadcast_on_commit(
        group=collection_group_name(document.collection_id),
        event_type="ingestion.status",
        payload={"document": document_status_payload(document)},
    )


@transaction.atomic
def document_status_set(
    *, document_id: int, status: DocumentStatus, progress: int | None = None, error: str = "", error_detail: str = ""
) -> Document:
    """Set a document's stage; ``error`` is the reason every reader sees, ``error_detail`` the
    technical details only staff and document admins see."""
    document = Document.objects.select_for_update().get(pk=document_id)
    document.status = status
    if progress is not None:
        document.progress = progress
    document.error = error
    document.error_detail = error_detail
    if status == DocumentStatus.PARSING and document.started_at is None:
        document.started_at = timezone.now()
    if status in (DocumentStatus.READY, DocumentStatus.FAILED):
        document.finished_at = timezone.now()
    document.save(
        update_fields=["status", "progress", "error", "error_detail", "started_at", "finished_at", "updated_at"]
    )
    document_status_broadcast(document)
    return document


# Reasons for failures that are Verity's, not the file's: readers see these words, the exception
# goes to error_detail (its text can name paths, hosts and library internals).
FAILURE_UNEXPECTED = (
    "The file could not be processed because of an internal error; an administrator can see the details."
)
FAILURE_UNAVAILABLE = "Processing failed because a service Verity needs was unavailable; upload the file again later."
# A traceback's last lines name the failing call; the start is the task runner's frames.
ERROR_DETAIL_MAX_CHARS = 8000


def failure_detail(exc: BaseException) -> str:
    """An exception as an admin needs it: its type, its text and the traceback's end."""
    text = "".join(traceback.format_exception(exc)).strip()
    return text[-ERROR_DETAIL_MAX_CHARS:]


def document_fail(*, document_id: int, reason: str, detail: str = "") -> Document | None:
    """Record a failure where the user sees it: ``reason`` in words for every reader, ``detail``
    (exception text) for staff and document admins only. The document's earlier version (if
    any) stays current: a failed new version never removes what readers had."""
    if not Document.objects.filter(pk=document_id).exists():
        return None
    return document_status_set(
        document_id=document_id,
        status=DocumentStatus.FAILED,
        error=reason[:2000],
        error_detail=detail[-ERROR_DETAIL_MAX_CHARS:],
    )
