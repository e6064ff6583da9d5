"""A legal hold on a person (``UserLegalHold``): while it is set, retention deletes and
anonymises nothing of theirs and erasure refuses. Setting and releasing it are audited; a
collection's hold is ingestion's (ingestion.services.retention)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.errors import ApplicationError
from core.models import AuditAction, UserLegalHold
from core.services.audit import Actor, AuditRequest, actor_identity, audit_record


@transaction.atomic
def user_legal_hold_set(
    *, user: AbstractBaseUser, reason: str, actor: Actor, request: AuditRequest | None = None
) -> UserLegalHold:
    """Place ``user`` under legal hold (or change the reason of their hold). A reason is required."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A legal hold needs a reason.")
    existing = UserLegalHold.objects.select_for_update().filter(user_id=user.pk).first()
    before = {"legal_hold": existing is not None, "reason": existing.reason if existing else ""}
    _, set_by = actor_identity(actor)
    hold, _ = UserLegalHold.objects.update_or_create(user_id=user.pk, defaults={"reason": reason[:300],
                                                                                  "set_by_name": set_by})  # fmt: skip
    audit_record(
        action=AuditAction.LEGAL_HOLD_SET, actor=actor, target_type="user", target_id=user.pk, before=before,
        after={"legal_hold": True, "reason": hold.reason}, request=request,
    )  # fmt: skip
    return hold


@transaction.atomic
def user_legal_hold_release(*, user_id: int, actor: Actor, request: AuditRequest | None = None) -> bool:
    """Release ``user_id``'s hold; False, and nothing recorded, when there was none."""
    hold = UserLegalHold.objects.select_for_update().filter(user_id=user_id).first()
    if hold is None:
        return False
    before = {"legal_hold": True, "reason": hold.reason}
    hold.delete()
    audit_record(
        action=AuditAction.LEGAL_HOLD_RELEASED, actor=actor, target_type="user", target_id=user_id, before=before,
        after={"legal_hold": False}, request=request,
    )  # fmt: skip
    return True
