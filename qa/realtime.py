"""The answer's realtime channel: the groups a browser listens on and the names of the events
sent to them. The consumer (``qa.consumers.ChatConsumer``) handles each event in the method of
the same name (``qa.token`` -> ``qa_token``); the REST stream uses the names as SSE event types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.realtime import group_send_now

# How the pipeline reports progress: ``emit(event, payload)``. The websocket, the server-sent
# events API and the command line each pass their own.
Emit = Callable[[str, dict[str, Any]], None]


class Event(StrEnum):
    STATUS = "qa.status"  # a stage began: {"stage", "message"}
    SOURCES = "qa.sources"  # the passages the answer may cite
    TOKEN = "qa.token"  # noqa: S105 - an event name, not a secret: streamed draft text
    # A provider failed mid-stream, or the draft failed its checks and is written again with the
    # prompt's fallback: the draft so far is discarded.
    RESET = "qa.reset"
    FINAL = "qa.final"  # the stored answer's payload (``qa.presenters.answer_payload``)
    FAILED = "qa.failed"  # the pipeline could not run: a message for the user


def answer_group(answer_id: int) -> str:
    return f"qa.answer.{answer_id}"


def user_group(user_id: int) -> str:
    """Every chat page of a user listens here (review decisions reach them live)."""
    return f"qa.user.{user_id}"


@dataclass(frozen=True, kw_only=True)
class AnswerDomIds:
    """The ids of an answer's elements on the chat page, which the live events target (htmx
    out-of-band swaps): the bubble, its status line, its sources preview and its streamed text."""

    answer: str
    status: str
    sources: str
    text: str


def answer_dom_ids(answer_id: int) -> AnswerDomIds:
    """The one place that names an answer's element ids: templates get them through their
    context (``dom``), the chat consumer uses them in its fragments."""
    prefix = f"answer-{int(answer_id)}"
    return AnswerDomIds(answer=prefix, status=f"{prefix}-status", sources=f"{prefix}-sources", text=f"{prefix}-text")


def emit_to_group(answer_id: int) -> Emit:
    group = answer_group(answer_id)
    return lambda event_type, payload: group_send_now(
        group=group, event_type=event_type, payload={"answer_id": answer_id, **payload}
    )
