"""The audit trail in the admin, read-only, and the read-only admin base that records of what
happened (audit events, model interactions, cache lookups, usage counters) share; legal holds on
people, set and released through their audited services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import ApplicationError
from core.models import AuditEvent, UserLegalHold
from core.services.legal_holds import user_legal_hold_release, user_legal_hold_set


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


@admin.register(UserLegalHold)
class UserLegalHoldAdmin(admin.ModelAdmin):
    """Adding a hold sets it, deleting one releases it: both through the services, which record
    an audit event. A hold is not edited in place (release it and set a new one)."""

    list_display = ("user", "reason", "set_by_name", "created_at")
    search_fields = ("user__username", "reason")
    fields = ("user", "reason")
    raw_id_fields = ("user",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: UserLegalHold, form: Any, change: bool) -> None:
        try:
            hold = user_legal_hold_set(user=obj.user, reason=obj.reason, actor=request.user, request=request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = hold.pk

    def delete_model(self, request: HttpRequest, obj: UserLegalHold) -> None:
        user_legal_hold_release(user_id=obj.user_id, actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[UserLegalHold]) -> None:
        for hold in queryset:
            user_legal_hold_release(user_id=hold.user_id, actor=request.user, request=request)
