"""A/B experiments on the answering prompt: created with validated arms, stopped, or ended by
promoting an arm (which moves the ``production`` label), each step an audited event; and the
arm a user's question takes part in.

Assignment is sticky without stored state: ``arm_pick`` hashes ``experiment-<pk>`` with
``user-<id>``, so a user stays in one arm in every process for the experiment's life, and
two experiments split users independently.

Collection scope. An experiment with ``collection_ids`` takes part only in questions about
those collections:

- a question asked in chosen collections takes part when they intersect the scope;
- a question asked without a choice (``None`` or empty) searches every collection the user may
  read, so it takes part when the user may read at least one of the scope's collections. The
  prompts app cannot read collection access (it imports only ``core``): the caller passes the
  user's readable collection ids (``readable_collection_ids``); without them such a question
  does not take part, so an unscoped question never lands in an experiment it may not belong to.

An experiment without ``collection_ids`` takes part in every question of every signed-in user.
Anonymous askers (no user id) never take part: an empty subject would put them all in one arm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.services.audit import Actor
from prompts.assignment import arm_pick, shares_validate
from prompts.models import (
    EventAction,
    Experiment,
    ExperimentArm,
    ExperimentState,
    PromptLabel,
    PromptVersion,
)
from prompts.services.proposals import can_review
from prompts.services.registry import PRODUCTION, event_record, label_move

logger = logging.getLogger(__name__)

# Arms are measured on answers (helpful, declined, sentences removed, time, cost) and an answer
# records one arm, so experiments run on the prompt that writes the answer.
EXPERIMENT_PROMPT_IDS = frozenset({"answer"})
# Who may move the production label (the same permission as approving a proposal).
# "Two or more variants": one arm is not an experiment, and beyond a handful each arm's share
# is too small to reach a minimum sample in a useful time.
MIN_ARMS, MAX_ARMS = 2, 6
# The smallest sample a two-proportion test's normal approximation holds for at the rates seen
# here (helpful rates around 0.7-0.9: n*p*(1-p) >= 5 needs about 30 answers per arm).
MIN_SAMPLE_FLOOR = 30


@dataclass(frozen=True)
class ArmSpec:
    """One arm as an admin describes it: a prompt version (``None``: whatever ``production``
    points at when the question is asked) and/or a model tier (``""``: routing decides)."""

    name: str
    share: int
    version: int | None = None
    tier_name: str = ""


def _experiment_key(experiment: Experiment) -> str:
    return f"experiment-{experiment.pk}"


def _arms_validate(
    *, prompt_id: str, arms: Sequence[ArmSpec], tier_names: Collection[str] | None
) -> dict[int, PromptVersion]:
    """The arms' prompt versions by number; ApplicationError naming every problem."""
    problems: list[str] = []
    if not MIN_ARMS <= len(arms) <= MAX_ARMS:
        problems.append(f"an experiment has {MIN_ARMS} to {MAX_ARMS} arms, not {len(arms)}")
    names = [arm.name.strip() for arm in arms]
    if any(not name or len(name) > 50 for name in names):
        problems.append("every arm needs a name of 1-50 characters")
    if len(set(names)) != len(names):
        problems.append("arm names must differ")
    try:
        shares_validate(shares=[(arm.name, arm.share) for arm in arms])
    except ValueError as exc:
        problems.append(str(exc))
    wanted = {arm.version for arm in arms if arm.version is not None}
    versions = {v.version: v for v in PromptVersion.objects.filter(prompt_id=prompt_id, version__in=wanted)}
    for number in sorted(wanted - set(versions)):
        problems.append(f"{prompt_id} has no version {number}")
    if tier_names is not None:
        for arm in arms:
            if arm.tier_name and arm.tier_name not in tier_names:
                problems.append(
                    f"arm {arm.name!r}: there is no model tier {arm.tier_name!r} "
                    f"(tiers: {', '.join(sorted(tier_names)) or 'none'})"
                )
    variants = [(arm.version, arm.tier_name) for arm in arms]
    if len(set(variants)) != len(variants):
        # Two arms with the same version and tier measure the same thing twice under two names.
        problems.append("two arms use the same prompt version and model tier")
    if problems:
        raise ApplicationError("The experiment cannot start: " + "; ".join(problems) + ".")
    return versions


