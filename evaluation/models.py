from __future__ import annotations

from django.db import models

from core.models import TimeStampedModel


class EvalRun(TimeStampedModel):
    """One run of the measurement command: its configuration, summary and per-item results,
    kept so quality can be followed over time."""

    name = models.CharField(max_length=200)
    question_set = models.CharField(max_length=500)
    provider = models.CharField(max_length=100)
    config = models.JSONField(default=dict)
    summary = models.JSONField(default=dict)
    items = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.created_at:%Y-%m-%d %H:%M})"


class ScoreMethod(models.TextChoices):
    EVIDENCE = "evidence", "Evidence verifier and embeddings (on the machine)"
    JUDGE = "judge", "A judge model as well"


class AnswerScore(models.Model):
    """The automated quality score of one live answer (issue #15: a beat job samples the
    previous day's answers). Kept when the answer is deleted (retention, erasure): the daily
    series must not change with them; the link becomes null, the answer's date stays."""

    answer = models.OneToOneField(
        "qa.Answer", null=True, blank=True, on_delete=models.SET_NULL, related_name="quality_score"
    )
    answer_created_at = models.DateTimeField(db_index=True)
    scored_at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=20, choices=ScoreMethod.choices, default=ScoreMethod.EVIDENCE)
    support = models.FloatField(help_text="Share of the answer's sentences supported by their sources.")
    relevance = models.FloatField(help_text="How well the answer addresses the question (0-1).")
    citation_precision = models.FloatField(help_text="Share of citations whose passage supports the sentence.")
    judge_faithfulness = models.FloatField(null=True, blank=True)
    judge_relevance = models.FloatField(null=True, blank=True)
    overall = models.FloatField(help_text="The combined score (0-1) charted on the dashboards.")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-answer_created_at"]

    def __str__(self) -> str:
        return f"score {self.overall:.2f} of answer {self.answer_id}"
