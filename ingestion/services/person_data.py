"""A person's data held by ingestion: the documents they uploaded (the documents belong to
their collections and stay; only the link to the uploader is personal)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from ingestion.models import Document


def ingestion_person_export(*, user: User) -> dict[str, Any]:
    """The documents the person uploaded: which, where and when (not their content: it belongs
    to the collection, not to the uploader)."""
    rows = Document.objects.filter(uploaded_by=user).select_related("collection").order_by("created_at")
    return {
        "documents_uploaded": [
            {
                "id": d.pk,
                "title": d.title,
                "source_name": d.source_name,
                "collection": d.collection.name,
                "version": d.version,
                "uploaded_at": d.created_at,
            }
            for d in rows
        ]  # fmt: skip
    }


@transaction.atomic
def ingestion_person_erase(*, user: User) -> dict[str, int]:
    """Forget who uploaded the person's documents (the documents stay); the counts."""
    return {"documents_uploader_removed": Document.objects.filter(uploaded_by=user).update(uploaded_by=None)}
