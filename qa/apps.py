from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "qa"
    verbose_name = "Questions and answers"

    def ready(self) -> None:
        from qa import receivers  # noqa: F401 - connects the signal receivers
