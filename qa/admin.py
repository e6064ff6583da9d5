"""Admin views of answers, the review queue, feedback and reusable answers. Review decisions go
through the same services as the review page, so they are recorded and reach the user. Records
of what happened (model interactions, cache lookups, usage counters) are read-only. The user
admin gains a person's data export and erasure."""

from __future__ import annotations

import json
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.admin import ReadOnlyModelAdmin
from core.errors import ApplicationError
from providers.llm.pinning import PinLevel
from qa.models import (
    Answer,
    BudgetAlert,
    BudgetPolicy,
    CacheLookup,
    FaqEntry,
    Feedback,
    Interaction,
    ModelPrice,
    ModelTier,
    ReusableAnswer,
    ReviewAction,
    ReviewItem,
    ReviewState,
    RoutingPolicy,
    UsageCounter,
)
from qa.review.queue import review_approve
from qa.services.model_tiers import model_tier_pin, model_tier_save
from qa.services.person_data import person_erase, person_export
from qa.services.policies import Policy, policy_delete, policy_save


class ReviewActionInline(admin.TabularInline):
    model = ReviewAction
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "reviewer", "action", "note", "text_before", "text_after")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "question", "reason", "topics", "held", "state", "decided_by")
    list_filter = ("state", "reason", "held")
    # The record outlives its answer (the conversation may be deleted): the kept texts are
    # searched and shown, and "conversation deleted" says why the answer link is empty.
    search_fields = ("question_text", "answer_text", "answer__question", "answer__text")
    readonly_fields = ("answer", "answer_deleted_at", "reason", "topics", "detail", "held", "state", "decided_by",
                       "decided_at", "note", "judged_question", "judged_answer", "verification")  # fmt: skip
    exclude = ("question_text", "answer_text")
    inlines = [ReviewActionInline]
    actions = ["approve_selected"]

    @admin.display(description="Question")
    def question(self, obj: ReviewItem) -> str:
        if obj.answer is None:
            return f"{obj.question_text[:100]} (conversation deleted)"
        return obj.answer.question[:100]

    @admin.display(description="Question judged")
    def judged_question(self, obj: ReviewItem) -> str:
        return obj.answer.question if obj.answer is not None else obj.question_text

    @admin.display(description="Answer judged")
    def judged_answer(self, obj: ReviewItem) -> str:
        if obj.answer is None:
            return f"{obj.answer_text}\n(conversation deleted)"
        return obj.answer.text

    @admin.display(description="Verification per sentence")
    def verification(self, obj: ReviewItem) -> str:
        if obj.answer is None:
            return "(conversation deleted)"
        rows = obj.answer.verification.get("sentences", [])
        return "\n".join(
            f"[{r['action']}] support {r['support']:.2f} cites {r['citations']}: {r['text']}"
            + (f" ({'; '.join(r['issues'])})" if r["issues"] else "")
            for r in rows
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Approve the selected answers (as written)")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[ReviewItem]) -> None:
        done = 0
        for item in queryset.filter(state=ReviewState.PENDING):
            try:
                review_approve(
                    item_id=item.pk, reviewer=cast(User, request.user), note="approved in the admin", request=request
                )
                done += 1
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        self.message_user(request, f"Approved {done} answer(s).")


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "question", "status", "confidence_level", "review_state", "provider", "model")
    list_filter = ("status", "confidence_level", "review_state", "provider")
    search_fields = ("question", "text")
    readonly_fields = [f.name for f in Answer._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "answer", "user", "helpful", "reason", "triage_state")
    list_filter = ("helpful", "reason", "triage_state")
    search_fields = ("comment", "answer__question")


@admin.register(ReusableAnswer)
class ReusableAnswerAdmin(admin.ModelAdmin):
    list_display = ("id", "origin", "question", "active", "hits", "expires_at", "invalidated_reason", "created_at")
    list_filter = ("origin", "active")
    search_fields = ("question", "text")
    exclude = ("embedding",)
    readonly_fields = ("document_ids", "collection_ids", "citations", "source_answer", "hits", "last_hit_at")


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id", "created_at", "provider", "model", "outcome", "data_class", "pii_scrubbed", "tokens_in", "tokens_out",
        "total_ms",
    )  # fmt: skip
    list_filter = ("provider", "outcome", "data_class", "pii_scrubbed")


