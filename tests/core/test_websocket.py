from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.models import Session
from django.test import Client, override_settings

from config.asgi import application
from core.consumers import PingConsumer
from tests.factories import user_create
from tests.helpers import expect_close, session_cookie_for, signed_in, socket


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


# --------------------------------------------------------------------------- the real ASGI app
# These go through config.asgi.application (origin check, session middleware, routing) with a
# real session in PostgreSQL and the real Redis channel layer.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [
        "https://127.0.0.1:8000",  # wrong scheme
        "http://127.0.0.1:9999",  # wrong port
        "http://127.0.0.1",  # default port 80, not 8000
        "http://localhost:8000",  # an allowed host, but not the one this request came to
        "http://evil.example:8000",  # wrong host
        "http://127.0.0.1.evil.example:8000",
        "null",  # sandboxed frames and file:// pages
        None,  # no Origin header at all
        "http://127.0.0.1:8000/path",  # not an origin
    ],
)
async def test_a_socket_from_any_other_origin_is_refused(origin: str | None) -> None:
    _, cookie = await signed_in("origin-user")
    connected, _ = await socket("/ws/ping/", cookie=cookie, origin=origin).connect()
    assert not connected


@pytest.mark.django_db(transaction=True)
async def test_a_socket_from_its_own_origin_is_accepted() -> None:
    _, cookie = await signed_in("own-origin")
    communicator = socket("/ws/ping/", cookie=cookie)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()
    # Over TLS the page's origin is https (wss socket), default port 443 written or not.
    for origin in ("https://127.0.0.1", "https://127.0.0.1:443"):
        secure = socket("/ws/ping/", cookie=cookie, origin=origin, host="127.0.0.1")
        secure.scope["scheme"] = "wss"
        assert (await secure.connect())[0], origin
        await secure.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_host_outside_allowed_hosts_is_refused_even_with_a_matching_origin() -> None:
    # DNS rebinding: evil.example resolves to Verity, the page's origin matches its Host header.
    _, cookie = await signed_in("rebinding")
    communicator = socket("/ws/ping/", cookie=cookie, origin="http://evil.example:8000", host="evil.example:8000")
    assert not (await communicator.connect())[0]


@pytest.mark.django_db(transaction=True)
async def test_csrf_trusted_origins_are_accepted_exactly() -> None:
    _, cookie = await signed_in("proxied")
    with override_settings(CSRF_TRUSTED_ORIGINS=["https://verity.example", "https://*.corp.example"]):
        for origin, accepted in [
            ("https://verity.example", True),
            ("https://chat.corp.example", True),
            ("http://verity.example", False),
            ("https://verity.example:8443", False),
            ("https://verity.example.evil", False),
        ]:
            communicator = socket("/ws/ping/", cookie=cookie, origin=origin, host="10.0.0.5:8000")
            assert (await communicator.connect())[0] is accepted, origin
            await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_oversized_message_closes_the_socket_with_1009() -> None:
    _, cookie = await signed_in("big-frames")
    communicator = socket("/ws/ping/", cookie=cookie)
    assert (await communicator.connect())[0]
    # Just under the limit is fine.
    await communicator.send_to(text_data="x" * (settings.WEBSOCKET_MAX_MESSAGE_BYTES - 10))
    assert json.loads(await communicator.receive_from())["type"] == "core.pong"
    await communicator.send_to(text_data="x" * 2_000_000)  # 2 MB
    await expect_close(communicator, 1009)
    # Counted in bytes, not characters: 30,000 four-byte characters are 120 KB.
    communicator = socket("/ws/ping/", cookie=cookie)
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="\U0001f600" * 30_000)
    await expect_close(communicator, 1009)


