"""A person's data held by core and by the framework's own tables: the account, the legal hold,
sign-in records (sessions, API tokens, the login-failure tables), the admin's change log and
the audit trail (read here; anonymised by ``audit.audit_redact_person``).

``qa.services.person_data`` assembles the whole export and runs the whole erasure; this
module is the part that needs no app (core imports none)."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q

from core.models import AuditEvent, UserLegalHold
from core.services.audit import USER_TARGET

# Sessions read per query while looking for a person's: their data is signed and encoded, so
# each must be decoded; bounded memory whatever the table's size.
_SESSION_BATCH = 1000


def legal_hold_of(*, user: User) -> UserLegalHold | None:
    return UserLegalHold.objects.filter(user=user).first()


def _audit_rows_about(*, user: User) -> Q:
    return Q(actor_id=user.pk) | Q(actor_name=user.get_username()) | Q(target_type=USER_TARGET, target_id=str(user.pk))


def core_person_export(*, user: User) -> dict[str, Any]:
    """The account, its groups, its legal hold and the audit events by or about the person."""
    hold = legal_hold_of(user=user)
    events = AuditEvent.objects.filter(_audit_rows_about(user=user)).order_by("seq")
    return {
        "profile": {
            "id": user.pk,
            "username": user.get_username(),
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "is_active": user.is_active,
            "is_staff": user.is_staff,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        },
        "legal_hold": {"reason": hold.reason, "set_at": hold.created_at} if hold else None,
        "audit_events": [
            {
                "seq": e.seq,
                "created_at": e.created_at,
                "action": e.action,
                "actor_name": e.actor_name,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "before": e.before,
                "after": e.after,
                "detail": e.detail,
                "ip": e.ip,
            }
            for e in events.iterator()
        ],  # fmt: skip
    }


def _session_keys_of(user_id: int) -> list[str]:
    keys: list[str] = []
    last = ""
    while True:
        batch = list(Session.objects.filter(session_key__gt=last).order_by("session_key")[:_SESSION_BATCH])
        if not batch:
            return keys
        for session in batch:
            if str(session.get_decoded().get("_auth_user_id", "")) == str(user_id):
                keys.append(session.session_key)
        last = batch[-1].session_key


@transaction.atomic
def core_person_erase(*, user: User, replacement: str) -> dict[str, int]:
    """Remove the person's sign-in traces and name from the framework's tables, before the
    account row itself goes (the caller deletes it): their sessions (they are signed out
    everywhere), login attempt and failure records (username and address), and the admin
    change log's name of their account (entries they made go with the account: a cascade).
    Returns the counts."""
    username = user.get_username()
    sessions, _ = Session.objects.filter(session_key__in=_session_keys_of(user.pk)).delete()
    attempts = sum(
        model.objects.filter(username=username).delete()[0] for model in (AccessAttempt, AccessLog, AccessFailureLog)
    )
    user_type = ContentType.objects.get_for_model(User)
    log_entries = LogEntry.objects.filter(content_type=user_type, object_id=str(user.pk)).update(
        object_repr=replacement, change_message=""
    )
    return {"sessions": sessions, "sign_in_records": attempts, "admin_log_entries": log_entries}
