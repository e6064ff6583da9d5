"""The audit trail: append, verify, export, and the two privileged changes (``AuditEvent`` in
core.models).

Every app records its security-relevant actions here, one ``audit_record`` call in the service
that performs the action, inside that service's transaction: an action that rolls back leaves
no event, and an event never claims an action that did not happen.

The chain. Each row's ``hash`` is sha256 of the previous row's hash and the canonical JSON of
its *public* content (seq, time, action, target, request id) plus ``personal_digest``; ``seq``
counts up by one. The personal fields (actor id and name, IP address, the target id when the
target is a user, before/after/detail) enter the hash only through ``personal_digest``: sha256
of a random per-row salt and their canonical JSON. For an ordinary row ``audit_verify``
recomputes the digest from the fields, so an edit of any field is found as before.

Why the digest: the right to erasure needs a person's name, id and address gone from the trail,
and the trail must stay verifiable. ``audit_redact_person`` replaces them with a pseudonym, marks
the row redacted (``redacted_at``, ``redacted_by_seq``: the erasure's own event) and empties the
salt; the stored digest and hash stay, so the chain still links, and verify checks a redacted
row's public content and link with its stored digest and reports how many rows are redacted.
The salt is emptied because with it anyone could test guesses (a user id, an address) against
the digest. The price: a redacted row's personal fields are no longer proved by the chain.

What the database allows (trigger, migration 0004): no UPDATE or DELETE from any client, except
inside a transaction that set ``verity.audit_privileged`` locally (only this module does):
``'redact'`` allows an UPDATE that changes personal fields and marks the row redacted, and
refuses any change to seq, time, action, target type, request id, prev_hash, hash or digest
(the salt may only be emptied); ``'retention'`` allows a DELETE of the oldest rows only (a
statement that would leave an older row behind is refused). A retention run records its cut
(the last deleted seq and its hash) in its own RETENTION_RUN event, written in the same
transaction; verify then starts from that cut instead of the genesis. Rows missing before the
first row without a recorded cut, or missing in the middle, are reported as before.

Rows written before migration 0004 were re-hashed by it in this scheme (after it checked their
old chain, refusing to migrate a broken one), so the whole trail has one format."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from core.db import local_setting
from core.http import request_client_ip, request_id_of
from core.models import AuditAction, AuditEvent

GENESIS_HASH = "0" * 64
# The key of the transaction-level advisory lock that serialises appends (any constant unique
# to this use; "audit" in ASCII).
_APPEND_LOCK_KEY = 0x6175646974
# Rows read per query while verifying or exporting: bounded memory whatever the table's size.
BATCH_SIZE = 1000
# The transaction-local setting the trigger reads, and its two values.
PRIVILEGE_SETTING = "verity.audit_privileged"
PRIVILEGE_REDACT = "redact"
PRIVILEGE_RETENTION = "retention"
# A target of this type names a person: its id is a personal field.
USER_TARGET = "user"

Actor: TypeAlias = AbstractBaseUser | AnonymousUser | None
# A page's request or an API's (DRF wraps the HttpRequest, whose headers and address it reads).
AuditRequest: TypeAlias = HttpRequest | Request


def _json_clean(value: Any) -> Any:
    """``value`` as it will read back from a JSON column (dates, decimals and UUIDs as strings),
    so the hash computed now matches the one recomputed from the stored row."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _personal(event: AuditEvent) -> dict[str, Any]:
    """The fields that can name a person: what erasure anonymises."""
    return {
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "ip": event.ip,
        "target_id": event.target_id if event.target_type == USER_TARGET else None,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
    }


def personal_digest(*, event: AuditEvent) -> str:
    """sha256 hex of the row's salt and its personal fields as canonical JSON."""
    return hashlib.sha256((event.personal_salt + _canonical(_personal(event))).encode()).hexdigest()


def _public(event: AuditEvent, digest: str) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "action": str(event.action),
        "target_type": event.target_type,
        "target_id": "" if event.target_type == USER_TARGET else event.target_id,
        "request_id": event.request_id,
        "personal_digest": digest,
    }


def audit_hash(*, event: AuditEvent) -> str:
    """sha256 hex of the previous hash and the row's public content with its personal digest as
    canonical JSON (sorted keys, no whitespace): the same bytes whichever process computes them.
    An ordinary row's digest is recomputed from its fields (an edit changes the hash); a
    redacted row's is the stored one (its fields were anonymised on purpose)."""
    digest = event.personal_digest if event.redacted_at is not None else personal_digest(event=event)
    return hashlib.sha256((event.prev_hash + _canonical(_public(event, digest))).encode()).hexdigest()


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
        personal_salt=secrets.token_hex(16),
    )
    event.personal_digest = personal_digest(event=event)
    event.hash = audit_hash(event=event)
    event.save()
    return event


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int  # rows read before the first broken link (all of them when ok)
    broken_seq: int | None = None  # the seq at which the chain breaks
    reason: str = ""
    redacted: int = 0  # rows checked whose personal fields an erasure anonymised
    start_seq: int = 1  # the first seq checked: 1, or the one after the latest retention cut


