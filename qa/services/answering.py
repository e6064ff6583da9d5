"""The answer pipeline, stage by stage: validate -> retrieve -> gate on evidence -> assemble the
prompt -> generate through the gateway (streaming) -> keep valid citations -> store -> final render.

``answer_run`` is written against an ``emit(event_type, payload)`` callable so that the same
pipeline feeds the websocket (through the channel layer), the server-sent-events API and the
command line. It runs in a Celery task for the chat, apart from the websocket consumer: if the
browser goes away, the answer still completes and is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse

from core.errors import ApplicationError
from core.realtime import group_send_now
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider
from providers.registry import llm_chain_default
from qa.models import Answer, AnswerStatus, Citation, Conversation
from qa.services.citations import citations_filter
from qa.services.conversations import conversation_create, standalone_question_of
from qa.services.evidence import evidence_gate
from qa.services.gateway import GatewayFailed, gateway_stream
from qa.services.prompt import prompt_build
from qa.services.rendering import answer_html
from qa.services.retrieval import passages_retrieve
from qa.services.validation import question_validate

logger = logging.getLogger(__name__)
Emit = Callable[[str, dict[str, Any]], None]
FINAL_STATUSES = {AnswerStatus.ANSWERED, AnswerStatus.DECLINED, AnswerStatus.FAILED}


def answer_group(answer_id: int) -> str:
    return f"qa.answer.{answer_id}"


def emit_to_group(answer_id: int) -> Emit:
    group = answer_group(answer_id)
    return lambda event_type, payload: group_send_now(
        group=group, event_type=event_type, payload={"answer_id": answer_id, **payload}
    )


@transaction.atomic
def answer_create(*, user: User, question: str, conversation_id: int | None = None) -> Answer:
    """Validate the question and record it as a pending answer in the user's conversation
    (a new one when none is given). Raises ApplicationError with a message for the user."""
    cleaned = question_validate(question=question)
    if conversation_id:
        conversation = Conversation.objects.filter(pk=conversation_id, user=user).first()
        if conversation is None:
            raise ApplicationError("That conversation does not exist.")
    else:
        conversation = conversation_create(user=user, title=cleaned[:80])
    standalone = standalone_question_of(conversation=conversation, question=cleaned)
    answer = Answer.objects.create(conversation=conversation, question=cleaned, standalone_question=standalone)
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=answer.created_at)
    return answer


def citation_url(answer_id: int, n: int) -> str:
    return reverse("qa:source", args=[answer_id, n])


def answer_payload(answer: Answer) -> dict[str, Any]:
    """The stable JSON shape of an answer (API, CLI ``--json``, final websocket event)."""
    citations = list(answer.citations.all())
    status = "answered" if answer.status == AnswerStatus.ANSWERED else answer.status
    return {
        "id": answer.pk,
        "conversation_id": answer.conversation_id,
        "question": answer.question,
        "status": status,
        "answer": answer.text,
        "html": answer_html(text=answer.text, citation_urls={c.n: citation_url(answer.pk, c.n) for c in citations})
        if answer.text
        else "",
        "decline_reason": answer.decline_reason,
        "searched": answer.searched,
        "citations": [
            {
                "n": c.n,
                "document_id": c.document_id,
                "title": c.title,
                "source": c.source_name,
                "section": c.section,
                "page": c.page,
                "quote": c.quote,
            }
            for c in citations
        ],  # fmt: skip
        "model": answer.model,
        "provider": answer.provider,
        "fallback_used": answer.fallback_used,
        "timings_ms": answer.timings_ms,
        "cache_hit": False,
    }


def answer_run(
    *,
    answer_id: int,
    emit: Emit,
    embedder: EmbeddingProvider | None = None,
    providers: list[LLMProvider] | None = None,
    collection_ids: list[int] | None = None,
) -> Answer:
    """Run the pipeline for a pending answer (optionally narrowed to some collections, within
    those the user may read). Idempotent: a finished answer is re-emitted, not
    re-generated."""
    answer = Answer.objects.select_related("conversation__user").get(pk=answer_id)
    if answer.status in FINAL_STATUSES:
        emit("qa.final", answer_payload(answer))
        return answer
    user = answer.conversation.user
    started = time.perf_counter()
    timings: dict[str, float] = {}
    emit("qa.status", {"stage": "searching", "message": "Searching your documents…"})

    chunks, trace = passages_retrieve(
        question=answer.standalone_question or answer.question,
        user=user,
        k=settings.QA_RETRIEVAL_K,
        embedder=embedder,
        collection_ids=collection_ids,
    )
    timings["retrieval"] = round((time.perf_counter() - started) * 1000, 1)
    searched = {
        "question": answer.standalone_question or answer.question,
        "collections": trace.readable_collections,
        "chunks": trace.readable_chunks,
        "closest": list(dict.fromkeys(c.title for c in chunks))[:3],
    }
    verdict = evidence_gate(chunks=chunks)
    if not verdict.sufficient:
        return _decline(answer, emit, reason=verdict.reason, searched=searched, timings=timings, started=started)

    request = prompt_build(
        question=answer.question, chunks=chunks, context_tokens=settings.QA_CONTEXT_MAX_TOKENS,
        max_output_tokens=settings.QA_MAX_OUTPUT_TOKENS,
    )  # fmt: skip
    emit("qa.sources", {"sources": [
        {"n": p.n, "title": p.title, "section": p.section, "page": p.page, "source": p.source_name, "quote": p.text[:300]}
        for p in request.passages
    ]})  # fmt: skip
    Answer.objects.filter(pk=answer_id).update(status=AnswerStatus.STREAMING)
    emit("qa.status", {"stage": "generating", "message": "Writing the answer…"})

    first_token: list[float] = []

    def on_token(piece: str) -> None:
        if not first_token:
            first_token.append(round((time.perf_counter() - started) * 1000, 1))
        emit("qa.token", {"text": piece})

    def on_reset(message: str) -> None:
        emit("qa.reset", {"message": message})

    try:
        result = gateway_stream(
            request=request, providers=providers if providers is not None else llm_chain_default(embedder=embedder),
            answer_id=answer_id, on_token=on_token, on_reset=on_reset,
        )  # fmt: skip
    except GatewayFailed as exc:
        logger.warning("qa.all_providers_failed answer_id=%s errors=%s", answer_id, exc)
        return _decline(
            answer, emit, reason="No language model could answer right now; please try again shortly.",
            searched=searched, timings=timings, started=started, status=AnswerStatus.FAILED, error=str(exc),
        )  # fmt: skip
    timings["first_token"] = first_token[0] if first_token else timings["retrieval"]
    if result.model_first_token_ms is not None:
        timings["model_first_token"] = round(result.model_first_token_ms, 1)
    if result.declined:
        return _decline(
            answer,
            emit,
            reason="The documents I can read do not answer this clearly enough.",
            searched=searched,
            timings=timings,
            started=started,
            provider=result.provider,
            model=result.model,
        )
    text, cited = citations_filter(text=result.text, passages=request.passages)
    timings["total"] = round((time.perf_counter() - started) * 1000, 1)
    by_n = {p.n: p for p in request.passages}
    with transaction.atomic():
        Citation.objects.filter(answer_id=answer_id).delete()
        Citation.objects.bulk_create(
            [
                Citation(answer_id=answer_id, n=n, chunk_id=by_n[n].chunk_id, document_id=by_n[n].document_id,
                         title=by_n[n].title, source_name=by_n[n].source_name, section=by_n[n].section,
                         page=by_n[n].page, quote=by_n[n].text[:1000])
                for n in cited
            ]
        )  # fmt: skip
        Answer.objects.filter(pk=answer_id).update(
            status=AnswerStatus.ANSWERED, text=text, provider=result.provider, model=result.model,
            fallback_used=result.fallback_used, searched=searched, timings_ms=timings,
            error="; ".join(result.errors),
        )  # fmt: skip
    answer.refresh_from_db()
    emit("qa.final", answer_payload(answer))
    return answer


def _decline(
    answer: Answer,
    emit: Emit,
    *,
    reason: str,
    searched: dict[str, Any],
    timings: dict[str, float],
    started: float,
    status: AnswerStatus = AnswerStatus.DECLINED,
    error: str = "",
    provider: str = "",
    model: str = "",
) -> Answer:
    timings["total"] = round((time.perf_counter() - started) * 1000, 1)
    timings.setdefault("first_token", timings["total"])
    Answer.objects.filter(pk=answer.pk).update(
        status=status, decline_reason=reason, searched=searched, timings_ms=timings, error=error,
        provider=provider, model=model,
    )  # fmt: skip
    answer.refresh_from_db()
    emit("qa.final", answer_payload(answer))
    return answer


def answer_fail(*, answer_id: int, reason: str) -> None:
    """Record an answer whose task could not run at all (retries exhausted)."""
    Answer.objects.filter(pk=answer_id).exclude(status__in=FINAL_STATUSES).update(
        status=AnswerStatus.FAILED,
        decline_reason="Something went wrong while answering; please ask again.",
        error=reason[:2000],
    )
