"""Retention on ingestion's side (issue #14): a collection's legal hold, and the removal of
expired original files (the chunks stay searchable). qa.services.retention drives the run."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.db import transaction

from core.errors import ApplicationError
from core.models import AuditAction
from core.services.audit import Actor, AuditRequest, audit_record
from ingestion.models import Collection, Document


@transaction.atomic
def originals_remove(*, document_ids: list[int], now: datetime) -> int:
    """Remove these documents' uploaded files and date the removal; the number removed.

    The rows are locked and re-checked (a hold set meanwhile, another run first); the files go
    after the commit, as ``document_delete`` does, so a rollback never leaves a row pointing at
    a file that is gone. The document keeps its chunks, its title and its source name; the
    pages say "original file removed by retention"."""
    documents = list(
        Document.objects.select_for_update()
        .filter(pk__in=document_ids, original_removed_at__isnull=True, collection__legal_hold=False)
        .exclude(file="")
    )
    for document in documents:
        transaction.on_commit(partial(document.file.storage.delete, document.file.name))
    Document.objects.filter(pk__in=[d.pk for d in documents]).update(file="", original_removed_at=now)
    return len(documents)


@transaction.atomic
def collection_legal_hold_set(
    *, collection: Collection, reason: str, actor: Actor, request: AuditRequest | None = None
) -> Collection:
    """Suspend retention for everything of ``collection`` (its files, the answers that cite or
    searched it, their model calls and feedback) until released. Audited; a reason is required
    (it is what a later reader of the trail needs to know)."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A legal hold needs a reason.")
    locked = Collection.objects.select_for_update().get(pk=collection.pk)
    before = {"legal_hold": locked.legal_hold, "reason": locked.legal_hold_reason}
    locked.legal_hold, locked.legal_hold_reason = True, reason[:300]
    locked.save(update_fields=["legal_hold", "legal_hold_reason", "updated_at"])
    audit_record(
        action=AuditAction.LEGAL_HOLD_SET, actor=actor, target_type="collection", target_id=locked.pk,
        before=before, after={"legal_hold": True, "reason": locked.legal_hold_reason},
        detail={"name": locked.name}, request=request,
    )  # fmt: skip
    return locked


@transaction.atomic
def collection_legal_hold_release(*, collection: Collection, actor: Actor, request: AuditRequest | None = None) -> bool:
    """Let retention apply to ``collection`` again (what expired meanwhile goes at the next run).
    Audited; False, and nothing recorded, when it was not on hold."""
    locked = Collection.objects.select_for_update().get(pk=collection.pk)
    if not locked.legal_hold:
        return False
    before = {"legal_hold": True, "reason": locked.legal_hold_reason}
    locked.legal_hold, locked.legal_hold_reason = False, ""
    locked.save(update_fields=["legal_hold", "legal_hold_reason", "updated_at"])
    audit_record(
        action=AuditAction.LEGAL_HOLD_RELEASED, actor=actor, target_type="collection", target_id=locked.pk,
        before=before, after={"legal_hold": False}, detail={"name": locked.name}, request=request,
    )  # fmt: skip
    return True
