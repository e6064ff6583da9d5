"""The answer pipeline's orchestrator: runs the stages in the order listed in ``qa.pipeline``
(validate -> prepare and reuse -> retrieve -> gate on evidence -> prompt -> route -> generate
through the gateway, streaming -> check -> store -> final payload).

``answer_run`` is written against an ``emit(event_type, payload)`` callable so that the same
pipeline feeds the websocket (through the channel layer), the server-sent-events API and the
command line. It runs in a Celery task for the chat, apart from the websocket consumer: if the
browser goes away, the answer still completes and is stored.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from core.errors import ApplicationError
from ingestion.selectors.collections import (
    AnswerPolicy,
    answer_policy_for,
)
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import ContextPassage, LLMProvider, LLMRequest, approx_tokens
from providers.registry import embedding_provider_default, llm_provider_for_tier
from qa.checks.confidence import Confidence, confidence_assess
from qa.checks.high_stakes import high_stakes_classify
from qa.checks.verification import (
    Verification,
    Verifier,
    answer_verify,
    verifier_default,
    verifier_for_classification,
)
from qa.models import (
    FINAL_STATUSES,
    Answer,
    AnswerStatus,
    Citation,
    ConfidenceLevel,
    Conversation,
    Interaction,
    ReusableAnswer,
    ReuseOrigin,
    ReviewReason,
    ReviewState,
)
from qa.pipeline.evidence import evidence_gate
from qa.pipeline.gateway import GatewayFailed, gateway_stream
from qa.pipeline.prompt import prompt_build
from qa.pipeline.retrieval import passages_retrieve
from qa.pipeline.routing import EXTRACTIVE, TierSpec, question_features, route_choose, tiers_configured
from qa.pipeline.stream_guard import (
    LinkHoldGate,
    QuestionRelevance,
    answer_text_guard,
    sentence_blocked_reason,
)
from qa.pipeline.validation import question_validate
from qa.presenters import HELD_MESSAGE, answer_payload
from qa.realtime import Emit, Event, emit_to_group
from qa.reuse.cache import cache_confirm, cache_lookup, cache_store
from qa.reuse.reusable import reusable_record_hit
from qa.review.queue import review_item_open
from qa.services.budgets import (
    BudgetState,
    Reservation,
    budget_check,
    budget_reserve,
    budget_settle,
)
from qa.services.conversations import conversation_create, standalone_question_of
from qa.services.costs import answer_cost_record, cost_of

logger = logging.getLogger(__name__)


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
    # A new conversation has nothing to carry over.
    standalone = standalone_question_of(conversation=conversation, question=cleaned) if conversation_id else cleaned
    answer = Answer.objects.create(conversation=conversation, question=cleaned, standalone_question=standalone)
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=answer.created_at)
    return answer


class _SentenceGate:
    """In "sentence" stream mode: hold the model's words until a sentence is complete, verify
    it, and pass on only what the verifier keeps."""

    _BOUNDARY = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,3}\])*\s+(?=\S)|\n+")

    def __init__(self, emit_text: Callable[[str], None], passages: list[ContextPassage], verifier: Verifier,
                 policy: str, relevance: QuestionRelevance | None = None) -> None:  # fmt: skip
        self.emit_text, self.passages, self.verifier, self.policy = emit_text, passages, verifier, policy
        self.relevance = relevance
        self.buffer = ""
        self.sent_any = False

    def feed(self, piece: str) -> None:
        self.buffer += piece
        while True:
            match = self._BOUNDARY.search(self.buffer)
            if match is None:
                return
            sentence, self.buffer = self.buffer[: match.end()], self.buffer[match.end() :]
            self._release(sentence)

    def flush(self) -> None:
        if self.buffer.strip():
            self._release(self.buffer)
        self.buffer = ""

    def _release(self, sentence: str) -> None:
        checked = answer_verify(text=sentence, passages=self.passages, verifier=self.verifier, policy=self.policy)
        if checked.text and not sentence_blocked_reason(
            sentence=checked.text, passages=self.passages, relevance=self.relevance
        ):
            self.emit_text(("" if not self.sent_any else " ") + checked.text)
            self.sent_any = True

    def reset(self) -> None:
        self.buffer = ""


@dataclass
class Prepared:
    """What the first stage (budget, embedding, curated and cached answers) found, for the
    second stage when it runs elsewhere: the chat consumer answers cache hits itself and
    queues the rest with this, so the worker neither embeds nor counts the question again."""

    vector: list[float]
    budget_level: str
    budget_reasons: list[str]
    looks_high_stakes: bool
    started_at: float  # time.time() when the first stage began

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prepared:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def answer_prepare(
    *,
    answer_id: int,
    emit: Emit,
    embedder: EmbeddingProvider | None = None,
    collection_ids: list[int] | None = None,
) -> tuple[Answer, Prepared | None]:
    """The first stage: count the question against the budgets, embed it, and answer it from a
    reviewer-curated or cached verified answer when one fits. Returns the answer and, when it
    still needs generating, what the second stage needs (None: the answer is final)."""
    answer = Answer.objects.select_related("conversation__user", "reused_from").get(pk=answer_id)
    if answer.status in FINAL_STATUSES:
        emit(Event.FINAL, answer_payload(answer))
        return answer, None
    user = answer.conversation.user
    started_at, started = time.time(), time.perf_counter()
    emit(Event.STATUS, {"stage": "searching", "message": "Searching your documents…"})
    budget = budget_check(user_id=user.pk, count_question=True)
    embedder = embedder or embedding_provider_default()
    question = answer.standalone_question or answer.question
    query_vector = embedder.embed_query(question)
    tiers = tiers_configured()
    # A question that looks high-stakes on any topic never takes a cached answer (a
    # reviewer-curated one, yes).
    looks_high_stakes = high_stakes_classify(question=question, embedder=embedder,
                                             question_vector=np.asarray(query_vector)).flagged  # fmt: skip
    # A reviewer-approved or cached verified answer to the same question, from documents this
    # user may read.
    match = cache_lookup(
        user=user, question=question, embedding=query_vector, answer_id=answer_id,
        models=[t.model for t in tiers], collection_ids=collection_ids,
        cached=settings.QA_CACHE_ENABLED and not looks_high_stakes,
    )  # fmt: skip
    if match is not None:
        return _answer_from_reusable(answer, emit, match.entry, timings={}, started=started), None
    return answer, Prepared(query_vector, budget.level, budget.reasons, looks_high_stakes, started_at)


def answer_run(
    *,
    answer_id: int,
    emit: Emit,
    embedder: EmbeddingProvider | None = None,
    providers: list[LLMProvider] | None = None,
    collection_ids: list[int] | None = None,
    verifier: Verifier | None = None,
    prepared: Prepared | None = None,
) -> Answer:
    """Run the pipeline for a pending answer (optionally narrowed to some collections, within
    those the user may read). Idempotent: a finished answer is re-emitted, not
    re-generated. ``prepared``: the first stage already ran (``answer_prepare``)."""
    if prepared is None:
        answer, prepared = answer_prepare(
            answer_id=answer_id, emit=emit, embedder=embedder, collection_ids=collection_ids
        )
        if prepared is None:
            return answer
    else:
        answer = Answer.objects.select_related("conversation__user", "reused_from").get(pk=answer_id)
        if answer.status in FINAL_STATUSES:
            emit(Event.FINAL, answer_payload(answer))
            return answer
    user = answer.conversation.user
    # Timings count from the first stage, wherever it ran.
    started = time.perf_counter() - max(0.0, time.time() - prepared.started_at)
    timings: dict[str, float] = {}
    budget = BudgetState(level=prepared.budget_level, reasons=list(prepared.budget_reasons))
    embedder = embedder or embedding_provider_default()
    question = answer.standalone_question or answer.question
    query_vector = prepared.vector
    looks_high_stakes = prepared.looks_high_stakes
    tiers = tiers_configured()

    chunks, trace = passages_retrieve(
        question=question, user=user, k=settings.QA_RETRIEVAL_K, embedder=embedder,
        collection_ids=collection_ids, query_embedding=query_vector,
    )  # fmt: skip
    timings["retrieval"] = round((time.perf_counter() - started) * 1000, 1)
    searched = {
        "question": question,
        "collections": trace.readable_collections,
        "chunks": trace.readable_chunks,
        "closest": list(dict.fromkeys(c.title for c in chunks))[:3],
        # The collections the passages came from: the review queue shows this answer only to
        # reviewers who may read all of them (``qa.selectors.answer_list_reviewable``).
        "collection_ids": sorted({c.collection_id for c in chunks}),
    }
    policy = answer_policy_for(collection_ids=list({c.collection_id for c in chunks}))
    stakes = (
        high_stakes_classify(
            question=answer.question,
            topics=policy.high_stakes_topics,
            embedder=embedder,
            question_vector=np.asarray(query_vector) if answer.question == question else None,
        )  # fmt: skip
        if policy.high_stakes_policy != "off" and policy.high_stakes_topics
        else None
    )
    if stakes is not None and stakes.flagged:
        Answer.objects.filter(pk=answer_id).update(high_stakes=stakes.topics)
        answer.high_stakes = stakes.topics
    verdict = evidence_gate(chunks=chunks, question=question)
    if not verdict.sufficient:
        return _decline(answer, emit, reason=verdict.reason, searched=searched, timings=timings, started=started)
    hold = stakes is not None and stakes.flagged and policy.high_stakes_policy == "hold"
    if settings.QA_CACHE_ENABLED and not looks_high_stakes and not (stakes is not None and stakes.flagged):
        confirmed = cache_confirm(
            user=user, question=question, embedding=query_vector, chunks=chunks, answer_id=answer_id,
            models=[t.model for t in tiers], collection_ids=collection_ids,
        )  # fmt: skip
        if confirmed is not None:
            return _answer_from_reusable(answer, emit, confirmed, timings=timings, started=started)

    request = prompt_build(
        question=answer.question, chunks=chunks, context_tokens=settings.QA_CONTEXT_MAX_TOKENS,
        max_output_tokens=settings.QA_MAX_OUTPUT_TOKENS,
    )  # fmt: skip
    turns = Answer.objects.filter(conversation_id=answer.conversation_id, created_at__lt=answer.created_at).count()
    chain, route, reservation, budget_notice = _route_and_reserve(
        request=request, providers=providers, embedder=embedder, tiers=tiers, policy=policy, budget=budget,
        features=question_features(question=question, best_similarity=verdict.best_similarity, turns=turns),
        user_id=user.pk,
    )  # fmt: skip
    Answer.objects.filter(pk=answer_id).update(route=route)
    emit(Event.SOURCES, {"sources": [
        {"n": p.n, "title": p.title, "section": p.section, "page": p.page, "source": p.source_name, "quote": p.text[:300]}
        for p in request.passages
    ]})  # fmt: skip
    Answer.objects.filter(pk=answer_id).update(status=AnswerStatus.STREAMING)
    if hold:
        topics = " and ".join(stakes.topics) if stakes else ""
        emit(Event.STATUS, {"stage": "held", "message": f"This looks like a {topics} question. {HELD_MESSAGE}"})
    else:
        emit(
            Event.STATUS,
            {"stage": "generating", "message": "Writing the answer… (a draft until it is checked against the sources)"},
        )
    verifier = verifier_for_classification(
        verifier=verifier or verifier_default(embedder=embedder), restricted=policy.restricted
    )

    first_token: list[float] = []

    def emit_text(piece: str) -> None:
        if not first_token:
            first_token.append(round((time.perf_counter() - started) * 1000, 1))
        emit(Event.TOKEN, {"text": piece})

    # Stream gate. "token" mode sends each word as the model gives it (fast first words), holding
    # only sentences that start a link, image or markup until they are checked. When a passage
    # was flagged for text addressed to the model, this answer streams in sentence mode instead:
    # each sentence is verified and checked before it is shown, so an instruction the scan only
    # partly caught cannot put its payload on screen, even as a draft. Flagged passages are rare,
    # so ordinary answers keep word-by-word streaming.
    # "Suspect" is broader than flagged: a sentence holding exact words to repeat and a word about
    # answering. Then sentences off the question are held back too (QuestionRelevance).
    suspect = any(p.injection_flags or p.injection_suspect for p in request.passages)
    relevance = QuestionRelevance(embedder=embedder, question_vector=query_vector) if suspect else None
    gate: _SentenceGate | LinkHoldGate | None = None
    if not hold:
        gate = (
            _SentenceGate(emit_text, request.passages, verifier, policy.unsupported_policy, relevance)
            if settings.QA_STREAM_MODE == "sentence" or suspect
            else LinkHoldGate(emit_text, request.passages)
        )

    def on_token(piece: str) -> None:
        if hold:
            return  # nobody sees a held answer before a reviewer does
        if gate is not None:
            gate.feed(piece)
        else:
            emit_text(piece)

    def on_reset(message: str) -> None:
        if gate is not None:
            gate.reset()
        if not hold:
            emit(Event.RESET, {"message": message})

    try:
        result = gateway_stream(
            request=request, providers=chain, answer_id=answer_id, on_token=on_token, on_reset=on_reset
        )
    except GatewayFailed as exc:
        logger.warning("qa.all_providers_failed answer_id=%s errors=%s", answer_id, exc)
        return _decline(
            answer, emit, reason="No language model could answer right now; please try again shortly.",
            searched=searched, timings=timings, started=started, status=AnswerStatus.FAILED, error=str(exc),
        )  # fmt: skip
    finally:
        _settle(answer_id=answer_id, user_id=user.pk, reservation=reservation)
    if gate is not None:
        gate.flush()
    timings["first_token"] = first_token[0] if first_token else timings["retrieval"]
    if result.model_first_token_ms is not None:
        timings["model_first_token"] = round(result.model_first_token_ms, 1)
    model_info = {"provider": result.provider, "model": result.model}
    if result.declined:
        return _decline(
            answer, emit, reason="The documents I can read do not answer this clearly enough.",
            searched=searched, timings=timings, started=started, provider=result.provider, model=result.model,
        )  # fmt: skip

    verify_started = time.perf_counter()
    verification = answer_verify(
        text=result.text, passages=request.passages, verifier=verifier, policy=policy.unsupported_policy
    )
    # What an injected instruction makes a model say (an image, a link in no passage, text
    # addressed to a model, the system prompt) is removed from the answer like an unsupported
    # sentence; an answer with nothing else is declined below.
    guarded = answer_text_guard(text=verification.text, passages=request.passages, relevance=relevance)
    if guarded.removed:
        logger.info("qa.injection_guard answer_id=%s removed=%s", answer_id, guarded.removed)
        verification.text = guarded.text
    timings["verification"] = round((time.perf_counter() - verify_started) * 1000, 1)
    confidence = confidence_assess(best_similarity=verdict.best_similarity, verification=verification, policy=policy)
    trust = {
        "verification": verification.as_dict(),
        "confidence": confidence.score,
        "confidence_level": confidence.level,
        "confidence_reason": confidence.reason,
    }
    reason = _unsupported_reason(verification, confidence)
    if not reason and not verification.text.strip():
        reason = "The draft answer held only text that a document told the assistant to say, so I will not show it."
    if reason:
        return _decline(
            answer, emit, reason=reason, searched=searched, timings=timings, started=started,
            provider=result.provider, model=result.model, trust=trust,
        )  # fmt: skip
    by_n = {p.n: p for p in request.passages}
    cited = verification.cited_numbers()
    notice = budget_notice
    if stakes is not None and stakes.flagged and not hold:
        notice = (
            f"This touches on {' and '.join(stakes.topics)} matters. It is not professional advice; "
            "a reviewer will check this answer. " + notice
        ).strip()
    timings["total"] = round((time.perf_counter() - started) * 1000, 1)
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
            status=AnswerStatus.HELD if hold else AnswerStatus.ANSWERED, text=verification.text,
            fallback_used=result.fallback_used, searched=searched, timings_ms=timings,
            error="; ".join(result.errors), notice=notice,
            review_state=ReviewState.PENDING if stakes is not None and stakes.flagged else ReviewState.NONE,
            **model_info, **trust,
        )  # fmt: skip
        if stakes is not None and stakes.flagged:
            review_item_open(
                answer_id=answer_id, reason=ReviewReason.HIGH_STAKES, topics=stakes.topics,
                detail="; ".join(stakes.reasons), held=hold,
            )  # fmt: skip
    answer.refresh_from_db()
    if settings.QA_CACHE_ENABLED and not hold:
        cache_store(answer=answer, embedding=query_vector)
    emit(Event.FINAL, answer_payload(answer))
    return answer


def _route_and_reserve(
    *, request: LLMRequest, providers: list[LLMProvider] | None, embedder: EmbeddingProvider,
    tiers: list[TierSpec], policy: AnswerPolicy, budget: BudgetState, features: dict[str, Any], user_id: int,
) -> tuple[list[LLMProvider], dict[str, Any], Reservation | None, str]:  # fmt: skip
    """Pick the model chain for this question and reserve its worst-case cost against the
    budgets. Explicit ``providers`` (tests, evaluation) skip routing but not the restriction."""
    notice = budget.notice
    if providers is not None:
        allowed = [p for p in providers if not (policy.restricted and p.external)]
        chain = allowed or [llm_provider_for_tier(provider="extractive", model="", embedder=embedder)]
        dropped = len(providers) - len(allowed)
        reason = "explicit providers" + (f"; {dropped} external provider(s) skipped: restricted" if dropped else "")
        return chain, {"tier": "explicit", "chain": [p.name for p in chain], "reason": reason,
                       "features": features}, None, notice  # fmt: skip
    route = route_choose(features=features, restricted=policy.restricted, budget_level=budget.level, tiers=tiers)
    reservation = None
    tokens_estimate = approx_tokens(" ".join(m["content"] for m in request.messages)) + request.max_output_tokens
    worst = max(
        cost_of(model=t.model, tokens_in=tokens_estimate - request.max_output_tokens, tokens_out=request.max_output_tokens)
        for t in route.chain
    )  # fmt: skip
    specs = route.chain
    if worst > 0 or route.tier.external:
        reservation = budget_reserve(user_id=user_id, tokens=tokens_estimate, cost=worst)
        if reservation is None:
            specs = [EXTRACTIVE]
            route.reason += "; the reservation would pass a hard limit: extractive only"
            notice = notice or (
                "Usage limit reached: this answer comes from the built-in extractive model. "
                "Full answers resume when the limit resets."
            )
    chain = [
        llm_provider_for_tier(provider=t.provider, model=t.model, base_url=t.base_url, api_key_env=t.api_key_env,
                              external=t.external, embedder=embedder)
        for t in specs
    ]  # fmt: skip
    return chain, route.as_dict(), reservation, notice


def _settle(*, answer_id: int, user_id: int, reservation: Reservation | None) -> None:
    """Price the answer's model calls and turn the reservation into actual spend."""
    answer_cost_record(answer_id=answer_id)
    spent = Interaction.objects.filter(answer_id=answer_id).exclude(provider="extractive")
    tokens = sum(i.tokens_in + i.tokens_out for i in spent)
    cost = sum((i.cost for i in spent), Decimal(0))
    if reservation is None and not tokens and not cost:
        return  # nothing reserved, nothing spent: no counter to change
    budget_settle(reservation=reservation, user_id=user_id, tokens=tokens, cost=cost)


