"""A/B experiments: arms validated at creation, sticky assignment through the database, the
split over 10,000 users, the collection scope, one running experiment per prompt, stopping
(everyone back to production) and promoting (the production label moves, audited)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth.models import Permission

from core.errors import ApplicationError
from core.roles import PROMPT_REVIEWERS
from prompts.models import EventAction, Experiment, ExperimentState, PromptEvent, PromptLabel
from prompts.services.experiments import (
    ArmSpec,
    experiment_arm_for,
    experiment_create,
    experiment_promote,
    experiment_stop,
)
from prompts.services.registry import version_create
from prompts.services.selection import prompt_choice_for
from qa.models import Answer, Conversation
from tests.factories import user_create

pytestmark = pytest.mark.django_db

SYSTEM_V3 = "Answer only from the passages and cite each sentence like [1]. Say so when they do not answer."


@pytest.fixture
def admin():
    """Staff who may also move the production label (``prompts.review_prompt``)."""
    user = user_create(username="experimenter", staff=True, groups=(PROMPT_REVIEWERS,))
    user.user_permissions.add(Permission.objects.get(codename="review_prompt"))
    return user


@pytest.fixture
def v3(admin):
    """A third version of the answer prompt (production stays on v2)."""
    return version_create(
        prompt_id="answer",
        messages=[
            {"role": "system", "template": SYSTEM_V3},
            {"role": "user", "template": "<passages>\n${passages}\n</passages>\n\nQuestion: ${question}"},
        ],
        actor=admin,
    )


def _start(admin, *, name: str = "wording test", shares=(50, 50), collection_ids=(), tier: str = "") -> Experiment:
    return experiment_create(
        name=name,
        arms=[ArmSpec(name="A", share=shares[0]), ArmSpec(name="B", share=shares[1], version=3, tier_name=tier)],
        actor=admin,
        collection_ids=collection_ids,
        tier_names={"extractive", "small"},
    )


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ([ArmSpec("A", 50), ArmSpec("B", 40, version=3)], "shares must sum to 100"),
        ([ArmSpec("A", 100)], "2 to 6 arms"),
        ([ArmSpec("A", 50), ArmSpec("B", 50, version=9)], "answer has no version 9"),
        ([ArmSpec("A", 50), ArmSpec("B", 50, tier_name="huge")], "no model tier 'huge'"),
        ([ArmSpec("A", 50), ArmSpec("A", 50, version=3)], "arm names must differ"),
        ([ArmSpec("A", 50), ArmSpec("B", 50)], "the same prompt version and model tier"),
        ([ArmSpec("A", 50), ArmSpec("", 50, version=3)], "a name of 1-50 characters"),
    ],
)
def test_creation_refuses_invalid_arms(admin, v3, arms, message) -> None:
    with pytest.raises(ApplicationError, match=message):
        experiment_create(name="bad", arms=arms, actor=admin, tier_names={"extractive", "small"})
    assert not Experiment.objects.exists()


def test_creation_refuses_other_prompts_small_samples_and_taken_names(admin, v3) -> None:
    arms = [ArmSpec("A", 50), ArmSpec("B", 50, version=3)]
    with pytest.raises(ApplicationError, match="answering prompt"):
        experiment_create(name="judge test", prompt_id="judge", arms=arms, actor=admin)
    with pytest.raises(ApplicationError, match="minimum sample"):
        experiment_create(name="tiny", arms=arms, actor=admin, min_sample=5)
    _start(admin, name="taken")
    experiment_stop(experiment_id=Experiment.objects.get().pk, actor=admin)
    with pytest.raises(ApplicationError, match="already an experiment named"):
        _start(admin, name="taken")


def test_creation_records_the_arms_and_an_audited_event(admin, v3) -> None:
    experiment = _start(admin, tier="small", collection_ids=[5, 3, 5])
    assert experiment.state == ExperimentState.RUNNING and experiment.collection_ids == [3, 5]
    arms = list(experiment.arms.all())
    assert [(a.name, a.prompt_version, a.tier_name, a.share) for a in arms] == [
        ("A", None, "", 50),
        ("B", v3, "small", 50),
    ]
    event = PromptEvent.objects.get(action=EventAction.EXPERIMENT_STARTED)
    assert event.actor_name == "experimenter" and event.detail["experiment_id"] == experiment.pk
    assert [a["name"] for a in event.detail["arms"]] == ["A", "B"]


def test_only_one_experiment_runs_per_prompt(admin, v3) -> None:
    first = _start(admin, name="first")
    with pytest.raises(ApplicationError, match="'first' is already running"):
        _start(admin, name="second")
    experiment_stop(experiment_id=first.pk, actor=admin)
    assert _start(admin, name="second").state == ExperimentState.RUNNING


def test_assignment_is_sticky_for_a_user(admin, v3) -> None:
    _start(admin)
    for user_id in range(1, 21):
        arms = {experiment_arm_for(user_id=user_id, collection_ids=None, prompt_id="answer").pk for _ in range(25)}
        assert len(arms) == 1


def test_ten_thousand_users_split_within_two_points_of_the_shares(admin, v3) -> None:
    _start(admin, shares=(30, 70))
    counts = Counter(
        experiment_arm_for(user_id=user_id, collection_ids=None, prompt_id="answer").name
        for user_id in range(1, 10_001)
    )
    assert abs(counts["A"] / 10_000 - 0.30) <= 0.02
    assert abs(counts["B"] / 10_000 - 0.70) <= 0.02


def test_the_collection_scope_decides_who_takes_part(admin, v3) -> None:
    _start(admin, collection_ids=[7, 8])
    assert experiment_arm_for(user_id=1, collection_ids=[8, 9], prompt_id="answer") is not None
    assert experiment_arm_for(user_id=1, collection_ids=[9], prompt_id="answer") is None
    # Asked without choosing collections: all the user's collections, so the user's readable
    # collections decide; without them the question stays out.
    assert experiment_arm_for(user_id=1, collection_ids=None, prompt_id="answer") is None
    assert experiment_arm_for(user_id=1, collection_ids=[], prompt_id="answer",
                              readable_collection_ids=lambda: [1, 7]) is not None  # fmt: skip
    assert experiment_arm_for(user_id=1, collection_ids=None, prompt_id="answer",
                              readable_collection_ids=lambda: [1, 2]) is None  # fmt: skip
    # Anonymous askers never take part.
    assert experiment_arm_for(user_id=None, collection_ids=[7], prompt_id="answer") is None


def _user_in(arm_name: str) -> int:
    return next(
        uid for uid in range(1, 1000)
        if experiment_arm_for(user_id=uid, collection_ids=None, prompt_id="answer").name == arm_name
    )  # fmt: skip


def test_the_choice_uses_the_arm_version_and_tier_and_stop_returns_everyone_to_production(admin, v3) -> None:
    experiment = _start(admin, tier="small")
    in_a, in_b = _user_in("A"), _user_in("B")
    choice_a = prompt_choice_for(user_id=in_a, collection_ids=None)
    choice_b = prompt_choice_for(user_id=in_b, collection_ids=None)
    assert choice_a.answer.key == "answer-v2" and choice_a.tier_name == "" and choice_a.arm == "A"
    assert choice_b.answer.key == "answer-v3" and choice_b.tier_name == "small"
    assert choice_b.arm_id == experiment.arms.get(name="B").pk and choice_b.experiment == "wording test"
    # The choice travels to the worker intact.
    travelled = type(choice_b).from_dict(choice_b.as_dict())
    assert travelled == choice_b and travelled.as_dict() == choice_b.as_dict()
    assert travelled.answer.arm_id == choice_b.arm_id

    experiment_stop(experiment_id=experiment.pk, actor=admin, note="enough")
    for uid in (in_a, in_b):
        choice = prompt_choice_for(user_id=uid, collection_ids=None)
        assert choice.answer.key == "answer-v2" and choice.arm_id is None and choice.tier_name == ""
    assert PromptEvent.objects.filter(action=EventAction.EXPERIMENT_STOPPED, note="enough").exists()
    with pytest.raises(ApplicationError, match="not running"):
        experiment_stop(experiment_id=experiment.pk, actor=admin)


def test_promoting_an_arm_moves_the_production_label_with_an_audit_record(admin, v3) -> None:
    experiment = _start(admin)
    arm_b = experiment.arms.get(name="B")
    # Promoting is a deployment: staff without the reviewers' permission cannot.
    with pytest.raises(ApplicationError, match="Only prompt reviewers"):
        experiment_promote(experiment_id=experiment.pk, arm_id=arm_b.pk, actor=user_create(staff=True))
    assert PromptLabel.objects.get(prompt_id="answer", name="production").version.version == 2
    experiment_promote(experiment_id=experiment.pk, arm_id=arm_b.pk, actor=admin)
    experiment.refresh_from_db()
    assert experiment.state == ExperimentState.PROMOTED and experiment.promoted_arm == arm_b
    assert experiment.stopped_at is not None
    assert PromptLabel.objects.get(prompt_id="answer", name="production").version == v3
    move = PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, prompt_id="answer").first()
    assert (move.from_version, move.version, move.actor_name) == (2, 3, "experimenter")
    assert "wording test" in move.note
    promoted = PromptEvent.objects.get(action=EventAction.ARM_PROMOTED)
    assert promoted.version == 3 and promoted.detail["arm"] == "B" and promoted.detail["from_version"] == 2
    # Everyone now gets the promoted version from production; a second promotion is refused.
    assert prompt_choice_for(user_id=1, collection_ids=None).answer.key == "answer-v3"
    with pytest.raises(ApplicationError, match="already promoted"):
        experiment_promote(experiment_id=experiment.pk, arm_id=arm_b.pk, actor=admin)


def test_promoting_the_production_arm_of_a_stopped_experiment_keeps_the_label(admin, v3) -> None:
    experiment = _start(admin)
    experiment_stop(experiment_id=experiment.pk, actor=admin)
    experiment_promote(experiment_id=experiment.pk, arm_id=experiment.arms.get(name="A").pk, actor=admin)
    assert PromptLabel.objects.get(prompt_id="answer", name="production").version.version == 2
    assert not PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, actor_name="experimenter").exists()
    assert PromptEvent.objects.get(action=EventAction.ARM_PROMOTED).detail["arm"] == "A"
    other = _start(admin, name="other")
    with pytest.raises(ApplicationError, match="no such arm"):
        experiment_promote(experiment_id=other.pk, arm_id=experiment.arms.get(name="B").pk, actor=admin)


def test_a_stopped_experiment_keeps_its_arms_answers(admin, v3) -> None:
    experiment = _start(admin)
    arm_b = experiment.arms.get(name="B")
    conversation = Conversation.objects.create(user=admin)
    answer = Answer.objects.create(conversation=conversation, question="q", experiment_arm=arm_b,
                                   prompt_key="answer-v3")  # fmt: skip
    experiment_stop(experiment_id=experiment.pk, actor=admin)
    answer.refresh_from_db()
    assert answer.experiment_arm == arm_b and list(arm_b.answers.all()) == [answer]
