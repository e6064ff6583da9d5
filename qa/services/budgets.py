"""Budgets that degrade instead of failing.

Per user and day (questions, tokens, cost) and for everyone per month (cost), each with a soft
limit (an alert, and routing to cheaper tiers) and a hard one (only cached and extractive
answers, with a notice). Spend is reserved before a priced model call with one conditional
UPDATE per counter, so concurrent requests cannot push spend past a hard limit; the
reservation is settled with the actual cost afterwards."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.db import commit_without_waiting
from qa.models import BudgetAlert, BudgetPolicy, UsageCounter
from qa.observability import budget_alert_record

logger = logging.getLogger(__name__)


_policy_cache: tuple[float, BudgetPolicy] | None = None


def budget_policy() -> BudgetPolicy:
    """The admins' policy; read at most every few seconds per process (it is on every
    question's path, and edits are rare)."""
    global _policy_cache
    now = time.monotonic()
    if _policy_cache is not None and now - _policy_cache[0] < settings.QA_POLICY_CACHE_SECONDS:
        return _policy_cache[1]
    policy = BudgetPolicy.objects.order_by("pk").first() or BudgetPolicy.objects.create()
    _policy_cache = (now, policy)
    return policy


def budget_policy_forget() -> None:
    """Drop the cached policy (after an edit, and in tests)."""
    global _policy_cache
    _policy_cache = None


def scope_user(user_id: int, day: date | None = None) -> str:
    return f"user:{user_id}:{(day or timezone.localdate()).isoformat()}"


def scope_global(day: date | None = None) -> str:
    return f"global:{(day or timezone.localdate()).strftime('%Y-%m')}"


def _counter(scope: str) -> UsageCounter:
    counter = UsageCounter.objects.filter(scope=scope).first()
    if counter is not None:
        return counter
    try:
        with transaction.atomic():
            return UsageCounter.objects.create(scope=scope)
    except IntegrityError:  # created by a concurrent request
        return UsageCounter.objects.get(scope=scope)


class BudgetLevel(StrEnum):
    """Where spend stands against the limits; the router and the notice read it."""

    OK = "ok"
    SOFT = "soft"  # an alert, and routing one tier down
    HARD = "hard"  # only cached and extractive answers, with a notice


class BudgetScope(StrEnum):
    """Whose counter a limit is on (its alert is recorded on that counter)."""

    USER = "user"  # the asker's day
    GLOBAL = "global"  # everyone's month


@dataclass
class BudgetState:
    level: BudgetLevel = BudgetLevel.OK
    reasons: list[str] = field(default_factory=list)

    @property
    def notice(self) -> str:
        if self.level != BudgetLevel.HARD:
            return ""
        return (
            f"Usage limit reached ({'; '.join(self.reasons)}). Until it resets, answers come from "
            "the cache and the built-in extractive model."
        )


def _over(value: Decimal | int, limit: Decimal | int) -> bool:
    return bool(limit) and value >= limit


def _count_question(scope: str) -> UsageCounter:
    """Add one question to the user's day and return the counter, in one statement."""
    with commit_without_waiting(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO qa_usagecounter "
            "(scope, questions, tokens, cost, reserved_tokens, reserved_cost, soft_alerted, updated_at) "
            "VALUES (%s, 1, 0, 0, 0, 0, false, now()) ON CONFLICT (scope) DO UPDATE SET "
            "questions = qa_usagecounter.questions + 1, updated_at = now() "
            "RETURNING id, questions, tokens, cost, reserved_tokens, reserved_cost, soft_alerted",
            [scope],
        )
        row = cursor.fetchone()
    return UsageCounter(
        pk=row[0], scope=scope, questions=row[1], tokens=row[2], cost=row[3], reserved_tokens=row[4],
        reserved_cost=row[5], soft_alerted=row[6],
    )  # fmt: skip


