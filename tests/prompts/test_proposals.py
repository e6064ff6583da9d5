"""Proposals and the review gate: an editor proposes, someone else approves, only reviewers move
labels and only to approved versions; every step leaves an event."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from core.errors import ApplicationError
from core.roles import PROMPT_EDITORS, PROMPT_REVIEWERS
from prompts.models import (
    EventAction,
    ImmutableRecord,
    PromptEvent,
    PromptLabel,
    PromptProposal,
    PromptVersion,
    ProposalState,
    VersionSource,
)
from prompts.services.proposals import (
    DRAFT_VERSION,
    label_move_checked,
    label_move_operator,
    label_rollback_checked,
    proposal_approve,
    proposal_create,
    proposal_fail,
    proposal_reject,
    proposal_results_record,
    proposal_template,
)
from prompts.services.registry import prompt_current
from tests.factories import user_create

pytestmark = pytest.mark.django_db

ADDED = " Answer in the reader's language."


def _production_messages(prompt_id: str = "answer") -> list[dict[str, str]]:
    row = PromptLabel.objects.select_related("version").get(prompt_id=prompt_id, name="production").version
    return [dict(m) for m in row.messages]


def _changed(prompt_id: str = "answer") -> list[dict[str, str]]:
    messages = _production_messages(prompt_id)
    messages[0]["template"] += ADDED
    return messages


@pytest.fixture
def people() -> dict[str, Any]:
    return {
        "editor": user_create(username="ed", groups=(PROMPT_EDITORS,)),
        "reviewer": user_create(username="rev", groups=(PROMPT_REVIEWERS,)),
        "both": user_create(username="both", groups=(PROMPT_EDITORS, PROMPT_REVIEWERS)),
        "reader": user_create(username="reader"),
    }


def _tested(editor: Any, ok: bool = True) -> PromptProposal:
    proposal = proposal_create(prompt_id="answer", messages=_changed(), summary="Reply in kind", author=editor)
    return proposal_results_record(
        proposal_id=proposal.pk, results={"suite": {"ok": ok}}, baseline_results={"suite": {"ok": True}}, ok=ok
    )


def test_the_migration_creates_the_groups_with_their_permissions() -> None:
    editors = Group.objects.get(name=PROMPT_EDITORS)
    reviewers = Group.objects.get(name=PROMPT_REVIEWERS)
    assert list(editors.permissions.values_list("codename", flat=True)) == ["propose_prompt"]
    assert list(reviewers.permissions.values_list("codename", flat=True)) == ["review_prompt"]


def test_a_proposal_is_recorded_as_testing_with_an_event(people: dict[str, Any]) -> None:
    proposal = proposal_create(
        prompt_id="answer", messages=_changed(), summary="  Reply   in kind ", rationale="Readers ask in Dutch.",
        author=people["editor"],
    )  # fmt: skip
    assert proposal.state == ProposalState.TESTING
    assert proposal.summary == "Reply in kind"
    assert proposal.base_version == PromptVersion.objects.get(prompt_id="answer", version=2)
    event = PromptEvent.objects.get(action=EventAction.PROPOSAL_SUBMITTED)
    assert (event.actor_name, event.detail["proposal"], event.version) == ("ed", proposal.pk, 2)
    draft = proposal_template(proposal=proposal)
    assert draft.version == DRAFT_VERSION and draft.key == "answer-v0"
    assert draft.template_of("system").endswith(ADDED)
    assert draft.fallback_key == "answer_strict-v1"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda m: m[1].update(template="Question: ${question}"), "${passages} is used by no message"),
        (lambda m: m[0].update(template=m[0]["template"] + " ${reader}"), "unknown variable ${reader}"),
        (lambda m: m[0].update(template="Costs $5"), "a lone '$'"),
        (lambda m: m[0].update(template="   "), "the template is empty"),
    ],
)
def test_a_broken_template_is_refused_at_submit(people: dict[str, Any], edit: Any, problem: str) -> None:
    messages = _production_messages()
    edit(messages)
    with pytest.raises(ApplicationError) as refused:
        proposal_create(prompt_id="answer", messages=messages, summary="Broken", author=people["editor"])
    assert problem in refused.value.message
    assert not PromptProposal.objects.exists()
    assert not PromptEvent.objects.filter(action=EventAction.PROPOSAL_SUBMITTED).exists()


def test_wording_entries_must_stay_the_same(people: dict[str, Any]) -> None:
    messages = _production_messages("wording")
    dropped = messages[1:]
    with pytest.raises(ApplicationError, match="the entries must stay exactly"):
        proposal_create(prompt_id="wording", messages=dropped, summary="Fewer entries", author=people["editor"])
    messages[0]["template"] = "The documents do not say."
    assert proposal_create(prompt_id="wording", messages=messages, summary="Shorter", author=people["editor"]).pk


def test_only_editors_propose_and_an_unchanged_prompt_is_no_proposal(people: dict[str, Any]) -> None:
    with pytest.raises(ApplicationError, match="may not propose"):
        proposal_create(prompt_id="answer", messages=_changed(), summary="x", author=people["reader"])
    with pytest.raises(ApplicationError, match="changes nothing"):
        proposal_create(prompt_id="answer", messages=_production_messages(), summary="x", author=people["editor"])


def test_results_are_recorded_once_and_a_failing_suite_fails_the_proposal(people: dict[str, Any]) -> None:
    failed = _tested(people["editor"], ok=False)
    assert failed.state == ProposalState.FAILED
    again = proposal_results_record(
        proposal_id=failed.pk, results={"suite": {"ok": True}}, baseline_results={}, ok=True
    )
    assert again.state == ProposalState.FAILED  # a second delivery of the task changes nothing
    event = PromptEvent.objects.get(action=EventAction.PROPOSAL_TESTED)
    assert event.detail == {"proposal": failed.pk, "ok": False}
    with pytest.raises(ApplicationError, match="Only a tested proposal"):
        proposal_approve(proposal=failed, reviewer=people["reviewer"])


def test_a_proposal_whose_tests_could_not_run_says_why(people: dict[str, Any]) -> None:
    proposal = proposal_create(prompt_id="answer", messages=_changed(), summary="x", author=people["editor"])
    failed = proposal_fail(proposal_id=proposal.pk, reason="the worker ran out of retries")
    assert failed.state == ProposalState.FAILED
    assert failed.results == {"error": "the worker ran out of retries"}
    assert PromptEvent.objects.get(action=EventAction.PROPOSAL_TESTED).detail["error"].startswith("the worker")


def test_the_author_cannot_approve_their_own_proposal(people: dict[str, Any]) -> None:
    proposal = _tested(people["both"])
    with pytest.raises(ApplicationError, match="someone other than its author"):
        proposal_approve(proposal=proposal, reviewer=people["both"])
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.TESTED
    assert not PromptVersion.objects.filter(prompt_id="answer", version=3).exists()


def test_a_non_reviewer_cannot_approve_or_reject(people: dict[str, Any]) -> None:
    proposal = _tested(people["editor"])
    for someone in (people["reader"], user_create(username="ed2", groups=(PROMPT_EDITORS,))):
        with pytest.raises(ApplicationError, match="Only prompt reviewers"):
            proposal_approve(proposal=proposal, reviewer=someone)
        with pytest.raises(ApplicationError, match="Only prompt reviewers"):
            proposal_reject(proposal=proposal, reviewer=someone, note="no")


def test_approval_creates_an_immutable_version_by_the_author_and_moves_no_label(people: dict[str, Any]) -> None:
    proposal = _tested(people["editor"])
    version = proposal_approve(proposal=proposal, reviewer=people["reviewer"], note="Reads well.")
    assert (version.prompt_id, version.version, version.source) == ("answer", 3, VersionSource.PROPOSAL)
    assert (version.author_name, version.note) == ("ed", "Reply in kind")
    assert version.messages[0]["template"].endswith(ADDED)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    assert (proposal.reviewer, proposal.review_note, proposal.created_version) == (
        people["reviewer"], "Reads well.", version,
    )  # fmt: skip
    assert prompt_current(prompt_id="answer").version == 2  # production did not move
    version.note = "edited"
    with pytest.raises(ImmutableRecord):
        version.save()
    created = PromptEvent.objects.get(action=EventAction.VERSION_CREATED)
    assert created.detail["proposal"] == proposal.pk and created.detail["reviewer"] == "rev"
    approved = PromptEvent.objects.get(action=EventAction.PROPOSAL_APPROVED)
    assert (approved.actor_name, approved.version, approved.detail["author"]) == ("rev", 3, "ed")
    with pytest.raises(ApplicationError, match="Only a tested proposal"):
        proposal_approve(proposal=proposal, reviewer=people["reviewer"])  # twice is refused


def test_rejection_needs_a_note_and_is_recorded(people: dict[str, Any]) -> None:
    proposal = _tested(people["editor"])
    with pytest.raises(ApplicationError, match="Say why"):
        proposal_reject(proposal=proposal, reviewer=people["reviewer"], note="  ")
    proposal_reject(proposal=proposal, reviewer=people["reviewer"], note="Too vague for legal questions.")
    proposal.refresh_from_db()
    assert (proposal.state, proposal.review_note) == (ProposalState.REJECTED, "Too vague for legal questions.")
    event = PromptEvent.objects.get(action=EventAction.PROPOSAL_REJECTED)
    assert (event.actor_name, event.note) == ("rev", "Too vague for legal questions.")
    with pytest.raises(ApplicationError, match="already rejected"):
        proposal_reject(proposal=proposal, reviewer=people["reviewer"], note="again")
    with pytest.raises(ApplicationError, match="Only a tested proposal"):
        proposal_approve(proposal=proposal, reviewer=people["reviewer"])


def test_only_reviewers_move_labels_and_only_to_approved_versions(people: dict[str, Any]) -> None:
    proposal = _tested(people["editor"])
    version = proposal_approve(proposal=proposal, reviewer=people["reviewer"])
    for someone in (people["editor"], people["reader"]):
        with pytest.raises(ApplicationError, match="Only prompt reviewers"):
            label_move_checked(actor=someone, prompt_id="answer", label="production", version=version.version)
        with pytest.raises(ApplicationError, match="Only prompt reviewers"):
            label_rollback_checked(actor=someone, prompt_id="answer", label="production")
    assert prompt_current(prompt_id="answer").version == 2

    label_move_checked(actor=people["reviewer"], prompt_id="answer", label="production", version=3, note="go")
    assert prompt_current(prompt_id="answer").key == "answer-v3"
    moved = PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, label="production").first()
    assert moved is not None and (moved.actor_name, moved.from_version, moved.version) == ("rev", 2, 3)
    label_rollback_checked(actor=people["reviewer"], prompt_id="answer", label="production")
    assert prompt_current(prompt_id="answer").key == "answer-v2"


def test_a_version_no_proposal_approved_cannot_carry_a_label(people: dict[str, Any]) -> None:
    from prompts.services.registry import version_create

    unapproved = version_create(prompt_id="answer", messages=_changed(), actor=people["editor"])
    with pytest.raises(ApplicationError, match="never approved"):
        label_move_checked(actor=people["reviewer"], prompt_id="answer", label="staging", version=unapproved.version)
    with pytest.raises(ApplicationError, match="never approved"):
        label_move_operator(operator="alice", prompt_id="answer", label="production", version=unapproved.version)
    with pytest.raises(ApplicationError, match="no version 9"):
        label_move_checked(actor=people["reviewer"], prompt_id="answer", label="staging", version=9)


def test_the_command_line_move_is_audited_with_the_operating_system_user(people: dict[str, Any]) -> None:
    label_move_operator(operator="alice", prompt_id="answer_strict", label="staging", version=1)
    event = PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, label="staging").get()
    assert (event.actor_id, event.actor_name) == (None, "cli:alice")


@pytest.mark.django_db(transaction=True)
def test_the_groups_come_back_after_a_flush() -> None:
    # A flush (a transactional test's teardown) empties what migration 0002 wrote and sends only
    # post_migrate; the receiver puts the groups and their permissions back.
    from django.core.management import call_command

    Group.objects.filter(name__in=[PROMPT_EDITORS, PROMPT_REVIEWERS]).delete()
    call_command("flush", interactive=False, verbosity=0)
    editors = Group.objects.get(name=PROMPT_EDITORS)
    assert list(editors.permissions.values_list("codename", flat=True)) == ["propose_prompt"]
    assert Group.objects.get(name=PROMPT_REVIEWERS).permissions.get().codename == "review_prompt"


def test_a_proposal_written_on_an_older_production_cannot_be_approved(people: dict[str, Any]) -> None:
    stale = _tested(people["editor"])  # written on v2
    newer = proposal_approve(proposal=_tested(people["both"]), reviewer=people["reviewer"])
    label_move_checked(actor=people["reviewer"], prompt_id="answer", label="production", version=newer.version)
    with pytest.raises(ApplicationError, match="Production moved to v3 after this proposal was written on v2"):
        proposal_approve(proposal=stale, reviewer=people["reviewer"])
    stale.refresh_from_db()
    assert stale.state == ProposalState.TESTED and PromptVersion.objects.filter(prompt_id="answer").count() == 2
