"""The chat socket against hostile or stale clients: malformed messages get an error event and
the socket stays usable; losing access mid-socket narrows the very next question."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group

from qa.models import Answer, AnswerStatus
from qa.pipeline.load import Prepared
from qa.pipeline.orchestrator import answer_run
from tests.helpers import session_cookie_for, signed_in, socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "message",
    [
        "[1, 2, 3]",
        '[{"question": "hi"}]',
        "42",
        '"What is the hotel limit?"',
        "null",
        "{not json",
        " ",
        '{"question": 42}',
    ],
)
async def test_a_malformed_message_gets_an_error_event_and_the_socket_stays_usable(message: str) -> None:
    _, cookie = await signed_in("fuzzer")
    communicator = socket("/ws/chat/", cookie=cookie)
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=message)
    error = await communicator.receive_from(timeout=5)
    assert 'id="chat-error"' in error and "not understood" in error
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert "not understood" in await communicator.receive_from(timeout=5)
    # Still answering: the next well-formed message goes through the normal validation.
    await communicator.send_to(text_data=json.dumps({"question": "   "}))
    assert "type a question" in await communicator.receive_from(timeout=5)
    assert await sync_to_async(Answer.objects.count)() == 0
    await communicator.disconnect()


async def _drain(communicator, done, seconds: float = 60.0) -> str:
    """Everything the socket sends until ``done()`` holds and it has been quiet for half a
    second (receive_nothing never cancels the app, unlike a receive that times out)."""
    received: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await communicator.receive_nothing(timeout=0.5):
            if done(received):
                break
            continue
        received.append(await communicator.receive_from())
    return "".join(received)


async def test_losing_collection_access_mid_socket_narrows_the_next_question(reader, monkeypatch) -> None:
    queued: list[tuple[int, dict]] = []
    monkeypatch.setattr("qa.consumers._enqueue", lambda answer_id, prepared: queued.append((answer_id, prepared)))

    async def ask_and_run(communicator) -> tuple[Answer, str]:
        before = len(queued)
        await communicator.send_to(text_data=json.dumps({"question": "What is the hotel limit in London?"}))
        streamed = await _drain(
            communicator, lambda got: len(queued) > before or any("bubble answer final" in m for m in got)
        )
        answer = await sync_to_async(Answer.objects.order_by("-pk").first)()
        if len(queued) > before:  # not answered from the cache by the consumer: run the worker's part
            answer_id, prepared = queued[-1]
            await sync_to_async(answer_run)(
                answer_id=answer_id, emit=lambda *_: None, prepared=Prepared.from_dict(prepared) if prepared else None
            )
        await sync_to_async(answer.refresh_from_db)()
        return answer, streamed

    cookie = await sync_to_async(session_cookie_for)(reader)
    communicator = socket("/ws/chat/", cookie=cookie)
    assert (await communicator.connect())[0]
    first, _ = await ask_and_run(communicator)
    assert first.status == AnswerStatus.ANSWERED and "260 euros" in first.text  # readable now (and now cached)

    # An admin removes the reader from the group that may read the handbook; the socket stays open.
    await sync_to_async(lambda: reader.groups.remove(Group.objects.get(name="staff-readers")))()
    second, streamed = await ask_and_run(communicator)
    assert second.pk != first.pk
    assert "260 euros" not in streamed, "the cached answer from the handbook reached a former reader"
    assert second.status == AnswerStatus.DECLINED and "260" not in second.text
    assert await sync_to_async(second.citations.count)() == 0
    await communicator.disconnect()


@pytest.mark.parametrize("conversation", ["²", "٣", "-1", "99999999999999999999999", "abc", "1e3"])
async def test_a_hostile_conversation_id_opens_a_new_conversation_instead_of_crashing(conversation: str) -> None:
    from urllib.parse import quote

    _, cookie = await signed_in("tinkerer")
    communicator = socket(f"/ws/chat/?conversation={quote(conversation)}", cookie=cookie)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data=json.dumps({"question": "   "}))
    assert "type a question" in await communicator.receive_from(timeout=5)
    await communicator.disconnect()
