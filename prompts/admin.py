"""The registry in the admin: read-only. Versions come from the library's files or approved
proposals, labels move through the prompt pages or ``manage.py prompt_label`` (audited), and
the lifecycle's events are append-only; the admin only shows them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ReadOnlyModelAdmin
from prompts.models import Experiment, ExperimentArm, PromptEvent, PromptLabel, PromptProposal, PromptVersion


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyModelAdmin):
    list_display = ("prompt_id", "version", "kind", "source", "author_name", "created_at", "content_hash")
    list_filter = ("prompt_id", "source")
    search_fields = ("prompt_id", "note")


@admin.register(PromptLabel)
class PromptLabelAdmin(ReadOnlyModelAdmin):
    list_display = ("prompt_id", "name", "version", "updated_at")


@admin.register(PromptEvent)
class PromptEventAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "action", "prompt_id", "version", "label", "from_version", "actor_name")
    list_filter = ("action", "prompt_id")
    search_fields = ("note", "actor_name")


@admin.register(PromptProposal)
class PromptProposalAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "prompt_id", "summary", "author", "state", "reviewer", "decided_at")
    list_filter = ("state", "prompt_id")


class ExperimentArmInline(admin.TabularInline):
    model = ExperimentArm
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyModelAdmin):
    list_display = ("name", "prompt_id", "state", "created_at", "stopped_at")
    inlines = [ExperimentArmInline]
