from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from core.errors import ApplicationError
from ingestion.models import Chunk, Collection, Document
from ingestion.selectors.collections import collection_list_uploadable
from ingestion.services.collections import collection_access_of, collection_access_record
from ingestion.services.documents import document_delete, document_move, documents_upload
from ingestion.services.retention import collection_legal_hold_release, collection_legal_hold_set


class LegalHoldActionForm(ActionForm):
    """The action bar with a reason field, which setting a legal hold requires."""

    reason = forms.CharField(required=False, max_length=300, label="Legal hold reason")


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ("name", "classification", "legal_hold", "high_stakes_policy", "confidence_floor", "created_at")
    list_filter = ("classification", "legal_hold")
    # The hold changes only through the actions below (audited services), never in the form.
    readonly_fields = ("legal_hold", "legal_hold_reason")
    action_form = LegalHoldActionForm
    actions = ("legal_hold_set", "legal_hold_release")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("reader_groups", "reader_users")
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "classification", "reader_groups", "reader_users")}),
        ("Answer policy", {"fields": ("high_stakes_topics", "high_stakes_policy", "unsupported_policy",
                                      "confidence_high", "confidence_medium", "confidence_floor")}),
        ("Retention", {"fields": ("legal_hold", "legal_hold_reason")}),
    )  # fmt: skip

    @admin.action(description="Set a legal hold (suspend retention) with the reason given")
    def legal_hold_set(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        reason = request.POST.get("reason", "")
        try:
            for collection in queryset:
                collection_legal_hold_set(collection=collection, reason=reason, actor=request.user, request=request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return
        messages.success(request, f"Legal hold set on {queryset.count()} collection(s).")

    @admin.action(description="Release the legal hold")
    def legal_hold_release(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        released = sum(
            collection_legal_hold_release(collection=c, actor=request.user, request=request) for c in queryset
        )
        messages.success(request, f"Legal hold released on {released} collection(s).")

    # Access changes are audited: the access as stored is read before the save (the readers are
    # saved after the row, in save_related), recorded against what is stored after it; all in
    # the admin's transaction.
    def save_model(self, request: HttpRequest, obj: Collection, form: Any, change: bool) -> None:
        obj._access_before = collection_access_of(collection_id=obj.pk if change else None)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        collection = form.instance
        before = getattr(collection, "_access_before", None)
        collection_access_record(collection=collection, before=before, actor=request.user, request=request)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        return [single(d, initial) for d in data] if isinstance(data, list | tuple) else [single(data, initial)]


class DocumentsUploadForm(forms.Form):
    collection = forms.ModelChoiceField(queryset=Collection.objects.none())
    uploads = MultipleFileField(label="Files", help_text="Choose several files at once.")

    def __init__(self, *args: Any, user: User | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Staff status opens the admin; uploading into a collection needs the same right as
        # everywhere else (document admin who reads the collection).
        self.fields["collection"].queryset = collection_list_uploadable(user=user)  # type: ignore[attr-defined]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "title", "collection", "status", "progress", "chunk_count", "version", "size_bytes", "injection_flagged",
        "created_at",
    )  # fmt: skip
    # "Injection flagged": documents whose text addresses the model, for an admin to review.
    list_filter = ("status", "injection_flagged", "collection", "file_format")
    search_fields = ("title", "source_name", "content_hash")
    readonly_fields = (
        "content_hash", "size_bytes", "status", "progress", "error", "error_detail", "uploaded_by", "file_format", "is_current",
        "replaces", "version", "page_count", "char_count", "chunk_count", "attempts", "started_at", "finished_at",
        "injection_flagged", "injection_flags",
    )  # fmt: skip
    change_list_template = "admin/ingestion/document/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # documents come in through the upload view below, which validates and queues them

    def get_urls(self) -> list[URLPattern]:
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="ingestion_document_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        form = DocumentsUploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                batch = documents_upload(
                    collection=form.cleaned_data["collection"],
                    uploaded_files=form.cleaned_data["uploads"],
                    user=request.user,  # type: ignore[arg-type]
                    request=request,
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect("admin:ingestion_document_changelist")
            for reason in batch.refused:
                messages.error(request, reason)
            for duplicate in batch.duplicates:
                messages.warning(request, duplicate)
            messages.success(request, f"{batch.created} document(s) queued for processing.")
            return redirect("admin:ingestion_document_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Upload documents",
            "opts": self.model._meta,
        }
        return render(request, "admin/ingestion/document/upload.html", context)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "collection":
            kwargs["queryset"] = collection_list_uploadable(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        # A new collection moves the chunks too (their copy of the collection is what search
        # filters on); the move service does both in one transaction.
        if change and "collection" in form.changed_data:
            try:
                document_move(document=obj, collection=obj.collection, actor=request.user, request=request)
            except ApplicationError as exc:
                messages.error(request, exc.message)
                obj.collection_id = form.initial["collection"]  # refused: the document stays put
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        document_delete(document=obj, actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            document_delete(document=document, actor=request.user, request=request)


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ("document", "ordinal", "page", "collection")
    list_filter = ("collection",)
    search_fields = ("text",)
    exclude = ("embedding",)
    readonly_fields = ("document", "collection", "ordinal", "text", "heading_path", "page", "char_start", "char_end")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
