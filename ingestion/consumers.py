"""Live document status for the documents page: joins the groups of the collections the user
can read and forwards each ``ingestion.status`` event as an out-of-band table row."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from ingestion.selectors.collections import collection_list_readable, collection_list_uploadable
from ingestion.services.documents import collection_group_name


class DocumentStatusConsumer(AsyncWebsocketConsumer):
    groups_joined: list[str]
    can_manage: bool = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        ids = await database_sync_to_async(
            lambda: list(collection_list_readable(user=user).values_list("pk", flat=True))
        )()
        self.can_manage = await database_sync_to_async(lambda: collection_list_uploadable(user=user).exists())()
        self.groups_joined = [collection_group_name(pk) for pk in ids]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: Any) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return None  # the page only listens

    async def ingestion_status(self, event: dict[str, Any]) -> None:
        # Rendered by Django's templates: every field is escaped.
        html = render_to_string(
            "ingestion/_document_row.html", {"doc": event["document"], "oob": True, "can_manage": self.can_manage}
        )
        await self.send(text_data=html)