@pytest.mark.django_db(transaction=True)
async def test_logout_closes_the_sockets_of_that_session_only() -> None:
    user, cookie = await signed_in("leaver")
    other_cookie = await sync_to_async(session_cookie_for)(user)  # the same user in another browser
    chat = socket("/ws/chat/", cookie=cookie)
    ping = socket("/ws/ping/", cookie=cookie)
    elsewhere = socket("/ws/ping/", cookie=other_cookie)
    for communicator in (chat, ping, elsewhere):
        assert (await communicator.connect())[0]

    def log_out() -> None:
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie
        assert client.post("/accounts/logout/").status_code == 302

    await sync_to_async(log_out)()
    await expect_close(chat, 4401)
    await expect_close(ping, 4401)
    await elsewhere.send_to(text_data="still here")
    assert json.loads(await elsewhere.receive_from())["echo"] == "still here"
    await elsewhere.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_message_after_the_session_ended_is_refused() -> None:
    # The session disappears without a logout event (expired, deleted by an admin, cleared
    # from the store): the next message finds out.
    user, cookie = await signed_in("expired")
    communicator = socket("/ws/ping/", cookie=cookie)
    assert (await communicator.connect())[0]
    await sync_to_async(lambda: Session.objects.filter(session_key=cookie).delete())()
    await communicator.send_to(text_data="hello?")
    await expect_close(communicator, 4401)


@pytest.mark.django_db(transaction=True)
async def test_a_password_change_ends_the_socket_at_its_next_message() -> None:
    user, cookie = await signed_in("changer")
    communicator = socket("/ws/ping/", cookie=cookie)
    assert (await communicator.connect())[0]

    def change_password() -> None:
        user.set_password("a-whole-new-password-42")
        user.save()

    await sync_to_async(change_password)()
    await communicator.send_to(text_data="hello?")
    await expect_close(communicator, 4401)


@pytest.mark.django_db(transaction=True)
async def test_a_deactivated_user_is_disconnected() -> None:
    user, cookie = await signed_in("deactivated")
    listening = socket("/ws/documents/", cookie=cookie)
    talking = socket("/ws/ping/", cookie=cookie)
    assert (await listening.connect())[0] and (await talking.connect())[0]
    # Saved through the model (the admin does this): every socket of the user closes at once.
    user.is_active = False
    await sync_to_async(user.save)()
    await expect_close(listening, 4403)
    await expect_close(talking, 4403)

    # Deactivated by a bulk update (no signal): the next message is refused.
    user2, cookie2 = await signed_in("deactivated-quietly")
    communicator = socket("/ws/ping/", cookie=cookie2)
    assert (await communicator.connect())[0]
    User = get_user_model()  # noqa: N806
    await sync_to_async(lambda: User.objects.filter(pk=user2.pk).update(is_active=False))()
    await communicator.send_to(text_data="hello?")
    await expect_close(communicator, 4403)


@pytest.mark.django_db(transaction=True)
async def test_the_documents_socket_stops_sending_rows_of_a_collection_the_user_lost(monkeypatch) -> None:
    from channels.layers import get_channel_layer
    from django.contrib.auth.models import Group

    from ingestion.services.documents import document_create_from_bytes
    from ingestion.services.status import collection_group_name, document_status_payload
    from tests.factories import collection_create

    monkeypatch.setattr("ingestion.consumers.RECHECK_SECONDS", 0.0)  # re-check before every event
    user, cookie = await signed_in("lost-reader", groups=("hr",))

    def make_document() -> tuple[int, dict]:
        collection = collection_create(name="HR", groups=("hr",))
        document = document_create_from_bytes(
            collection=collection, data=b"# Salaries\n\nSecret.", source_name="salaries.md", enqueue=False
        ).document
        return collection.pk, document_status_payload(document)

    collection_id, payload = await sync_to_async(make_document)()
    communicator = socket("/ws/documents/", cookie=cookie)
    assert (await communicator.connect())[0]
    layer = get_channel_layer()
    await layer.group_send(collection_group_name(collection_id), {"type": "ingestion.status", "document": payload})
    assert "salaries.md" in await communicator.receive_from(timeout=5)  # a reader sees the row

    await sync_to_async(lambda: user.groups.remove(Group.objects.get(name="hr")))()
    await layer.group_send(collection_group_name(collection_id), {"type": "ingestion.status", "document": payload})
    assert await communicator.receive_nothing(timeout=1), "a former reader still received the collection's rows"
    await communicator.disconnect()