def budget_check(*, user_id: int, count_question: bool = False) -> BudgetState:
    """Where this user and the month stand against the limits (reservations included);
    ``count_question`` also counts this question (the check sees the count before it)."""
    policy = budget_policy()
    if count_question:
        mine = _count_question(scope_user(user_id))
        mine.questions -= 1
    else:
        mine = _counter(scope_user(user_id))
    everyone = _counter(scope_global())
    state = BudgetState()
    tokens = mine.tokens + mine.reserved_tokens
    cost = mine.cost + mine.reserved_cost
    month = everyone.cost + everyone.reserved_cost
    hard, soft = BudgetLevel.HARD, BudgetLevel.SOFT
    yours, everyones = BudgetScope.USER, BudgetScope.GLOBAL
    checks = [
        (hard, yours, _over(mine.questions, policy.user_daily_questions_hard), "your daily question limit"),
        (hard, yours, _over(tokens, policy.user_daily_tokens_hard), "your daily token limit"),
        (hard, yours, _over(cost, policy.user_daily_cost_hard), "your daily cost limit"),
        (hard, everyones, _over(month, policy.monthly_cost_hard), "this month's budget"),
        (soft, yours, _over(mine.questions, policy.user_daily_questions_soft), "your daily question allowance"),
        (soft, yours, _over(tokens, policy.user_daily_tokens_soft), "your daily token allowance"),
        (soft, yours, _over(cost, policy.user_daily_cost_soft), "your daily cost allowance"),
        (soft, everyones, _over(month, policy.monthly_cost_soft), "this month's soft budget"),
    ]
    for level, counter, hit, reason in checks:
        if not hit:
            continue
        if level == BudgetLevel.HARD:
            state.level = BudgetLevel.HARD
        elif state.level == BudgetLevel.OK:
            state.level = BudgetLevel.SOFT
        state.reasons.append(reason)
        scope = mine.scope if counter == BudgetScope.USER else everyone.scope
        _alert_once(scope=scope, kind=level, message=f"{reason} reached ({scope})")
    return state


def _alert_once(*, scope: str, kind: BudgetLevel, message: str) -> None:
    if kind == BudgetLevel.SOFT:
        if UsageCounter.objects.filter(scope=scope, soft_alerted=False).update(soft_alerted=True):
            BudgetAlert.objects.create(scope=scope, kind=kind, message=message)
            budget_alert_record(kind=str(kind))
            logger.warning("budget.soft_limit scope=%s %s", scope, message)
    elif not BudgetAlert.objects.filter(scope=scope, kind=BudgetLevel.HARD).exists():
        BudgetAlert.objects.create(scope=scope, kind=kind, message=message)
        budget_alert_record(kind=str(kind))
        logger.warning("budget.hard_limit scope=%s %s", scope, message)


@dataclass(frozen=True)
class Reservation:
    user_scope: str
    global_scope: str
    tokens: int
    cost: Decimal


def budget_reserve(*, user_id: int, tokens: int, cost: Decimal) -> Reservation | None:
    """Reserve ``tokens`` and ``cost`` against the user's day and the month, or return None if
    that would pass a hard limit. Safe under concurrency: each counter is changed by one UPDATE
    whose WHERE clause re-checks the limit on the locked row."""
    policy = budget_policy()
    user_scope, global_scope = scope_user(user_id), scope_global()
    _counter(user_scope), _counter(global_scope)
    user_limit = Q(scope=user_scope)
    if policy.user_daily_cost_hard:
        user_limit &= Q(cost__lte=policy.user_daily_cost_hard - cost - F("reserved_cost"))
    if policy.user_daily_tokens_hard:
        user_limit &= Q(tokens__lte=policy.user_daily_tokens_hard - tokens - F("reserved_tokens"))
    global_limit = Q(scope=global_scope)
    if policy.monthly_cost_hard:
        global_limit &= Q(cost__lte=policy.monthly_cost_hard - cost - F("reserved_cost"))
    with transaction.atomic():
        if not UsageCounter.objects.filter(user_limit).update(
            reserved_cost=F("reserved_cost") + cost, reserved_tokens=F("reserved_tokens") + tokens
        ):
            return None
        if not UsageCounter.objects.filter(global_limit).update(
            reserved_cost=F("reserved_cost") + cost, reserved_tokens=F("reserved_tokens") + tokens
        ):
            transaction.set_rollback(True)
            return None
    return Reservation(user_scope, global_scope, tokens, cost)


def budget_settle(*, reservation: Reservation | None, user_id: int, tokens: int, cost: Decimal) -> None:
    """Replace a reservation (if any) with what was actually spent."""
    reserved_tokens = reservation.tokens if reservation else 0
    reserved_cost = reservation.cost if reservation else Decimal(0)
    scopes = (
        [reservation.user_scope, reservation.global_scope] if reservation else [scope_user(user_id), scope_global()]
    )
    for scope in scopes:
        _counter(scope)
        UsageCounter.objects.filter(scope=scope).update(
            reserved_tokens=F("reserved_tokens") - reserved_tokens, reserved_cost=F("reserved_cost") - reserved_cost,
            tokens=F("tokens") + tokens, cost=F("cost") + cost,
        )  # fmt: skip
