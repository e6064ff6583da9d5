"""A change of the model a tier calls is a new tier version with an audit event (issue #16)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from evaluation.receivers import on_model_tier_changed
from prompts.models import EventAction, PromptEvent
from qa.models import ModelTier, TierProvider
from qa.services.model_tiers import model_tier_save
from qa.signals import model_tier_changed
from tests.factories import user_create

pytestmark = pytest.mark.django_db

SUITES_RECEIVER = "evaluation.tier_suites"


def _tier(**fields: object) -> ModelTier:
    values: dict[str, object] = {"name": "small", "rank": 1, "provider": TierProvider.OPENAI_COMPATIBLE,
                                 "model": "gpt-4o-mini-2024-07-18", "base_url": "http://127.0.0.1:9/v1"}  # fmt: skip
    return ModelTier(**{**values, **fields})


def _tier_events() -> list[PromptEvent]:
    return list(PromptEvent.objects.filter(action=EventAction.TIER_CHANGED).order_by("pk"))


def test_changing_the_model_is_a_new_version_with_the_ids_before_and_after() -> None:
    admin = user_create(username="ops", superuser=True)
    tier = model_tier_save(tier=_tier(), actor=admin)
    assert tier.version == 1

    tier.model = "gpt-4.1-mini-2025-04-14"
    tier = model_tier_save(tier=tier, actor=admin)

    assert ModelTier.objects.get(pk=tier.pk).version == 2
    created, changed = _tier_events()
    assert created.detail["before"] is None and created.detail["after"]["model"] == "gpt-4o-mini-2024-07-18"
    assert changed.version == 2 and changed.detail["from_version"] == 1
    assert changed.detail["before"]["model"] == "gpt-4o-mini-2024-07-18"
    assert changed.detail["after"]["model"] == "gpt-4.1-mini-2025-04-14"
    assert (changed.actor_id, changed.actor_name) == (admin.pk, "ops")


def test_a_new_base_url_or_provider_is_a_new_version_too() -> None:
    tier = model_tier_save(tier=_tier(), actor=None)
    tier.base_url = "http://127.0.0.1:10/v1"
    assert model_tier_save(tier=tier, actor=None).version == 2
    tier.provider = TierProvider.LLAMA_CPP
    tier.model = "/models/llama-3.1-8b-instruct-q4_k_m.gguf"
    assert model_tier_save(tier=tier, actor=None).version == 3
    assert len(_tier_events()) == 3


def test_rank_and_active_changes_keep_the_version_and_write_no_event() -> None:
    tier = model_tier_save(tier=_tier(), actor=None)
    tier.rank, tier.active = 2, False
    tier = model_tier_save(tier=tier, actor=None)
    assert tier.version == 1
    assert len(_tier_events()) == 1  # the creation only


def test_a_refused_model_is_not_saved_and_leaves_no_event() -> None:
    tier = model_tier_save(tier=_tier(), actor=None)
    tier.model = "gpt-4o-latest"
    with pytest.raises(ValidationError) as error:
        model_tier_save(tier=tier, actor=None)
    assert "model" in error.value.message_dict
    stored = ModelTier.objects.get(pk=tier.pk)
    assert (stored.model, stored.version) == ("gpt-4o-mini-2024-07-18", 1)
    assert len(_tier_events()) == 1


def test_the_change_is_announced_after_commit_for_the_suites(django_capture_on_commit_callbacks) -> None:
    sent: list[dict[str, object]] = []

    def on_changed(sender: object, **kwargs: object) -> None:
        sent.append({k: v for k, v in kwargs.items() if k != "signal"})

    # Only this test's receiver: evaluation's queues the suites as a Celery task
    # (tests/evaluation/test_tier_suites.py follows that path).
    model_tier_changed.disconnect(dispatch_uid=SUITES_RECEIVER)
    model_tier_changed.connect(on_changed)
    try:
        tier = model_tier_save(tier=_tier(), actor=None)
        tier.model = "gpt-4.1-mini-2025-04-14"
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            model_tier_save(tier=tier, actor=None)
        assert sent == [], "nothing is announced before the change commits"
        for callback in callbacks:
            callback()
        tier.rank = 5
        with django_capture_on_commit_callbacks(execute=True):
            model_tier_save(tier=tier, actor=None)  # not a model change: no announcement
    finally:
        model_tier_changed.disconnect(on_changed)
        model_tier_changed.connect(on_model_tier_changed, dispatch_uid=SUITES_RECEIVER)
    assert sent == [{"tier_name": "small", "version": 2, "model_before": "gpt-4o-mini-2024-07-18",
                     "model_after": "gpt-4.1-mini-2025-04-14"}]  # fmt: skip
