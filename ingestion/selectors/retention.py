"""What retention may touch on ingestion's side (issue #14): the collections under legal hold,
and the original files whose data class's period is over (qa.services.retention asks)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from ingestion.models import Collection, Document, DocumentStatus

# A document still being processed needs its file; only finished ones lose it.
_FINISHED = (DocumentStatus.READY, DocumentStatus.FAILED)


def collection_ids_on_legal_hold() -> list[int]:
    """The collections retention must leave alone (few: a hold is an exception)."""
    return list(Collection.objects.filter(legal_hold=True).values_list("pk", flat=True))


def document_ids_on_legal_hold() -> QuerySet[Document, int]:
    """The documents of held collections, as a subquery (an answer citing one is held too)."""
    return Document.objects.filter(collection__legal_hold=True).values_list("pk", flat=True)


def originals_expired(*, data_class: str, before: datetime, held: bool = False) -> QuerySet[Document]:
    """Finished documents of ``data_class`` collections uploaded before ``before`` that still have
    their original file: outside a legal hold (or, ``held=True``, the ones a hold keeps)."""
    return Document.objects.filter(
        collection__classification=data_class, collection__legal_hold=held, created_at__lt=before,
        status__in=_FINISHED, original_removed_at__isnull=True,
    ).exclude(file="")  # fmt: skip
