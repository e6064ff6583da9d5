from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Verity core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the receivers that close a user's websockets on logout and deactivation
        # (realtime) and those that put sign-ins and their failures in the audit trail (receivers).
        from core import realtime, receivers  # noqa: F401
