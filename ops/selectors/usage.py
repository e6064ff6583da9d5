"""Reads for the usage page and the cost projection: cost per day, per user, per model, and
the cache hit rate."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncDate

from qa.models import Answer, AnswerStatus, CacheLookup, Interaction


def cost_per_day(*, since: datetime) -> list[dict[str, Any]]:
    return list(
        Answer.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            questions=Count("id"), cost=Sum("cost"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"),
            cached=Count("id", filter=Q(reused_from__isnull=False)),
        )
        .order_by("-day")
    )  # fmt: skip


def cost_per_user(*, since: datetime, limit: int = 50) -> list[dict[str, Any]]:
    return list(
        Answer.objects.filter(created_at__gte=since)
        .values("conversation__user__username")
        .annotate(questions=Count("id"), cost=Sum("cost"), tokens=Sum("tokens_in") + Sum("tokens_out"))
        .order_by("-cost")[:limit]
    )


def cost_per_model(*, since: datetime) -> list[dict[str, Any]]:
    return list(
        Interaction.objects.filter(created_at__gte=since)
        .values("provider", "model")
        .annotate(
            calls=Count("id"), cost=Sum("cost"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"),
            errors=Count("id", filter=Q(outcome="error")), mean_ms=Avg("total_ms"),
        )
        .order_by("-cost")
    )  # fmt: skip


def usage_observed(*, since: datetime) -> dict[str, Any]:
    """Observed cost per query and cache hit rate, for projections."""
    answers = Answer.objects.filter(created_at__gte=since).exclude(status=AnswerStatus.FAILED)
    total = answers.count()
    totals = answers.aggregate(cost=Sum("cost"))
    reused = answers.filter(reused_from__isnull=False).count()
    lookups = CacheLookup.objects.filter(created_at__gte=since)
    lookup_count = lookups.count()
    hits = lookups.filter(hit=True).count()
    uncached = answers.filter(reused_from__isnull=True)
    uncached_totals = uncached.aggregate(cost=Sum("cost"), n=Count("id"))
    uncached_cost, uncached_count = uncached_totals["cost"] or Decimal(0), uncached_totals["n"]
    return {
        "answers": total,
        "total_cost": totals["cost"] or Decimal(0),
        "cost_per_query": (totals["cost"] or Decimal(0)) / total if total else Decimal(0),
        "cost_per_uncached_query": uncached_cost / uncached_count if uncached_count else Decimal(0),
        "reused_answers": reused,
        "cache_lookups": lookup_count,
        "cache_hits": hits,
        "cache_hit_rate": hits / lookup_count if lookup_count else (reused / total if total else 0.0),
    }
