"""Monitoring of a question (issue #15): its trace from the chat socket through the Celery task
(spans per pipeline stage, a GenAI span per model call, the trace id stored on the answer and its
model calls), its metrics on /metrics from the web process and from a real worker process, the
token that protects /metrics, and the JSON log lines with their context."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core.logcontext import LogContextFilter, log_context, user_id_hash
from core.tracing import tracing_setup
from qa.models import Answer, AnswerStatus, Interaction
from tests.factories import user_create
from tests.helpers import ask, database_url_for, session_cookie_for, socket

pytestmark = pytest.mark.django_db(transaction=True)

STAGES = ("load", "retrieve", "gate", "plan", "generate", "check", "finish")
_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process (once: a tracer provider is global), spans kept in memory."""
    tracing_setup(role="test", exporter=_exporter, batch=False)
    _exporter.clear()
    yield _exporter
    _exporter.clear()


def _sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels`` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _scrape(client: Client | None = None) -> str:
    client = client or Client()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "VERITY_METRICS_TOKEN", "scrape-secret")
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    return response.content.decode()


async def test_one_question_is_one_trace_from_the_socket_message_through_the_celery_task(
    reader, spans: InMemorySpanExporter, monkeypatch
) -> None:
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    cookie = await sync_to_async(session_cookie_for)(reader)
    communicator = socket("/ws/chat/", cookie=cookie)
    assert (await communicator.connect())[0]
    # A Celery worker in this process (so its spans reach the in-memory exporter), fed through
    # the real broker: the trace context travels in the task message's headers.
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        await communicator.send_to(text_data=json.dumps({"question": "What is the hotel limit in London?"}))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            answer = await sync_to_async(Answer.objects.order_by("-pk").first)()
            if answer is not None and answer.status not in (AnswerStatus.PENDING, AnswerStatus.STREAMING):
                break
            await asyncio.sleep(0.2)
        await communicator.disconnect()
    assert answer is not None and answer.status == AnswerStatus.ANSWERED, answer and answer.error

    finished = spans.get_finished_spans()
    by_name: dict[str, list] = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    question = by_name["qa.question"][0]
    trace_id = question.context.trace_id
    task_spans = [s for s in finished if s.name.startswith("run/qa.generate_answer")]
    assert task_spans, sorted(by_name)
    assert task_spans[0].context.trace_id == trace_id, "the task's span is in the question's trace"
    assert [s for s in finished if s.name.startswith("apply_async/qa.generate_answer")][0].context.trace_id == trace_id
    for stage in STAGES:
        assert any(s.context.trace_id == trace_id for s in by_name.get(f"qa.stage.{stage}", [])), stage
    genai = [s for s in finished if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert genai and all(s.context.trace_id == trace_id for s in genai)
    call = genai[0]
    assert call.attributes["gen_ai.provider.name"] == "extractive"
    assert call.attributes["gen_ai.request.model"]
    assert "gen_ai.usage.output_tokens" in call.attributes
    assert "gen_ai.input.messages" not in call.attributes, "prompt text only when VERITY_OTEL_CAPTURE_TEXT is on"
    assert any(s.name.startswith(("SELECT", "UPDATE", "INSERT")) for s in finished if s.context.trace_id == trace_id)

    hex_id = format(trace_id, "032x")
    assert answer.trace_id == hex_id
    calls = await sync_to_async(lambda: list(Interaction.objects.filter(answer=answer)))()
    assert calls and all(c.trace_id == hex_id for c in calls)


def test_metrics_show_a_question_from_the_web_process_and_from_a_worker_process(reader, celery_worker_for) -> None:
    from qa.pipeline.orchestrator import answer_create
    from qa.tasks import generate_answer

    before = _scrape()
    # In this process (the web process's part: the cached and curated answers, the API).
    answered = ask(reader, "What is the hotel limit in London?")
    assert answered.status == AnswerStatus.ANSWERED
    cache.get("metrics-test-never-stored")
    web = _scrape()
    duration = "gen_ai_client_operation_duration_seconds_count"
    labels = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "extractive"}
    assert _sample(web, duration, **labels) == _sample(before, duration, **labels) + 1
    assert _sample(web, "verity_answers_total", status="answered", decline_reason="none") >= 1
    for stage in STAGES:
        assert _sample(web, "verity_pipeline_stage_seconds_count", stage=stage) >= 1, stage
    assert _sample(web, "verity_verification_sentences_total") >= 1
    assert _sample(web, "verity_cache_lookups_total", hit="false") >= 1
    assert _sample(web, "verity_ingestion_documents", state="ready") == 1
    assert "verity_celery_queue_depth" in web and "verity_stuck_answers" in web
    assert "django_http_requests_total_by_method_total" in web  # django-prometheus
    assert "django_db_execute_total" in web
    assert _sample(web, "django_cache_get_misses_total", backend="redis") >= 1

    # A real worker process, writing to the same metrics folder: its samples join the scrape.
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    worker = celery_worker_for(settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]))
    other = user_create(username="other-reader", groups=("staff-readers",))
    pending = answer_create(user=other, question="Which hotel limit applies in Paris?")
    generate_answer.delay(pending.pk)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pending.refresh_from_db()
        if pending.status not in (AnswerStatus.PENDING, AnswerStatus.STREAMING):
            break
        time.sleep(0.3)
    assert pending.status in (AnswerStatus.ANSWERED, AnswerStatus.DECLINED), pending.error
    assert any(re.search(rf"_{worker.pid}\.db$", f.name) for f in folder.iterdir()), "the worker wrote its metrics"
    # The counter follows the answer's final write by a moment: wait for it.
    deadline = time.monotonic() + 10
    while _sample(after := _scrape(), "verity_answers_total") == _sample(web, "verity_answers_total"):
        assert time.monotonic() < deadline, "the worker's answer was never counted"
        time.sleep(0.2)
    assert _sample(after, "verity_answers_total") == _sample(web, "verity_answers_total") + 1
    assert _sample(after, "verity_pipeline_stage_seconds_count", stage="load") > _sample(
        web, "verity_pipeline_stage_seconds_count", stage="load"
    )


def test_metrics_need_the_bearer_token_or_a_staff_session(db) -> None:
    client = Client()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "VERITY_METRICS_TOKEN", "scrape-secret")
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
        client.force_login(user_create(username="plain-user"))
        assert client.get("/metrics").status_code == 403
        staff = Client()
        staff.force_login(user_create(username="operator", staff=True))
        response = staff.get("/metrics")
        assert response.status_code == 200 and b"verity_stuck_documents" in response.content
        patch.setattr(settings, "VERITY_METRICS_TOKEN", "")
        # No token configured: no bearer value opens it, not even an empty one.
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_json_log_lines_carry_request_answer_trace_and_hashed_user(spans) -> None:
    from pythonjsonlogger.json import JsonFormatter

    from core.tracing import tracer

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter(settings.LOGGING["formatters"]["json"]["fmt"]))
    log = logging.getLogger("tests.observability")
    log.addHandler(handler)
    try:
        with tracer().start_as_current_span("work") as span, log_context(request_id="req-1", answer_id=42, user_id=7):
            log.warning("qa.something happened")
    finally:
        log.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["message"] == "qa.something happened"
    assert line["request_id"] == "req-1" and line["answer_id"] == 42
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["user"] == user_id_hash(7) and len(line["user"]) == 12 and re.fullmatch(r"[0-9a-f]{12}", line["user"])
