from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _library_sync(sender: AppConfig, **kwargs: Any) -> None:
    from prompts.services.registry import library_sync

    report = library_sync()
    if report.loaded and kwargs.get("verbosity", 1) >= 1:
        print(f"  Prompt library: loaded {', '.join(report.loaded)}")  # noqa: T201 - migrate's own output


def _groups_ensure(sender: AppConfig, **kwargs: Any) -> None:
    from prompts.services.proposals import prompt_groups_ensure

    prompt_groups_ensure()


class PromptsConfig(AppConfig):
    """Prompts as versioned code: the library's files loaded into an immutable registry on
    migrate, labels (deployment and rollback), proposals reviewed before they go live, and A/B
    experiments. Below qa (which asks it for the prompt to send), above core."""

    name = "prompts"
    verbose_name = "Prompts"

    def ready(self) -> None:
        post_migrate.connect(_library_sync, sender=self, dispatch_uid="prompts.library_sync")
        post_migrate.connect(_groups_ensure, sender=self, dispatch_uid="prompts.groups_ensure")
