"""Writing documents: upload (validated, deduplicated, versioned, queued), delete, status."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from core.errors import ApplicationError
from core.models import AuditAction
from core.services.audit import Actor, AuditRequest, audit_record
from core.services.rate_limits import RateScope, rate_limit_require
from ingestion.models import Collection, Document
from ingestion.parsers import UnsupportedFileType, file_format_of
from ingestion.selectors.collections import collection_list_uploadable
from ingestion.services.injection_scan import label_clean
from ingestion.services.status import document_status_broadcast
from ingestion.signals import document_changed


@dataclass(frozen=True)
class DocumentCreateResult:
    document: Document
    created: bool


def content_hash_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_validate(*, source_name: str, size: int) -> str:
    """Refuse what cannot be ingested before anything is stored; return the file format."""
    try:
        file_format = file_format_of(source_name)
    except UnsupportedFileType as exc:
        raise ApplicationError(str(exc)) from exc
    if size == 0:
        raise ApplicationError(f"{PurePath(source_name).name} is empty")
    limit = settings.INGESTION_MAX_UPLOAD_BYTES
    if size > limit:
        raise ApplicationError(
            f"{PurePath(source_name).name} is {size / 1_048_576:.1f} MB; the upload limit is {limit / 1_048_576:.0f} MB"
        )
    return file_format


@transaction.atomic
def document_create_from_bytes(
    *,
    collection: Collection,
    data: bytes,
    source_name: str,
    title: str | None = None,
    uploaded_by: User | None = None,
    enqueue: bool = True,
    request: AuditRequest | None = None,
) -> DocumentCreateResult:
    """Store a document's original bytes once per collection and queue its processing.

    - The same content uploaded again into the same collection returns the existing document
      (``created=False``); nothing is stored twice (also enforced by a unique constraint).
    - New content under the source name of a current document is a new version: it is
      processed aside and replaces the old one atomically when ready (``replaces``).
    - Unsupported types, empty and oversized files raise ApplicationError; nothing is stored.
    - A stored document is an audit event (uploaded or replaced; ``request`` gives the address).
    """
    file_format = upload_validate(source_name=source_name, size=len(data))
    digest = content_hash_of(data)
    # Serialise uploads into one collection so that two uploads of the same bytes, or two new
    # versions of one source, cannot race each other.
    Collection.objects.select_for_update().get(pk=collection.pk)
    existing = Document.objects.filter(collection=collection, content_hash=digest).first()
    if existing is not None:
        return DocumentCreateResult(document=existing, created=False)
    previous = (
        Document.objects.filter(collection=collection, source_name=source_name, is_current=True)
        .order_by("-version")
        .first()
    )
    filename = PurePath(source_name).name or "document"
    document = Document(
        collection=collection,
        # Titles are uploader-controlled and reach the prompt: cleaned like parsed titles.
        title=label_clean(title or PurePath(filename).stem.replace("_", " ").replace("-", " ").strip() or filename)
        or "Untitled document",
        source_name=source_name,
        content_hash=digest,
        size_bytes=len(data),
        uploaded_by=uploaded_by,
        file_format=file_format,
        replaces=previous,
        version=(previous.version + 1) if previous else 1,
    )
    document.file.save(filename, ContentFile(data), save=False)
    document.save()
    audit_record(
        action=AuditAction.DOCUMENT_REPLACED if previous else AuditAction.DOCUMENT_UPLOADED, actor=uploaded_by,
        target_type="document", target_id=document.pk, request=request,
        before={"document_id": previous.pk, "version": previous.version} if previous else None,
        after=_audit_state(document),
    )  # fmt: skip
    document_status_broadcast(document)
    if enqueue:
        document_enqueue(document=document)
    return DocumentCreateResult(document=document, created=True)


def document_enqueue(*, document: Document) -> None:
    """Queue processing after the transaction commits (the worker must see the row)."""
    from ingestion.tasks import process_document

    document_id = document.pk
    transaction.on_commit(lambda: process_document.delay(document_id))


def _audit_state(document: Document) -> dict[str, object]:
    """What the audit trail keeps of a document (not its text: the trail outlives it)."""
    return {
        "title": document.title, "source_name": document.source_name, "collection_id": document.collection_id,
        "version": document.version, "content_hash": document.content_hash, "size_bytes": document.size_bytes,
    }  # fmt: skip


@transaction.atomic
def document_delete(*, document: Document, actor: Actor = None, request: AuditRequest | None = None) -> None:
    """Delete a document, its chunks and its file; tell listeners after commit. Audited."""
    document_id, collection_id = document.pk, document.collection_id
    storage, name = document.file.storage, document.file.name
    audit_record(
        action=AuditAction.DOCUMENT_DELETED, actor=actor, target_type="document", target_id=document_id,
        before=_audit_state(document), request=request,
    )  # fmt: skip
    document.delete()
    transaction.on_commit(lambda: storage.delete(name) if name else None)
    transaction.on_commit(
        lambda: document_changed.send(
            sender=Document, document_id=document_id, collection_id=collection_id, reason="deleted"
        )
    )


@transaction.atomic
def document_move(
    *, document: Document, collection: Collection, actor: Actor = None, request: AuditRequest | None = None
) -> Document:
    """Move a document and its chunks to another collection in one transaction.

    ``Chunk.collection`` is a copy of the document's collection (the access filter runs on the
    chunk table alone), so changing only the document would leave its passages readable by the
    old collection's readers and hidden from the new ones. Stored answers citing the document
    are forgotten after commit (the ``document_changed`` signal): they were checked against the
    old collection's readers. Audited."""
    from ingestion.models import Chunk

    locked = Document.objects.select_for_update().get(pk=document.pk)
    old_collection_id = locked.collection_id
    if old_collection_id == collection.pk:
        return locked
    if Document.objects.filter(collection=collection, content_hash=locked.content_hash).exists():
        raise ApplicationError(f"{collection.name} already holds a document with the same content.")
    locked.collection = collection
    locked.save(update_fields=["collection", "updated_at"])
    Chunk.objects.filter(document_id=locked.pk).update(collection=collection)
    audit_record(
        action=AuditAction.DOCUMENT_MOVED, actor=actor, target_type="document", target_id=locked.pk,
        before={"collection_id": old_collection_id}, after={"collection_id": collection.pk}, request=request,
    )  # fmt: skip
    document_id = locked.pk
    transaction.on_commit(
        lambda: document_changed.send(
            sender=Document, document_id=document_id, collection_id=old_collection_id, reason="moved"
        )
    )
    return locked