def _unsupported_reason(verification: Verification, confidence: Confidence) -> str:
    if verification.declined_by_model:
        return "The model found no answer in the passages."
    if not verification.claims or not verification.supported_claims:
        return "I could not verify any statement of the draft answer against the passages, so I will not guess."
    if verification.support_ratio < settings.QA_VERIFY_MIN_SUPPORTED_SHARE:
        return (
            f"Only {verification.supported_claims} of {verification.claims} statements of the draft answer are "
            "supported by the passages, so I will not guess."
        )
    if confidence.below_floor:
        return f"My confidence in the answer ({confidence.score:.2f}) is below this collection's threshold."
    return ""


def _answer_from_reusable(
    answer: Answer, emit: Emit, entry: ReusableAnswer, *, timings: dict[str, float], started: float
) -> Answer:
    timings["first_token"] = timings["total"] = round((time.perf_counter() - started) * 1000, 1)
    fields = {
        "status": AnswerStatus.ANSWERED, "text": entry.text, "reused_from": entry, "timings_ms": timings,
        "provider": "reuse", "model": entry.model, "confidence": entry.confidence,
        "confidence_level": entry.confidence_level or ConfidenceLevel.HIGH,
        "confidence_reason": "A reviewer approved this answer to the same question."
        if entry.origin == ReuseOrigin.CURATED
        else "A verified answer to the same question, from documents you can read.",
    }  # fmt: skip
    citations = [
        Citation(answer_id=answer.pk, n=c["n"], chunk_id=c["chunk_id"], document_id=c["document_id"],
                 title=c["title"], source_name=c["source_name"], section=c.get("section", ""),
                 page=c.get("page"), quote=c.get("quote", ""))
        for c in entry.citations
    ]  # fmt: skip
    with transaction.atomic():
        Citation.objects.filter(answer_id=answer.pk).delete()
        Citation.objects.bulk_create(citations)
        Answer.objects.filter(pk=answer.pk).update(**fields)
        reusable_record_hit(entry=entry)
    # The in-memory answer is what was written (no re-read: a cache hit is on the hot path).
    for name, value in fields.items():
        setattr(answer, name, value)
    answer._prefetched_objects_cache = {"citations": citations}  # type: ignore[attr-defined]
    emit(Event.FINAL, answer_payload(answer))
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
    trust: dict[str, Any] | None = None,
) -> Answer:
    timings["total"] = round((time.perf_counter() - started) * 1000, 1)
    timings.setdefault("first_token", timings["total"])
    Answer.objects.filter(pk=answer.pk).update(
        status=status, decline_reason=reason, searched=searched, timings_ms=timings, error=error,
        provider=provider, model=model, text="", **(trust or {}),
    )  # fmt: skip
    answer.refresh_from_db()
    emit(Event.FINAL, answer_payload(answer))
    return answer


def answer_reuse_or_prepare(*, answer_id: int) -> dict[str, Any] | None:
    """For the chat consumer: answer from a curated or cached answer at once, without the
    worker round trip; otherwise return what the worker's second stage needs (an empty dict:
    the first stage failed and the worker runs it all)."""
    try:
        _, prepared = answer_prepare(answer_id=answer_id, emit=emit_to_group(answer_id))
    except Exception:  # noqa: BLE001 - the worker runs the whole pipeline and reports failures
        logger.exception("qa.prepare_failed answer_id=%s", answer_id)
        return {}
    return prepared.as_dict() if prepared is not None else None


def answer_fail(*, answer_id: int, reason: str) -> None:
    """Record an answer whose task could not run at all (retries exhausted)."""
    Answer.objects.filter(pk=answer_id).exclude(status__in=FINAL_STATUSES).update(
        status=AnswerStatus.FAILED,
        decline_reason="Something went wrong while answering; please ask again.",
        error=reason[:2000],
    )
