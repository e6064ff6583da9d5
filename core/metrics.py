"""Prometheus metrics: every metric Verity records, and the multiprocess registry they are read from.

daphne, each Celery pool process and beat are separate processes, so prometheus_client runs in
multiprocess mode: each process writes its samples to memory-mapped files under
``PROMETHEUS_MULTIPROC_DIR`` (set from the data folder by the settings before prometheus_client
is first imported; emptied by the launcher at start, since files of dead processes would be
summed in) and ``/metrics`` merges them. The names follow the OpenTelemetry GenAI semantic
conventions' Prometheus exposition (``gen_ai.client.operation.duration`` ->
``gen_ai_client_operation_duration_seconds``) and Verity's own ``verity_*`` (issue #15; the
alert rules and the Grafana dashboard in ``deploy/`` use these names).

Recording is cheap (a few microseconds: an mmap write); the app modules record where the event
happens through the small helpers of each app (``qa.observability``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Model calls: seconds to minutes (a local CPU model writes ~10 tokens/s); tokens up to 16k.
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)
_STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_GENAI_LABELS = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")

GENAI_DURATION = Histogram(
    "gen_ai_client_operation_duration_seconds", "GenAI operation duration.", _GENAI_LABELS,
    buckets=_DURATION_BUCKETS,
)  # fmt: skip
GENAI_TOKENS = Histogram(
    "gen_ai_client_token_usage", "Tokens used per GenAI operation.", (*_GENAI_LABELS, "gen_ai_token_type"),
    buckets=_TOKEN_BUCKETS,
)  # fmt: skip
GENAI_TTFT = Histogram(
    "gen_ai_server_time_to_first_token_seconds", "Time to the first token of a streamed GenAI response.",
    _GENAI_LABELS, buckets=_DURATION_BUCKETS,
)  # fmt: skip

ANSWERS = Counter("verity_answers", "Answers finished, by status and decline reason.", ("status", "decline_reason"))
PIPELINE_STAGE = Histogram(
    "verity_pipeline_stage_seconds", "Time per answer pipeline stage.", ("stage",), buckets=_STAGE_BUCKETS
)
VERIFICATION_SENTENCES = Counter(
    "verity_verification_sentences", "Answer sentences checked, by what the check did.", ("action",)
)
CACHE_LOOKUPS = Counter("verity_cache_lookups", "Answer cache lookups (lookup and confirmation steps).", ("hit",))
BUDGET_ALERTS = Counter("verity_budget_alerts", "Budget alerts raised (soft and hard limits).", ("kind",))
COST_USD = Counter("verity_cost_usd", "Model cost of finished answers, in US dollars.", ("model",))
INGESTION_PAGES = Counter("verity_ingestion_pages", "Pages of documents ingested.")
WEBSOCKET_CONNECTIONS = Gauge(
    "verity_websocket_connections", "Open websocket connections.", multiprocess_mode="livesum"
)
PROMPT_FALLBACKS = Counter(
    "verity_prompt_fallbacks", "Answers rewritten with their prompt version's fallback.", ("prompt_key",)
)
ERRORS = Counter("verity_errors", "Errors, by where they happened.", ("where",))


def metrics_multiproc_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV, "")
    return Path(value) if value else None


def metrics_multiproc_dir_reset(*, path: Path) -> None:
    """Empty the folder before the processes that write to it start: files of processes from an
    earlier run would otherwise be summed in (counters would never restart)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def metrics_process_exited(*, pid: int) -> None:
    """A process that wrote metrics is gone: its live gauges (open websockets) no longer count."""
    if metrics_multiproc_dir() is not None:
        multiprocess.mark_process_dead(pid)


def metrics_exposition(*, collectors: Iterable[Collector] = ()) -> bytes:
    """The text of ``/metrics``: every process's samples merged (this process's registry when
    multiprocess mode is off), plus ``collectors`` computed now (gauges read from the database)."""
    if metrics_multiproc_dir() is None:
        return generate_latest(REGISTRY) + b"".join(generate_latest(_registry_of(c)) for c in collectors)
    registry = CollectorRegistry()  # per scrape, as prometheus_client's multiprocess docs say
    multiprocess.MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


def _registry_of(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry
