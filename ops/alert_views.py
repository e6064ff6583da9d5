"""The alert history page (staff): the rules, what fires now, and past incidents."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from ops.selectors.alerts import alert_incident_list_recent, alert_rule_list

HISTORY_LIMIT = 200


class AlertHistoryView(UserPassesTestMixin, View):
    request: HttpRequest

    def test_func(self) -> bool:
        return bool(getattr(self.request.user, "is_staff", False))

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request, "ops/alerts.html",
            {"rules": alert_rule_list(), "incidents": alert_incident_list_recent(limit=HISTORY_LIMIT),
             "emails": bool(settings.ALERT_EMAILS), "webhook": bool(settings.ALERT_WEBHOOK_URL),
             "history_limit": HISTORY_LIMIT},
        )  # fmt: skip
