from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operators' tools over the other apps: first-run setup, the usage page, the cost
    projection, the dashboards and the alerts (its only models: alert rules and incidents).
    It sits above core, ingestion, qa and evaluation, so none of them imports it."""

    name = "ops"
    verbose_name = "Operations"
