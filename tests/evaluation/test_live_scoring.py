"""Automated scores of live answers (issue #15, point 5): real answers and chunks in the database,
the real embedding model, a loopback judge."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from evaluation.models import AnswerScore, ScoreMethod
from evaluation.selectors import score_series
from evaluation.services.live_scoring import Judge, answer_score, live_score_run, live_score_sample
from ingestion.models import Chunk
from providers.registry import embedding_provider_default
from qa.models import Answer, AnswerStatus, Citation, Conversation, Interaction
from tests.helpers import JudgeServer

pytestmark = pytest.mark.django_db

SUPPORTED = "In London the limit is 260 euros per night [1]."
INVENTED = "Taxis to the airport are covered up to 90 euros [1]."


def _answer(user: Any, *, text: str, chunk: Chunk, days_ago: int = 1, data_class: str = "internal",
            status: str = AnswerStatus.ANSWERED, question: str = "What is the hotel limit in London?") -> Answer:  # fmt: skip
    conversation = Conversation.objects.create(user=user, title="t")
    answer = Answer.objects.create(conversation=conversation, question=question, status=status, text=text,
                                   data_class=data_class)  # fmt: skip
    Answer.objects.filter(pk=answer.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    Citation.objects.create(answer=answer, n=1, chunk_id=chunk.pk, document_id=chunk.document_id, title="Travel",
                            source_name="travel.md", quote=chunk.text[:100])  # fmt: skip
    answer.refresh_from_db()
    return answer


@pytest.fixture
def hotel_chunk(staff: Any) -> tuple[Any, Chunk]:
    user, _, docs = staff
    chunk = next(c for c in Chunk.objects.filter(document=docs["travel"]) if "London" in c.text)
    return user, chunk


def test_a_supported_relevant_answer_scores_high_and_an_invented_sentence_lowers_support(hotel_chunk) -> None:
    user, chunk = hotel_chunk
    embedder = embedding_provider_default()
    good = answer_score(answer_id=_answer(user, text=SUPPORTED, chunk=chunk).pk, embedder=embedder)
    mixed = answer_score(answer_id=_answer(user, text=f"{SUPPORTED} {INVENTED}", chunk=chunk).pk, embedder=embedder)
    assert good is not None and mixed is not None
    assert good.support == 1.0 and good.citation_precision == 1.0
    assert mixed.support == 0.5 and mixed.citation_precision == 0.5
    assert good.relevance > 0.5
    assert good.method == ScoreMethod.EVIDENCE and good.judge_faithfulness is None
    assert good.overall > mixed.overall
    # The score outlives the answer (retention, erasure): none of its words are kept with it.
    assert "London" not in json.dumps(good.detail) and "Taxis" not in json.dumps(mixed.detail)


def test_scoring_is_idempotent_per_answer(hotel_chunk) -> None:
    user, chunk = hotel_chunk
    answer = _answer(user, text=SUPPORTED, chunk=chunk)
    embedder = embedding_provider_default()
    first = live_score_run(embedder=embedder, share=1.0, minimum=0)
    second = live_score_run(embedder=embedder, share=1.0, minimum=0)
    assert first["scored"] == 1 and second["sampled"] == 0
    assert answer_score(answer_id=answer.pk, embedder=embedder).pk == AnswerScore.objects.get().pk


def test_the_sample_is_a_share_of_yesterdays_answered_answers_with_a_minimum(hotel_chunk) -> None:
    user, chunk = hotel_chunk
    yesterday = [_answer(user, text=SUPPORTED, chunk=chunk).pk for _ in range(30)]
    _answer(user, text=SUPPORTED, chunk=chunk, days_ago=0)  # today: not yet
    _answer(user, text="", chunk=chunk, status=AnswerStatus.DECLINED)  # declined: nothing to score
    day = (timezone.localtime() - timedelta(days=1)).date()
    assert len(live_score_sample(day=day, share=0.1, minimum=5)) == 5
    assert len(live_score_sample(day=day, share=0.5, minimum=5)) == 15
    assert set(live_score_sample(day=day, share=0.1, minimum=100)) == set(yesterday)
    assert live_score_sample(day=day, share=0.1, minimum=5) == live_score_sample(day=day, share=0.1, minimum=5)


def test_a_judge_scores_internal_answers_but_never_sees_a_restricted_one(hotel_chunk) -> None:
    user, chunk = hotel_chunk
    judge_server = JudgeServer(json.dumps({"scores": [[0.9]], "relevance": 0.8}))
    try:
        judge = Judge(url=judge_server.url, model="judge-1", api_key="", external=True)
        embedder = embedding_provider_default()
        internal = answer_score(answer_id=_answer(user, text=SUPPORTED, chunk=chunk).pk, embedder=embedder,
                                judge=judge)  # fmt: skip
        calls = len(judge_server.prompts)
        restricted = answer_score(
            answer_id=_answer(user, text=SUPPORTED, chunk=chunk, data_class="restricted").pk, embedder=embedder,
            judge=judge,
        )  # fmt: skip
    finally:
        judge_server.close()
    assert internal is not None and restricted is not None
    assert calls == 2  # support, then relevance
    assert internal.method == ScoreMethod.JUDGE
    assert internal.judge_faithfulness == 1.0 and internal.judge_relevance == 0.8
    assert len(judge_server.prompts) == calls  # nothing more went out for the restricted answer
    assert restricted.method == ScoreMethod.EVIDENCE and restricted.judge_faithfulness is None
    assert "restricted" in restricted.detail["judge"]
    # Both judge calls are the answer's model calls in the interaction log, as in the pipeline.
    logged = Interaction.objects.filter(provider="judge")
    assert sorted(i.answer_id for i in logged) == [internal.answer_id] * 2
    keys = {i.prompt_key for i in logged}
    assert "live-score-relevance" in keys and len(keys) == 2


def test_score_series_gives_daily_means(hotel_chunk) -> None:
    user, chunk = hotel_chunk
    embedder = embedding_provider_default()
    for days_ago, text in ((1, SUPPORTED), (1, f"{SUPPORTED} {INVENTED}"), (2, SUPPORTED)):
        answer_score(answer_id=_answer(user, text=text, chunk=chunk, days_ago=days_ago).pk, embedder=embedder)
    now = timezone.now()
    series = score_series(since=now - timedelta(days=5), until=now)
    assert [row["answers"] for row in series] == [1, 2]
    assert series[0]["support"] == 1.0 and series[1]["support"] == 0.75
    assert series[0]["bucket"] < series[1]["bucket"]
    assert series[1]["judge_faithfulness"] is None
