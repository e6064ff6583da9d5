"""The audit trail in the admin, read-only, and the read-only admin base that records of what
happened (audit events, model interactions, cache lookups, usage counters) share."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.models import AuditEvent


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """No add, change or delete for anyone, superusers included: a record of what happened is
    only looked at. Every field is shown read-only; the delete action is gone."""

    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """The database refuses changes anyway (a trigger); the admin does not offer them."""

    list_display = ("seq", "created_at", "action", "actor_name", "target_type", "target_id", "ip", "request_id")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_id", "request_id", "ip")
    date_hierarchy = "created_at"
