from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "qa"
    verbose_name = "Questions and answers"

    def ready(self) -> None:
        from django.core import checks

        from qa import receivers  # noqa: F401 - connects the signal receivers
        from qa.system_checks import model_ids_pinned_check

        checks.register(model_ids_pinned_check)
