from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from core.models import TimeStampedModel


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    # Restricted text never goes to an external model endpoint.
    RESTRICTED = "restricted", "Restricted"


class Collection(TimeStampedModel):
    """A set of documents with one access rule: who may read it."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    classification = models.CharField(max_length=20, choices=Classification.choices, default=Classification.INTERNAL)
    reader_groups = models.ManyToManyField(Group, blank=True, related_name="readable_collections")
    reader_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="readable_collections")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PARSING = "parsing", "Parsing"
    CHUNKING = "chunking", "Chunking"
    EMBEDDING = "embedding", "Embedding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


def document_upload_path(instance: Document, filename: str) -> str:
    return f"documents/{instance.collection_id}/{instance.content_hash[:2]}/{instance.content_hash}/{filename}"


class Document(TimeStampedModel):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=500)
    source_name = models.CharField(max_length=1000, help_text="The original file's name or path as ingested.")
    file = models.FileField(upload_to=document_upload_path, max_length=1000)
    content_hash = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The same bytes are stored once per collection (upload twice: recognised, not duplicated).
            models.UniqueConstraint(
                fields=["collection", "content_hash"], name="document_unique_content_per_collection"
            ),
        ]

    def __str__(self) -> str:
        return self.title
