"""answer_finish, the only writer of an answer's final state: what each ending writes and
what the reader is sent."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from providers.llm.base import ContextPassage
from qa.checks.high_stakes import StakesVerdict
from qa.models import Answer, AnswerStatus, Citation, ReviewItem, ReviewState
from qa.pipeline.finish import (
    CRASHED_REASON,
    Crashed,
    Declined,
    Delivered,
    Progress,
    answer_finish,
    answer_mark_streaming,
)
from qa.pipeline.orchestrator import answer_create
from qa.services.costs import AnswerSpend
from tests.factories import user_create

pytestmark = pytest.mark.django_db

PASSAGE = ContextPassage(1, 11, 1, "Travel Policy", "Hotels", None, "travel.md", "In London the limit is 260 euros.")


@pytest.fixture
def answer() -> Answer:
    return answer_create(user=user_create(), question="What is the hotel limit in London?")


def progress(**fields: Any) -> Progress:
    return Progress(started=time.perf_counter() - 0.5, **fields)


def test_a_decline_stores_its_reason_and_what_the_stages_recorded(answer: Answer, recorder) -> None:
    searched = {"question": answer.question, "closest": ["Travel Policy"]}
    route = {"tier": "explicit", "chain": ["scripted"], "reason": "explicit providers"}
    finished = answer_finish(
        answer=answer, emit=recorder, outcome=Declined(reason="Not in the documents.", provider="scripted", model="m-1"),
        progress=progress(timings={"retrieval": 12.5}, searched=searched, high_stakes=("medical",), route=route,
                          spend=AnswerSpend(tokens_in=100, tokens_out=7, cost=Decimal("0.0021"))),
    )  # fmt: skip
    stored = Answer.objects.get(pk=answer.pk)
    assert stored.status == AnswerStatus.DECLINED and stored.decline_reason == "Not in the documents."
    assert stored.text == "" and (stored.provider, stored.model) == ("scripted", "m-1")
    assert stored.searched == searched and stored.high_stakes == ["medical"] and stored.route == route
    assert (stored.tokens_in, stored.tokens_out, stored.cost) == (100, 7, Decimal("0.0021"))
    # Nothing was shown before the decline: its first words are its total.
    assert stored.timings_ms["retrieval"] == 12.5
    assert stored.timings_ms["first_token"] == stored.timings_ms["total"] >= 500
    assert recorder.events == [("qa.final", recorder.events[0][1])] and recorder.events[0][1]["status"] == "declined"
    assert finished.status == AnswerStatus.DECLINED


def test_a_held_answer_opens_a_review_item_and_is_not_cached(answer: Answer, monkeypatch, recorder) -> None:
    cached: list[int] = []
    monkeypatch.setattr("qa.pipeline.finish.cache_store", lambda *, answer, embedding: cached.append(answer.pk))
    stakes = StakesVerdict(topics=["medical"], reasons=["medical: mentions 'dose'"])
    answer_finish(
        answer=answer, emit=recorder, progress=progress(timings={"retrieval": 1.0, "first_token": 1.0}),
        outcome=Delivered(
            text="In London the limit is 260 euros [1].", cited=(PASSAGE,), held=True, stakes=stakes, notice="",
            provider="scripted", model="m-1", fallback_used=False, errors=(), trust={"confidence": 0.9},
            cache_vector=None,
        ),
    )  # fmt: skip
    stored = Answer.objects.get(pk=answer.pk)
    assert stored.status == AnswerStatus.HELD and stored.review_state == ReviewState.PENDING
    assert stored.text == "In London the limit is 260 euros [1]." and stored.confidence == 0.9
    item = ReviewItem.objects.get(answer=answer)
    assert item.held and item.topics == ["medical"] and item.detail == "medical: mentions 'dose'"
    assert list(Citation.objects.filter(answer=answer).values_list("n", "quote")) == [(1, PASSAGE.text)]
    assert cached == []
    # The reader's payload withholds a held answer's text until a reviewer approves it.
    assert recorder.events[-1][0] == "qa.final" and recorder.events[-1][1]["answer"] == ""


def test_a_crash_ends_a_pending_answer_as_failed_with_a_reason(answer: Answer, recorder) -> None:
    answer_finish(answer=answer, outcome=Crashed(error="RuntimeError: boom"), emit=recorder)
    stored = Answer.objects.get(pk=answer.pk)
    assert (stored.status, stored.decline_reason, stored.error) == (
        AnswerStatus.FAILED, CRASHED_REASON, "RuntimeError: boom",
    )  # fmt: skip
    assert recorder.events == [("qa.failed", {"message": CRASHED_REASON})]


def test_a_crash_after_the_final_write_keeps_the_answer_and_sends_it(answer: Answer, recorder) -> None:
    answer_finish(answer=answer, outcome=Declined(reason="Not in the documents."), emit=lambda *_: None)
    answer_finish(answer=answer, outcome=Crashed(error="RuntimeError: boom"), emit=recorder)
    stored = Answer.objects.get(pk=answer.pk)
    assert stored.status == AnswerStatus.DECLINED and stored.error == ""
    assert [event for event, _ in recorder.events] == ["qa.final"]


def test_marking_an_answer_streaming_stores_its_route(answer: Answer) -> None:
    answer_mark_streaming(
        answer_id=answer.pk,
        route={"tier": "small"},
        high_stakes=["legal"],
        prompt_key="answer-v2",
        data_class="internal",
    )
    stored = Answer.objects.get(pk=answer.pk)
    assert (stored.status, stored.route, stored.high_stakes) == (AnswerStatus.STREAMING, {"tier": "small"}, ["legal"])
    assert stored.prompt_key == "answer-v2"


def test_a_retried_answer_starts_again_from_its_first_prompt_version(answer: Answer) -> None:
    # A first run fell back to answer_strict-v1, then the task was retried (a database outage).
    Answer.objects.filter(pk=answer.pk).update(prompt_key="answer_strict-v1", prompt_fallback_used=True)
    answer_mark_streaming(
        answer_id=answer.pk, route={"tier": "small"}, high_stakes=[], prompt_key="answer-v2", data_class="internal"
    )
    stored = Answer.objects.get(pk=answer.pk)
    assert (stored.prompt_key, stored.prompt_fallback_used) == ("answer-v2", False)
