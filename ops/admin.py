"""Admin of alert rules (editable by administrators, every change audited) and their incidents
(read-only: the evaluation writes them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ops.models import AlertIncident, AlertRule
from ops.services.alerts import alert_rule_delete, alert_rule_save


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    """Saves and deletions go through ``ops.services.alerts``: each change is an audit event."""

    list_display = ("name", "metric", "threshold", "window_minutes", "enabled", "channels", "updated_at")
    list_editable = ("threshold", "window_minutes", "enabled")
    list_filter = ("metric", "enabled")

    def save_model(self, request: HttpRequest, obj: AlertRule, form: Any, change: bool) -> None:
        alert_rule_save(rule=obj, actor=request.user, request=request)

    def delete_model(self, request: HttpRequest, obj: AlertRule) -> None:
        alert_rule_delete(rule=obj, actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for rule in queryset:
            alert_rule_delete(rule=rule, actor=request.user, request=request)


@admin.register(AlertIncident)
class AlertIncidentAdmin(admin.ModelAdmin):
    list_display = ("rule", "opened_at", "value", "threshold", "peak", "cleared_at", "notified", "clear_notified")
    list_filter = ("rule", "notified")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AlertIncident | None = None) -> bool:
        return False
