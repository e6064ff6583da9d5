"""An answer as its reader sees it: the stable JSON payload (API, CLI ``--json``, the final
websocket event) and the access check applied when a stored answer is read."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.urls import reverse

from ingestion.selectors.collections import collection_ids_readable, document_ids_readable
from qa.models import Answer, AnswerStatus, ReuseOrigin
from qa.services.rendering import answer_html


def citation_url(answer_id: int, n: int) -> str:
    return reverse("qa:source", args=[answer_id, n])


HELD_MESSAGE = "A reviewer will check this answer before it is shown. It will appear here as soon as it is approved."


def answer_payload(answer: Answer) -> dict[str, Any]:
    """The stable JSON shape of an answer (API, CLI ``--json``, final websocket event). A held
    answer's text and citations are not in it: the user sees them once a reviewer approves."""
    held = answer.status == AnswerStatus.HELD
    citations = [] if held else list(answer.citations.all())
    reused = answer.reused_from
    return {
        "id": answer.pk,
        "conversation_id": answer.conversation_id,
        "question": answer.question,
        # A held answer is "pending_review" to clients (the stable name of the API and CLI).
        "status": "pending_review" if held else str(answer.status),
        "answer": "" if held else answer.text,
        "html": answer_html(text=answer.text, citation_urls={c.n: citation_url(answer.pk, c.n) for c in citations})
        if answer.text and not held
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
        "confidence": {"score": answer.confidence, "level": answer.confidence_level, "reason": answer.confidence_reason}
        if answer.confidence_level
        else None,
        "notice": HELD_MESSAGE if held else answer.notice,
        "high_stakes": answer.high_stakes,
        "review_state": answer.review_state,
        "verification": {k: v for k, v in answer.verification.items() if k != "sentences"}
        if answer.verification
        else None,
        "model": answer.model,
        "provider": answer.provider,
        "fallback_used": answer.fallback_used,
        "timings_ms": answer.timings_ms,
        "cache_hit": reused is not None and reused.origin != ReuseOrigin.CURATED,
        "route": {k: v for k, v in answer.route.items() if k in ("tier", "model", "reason")} if answer.route else None,
        "tokens": {"in": answer.tokens_in, "out": answer.tokens_out},
        "cost": str(answer.cost),
        # The stored answer's own question is another user's words: never shown to this reader.
        "reused": {"origin": reused.origin, "question": answer.question} if reused is not None else None,
        # The data class of the evidence and how many personal values were replaced by
        # placeholders before an external model saw the text (the reader sees the originals).
        "privacy": {"data_class": answer.data_class, "pii_masked": answer.pii_masked},
    }


WITHHELD_MESSAGE = (
    "This answer drew on documents you can no longer read, so it is not shown. "
    "Ask again to get an answer from the documents you can read now."
)


def answer_payloads_for_reader(*, answers: list[Answer], user: User | AnonymousUser) -> list[dict[str, Any]]:
    """Payloads of stored answers as their reader may see them now. Access is checked when an
    answer is read, not only when it was written: an answer that cites a document, or drew on a
    collection, the reader can no longer read (access removed, document moved or deleted) keeps
    only its question and a notice. Two queries for any number of answers."""
    cited = {c.document_id for a in answers for c in a.citations.all()}
    readable_documents = (
        set(document_ids_readable(user=user).filter(pk__in=cited).values_list("pk", flat=True)) if cited else set()
    )
    readable_collections = set(collection_ids_readable(user=user))
    payloads = []
    for answer in answers:
        payload = answer_payload(answer)
        documents = {c.document_id for c in answer.citations.all()}
        collections = set((answer.searched or {}).get("collection_ids") or [])
        if documents - readable_documents or collections - readable_collections:
            payload.update(
                answer="", html="", citations=[], searched={}, decline_reason="", verification=None,
                notice=WITHHELD_MESSAGE, status="withheld",
            )  # fmt: skip
        payloads.append(payload)
    return payloads
