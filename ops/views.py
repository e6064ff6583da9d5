from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from core.errors import ApplicationError
from core.params import int_param
from evaluation.selectors import eval_run_list_recent
from ops.selectors.usage import cost_per_day, cost_per_model, cost_per_user, usage_observed
from qa.selectors import budget_alert_list_recent


class UsageView(UserPassesTestMixin, View):
    """Cost, tokens and cache hits per day, user and model, budget alerts and quality runs (staff)."""

    request: HttpRequest

    def test_func(self) -> bool:
        return bool(getattr(self.request.user, "is_staff", False))

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            days = int_param(request.GET.get("days"), name="days", default=30, minimum=1, maximum=365)
        except ApplicationError as exc:
            return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
        since = timezone.now() - timedelta(days=days)
        return render(
            request, "ops/usage.html",
            {"days": days, "observed": usage_observed(since=since), "per_day": cost_per_day(since=since),
             "per_user": cost_per_user(since=since), "per_model": cost_per_model(since=since),
             "alerts": budget_alert_list_recent(limit=20), "runs": eval_run_list_recent(limit=20)},
        )  # fmt: skip
