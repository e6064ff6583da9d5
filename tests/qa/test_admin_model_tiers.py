"""The Model tiers admin: a refused model id is a form error, a floating one saves with a
warning, and a saved change goes through model_tier_save (a new version and an audit event)."""

from __future__ import annotations

import pytest

from prompts.models import EventAction, PromptEvent
from qa.models import ModelTier
from tests.factories import user_create

pytestmark = pytest.mark.django_db


def _form(model: str) -> dict[str, str]:
    return {"name": "small", "rank": "1", "provider": "openai_compatible", "model": model,
            "base_url": "http://127.0.0.1:9/v1", "api_key_env": "", "external": "on", "active": "on"}  # fmt: skip


@pytest.fixture
def admin_client(client):
    client.force_login(user_create(username="ops", superuser=True))
    return client


def test_a_latest_model_is_refused_with_the_reason(admin_client) -> None:
    response = admin_client.post("/admin/qa/modeltier/add/", _form("claude-3-5-sonnet-latest"))
    assert response.status_code == 200  # the form again, with the error
    assert "without any change in Verity" in response.content.decode()
    assert not ModelTier.objects.exists()


def test_a_floating_alias_saves_with_a_warning(admin_client) -> None:
    response = admin_client.post("/admin/qa/modeltier/add/", _form("gpt-4o-mini"), follow=True)
    assert response.status_code == 200
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1 and "floating alias" in warnings[0] and "gpt-4o-2024-08-06" in warnings[0]
    assert ModelTier.objects.get(name="small").model == "gpt-4o-mini"


def test_changing_the_model_in_the_admin_is_a_new_tier_version(admin_client) -> None:
    admin_client.post("/admin/qa/modeltier/add/", _form("gpt-4o-mini-2024-07-18"))
    tier = ModelTier.objects.get(name="small")
    response = admin_client.post(
        f"/admin/qa/modeltier/{tier.pk}/change/", _form("gpt-4.1-mini-2025-04-14"), follow=True
    )
    assert response.status_code == 200
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]
    tier.refresh_from_db()
    assert (tier.model, tier.version) == ("gpt-4.1-mini-2025-04-14", 2)
    event = PromptEvent.objects.filter(action=EventAction.TIER_CHANGED).order_by("-pk").first()
    assert event is not None and event.actor_name == "ops"
    assert (event.detail["before"]["model"], event.detail["after"]["model"]) == (
        "gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14",
    )  # fmt: skip
