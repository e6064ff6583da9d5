"""evaluation listens to qa: a model tier that starts calling another model goes through the
prompt suites, as a prompt change does (issue #16, point 2)."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from qa.signals import model_tier_changed

logger = logging.getLogger(__name__)


@receiver(model_tier_changed, dispatch_uid="evaluation.tier_suites")
def on_model_tier_changed(sender: Any, tier_name: str, version: int, **kwargs: Any) -> None:
    from evaluation.tasks import tier_suites_run_task

    try:
        tier_suites_run_task.delay(tier_name, version)
    except Exception:  # noqa: BLE001 - the change has committed; a lost queueing must not fail the admin's save
        # The change itself is recorded (the tier_changed event); the suites can be run by hand.
        logger.exception(
            "evaluation.tier_suites_not_queued tier=%s version=%s (run: manage.py prompt_test --all --provider tier:%s)",
            tier_name, version, tier_name,
        )  # fmt: skip