def _cut_before(first_seq: int) -> str | None:
    """The hash of ``first_seq - 1`` as recorded by the retention run that deleted it (None when
    no run recorded that cut: those rows went missing some other way)."""
    detail = (
        AuditEvent.objects.filter(action=AuditAction.RETENTION_RUN, detail__audit_cut__seq=first_seq - 1)
        .order_by("-seq")
        .values_list("detail", flat=True)
        .first()
    )
    return str(detail["audit_cut"]["hash"]) if detail else None


def audit_verify(*, batch_size: int = BATCH_SIZE) -> VerifyReport:
    """Walk the chain in ``seq`` order, in batches, and report the first broken link.

    An edited row: its hash does not match its content. A deleted row: the next row's ``seq``
    skips a number and its ``prev_hash`` is not the hash of the row before it. The walk starts
    at seq 1 from the genesis hash, or, when a retention run deleted the oldest rows, right
    after the cut that run recorded (its event is itself in the chain, so the cut cannot be
    forged without breaking it); a first row after no recorded cut is a deletion. A redacted
    row is checked with its stored digest, and must name an erasure event as its cause."""
    first = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
    if first is None:
        return VerifyReport(ok=True, checked=0)
    expected_seq, expected_prev = 1, GENESIS_HASH
    if first != 1:
        cut_hash = _cut_before(first)
        if cut_hash is None:
            return VerifyReport(
                ok=False, checked=0, broken_seq=first,
                reason=f"seq {first - 1 if first > 2 else 1} is missing (next is {first}): "
                       "rows were deleted with no retention run recording the cut",
            )  # fmt: skip
        expected_seq, expected_prev = first, cut_hash
    start, checked, redacted = expected_seq, 0, 0
    erasures: dict[int, bool] = {}

    def broken(event: AuditEvent, reason: str) -> VerifyReport:
        return VerifyReport(ok=False, checked=checked, broken_seq=event.seq, reason=reason, redacted=redacted,
                            start_seq=start)  # fmt: skip

    while True:
        batch = list(AuditEvent.objects.filter(seq__gte=expected_seq).order_by("seq")[:batch_size])
        if not batch:
            return VerifyReport(ok=True, checked=checked, redacted=redacted, start_seq=start)
        for event in batch:
            if event.seq != expected_seq:
                return broken(event, f"seq {expected_seq} is missing (next is {event.seq}): a row was deleted")
            if event.prev_hash != expected_prev:
                return broken(event, f"seq {event.seq} does not follow the hash of seq {event.seq - 1}")
            if audit_hash(event=event) != event.hash:
                return broken(event, f"seq {event.seq} was changed after it was written (its hash does not match)")
            if event.redacted_at is not None:
                cause = event.redacted_by_seq
                if cause is not None and cause >= start and cause not in erasures:
                    erasures[cause] = AuditEvent.objects.filter(seq=cause, action=AuditAction.PERSON_ERASED).exists()
                if cause is None or (cause >= start and not erasures[cause]):
                    return broken(event, f"seq {event.seq} is marked redacted by seq {cause}, which is no erasure")
                redacted += 1
            checked += 1
            expected_seq, expected_prev = event.seq + 1, event.hash


def _name_pattern(username: str) -> re.Pattern[str]:
    # The name as a word of its own, in any case: "bob" in "bob signed in" or "Bob", not in
    # "bobcat" (a Django username is letters, digits and @.+-_).
    return re.compile(rf"(?<![\w@.+-]){re.escape(username)}(?![\w@.+-])", re.IGNORECASE)


# Keys under which a JSON value is a user's id (a reader list, a reviewer, an owner).
_USER_KEY = re.compile(r"(^|_)(user|users|owner|reviewer|actor)(_ids?)?$|_by(_id)?$", re.IGNORECASE)


def _redact_json(value: Any, *, user_id: int, name: re.Pattern[str] | None, replacement: str, key: str = "") -> Any:
    """``value`` with the person's name replaced wherever it appears in a string or a key, and
    their id wherever a user-id key holds it (alone or in a list)."""
    if isinstance(value, dict):
        return {
            (name.sub(replacement, k) if name else k): _redact_json(
                v, user_id=user_id, name=name, replacement=replacement, key=k
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v, user_id=user_id, name=name, replacement=replacement, key=key) for v in value]
    if isinstance(value, str):
        if _USER_KEY.search(key) and value == str(user_id):
            return replacement
        return name.sub(replacement, value) if name else value
    if isinstance(value, int) and not isinstance(value, bool) and value == user_id and _USER_KEY.search(key):
        return replacement
    return value


