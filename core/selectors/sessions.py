"""Whether an open websocket's sign-in still holds. A socket is authenticated once, at its
handshake; without this check it would outlive a logout, a password change or a deactivated
account for as long as the browser keeps it open."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.http import HttpRequest


class SocketAccess(IntEnum):
    """The close code a socket gets (4000-4999 are the application's own codes)."""

    VALID = 0
    SIGNED_OUT = 4401  # session gone (logout, expiry, password change): sign in again
    FORBIDDEN = 4403  # the account is deactivated


@dataclass(frozen=True)
class SocketCheck:
    access: SocketAccess
    user: Any = None  # the user as stored now (fresh groups and flags) when VALID


def socket_session_check(*, user_id: int, session_key: str | None) -> SocketCheck:
    """Reload the socket's session from the session store and the user from the database, as
    Django does for each HTTP request (session present, same user, password hash unchanged,
    account active). ``session_key`` is None only for consumers mounted without the session
    middleware (tests that set ``scope["user"]`` directly): then only the account is checked."""
    model = get_user_model()
    if session_key is not None:
        request = HttpRequest()
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        user = get_user(request)
        if user.is_authenticated and user.pk == user_id:
            return SocketCheck(SocketAccess.VALID, user)
    else:
        stored = model.objects.filter(pk=user_id, is_active=True).first()
        if stored is not None:
            return SocketCheck(SocketAccess.VALID, stored)
    if model.objects.filter(pk=user_id, is_active=False).exists():
        return SocketCheck(SocketAccess.FORBIDDEN)
    return SocketCheck(SocketAccess.SIGNED_OUT)
