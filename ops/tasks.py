"""Celery tasks of ops: they call services."""

from __future__ import annotations

import logging

from celery import shared_task

from ops.services.alerts import alerts_evaluate

logger = logging.getLogger(__name__)


@shared_task(name="ops.alerts_evaluate", acks_late=True, soft_time_limit=240, time_limit=270)
def alerts_evaluate_task() -> list[dict[str, object]]:
    """Evaluate the alert rules now. Not retried: the next beat (ALERTS_EVALUATE_SECONDS) is the
    retry, and a notice that failed is owed until a run delivers it. A run overlapping the next
    skips the rules it has locked (``alert_rule_evaluate``)."""
    return alerts_evaluate()
