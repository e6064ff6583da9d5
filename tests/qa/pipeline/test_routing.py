"""Routing never uses a tier whose model id is refused, and records the tier version it used."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from qa.models import ModelTier, RoutingPolicy, TierProvider
from qa.pipeline.routing import QuestionKind, route_choose, tiers_configured
from qa.services.budgets import BudgetLevel

pytestmark = pytest.mark.django_db

FEATURES = {"words": 30, "kind": QuestionKind.EXPLANATION, "parts": 1, "best_similarity": 0.9, "turns": 0}


def test_a_tier_with_a_latest_model_is_never_routed_to(caplog: pytest.LogCaptureFixture) -> None:
    # objects.create skips validation, as a data migration or a shell would.
    ModelTier.objects.create(name="small", rank=1, provider=TierProvider.OPENAI_COMPATIBLE, model="gpt-4o-latest")
    with caplog.at_level(logging.ERROR, logger="qa.pipeline.routing"):
        names = [t.name for t in tiers_configured()]
    assert names == ["extractive"]
    assert "routing.tier_refused tier=small" in caplog.text and "latest" in caplog.text


@override_settings(LLM_TIERS=[{"name": "small", "model": "latest"}], OPENAI_BASE_URL="", OPENAI_MODEL="")
def test_a_refused_settings_tier_is_dropped_too() -> None:
    assert [t.name for t in tiers_configured()] == ["extractive"]


def test_a_floating_tier_is_still_routed_to() -> None:
    ModelTier.objects.create(name="small", rank=1, provider=TierProvider.OPENAI_COMPATIBLE, model="gpt-4o-mini")
    assert [t.name for t in tiers_configured()] == ["extractive", "small"]


def test_the_route_records_the_tier_version() -> None:
    ModelTier.objects.create(
        name="small", rank=1, provider=TierProvider.OPENAI_COMPATIBLE, model="gpt-4o-mini-2024-07-18", version=3
    )
    policy = RoutingPolicy(lookup_tier="small", explanation_tier="small", complex_tier="small")
    route = route_choose(features=FEATURES, restricted=False, budget_level=BudgetLevel.OK, policy=policy)
    assert route.as_dict()["tier"] == "small"
    assert route.as_dict()["tier_version"] == 3
