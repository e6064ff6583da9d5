"""Prompt changes in the audit trail: a version created from a proposal, the proposal's approval
or rejection, and every label move (browser, rollback, command line), with actor and address."""

from __future__ import annotations

import pytest
from django.test import Client

from core.errors import ApplicationError
from core.models import AuditAction, AuditEvent
from core.roles import PROMPT_REVIEWERS
from core.services.audit import audit_verify
from prompts.models import PromptProposal
from prompts.services.proposals import label_move_operator
from tests.factories import PASSWORD, user_create
from tests.ops.test_prompt_pages import tested  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _reviewer() -> tuple[Client, int]:
    user = user_create(username="rev", groups=(PROMPT_REVIEWERS,))
    client = Client(REMOTE_ADDR="192.0.2.50")
    assert client.login(username="rev", password=PASSWORD)
    return client, user.pk


def test_approving_a_proposal_and_moving_the_label_are_recorded(tested: PromptProposal) -> None:  # noqa: F811
    reviewer, reviewer_id = _reviewer()
    reviewer.post(f"/ops/prompts/proposals/{tested.pk}/decide/", {"action": "approve", "note": "ok"})
    [created] = _events(AuditAction.PROMPT_VERSION_CREATED)
    assert (created.actor_name, created.target_type, created.target_id) == ("ed", "prompt_version", "answer-v3")
    assert created.after is not None and created.after["base_version"] == 2 and created.detail["reviewer"] == "rev"
    [approved] = _events(AuditAction.PROMPT_PROPOSAL_APPROVED)
    assert (approved.actor_id, approved.ip, approved.target_id) == (reviewer_id, "192.0.2.50", str(tested.pk))
    assert approved.after == {"state": "approved", "version": "answer-v3"}

    reviewer.post("/ops/prompts/answer/labels/", {"action": "move", "label": "production", "version": "3",
                                                  "note": "ship it"})  # fmt: skip
    reviewer.post("/ops/prompts/answer/labels/", {"action": "rollback", "label": "production"})
    moves = _events(AuditAction.PROMPT_LABEL_MOVED)
    assert [(m.before, m.after) for m in moves] == [({"version": 2}, {"version": 3}), ({"version": 3}, {"version": 2})]
    assert {(m.actor_id, m.ip, m.target_id) for m in moves} == {(reviewer_id, "192.0.2.50", "answer:production")}
    assert moves[0].detail["note"] == "ship it"
    assert audit_verify().ok


def test_a_rejection_and_a_move_from_the_command_line_are_recorded(tested: PromptProposal) -> None:  # noqa: F811
    reviewer, reviewer_id = _reviewer()
    reviewer.post(f"/ops/prompts/proposals/{tested.pk}/decide/", {"action": "reject", "note": "too chatty"})
    [rejected] = _events(AuditAction.PROMPT_PROPOSAL_REJECTED)
    assert (rejected.actor_id, rejected.ip) == (reviewer_id, "192.0.2.50")
    assert rejected.before == {"state": "tested"} and rejected.after == {"state": "rejected"}
    assert rejected.detail["note"] == "too chatty"
    assert _events(AuditAction.PROMPT_VERSION_CREATED) == []

    label_move_operator(operator="deploy", prompt_id="answer", label="staging", version=2)
    [moved] = _events(AuditAction.PROMPT_LABEL_MOVED)
    assert (moved.actor_id, moved.actor_name, moved.ip) == (None, "cli:deploy", "")
    assert (moved.before, moved.after) == ({"version": None}, {"version": 2})


def test_a_refused_move_leaves_no_event() -> None:
    with pytest.raises(ApplicationError, match="already points at version 2"):
        label_move_operator(operator="deploy", prompt_id="answer", label="production", version=2)
    assert _events(AuditAction.PROMPT_LABEL_MOVED) == []
