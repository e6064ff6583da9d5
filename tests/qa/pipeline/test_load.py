"""The load stage: the question counted, embedded and looked up among reusable answers, once."""

from __future__ import annotations

import pytest

from qa.models import AnswerStatus, UsageCounter
from qa.pipeline.deps import pipeline_deps
from qa.pipeline.load import Prepared, answer_load
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.services.budgets import BudgetLevel

pytestmark = pytest.mark.django_db

LONDON = "What is the hotel limit in London?"


def questions_counted(user) -> int:
    return UsageCounter.objects.get(scope__startswith=f"user:{user.pk}:").questions


def test_loading_says_it_is_searching_counts_the_question_and_embeds_it(reader, stages, recorder) -> None:
    loaded = stages.load(reader, LONDON, pipeline_deps(emit=recorder))
    assert recorder.events == [("qa.status", {"stage": "searching", "message": "Searching your documents…"})]
    assert questions_counted(reader) == 1
    assert len(loaded.prepared.vector) == 384 and loaded.prepared.budget_level == BudgetLevel.OK
    assert loaded.reusable is None


def test_a_prepared_answer_is_neither_counted_nor_embedded_again(reader, stages, recorder) -> None:
    first = stages.load(reader, LONDON, pipeline_deps(emit=lambda *_: None))
    prepared = Prepared.from_dict(first.prepared.as_dict())  # through a Celery message and back
    assert prepared == first.prepared
    again = answer_load(answer=first.answer, deps=pipeline_deps(emit=recorder), collection_ids=None, prepared=prepared)
    assert again.prepared == prepared and recorder.events == []
    assert questions_counted(reader) == 1


def test_a_verified_answer_to_the_same_question_is_reused_at_load(reader, stages) -> None:
    first = answer_create(user=reader, question=LONDON)
    assert answer_run(answer_id=first.pk, emit=lambda *_: None).status == AnswerStatus.ANSWERED
    loaded = stages.load(reader, LONDON + " ", pipeline_deps(emit=lambda *_: None))
    assert loaded.reusable is not None and loaded.reusable.source_answer_id == first.pk
