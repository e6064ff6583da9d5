"""The chat websocket. The consumer only adapts: it validates and records the question through
a service, queues generation in Celery, and forwards the pipeline's events as escaped HTML
fragments (htmx out-of-band swaps). Generation never runs inside its receive loop."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.template.loader import render_to_string
from django.utils.html import escape

from core.consumers import VerityConsumer
from core.errors import ApplicationError
from core.logcontext import log_context
from core.params import id_param
from core.services.rate_limits import RateScope, rate_limit_consume
from qa.models import FeedbackReason
from qa.observability import question_span
from qa.pipeline.orchestrator import answer_create, answer_reuse_or_prepare
from qa.realtime import answer_dom_ids, answer_group, user_group
from qa.selectors import answers_in_progress, conversation_get


def _enqueue(answer_id: int, prepared: dict[str, Any] | None) -> None:
    from qa.tasks import generate_answer

    generate_answer.delay(answer_id, prepared or None)


def _error_fragment(message: str) -> str:
    """The chat page's error line (an out-of-band swap into #chat-error), escaped."""
    return f'<div id="chat-error" hx-swap-oob="true" role="alert" class="error">{escape(message)}</div>'


def _pending_piece(answer_id: int, piece: str, message: str) -> str:
    """One piece of a pending answer ("status", "reset", "failed") as an out-of-band swap, from
    the same partial the chat page renders the whole pending answer with (autoescaped)."""
    context = {"dom": answer_dom_ids(answer_id), "piece": piece, "message": message}
    return render_to_string("qa/_pending_answer.html", context).strip()


def _question_of(text_data: str | None) -> str | None:
    """The question of a message ``{"question": "...", ...}``; None for anything else (invalid
    JSON, an array, a number, a string, a question that is not a string)."""
    try:
        data = json.loads(text_data or "")
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    question = data.get("question", "")
    return question if isinstance(question, str) else None


class ChatConsumer(VerityConsumer):
    conversation_id: int | None = None

    async def connect(self) -> None:
        if not await self.authenticate():
            return
        user = self.user
        query = parse_qs(self.scope.get("query_string", b"").decode())
        requested = (query.get("conversation") or [""])[0]
        try:
            # str.isdigit() admits "²" and "٣", which int() then refuses or misreads.
            requested_id: int | None = id_param(requested, name="conversation") if requested else None
        except ApplicationError:
            requested_id = None  # not one of this user's conversations: a new one starts
        if requested_id is not None:
            conversation = await database_sync_to_async(conversation_get)(user=user, conversation_id=requested_id)
            if conversation is not None:
                self.conversation_id = conversation.pk
        await self.accept()
        # Review decisions on this user's answers arrive here, whatever page state.
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        if self.conversation_id:
            # Coming back to a conversation whose answer is still being written: follow it.
            for answer_id in await database_sync_to_async(answers_in_progress)(conversation_id=self.conversation_id):
                await self.channel_layer.group_add(answer_group(answer_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # One trace per question: this span is the root; the Celery instrumentation carries its
        # context into the worker's task (sync_to_async copies the context to the thread).
        with question_span(), log_context(user_id=self.user.pk):
            await self._receive_question(text_data)

    async def _receive_question(self, text_data: str | None) -> None:
        # The base class has already refused oversized messages and re-checked the sign-in.
        question = _question_of(text_data)
        if question is None:
            await self.send(text_data=_error_fragment('The message was not understood: send {"question": "..."}.'))
            return
        # The same per-user budget as the ask API (one Redis counter), checked before the
        # question is recorded or embedded: refusing must cost nothing.
        limit = await sync_to_async(rate_limit_consume)(scope=RateScope.QUESTIONS, identity=str(self.user.pk))
        if not limit.allowed:
            await self.send(text_data=_error_fragment(limit.message))
            return
        try:
            answer = await database_sync_to_async(answer_create)(
                user=self.user, question=question, conversation_id=self.conversation_id
            )
        except ApplicationError as exc:
            await self.send(text_data=_error_fragment(exc.message))
            return
        self.conversation_id = answer.conversation_id
        await self.channel_layer.group_add(answer_group(answer.pk), self.channel_name)
        html = render_to_string("qa/_exchange.html", {"answer": answer, "dom": answer_dom_ids(answer.pk), "oob": True})
        await self.send(
            text_data=html + '<div id="chat-error" hx-swap-oob="true"></div>'
            f'<input type="hidden" id="conversation-id" name="conversation" value="{answer.conversation_id}" hx-swap-oob="true">'
        )
        # A curated or cached answer is given here at once; the rest is generated in Celery.
        prepared = await database_sync_to_async(answer_reuse_or_prepare)(answer_id=answer.pk)
        if prepared is not None:
            await sync_to_async(_enqueue)(answer.pk, prepared)

    async def disconnect(self, code: Any) -> None:
        # The answer goes on in its Celery task and is stored.
        if self.user is not None:
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        await super().disconnect(code)

    # ------------------------------------------------------------------ pipeline events
    async def qa_status(self, event: dict[str, Any]) -> None:
        await self.send(text_data=_pending_piece(event["answer_id"], "status", event["message"]))

    async def qa_sources(self, event: dict[str, Any]) -> None:
        html = render_to_string(
            "qa/_sources.html", {"dom": answer_dom_ids(event["answer_id"]), "sources": event["sources"], "oob": True}
        )
        await self.send(text_data=html)

    async def qa_token(self, event: dict[str, Any]) -> None:
        # The hot path (one message per token): an f-string, not a template; the text escaped.
        text_id = answer_dom_ids(event["answer_id"]).text
        await self.send(text_data=f'<span hx-swap-oob="beforeend:#{text_id}">{escape(event["text"])}</span>')

    async def qa_reset(self, event: dict[str, Any]) -> None:
        await self.send(text_data=_pending_piece(event["answer_id"], "reset", event["message"]))

    async def qa_final(self, event: dict[str, Any]) -> None:
        html = render_to_string(
            "qa/_answer.html",
            {"a": {**event, "dom": answer_dom_ids(event["answer_id"])}, "oob": True,
             "feedback_reasons": FeedbackReason.choices},
        )  # fmt: skip
        await self.send(text_data=html)
        await self.channel_layer.group_discard(answer_group(event["answer_id"]), self.channel_name)

    async def qa_failed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=_pending_piece(event["answer_id"], "failed", event["message"]))
