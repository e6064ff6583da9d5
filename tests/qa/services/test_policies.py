"""Budget and routing policy edits and model tier changes in the audit trail (through the admin,
which saves with policy_save and model_tier_save), with the values before and after."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from core.models import AuditAction, AuditEvent
from qa.models import BudgetPolicy, ModelTier, RoutingPolicy
from qa.services.budgets import budget_policy, budget_policy_forget
from tests.factories import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(user_create(username="ops", superuser=True))
    return client


def _form(policy: BudgetPolicy | RoutingPolicy, **changes: object) -> dict[str, object]:
    return {**{k: v for k, v in model_to_dict(policy).items() if k != "id"}, **changes}


def test_a_budget_policy_edit_is_recorded_with_before_and_after(admin_client) -> None:
    policy = BudgetPolicy.objects.create()
    url = f"/admin/qa/budgetpolicy/{policy.pk}/change/"
    assert admin_client.post(url, _form(policy), REMOTE_ADDR="192.0.2.10").status_code == 302
    assert not AuditEvent.objects.filter(action=AuditAction.BUDGET_POLICY_CHANGED).exists()  # nothing changed

    response = admin_client.post(url, _form(policy, monthly_cost_hard="900"), REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 302
    [event] = AuditEvent.objects.filter(action=AuditAction.BUDGET_POLICY_CHANGED)
    assert (event.actor_name, event.ip, event.target_type) == ("ops", "192.0.2.10", "budget_policy")
    assert event.before is not None and event.after is not None
    assert (Decimal(event.before["monthly_cost_hard"]), Decimal(event.after["monthly_cost_hard"])) == (500, 900)
    budget_policy_forget()
    assert budget_policy().monthly_cost_hard == 900

    assert admin_client.post(f"/admin/qa/budgetpolicy/{policy.pk}/delete/", {"post": "yes"}).status_code == 302
    deleted = AuditEvent.objects.filter(action=AuditAction.BUDGET_POLICY_CHANGED).order_by("-seq").first()
    assert deleted is not None and deleted.after is None and deleted.detail == {"deleted": True}
    assert not BudgetPolicy.objects.filter(pk=policy.pk).exists()


def test_a_routing_policy_edit_is_recorded(admin_client) -> None:
    policy = RoutingPolicy.objects.create()
    response = admin_client.post(f"/admin/qa/routingpolicy/{policy.pk}/change/", _form(policy, complex_tier="small"))
    assert response.status_code == 302
    [event] = AuditEvent.objects.filter(action=AuditAction.ROUTING_POLICY_CHANGED)
    assert event.before is not None and event.after is not None
    assert (event.before["complex_tier"], event.after["complex_tier"]) == ("large", "small")


def _tier_form(**changes: str) -> dict[str, str]:
    form = {"name": "small", "rank": "1", "provider": "openai_compatible", "model": "gpt-4o-mini-2024-07-18",
            "base_url": "http://127.0.0.1:9/v1", "api_key_env": "", "external": "on", "active": "on"}  # fmt: skip
    return {**form, **changes}


def test_model_tier_changes_are_recorded_including_those_that_keep_the_version(admin_client) -> None:
    admin_client.post("/admin/qa/modeltier/add/", _tier_form(), REMOTE_ADDR="192.0.2.11")
    tier = ModelTier.objects.get(name="small")
    [created] = AuditEvent.objects.filter(action=AuditAction.MODEL_TIER_CHANGED)
    assert created.before is None and created.after is not None and created.after["model"] == "gpt-4o-mini-2024-07-18"
    assert (created.ip, created.target_id) == ("192.0.2.11", "small")

    # Turning off "external" changes no model (no new version) but is what decides whether text
    # leaves the machine: recorded.
    form = _tier_form()
    del form["external"]
    admin_client.post(f"/admin/qa/modeltier/{tier.pk}/change/", form)
    changed = AuditEvent.objects.filter(action=AuditAction.MODEL_TIER_CHANGED).order_by("-seq").first()
    assert changed is not None and changed.before is not None and changed.after is not None
    assert (changed.before["external"], changed.after["external"]) == (True, False)
    assert changed.after["version"] == 1

    admin_client.post(f"/admin/qa/modeltier/{tier.pk}/change/", form)  # no change, no event
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_TIER_CHANGED).count() == 2
