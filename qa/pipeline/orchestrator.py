"""The answer pipeline: ``answer_run`` reads as the list of its stages.

    load -> retrieve -> gate -> plan -> generate -> check -> finish
                                           (fallback: generate -> check, once)

Each stage is a function in its own module taking and returning frozen dataclasses; what they
use (emit, embedder, models, verifier, settings) comes in one ``PipelineDeps``. An answer can
end after load (a curated or cached answer), after gate (too little evidence, or a cached answer
the passages confirm), after generate (no model could answer, or the model declined), after
check (too little of it holds up) or at the end; an answer that fails its checks is written
once more with the prompt version's fallback (``fallback``). Every ending goes through
``answer_finish``, the only writer of an answer's final state. An exception in any stage ends
the answer as failed, with a reason for the reader, whichever caller ran it.

``emit(event, payload)`` is how the reader follows: the websocket (through the channel layer),
the server-sent-events API and the command line each pass their own. For the chat, the pipeline
runs in a Celery task apart from the websocket consumer: if the browser goes away, the answer
still completes and is stored.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from core.errors import ApplicationError
from prompts.services.selection import PromptChoice
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider
from qa.checks.verification import Verifier
from qa.models import FINAL_STATUSES, Answer, AnswerStatus, Conversation
from qa.observability import answer_final_record, answer_observed, answer_span, pipeline_stage
from qa.pipeline.check import Checked, answer_check
from qa.pipeline.deps import PipelineDeps, pipeline_deps
from qa.pipeline.fallback import (
    REWRITING_MESSAGE,
    answer_mark_prompt_fallback,
    check_failure,
    fallback_plan,
    output_failure,
)
from qa.pipeline.finish import Crashed, Declined, Delivered, Outcome, Progress, Reused, answer_finish
from qa.pipeline.gate import GateVerdict, answer_gate
from qa.pipeline.gateway import GatewayResult
from qa.pipeline.generate import Generated, answer_generate, answer_regenerate
from qa.pipeline.load import Loaded, Prepared, answer_fetch, answer_load
from qa.pipeline.plan import Plan, answer_plan
from qa.pipeline.retrieve import Retrieved, answer_retrieve
from qa.pipeline.validation import question_validate
from qa.presenters import answer_payload
from qa.realtime import Emit, Event, emit_to_group
from qa.services.conversations import conversation_create, standalone_question_of

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


def answer_run(
    *,
    answer_id: int,
    emit: Emit,
    embedder: EmbeddingProvider | None = None,
    providers: list[LLMProvider] | None = None,
    collection_ids: list[int] | None = None,
    verifier: Verifier | None = None,
    prepared: Prepared | None = None,
    retry_on: tuple[type[Exception], ...] = (),
    prompts: PromptChoice | None = None,
) -> Answer:
    """Run the pipeline for a pending answer (optionally narrowed to some collections, within
    those the user may read) and return it final. Idempotent: a finished answer is re-emitted,
    not re-generated. ``prepared``: the load stage already ran (``answer_prepare``).

    An exception ends the answer as failed (``answer_finish(Crashed)``) and is not raised,
    except one of ``retry_on``: the caller retries those (the Celery task, on a database
    outage), and the answer stays pending for the retry."""
    with answer_span(answer_id=answer_id):
        try:
            deps = pipeline_deps(emit=emit, embedder=embedder, providers=providers, verifier=verifier, prompts=prompts)
            return _answer_stages(answer_id=answer_id, deps=deps, collection_ids=collection_ids, prepared=prepared)
        except retry_on:
            raise
        except Exception as exc:  # noqa: BLE001 - the reader must see a failure, never a spinner forever
            logger.exception("qa.answer_failed answer_id=%s", answer_id)
            finished = answer_finish(
                answer=answer_fetch(answer_id=answer_id), outcome=Crashed(error=f"{type(exc).__name__}: {exc}"),
                emit=emit,
            )  # fmt: skip
            answer_final_record(answer=finished, decline_kind="crashed")
            return finished


def _answer_stages(
    *, answer_id: int, deps: PipelineDeps, collection_ids: list[int] | None, prepared: Prepared | None
) -> Answer:
    answer = answer_fetch(answer_id=answer_id)
    if answer.status in FINAL_STATUSES:
        deps.emit(Event.FINAL, answer_payload(answer))
        return answer
    with answer_observed(answer=answer):
        return _answer_stages_observed(answer=answer, deps=deps, collection_ids=collection_ids, prepared=prepared)


def _answer_stages_observed(
    *, answer: Answer, deps: PipelineDeps, collection_ids: list[int] | None, prepared: Prepared | None
) -> Answer:
    emit = deps.emit
    with pipeline_stage("load"):
        loaded = answer_load(answer=answer, deps=deps, collection_ids=collection_ids, prepared=prepared)
    progress = Progress(started=loaded.started)
    if loaded.reusable is not None:
        return _finish(answer=answer, outcome=Reused(entry=loaded.reusable), emit=emit, progress=progress)

    with pipeline_stage("retrieve"):
        retrieved = answer_retrieve(loaded=loaded, deps=deps, collection_ids=collection_ids)
    with pipeline_stage("gate"):
        verdict = answer_gate(loaded=loaded, retrieved=retrieved, deps=deps, collection_ids=collection_ids)
    progress = progress.add(
        timings={"retrieval": retrieved.retrieval_ms}, searched=retrieved.searched,
        high_stakes=tuple(verdict.high_stakes),
    )  # fmt: skip
    if not verdict.evidence.sufficient:
        outcome = Declined(reason=verdict.evidence.reason)
        return _finish(answer=answer, outcome=outcome, emit=emit, progress=progress, kind="insufficient_evidence")
    if verdict.reusable is not None:
        return _finish(answer=answer, outcome=Reused(entry=verdict.reusable), emit=emit, progress=progress)

    with pipeline_stage("plan"):
        plan = answer_plan(loaded=loaded, retrieved=retrieved, verdict=verdict, deps=deps)
    plan, generated, checked = _generate_and_check(
        loaded=loaded, retrieved=retrieved, verdict=verdict, plan=plan, deps=deps
    )
    progress = progress.add(route=plan.route, spend=generated.spend, pii_masked=plan.privacy.masked_total())
    if generated.result is None:
        outcome = Declined(
            reason=loaded.prompts.wording.text("decline_no_model"), status=AnswerStatus.FAILED,
            error=generated.failure or "",
        )  # fmt: skip
        return _finish(answer=answer, outcome=outcome, emit=emit, progress=progress, kind="no_model")
    result = generated.result
    progress = progress.add(timings=generated.timings(retrieval_ms=retrieved.retrieval_ms))
    if result.declined or checked is None:  # checked is None only for a declined result
        outcome = Declined(
            reason=loaded.prompts.wording.text("decline_model"), provider=result.provider, model=result.model
        )
        return _finish(answer=answer, outcome=outcome, emit=emit, progress=progress, kind="model_declined")

    progress = progress.add(timings={"verification": checked.verification_ms})
    if checked.decline_reason:
        outcome = Declined(
            reason=checked.decline_reason, provider=result.provider, model=result.model, trust=checked.trust
        )
        return _finish(answer=answer, outcome=outcome, emit=emit, progress=progress, kind=str(checked.cause))

    delivered = _delivered(loaded=loaded, verdict=verdict, plan=plan, result=result, checked=checked, deps=deps)
    return _finish(answer=answer, outcome=delivered, emit=emit, progress=progress)


def _finish(*, answer: Answer, outcome: Outcome, emit: Emit, progress: Progress, kind: str = "") -> Answer:
    """The finish stage, timed and counted (``kind``: the decline's bounded name for metrics)."""
    with pipeline_stage("finish"):
        finished = answer_finish(answer=answer, outcome=outcome, emit=emit, progress=progress)
    answer_final_record(answer=finished, decline_kind=kind)
    return finished


def _generate_and_check(
    *, loaded: Loaded, retrieved: Retrieved, verdict: GateVerdict, plan: Plan, deps: PipelineDeps
) -> tuple[Plan, Generated, Checked | None]:
    """The model's answer and its check (None: no answer to check); when it fails its checks
    and the prompt version declares a fallback, the fallback's answer and its check instead,
    with the fallback's plan. A malformed answer is not verified before the retry."""

    def check(generated: Generated, plan: Plan) -> Checked | None:
        answered = generated.answered
        if answered is None:
            return None
        with pipeline_stage("check"):
            return answer_check(
                text=answered.text, answer_id=loaded.answer.pk, retrieved=retrieved, verdict=verdict, plan=plan,
                deps=deps,
            )  # fmt: skip

    with pipeline_stage("generate"):
        generated = answer_generate(loaded=loaded, retrieved=retrieved, verdict=verdict, plan=plan, deps=deps)
    checked = None
    reason = output_failure(result=generated.result, plan=plan)
    if reason is None and (checked := check(generated, plan)) is not None:
        reason = check_failure(result=generated.result, checked=checked)
    fallback = fallback_plan(loaded=loaded, plan=plan, reason=reason) if reason is not None else None
    if fallback is None:  # the normal path, a malformed answer too (checked now)
        return plan, generated, checked if checked is not None else check(generated, plan)
    logger.info("qa.prompt_fallback answer_id=%s route=%s", loaded.answer.pk, fallback.route["prompt_fallback"])
    answer_mark_prompt_fallback(answer_id=loaded.answer.pk, plan=fallback)
    with pipeline_stage("generate"):
        generated = answer_regenerate(loaded=loaded, plan=fallback, previous=generated, message=REWRITING_MESSAGE)
    return fallback, generated, check(generated, fallback)


def _delivered(
    *, loaded: Loaded, verdict: GateVerdict, plan: Plan, result: GatewayResult, checked: Checked, deps: PipelineDeps
) -> Delivered:
    """The checked answer as it is stored: its cited passages, the notice, the review."""
    notice = plan.notice
    if verdict.high_stakes and not verdict.held:
        stakes = loaded.prompts.wording.text("notice_high_stakes", topics=" and ".join(verdict.high_stakes))
        notice = f"{stakes} {notice}".strip()
    by_n = {p.n: p for p in plan.request.passages}
    return Delivered(
        text=checked.verification.text, cited=tuple(by_n[n] for n in checked.verification.cited_numbers()),
        held=verdict.held, stakes=verdict.stakes, notice=notice, provider=result.provider, model=result.model,
        fallback_used=result.fallback_used, errors=tuple(result.errors), trust=checked.trust,
        # Held answers are not cached: a reviewer has not approved them yet.
        cache_vector=loaded.prepared.vector if deps.settings.cache_enabled and not verdict.held else None,
    )  # fmt: skip


def answer_prepare(
    *, answer_id: int, emit: Emit, embedder: EmbeddingProvider | None = None, collection_ids: list[int] | None = None
) -> tuple[Answer, Prepared | None]:
    """The load stage on its own (the chat consumer): the answer and, when it still needs
    generating, what the other stages need (None: the answer is final, from a curated or
    cached answer, or was already)."""
    deps = pipeline_deps(emit=emit, embedder=embedder)
    answer = answer_fetch(answer_id=answer_id)
    if answer.status in FINAL_STATUSES:
        emit(Event.FINAL, answer_payload(answer))
        return answer, None
    with answer_observed(answer=answer), pipeline_stage("load"):
        loaded = answer_load(answer=answer, deps=deps, collection_ids=collection_ids, prepared=None)
    if loaded.reusable is not None:
        finished = _finish(
            answer=answer, outcome=Reused(entry=loaded.reusable), emit=emit, progress=Progress(started=loaded.started)
        )
        return finished, None
    return answer, loaded.prepared


def answer_reuse_or_prepare(*, answer_id: int) -> dict[str, Any] | None:
    """For the chat consumer: answer from a curated or cached answer at once, without the
    worker round trip; otherwise return what the worker's stages need (an empty dict: the load
    stage failed and the worker runs it all)."""
    try:
        _, prepared = answer_prepare(answer_id=answer_id, emit=emit_to_group(answer_id))
    except Exception:  # noqa: BLE001 - the worker runs the whole pipeline and reports failures
        logger.exception("qa.prepare_failed answer_id=%s", answer_id)
        return {}
    return prepared.as_dict() if prepared is not None else None
