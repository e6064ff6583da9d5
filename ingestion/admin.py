from django.contrib import admin

from ingestion.models import Collection, Document


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ("name", "classification", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("reader_groups", "reader_users")


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "collection", "status", "progress", "size_bytes", "created_at")
    list_filter = ("status", "collection")
    search_fields = ("title", "source_name", "content_hash")
    readonly_fields = ("content_hash", "size_bytes", "status", "progress", "error", "uploaded_by")
