"""Benchmark of issue #15: what monitoring costs on the answer path, as a share of the time to
first words.

    .venv/bin/python bench/instrumentation_overhead.py [--rounds 5]

One process, its own embedded servers (``.verity/bench-overhead``), the demo handbook ingested,
the answer cache off (every question runs the whole pipeline). Each of the demo set's questions
is answered ``--rounds`` times with instrumentation on and off, the two arms interleaved
question by question (alternating which goes first) so that drift of the machine hits both:

- on: the OpenTelemetry SDK with a batch span processor (spans built, queued and exported to an
  exporter that drops them: the export's network cost is another process's), the Django, Celery,
  psycopg and Redis instrumentations, and the Prometheus metrics in multiprocess mode;
- off: OpenTelemetry's no-op tracer, the library instrumentations removed, metric recording
  replaced by nothing.

(The django-prometheus database wrapper is the configured ENGINE and stays in both arms: it adds
one counter and one histogram update per query.) Time to first words: from ``answer_run`` to the
first streamed token, in this process. Prints p50, p95 and mean per arm and their ratio; the
target is at most 5 % more (issue #15).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VERITY_DATA_DIR", str(ROOT / ".verity" / "bench-overhead"))
os.environ.setdefault("QA_CACHE_ENABLED", "false")
os.environ.setdefault("VERITY_LOG_FORMAT", "json")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench.common import django_setup, machine, percentile  # noqa: E402

QUESTIONS = ROOT / "evaluation" / "golden" / "demo_qa.jsonl"


class _Dropped:
    """A span exporter that accepts and drops everything."""

    exported = 0

    def export(self, spans: Sequence[object]) -> object:
        from opentelemetry.sdk.trace.export import SpanExportResult

        _Dropped.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _NoMetric:
    def labels(self, *args: object, **kwargs: object) -> _NoMetric:
        return self

    def inc(self, *args: object) -> None:
        return None

    def dec(self, *args: object) -> None:
        return None

    def observe(self, *args: object) -> None:
        return None


class Arms:
    """Switches the instrumentation of this process on and off between answers."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace.export import SpanExporter

        from core import metrics
        from core.tracing import tracing_setup

        class Dropped(_Dropped, SpanExporter):
            pass

        tracing_setup(role="bench", exporter=Dropped())
        self.metrics = {
            name: getattr(metrics, name) for name in dir(metrics) if name.isupper() and name != "MULTIPROC_ENV"
        }
        self.on = True

    def switch(self, *, on: bool) -> None:
        from django.db import connections

        if on == self.on:
            connections.close_all()  # the same reconnect as a real switch: the arms differ only in instrumentation
            return
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.trace import NoOpTracer

        import qa.observability
        from core import metrics, tracing

        instrumentors = (
            DjangoInstrumentor(), CeleryInstrumentor(), PsycopgInstrumentor(), RedisInstrumentor()
        )  # fmt: skip
        for instrumentor in instrumentors:
            if on:
                kwargs = {"enable_commenter": False} if isinstance(instrumentor, PsycopgInstrumentor) else {}
                instrumentor.instrument(**kwargs)
            else:
                instrumentor.uninstrument()
        qa.observability.tracer = tracing.tracer if on else NoOpTracer  # type: ignore[assignment]
        for name, metric in self.metrics.items():
            setattr(metrics, name, metric if on else _NoMetric())
        connections.close_all()  # the next connection is made with (or without) the psycopg wrapper
        self.on = on


def corpus_ready() -> object:
    from django.contrib.auth.models import Group

    from ingestion.models import Document, DocumentStatus
    from ingestion.services.pipeline import document_process
    from ops.services.bootstrap import bootstrap_run

    bootstrap_run(with_demo=True)
    for document in Document.objects.exclude(status=DocumentStatus.READY):
        document_process(document_id=document.pk)
    from django.contrib.auth import get_user_model

    from qa.models import BudgetPolicy

    user = get_user_model().objects.get(username="demo")
    assert Group.objects.filter(user=user).exists()
    # No budget limits: the benchmark asks more questions a day than a person's allowance.
    BudgetPolicy.objects.all().delete()
    BudgetPolicy.objects.create(
        user_daily_questions_soft=0, user_daily_questions_hard=0, user_daily_tokens_soft=0, user_daily_tokens_hard=0,
        user_daily_cost_soft=0, user_daily_cost_hard=0, monthly_cost_soft=0, monthly_cost_hard=0,
    )  # fmt: skip
    return user


def first_words_ms(user: object, question: str) -> float:
    from qa.pipeline.orchestrator import answer_create, answer_run

    answer = answer_create(user=user, question=question)  # type: ignore[arg-type]
    first: list[float] = []
    started = time.perf_counter()

    def emit(event: str, payload: dict[str, object]) -> None:
        if event == "qa.token" and not first:
            first.append(time.perf_counter())

    answer_run(answer_id=answer.pk, emit=emit)
    return ((first[0] if first else time.perf_counter()) - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--control", action="store_true",
        help="A/A run: both arms without instrumentation (the same switching), to measure the noise of the ratio",
    )  # fmt: skip
    args = parser.parse_args()
    django_setup()
    user = corpus_ready()
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    arms = Arms()
    for question in questions[:3]:  # warm-up: the embedding model, the query plans, the imports
        for on in (True, False):
            arms.switch(on=on)
            first_words_ms(user, question)
    timings: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for index, question in enumerate(questions):
            order = (True, False) if (round_ + index) % 2 == 0 else (False, True)
            for on in order:
                arms.switch(on=on and not args.control)
                timings[on].append(first_words_ms(user, question))
    arms.switch(on=True)
    from opentelemetry import trace

    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    print(f"machine: {machine()}")
    print(
        f"spans made with instrumentation on: {_Dropped.exported} ({_Dropped.exported / len(timings[True]):.0f} per answer)"
    )
    print(f"questions: {len(questions)} x {args.rounds} rounds per arm (demo handbook, extractive model, cache off)")
    if args.control:
        print("CONTROL (A/A): both arms ran without instrumentation; the ratios below are noise")
    for on, label in ((False, "without instrumentation"), (True, "with instrumentation")):
        values = timings[on]
        print(
            f"{label:>26}: first words p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
            f"mean {statistics.fmean(values):.1f} ms (n={len(values)})"
        )
    for name, p in (("p50", 50), ("p95", 95)):
        ratio = percentile(timings[True], p) / percentile(timings[False], p)
        print(f"ratio with/without, {name}: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")
    # Each answer with its twin of the same question and round (asked one after the other): the
    # machine's drift and the questions' own lengths cancel out of these ratios.
    paired = [on / off for on, off in zip(timings[True], timings[False], strict=True)]
    print(
        f"paired ratio (same question, back to back): median {statistics.median(paired):.3f} "
        f"({(statistics.median(paired) - 1) * 100:+.1f} %), mean {statistics.fmean(paired):.3f}"
    )
    mean_ratio = statistics.fmean(timings[True]) / statistics.fmean(timings[False])
    print(f"ratio with/without, mean: {mean_ratio:.3f} ({(mean_ratio - 1) * 100:+.1f} %); target <= 1.05")


if __name__ == "__main__":
    main()
