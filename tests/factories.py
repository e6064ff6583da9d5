"""Small factories for tests (plain functions over the services' public surface)."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def user_create(
    *, username: str | None = None, groups: tuple[str, ...] = (), staff: bool = False, superuser: bool = False
) -> AbstractUser:
    model = get_user_model()
    name = username or f"user{next(_counter)}"
    if superuser:
        user = model.objects.create_superuser(username=name, password=PASSWORD, email="")
    else:
        user = model.objects.create_user(username=name, password=PASSWORD, is_staff=staff)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def collection_create(*, name: str, groups: tuple[str, ...] = (), users: tuple[AbstractUser, ...] = ()):
    from ingestion.models import Collection

    collection = Collection.objects.create(name=name, slug=name.lower().replace(" ", "-"))
    for group in groups:
        collection.reader_groups.add(Group.objects.get_or_create(name=group)[0])
    for user in users:
        collection.reader_users.add(user)
    return collection


def document_ingest(collection, data: bytes, name: str):
    """Create a document and run the ingestion pipeline in-process (no worker)."""
    from ingestion.services.documents import document_create_from_bytes
    from ingestion.services.pipeline import document_process

    document = document_create_from_bytes(collection=collection, data=data, source_name=name, enqueue=False).document
    document_process(document_id=document.pk)
    document.refresh_from_db()
    return document


def document_with_vectors(
    collection,
    *,
    title: str,
    source_name: str,
    content_hash: str,
    texts: list[str],
    vectors: list[list[float]],
    batch_size: int = 1000,
):
    """A ready document whose chunks are written directly with the given texts and vectors (no
    parsing, no embedding model): for index sizes and vector shapes that real ingestion cannot
    produce cheaply."""
    from ingestion.models import Chunk, Document, DocumentStatus

    document = Document.objects.create(
        collection=collection, title=title, source_name=source_name, content_hash=content_hash,
        status=DocumentStatus.READY, is_current=True, chunk_count=len(texts),
    )  # fmt: skip
    Chunk.objects.bulk_create(
        [
            Chunk(document=document, collection=collection, ordinal=i, text=text, embedding=vector)
            for i, (text, vector) in enumerate(zip(texts, vectors, strict=True))
        ],
        batch_size=batch_size,
    )
    return document
