"""The one way a service notifies browsers: after the transaction commits, through the channel
layer. Event types are namespaced (``ingestion.status``, ``qa.answer_token``)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

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
