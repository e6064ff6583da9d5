"""An answer completes and is stored after its websocket closes mid-stream (real Celery worker,
real channel layer)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.routing import websocket_urlpatterns
from qa.models import Answer, AnswerStatus
from tests.helpers import database_url_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


async def test_answer_completes_after_the_socket_closes(reader, celery_worker_for) -> None:
    await sync_to_async(celery_worker_for)(settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]))
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
    communicator.scope["user"] = reader
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"question": "What is the hotel limit in London?"}))
    shell = await communicator.receive_from(timeout=10)
    assert "Searching your documents" in shell
    first_event = await communicator.receive_from(timeout=60)  # the worker has started on it
    assert "answer-" in first_event
    await communicator.disconnect()  # the user closes the tab mid-answer

    deadline = time.monotonic() + 60
    answer = await sync_to_async(Answer.objects.get)(question="What is the hotel limit in London?")
    while answer.status not in (AnswerStatus.ANSWERED, AnswerStatus.DECLINED) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        await sync_to_async(answer.refresh_from_db)()
    assert answer.status == AnswerStatus.ANSWERED
    assert "260 euros" in answer.text
    assert await sync_to_async(answer.citations.count)() == 1
