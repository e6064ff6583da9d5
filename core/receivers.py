"""Sign-ins, sign-in failures and sign-outs in the audit trail, from Django's auth signals (the
login page, the admin's login and the API's token login all send them), with the request's
client address and id."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from rest_framework.request import Request

from core.models import AuditAction
from core.services.audit import AuditRequest, audit_record


def _request(request: Any) -> AuditRequest | None:
    # Django's test client's login() passes a bare HttpRequest; a backend called directly, none.
    return request if isinstance(request, HttpRequest | Request) else None


@receiver(user_logged_in, dispatch_uid="core.audit.sign_in")
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(
        action=AuditAction.SIGN_IN, actor=user, target_type="user", target_id=user.pk, request=_request(request)
    )


@receiver(user_login_failed, dispatch_uid="core.audit.sign_in_failed")
def _sign_in_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # The username as typed (it may name no account); the password never reaches this signal
    # (Django replaces it with asterisks) and is not recorded anyway.
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        action=AuditAction.SIGN_IN_FAILED, actor=None, actor_name=username, target_type="user",
        detail={"username": username}, request=_request(request),
    )  # fmt: skip


@receiver(user_logged_out, dispatch_uid="core.audit.sign_out")
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:  # signing out without a session
        return
    audit_record(
        action=AuditAction.SIGN_OUT, actor=user, target_type="user", target_id=user.pk, request=_request(request)
    )
