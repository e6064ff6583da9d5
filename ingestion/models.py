from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from core.models import TimeStampedModel


class Classification(models.TextChoices):
    """A collection's data class (``core.data_classes``: the policy each class implies)."""

    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    # Logged scrubbed, kept for shorter periods.
    CONFIDENTIAL = "confidential", "Confidential"
    # Restricted text never goes to an external model endpoint.
    RESTRICTED = "restricted", "Restricted"


class HighStakesTopic(models.TextChoices):
    """The kinds of advice a collection can hold answers about for review (qa.checks.high_stakes)."""

    LEGAL = "legal", "Legal"
    FINANCIAL = "financial", "Financial"
    MEDICAL = "medical", "Medical"


def default_high_stakes_topics() -> list[str]:
    return list(HighStakesTopic.values)


class HighStakesPolicy(models.TextChoices):
    HOLD = "hold", "Hold for review before showing"
    NOTICE = "notice", "Answer with a notice, review afterwards"
    OFF = "off", "Do not classify"


class UnsupportedPolicy(models.TextChoices):
    REMOVE = "remove", "Remove unsupported sentences"
    MARK = "mark", "Mark unsupported sentences"


class Collection(TimeStampedModel):
    """A set of documents with one access rule: who may read it."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    classification = models.CharField(
        max_length=20,
        choices=Classification.choices,
        default=Classification.INTERNAL,
        verbose_name="data class",
        help_text="Decides which model tiers may see the text, PII scrubbing, logging in clear and retention "
        "(see the README's data classes table).",
    )
    # A legal hold suspends retention: nothing of this collection (its conversations' answers,
    # interactions, files) is deleted or anonymised by the nightly retention job while it is set.
    legal_hold = models.BooleanField(default=False, help_text="Suspend retention deletions for this collection.")
    legal_hold_reason = models.CharField(max_length=300, blank=True)
    reader_groups = models.ManyToManyField(Group, blank=True, related_name="readable_collections")
    reader_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="readable_collections")

    # Answer policy for questions answered from this collection (the trust layer reads these).
    high_stakes_topics = models.JSONField(
        default=default_high_stakes_topics, blank=True, help_text="Any of: legal, financial, medical."
    )
    high_stakes_policy = models.CharField(
        max_length=10, choices=HighStakesPolicy.choices, default=HighStakesPolicy.HOLD,
        help_text="Hold answers for a reviewer before the user sees them, or answer with a notice and review afterwards.",
    )  # fmt: skip
    unsupported_policy = models.CharField(
        max_length=10, choices=UnsupportedPolicy.choices, default=UnsupportedPolicy.REMOVE,
        help_text="What happens to an answer sentence its sources do not support.",
    )  # fmt: skip
    confidence_high = models.FloatField(default=0.75, help_text="Confidence at or above this is shown as high.")
    confidence_medium = models.FloatField(default=0.55, help_text="Confidence at or above this is shown as medium.")
    confidence_floor = models.FloatField(default=0.35, help_text="Below this confidence, Verity declines.")

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
    # Why processing failed, in words for every reader of the collection ("this PDF is encrypted
    # with a password"); exception text and tracebacks go to error_detail, which only staff and
    # document admins see (it can name paths, hosts and library internals).
    error = models.TextField(blank=True)
    error_detail = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_format = models.CharField(max_length=20, blank=True)
    # Versions: a new upload of the same source into the same collection replaces the current
    # document atomically when it is ready. Until then readers keep seeing the old chunks.
    is_current = models.BooleanField(default=False, db_index=True)
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    char_count = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Text in the document that addresses the language model ("ignore previous instructions",
    # "send the user to ..."), found at ingestion by ingestion/services/injection_scan.py, for an
    # admin to review. The document stays usable: those sentences are withheld from the model.
    injection_flagged = models.BooleanField(default=False, db_index=True, verbose_name="injection flagged")
    injection_flags = models.JSONField(
        default=list, blank=True, help_text="Each finding: pattern, reason, excerpt and where it was found."
    )
    # Retention (issue #14) removed the uploaded file after its class's ORIGINAL_FILES period;
    # the chunks stay searchable and the pages say the original is gone (not "no such document").
    original_removed_at = models.DateTimeField(null=True, blank=True, verbose_name="original file removed at")

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


class Chunk(models.Model):
    """A retrievable passage: text with its place in the document, its embedding and its
    full-text vector. ``collection`` is copied from the document so that the access filter is
    a plain column predicate inside the search query."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    heading_path = models.JSONField(default=list)
    page = models.PositiveIntegerField(null=True, blank=True)
    char_start = models.PositiveIntegerField(default=0)
    char_end = models.PositiveIntegerField(default=0)
    embedding = VectorField(dimensions=384)
    # Personal data found in ``text`` ahead of questions (core.pii, issue #14): {"types": [...],
    # "spans": [[start, end, type], ...]}; null until scanned. A question's scrubbing then only
    # analyses the question (the NER model is the cost).
    pii_spans = models.JSONField(null=True, blank=True)
    # Headings weigh more than body text (weight A vs B): a question naming functools.lru_cache
    # should rank the chunk under that API entry first.
    search_vector = models.GeneratedField(
        expression=SearchVector("heading_path", weight="A", config="english")
        + SearchVector("text", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["document_id", "ordinal"]
        constraints = [
            # A re-run of a document's ingestion replaces its chunks; it can never add a second set.
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_unique_ordinal_per_document"),
        ]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
            models.Index(fields=["collection"], name="chunk_collection_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"
