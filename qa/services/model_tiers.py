"""Saving a model tier: a change of the model it calls is a new tier version (issue #16, point 2).

A tier's answers depend on exactly which model it calls, so a change of ``model``, ``provider`` or
``base_url`` is treated like a prompt change: the tier's ``version`` goes up (answers record it in
their route), the change is an audit event with the model ids before and after, and once it has
committed ``qa.signals.model_tier_changed`` is sent, which evaluation answers by running the
prompt suites against the tier. Other edits (rank, active, external, the key variable) leave the
version alone: they choose *whether* the tier is used, not what it answers.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from core.models import AuditAction
from core.services.audit import AuditRequest, audit_record
from prompts.models import EventAction
from prompts.services.registry import Actor, event_record
from providers.llm.pinning import PinVerdict, model_pin_check
from qa.models import ModelTier
from qa.signals import model_tier_changed

logger = logging.getLogger(__name__)

# The fields that decide which model answers: a change to any is a new tier version.
VERSIONED_FIELDS = ("provider", "model", "base_url")
# What the audit trail compares: every setting of a tier (whether it is used and whether text
# leaves the machine matter as much as which model), the key variable's name but never a key.
AUDITED_FIELDS = ("name", "rank", "provider", "model", "base_url", "api_key_env", "external", "active", "version")


def _identity(tier: ModelTier) -> dict[str, Any]:
    return {field: getattr(tier, field) for field in VERSIONED_FIELDS}


def _audited(tier: ModelTier) -> dict[str, Any]:
    return {field: getattr(tier, field) for field in AUDITED_FIELDS}


def model_tier_pin(*, tier: ModelTier) -> PinVerdict:
    """How exactly ``tier`` names its model (the admin shows a floating verdict as a warning)."""
    return model_pin_check(tier.model, provider=tier.provider)


@transaction.atomic
def model_tier_save(*, tier: ModelTier, actor: Actor, request: AuditRequest | None = None) -> ModelTier:
    """Validate and save ``tier`` (new or changed). Raises ``ValidationError`` for a refused model
    id (``latest``, empty) or a key variable outside the prefix. A new tier, or a change of its
    provider, model or base URL, raises its version and appends a ``tier_changed`` event with the
    identity before and after. Any change of its settings is an audit event."""
    tier.full_clean()
    before: dict[str, Any] | None = None
    audited_before: dict[str, Any] | None = None
    if tier.pk is not None:
        # The row lock serialises two admins saving the same tier: each bump reads the other's.
        current = ModelTier.objects.select_for_update().filter(pk=tier.pk).first()
        if current is not None:
            before, audited_before = _identity(current), _audited(current)
            tier.version = current.version
    after = _identity(tier)
    changed = before != after
    if changed and before is not None:
        tier.version += 1
    tier.save()
    if _audited(tier) != audited_before:
        audit_record(
            action=AuditAction.MODEL_TIER_CHANGED, actor=actor, target_type="model_tier", target_id=tier.name,
            before=audited_before, after=_audited(tier), detail={"tier_id": tier.pk}, request=request,
        )  # fmt: skip
    if changed:
        event_record(
            action=EventAction.TIER_CHANGED,
            actor=actor,
            version=tier.version,
            note=f"tier {tier.name}: {before['model'] if before else '(new)'} -> {tier.model}",
            detail={
                "tier": tier.name,
                "tier_id": tier.pk,
                "from_version": tier.version - 1 if before is not None else None,
                "before": before,
                "after": after,
                "pin": model_tier_pin(tier=tier).level.value,
            },
        )
        logger.info(
            "qa.tier_changed tier=%s version=%s model_before=%s model_after=%s",
            tier.name,
            tier.version,
            before["model"] if before else "",
            tier.model,
        )
        # After commit: the listeners (the prompt suites) must see the new model, and must not
        # run for a change that rolled back.
        payload = {"tier_name": tier.name, "version": tier.version,
                   "model_before": before["model"] if before else "", "model_after": tier.model}  # fmt: skip
        transaction.on_commit(lambda: model_tier_changed.send(sender=ModelTier, **payload))
    return tier
