"""An A/B experiment in the answer pipeline: a user in arm B is answered with B's prompt version
and model tier (recorded on the answer, its interaction and its route), never with a cached
answer written for arm A; the arm's tier obeys the same restrictions as any routed tier. The
language model is a loopback test server; everything else is real."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.roles import PROMPT_REVIEWERS
from ingestion.models import Collection
from prompts.services.experiments import ArmSpec, experiment_arm_for, experiment_create, experiment_stop
from prompts.services.registry import version_create
from qa.models import AnswerStatus, Interaction, ModelPrice, ModelTier, ReusableAnswer
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.pipeline.routing import EXTRACTIVE, QuestionKind, TierSpec, route_choose
from qa.services.budgets import BudgetLevel
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import HANDBOOK, Recorder
from tests.qa.fakes import FakeOpenAIServer

pytestmark = pytest.mark.django_db

SYSTEM_V3 = "Answer from the passages only. Cite every sentence like [1]. Keep to two sentences."
QUESTION = "What is the hotel limit in London?"


@pytest.fixture
def handbook():
    collection = collection_create(name="Handbook", groups=("staff",))
    document_ingest(collection, HANDBOOK, "travel.md")
    return collection


@pytest.fixture
def small_tier():
    with FakeOpenAIServer(text="In London the limit is 260 euros per night [1].") as server:
        ModelTier.objects.create(name="small", rank=1, provider="openai_compatible", model="fake-small-1",
                                 base_url=server.url, external=True)  # fmt: skip
        yield server


@pytest.fixture
def experiment(small_tier):
    admin = user_create(username="experimenter", staff=True, groups=(PROMPT_REVIEWERS,))
    version_create(
        prompt_id="answer",
        messages=[
            {"role": "system", "template": SYSTEM_V3},
            {"role": "user", "template": "<passages>\n${passages}\n</passages>\n\nQuestion: ${question}"},
        ],
        actor=admin,
    )
    return experiment_create(
        name="short answers", actor=admin, tier_names={"extractive", "small"},
        arms=[ArmSpec("A", 50), ArmSpec("B", 50, version=3, tier_name="small")],
    )  # fmt: skip


def _user_in(arm: str):
    while True:
        user = user_create(groups=("staff",))
        if experiment_arm_for(user_id=user.pk, collection_ids=None, prompt_id="answer").name == arm:
            return user


def _ask(user, question: str = QUESTION):
    return answer_run(answer_id=answer_create(user=user, question=question).pk, emit=Recorder())


def test_a_user_in_arm_b_gets_b_s_prompt_and_tier_and_never_a_s_cached_answer(handbook, small_tier, experiment) -> None:
    in_a, in_b = _user_in("A"), _user_in("B")
    first = _ask(in_a)
    assert first.status == AnswerStatus.ANSWERED and first.reused_from_id is None
    assert first.prompt_key == "answer-v2" and first.experiment_arm.name == "A"
    assert first.provider == "extractive" and small_tier.requests == []
    assert first.route["experiment"] == {"name": "short answers", "arm": "A"}
    assert ReusableAnswer.objects.get(origin="cached").prompt_version == "answer-v2"

    answer = _ask(in_b)
    assert answer.reused_from_id is None, "arm A's cached answer was written with another prompt"
    assert answer.prompt_key == "answer-v3" and answer.experiment_arm.name == "B"
    assert answer.model == "fake-small-1" and len(small_tier.requests) == 1
    assert answer.route["experiment"] == {"name": "short answers", "arm": "B"}
    assert "experiment arm's tier -> small" in answer.route["reason"]
    interaction = Interaction.objects.get(answer=answer)
    assert interaction.prompt_key == "answer-v3"
    assert interaction.prompt["messages"][0]["content"] == SYSTEM_V3
    assert small_tier.requests[0]["body"]["messages"][0]["content"] == SYSTEM_V3

    # The cache still serves each arm its own answers.
    again = _ask(in_a, "what's the hotel limit in London")
    assert again.reused_from is not None and again.reused_from.source_answer_id == first.pk
    assert again.experiment_arm.name == "A"

    # Stopped: arm B's user is back on production, whose cached answer now serves them too.
    experiment_stop(experiment_id=experiment.pk, actor=None)
    after = _ask(in_b, "How much is the hotel limit in London?")
    assert after.prompt_key == "answer-v2" and after.experiment_arm_id is None
    assert after.reused_from is not None and after.reused_from.source_answer_id == first.pk


def test_an_arm_s_external_tier_never_sees_a_restricted_collection(handbook, small_tier, experiment) -> None:
    Collection.objects.filter(pk=handbook.pk).update(classification="restricted")
    answer = _ask(_user_in("B"))
    assert small_tier.requests == [], "no request left the machine"
    assert answer.provider == "extractive" and answer.prompt_key == "answer-v3"
    assert "restricted collection: internal tiers only" in answer.route["reason"]
    assert answer.route["experiment"]["arm"] == "B"


FEATURES = {"words": 6, "kind": QuestionKind.LOOKUP, "parts": 1, "best_similarity": 0.9, "turns": 0}
TIERS = [
    EXTRACTIVE,
    TierSpec("small", 1, "openai_compatible", "small-2025-01-01", external=False),
    TierSpec("large", 2, "openai_compatible", "large-2025-01-01", external=True),
]


def test_the_arm_s_tier_is_the_wanted_tier_and_budgets_still_move_it_down() -> None:
    route = route_choose(features=FEATURES, restricted=False, budget_level=BudgetLevel.OK, tiers=TIERS,
                         experiment_tier="large")  # fmt: skip
    assert route.tier.name == "large" and [t.name for t in route.chain] == ["large", "small", "extractive"]
    soft = route_choose(features=FEATURES, restricted=False, budget_level=BudgetLevel.SOFT, tiers=TIERS,
                        experiment_tier="large")  # fmt: skip
    assert soft.tier.name == "small" and "soft budget limit" in soft.reason
    hard = route_choose(features=FEATURES, restricted=False, budget_level=BudgetLevel.HARD, tiers=TIERS,
                        experiment_tier="large")  # fmt: skip
    assert hard.tier.name == "extractive"
    restricted = route_choose(features=FEATURES, restricted=True, budget_level=BudgetLevel.OK, tiers=TIERS,
                              experiment_tier="large")  # fmt: skip
    assert restricted.tier.name == "small"
    # A tier removed since the experiment started: the rules decide, and the route says so.
    gone = route_choose(features=FEATURES, restricted=False, budget_level=BudgetLevel.OK, tiers=TIERS,
                        experiment_tier="huge")  # fmt: skip
    assert "experiment tier huge not configured" in gone.reason


def test_cost_is_kept_per_arm_answer(handbook, small_tier, experiment) -> None:
    # The arm's model is priced like any routed model: its cost lands on the arm's answer.
    ModelPrice.objects.create(model="fake-small-1", input_per_million=Decimal("1.00"),
                              output_per_million=Decimal("4.00"), effective_from=timezone.now() - timedelta(days=1))  # fmt: skip
    answer = _ask(_user_in("B"))
    assert answer.cost > 0 and answer.experiment_arm.name == "B"


def test_arms_that_differ_only_in_tier_never_share_cached_answers(handbook, small_tier) -> None:
    admin = user_create(username="tier-experimenter", staff=True, groups=(PROMPT_REVIEWERS,))
    experiment_create(
        name="tiers only", actor=admin, tier_names={"extractive", "small"},
        arms=[ArmSpec("A", 50), ArmSpec("B", 50, tier_name="small")],
    )  # fmt: skip
    in_a, in_b = _user_in("A"), _user_in("B")
    first = _ask(in_a)
    assert first.provider == "extractive" and ReusableAnswer.objects.filter(source_answer=first).exists()
    answer = _ask(in_b)
    assert answer.reused_from_id is None and answer.model == "fake-small-1", "B reuses only its tier's answers"
    # The other way: B's answers are not cached, so nobody outside arm B is served one.
    assert not ReusableAnswer.objects.filter(source_answer=answer).exists()
    again = _ask(in_a, "what's the hotel limit in London")
    assert again.reused_from is not None and again.reused_from.source_answer_id == first.pk


def test_a_collection_scoped_experiment_takes_chat_questions_of_users_who_read_its_collections(handbook) -> None:
    admin = user_create(username="scoped-experimenter", staff=True, groups=(PROMPT_REVIEWERS,))
    other = collection_create(name="Elsewhere", groups=("elsewhere",))
    experiment_create(
        name="handbook only", actor=admin, tier_names={"extractive"}, collection_ids=[handbook.pk],
        arms=[ArmSpec("A", 0), ArmSpec("B", 100, tier_name="extractive")],
    )  # fmt: skip
    reader = user_create(groups=("staff",))
    outsider = user_create(groups=("elsewhere",))
    document_ingest(other, HANDBOOK, "travel-copy.md")
    # Asked in no particular collection, as the chat does.
    assert _ask(reader).experiment_arm.name == "B"
    assert _ask(outsider).experiment_arm_id is None
