"""Submitting a prompt proposal from the browser: recorded by prompts, tested by evaluation's
Celery task. Here, above both, because the task lives in evaluation and the record in prompts."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from evaluation.tasks import proposal_evaluate_task
from prompts.models import PromptProposal
from prompts.services.proposals import proposal_create


@transaction.atomic
def proposal_submit(
    *, prompt_id: str, messages: list[dict[str, str]], summary: str, rationale: str = "", author: User
) -> PromptProposal:
    """Record an editor's proposal (``proposal_create``: validated, audited) and start its tests
    once the transaction commits (the worker must find the row)."""
    proposal = proposal_create(prompt_id=prompt_id, messages=messages, summary=summary, rationale=rationale,
                               author=author)  # fmt: skip
    proposal_id = proposal.pk
    transaction.on_commit(lambda: proposal_evaluate_task.delay(proposal_id))
    return proposal
