"""Budgets that degrade instead of failing.

Per user and day (questions, tokens, cost) and for everyone per month (cost), each with a soft
limit (an alert, and routing to cheaper tiers) and a hard one (only cached and extractive
answers, with a notice). Spend is reserved before a priced model call with one conditional
UPDATE per counter, so concurrent requests cannot push spend past a hard limit; the
reservation is settled with the actual cost afterwards."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from qa.models import BudgetAlert, BudgetPolicy, UsageCounter

logger = logging.getLogger(__name__)


def budget_policy() -> BudgetPolicy:
    policy = BudgetPolicy.objects.order_by("pk").first()
    return policy or BudgetPolicy.objects.create()


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


@dataclass
class BudgetState:
    level: str = "ok"  # ok, soft, hard
    reasons: list[str] = field(default_factory=list)

    @property
    def notice(self) -> str:
        if self.level != "hard":
            return ""
        return (
            f"Usage limit reached ({'; '.join(self.reasons)}). Until it resets, answers come from "
            "the cache and the built-in extractive model."
        )


def _over(value: Decimal | int, limit: Decimal | int) -> bool:
    return bool(limit) and value >= limit


def budget_check(*, user_id: int) -> BudgetState:
    """Where this user and the month stand against the limits (reservations included)."""
    policy = budget_policy()
    mine, everyone = _counter(scope_user(user_id)), _counter(scope_global())
    state = BudgetState()
    tokens = mine.tokens + mine.reserved_tokens
    cost = mine.cost + mine.reserved_cost
    month = everyone.cost + everyone.reserved_cost
    checks = [
        ("hard", _over(mine.questions, policy.user_daily_questions_hard), "your daily question limit"),
        ("hard", _over(tokens, policy.user_daily_tokens_hard), "your daily token limit"),
        ("hard", _over(cost, policy.user_daily_cost_hard), "your daily cost limit"),
        ("hard", _over(month, policy.monthly_cost_hard), "this month's budget"),
        ("soft", _over(mine.questions, policy.user_daily_questions_soft), "your daily question allowance"),
        ("soft", _over(tokens, policy.user_daily_tokens_soft), "your daily token allowance"),
        ("soft", _over(cost, policy.user_daily_cost_soft), "your daily cost allowance"),
        ("soft", _over(month, policy.monthly_cost_soft), "this month's soft budget"),
    ]
    for level, hit, reason in checks:
        if not hit:
            continue
        if level == "hard":
            state.level = "hard"
        elif state.level == "ok":
            state.level = "soft"
        state.reasons.append(reason)
        scope = mine.scope if "your" in reason else everyone.scope
        _alert_once(scope=scope, kind=level, message=f"{reason} reached ({scope})")
    return state


def _alert_once(*, scope: str, kind: str, message: str) -> None:
    if kind == "soft":
        if UsageCounter.objects.filter(scope=scope, soft_alerted=False).update(soft_alerted=True):
            BudgetAlert.objects.create(scope=scope, kind=kind, message=message)
            logger.warning("budget.soft_limit scope=%s %s", scope, message)
    elif not BudgetAlert.objects.filter(scope=scope, kind="hard").exists():
        BudgetAlert.objects.create(scope=scope, kind=kind, message=message)
        logger.warning("budget.hard_limit scope=%s %s", scope, message)


def budget_count_question(*, user_id: int) -> None:
    _counter(scope_user(user_id))
    UsageCounter.objects.filter(scope=scope_user(user_id)).update(questions=F("questions") + 1)


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
