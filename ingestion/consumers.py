"""Live document status for the documents page: joins the groups of the collections the user
can read and forwards each ``ingestion.status`` event as an out-of-band table row.

The page only listens, so the base class's per-message re-check never runs here: instead the
sign-in and the readable collections are re-checked before forwarding events (at most every
RECHECK_SECONDS), and a collection the user may no longer read stops sending at once."""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from core.consumers import VerityConsumer
from ingestion.selectors.collections import collection_list_readable, collection_list_uploadable
from ingestion.services.status import collection_group_name

# Events come in bursts (one per stage of each document); re-checking each would cost three
# queries per event per open page. A revoked reader may see at most this many seconds of rows.
RECHECK_SECONDS = 5.0


class DocumentStatusConsumer(VerityConsumer):
    readable_ids: set[int]
    can_manage: bool = False
    checked_at: float = 0.0

    async def connect(self) -> None:
        if not await self.authenticate():
            return
        self.readable_ids = set()
        await self._join_readable()
        await self.accept()

    async def _join_readable(self) -> None:
        """Follow exactly the collections the user may read now (joins new ones, leaves lost ones)."""
        user = self.user
        ids = set(
            await database_sync_to_async(
                lambda: list(collection_list_readable(user=user).values_list("pk", flat=True))
            )()
        )
        self.can_manage = await database_sync_to_async(lambda: collection_list_uploadable(user=user).exists())()
        for pk in self.readable_ids - ids:
            await self.channel_layer.group_discard(collection_group_name(pk), self.channel_name)
        for pk in ids - self.readable_ids:
            await self.channel_layer.group_add(collection_group_name(pk), self.channel_name)
        self.readable_ids = ids
        self.checked_at = time.monotonic()

    async def disconnect(self, code: Any) -> None:
        for pk in getattr(self, "readable_ids", set()):
            await self.channel_layer.group_discard(collection_group_name(pk), self.channel_name)
        await super().disconnect(code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return None  # the page only listens

    async def ingestion_status(self, event: dict[str, Any]) -> None:
        if time.monotonic() - self.checked_at > RECHECK_SECONDS:
            if not await self.still_signed_in():
                return
            await self._join_readable()
        if event["document"].get("collection_id") not in self.readable_ids:
            return
        # Rendered by Django's templates: every field is escaped.
        html = render_to_string(
            "ingestion/_document_row.html", {"doc": event["document"], "oob": True, "can_manage": self.can_manage}
        )
        await self.send(text_data=html)
