"""Signals other apps listen to. ``document_changed`` fires after commit when a document's
content leaves the index or its readers change (replaced by a new version, deleted, moved to
another collection): the answer cache uses it to forget answers that cite the document."""

from django.dispatch import Signal

# Sent with: document_id: int, collection_id: int, reason: "replaced" | "deleted" | "moved"
document_changed = Signal()