@transaction.atomic
def experiment_create(
    *,
    name: str,
    arms: Sequence[ArmSpec],
    actor: Actor,
    prompt_id: str = "answer",
    collection_ids: Sequence[int] = (),
    min_sample: int = 100,
    tier_names: Collection[str] | None = None,
) -> Experiment:
    """Start an experiment on ``prompt_id`` with ``arms`` (the first is the control every other
    arm is compared with). ``tier_names`` are the model tiers that exist (the caller reads
    them: the prompts app does not know qa's tiers); None skips that check. Raises
    ApplicationError when the name is taken or empty, the prompt takes no experiments, another
    experiment on the prompt is running, or an arm is invalid (shares not summing to 100, an
    unknown version or tier, duplicate arms), or ``actor`` is a user without the
    ``prompts.review_prompt`` permission (an arm with a 100% share is a deployment: starting an
    experiment is a reviewer's call, like moving the production label; ``actor`` None is the
    system: benchmarks and management commands). Audited (``experiment_started``)."""
    if actor is not None and not can_review(user=actor):
        raise ApplicationError("Only prompt reviewers can start an experiment.")
    name = name.strip()
    if not name or len(name) > 100:
        raise ApplicationError("An experiment needs a name of 1-100 characters.")
    if prompt_id not in EXPERIMENT_PROMPT_IDS:
        raise ApplicationError(
            f"Experiments run on the answering prompt ({', '.join(sorted(EXPERIMENT_PROMPT_IDS))}), not {prompt_id!r}."
        )
    if min_sample < MIN_SAMPLE_FLOOR:
        raise ApplicationError(f"The minimum sample is at least {MIN_SAMPLE_FLOOR} answers per arm.")
    if any(isinstance(c, bool) or not isinstance(c, int) for c in collection_ids):
        raise ApplicationError("Collection ids are whole numbers.")
    # The production label's row is the prompt's lock: two admins starting experiments at once
    # are serialised here, so the "one running experiment per prompt" check below cannot race.
    if not list(PromptLabel.objects.select_for_update().filter(prompt_id=prompt_id, name=PRODUCTION)):
        raise ApplicationError(f"The prompt {prompt_id!r} has no production version.")
    running = Experiment.objects.filter(prompt_id=prompt_id, state=ExperimentState.RUNNING).first()
    if running is not None:
        raise ApplicationError(
            f"The experiment {running.name!r} is already running on {prompt_id!r}: stop it first "
            "(a user can be in one arm per prompt)."
        )
    if Experiment.objects.filter(name=name).exists():
        raise ApplicationError(f"There is already an experiment named {name!r}.")
    versions = _arms_validate(prompt_id=prompt_id, arms=arms, tier_names=tier_names)
    experiment = Experiment.objects.create(
        name=name,
        prompt_id=prompt_id,
        collection_ids=sorted(set(collection_ids)),
        min_sample=min_sample,
        started_by_id=actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None,
    )
    for arm in arms:
        ExperimentArm.objects.create(
            experiment=experiment,
            name=arm.name.strip(),
            prompt_version=versions.get(arm.version) if arm.version is not None else None,
            tier_name=arm.tier_name,
            share=arm.share,
        )
    event_record(
        action=EventAction.EXPERIMENT_STARTED, actor=actor, prompt_id=prompt_id, note=name,
        detail={"experiment_id": experiment.pk, "name": name, "collection_ids": experiment.collection_ids,
                "min_sample": min_sample,
                "arms": [{"name": a.name.strip(), "version": a.version, "tier": a.tier_name, "share": a.share}
                         for a in arms]},
    )  # fmt: skip
    logger.info("prompts.experiment_started id=%s name=%s prompt=%s", experiment.pk, name, prompt_id)
    return experiment


def _locked(experiment_id: int) -> Experiment:
    experiment = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
    if experiment is None:
        raise ApplicationError("There is no such experiment.")
    return experiment


@transaction.atomic
def experiment_stop(*, experiment_id: int, actor: Actor, note: str = "") -> Experiment:
    """Stop a running experiment: from the next question everyone gets production again. The
    arms and the answers recorded under them stay (the results remain readable). Audited."""
    experiment = _locked(experiment_id)
    if experiment.state != ExperimentState.RUNNING:
        raise ApplicationError(f"The experiment {experiment.name!r} is not running.")
    experiment.state = ExperimentState.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.save(update_fields=["state", "stopped_at", "updated_at"])
    event_record(
        action=EventAction.EXPERIMENT_STOPPED, actor=actor, prompt_id=experiment.prompt_id, note=note or experiment.name,
        detail={"experiment_id": experiment.pk, "name": experiment.name},
    )  # fmt: skip
    logger.info("prompts.experiment_stopped id=%s name=%s", experiment.pk, experiment.name)
    return experiment


