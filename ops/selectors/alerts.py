"""Reads of alert rules and incidents (the alert history page)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from ops.models import AlertIncident, AlertRule


def alert_rule_list() -> QuerySet[AlertRule]:
    """Every rule with its open incident (``open_incidents``: zero or one)."""
    open_incidents = AlertIncident.objects.filter(cleared_at__isnull=True)
    return AlertRule.objects.prefetch_related(Prefetch("incidents", open_incidents, to_attr="open_incidents"))


def alert_incident_list_recent(*, limit: int) -> QuerySet[AlertIncident]:
    """The latest incidents, newest first, with their rules."""
    return AlertIncident.objects.select_related("rule").order_by("-opened_at")[:limit]
