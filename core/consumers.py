"""A minimal authenticated websocket: the chat and documents pages use it to show the live
connection state, and the tests use it to prove Channels works end to end."""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


class PingConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=json.dumps({"type": "core.pong", "echo": (text_data or "")[:200]}))

    async def disconnect(self, code: Any) -> None:
        return None
