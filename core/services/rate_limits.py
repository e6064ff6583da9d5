"""Per-user request budgets shared by every channel (REST, websocket, pages).

One counter per (scope, identity, minute) in the Django cache, which is Redis db 1: every web
process and every channel (the ask API, its stream twin and the chat socket) counts against the
same number, so switching from REST to the websocket does not buy a second budget. The count is
a Redis ``INCR`` (atomic), not DRF's read-modify-write list of timestamps, so concurrent
requests cannot both read "one left" and both pass.

Fixed one-minute windows: simple and cheap (one round trip), at the price of allowing up to
twice the limit across a window boundary. The limits guard the web process's CPU (each question
is embedded there) and the workers; a burst of 2x for a second is within what they absorb."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from core.errors import ApplicationError

logger = logging.getLogger(__name__)
# What the cache raises when Redis cannot be reached or answers too slowly (ConnectionError and
# TimeoutError are OSErrors).
REDIS_UNAVAILABLE = (RedisError, OSError)

WINDOW_SECONDS = 60
KEY_PREFIX = "verity:ratelimit"


class RateScope(StrEnum):
    QUESTIONS = "questions"
    SEARCHES = "searches"
    UPLOADS = "uploads"


# The setting that holds each scope's limit per minute (0: unlimited).
_LIMIT_SETTING = {
    RateScope.QUESTIONS: "VERITY_RATE_QUESTIONS_PER_MINUTE",
    RateScope.SEARCHES: "VERITY_RATE_SEARCHES_PER_MINUTE",
    RateScope.UPLOADS: "VERITY_RATE_UPLOADS_PER_MINUTE",
}

_NOUN = {RateScope.QUESTIONS: "questions", RateScope.SEARCHES: "searches", RateScope.UPLOADS: "uploads"}


class RateLimited(ApplicationError):
    """A service refused work because its caller's budget is spent; views answer 429 with
    ``Retry-After``."""

    def __init__(self, decision: RateDecision) -> None:
        super().__init__(decision.message)
        self.retry_after = decision.retry_after


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int  # per window; 0 means unlimited
    count: int  # requests counted in this window, this one included
    retry_after: int  # whole seconds until the window ends (0 when allowed)
    scope: RateScope

    @property
    def message(self) -> str:
        """What to tell the user when refused: the limit and when to try again."""
        return (
            f"You have reached the limit of {self.limit} {_NOUN[self.scope]} per minute. "
            f"Please try again in {self.retry_after} second{'s' if self.retry_after != 1 else ''}."
        )


def rate_limit_key(*, scope: RateScope, identity: str, window_start: int) -> str:
    """The cache key of one window's counter (without the cache's own version prefix)."""
    return f"{KEY_PREFIX}:{scope.value}:{identity}:{window_start}"


def rate_limit_for(*, scope: RateScope) -> int:
    return int(getattr(settings, _LIMIT_SETTING[scope]))


def rate_limit_consume(*, scope: RateScope, identity: str, now: float | None = None) -> RateDecision:
    """Count one request of ``identity`` (a user id, or ``ip:<address>`` for anonymous callers)
    in ``scope`` and say whether it is within the limit. A refused request is counted too, so
    hammering does not shorten the wait. Callers check this before any costly work (embedding,
    search, parsing)."""
    limit = rate_limit_for(scope=scope)
    if limit <= 0:
        return RateDecision(allowed=True, limit=0, count=0, retry_after=0, scope=scope)
    now = time.time() if now is None else now
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    key = rate_limit_key(scope=scope, identity=identity, window_start=window_start)
    # add() is SET NX with an expiry: the first request of a window creates the counter; incr()
    # is Redis INCR, so each concurrent request, from any process, gets its own count. The few
    # seconds of slack keep a counter alive until its window has surely ended.
    count = 0
    try:
        for _ in range(2):
            cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
            try:
                count = cache.incr(key)
                break
            except ValueError:  # the counter expired between add() and incr(): create it again
                continue
    except REDIS_UNAVAILABLE as exc:
        # Fail open: a Redis outage already shows on /readyz and stops the worker and sockets;
        # refusing every question and search on top of it (or answering 500) would turn a
        # degraded system into a dead one. The outage is logged for the operator.
        logger.warning("rate_limit.unavailable scope=%s error=%s", scope.value, type(exc).__name__)
        return RateDecision(allowed=True, limit=limit, count=0, retry_after=0, scope=scope)
    allowed = count <= limit
    retry_after = 0 if allowed else max(1, math.ceil(window_start + WINDOW_SECONDS - now))
    return RateDecision(allowed=allowed, limit=limit, count=count, retry_after=retry_after, scope=scope)


def rate_limit_require(*, scope: RateScope, identity: str) -> None:
    """``rate_limit_consume`` for services: raises ``RateLimited`` when the budget is spent."""
    decision = rate_limit_consume(scope=scope, identity=identity)
    if not decision.allowed:
        raise RateLimited(decision)
