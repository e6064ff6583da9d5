"""Alert rules and their incidents (issue #15, point 6): the ops app's only models. The series a
rule watches are computed from the other apps' live tables (``ops.selectors.alert_series``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class AlertMetric(models.TextChoices):
    """What a rule watches, each over the rule's window ending now (ops.selectors.alert_series)."""

    ERROR_RATE = "error_rate", "Error rate: share of the window's answers that failed"
    DECLINE_RATE_JUMP = "decline_rate_jump", "Decline-rate jump: the window's decline rate minus the previous week's"
    UNSUPPORTED_SENTENCE_RATE = (
        "unsupported_sentence_rate",
        "Unsupported sentences: share of the window's checked sentences the verifier found unsupported",
    )
    QUALITY_SCORE_DROP = (
        "quality_score_drop",
        "Quality score drop: the previous week's mean automated score minus the window's",
    )
    TTFT_P95 = "ttft_p95", "Time to first words p95 of the window's model calls, in seconds"
    COST_PER_DAY_VS_BUDGET = (
        "cost_per_day_vs_budget",
        "Cost per day against the budget: the window's cost, scaled to a day, over a day's share of the "
        "monthly soft budget",
    )
    STUCK_ANSWERS = "stuck_answers", "Stuck answers: answers still pending or streaming after the window"
    FAILING_INGESTION = "failing_ingestion", "Failing ingestion: documents that failed in the window"
    TIER_FALLBACK_RATE = (
        "tier_fallback_rate",
        "Tier fallback rate: the highest share, over model tiers, of the window's answers that fell back",
    )


class AlertChannel(models.TextChoices):
    EMAIL = "email", "E-mail (ALERT_EMAILS)"
    WEBHOOK = "webhook", "Webhook (ALERT_WEBHOOK_URL, Slack-compatible)"


def _channels_default() -> list[str]:
    return [AlertChannel.EMAIL.value, AlertChannel.WEBHOOK.value]


class AlertRule(models.Model):
    """A rule fires when its metric's value over the last ``window_minutes`` is above
    ``threshold``; it clears when the value is back at or below it (or there is no data)."""

    name = models.CharField(max_length=200, unique=True)
    metric = models.CharField(max_length=40, choices=AlertMetric.choices)
    threshold = models.FloatField(help_text="Fires above this value (rates are shares, 0-1; times in seconds).")
    window_minutes = models.PositiveIntegerField(default=60)
    enabled = models.BooleanField(default=True)
    channels = models.JSONField(default=_channels_default, blank=True, help_text='Any of "email", "webhook".')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.channels, list) or set(self.channels) - set(AlertChannel.values):
            raise ValidationError({"channels": f"A list of {', '.join(AlertChannel.values)}."})
        if self.window_minutes < 1:
            raise ValidationError({"window_minutes": "At least one minute."})


class AlertIncident(models.Model):
    """One firing of a rule, from the evaluation that saw it cross its threshold to the one that
    saw it recover. ``deliveries`` records the channels each notice reached ({"open": [...],
    "clear": [...]}), so a channel that failed is retried next run without repeating the others."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    opened_at = models.DateTimeField(db_index=True)
    value = models.FloatField(help_text="The value that crossed the threshold.")
    threshold = models.FloatField(help_text="The rule's threshold then.")
    peak = models.FloatField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_value = models.FloatField(null=True, blank=True)
    notified = models.BooleanField(default=False, help_text="The opening notice reached every channel.")
    clear_notified = models.BooleanField(default=False)
    deliveries = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open incident per rule: a rule firing run after run is the same incident.
            models.UniqueConstraint(fields=["rule"], condition=Q(cleared_at__isnull=True), name="ops_one_open_incident")
        ]

    def __str__(self) -> str:
        return f"{self.rule} at {self.opened_at:%Y-%m-%d %H:%M}"