@transaction.atomic
def collection_ensure(*, name: str, slug: str, description: str = "") -> Collection:
    collection, _ = Collection.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})
    return collection


def document_upload(
    *, collection: Collection, uploaded_file: UploadedFile, user: User | None, request: AuditRequest | None = None
) -> DocumentCreateResult:
    """Ingest a file from a form or API upload. The size is checked before the body is read."""
    name = uploaded_file.name or "upload"
    upload_validate(source_name=name, size=uploaded_file.size or 0)
    data = uploaded_file.read(settings.INGESTION_MAX_UPLOAD_BYTES + 1)
    return document_create_from_bytes(
        collection=collection, data=data, source_name=name, uploaded_by=user, request=request
    )


@dataclass
class UploadBatchResult:
    documents: list[Document]  # new and already-present ones, in upload order
    created: int
    refused: list[str]  # why each refused file was refused
    duplicates: list[str]  # one line per file whose content was already in the collection


def documents_upload(
    *, collection: Collection, uploaded_files: list[UploadedFile], user: User | None,
    request: AuditRequest | None = None,
) -> UploadBatchResult:  # fmt: skip
    """Several files into one collection (documents page, admin): each file on its own, so one
    bad file refuses only itself. A signed-in uploader must be allowed to upload into the
    collection (the admin's form once offered every collection to any staff user)."""
    if user is not None and not collection_list_uploadable(user=user).filter(pk=collection.pk).exists():
        raise ApplicationError(f"You may not upload documents into {collection.name}.")
    if user is not None:
        # The same per-user upload budget as the upload API (one batch counts once).
        rate_limit_require(scope=RateScope.UPLOADS, identity=str(user.pk))
    result = UploadBatchResult(documents=[], created=0, refused=[], duplicates=[])
    for uploaded in uploaded_files:
        try:
            outcome = document_upload(collection=collection, uploaded_file=uploaded, user=user, request=request)
        except ApplicationError as exc:
            result.refused.append(exc.message)
            continue
        result.documents.append(outcome.document)
        if outcome.created:
            result.created += 1
        else:
            result.duplicates.append(
                f"{uploaded.name} is already in {collection.name} (same content); not stored again."
            )
    return result
