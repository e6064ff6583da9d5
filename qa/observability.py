"""What the answer pipeline tells monitoring: Prometheus metrics (``core.metrics``), OpenTelemetry
spans (``core.tracing``) and the log context (``core.logcontext``), each recorded where the event
happens through these few helpers, so the pipeline's modules keep one line per event.

Spans follow the OpenTelemetry GenAI semantic conventions: one ``chat {model}`` span per model
call with ``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model`` and the
token usage; prompt and response text only with ``VERITY_OTEL_CAPTURE_TEXT=true``. With tracing
off the spans are OpenTelemetry's no-op ones; the metrics are always recorded."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from core import metrics
from core.logcontext import log_context
from core.tracing import trace_id_current, tracer, tracing_capture_text
from qa.models import Answer

GENAI_OPERATION_CHAT = "chat"
NO_DECLINE = "none"


@contextlib.contextmanager
def pipeline_stage(stage: str) -> Iterator[Span]:
    """One stage of the answer pipeline: a span ``qa.stage.{stage}`` and its time in
    ``verity_pipeline_stage_seconds``."""
    started = time.perf_counter()
    with tracer().start_as_current_span(f"qa.stage.{stage}", attributes={"verity.stage": stage}) as span:
        try:
            yield span
        finally:
            metrics.PIPELINE_STAGE.labels(stage=stage).observe(time.perf_counter() - started)


@contextlib.contextmanager
def question_span() -> Iterator[Span]:
    """The root span of a question asked on the chat socket."""
    with tracer().start_as_current_span("qa.question", kind=SpanKind.SERVER) as span:
        yield span


@contextlib.contextmanager
def answer_span(*, answer_id: int) -> Iterator[Span]:
    """The span of one answer's run (under the Celery task's span when the worker runs it)."""
    with tracer().start_as_current_span("qa.answer", attributes={"verity.answer_id": answer_id}) as span:
        yield span


@contextlib.contextmanager
def answer_observed(*, answer: Answer) -> Iterator[None]:
    """The answer's run: its log lines carry its id and its asker's hash, and the current trace
    id is stored on the answer (the trace of its generation, found from the answer's page)."""
    with log_context(answer_id=answer.pk, user_id=answer.conversation.user_id):
        trace_id = trace_id_current()
        if trace_id and answer.trace_id != trace_id:
            Answer.objects.filter(pk=answer.pk).update(trace_id=trace_id)
            answer.trace_id = trace_id
        yield


@contextlib.contextmanager
def genai_span(*, provider: str, model: str, messages: Sequence[dict[str, Any]] | None = None) -> Iterator[Span]:
    """The span of one model call, open while the model writes."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": GENAI_OPERATION_CHAT, "gen_ai.provider.name": provider, "gen_ai.request.model": model,
    }  # fmt: skip
    if messages is not None and tracing_capture_text():
        attributes["gen_ai.input.messages"] = json.dumps(list(messages))
    with tracer().start_as_current_span(
        f"{GENAI_OPERATION_CHAT} {model}", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        yield span


def genai_call_record(
    *, span: Span | None, provider: str, model: str, seconds: float, first_token_seconds: float | None,
    tokens_in: int, tokens_out: int, error: str = "", response: str = "",
) -> None:  # fmt: skip
    """The outcome of one model call on its span and in the GenAI metrics."""
    labels = {
        "gen_ai_operation_name": GENAI_OPERATION_CHAT, "gen_ai_provider_name": provider, "gen_ai_request_model": model,
    }  # fmt: skip
    metrics.GENAI_DURATION.labels(**labels).observe(seconds)
    if first_token_seconds is not None:
        metrics.GENAI_TTFT.labels(**labels).observe(first_token_seconds)
    if tokens_in:
        metrics.GENAI_TOKENS.labels(**labels, gen_ai_token_type="input").observe(tokens_in)  # noqa: S106
    if tokens_out:
        metrics.GENAI_TOKENS.labels(**labels, gen_ai_token_type="output").observe(tokens_out)  # noqa: S106
    if error:
        metrics.ERRORS.labels(where="model_call").inc()
    if span is None:
        return
    span.set_attribute("gen_ai.usage.input_tokens", tokens_in)
    span.set_attribute("gen_ai.usage.output_tokens", tokens_out)
    if response and tracing_capture_text():
        span.set_attribute("gen_ai.output.messages", json.dumps([{"role": "assistant", "content": response}]))
    if error:
        span.set_attribute("error.type", error[:200])
        span.set_status(Status(StatusCode.ERROR, error[:200]))


def genai_call_record_after(
    *, provider: str, model: str, seconds: float, error: str = "", messages: Sequence[dict[str, Any]] | None = None,
    response: str = "",
) -> None:  # fmt: skip
    """A model call reported once it is over (the judge's): its span is dated back to its start."""
    end = time.time_ns()
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": GENAI_OPERATION_CHAT, "gen_ai.provider.name": provider, "gen_ai.request.model": model,
    }  # fmt: skip
    if messages is not None and tracing_capture_text():
        attributes["gen_ai.input.messages"] = json.dumps(list(messages))
    span = tracer().start_span(
        f"{GENAI_OPERATION_CHAT} {model}", kind=SpanKind.CLIENT, attributes=attributes,
        start_time=end - int(seconds * 1e9),
    )  # fmt: skip
    genai_call_record(
        span=span, provider=provider, model=model, seconds=seconds, first_token_seconds=None, tokens_in=0,
        tokens_out=0, error=error, response=response,
    )  # fmt: skip
    span.end(end_time=end)


def answer_final_record(*, answer: Answer, decline_kind: str = "") -> None:
    """A finished answer: its status and decline reason (a bounded name: ``decline_kind``, not
    the reader's sentence), and its cost by model."""
    status = str(answer.status)
    reason = decline_kind or (NO_DECLINE if status in ("answered", "held") else "other")
    metrics.ANSWERS.labels(status=status, decline_reason=reason).inc()
    if answer.cost:
        metrics.COST_USD.labels(model=answer.model or "unknown").inc(float(answer.cost))
    if status == "failed":
        metrics.ERRORS.labels(where="answer").inc()


def verification_record(*, actions: Sequence[str]) -> None:
    """The checked sentences of one answer, by what the check did to each."""
    for action in actions:
        metrics.VERIFICATION_SENTENCES.labels(action=action).inc()


def cache_lookup_record(*, hit: bool) -> None:
    metrics.CACHE_LOOKUPS.labels(hit="true" if hit else "false").inc()


def budget_alert_record(*, kind: str) -> None:
    metrics.BUDGET_ALERTS.labels(kind=kind).inc()


def prompt_fallback_record(*, prompt_key: str) -> None:
    metrics.PROMPT_FALLBACKS.labels(prompt_key=prompt_key).inc()
