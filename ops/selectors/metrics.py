"""The gauges of ``/metrics`` that are read at scrape time, not recorded as events: documents by
state, answers and documents stuck past their limits, the Celery queue's depth. Four small
queries per scrape (a GROUP BY over documents' status, two indexed counts, one Redis LLEN), so a
15-second scrape interval costs the database nothing noticeable."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingestion.models import Document, DocumentStatus
from qa.selectors import answers_stuck_count

# Celery's default queue (no task routes are configured): a Redis list of that name.
CELERY_QUEUES = ("celery",)
PROCESSING_STATES = (DocumentStatus.QUEUED, DocumentStatus.PARSING, DocumentStatus.CHUNKING, DocumentStatus.EMBEDDING)


class ScrapeTimeCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        documents = GaugeMetricFamily("verity_ingestion_documents", "Documents by ingestion state.", labels=["state"])
        counts = dict(Document.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for state in DocumentStatus.values:
            documents.add_metric([state], counts.get(state, 0))
        yield documents
        stuck_before = now - timedelta(seconds=settings.METRICS_STUCK_ANSWER_SECONDS)
        yield GaugeMetricFamily(
            "verity_stuck_answers",
            "Answers pending or streaming longer than METRICS_STUCK_ANSWER_SECONDS.",
            value=answers_stuck_count(before=stuck_before),
        )
        stuck_before = now - timedelta(seconds=settings.METRICS_STUCK_DOCUMENT_SECONDS)
        yield GaugeMetricFamily(
            "verity_stuck_documents",
            "Documents in a processing state unchanged for longer than METRICS_STUCK_DOCUMENT_SECONDS.",
            value=Document.objects.filter(status__in=PROCESSING_STATES, updated_at__lt=stuck_before).count(),
        )
        depth = GaugeMetricFamily("verity_celery_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"])
        for queue, waiting in _queue_depths():
            depth.add_metric([queue], waiting)
        yield depth


def _queue_depths() -> Iterator[tuple[str, int]]:
    """LLEN of each queue on the broker; nothing when Redis is down (the scrape still answers,
    and the missing series is what an alert on absent() notices)."""
    from config.celery import app

    try:
        with app.connection_for_read() as connection:
            client = connection.default_channel.client
            for queue in CELERY_QUEUES:
                yield queue, int(client.llen(queue))
    except Exception:  # noqa: BLE001 - a broker outage must not break the whole scrape
        return


def metrics_access(*, request: HttpRequest) -> int:
    """200, 401 (no credentials) or 403 (a wrong token, or a signed-in user who is not staff)."""
    if request.user.is_authenticated and request.user.is_staff:
        return 200
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return 403 if request.user.is_authenticated else 401
    expected: str = settings.VERITY_METRICS_TOKEN
    presented = header.removeprefix("Bearer ").strip()
    if expected and hmac.compare_digest(presented.encode(), expected.encode()):
        return 200
    return 403
