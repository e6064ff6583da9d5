"""The audit trail: append, verify, export (``AuditEvent`` in core.models).

Every app records its security-relevant actions here, one ``audit_record`` call in the service
that performs the action, inside that service's transaction: an action that rolls back leaves
no event, and an event never claims an action that did not happen.

The rows form a hash chain: each row's ``hash`` is sha256 of the previous row's hash and the
canonical JSON of its own content, and ``seq`` counts up by one. The database refuses UPDATE and
DELETE (a trigger), so changing history needs the table owner to disable the trigger first;
``audit_verify`` then finds the first edited row (its hash no longer matches its content) or the
first gap (a missing ``seq``, or a ``prev_hash`` that is not the hash before it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from core.http import request_client_ip, request_id_of
from core.models import AuditAction, AuditEvent

GENESIS_HASH = "0" * 64
# The key of the transaction-level advisory lock that serialises appends (any constant unique
# to this use; "audit" in ASCII).
_APPEND_LOCK_KEY = 0x6175646974
# Rows read per query while verifying or exporting: bounded memory whatever the table's size.
BATCH_SIZE = 1000

Actor: TypeAlias = AbstractBaseUser | AnonymousUser | None
# A page's request or an API's (DRF wraps the HttpRequest, whose headers and address it reads).
AuditRequest: TypeAlias = HttpRequest | Request


def _json_clean(value: Any) -> Any:
    """``value`` as it will read back from a JSON column (dates, decimals and UUIDs as strings),
    so the hash computed now matches the one recomputed from the stored row."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _content(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": str(event.action),
        "target_type": event.target_type,
        "target_id": event.target_id,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
        "request_id": event.request_id,
        "ip": event.ip,
    }


def audit_hash(*, event: AuditEvent) -> str:
    """sha256 hex of the previous hash and the row's content as canonical JSON (sorted keys, no
    whitespace): the same bytes whichever process computes them."""
    canonical = json.dumps(_content(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((event.prev_hash + canonical).encode()).hexdigest()


def actor_identity(actor: Actor) -> tuple[int | None, str]:
    """The id and name a record keeps of who acted (no foreign key: the record outlives the
    user); anyone not signed in, or no one, is "system"."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, "system"
    return actor.pk, actor.get_username()


@transaction.atomic
def audit_record(
    *,
    action: AuditAction,
    actor: Actor,
    target_type: str = "",
    target_id: str | int = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    request: AuditRequest | None = None,
    actor_name: str = "",
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction (a rollback removes it).

    ``actor`` None or anonymous is recorded as "system" unless ``actor_name`` names who tried
    (a failed sign-in's username). With ``request``, its client address and request id are
    recorded. Appends are serialised by a transaction-level advisory lock, held until the
    caller's transaction ends: two appends can never read the same last row and fork the
    chain. The price is that audited transactions commit one at a time; they are human actions
    (sign-ins, uploads, reviews, configuration), not the answer path."""
    actor_id, name = actor_identity(actor)
    http = request._request if isinstance(request, Request) else request
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK_KEY])
    # Read after taking the lock: the previous holder has committed, so under READ COMMITTED
    # (Django's default: each statement sees what committed before it) its row is visible. Under
    # a stricter isolation the read could miss it; the unique seq then refuses the fork.
    last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    event = AuditEvent(
        seq=(last["seq"] + 1) if last else 1,
        created_at=timezone.now(),
        actor_id=actor_id,
        actor_name=(actor_name if actor_id is None and actor_name else name)[:150],
        action=action,
        target_type=target_type[:60],
        target_id=str(target_id)[:100],
        before=_json_clean(before),
        after=_json_clean(after),
        detail=_json_clean(detail) or {},
        request_id=request_id_of(http) if http is not None else "",
        ip=request_client_ip(http)[:45] if http is not None else "",
        prev_hash=last["hash"] if last else GENESIS_HASH,
    )
    event.hash = audit_hash(event=event)
    event.save()
    return event


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int  # rows read before the first broken link (all of them when ok)
    broken_seq: int | None = None  # the seq at which the chain breaks
    reason: str = ""


