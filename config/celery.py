"""The Celery application: Redis broker, settings from Django (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("verity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