@admin.register(ModelTier)
class ModelTierAdmin(admin.ModelAdmin):
    """A refused model id (``latest``, empty) is a form error (``ModelTier.clean``); a floating
    alias saves with a warning. Saves go through ``model_tier_save``: a change of the model is a
    new tier version with an audit event."""

    list_display = ("name", "rank", "provider", "model", "version", "external", "active")
    list_editable = ("rank", "active")
    list_filter = ("provider", "external", "active")
    readonly_fields = ("version",)

    def save_model(self, request: HttpRequest, obj: ModelTier, form: Any, change: bool) -> None:
        model_tier_save(tier=obj, actor=request.user, request=request)
        pin = model_tier_pin(tier=obj)
        if pin.level is PinLevel.FLOATING:
            self.message_user(request, pin.message, messages.WARNING)


class PolicyAdmin(admin.ModelAdmin):
    """Saves and deletions go through the policy service: each change is an audit event."""

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: bool) -> None:
        policy_save(policy=obj, actor=request.user, request=request)

    def delete_model(self, request: HttpRequest, obj: Policy) -> None:
        policy_delete(policy=obj, actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for policy in queryset:
            policy_delete(policy=policy, actor=request.user, request=request)


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(PolicyAdmin):
    list_display = ("__str__", "lookup_tier", "explanation_tier", "complex_tier", "low_retrieval_similarity")


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """Prices are versioned: to change a price, add a row with a later ``effective_from``."""

    list_display = ("model", "input_per_million", "output_per_million", "currency", "effective_from", "note")
    list_filter = ("model",)

    def get_readonly_fields(self, request: HttpRequest, obj: ModelPrice | None = None) -> tuple[str, ...]:
        # A price that has been in force is history: answers were costed with it.
        return ("model", "input_per_million", "output_per_million", "currency", "effective_from") if obj else ()


@admin.register(BudgetPolicy)
class BudgetPolicyAdmin(PolicyAdmin):
    list_display = ("__str__", "user_daily_cost_soft", "user_daily_cost_hard", "monthly_cost_soft", "monthly_cost_hard")


@admin.register(UsageCounter)
class UsageCounterAdmin(ReadOnlyModelAdmin):
    """Counted by the budget service only: an edited counter would hand out (or withhold) budget."""

    list_display = ("scope", "questions", "tokens", "cost", "reserved_cost", "updated_at")
    search_fields = ("scope",)


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "scope", "message")
    list_filter = ("kind",)


@admin.register(CacheLookup)
class CacheLookupAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "hit", "nearest_similarity", "reason", "elapsed_ms", "answer")
    list_filter = ("hit",)


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ("question", "collection", "active", "last_precomputed_at", "last_result")
    list_filter = ("active", "collection")


# --------------------------------------------------------------------------- a person's data


class PersonDataUserAdmin(UserAdmin):
    """Django's user admin with the rights of access and erasure as actions: "Export data
    (JSON)" downloads everything Verity holds about one user; "Erase data" asks for
    confirmation on its own page, then erases each selected user (qa.services.person_data)."""

    actions = ["export_person_data", "erase_person_data"]

    @admin.action(description="Export data (JSON)", permissions=["view"])
    def export_person_data(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select one user to export.", messages.ERROR)
            return None
        user = queryset.get()
        data = person_export(user=user, actor=request.user, request=request)
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="verity-user-{user.pk}.json"'
        return response

    @admin.action(description="Erase data (irreversible)", permissions=["delete"])
    def erase_person_data(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request, "admin/auth/user/erase_confirmation.html",
                {**self.admin_site.each_context(request), "title": "Erase a person's data", "users": list(queryset),
                 "opts": self.model._meta, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME},
            )  # fmt: skip
        for user in queryset:
            name = user.get_username()
            try:
                report = person_erase(user=user, actor=request.user, request=request)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            kept = sum(report.kept.values())
            self.message_user(
                request,
                f"Erased {name}: the audit trail now calls them {report.pseudonym}"
                + (f"; {kept} append-only prompt record(s) still name them" if kept else "")
                + ".",
            )
        return None


admin.site.unregister(User)
admin.site.register(User, PersonDataUserAdmin)
