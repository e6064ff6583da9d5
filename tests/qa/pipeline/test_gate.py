"""The gate stage: whether the passages may answer the question, and how."""

from __future__ import annotations

import pytest
from django.test import override_settings

from ingestion.models import Collection, HighStakesPolicy
from qa.models import AnswerStatus
from qa.pipeline.deps import pipeline_deps
from qa.pipeline.orchestrator import answer_create, answer_run

pytestmark = pytest.mark.django_db


def test_a_question_the_documents_do_not_answer_is_stopped(reader, stages) -> None:
    _, _, verdict = stages.gate(reader, "Who won the football world cup in 1986?", pipeline_deps(emit=lambda *_: None))
    assert not verdict.evidence.sufficient
    assert verdict.evidence.reason.startswith("The closest passages are not similar enough to the question")


@pytest.mark.parametrize(
    ("policy", "held", "topics"),
    [(HighStakesPolicy.HOLD, True, ["legal"]), (HighStakesPolicy.NOTICE, False, ["legal"]),
     (HighStakesPolicy.OFF, False, [])],
)  # fmt: skip
def test_the_collections_policy_decides_whether_a_high_stakes_answer_waits_for_a_reviewer(
    reader, stages, policy: HighStakesPolicy, held: bool, topics: list[str]
) -> None:
    Collection.objects.filter(name="Handbook").update(high_stakes_policy=policy)
    question = "Is it legal to exceed the hotel limit in London?"
    _, _, verdict = stages.gate(reader, question, pipeline_deps(emit=lambda *_: None))
    assert verdict.evidence.sufficient
    assert (verdict.held, verdict.high_stakes) == (held, topics)


def test_a_cached_answer_is_confirmed_by_the_passages_only_when_caching_is_on(reader, stages) -> None:
    first = answer_create(user=reader, question="What is the hotel limit in London?")
    assert answer_run(answer_id=first.pk, emit=lambda *_: None).status == AnswerStatus.ANSWERED
    paraphrase = "How much may a hotel night in London cost?"
    _, _, verdict = stages.gate(reader, paraphrase, pipeline_deps(emit=lambda *_: None))
    assert verdict.reusable is not None and verdict.reusable.source_answer_id == first.pk
    with override_settings(QA_CACHE_ENABLED=False):
        _, _, verdict = stages.gate(reader, paraphrase, pipeline_deps(emit=lambda *_: None))
    assert verdict.evidence.sufficient and verdict.reusable is None
