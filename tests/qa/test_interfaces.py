"""REST API, CLI, pages and websocket of the chat."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.test import Client

from config.asgi import application
from config.routing import websocket_urlpatterns
from qa.models import Answer
from qa.pipeline.orchestrator import answer_create, answer_run
from tests.factories import PASSWORD, user_create

pytestmark = pytest.mark.django_db


def test_api_ask_returns_answer_with_citations_and_timings(reader, client: Client) -> None:
    client.force_login(reader)
    body = client.post(
        "/api/ask/", {"question": "What is the hotel limit in London?"}, content_type="application/json"
    ).json()
    assert body["status"] == "answered" and "260" in body["answer"]
    assert body["citations"][0]["n"] == 1 and body["citations"][0]["source"] == "travel.md"
    assert set(body["timings_ms"]) >= {"retrieval", "first_token", "total"} and body["cache_hit"] is False
    empty = client.post("/api/ask/", {"question": "  "}, content_type="application/json")
    assert empty.status_code == 400 and "type a question" in empty.json()["detail"]


@pytest.mark.django_db(transaction=True)  # the pipeline runs on its own thread and connection
def test_api_ask_stream_is_server_sent_events(reader, client: Client) -> None:
    client.force_login(reader)
    response = client.post(
        "/api/ask/stream/", {"question": "What is the hotel limit in London?"}, content_type="application/json"
    )
    assert response["Content-Type"] == "text/event-stream"
    text = b"".join(response.streaming_content).decode()
    events = [block.split("\n")[0].removeprefix("event: ") for block in text.strip().split("\n\n")]
    assert events[0] == "qa.status" and "qa.sources" in events and "qa.token" in events and events[-1] == "qa.final"
    final = json.loads(text.strip().split("\n\n")[-1].split("data: ", 1)[1])
    assert final["status"] == "answered"


def test_conversations_are_private(reader, client: Client) -> None:
    answer = answer_create(user=reader, question="What is the hotel limit in London?")
    answer_run(answer_id=answer.pk, emit=lambda *a: None)
    other = user_create(username="other")
    client.force_login(other)
    assert client.get(f"/chat/c/{answer.conversation_id}/").status_code == 404
    assert client.get(f"/api/conversations/{answer.conversation_id}/").status_code == 404
    assert client.get("/api/conversations/").json() == []
    assert client.get(f"/chat/a/{answer.pk}/source/1/").status_code == 404
    client.force_login(reader)
    page = client.get(f"/chat/c/{answer.conversation_id}/")
    assert page.status_code == 200 and b"260 euros" in page.content and b'class="cite"' in page.content
    source = client.get(f"/chat/a/{answer.pk}/source/1/")
    assert source.status_code == 200 and b'id="cited"' in source.content and b"Open the original file" in source.content
    original = client.get(f"/documents/{answer.citations.get().document_id}/file/")
    assert original.status_code == 200 and original["Content-Security-Policy"] == "sandbox"
    assert client.post(f"/chat/c/{answer.conversation_id}/rename/", {"title": "Hotels"}).status_code == 302
    assert client.get("/api/conversations/").json()[0]["title"] == "Hotels"
    assert client.post(f"/chat/c/{answer.conversation_id}/delete/").status_code == 302
    assert not Answer.objects.filter(pk=answer.pk).exists()


def test_cli_ask_json_prints_the_stable_fields(reader, capsys) -> None:
    call_command("ask", "What is the hotel limit in London?", "--user", "reader", "--json")
    out = json.loads(capsys.readouterr().out)
    assert {"status", "answer", "citations", "model", "timings_ms", "cache_hit"} <= set(out)
    assert out["status"] == "answered" and out["model"] == "verity-extractive-1"
    assert set(out["citations"][0]) >= {"n", "document_id", "title", "source", "section", "page", "quote"}
    assert set(out["timings_ms"]) >= {"retrieval", "first_token", "total"}
    call_command("ask", "What is the hotel limit in London?", "--user", "reader")
    streamed = capsys.readouterr().out
    assert "260 euros" in streamed and "Sources:" in streamed and "[1] Travel Policy" in streamed


@pytest.mark.django_db(transaction=True)
async def test_chat_socket_validates_and_refuses_strangers(monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[int] = []
    monkeypatch.setattr("qa.consumers._enqueue", lambda answer_id, prepared: queued.append(answer_id))
    user = await sync_to_async(user_create)(username="chatter")
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
    communicator.scope["user"] = user
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"question": "   "}))
    error = await communicator.receive_from(timeout=5)
    assert 'id="chat-error"' in error and "type a question" in error
    await communicator.send_to(text_data=json.dumps({"question": "<script>alert(1)</script> what?"}))
    shell = await communicator.receive_from(timeout=5)
    assert "&lt;script&gt;" in shell and "<script>alert" not in shell and "Searching your documents" in shell
    # The consumer embeds the question and looks for a cached answer, then queues the task.
    for _ in range(100):
        if queued:
            break
        await asyncio.sleep(0.1)
    assert len(queued) == 1
    await communicator.disconnect()
    foreign = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"origin", b"http://evil.example")])
    assert not (await foreign.connect())[0]


def test_chat_page_lists_own_conversations(reader, client: Client) -> None:
    answer_create(user=reader, question="What is the hotel limit in London?")
    client.login(username="reader", password=PASSWORD)
    page = client.get("/chat/")
    assert b"What is the hotel limit in London?" in page.content and b"ws-connect" in page.content


@pytest.mark.django_db(transaction=True)
async def test_a_cached_answer_is_given_by_the_chat_socket_without_a_worker(reader, monkeypatch) -> None:
    queued: list[int] = []
    monkeypatch.setattr("qa.consumers._enqueue", lambda answer_id, prepared: queued.append(answer_id))
    first = await sync_to_async(answer_create)(user=reader, question="What is the hotel limit in London?")
    await sync_to_async(answer_run)(answer_id=first.pk, emit=lambda *_: None)
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
    communicator.scope["user"] = reader
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"question": "what's the hotel limit in London"}))
    final = ""
    for _ in range(10):
        message = await communicator.receive_from(timeout=10)
        if "bubble answer final" in message:
            final = message
            break
    assert "Cached answer" in final and "260 euros" in final
    assert queued == [], "no task was queued for a cache hit"
    await communicator.disconnect()