def audit_verify(*, batch_size: int = BATCH_SIZE) -> VerifyReport:
    """Walk the chain in ``seq`` order, in batches, and report the first broken link.

    An edited row: its hash does not match its content. A deleted row: the next row's ``seq``
    skips a number and its ``prev_hash`` is not the hash of the row before it (a deleted first
    row: the chain does not start at 1 from the genesis hash)."""
    expected_seq, expected_prev, checked = 1, GENESIS_HASH, 0
    while True:
        batch = list(AuditEvent.objects.filter(seq__gte=expected_seq).order_by("seq")[:batch_size])
        if not batch:
            return VerifyReport(ok=True, checked=checked)
        for event in batch:
            if event.seq != expected_seq:
                return VerifyReport(
                    ok=False, checked=checked, broken_seq=event.seq,
                    reason=f"seq {expected_seq} is missing (next is {event.seq}): a row was deleted",
                )  # fmt: skip
            if event.prev_hash != expected_prev:
                return VerifyReport(
                    ok=False, checked=checked, broken_seq=event.seq,
                    reason=f"seq {event.seq} does not follow the hash of seq {event.seq - 1}",
                )  # fmt: skip
            if audit_hash(event=event) != event.hash:
                return VerifyReport(
                    ok=False, checked=checked, broken_seq=event.seq,
                    reason=f"seq {event.seq} was changed after it was written (its hash does not match)",
                )  # fmt: skip
            checked += 1
            expected_seq, expected_prev = event.seq + 1, event.hash


# OCSF categories and classes used by the export (OCSF 1.x numbering).
_IAM = (3, "Identity & Access Management")
_AUTHENTICATION = (3002, "Authentication")
_APPLICATION = (6, "Application Activity")
_API_ACTIVITY = (6003, "API Activity")


def _ocsf_like(event: AuditEvent) -> dict[str, Any]:
    sign_in = event.action.startswith("auth.")
    category, klass = (_IAM, _AUTHENTICATION) if sign_in else (_APPLICATION, _API_ACTIVITY)
    failed = event.action == AuditAction.SIGN_IN_FAILED
    return {
        "time": int(event.created_at.timestamp() * 1000),
        "time_dt": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "category_uid": category[0],
        "category_name": category[1],
        "class_uid": klass[0],
        "class_name": klass[1],
        "activity_name": str(event.action),
        "status": "Failure" if failed else "Success",
        "actor": {"user": {"uid": str(event.actor_id) if event.actor_id is not None else "", "name": event.actor_name}},
        "src_endpoint": {"ip": event.ip},
        "metadata": {
            "uid": event.request_id,
            "sequence": event.seq,
            "product": {"name": "Verity"},
            "hash": event.hash,
        },
        "resources": [{"type": event.target_type, "uid": event.target_id}] if event.target_type else [],
        "unmapped": {"before": event.before, "after": event.after, "detail": event.detail},
    }


def audit_export(*, since: datetime, batch_size: int = BATCH_SIZE) -> Iterator[dict[str, Any]]:
    """The events at or after ``since``, oldest first, as OCSF-like dicts (one per JSON line).

    OCSF-like, not OCSF-valid: sign-in events take the shape of the Authentication class (3002,
    category Identity & Access Management), every other event that of API Activity (6003,
    category Application Activity), with Verity's action name as ``activity_name`` instead of
    OCSF's numbered activities; ``before``, ``after`` and ``detail`` go to ``unmapped``; the
    request id is ``metadata.uid`` and the chain position ``metadata.sequence``. Read in
    batches by ``seq`` so an export of years holds one batch in memory."""
    after_seq = 0
    while True:
        batch = list(AuditEvent.objects.filter(created_at__gte=since, seq__gt=after_seq).order_by("seq")[:batch_size])
        if not batch:
            return
        for event in batch:
            yield _ocsf_like(event)
        after_seq = batch[-1].seq
