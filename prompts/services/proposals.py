"""Changes to a prompt proposed by editors in the browser, and the review gate in front of
production.

    submitted (testing) -> tested | failed -> approved | rejected

A proposal is tested automatically (evaluation's ``proposal_evaluate``, run by a Celery task the
caller enqueues), then approved or rejected by a reviewer who is not its author. Approval creates
a new immutable ``PromptVersion``; it moves no label. Moving a label is a separate, audited step
(``label_move_checked``) that only reviewers may take, and only to a version someone approved:
a library file's version (approved by code review) or one created by an approved proposal.
Every step is a ``PromptEvent``."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission, User
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.models import AuditAction
from core.roles import PROMPT_EDITORS, PROMPT_REVIEWERS
from core.services.audit import AuditRequest, audit_record
from prompts.contracts import PromptMessage, PromptTemplate
from prompts.models import (
    EventAction,
    PromptKind,
    PromptLabel,
    PromptProposal,
    PromptVersion,
    ProposalState,
    VersionSource,
)
from prompts.services.registry import event_record, label_move, label_rollback, template_problems, version_create

logger = logging.getLogger(__name__)

PROPOSE_PERMISSION = "prompts.propose_prompt"
REVIEW_PERMISSION = "prompts.review_prompt"
# A draft is rendered as version 0 while it is tested: registry versions start at 1, so an
# evaluation answer that records ``answer-v0`` can never be mistaken for a released version.
DRAFT_VERSION = 0
MAX_SUMMARY_CHARS = 200
# The states in which a reviewer can still say no (an approved proposal is a version already).
_OPEN_STATES = (ProposalState.TESTING, ProposalState.TESTED, ProposalState.FAILED)


Viewer = AbstractBaseUser | AnonymousUser | None


def _can(user: Viewer, permission: str) -> bool:
    has_perm = getattr(user, "has_perm", None)  # AbstractBaseUser declares no permissions
    return bool(user is not None and user.is_authenticated and user.is_active and has_perm and has_perm(permission))


def can_propose(*, user: Viewer) -> bool:
    return _can(user, PROPOSE_PERMISSION)


def can_review(*, user: Viewer) -> bool:
    """Approve and reject proposals, move and roll back labels, start, stop and promote
    experiments (an arm is a deployment to its share of users)."""
    return _can(user, REVIEW_PERMISSION)


GROUP_PERMISSIONS = {PROMPT_EDITORS: "propose_prompt", PROMPT_REVIEWERS: "review_prompt"}


@transaction.atomic
def prompt_groups_ensure() -> None:
    """The editors' and reviewers' groups with their permissions. Migration 0002 creates them;
    this runs after every migrate as well (``post_migrate``), because a flush (a transactional
    test's teardown, ``manage.py flush``) empties the tables a data migration filled and then
    sends only ``post_migrate``."""
    for name, codename in GROUP_PERMISSIONS.items():
        permission = Permission.objects.filter(content_type__app_label="prompts", codename=codename).first()
        if permission is None:  # auth creates permissions on the same signal; a later run adds it
            continue
        Group.objects.get_or_create(name=name)[0].permissions.add(permission)


def _messages_clean(*, base: PromptVersion, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    cleaned = [
        # Browsers send CRLF line ends; a template's diff and hash must not change with the OS.
        {"role": str(m.get("role", "")), "template": str(m.get("template", "")).replace("\r\n", "\n")}
        for m in messages
    ]
    problems = template_problems(kind=base.kind, messages=cleaned, variables=list(base.variables))
    expected = [m["role"] for m in base.messages]
    if base.kind == PromptKind.TEXT and sorted(m["role"] for m in cleaned) != sorted(expected):
        # The code asks for each wording entry by name: one missing would fail at the worst moment.
        problems.append(f"the entries must stay exactly: {', '.join(expected)}")
    if problems:
        raise ApplicationError("The prompt cannot be used: " + "; ".join(problems), extra={"problems": problems})
    if cleaned == [{"role": m["role"], "template": m["template"]} for m in base.messages]:
        raise ApplicationError("The proposal changes nothing: edit a message first.")
    return cleaned


@transaction.atomic
def proposal_create(
    *, prompt_id: str, messages: list[dict[str, str]], summary: str, rationale: str = "", author: User
) -> PromptProposal:
    """Record an editor's change to the production version of a prompt, to be tested. Raises
    ApplicationError (with ``extra["problems"]``) when a template is broken: an unknown or
    malformed variable, a dropped one, an empty message, a wording entry added or removed.
    Enqueues nothing: the caller starts the tests after commit."""
    if not can_propose(user=author):
        raise ApplicationError("You may not propose prompt changes.")
    summary = " ".join(summary.split())
    if not summary:
        raise ApplicationError("Say in a line what the change does (the summary).")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise ApplicationError(f"The summary is longer than {MAX_SUMMARY_CHARS} characters.")
    label = PromptLabel.objects.filter(prompt_id=prompt_id, name=PromptLabel.PRODUCTION).select_related("version")
    production = label.first()
    if production is None:
        raise ApplicationError(f"There is no prompt {prompt_id!r} in production.")
    base = production.version
    cleaned = _messages_clean(base=base, messages=messages)
    proposal = PromptProposal.objects.create(
        prompt_id=prompt_id, base_version=base, messages=cleaned, summary=summary, rationale=rationale.strip(),
        author=author, state=ProposalState.TESTING,
    )  # fmt: skip
    event_record(
        action=EventAction.PROPOSAL_SUBMITTED, actor=author, prompt_id=prompt_id, version=base.version,
        note=summary, detail={"proposal": proposal.pk, "base": base.key},
    )  # fmt: skip
    logger.info("prompts.proposal_submitted proposal=%s prompt=%s by=%s", proposal.pk, prompt_id, author.pk)
    return proposal


def proposal_template(*, proposal: PromptProposal) -> PromptTemplate:
    """The proposal as a template to test (version 0, never stored), with its base's variables
    and fallback."""
    base = proposal.base_version
    return PromptTemplate(
        prompt_id=proposal.prompt_id, version=DRAFT_VERSION,
        messages=tuple(PromptMessage(role=m["role"], template=m["template"]) for m in proposal.messages),
        variables=tuple(base.variables), fallback_key=base.fallback_key,
    )  # fmt: skip


@transaction.atomic
def proposal_results_record(
    *, proposal_id: int, results: dict[str, Any], baseline_results: dict[str, Any], ok: bool
) -> PromptProposal:
    """Store the tests of a proposal and of its base side by side: ``tested`` when the
    proposal's suite passed, ``failed`` when it did not (it cannot be approved). Idempotent: a
    proposal no longer being tested (already recorded, or rejected meanwhile) is left as it is."""
    proposal = PromptProposal.objects.select_for_update().get(pk=proposal_id)
    if proposal.state != ProposalState.TESTING:
        return proposal
    proposal.results, proposal.baseline_results = results, baseline_results
    proposal.state = ProposalState.TESTED if ok else ProposalState.FAILED
    proposal.save(update_fields=["results", "baseline_results", "state", "updated_at"])
    event_record(
        action=EventAction.PROPOSAL_TESTED, actor=None, prompt_id=proposal.prompt_id,
        version=proposal.base_version.version, note="passed" if ok else "failed",
        detail={"proposal": proposal.pk, "ok": ok, **({"error": results["error"]} if "error" in results else {})},
    )  # fmt: skip
    return proposal


def proposal_fail(*, proposal_id: int, reason: str) -> PromptProposal:
    """The tests could not run (retries exhausted, a bug): the proposal says why, and cannot be
    approved; the editor submits it again."""
    return proposal_results_record(
        proposal_id=proposal_id, results={"error": reason[:2000]}, baseline_results={}, ok=False
    )


def _decidable(*, proposal_id: int, reviewer: User) -> PromptProposal:
    if not can_review(user=reviewer):
        raise ApplicationError("Only prompt reviewers can approve or reject a proposal.")
    return (
        PromptProposal.objects.select_for_update(of=("self",))
        .select_related("base_version", "author")
        .get(pk=proposal_id)
    )


@transaction.atomic
def proposal_approve(
    *, proposal: PromptProposal, reviewer: User, note: str = "", request: AuditRequest | None = None
) -> PromptVersion:
    """Approve a tested proposal: a new immutable version (its author the proposal's author),
    the next number. Moves no label. The reviewer must hold ``review_prompt`` and not be the
    author; the proposal must have passed its tests."""
    locked = _decidable(proposal_id=proposal.pk, reviewer=reviewer)
    if locked.author_id == reviewer.pk:
        raise ApplicationError("A proposal is approved by someone other than its author.")
    if locked.state != ProposalState.TESTED:
        raise ApplicationError(f"Only a tested proposal can be approved (this one is {locked.get_state_display()}).")
    production = PromptLabel.objects.filter(prompt_id=locked.prompt_id, name=PromptLabel.PRODUCTION).first()
    if production is not None and production.version_id != locked.base_version_id:
        # Approved as it is, the draft would undo whatever the versions since its base changed.
        raise ApplicationError(
            f"Production moved to v{production.version.version} after this proposal was written on "
            f"v{locked.base_version.version}: approving it would undo that change. Reject it and ask for a "
            "proposal on the current version."
        )
    author: User | None = locked.author
    version = version_create(
        prompt_id=locked.prompt_id, messages=locked.messages, actor=author, note=locked.summary,
        detail={"proposal": locked.pk, "reviewer": reviewer.get_username()}, base_version=locked.base_version.version,
    )  # fmt: skip
    locked.state, locked.reviewer, locked.review_note = ProposalState.APPROVED, reviewer, note.strip()
    locked.decided_at, locked.created_version = timezone.now(), version
    locked.save(update_fields=["state", "reviewer", "review_note", "decided_at", "created_version", "updated_at"])
    event_record(
        action=EventAction.PROPOSAL_APPROVED, actor=reviewer, prompt_id=locked.prompt_id, version=version.version,
        note=note, detail={"proposal": locked.pk, "author": author.get_username() if author else ""},
    )  # fmt: skip
    audit_record(
        action=AuditAction.PROMPT_PROPOSAL_APPROVED, actor=reviewer, target_type="prompt_proposal",
        target_id=locked.pk, before={"state": ProposalState.TESTED},
        after={"state": ProposalState.APPROVED, "version": version.key},
        detail={"prompt_id": locked.prompt_id, "author": author.get_username() if author else "", "note": note[:2000]},
        request=request,
    )  # fmt: skip
    proposal.refresh_from_db()
    logger.info("prompts.proposal_approved proposal=%s version=%s by=%s", locked.pk, version.key, reviewer.pk)
    return version


@transaction.atomic
def proposal_reject(
    *, proposal: PromptProposal, reviewer: User, note: str, request: AuditRequest | None = None
) -> PromptProposal:
    """Turn a proposal down, saying why (the note is required: the editor reads it)."""
    note = note.strip()
    if not note:
        raise ApplicationError("Say why the proposal is rejected: the editor reads the note.")
    locked = _decidable(proposal_id=proposal.pk, reviewer=reviewer)
    if locked.state not in _OPEN_STATES:
        raise ApplicationError(f"This proposal is already {locked.get_state_display().lower()}.")
    state_before = locked.state
    locked.state, locked.reviewer, locked.review_note, locked.decided_at = (
        ProposalState.REJECTED, reviewer, note, timezone.now(),
    )  # fmt: skip
    locked.save(update_fields=["state", "reviewer", "review_note", "decided_at", "updated_at"])
    event_record(
        action=EventAction.PROPOSAL_REJECTED, actor=reviewer, prompt_id=locked.prompt_id,
        version=locked.base_version.version, note=note, detail={"proposal": locked.pk},
    )  # fmt: skip
    audit_record(
        action=AuditAction.PROMPT_PROPOSAL_REJECTED, actor=reviewer, target_type="prompt_proposal",
        target_id=locked.pk, before={"state": state_before}, after={"state": ProposalState.REJECTED},
        detail={"prompt_id": locked.prompt_id, "note": note[:2000]}, request=request,
    )  # fmt: skip
    proposal.refresh_from_db()
    return locked


def version_approved(*, version: PromptVersion) -> bool:
    """Whether a version may carry a label: a library file's version was approved by code
    review; any other only through an approved proposal."""
    if version.source == VersionSource.FILE:
        return True
    return PromptProposal.objects.filter(created_version=version, state=ProposalState.APPROVED).exists()


def _approved_or_raise(*, prompt_id: str, version: int) -> None:
    row = PromptVersion.objects.filter(prompt_id=prompt_id, version=version).first()
    if row is None:
        raise ApplicationError(f"There is no version {version} of the prompt {prompt_id!r}.")
    if not version_approved(version=row):
        raise ApplicationError(f"{row.key} was never approved: only approved versions can carry a label.")


@transaction.atomic
def label_move_checked(
    *, actor: User, prompt_id: str, label: str, version: int, note: str = "", request: AuditRequest | None = None
) -> PromptLabel:
    """Move a label for someone in the browser: only a prompt reviewer, and only to an approved
    version. Moving ``production`` is the deployment (audited by ``label_move``)."""
    if not can_review(user=actor):
        raise ApplicationError("Only prompt reviewers can move a label.")
    _approved_or_raise(prompt_id=prompt_id, version=version)
    return label_move(prompt_id=prompt_id, label=label, version=version, actor=actor, note=note, request=request)


@transaction.atomic
def label_rollback_checked(
    *, actor: User, prompt_id: str, label: str, note: str = "", request: AuditRequest | None = None
) -> PromptLabel:
    """Return a label to the version it pointed at before its last move (prompt reviewers)."""
    if not can_review(user=actor):
        raise ApplicationError("Only prompt reviewers can roll a label back.")
    return label_rollback(prompt_id=prompt_id, label=label, actor=actor, note=note, request=request)


@transaction.atomic
def label_move_operator(
    *, operator: str, prompt_id: str, label: str, version: int | None, rollback: bool = False, note: str = ""
) -> PromptLabel:
    """Move (or roll back) a label from the command line. Whoever has a shell on the server is
    trusted with the move; the version must still be an approved one. The event's actor is
    ``cli:<operator>`` (the operating-system user)."""
    # An unsaved user carries the name into the audit record without an account behind it.
    actor = User(username=f"cli:{operator}"[:150])
    if rollback:
        return label_rollback(prompt_id=prompt_id, label=label, actor=actor, note=note)
    if version is None:
        raise ApplicationError("Give the version to move the label to (or --rollback).")
    _approved_or_raise(prompt_id=prompt_id, version=version)
    return label_move(prompt_id=prompt_id, label=label, version=version, actor=actor, note=note)
