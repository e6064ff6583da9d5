from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from config.asgi import application
from core.consumers import PingConsumer
from tests.factories import user_create


@pytest.mark.django_db(transaction=True)
async def test_websocket_accepts_a_signed_in_user() -> None:
    from asgiref.sync import sync_to_async

    user = await sync_to_async(user_create)(username="ws-user")
    communicator = WebsocketCommunicator(PingConsumer.as_asgi(), "/ws/ping/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="<b>hi</b>")
    reply = json.loads(await communicator.receive_from())
    assert reply == {"type": "core.pong", "echo": "<b>hi</b>"}
    await communicator.disconnect()


async def test_websocket_refuses_anonymous() -> None:
    communicator = WebsocketCommunicator(PingConsumer.as_asgi(), "/ws/ping/")
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


@pytest.mark.django_db(transaction=True)
async def test_websocket_from_another_origin_is_refused() -> None:
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[(b"origin", b"http://evil.example")])
    connected, _ = await communicator.connect()
    assert not connected
