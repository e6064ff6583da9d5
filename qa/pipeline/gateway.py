"""Generation: the model gateway, the only path to any language model.

Every call records an Interaction: provider, pinned model id, the exact prompt sent, the
response received, tokens in and out, time to first token, total time, and the error if any.
Providers are tried in the order of the chain; a provider that fails (timeout, HTTP error, bad
key, malformed stream, or any bug) hands over to the next one. A decline is an answer, not a
failure: it ends the chain."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from prompts.contracts import PromptTemplate
from providers.llm.base import LLMDeclined, LLMError, LLMProvider, LLMRequest, StreamStats
from qa.checks.verification import JudgeCall, JudgeVerifier, Verifier
from qa.models import Interaction

logger = logging.getLogger(__name__)


class CallOutcome(StrEnum):
    """How one provider call ended (``Interaction.outcome``)."""

    OK = "ok"
    DECLINED = "declined"  # the model found no answer: an answer, it ends the chain
    ERROR = "error"  # the next provider of the chain is tried


class GatewayFailed(Exception):
    """Every provider of the chain failed."""


@dataclass
class GatewayResult:
    text: str
    provider: str
    model: str
    fallback_used: bool
    declined: bool = False
    decline_reason: str = ""
    first_token_ms: float | None = None
    model_first_token_ms: float | None = None
    interaction_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def gateway_stream(
    *,
    request: LLMRequest,
    providers: list[LLMProvider],
    answer_id: int | None,
    on_token: Callable[[str], None],
    on_reset: Callable[[str], None] | None = None,
) -> GatewayResult:
    errors: list[str] = []
    interaction_ids: list[int] = []
    for index, provider in enumerate(providers):
        started = time.perf_counter()
        stats = StreamStats()
        pieces: list[str] = []
        first_token_ms: float | None = None
        outcome, error = CallOutcome.OK, ""
        try:
            for piece in provider.stream(request, stats):
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1000
                pieces.append(piece)
                on_token(piece)
        except LLMDeclined as exc:
            outcome, error = CallOutcome.DECLINED, str(exc)
        except LLMError as exc:
            outcome, error = CallOutcome.ERROR, str(exc)
        except Exception as exc:  # noqa: BLE001 - a provider bug must fall back, not break the answer
            logger.exception("gateway.provider_crashed provider=%s", provider.name)
            outcome, error = CallOutcome.ERROR, f"{type(exc).__name__}: {exc}"
        total_ms = (time.perf_counter() - started) * 1000
        interaction = Interaction.objects.create(
            answer_id=answer_id,
            provider=provider.name,
            model=provider.model_id,
            prompt_key=request.prompt_key,
            prompt={
                "messages": request.messages,
                "max_output_tokens": request.max_output_tokens,
                "temperature": request.temperature,
            },
            response="".join(pieces),
            tokens_in=stats.tokens_in,
            tokens_out=stats.tokens_out,
            first_token_ms=first_token_ms,
            total_ms=total_ms,
            outcome=outcome,
            error=error,
        )
        interaction_ids.append(interaction.pk)
        logger.info(
            "gateway.call provider=%s model=%s outcome=%s ttft_ms=%s total_ms=%.0f",
            provider.name,
            provider.model_id,
            outcome,
            first_token_ms,
            total_ms,
        )
        if outcome in (CallOutcome.OK, CallOutcome.DECLINED):
            return GatewayResult(
                text="".join(pieces) if outcome == CallOutcome.OK else "",
                provider=provider.name,
                model=provider.model_id,
                fallback_used=index > 0,
                declined=outcome == CallOutcome.DECLINED,
                decline_reason=error,
                model_first_token_ms=first_token_ms,
                interaction_ids=interaction_ids,
                errors=errors,
            )
        errors.append(f"{provider.name}: {error}")
        if pieces and on_reset is not None:
            on_reset(f"{provider.name} failed mid-answer ({error}); trying the next model")
    raise GatewayFailed("; ".join(errors) or "no provider configured")


JUDGE_PROVIDER = "judge"  # Interaction.provider of the judge verifier's calls


def verifier_logged(verifier: Verifier, *, answer_id: int, prompt: PromptTemplate | None = None) -> Verifier:
    """The verifier of one answer, its model calls (a judge's) logged as the answer's
    interactions with the prompt version they sent, like the answering model's; ``prompt``: the
    ``judge`` version chosen for the answer with the others (a label moved mid-answer cannot
    mix versions)."""
    if not isinstance(verifier, JudgeVerifier):
        return verifier

    def record(call: JudgeCall) -> None:
        Interaction.objects.create(
            answer_id=answer_id, provider=JUDGE_PROVIDER, model=call.model, prompt_key=call.prompt_key,
            prompt={"messages": call.messages, "temperature": 0}, response=call.response, total_ms=call.total_ms,
            outcome=CallOutcome.ERROR if call.error else CallOutcome.OK, error=call.error,
        )  # fmt: skip

    return verifier.logged(record, prompt=prompt)
