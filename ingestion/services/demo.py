"""The demo corpus: a few short documents of our own writing, loaded on first run."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import Group
from django.db import transaction

from ingestion.models import Collection, Document, DocumentStatus
from ingestion.services.documents import collection_ensure, document_create_from_bytes, document_enqueue

DEMO_CORPUS_DIR = Path(__file__).resolve().parents[2] / "demo" / "corpus"
DEMO_COLLECTION_SLUG = "demo-handbook"


@transaction.atomic
def demo_corpus_load(*, readers: Group, corpus_dir: Path = DEMO_CORPUS_DIR) -> list[Document]:
    """Put every file of the demo corpus into the demo collection, readable by ``readers``.

    Idempotent: files already there (same content) are not stored again.
    """
    collection: Collection = collection_ensure(
        name="Demo handbook",
        slug=DEMO_COLLECTION_SLUG,
        description="The Lumen Works employee handbook: a small demo corpus written for Verity.",
    )
    collection.reader_groups.add(readers)
    documents = []
    for path in sorted(corpus_dir.glob("*.md")):
        result = document_create_from_bytes(
            collection=collection, data=path.read_bytes(), source_name=path.name, title=_title_of(path)
        )
        documents.append(result.document)
        if not result.created and result.document.status == DocumentStatus.QUEUED:
            # Queued before the worker ever ran (or its message was lost): queue it again.
            document_enqueue(document=result.document)
    return documents


def _title_of(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem
