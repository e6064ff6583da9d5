"""The default alert rules (issue #15, point 6): one per metric, thresholds an operator edits in
the admin. Each number is a starting point chosen by hand, not measured on a production system."""

from django.db import migrations

DEFAULT_RULES = [
    # (name, metric, threshold, window minutes)
    ("Answers failing", "error_rate", 0.05, 15),  # 1 answer in 20 failing for a quarter of an hour
    ("Declines jumped", "decline_rate_jump", 0.2, 60),  # 20 points above last week's decline rate
    ("Unsupported sentences", "unsupported_sentence_rate", 0.25, 60),  # a quarter of claims unsupported
    ("Quality score dropped", "quality_score_drop", 0.1, 1440),  # a day's scores 0.1 below last week's
    ("Slow first words", "ttft_p95", 8.0, 15),  # p95 time to first words above 8 s
    ("Spending over budget", "cost_per_day_vs_budget", 1.0, 1440),  # a day costing more than 1/30 of the month
    ("Stuck answers", "stuck_answers", 0, 10),  # any answer still running after 10 minutes
    ("Ingestion failing", "failing_ingestion", 2, 60),  # three or more documents failed in an hour
    ("Model tier falling back", "tier_fallback_rate", 0.2, 60),  # a tier's fallback share above 20%
]


def create(apps, schema_editor):
    AlertRule = apps.get_model("ops", "AlertRule")
    for name, metric, threshold, window in DEFAULT_RULES:
        AlertRule.objects.get_or_create(
            name=name,
            defaults={"metric": metric, "threshold": threshold, "window_minutes": window, "enabled": True,
                      "channels": ["email", "webhook"]},
        )  # fmt: skip


def remove(apps, schema_editor):
    AlertRule = apps.get_model("ops", "AlertRule")
    AlertRule.objects.filter(name__in=[name for name, *_ in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("ops", "0001_alert_rules")]
    operations = [migrations.RunPython(create, remove)]
