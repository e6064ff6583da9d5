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

from core.pii import PlaceholderRestorer
from core.tracing import trace_id_current
from prompts.contracts import PromptTemplate
from providers.llm.base import LLMDeclined, LLMError, LLMProvider, LLMRequest, StreamStats
from qa.checks.verification import JudgeCall, JudgeVerifier, Verifier
from qa.models import Interaction
from qa.observability import genai_call_record, genai_call_record_after, genai_span
from qa.pipeline.privacy import Outbound, RequestPrivacy

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
    pii_masked: int = 0  # personal values replaced by placeholders in what the answering model was sent


def gateway_stream(
    *,
    request: LLMRequest,
    providers: list[LLMProvider],
    answer_id: int | None,
    on_token: Callable[[str], None],
    on_reset: Callable[[str], None] | None = None,
    privacy: RequestPrivacy | None = None,
) -> GatewayResult:
    """Stream the first answer of the chain to ``on_token``. With ``privacy`` (the answer's data
    class), an endpoint that leaves the machine is sent the request with personal data replaced
    by placeholders and the reader is streamed the originals back; the log keeps what was sent."""
    errors: list[str] = []
    interaction_ids: list[int] = []
    for index, provider in enumerate(providers):
        outbound = privacy.outbound(request=request, external=provider.external) if privacy else Outbound(request)
        restorer = PlaceholderRestorer(placeholders=outbound.placeholders.mapping) if outbound.placeholders else None
        started = time.perf_counter()
        stats = StreamStats()
        pieces: list[str] = []
        shown: list[str] = []
        first_token_ms: float | None = None
        outcome, error = CallOutcome.OK, ""
        with genai_span(provider=provider.name, model=provider.model_id, messages=outbound.request.messages) as span:
            try:
                for piece in provider.stream(outbound.request, stats):
                    if first_token_ms is None:
                        first_token_ms = (time.perf_counter() - started) * 1000
                    pieces.append(piece)
                    visible = restorer.feed(piece) if restorer is not None else piece
                    if visible:
                        shown.append(visible)
                        on_token(visible)
                if restorer is not None and (rest := restorer.flush()):
                    shown.append(rest)
                    on_token(rest)
            except LLMDeclined as exc:
                outcome, error = CallOutcome.DECLINED, str(exc)
            except LLMError as exc:
                outcome, error = CallOutcome.ERROR, str(exc)
            except Exception as exc:  # noqa: BLE001 - a provider bug must fall back, not break the answer
                logger.exception("gateway.provider_crashed provider=%s", provider.name)
                outcome, error = CallOutcome.ERROR, f"{type(exc).__name__}: {exc}"
            total_ms = (time.perf_counter() - started) * 1000
            response = "".join(pieces)
            genai_call_record(
                span=span, provider=provider.name, model=provider.model_id, seconds=total_ms / 1000,
                first_token_seconds=first_token_ms / 1000 if first_token_ms is not None else None,
                tokens_in=stats.tokens_in, tokens_out=stats.tokens_out,
                error=error if outcome == CallOutcome.ERROR else "", response=response,
            )  # fmt: skip
        messages, logged_response, scrubbed = (
            privacy.logged(request=request, outbound=outbound, response=response)
            if privacy is not None
            else (request.messages, response, False)
        )
        interaction = Interaction.objects.create(
            answer_id=answer_id,
            provider=provider.name,
            model=provider.model_id,
            prompt_key=request.prompt_key,
            prompt={
                "messages": messages,
                "max_output_tokens": request.max_output_tokens,
                "temperature": request.temperature,
            },
            response=logged_response,
            tokens_in=stats.tokens_in,
            tokens_out=stats.tokens_out,
            first_token_ms=first_token_ms,
            total_ms=total_ms,
            outcome=outcome,
            error=error,
            data_class=privacy.data_class if privacy is not None else "internal",
            pii_scrubbed=scrubbed,
            trace_id=trace_id_current(),
        )
        interaction_ids.append(interaction.pk)
        logger.info(
            "gateway.call provider=%s model=%s outcome=%s ttft_ms=%s total_ms=%.0f pii_masked=%s",
            provider.name,
            provider.model_id,
            outcome,
            first_token_ms,
            total_ms,
            outbound.masked,
        )
        if outcome in (CallOutcome.OK, CallOutcome.DECLINED):
            return GatewayResult(
                text="".join(shown) if outcome == CallOutcome.OK else "",
                provider=provider.name,
                model=provider.model_id,
                fallback_used=index > 0,
                declined=outcome == CallOutcome.DECLINED,
                decline_reason=error,
                model_first_token_ms=first_token_ms,
                interaction_ids=interaction_ids,
                errors=errors,
                pii_masked=outbound.masked,
            )
        errors.append(f"{provider.name}: {error}")
        if pieces and on_reset is not None:
            on_reset(f"{provider.name} failed mid-answer ({error}); trying the next model")
    raise GatewayFailed("; ".join(errors) or "no provider configured")


JUDGE_PROVIDER = "judge"  # Interaction.provider of the judge verifier's calls


def verifier_logged(
    verifier: Verifier, *, answer_id: int, prompt: PromptTemplate | None = None, privacy: RequestPrivacy | None = None
) -> Verifier:
    """The verifier of one answer, its model calls (a judge's) logged as the answer's
    interactions with the prompt version they sent, like the answering model's; ``prompt``: the
    ``judge`` version chosen for the answer with the others (a label moved mid-answer cannot
    mix versions); ``privacy``: the answer's data class, which scrubs what an external judge is
    sent and what the log keeps, with the answer's placeholders."""
    if not isinstance(verifier, JudgeVerifier):
        return verifier

    def record(call: JudgeCall) -> None:
        genai_call_record_after(
            provider=JUDGE_PROVIDER, model=call.model, seconds=call.total_ms / 1000, error=call.error,
            messages=call.messages, response=call.response,
        )  # fmt: skip
        Interaction.objects.create(
            answer_id=answer_id, provider=JUDGE_PROVIDER, model=call.model, prompt_key=call.prompt_key,
            prompt={"messages": call.messages, "temperature": 0}, response=call.response, total_ms=call.total_ms,
            outcome=CallOutcome.ERROR if call.error else CallOutcome.OK, error=call.error,
            data_class=privacy.data_class if privacy is not None else "internal", pii_scrubbed=call.pii_scrubbed,
            trace_id=trace_id_current(),
        )  # fmt: skip

    return verifier.logged(record, prompt=prompt, privacy=privacy)
