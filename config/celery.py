"""The Celery application: Redis broker, settings from Django (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_process_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("verity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def trace_worker_process(**kwargs: object) -> None:
    """Tracing in each pool process, after the fork (the OpenTelemetry Celery instrumentation's
    documented place for prefork: an exporter thread started before the fork would not run in
    the children)."""
    from core.tracing import tracing_setup

    tracing_setup(role="worker")


@worker_init.connect
def trace_worker_without_fork(sender: object = None, **kwargs: object) -> None:
    """The solo and threads pools have no child processes: the worker itself is traced."""
    pool = str(getattr(sender, "pool_cls", ""))
    if "solo" in pool or "thread" in pool:
        from core.tracing import tracing_setup

        tracing_setup(role="worker")


@worker_process_shutdown.connect
def forget_worker_process(pid: int | None = None, **kwargs: object) -> None:
    """A pool process that ends no longer counts in the live gauges of /metrics."""
    from core.metrics import metrics_process_exited

    metrics_process_exited(pid=pid or os.getpid())


@worker_process_init.connect
def warm_models(**kwargs: object) -> None:
    """Load the embedding model when a worker process starts, not on its first question: the
    first words of an answer must not wait for a model load (seconds)."""
    from django.conf import settings

    if settings.EMBEDDING_WARMUP:
        from providers.registry import embedding_provider_default

        embedding_provider_default().embed_query("warm up")
    if settings.PII_WARMUP:
        # The PII analyzer too, when some model endpoint leaves the machine (issue #14).
        import logging

        from qa.pipeline.privacy import pii_analyzer_warm_up

        try:
            pii_analyzer_warm_up()
        except Exception:  # noqa: BLE001 - a warm-up must never stop a worker from starting
            logging.getLogger(__name__).exception("worker.pii_warmup_failed")
