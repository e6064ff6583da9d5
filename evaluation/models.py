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
