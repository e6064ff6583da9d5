"""The one way a service notifies browsers: after the transaction commits, through the channel
layer. Event types are namespaced (``ingestion.status``, ``qa.answer_token``)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from core.selectors.sessions import SocketAccess

logger = logging.getLogger(__name__)


def group_send_now(*, group: str, event_type: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": event_type, **payload})
    except Exception:  # noqa: BLE001 - a lost notification must never fail the write it reports
        logger.warning("realtime.group_send_failed group=%s type=%s", group, event_type, exc_info=True)


def broadcast_on_commit(*, group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` to ``group`` once the surrounding transaction commits (at once if none)."""
    transaction.on_commit(lambda: group_send_now(group=group, event_type=event_type, payload=payload))


# --------------------------------------------------------------------------- sockets of a user
SESSION_ENDED = "core.session_ended"


def user_sockets_group(user_id: int) -> str:
    """Every open websocket of a user joins this group (core.consumers.VerityConsumer)."""
    return f"core.user.{user_id}"


@receiver(user_logged_out)
def _close_sockets_on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Sent before logout() flushes the session, so its key is still known: the sockets opened
    # with that session close at once; the user's other sessions (other browsers) keep theirs.
    if user is None or request is None:
        return
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    group_send_now(
        group=user_sockets_group(user.pk),
        event_type=SESSION_ENDED,
        payload={"session_key": session_key, "code": int(SocketAccess.SIGNED_OUT)},
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _close_sockets_of_deactivated_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    # A deactivated account loses every session at once (each socket also re-checks on each
    # message; this also reaches sockets that only listen).
    if not instance.is_active:
        broadcast_on_commit(
            group=user_sockets_group(instance.pk),
            event_type=SESSION_ENDED,
            payload={"session_key": None, "code": int(SocketAccess.FORBIDDEN)},
        )
