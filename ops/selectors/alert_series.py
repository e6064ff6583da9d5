"""The values alert rules watch, each computed in one SQL query over the live tables for a window
ending now (issue #15, point 6). None means "no data in the window": a rule never fires on it.

Rates are shares (0-1), times seconds, counts counts; the comparison is always "above the
threshold", so each metric is oriented so that higher is worse (a drop is baseline minus now)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import Coalesce

from evaluation.models import AnswerScore
from ingestion.models import Document, DocumentStatus
from ops.models import AlertMetric
from qa.models import Answer, AnswerStatus, Interaction
from qa.selectors import answers_stuck_count
from qa.services.budgets import budget_policy

# The "before" of a jump or a drop: the week before the window, long enough that one bad hour
# does not move it, short enough to follow a deliberate change (a new model, a new corpus).
BASELINE = timedelta(days=7)
FINISHED = [AnswerStatus.ANSWERED, AnswerStatus.DECLINED, AnswerStatus.FAILED, AnswerStatus.HELD]
# A month's budget spread evenly: the day's share the cost rule compares with.
DAYS_PER_MONTH = 30


def _share(numerator: int | None, denominator: int | None) -> float | None:
    return (numerator or 0) / denominator if denominator else None


def _status_share(*, since: datetime, until: datetime, status: str) -> float | None:
    counts = Answer.objects.filter(created_at__gte=since, created_at__lt=until, status__in=FINISHED).aggregate(
        total=Count("pk"), hits=Count("pk", filter=Q(status=status))
    )
    return _share(counts["hits"], counts["total"])


def error_rate(*, now: datetime, window: timedelta) -> float | None:
    return _status_share(since=now - window, until=now, status=AnswerStatus.FAILED)


def decline_rate_jump(*, now: datetime, window: timedelta) -> float | None:
    current = _status_share(since=now - window, until=now, status=AnswerStatus.DECLINED)
    before = _status_share(since=now - window - BASELINE, until=now - window, status=AnswerStatus.DECLINED)
    if current is None:
        return None
    return current - (before or 0.0)


def unsupported_sentence_rate(*, now: datetime, window: timedelta) -> float | None:
    # Answer.verification holds the verifier's counts (qa.checks.verification.Verification.as_dict).
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT sum((verification->>'claims')::int - (verification->>'supported')::int),
                       sum((verification->>'claims')::int)
                  FROM {Answer._meta.db_table}
                 WHERE created_at >= %s AND created_at < %s AND verification ? 'claims'""",  # noqa: S608
            [now - window, now],
        )
        unsupported, claims = cursor.fetchone()
    return _share(unsupported, claims)


def quality_score_drop(*, now: datetime, window: timedelta) -> float | None:
    def mean(since: datetime, until: datetime) -> float | None:
        scores = AnswerScore.objects.filter(answer_created_at__gte=since, answer_created_at__lt=until)
        return scores.aggregate(mean=Avg("overall"))["mean"]

    current = mean(now - window, now)
    before = mean(now - window - BASELINE, now - window)
    if current is None or before is None:
        return None
    return before - current


def ttft_p95(*, now: datetime, window: timedelta) -> float | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY first_token_ms)
                  FROM {Interaction._meta.db_table}
                 WHERE created_at >= %s AND created_at < %s AND first_token_ms IS NOT NULL""",  # noqa: S608
            [now - window, now],
        )
        (p95,) = cursor.fetchone()
    return p95 / 1000 if p95 is not None else None


def cost_per_day_vs_budget(*, now: datetime, window: timedelta) -> float | None:
    budget = budget_policy().monthly_cost_soft
    if not budget:
        return None
    cost = Interaction.objects.filter(created_at__gte=now - window, created_at__lt=now).aggregate(
        cost=Coalesce(Sum("cost"), Decimal(0))
    )["cost"]
    per_day = float(cost) * (timedelta(days=1) / window)
    return per_day / (float(budget) / DAYS_PER_MONTH)


def stuck_answers(*, now: datetime, window: timedelta) -> float | None:
    # Stuck: started at least a window ago and still not finished (the pipeline's own limit is
    # QA_STUCK_* minutes; the rule's window is the operator's patience).
    return float(answers_stuck_count(before=now - window))


def failing_ingestion(*, now: datetime, window: timedelta) -> float | None:
    failed = Document.objects.filter(status=DocumentStatus.FAILED, updated_at__gte=now - window, updated_at__lt=now)
    return float(failed.count())


def tier_fallback_rate(*, now: datetime, window: timedelta) -> float | None:
    # The tier an answer was routed to is in Answer.route ("tier"); fallback_used says a model
    # other than the routed one wrote it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT max(rate) FROM (
                    SELECT avg(CASE WHEN fallback_used THEN 1.0 ELSE 0.0 END) AS rate
                      FROM {Answer._meta.db_table}
                     WHERE created_at >= %s AND created_at < %s AND status = ANY(%s)
                     GROUP BY coalesce(route->>'tier', '')
                ) AS per_tier""",  # noqa: S608
            [now - window, now, [str(s) for s in FINISHED]],
        )
        (rate,) = cursor.fetchone()
    return float(rate) if rate is not None else None


SERIES: dict[str, Callable[..., float | None]] = {
    AlertMetric.ERROR_RATE: error_rate,
    AlertMetric.DECLINE_RATE_JUMP: decline_rate_jump,
    AlertMetric.UNSUPPORTED_SENTENCE_RATE: unsupported_sentence_rate,
    AlertMetric.QUALITY_SCORE_DROP: quality_score_drop,
    AlertMetric.TTFT_P95: ttft_p95,
    AlertMetric.COST_PER_DAY_VS_BUDGET: cost_per_day_vs_budget,
    AlertMetric.STUCK_ANSWERS: stuck_answers,
    AlertMetric.FAILING_INGESTION: failing_ingestion,
    AlertMetric.TIER_FALLBACK_RATE: tier_fallback_rate,
}


def alert_value(*, metric: str, now: datetime, window: timedelta) -> float | None:
    """The value of ``metric`` over the window ending at ``now``."""
    return SERIES[AlertMetric(metric)](now=now, window=window)
