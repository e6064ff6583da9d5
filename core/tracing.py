"""OpenTelemetry traces: off unless ``VERITY_OTEL=on`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Set up once per process where its documentation says: the web process in the ASGI entry, before
Django's application is built (``config/asgi.py``), and each Celery pool process in
``worker_process_init`` (a prefork child must not inherit the parent's exporter thread;
``config/celery.py``). The Django, Celery, psycopg and Redis instrumentations then make the
request, task, query and Redis spans; the Celery instrumentation carries the trace context in
the task's headers, so a question's trace runs from the websocket message into the worker.
The exporter is OTLP over HTTP, configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables.

Spans of Verity's own (the pipeline stages, the GenAI model calls) come from ``tracer()``; with
tracing off it is OpenTelemetry's no-op tracer, so recording costs next to nothing."""

from __future__ import annotations

import os
import threading

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter

from config.env import env_bool

SERVICE_NAME = "verity"
_setup_lock = threading.Lock()
_instrumented = False


def tracing_enabled() -> bool:
    return env_bool("VERITY_OTEL", False) or bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def tracing_capture_text() -> bool:
    """Prompt and response text on GenAI spans only when asked (privacy: a trace backend is
    usually readable by more people than the interaction log)."""
    return env_bool("VERITY_OTEL_CAPTURE_TEXT", False)


def tracing_setup(*, role: str, exporter: SpanExporter | None = None, batch: bool = True) -> bool:
    """Install the tracer provider and the instrumentations in this process, once; ``role``:
    "web" or "worker" (the ``service.instance.role`` resource attribute). ``exporter``: tests
    pass an in-memory one (with ``batch=False``). Returns whether tracing is on."""
    global _instrumented
    if exporter is None and not tracing_enabled():
        return False
    with _setup_lock:
        if _instrumented:
            return True
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        provider = TracerProvider(
            resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME),
                                      "verity.process.role": role})
        )  # fmt: skip
        provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _instrument_libraries()
        _instrumented = True
        return True


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    # No SQL commenter: comments in the SQL would defeat PostgreSQL's statement statistics.
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()


def tracer() -> trace.Tracer:
    return trace.get_tracer("verity")


def trace_id_current() -> str:
    """The current trace's id as 32 hex digits ("" when no trace is recording)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""