def audit_redact_person(*, user_id: int, username: str, replacement: str, erasure_seq: int) -> int:
    """Anonymise one person in the audit trail (the right to erasure); the number of rows changed.

    Every row that names them (as the actor, by id or name; as the target user; by name inside
    before/after/detail, or by id under a user-id key there) gets ``replacement`` instead: the
    actor id becomes null, the name and a user target's id the pseudonym, the address empty.
    The rows are marked redacted by ``erasure_seq`` (the erasure's own PERSON_ERASED event,
    recorded first) and their salts emptied; the chain still verifies (module docstring).
    Runs in the caller's transaction if there is one (an erasure that rolls back leaves the trail
    as it was), in batches of ``BATCH_SIZE`` rows."""
    name = _name_pattern(username) if username else None
    matches = Q(actor_id=user_id) | Q(target_type=USER_TARGET, target_id=str(user_id))
    if username:
        matches |= Q(actor_name=username)
        for column in ("before", "after", "detail"):
            matches |= Q(**{f"{column}__icontains": username})
    # An id can sit in JSON without the name (a reader list): rows whose JSON holds the number
    # as a whole number are read, and ``_redact_json`` changes it only under a user-id key.
    number = rf"(^|[^0-9]){user_id}([^0-9]|$)"
    for column in ("before", "after", "detail"):
        matches |= Q(**{f"{column}_text__regex": number})
    now, changed, after_seq = timezone.now(), 0, 0
    with transaction.atomic(), local_setting(PRIVILEGE_SETTING, PRIVILEGE_REDACT):
        while True:
            rows = AuditEvent.objects.alias(
                **{f"{c}_text": Cast(c, TextField()) for c in ("before", "after", "detail")}
            )
            batch = list(rows.filter(matches, seq__gt=after_seq).order_by("seq")[:BATCH_SIZE])
            if not batch:
                return changed
            after_seq = batch[-1].seq
            dirty = []
            for event in batch:
                original = _personal(event)
                named = event.actor_id == user_id or bool(username and event.actor_name == username)
                if named:
                    event.actor_id, event.actor_name, event.ip = None, replacement[:150], ""
                if event.target_type == USER_TARGET and event.target_id == str(user_id):
                    event.target_id = replacement[:100]
                for column in ("before", "after", "detail"):
                    redacted = _redact_json(getattr(event, column), user_id=user_id, name=name, replacement=replacement)
                    setattr(event, column, redacted)
                if _personal(event) == original:
                    continue  # the text search matched a longer word or another number
                event.redacted_at, event.redacted_by_seq, event.personal_salt = now, erasure_seq, ""
                dirty.append(event)
            if dirty:
                fields = ["actor_id", "actor_name", "ip", "target_id", "before", "after", "detail", "redacted_at",
                          "redacted_by_seq", "personal_salt"]  # fmt: skip
                AuditEvent.objects.bulk_update(dirty, fields)
                changed += len(dirty)


@dataclass(frozen=True)
class AuditCut:
    """Where a retention run cut the chain: the last deleted row's seq and hash."""

    seq: int
    hash: str
    deleted: int

    def as_detail(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


def audit_expired_count(*, before: datetime) -> int:
    """How many of the oldest rows a retention run at ``before`` would delete (a dry run's count)."""
    cut = _expired_prefix_end(before)
    return AuditEvent.objects.filter(seq__lte=cut).count() if cut is not None else 0


def _expired_prefix_end(before: datetime) -> int | None:
    # The rows are appended in time order under one lock, so the rows older than ``before`` are
    # a prefix; the seq before the first newer row ends it. The newest row always stays, even
    # when expired: the next append continues the chain from it (an empty table would restart
    # the chain at seq 1 from the genesis hash, and hide that anything came before).
    first_kept = AuditEvent.objects.filter(created_at__gte=before).order_by("seq").values_list("seq", flat=True).first()
    if first_kept is None:
        first_kept = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    if first_kept is None:
        return None
    return (
        AuditEvent.objects.filter(created_at__lt=before, seq__lt=first_kept)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )


def audit_delete_expired(*, before: datetime, batch_size: int = BATCH_SIZE) -> AuditCut | None:
    """Delete the oldest rows, those written before ``before``; the cut, or None when none expired.

    Must run inside the transaction that records the cut (``AuditCut.as_detail``) under
    ``detail["audit_cut"]`` of its RETENTION_RUN event: deleted rows without their recorded cut
    make ``audit_verify`` report the trail broken, which is the point. The deletes go in batches
    of ``batch_size`` rows (several statements, one transaction: a night's worth of rows); the
    append lock is taken first, so no event is appended between the cut and its record except
    the caller's own."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_delete_expired must run inside the transaction that records its cut")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK_KEY])
    cut_seq = _expired_prefix_end(before)
    if cut_seq is None:
        return None
    cut_hash = AuditEvent.objects.filter(seq=cut_seq).values_list("hash", flat=True).get()
    deleted = 0
    with local_setting(PRIVILEGE_SETTING, PRIVILEGE_RETENTION):
        while True:
            upto = (
                AuditEvent.objects.filter(seq__lte=cut_seq)
                .order_by("seq")
                .values_list("seq", flat=True)[batch_size - 1 : batch_size]
            )
            end = upto[0] if upto else cut_seq
            count, _ = AuditEvent.objects.filter(seq__lte=end).delete()
            deleted += count
            if end >= cut_seq:
                return AuditCut(seq=cut_seq, hash=cut_hash, deleted=deleted)


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