@transaction.atomic
def experiment_promote(*, experiment_id: int, arm_id: int, actor: Actor, note: str = "") -> Experiment:
    """End the experiment (running or stopped) with ``arm_id`` as the winner: the ``production``
    label moves to the arm's prompt version (an audited label move), the experiment stops, and
    an ``arm_promoted`` event records it. An arm on production's version moves nothing. A
    model tier is not promoted by this: the routing policy (admin) decides the tiers. Raises
    ApplicationError for an actor without the ``prompts.review_prompt`` permission (moving
    production is a deployment; ``None`` is the system itself), an experiment already promoted
    or an arm of another experiment."""
    if actor is not None and not can_review(user=actor):
        raise ApplicationError("Only prompt reviewers can promote an arm: it moves the production label.")
    experiment = _locked(experiment_id)
    if experiment.state == ExperimentState.PROMOTED:
        raise ApplicationError(f"An arm of {experiment.name!r} was already promoted.")
    arm = ExperimentArm.objects.select_related("prompt_version").filter(pk=arm_id, experiment=experiment).first()
    if arm is None:
        raise ApplicationError(f"The experiment {experiment.name!r} has no such arm.")
    current = PromptLabel.objects.select_related("version").filter(prompt_id=experiment.prompt_id, name=PRODUCTION)
    before = next((label.version.version for label in current), None)
    version = arm.prompt_version.version if arm.prompt_version is not None else before
    reason = f"promoted from experiment {experiment.name!r}, arm {arm.name!r}"
    if version is not None and version != before:
        label_move(prompt_id=experiment.prompt_id, label=PRODUCTION, version=version, actor=actor,
                   note=f"{reason}. {note}".strip())  # fmt: skip
    experiment.state = ExperimentState.PROMOTED
    experiment.promoted_arm = arm
    experiment.stopped_at = experiment.stopped_at or timezone.now()
    experiment.save(update_fields=["state", "promoted_arm", "stopped_at", "updated_at"])
    event_record(
        action=EventAction.ARM_PROMOTED, actor=actor, prompt_id=experiment.prompt_id, version=version,
        note=note or reason,
        detail={"experiment_id": experiment.pk, "name": experiment.name, "arm": arm.name, "arm_id": arm.pk,
                "from_version": before, "tier": arm.tier_name},
    )  # fmt: skip
    logger.info("prompts.arm_promoted experiment=%s arm=%s version=%s from=%s", experiment.pk, arm.name, version,
                before)  # fmt: skip
    return experiment


def experiment_running_arms(*, prompt_id: str) -> list[ExperimentArm]:
    """The arms of the experiment running on ``prompt_id`` in order, each with its experiment
    and version: one query, run for every question (at most one experiment runs per prompt)."""
    return list(
        ExperimentArm.objects.filter(experiment__prompt_id=prompt_id, experiment__state=ExperimentState.RUNNING)
        .select_related("experiment", "prompt_version")
        .order_by("pk")
    )


def experiment_in_scope(
    *,
    experiment: Experiment,
    collection_ids: Sequence[int] | None,
    readable_collection_ids: Callable[[], Collection[int]] | None = None,
) -> bool:
    """Whether a question asked in ``collection_ids`` takes part (see the module docstring)."""
    scope = set(experiment.collection_ids or [])
    if not scope:
        return True
    if collection_ids:
        return bool(scope & set(collection_ids))
    if readable_collection_ids is None:
        return False
    return bool(scope & set(readable_collection_ids()))


def experiment_arm_for(
    *,
    user_id: int | None,
    collection_ids: Sequence[int] | None,
    prompt_id: str,
    readable_collection_ids: Callable[[], Collection[int]] | None = None,
) -> ExperimentArm | None:
    """The arm of the running experiment on ``prompt_id`` this user's question takes part in,
    or None (no experiment running, the question outside its collection scope, or an anonymous
    asker). ``readable_collection_ids`` is called only for a scoped experiment and a question
    asked without collections."""
    if user_id is None:
        return None
    arms = experiment_running_arms(prompt_id=prompt_id)
    if not arms:
        return None
    experiment = arms[0].experiment
    if not experiment_in_scope(
        experiment=experiment, collection_ids=collection_ids, readable_collection_ids=readable_collection_ids
    ):
        return None
    return arm_pick(
        experiment_key=_experiment_key(experiment), subject=f"user-{user_id}", shares=[(arm, arm.share) for arm in arms]
    )


# --------------------------------------------------------------------------- reads for pages


def experiment_list() -> list[Experiment]:
    """Every experiment, newest first, with its arms and their versions."""
    return list(
        Experiment.objects.select_related("started_by", "promoted_arm").prefetch_related("arms__prompt_version")
    )


def experiment_arms(*, experiment_id: int) -> tuple[Experiment, list[ExperimentArm]] | None:
    """An experiment and its arms in order (the first is the control), or None."""
    experiment = (
        Experiment.objects.select_related("started_by", "promoted_arm")
        .prefetch_related("arms__prompt_version")
        .filter(pk=experiment_id)
        .first()
    )
    if experiment is None:
        return None
    return experiment, list(experiment.arms.all())
