"""The ingestion pipeline with the real embedding model (all-MiniLM-L6-v2)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.errors import ApplicationError
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.services.documents import document_create_from_bytes, document_delete
from ingestion.services.pipeline import document_process
from ingestion.signals import document_changed
from tests.factories import collection_create
from tests.ingestion import samples

pytestmark = pytest.mark.django_db


def _upload(collection, data: bytes, name: str) -> Document:
    return document_create_from_bytes(collection=collection, data=data, source_name=name, enqueue=False).document


def test_markdown_document_becomes_ready_with_embedded_chunks() -> None:
    collection = collection_create(name="Manuals")
    document = _upload(collection, samples.MARKDOWN, "gadget.md")
    assert document.status == DocumentStatus.QUEUED
    result = document_process(document_id=document.pk)
    document.refresh_from_db()
    assert result.status == DocumentStatus.READY
    assert document.status == DocumentStatus.READY and document.is_current and document.progress == 100
    chunks = list(Chunk.objects.filter(document=document).order_by("ordinal"))
    assert len(chunks) == document.chunk_count >= 1
    assert len(chunks[0].embedding) == 384
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ingestion_chunk WHERE document_id = %s AND search_vector @@ websearch_to_tsquery('english', 'charging')",
            [document.pk],
        )
        assert cursor.fetchone()[0] >= 1
    assert any(c.heading_path[:2] == ["Gadget Manual", "Charging"] for c in chunks)


def test_each_format_is_processed() -> None:
    collection = collection_create(name="Formats")
    files = {
        "guide.html": samples.HTML,
        "gizmo.docx": samples.docx_bytes(),
        "report.pdf": samples.pdf_bytes(["First page.", "Second page has the 99 sprockets."]),
        "notes.txt": b"Plain notes about sprockets and widgets.",
    }
    for name, data in files.items():
        document = _upload(collection, data, name)
        assert document_process(document_id=document.pk).status == DocumentStatus.READY, name
    pdf_chunks = Chunk.objects.filter(document__source_name="report.pdf")
    assert sorted({c.page for c in pdf_chunks}) == [1, 2]


def test_corrupt_file_fails_at_once_with_its_reason() -> None:
    collection = collection_create(name="Broken")
    document = _upload(collection, b"%PDF-1.4 this is not really a pdf", "broken.pdf")
    result = document_process(document_id=document.pk)
    document.refresh_from_db()
    assert result.status == DocumentStatus.FAILED
    assert document.status == DocumentStatus.FAILED
    assert "corrupt" in document.error
    assert document.attempts == 1
    assert not Chunk.objects.filter(document=document).exists()
    assert document.file.read().startswith(b"%PDF")  # the original is kept


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"x", "deck.pptx", "not a supported type"),
        (b"", "empty.md", "is empty"),
    ],
)
def test_upload_refuses_before_storing(data: bytes, name: str, reason: str) -> None:
    collection = collection_create(name="Refusals")
    with pytest.raises(ApplicationError, match=reason):
        _upload(collection, data, name)
    assert not Document.objects.exists()


def test_oversized_upload_is_refused(settings) -> None:
    settings.INGESTION_MAX_UPLOAD_BYTES = 1000
    collection = collection_create(name="Big")
    with pytest.raises(ApplicationError, match="upload limit is"):
        _upload(collection, b"a" * 1001, "big.txt")
    assert not Document.objects.exists()


def test_duplicate_upload_is_not_stored_twice() -> None:
    collection = collection_create(name="Dupes")
    first = document_create_from_bytes(collection=collection, data=samples.MARKDOWN, source_name="a.md", enqueue=False)
    second = document_create_from_bytes(
        collection=collection, data=samples.MARKDOWN, source_name="copy.md", enqueue=False
    )
    assert first.created and not second.created
    assert second.document.pk == first.document.pk
    assert Document.objects.filter(collection=collection).count() == 1
    # Another collection is another scope: the same bytes may live there too.
    other = collection_create(name="Elsewhere")
    assert document_create_from_bytes(
        collection=other, data=samples.MARKDOWN, source_name="a.md", enqueue=False
    ).created


def test_processing_twice_leaves_one_set_of_chunks() -> None:
    collection = collection_create(name="Twice")
    document = _upload(collection, samples.MARKDOWN, "gadget.md")
    document_process(document_id=document.pk)
    count = Chunk.objects.filter(document=document).count()
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.EMBEDDING)  # as if redelivered mid-way
    document_process(document_id=document.pk)
    assert Chunk.objects.filter(document=document).count() == count


@pytest.mark.django_db(transaction=True)
def test_new_version_swaps_atomically_and_signals() -> None:
    collection = collection_create(name="Versions")
    v1 = _upload(collection, b"# Policy\n\nThe limit is 100 euros per night.", "policy.md")
    document_process(document_id=v1.pk)
    v2 = _upload(collection, b"# Policy\n\nThe limit is 250 euros per night, from now on.", "policy.md")
    assert v2.replaces_id == v1.pk and v2.version == 2 and not v2.is_current

    def texts() -> set[str]:
        return set(Chunk.objects.filter(collection=collection).values_list("text", flat=True))

    # Until the new version is complete, readers see the old one.
    assert any("100 euros" in t for t in texts())

    observed: list[tuple[bool, bool]] = []
    stop = threading.Event()

    def reader() -> None:
        from django.db import connections

        try:
            while not stop.is_set():
                current = " ".join(Chunk.objects.filter(collection=collection).values_list("text", flat=True))
                observed.append(("100 euros" in current, "250 euros" in current))
        finally:
            connections.close_all()

    signals: list[dict] = []

    def on_changed(sender, **kwargs) -> None:
        signals.append(kwargs)

    document_changed.connect(on_changed)
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        document_process(document_id=v2.pk)
    finally:
        stop.set()
        thread.join()
        document_changed.disconnect(on_changed)
    # Never a mixture, never nothing: each read saw exactly one version.
    assert observed and all(old != new for old, new in observed)
    assert any("250 euros" in t for t in texts()) and not any("100 euros" in t for t in texts())
    assert not Document.objects.filter(pk=v1.pk).exists()
    v2.refresh_from_db()
    assert v2.is_current and v2.replaces_id is None
    assert signals and signals[0]["document_id"] == v1.pk and signals[0]["reason"] == "replaced"


@pytest.mark.django_db(transaction=True)
def test_failed_new_version_keeps_the_old_one() -> None:
    collection = collection_create(name="Keep")
    v1 = _upload(collection, b"# Policy\n\nOld but good.", "policy.html")
    document_process(document_id=v1.pk)
    v2 = _upload(collection, b"<html><body><main></main></body></html>", "policy.html")
    assert document_process(document_id=v2.pk).status == DocumentStatus.FAILED
    assert Document.objects.get(pk=v1.pk).is_current
    assert Chunk.objects.filter(document_id=v1.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_delete_removes_chunks_and_signals() -> None:
    collection = collection_create(name="Delete")
    document = _upload(collection, samples.MARKDOWN, "gadget.md")
    document_process(document_id=document.pk)
    document_id = document.pk
    signals: list[dict] = []

    def on_changed(sender, **kwargs) -> None:
        signals.append(kwargs)

    document_changed.connect(on_changed)
    try:
        document_delete(document=document)
    finally:
        document_changed.disconnect(on_changed)
    assert not Chunk.objects.filter(document_id=document_id).exists()
    assert signals == [
        {"signal": document_changed, "document_id": document_id, "collection_id": collection.pk, "reason": "deleted"}
    ]
