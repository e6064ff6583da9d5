"""The experiment page's numbers: per arm, answers with known outcomes give the table's counts,
rates and means, and each metric's significance verdict against the control, in words; below
the experiment's minimum sample every verdict says there are too few answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.roles import PROMPT_REVIEWERS
from prompts.services.experiments import ArmSpec, experiment_create, experiment_stop
from prompts.services.registry import version_create
from qa.models import Answer, AnswerStatus, Conversation, Feedback
from qa.selectors import ArmMetric, Better, experiment_arm_stats
from tests.factories import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment():
    admin = user_create(username="experimenter", staff=True, groups=(PROMPT_REVIEWERS,))
    version_create(
        prompt_id="answer",
        messages=[
            {"role": "system", "template": "Answer from the passages only, citing each sentence like [1]."},
            {"role": "user", "template": "<passages>\n${passages}\n</passages>\n\nQuestion: ${question}"},
        ],
        actor=admin,
    )
    return experiment_create(
        name="strict wording", arms=[ArmSpec("A", 50), ArmSpec("B", 50, version=3)], actor=admin, min_sample=30
    )


def _answers(arm, *, n: int, declined: int, rated: int, helpful: int, first_words, removed, cost: str, extra=()):
    """``n`` finished answers of ``arm``: the first ``declined`` declined, the first ``rated``
    rated by their asker (the first ``helpful`` of those helpful); ``first_words`` and
    ``removed`` give each answer's value by index."""
    user = user_create()
    conversation = Conversation.objects.create(user=user)
    answers = Answer.objects.bulk_create(
        [
            Answer(
                conversation=conversation, question=f"q{i}", experiment_arm=arm,
                status=AnswerStatus.DECLINED if i < declined else AnswerStatus.ANSWERED,
                timings_ms={"first_token": first_words(i), "total": 2000},
                verification={"removed": removed(i), "claims": 3} if removed(i) is not None else {},
                cost=Decimal(cost),
            )
            for i in range(n)
        ]
    )  # fmt: skip
    Feedback.objects.bulk_create(
        [Feedback(answer=a, user=user, helpful=i < helpful) for i, a in enumerate(answers[:rated])]
    )
    for status in extra:  # not judged: an outage or an answer still being written
        Answer.objects.create(conversation=conversation, question="x", experiment_arm=arm, status=status,
                              cost=Decimal("5"), timings_ms={"first_token": 99999})  # fmt: skip
    return answers


def test_the_table_and_the_verdicts_from_answers_with_known_outcomes(experiment) -> None:
    arm_a, arm_b = experiment.arms.get(name="A"), experiment.arms.get(name="B")
    # A: helpful 30 of 60 rated, 20 of 100 declined, first words 900 or 1100 ms, one removed
    # sentence every other answer, 0.002 each.
    _answers(arm_a, n=100, declined=20, rated=60, helpful=30, first_words=lambda i: 900 if i % 2 else 1100,
             removed=lambda i: i % 2, cost="0.002")  # fmt: skip
    # B: helpful 54 of 60, 21 of 100 declined, first words 700 or 900 ms, nothing removed,
    # 0.003 each; plus a failed and a pending answer that must not count.
    _answers(arm_b, n=100, declined=21, rated=60, helpful=54, first_words=lambda i: 700 if i % 2 else 900,
             removed=lambda i: 0 if i >= 21 else None, cost="0.003",
             extra=(AnswerStatus.FAILED, AnswerStatus.PENDING))  # fmt: skip

    a, b = experiment_arm_stats(experiment_id=experiment.pk)
    assert (a.name, a.version, b.name, b.version) == ("A", "production", "B", "answer-v3")
    assert (a.answers, a.failed, a.rated, a.helpful, a.declined) == (100, 0, 60, 30, 20)
    assert (b.answers, b.failed, b.rated, b.helpful, b.declined) == (100, 1, 60, 54, 21)
    assert a.helpful_rate == 0.5 and b.helpful_rate == 0.9
    assert a.decline_rate == 0.2 and b.decline_rate == 0.21
    assert (a.checked, a.removed, a.removed_per_answer) == (100, 50, 0.5)
    assert (b.checked, b.removed, b.removed_per_answer) == (79, 0, 0.0)  # declines before a model wrote nothing
    assert a.first_words_ms == pytest.approx(1000) and b.first_words_ms == pytest.approx(800)
    assert a.cost_per_answer == pytest.approx(0.002) and b.cost_per_answer == pytest.approx(0.003)
    assert a.verdicts == []  # the control is what the others are compared with

    verdicts = {v.metric: v for v in b.verdicts}
    helpful = verdicts[ArmMetric.HELPFUL_RATE]
    # Pooled rate 84/120 = 0.7, standard error sqrt(0.7*0.3*(1/60+1/60)) = 0.0837, z = 0.4/0.0837 = 4.78.
    assert helpful.comparison.statistic == pytest.approx(4.781, abs=1e-3) and helpful.comparison.p_value < 0.001
    assert helpful.outcome == "better" and helpful.better is Better.HIGHER
    assert helpful.words == "Better: 40.0 points higher than A, p < 0.001 (higher is better)"
    decline = verdicts[ArmMetric.DECLINE_RATE]
    assert decline.outcome == "same" and decline.words.startswith("No significant difference (1.0 points higher")
    assert verdicts[ArmMetric.REMOVED].outcome == "better"
    first_words = verdicts[ArmMetric.FIRST_WORDS]
    assert first_words.outcome == "better" and first_words.words.startswith("Better: 200 ms lower than A")
    # Every answer of B costs more than every answer of A: worse, whatever else improved.
    cost = verdicts[ArmMetric.COST]
    assert cost.outcome == "worse" and cost.better is Better.LOWER and cost.comparison.p_value == 0.0

    # A stopped experiment keeps its numbers.
    experiment_stop(experiment_id=experiment.pk, actor=None)
    assert [s.answers for s in experiment_arm_stats(experiment_id=experiment.pk)] == [100, 100]


def test_below_the_minimum_sample_every_verdict_says_too_few(experiment) -> None:
    arm_a, arm_b = experiment.arms.get(name="A"), experiment.arms.get(name="B")
    _answers(arm_a, n=29, declined=0, rated=29, helpful=5, first_words=lambda i: 1000 + i, removed=lambda i: 0,
             cost="0.002")  # fmt: skip
    _answers(arm_b, n=40, declined=0, rated=40, helpful=40, first_words=lambda i: 100 + i, removed=lambda i: 0,
             cost="0.001")  # fmt: skip
    _, b = experiment_arm_stats(experiment_id=experiment.pk)
    assert {v.outcome for v in b.verdicts} == {"too_few"}
    helpful = next(v for v in b.verdicts if v.metric is ArmMetric.HELPFUL_RATE)
    assert helpful.words == "Too few to tell: 40 here and 29 in A, at least 30 each needed (higher is better)"


def test_an_arm_without_answers_and_an_unknown_experiment(experiment) -> None:
    a, b = experiment_arm_stats(experiment_id=experiment.pk)
    assert (a.answers, a.helpful_rate, a.first_words_ms, a.cost_per_answer) == (0, None, None, None)
    assert {v.outcome for v in b.verdicts} == {"too_few"}
    assert experiment_arm_stats(experiment_id=experiment.pk + 1000) == []
