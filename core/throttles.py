"""DRF throttles over the shared rate-limit service (core.services.rate_limits).

The per-user and anonymous defaults are DRF's own cache-backed throttles (Redis, see
REST_FRAMEWORK in settings); the scoped ones here count in the same Redis counters as the chat
socket and the pages, so one budget covers every channel. A refused request is a 429 with
``Retry-After`` (DRF sets the header from ``wait()``)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle

from core.services.rate_limits import REDIS_UNAVAILABLE, RateDecision, RateScope, rate_limit_consume

logger = logging.getLogger(__name__)


class _FailOpen:
    """DRF's cache-backed throttles, failing open when Redis is unreachable (as the shared budgets
    do, see core.services.rate_limits): an outage must not turn every API call into a 500."""

    scope: str | None

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except REDIS_UNAVAILABLE as exc:
            logger.warning("rate_limit.unavailable scope=%s error=%s", self.scope, type(exc).__name__)
            return True


class AnonThrottle(_FailOpen, AnonRateThrottle):
    """Anonymous callers per address."""


class UserThrottle(_FailOpen, UserRateThrottle):
    """Signed-in callers per user."""


class ServiceRateThrottle(BaseThrottle):
    rate_scope: ClassVar[RateScope]
    decision: RateDecision | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        identity = str(user.pk) if user is not None and user.is_authenticated else f"ip:{self.get_ident(request)}"
        self.decision = rate_limit_consume(scope=self.rate_scope, identity=identity)
        return self.decision.allowed

    def wait(self) -> float | None:
        return float(self.decision.retry_after) if self.decision is not None else None


class QuestionRateThrottle(ServiceRateThrottle):
    """Questions per user per minute: the ask API, its stream twin and the chat socket."""

    rate_scope = RateScope.QUESTIONS


class SearchRateThrottle(ServiceRateThrottle):
    """Searches per user per minute: /api/search/ and the retrieval tester page."""

    rate_scope = RateScope.SEARCHES


class UploadRateThrottle(ServiceRateThrottle):
    rate_scope = RateScope.UPLOADS


def throttles_with(*extra: type[BaseThrottle]) -> list[type[BaseThrottle]]:
    """The default throttles plus a view's scoped ones (a view's ``throttle_classes`` replaces
    the defaults, which must keep applying)."""
    return [*api_settings.DEFAULT_THROTTLE_CLASSES, *extra]
