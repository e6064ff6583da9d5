"""Writing documents: create from bytes (deduplicated by content hash)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction

from ingestion.models import Collection, Document


@dataclass(frozen=True)
class DocumentCreateResult:
    document: Document
    created: bool


def content_hash_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@transaction.atomic
def document_create_from_bytes(
    *,
    collection: Collection,
    data: bytes,
    source_name: str,
    title: str | None = None,
    uploaded_by: User | None = None,
) -> DocumentCreateResult:
    """Store a document's original bytes once per collection.

    The same content uploaded again into the same collection returns the existing document
    (``created=False``); nothing is stored twice. Uniqueness is also enforced by a constraint,
    and the row lock below makes concurrent uploads of the same bytes agree.
    """
    digest = content_hash_of(data)
    Collection.objects.select_for_update().filter(pk=collection.pk).first()
    existing = Document.objects.filter(collection=collection, content_hash=digest).first()
    if existing is not None:
        return DocumentCreateResult(document=existing, created=False)
    filename = PurePath(source_name).name or "document"
    document = Document(
        collection=collection,
        title=title or PurePath(filename).stem.replace("_", " ").replace("-", " ").strip() or filename,
        source_name=source_name,
        content_hash=digest,
        size_bytes=len(data),
        uploaded_by=uploaded_by,
    )
    document.file.save(filename, ContentFile(data), save=False)
    document.save()
    return DocumentCreateResult(document=document, created=True)


@transaction.atomic
def collection_ensure(*, name: str, slug: str, description: str = "") -> Collection:
    collection, _ = Collection.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})
    return collection
