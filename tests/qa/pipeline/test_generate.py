"""The generate stage: the reader follows the model's words; the calls are priced."""

from __future__ import annotations

import pytest

from qa.models import Answer, AnswerStatus, Interaction
from qa.pipeline.deps import pipeline_deps
from qa.pipeline.generate import answer_generate
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db

LONDON = "What is the hotel limit in London?"
LONDON_ANSWER = "In London the limit is 260 euros per night [1]."


def test_generation_streams_marks_the_answer_and_prices_the_calls(reader, stages, recorder) -> None:
    failing = ScriptedProvider(LONDON_ANSWER, name="first", fail_after=3)
    deps = pipeline_deps(emit=recorder, providers=[failing, ScriptedProvider(LONDON_ANSWER, name="second")])
    up = stages.plan(reader, LONDON, deps)
    generated = answer_generate(loaded=up.loaded, retrieved=up.retrieved, verdict=up.verdict, plan=up.plan, deps=deps)
    assert generated.result is not None and generated.result.text == LONDON_ANSWER
    assert generated.result.fallback_used and generated.first_token_ms is not None
    stored = Answer.objects.get(pk=up.loaded.answer.pk)
    assert stored.status == AnswerStatus.STREAMING and stored.route == up.plan.route
    assert recorder.types()[1:3] == ["qa.sources", "qa.status"]
    # The first model's words are discarded; what follows the reset is the second model's answer.
    after_reset = recorder.types().index("qa.reset")
    assert "".join(p["text"] for e, p in recorder.events[after_reset:] if e == "qa.token") == LONDON_ANSWER
    calls = Interaction.objects.filter(answer_id=up.loaded.answer.pk)
    assert generated.spend.tokens_in == sum(c.tokens_in for c in calls) == 200


def test_when_every_model_fails_generation_says_why(reader, stages) -> None:
    deps = pipeline_deps(emit=lambda *_: None, providers=[ScriptedProvider(LONDON_ANSWER, fail_after=0, error="down")])
    up = stages.plan(reader, LONDON, deps)
    generated = answer_generate(loaded=up.loaded, retrieved=up.retrieved, verdict=up.verdict, plan=up.plan, deps=deps)
    assert generated.result is None and generated.failure == "scripted: down"
    assert generated.first_token_ms is None
