"""An exception anywhere in the pipeline ends the answer as failed, with a reason for the
reader, whichever of the six callers ran it: never an answer left pending or streaming."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client

from evaluation.services.runs import eval_run
from ingestion.models import Collection
from providers.embeddings.base import EmbeddingProvider
from qa.models import Answer, AnswerStatus, FaqEntry
from qa.pipeline.finish import CRASHED_REASON
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.pipeline.precompute import precompute_run
from qa.tasks import generate_answer
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db

QUESTION = "What is the hotel limit in London?"


class BrokenEmbedder(EmbeddingProvider):
    """An embedding model that fails on every call (a missing model file, an out-of-memory)."""

    name = "broken"
    dimensions = 384

    def _embed(self, texts: list[str]) -> Sequence[Sequence[float]]:
        raise RuntimeError("embedding model unavailable")


@pytest.fixture
def broken_default_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The callers that take no embedder get the broken one as the configured default."""
    monkeypatch.setattr("qa.pipeline.deps.embedding_provider_default", BrokenEmbedder)


def _assert_failed_with_a_reason(answer: Answer) -> None:
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.FAILED
    assert answer.decline_reason == CRASHED_REASON
    assert answer.error == "RuntimeError: embedding model unavailable"


def test_the_celery_task_ends_the_answer_failed(reader, broken_default_embedder) -> None:
    answer = answer_create(user=reader, question=QUESTION)
    assert generate_answer.apply(args=(answer.pk,)).get() == "failed"
    _assert_failed_with_a_reason(answer)


def test_the_rest_ask_api_answers_with_the_failed_answer(reader, broken_default_embedder, client: Client) -> None:
    client.force_login(reader)
    response = client.post("/api/ask/", {"question": QUESTION}, content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed" and body["decline_reason"] == CRASHED_REASON
    _assert_failed_with_a_reason(Answer.objects.get(pk=body["id"]))


@pytest.mark.django_db(transaction=True)  # the pipeline runs on its own thread and connection
def test_the_sse_ask_api_sends_a_failure_event(reader, broken_default_embedder, client: Client) -> None:
    client.force_login(reader)
    response = client.post("/api/ask/stream/", {"question": QUESTION}, content_type="application/json")
    blocks = b"".join(response.streaming_content).decode().strip().split("\n\n")
    last_event, last_data = blocks[-1].split("\n", 1)
    assert last_event == "event: qa.failed"
    assert json.loads(last_data.removeprefix("data: ")) == {"message": CRASHED_REASON}
    _assert_failed_with_a_reason(Answer.objects.get(conversation__user=reader))


def test_the_ask_command_prints_the_reason(reader, broken_default_embedder) -> None:
    out = io.StringIO()
    call_command("ask", QUESTION, "--user", reader.username, stdout=out)
    assert CRASHED_REASON in out.getvalue()
    _assert_failed_with_a_reason(Answer.objects.get(conversation__user=reader))


def test_precompute_counts_the_question_as_not_stored_and_goes_on(reader) -> None:
    handbook = Collection.objects.get(name="Handbook")
    FaqEntry.objects.create(question=QUESTION, collection=handbook)
    FaqEntry.objects.create(question="How much are meals covered per day?", collection=handbook)
    report = precompute_run(embedder=BrokenEmbedder())
    assert (report.considered, report.stored, report.not_verified) == (2, 0, 2)
    for answer in Answer.objects.filter(conversation__user__username="verity-precompute"):
        _assert_failed_with_a_reason(answer)


def test_an_evaluation_run_records_the_failure_and_goes_on(reader) -> None:
    items = [
        {"id": f"t-{n}", "type": "factoid", "question": question, "answer": "", "must_contain_any": [],
         "sources": [], "paraphrase_of": None}
        for n, question in enumerate((QUESTION, "How much are meals covered per day?"))
    ]  # fmt: skip
    report = eval_run(items=items, collections=[Collection.objects.get(name="Handbook")], embedder=BrokenEmbedder())
    assert [item["status"] for item in report.items] == ["failed", "failed"]
    assert [item["decline_reason"] for item in report.items] == [CRASHED_REASON, CRASHED_REASON]


def test_an_error_the_caller_retries_leaves_the_answer_pending(reader, monkeypatch: pytest.MonkeyPatch) -> None:
    def database_gone(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("qa.pipeline.load.budget_check", database_gone)
    answer = answer_create(user=reader, question=QUESTION)
    with pytest.raises(OperationalError):
        answer_run(answer_id=answer.pk, emit=lambda *_: None, retry_on=(OperationalError,))
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.PENDING
    # Without the retry, the same error ends the answer as failed.
    answer_run(answer_id=answer.pk, emit=lambda *_: None)
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.FAILED and answer.error.startswith("OperationalError: server closed")


def test_a_failure_after_the_final_write_keeps_the_final_answer(reader, monkeypatch: pytest.MonkeyPatch) -> None:
    def cache_down(**kwargs: object) -> None:
        raise RuntimeError("cache table locked")

    monkeypatch.setattr("qa.pipeline.finish.cache_store", cache_down)
    events: list[str] = []
    answer = answer_create(user=reader, question=QUESTION)
    answer = answer_run(answer_id=answer.pk, emit=lambda event, payload: events.append(event))
    assert answer.status == AnswerStatus.ANSWERED and "260" in answer.text
    assert events[-1] == "qa.final" and "qa.failed" not in events


def test_a_failure_after_the_model_answered_keeps_what_the_calls_cost(reader, monkeypatch: pytest.MonkeyPatch) -> None:
    def verifier_down(**kwargs: object) -> None:
        raise RuntimeError("verifier crashed")

    monkeypatch.setattr("qa.pipeline.check.answer_verify", verifier_down)
    answer = answer_create(user=reader, question=QUESTION)
    provider = ScriptedProvider("In London the limit is 260 euros per night [1].")
    answer = answer_run(answer_id=answer.pk, emit=lambda *_: None, providers=[provider])
    assert (answer.status, answer.error) == (AnswerStatus.FAILED, "RuntimeError: verifier crashed")
    assert (answer.tokens_in, answer.tokens_out) == (100, 10)  # the scripted model counts words
