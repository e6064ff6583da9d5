"""The prompt fallback, between generate and check: when a model's answer fails its checks
(its shape: empty, no citation, citations to no passage, a refusal, ``qa.checks.output_format``;
or its substance: too little of it holds up against the passages, ``Checked.cause``), and the
answer prompt's version declares a fallback (``fallback`` in its file, ``answer_strict-v1`` for
``answer-v2``), the same chain is asked once more with the fallback's words around the same
passages. Once: whatever the fallback writes then goes through the normal checks.

The answer records it at once (``prompt_key`` becomes the fallback's, the version whose words the
reader gets; ``prompt_fallback_used``; ``route["prompt_fallback"]`` says from which version, to
which, and why), so that an answer that fails during the retry still counts in the fallback rate
(``qa.selectors.prompt_fallback_rate``).

Not a failure of the prompt, so never a retry: no model could answer (the chain already tried
each provider), the model declined (the documents do not cover the question), the built-in
extractive provider answered (it does not read the prompt), a confidence below the floor (the
retrieval match weighs in it), an answer that held only an injected instruction's words."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.errors import ApplicationError
from prompts.contracts import PromptTemplate
from prompts.services.registry import LibraryError, prompt_by_key
from providers.llm.base import LLMRequest, approx_tokens
from qa.checks.output_format import OutputFormat, output_format_check
from qa.models import Answer, TierProvider
from qa.observability import prompt_fallback_record
from qa.pipeline.check import Checked
from qa.pipeline.gateway import GatewayResult
from qa.pipeline.load import Loaded
from qa.pipeline.plan import Plan
from qa.services.budgets import Reservation, budget_reserve
from qa.services.costs import cost_of
from qa.services.prompt_text import passage_frame

logger = logging.getLogger(__name__)

# What the reader reads when the draft they saw is discarded for the fallback's answer.
REWRITING_MESSAGE = "The draft did not meet the answer's checks; writing it again…"


class FallbackReason(StrEnum):
    """Why the first answer failed its checks (``route["prompt_fallback"]["reason"]``)."""

    EMPTY = OutputFormat.EMPTY.value
    NO_CITATIONS = OutputFormat.NO_CITATIONS.value
    CITATIONS_TO_NO_PASSAGE = OutputFormat.CITATIONS_TO_NO_PASSAGE.value
    REFUSAL = OutputFormat.REFUSAL.value
    VERIFICATION_COLLAPSE = "verification_collapse"


def output_failure(*, result: GatewayResult | None, plan: Plan) -> FallbackReason | None:
    """Why a model's answer fails the answer format (None: it passes, or it is no prompt's
    failure). Cheap: run before the check stage, which a malformed answer need not go through."""
    if not _model_answered(result) or result is None:
        return None
    verdict = output_format_check(text=result.text, passage_numbers={p.n for p in plan.request.passages})
    return FallbackReason(verdict.value) if verdict.failed else None


def check_failure(*, result: GatewayResult | None, checked: Checked) -> FallbackReason | None:
    """A verification collapse of a model's answer (``DeclineCause.collapse``), or None."""
    return FallbackReason.VERIFICATION_COLLAPSE if _model_answered(result) and checked.cause.collapse else None


def _model_answered(result: GatewayResult | None) -> bool:
    return result is not None and not result.declined and result.provider != TierProvider.EXTRACTIVE


def fallback_plan(*, loaded: Loaded, plan: Plan, reason: FallbackReason) -> Plan | None:
    """The retry's plan: the fallback version's request with the same passages and question,
    the same chain, its own reservation, the route recording the fallback. None when the answer
    prompt declares no fallback, the fallback cannot be rendered, or the budgets allow no
    second call (the first answer then goes through the normal checks)."""
    template = loaded.prompts.answer
    if not template.fallback_key or plan.request.prompt_key != template.key:
        return None  # no fallback declared, or this plan is already the fallback's: never a third call
    try:
        fallback = prompt_by_key(key=template.fallback_key)
        request = _request_with(template=fallback, request=plan.request)
    except (ApplicationError, LibraryError, ValueError) as exc:  # ValueError: a key or template error
        logger.warning("qa.prompt_fallback_unusable answer_id=%s fallback=%s error=%s",
                       loaded.answer.pk, template.fallback_key, exc)  # fmt: skip
        return None
    reservation = _reserve(loaded=loaded, plan=plan, request=request)
    if plan.reservation is not None and reservation is None:
        logger.info("qa.prompt_fallback_over_budget answer_id=%s", loaded.answer.pk)
        return None
    record: dict[str, Any] = {"from": template.key, "to": fallback.key, "reason": reason.value}
    return dataclasses.replace(
        plan, request=request, reservation=reservation, route={**plan.route, "prompt_fallback": record}
    )


def _request_with(*, template: PromptTemplate, request: LLMRequest) -> LLMRequest:
    """The same passages, framed as ``prompt_build`` framed them, in another version's words.
    Not ``prompt_build`` again: it could fit other passages in the other template's token
    budget, and the reader was already shown these, numbered as the answer must cite them."""
    context = "\n\n".join(passage_frame(p) for p in request.passages)
    messages = template.render(passages=context, question=request.question)
    return dataclasses.replace(request, messages=messages, prompt_key=template.key)


def _reserve(*, loaded: Loaded, plan: Plan, request: LLMRequest) -> Reservation | None:
    """The retry's worst-case cost reserved like the first call's (``answer_plan``); None when
    the first call reserved nothing (explicit providers, a chain that costs nothing)."""
    if plan.reservation is None:
        return None
    tokens_in = approx_tokens(" ".join(m["content"] for m in request.messages))
    worst = max(
        (cost_of(model=p.model_id, tokens_in=tokens_in, tokens_out=request.max_output_tokens) for p in plan.chain),
        default=Decimal(0),
    )
    return budget_reserve(
        user_id=loaded.answer.conversation.user.pk, tokens=tokens_in + request.max_output_tokens, cost=worst
    )


def answer_mark_prompt_fallback(*, answer_id: int, plan: Plan) -> None:
    """The retry begins: the answer records the fallback's version and the route with the
    reason (the final write keeps them: ``Progress.route`` is this plan's route)."""
    Answer.objects.filter(pk=answer_id).update(
        prompt_key=plan.request.prompt_key, prompt_fallback_used=True, route=dict(plan.route)
    )
    prompt_fallback_record(prompt_key=plan.request.prompt_key)
