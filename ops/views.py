from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from core.errors import ApplicationError
from core.params import int_param
from evaluation.selectors import eval_run_list_recent
from ops.selectors.prompt_fallbacks import prompt_fallback_rate
from ops.selectors.usage import cost_per_day, cost_per_model, cost_per_user, usage_observed
from qa.models import KillSwitchName
from qa.selectors import budget_alert_list_recent
from qa.services.kill_switches import kill_switch_set, kill_switch_states


class UsageView(UserPassesTestMixin, View):
    """Cost, tokens and cache hits per day, user and model, budget alerts, prompt fallbacks of the
    last 24 hours (a version over the alert rate is flagged) and quality runs (staff)."""

    request: HttpRequest

    def test_func(self) -> bool:
        return bool(getattr(self.request.user, "is_staff", False))

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            days = int_param(request.GET.get("days"), name="days", default=30, minimum=1, maximum=365)
        except ApplicationError as exc:
            return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
        now = timezone.now()
        since = now - timedelta(days=days)
        fallbacks = list(prompt_fallback_rate(since=now - timedelta(hours=24)).values())
        return render(
            request, "ops/usage.html",
            {"days": days, "observed": usage_observed(since=since), "per_day": cost_per_day(since=since),
             "per_user": cost_per_user(since=since), "per_model": cost_per_model(since=since),
             "alerts": budget_alert_list_recent(limit=20), "runs": eval_run_list_recent(limit=20),
             "fallbacks": fallbacks, "fallback_alert": any(f.alert for f in fallbacks),
             "fallback_alert_rate": settings.QA_PROMPT_FALLBACK_ALERT_RATE,
             "fallback_alert_min": settings.QA_PROMPT_FALLBACK_ALERT_MIN},
        )  # fmt: skip


class KillSwitchView(UserPassesTestMixin, View):
    """The kill switches (``qa.services.kill_switches``): staff see them, superusers turn them
    on (with the incident as the reason) or off; every change is an audit event."""

    request: HttpRequest

    def test_func(self) -> bool:
        return bool(getattr(self.request.user, "is_staff", False))

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        if not getattr(request.user, "is_superuser", False):
            return self._page(request, error="Only an administrator can turn a kill switch on or off.", status=403)
        name = request.POST.get("name", "")
        if name not in KillSwitchName.values:
            return self._page(request, error="There is no such kill switch.", status=400)
        try:
            kill_switch_set(
                name=name, active=request.POST.get("state") == "on", reason=request.POST.get("reason", ""),
                actor=request.user, request=request,
            )  # fmt: skip
        except ValueError as exc:
            return self._page(request, error=str(exc), status=400)
        return redirect("ops:kill_switches")

    def _page(self, request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
        return render(
            request, "ops/kill_switches.html",
            {"switches": kill_switch_states(), "error": error,
             "can_change": bool(getattr(request.user, "is_superuser", False))},
            status=status,
        )  # fmt: skip
