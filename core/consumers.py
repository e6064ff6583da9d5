"""The base of every Verity websocket, and a minimal one built on it: the chat and documents
pages use ``/ws/ping/`` to show the live connection state, and the tests use it to prove
Channels works end to end.

A socket is authenticated once, at its handshake, and may then stay open for hours. The base
class keeps that from outliving the sign-in: it joins the user's sockets group (closed on
logout and deactivation, core.realtime), re-checks the session and the account before each
message, and closes a message over WEBSOCKET_MAX_MESSAGE_BYTES with 1009 before it is parsed
(daphne, started by the run command, refuses such frames earlier still)."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from core import metrics
from core.realtime import user_sockets_group
from core.selectors.sessions import SocketAccess, socket_session_check

CLOSE_MESSAGE_TOO_BIG = 1009  # RFC 6455: "message too big"


def message_size(message: dict[str, Any]) -> int:
    text = message.get("text")
    if text is not None:
        # A character is at least one byte: no need to encode a string already too long.
        return len(text) if len(text) > settings.WEBSOCKET_MAX_MESSAGE_BYTES else len(text.encode())
    return len(message.get("bytes") or b"")


class VerityConsumer(AsyncWebsocketConsumer):
    """Subclasses call ``authenticate()`` first in ``connect()`` and ``super().disconnect()``
    in ``disconnect()``; ``receive()`` then only sees messages of a still signed-in user, and
    ``self.user`` is that user as stored now (groups and flags reloaded)."""

    user: Any = None
    session_key: str | None = None
    closing: bool = False

    async def authenticate(self) -> bool:
        """Close an anonymous socket with 4401 (False); otherwise remember the session and join
        the user's sockets group (True)."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=SocketAccess.SIGNED_OUT)
            return False
        self.user = user
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        await self.channel_layer.group_add(user_sockets_group(user.pk), self.channel_name)
        return True

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        # Every handshake is counted, and every one ends in websocket_disconnect (refused ones too).
        metrics.WEBSOCKET_CONNECTIONS.inc()
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        metrics.WEBSOCKET_CONNECTIONS.dec()
        await super().websocket_disconnect(message)

    async def disconnect(self, code: Any) -> None:
        if self.user is not None:
            await self.channel_layer.group_discard(user_sockets_group(self.user.pk), self.channel_name)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        if message_size(message) > settings.WEBSOCKET_MAX_MESSAGE_BYTES:
            await self.close_with(CLOSE_MESSAGE_TOO_BIG, "message too big")
            return
        if not await self.still_signed_in():
            return
        await super().websocket_receive(message)

    async def still_signed_in(self) -> bool:
        """Reload the session and the user; close with 4401 (signed out) or 4403 (deactivated)."""
        if self.closing or self.user is None:
            return False
        check = await database_sync_to_async(socket_session_check)(user_id=self.user.pk, session_key=self.session_key)
        if check.access is not SocketAccess.VALID:
            await self.close_with(int(check.access), "signed out" if check.access is SocketAccess.SIGNED_OUT else "")
            return False
        self.user = check.user
        return True

    async def close_with(self, code: int, reason: str = "") -> None:
        # Messages already queued behind this one are dropped, not answered.
        self.closing = True
        await self.close(code=code, reason=reason or None)

    async def core_session_ended(self, event: dict[str, Any]) -> None:
        """A logout (of this socket's session) or a deactivation (every session): close now."""
        ended = event.get("session_key")
        if ended is None or self.session_key is None or ended == self.session_key:
            await self.close_with(int(event.get("code", SocketAccess.SIGNED_OUT)), "signed out")


class PingConsumer(VerityConsumer):
    async def connect(self) -> None:
        if await self.authenticate():
            await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=json.dumps({"type": "core.pong", "echo": (text_data or "")[:200]}))
