"""Saving the budget and routing policies (one row each, edited in the admin), audited: the
limits that decide who may still ask and the rules that decide which tier answers are
configuration an auditor asks about ("who raised the monthly limit, and when?")."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict

from core.models import AuditAction
from core.services.audit import Actor, AuditRequest, audit_record
from qa.models import BudgetPolicy, RoutingPolicy

Policy = BudgetPolicy | RoutingPolicy

_ACTION = {BudgetPolicy: AuditAction.BUDGET_POLICY_CHANGED, RoutingPolicy: AuditAction.ROUTING_POLICY_CHANGED}
_TARGET = {BudgetPolicy: "budget_policy", RoutingPolicy: "routing_policy"}


def _state(policy: Policy) -> dict[str, Any]:
    return {k: v for k, v in model_to_dict(policy).items() if k != "id"}


@transaction.atomic
def policy_save(*, policy: Policy, actor: Actor, request: AuditRequest | None = None) -> Policy:
    """Validate and save ``policy``; a change of any value is an audit event with the values
    before and after (a save that changes nothing records nothing). The cached budget policy is
    dropped by qa.receivers on save."""
    policy.full_clean()
    model = type(policy)
    current = model.objects.select_for_update().filter(pk=policy.pk).first() if policy.pk is not None else None
    before = _state(current) if current is not None else None
    policy.save()
    after = _state(policy)
    if after != before:
        audit_record(
            action=_ACTION[model], actor=actor, target_type=_TARGET[model], target_id=policy.pk,
            before=before, after=after, request=request,
        )  # fmt: skip
    return policy


@transaction.atomic
def policy_delete(*, policy: Policy, actor: Actor, request: AuditRequest | None = None) -> None:
    """Delete ``policy`` (the defaults apply again: the next read creates a fresh row). Audited."""
    model = type(policy)
    audit_record(
        action=_ACTION[model], actor=actor, target_type=_TARGET[model], target_id=policy.pk,
        before=_state(policy), after=None, detail={"deleted": True}, request=request,
    )  # fmt: skip
    policy.delete()
