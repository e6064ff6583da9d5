from __future__ import annotations

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel


class Conversation(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class AnswerStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    STREAMING = "streaming", "Streaming"
    ANSWERED = "answered", "Answered"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Failed"


class Answer(TimeStampedModel):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="answers")
    question = models.TextField()
    standalone_question = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=AnswerStatus.choices, default=AnswerStatus.PENDING)
    text = models.TextField(blank=True)
    decline_reason = models.TextField(blank=True)
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=200, blank=True)
    fallback_used = models.BooleanField(default=False)
    searched = models.JSONField(default=dict, blank=True)  # what was searched, for declines
    timings_ms = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.question[:80]


class Citation(models.Model):
    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="citations")
    n = models.PositiveSmallIntegerField()
    # Plain ids, not foreign keys: an answer keeps its citations after a document changes, and
    # every read of them goes back through ingestion's access-controlled selectors.
    chunk_id = models.BigIntegerField()
    document_id = models.BigIntegerField()
    title = models.CharField(max_length=500)
    source_name = models.CharField(max_length=1000)
    section = models.CharField(max_length=1000, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    quote = models.TextField()

    class Meta:
        ordering = ["answer_id", "n"]
        constraints = [models.UniqueConstraint(fields=["answer", "n"], name="citation_unique_n_per_answer")]

    def __str__(self) -> str:
        return f"[{self.n}] {self.title}"


class Interaction(TimeStampedModel):
    """One model call through the gateway: exactly what was sent and received."""

    answer = models.ForeignKey(Answer, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions")
    provider = models.CharField(max_length=50)
    model = models.CharField(max_length=200)
    prompt = models.JSONField()
    response = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    first_token_ms = models.FloatField(null=True, blank=True)
    total_ms = models.FloatField(default=0)
    outcome = models.CharField(max_length=20, default="ok")  # ok, declined, error
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.provider}:{self.model} {self.outcome}"
