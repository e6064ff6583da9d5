"""Who may read a collection, in the audit trail: its classification and its reader groups and
users before and after an edit (the admin's collection form is where they change); a change of
classification (data class) is also recorded as its own event."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.models import AuditAction
from core.services.audit import Actor, AuditRequest, audit_record
from ingestion.models import Collection


def collection_access_of(*, collection_id: int | None) -> dict[str, Any] | None:
    """The collection's access as stored now (None for a collection not saved yet). Read before
    an edit is saved, it is the "before" of ``collection_access_record``."""
    if collection_id is None:
        return None
    row = Collection.objects.filter(pk=collection_id).values("classification").first()
    if row is None:
        return None
    through_groups = Collection.reader_groups.through.objects.filter(collection_id=collection_id)
    through_users = Collection.reader_users.through.objects.filter(collection_id=collection_id)
    return {
        "classification": row["classification"],
        "reader_group_ids": sorted(through_groups.values_list("group_id", flat=True)),
        "reader_user_ids": sorted(through_users.values_list("user_id", flat=True)),
    }


@transaction.atomic
def collection_access_record(
    *, collection: Collection, before: dict[str, Any] | None, actor: Actor, request: AuditRequest | None = None
) -> bool:
    """Record a change of who may read ``collection`` (an audit event with the access before and
    after), once the edit is saved, in its transaction. Nothing is recorded when the access did
    not change (an edit of the description or the answer policy). True when recorded."""
    after = collection_access_of(collection_id=collection.pk)
    if after == before:
        return False
    audit_record(
        action=AuditAction.COLLECTION_ACCESS_CHANGED, actor=actor, target_type="collection", target_id=collection.pk,
        before=before, after=after, detail={"name": collection.name}, request=request,
    )  # fmt: skip
    # A change of data class gets its own event too: it changes which models may see the text,
    # scrubbing, logging and retention (core.data_classes), which an auditor looks for by action.
    if before is not None and after is not None and before["classification"] != after["classification"]:
        audit_record(
            action=AuditAction.COLLECTION_DATA_CLASS_CHANGED, actor=actor, target_type="collection",
            target_id=collection.pk, before={"data_class": before["classification"]},
            after={"data_class": after["classification"]}, detail={"name": collection.name}, request=request,
        )  # fmt: skip
    return True
