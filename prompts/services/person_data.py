"""A person's data held by the prompt registry: proposals they wrote or decided, experiments
they started, and their name on lifecycle events and versions.

Lifecycle events and versions are append-only in the database (a trigger refuses UPDATE and
DELETE, migration 0001): erasure leaves them as they are and reports how many still carry the
person's id and name, so an operator can decide (the trigger is the registry's guarantee that
history cannot be rewritten; erasure does not get a way around it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from prompts.models import Experiment, PromptEvent, PromptProposal, PromptVersion


def _named(user: User) -> Q:
    return Q(actor_id=user.pk) | Q(actor_name=user.get_username())


def prompts_person_export(*, user: User) -> dict[str, Any]:
    proposals = PromptProposal.objects.filter(Q(author=user) | Q(reviewer=user)).order_by("created_at")
    return {
        "prompt_proposals": [
            {"id": p.pk, "prompt_id": p.prompt_id, "summary": p.summary, "rationale": p.rationale,
             "state": p.state, "role": "author" if p.author_id == user.pk else "reviewer",
             "review_note": p.review_note, "created_at": p.created_at}
            for p in proposals
        ],
        "prompt_events": [
            {"action": e.action, "prompt_id": e.prompt_id, "version": e.version, "label": e.label,
             "note": e.note, "created_at": e.created_at}
            for e in PromptEvent.objects.filter(_named(user)).order_by("created_at")
        ],
        "experiments_started": list(Experiment.objects.filter(started_by=user).values_list("name", flat=True)),
    }  # fmt: skip


@transaction.atomic
def prompts_person_erase(*, user: User) -> tuple[dict[str, int], dict[str, int]]:
    """Unlink the person from proposals (as author or reviewer) and experiments; the records
    stay, they are the team's work. Returns (changed counts, counts of append-only rows kept
    with the person's id or name: see the module docstring)."""
    changed = {
        "prompt_proposals_unlinked": PromptProposal.objects.filter(author=user).update(author=None)
        + PromptProposal.objects.filter(reviewer=user).update(reviewer=None),
        "experiments_unlinked": Experiment.objects.filter(started_by=user).update(started_by=None),
    }
    kept = {
        "prompt_events": PromptEvent.objects.filter(_named(user)).count(),
        "prompt_versions": PromptVersion.objects.filter(
            Q(author_id=user.pk) | Q(author_name=user.get_username())
        ).count(),
    }
    return changed, kept
