from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from config.routing import websocket_urlpatterns
from ingestion.models import DocumentStatus
from ingestion.services.documents import document_create_from_bytes
from ingestion.services.status import document_status_set
from tests.factories import collection_create, user_create

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/documents/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_status_changes_reach_readers_as_escaped_rows_and_nobody_else() -> None:
    reader = await sync_to_async(user_create)(username="reader", groups=("team",))
    outsider = await sync_to_async(user_create)(username="outsider", groups=("other",))
    collection = await sync_to_async(collection_create)(name="Team", groups=("team",))
    reader_socket = await _connect(reader)
    outsider_socket = await _connect(outsider)
    document = (
        await sync_to_async(document_create_from_bytes)(
            collection=collection, data=b"# T\n\nx", source_name="<script>alert(1)</script>.md", enqueue=False
        )
    ).document
    first = await reader_socket.receive_from(timeout=5)
    assert f'id="document-{document.pk}"' in first and 'hx-swap-oob="true"' in first
    assert "<script>" not in first and "&lt;script&gt;" in first
    await sync_to_async(document_status_set)(
        document_id=document.pk, status=DocumentStatus.FAILED, error="bad <b>file</b>"
    )
    second = await reader_socket.receive_from(timeout=5)
    assert "Failed" in second and "bad &lt;b&gt;file&lt;/b&gt;" in second
    assert await outsider_socket.receive_nothing(timeout=0.5)
    await reader_socket.disconnect()
    await outsider_socket.disconnect()


async def test_anonymous_is_refused() -> None:
    from django.contrib.auth.models import AnonymousUser

    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/documents/")
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect()
    assert not connected and code == 4401
