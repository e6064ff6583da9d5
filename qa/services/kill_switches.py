"""Kill switches: what an operator turns off in an incident, for the next answer, everywhere.

- ``external_models``: nothing leaves the machine (a provider leak, a data-handling doubt):
  external tiers are dropped from routing and an external judge gives way to the on-machine
  evidence verifier.
- ``model_answers``: no language model answers (a model writing harmful or wrong text): the
  built-in extractive answerer, which only quotes the documents, answers instead.
- ``answer_cache``: no cached, curated or precomputed answer is served or stored (the cache
  answered a different question).
- ``precompute``: the off-peak job that fills the cache does nothing.

The state is a row per switch (no row: off), read once per answer (one small query), so a switch
flipped in the admin, on the ops page or with ``manage.py kill_switch`` takes effect in every web
and worker process at their next answer, without a restart. Every change is an audit event."""

from __future__ import annotations

from django.db import transaction

from core.models import AuditAction
from core.services.audit import Actor, AuditRequest, actor_identity, audit_record
from qa.models import KillSwitch, KillSwitchName


def kill_switches_active() -> frozenset[KillSwitchName]:
    """The switches that are on now."""
    return frozenset(
        KillSwitchName(name) for name in KillSwitch.objects.filter(active=True).values_list("name", flat=True)
    )


def kill_switch_states() -> list[tuple[KillSwitchName, KillSwitch | None]]:
    """Every switch with its row (None: never turned on), in a stable order (pages, command)."""
    rows = {row.name: row for row in KillSwitch.objects.all()}
    return [(name, rows.get(name.value)) for name in KillSwitchName]


@transaction.atomic
def kill_switch_set(
    *, name: KillSwitchName | str, active: bool, reason: str, actor: Actor, request: AuditRequest | None = None
) -> KillSwitch:
    """Turn a switch on or off, with the reason (required to turn it on: the incident), audited."""
    switch_name = KillSwitchName(name)
    reason = reason.strip()[:300]
    if active and not reason:
        raise ValueError("Say why the switch is turned on (the incident): it is kept in the audit trail.")
    row, _ = KillSwitch.objects.select_for_update().get_or_create(name=switch_name)
    before = {"active": row.active, "reason": row.reason}
    row.active, row.reason = active, reason
    row.changed_by_name = actor_identity(actor)[1]
    row.save()
    audit_record(
        action=AuditAction.KILL_SWITCH_CHANGED, actor=actor, target_type="kill_switch", target_id=switch_name.value,
        before=before, after={"active": active, "reason": reason}, request=request,
    )  # fmt: skip
    return row
