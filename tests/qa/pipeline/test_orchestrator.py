"""The answer pipeline end to end (real embedding model; language models are test doubles
or the built-in extractive provider)."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from providers.llm.base import ContextPassage
from providers.registry import embedding_provider_default, llm_chain_default
from qa.checks.verification import EvidenceVerifier, answer_verify
from qa.models import AnswerStatus, Citation, Interaction
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.presenters import answer_payload
from qa.services.rendering import answer_html
from tests.helpers import Recorder
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db


def test_extractive_answer_is_grounded_cited_and_logged(reader) -> None:
    answer = answer_create(user=reader, question="What is the hotel limit in London?")
    events = Recorder()
    answer = answer_run(answer_id=answer.pk, emit=events)
    assert answer.status == AnswerStatus.ANSWERED
    assert "260 euros" in answer.text and "[1]" in answer.text
    types = events.types()
    # Progress at once, sources before the model starts, then tokens, then the final render.
    assert types[0] == "qa.status" and types.index("qa.sources") < types.index("qa.token") < types.index("qa.final")
    assert types.count("qa.token") >= 5
    citation = Citation.objects.get(answer=answer, n=1)
    assert citation.title == "Travel Policy" and citation.source_name == "travel.md" and "260" in citation.quote
    interaction = Interaction.objects.get(answer=answer)
    assert interaction.provider == "extractive" and interaction.model == "verity-extractive-1"
    assert "London" in interaction.prompt["messages"][-1]["content"]
    assert interaction.response.startswith(answer.text.split(" [")[0][:20])
    assert interaction.tokens_in > 0 and interaction.first_token_ms is not None
    payload = answer_payload(answer)
    assert set(payload["timings_ms"]) >= {"retrieval", "first_token", "total"}
    assert payload["citations"][0]["source"] == "travel.md"


def test_question_outside_the_documents_is_declined_with_what_was_searched(reader) -> None:
    answer = answer_create(user=reader, question="Who won the football world cup in 1986?")
    answer = answer_run(answer_id=answer.pk, emit=Recorder())
    assert answer.status == AnswerStatus.DECLINED
    assert answer.searched["question"] == "Who won the football world cup in 1986?"
    assert answer.searched["closest"] == ["Travel Policy"]
    assert not Interaction.objects.filter(answer=answer).exists()  # no model call for a decline


@pytest.mark.parametrize(
    ("question", "message"), [("", "type a question"), ("   \n", "type a question"), ("x" * 4001, "limit is 4,000")]
)
def test_bad_questions_get_a_clear_message(reader, question: str, message: str) -> None:
    with pytest.raises(ApplicationError, match=message):
        answer_create(user=reader, question=question)


def test_citations_to_passages_not_given_are_dropped_and_sentences_recited() -> None:
    texts = {1: "Alpha ships on Mondays.", 2: "Beta ships on Tuesdays.", 3: "Gamma ships on Fridays."}
    passages = [ContextPassage(n, n, 1, "T", "", None, "s.md", t) for n, t in texts.items()]
    verifier = EvidenceVerifier(embedder=embedding_provider_default())
    result = answer_verify(
        text="Alpha ships on Mondays [1]. Beta ships on Tuesdays [7]. Gamma ships on Fridays [3][2].",
        passages=passages, verifier=verifier,
    )  # fmt: skip
    assert result.text == "Alpha ships on Mondays [1]. Beta ships on Tuesdays [2]. Gamma ships on Fridays [3]."
    assert result.dropped_citations == [7]
    assert result.cited_numbers() == [1, 2, 3]


def test_model_that_cites_a_missing_passage_is_corrected(reader) -> None:
    model = ScriptedProvider("London hotels are covered up to 260 euros [1]. Also see [7].")
    answer = answer_run(
        answer_id=answer_create(user=reader, question="hotel limit London?").pk, emit=Recorder(), providers=[model]
    )
    assert "[7]" not in answer.text and "[1]" in answer.text
    assert list(answer.citations.values_list("n", flat=True)) == [1]


def test_fallback_answers_when_the_primary_fails_and_the_page_is_told(reader) -> None:
    primary = ScriptedProvider("never", name="primary", fail_after=0, error="the endpoint timed out after 30 s")
    chain = [primary, *llm_chain_default()]
    events = Recorder()
    answer = answer_run(
        answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk,
        emit=events,
        providers=chain,
    )
    assert answer.status == AnswerStatus.ANSWERED and answer.fallback_used and answer.provider == "extractive"
    outcomes = list(
        Interaction.objects.filter(answer=answer).order_by("created_at").values_list("provider", "outcome", "error")
    )
    assert outcomes[0] == ("primary", "error", "the endpoint timed out after 30 s")
    assert outcomes[1][:2] == ("extractive", "ok")
    final = dict(events.events)["qa.final"]
    assert final["fallback_used"] is True


def test_failure_mid_stream_resets_the_text_then_falls_back(reader) -> None:
    primary = ScriptedProvider(
        "London hotels cost up to many euros", name="primary", fail_after=3, error="stream broke"
    )
    events = Recorder()
    answer = answer_run(
        answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk,
        emit=events,
        providers=[primary, *llm_chain_default()],
    )
    assert "qa.reset" in events.types()
    assert answer.status == AnswerStatus.ANSWERED and "260" in answer.text and "many euros" not in answer.text


def test_all_providers_failing_gives_an_honest_failure(reader) -> None:
    dead = [ScriptedProvider("x", name=f"dead{i}", fail_after=0) for i in range(2)]
    answer = answer_run(
        answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk,
        emit=Recorder(),
        providers=dead,
    )
    assert answer.status == AnswerStatus.FAILED
    assert "try again" in answer.decline_reason
    assert Interaction.objects.filter(answer=answer, outcome="error").count() == 2


def test_hostile_text_is_rendered_inert() -> None:
    html = answer_html(
        text="Hi <script>alert(1)</script> <img src=x onerror=alert(2)> **bold** [1] [9]",
        citation_urls={1: "/chat/a/1/source/1/"},
    )
    assert "<script" not in html and "onerror" not in html
    assert "<strong>bold</strong>" in html and 'href="/chat/a/1/source/1/"' in html and "[9]" not in html


def test_follow_up_uses_the_conversation(reader) -> None:
    first = answer_create(user=reader, question="What is the hotel limit in London?")
    answer_run(answer_id=first.pk, emit=Recorder())
    follow = answer_create(user=reader, question="and for meals?", conversation_id=first.conversation_id)
    assert follow.standalone_question == "What is the hotel limit in London? and for meals?"
    other = answer_create(
        user=reader, question="Is alcohol reimbursed when travelling?", conversation_id=first.conversation_id
    )
    assert other.standalone_question == "Is alcohol reimbursed when travelling?"


def test_a_user_cannot_post_into_another_users_conversation(reader) -> None:
    from tests.factories import user_create

    first = answer_create(user=reader, question="What is the hotel limit in London?")
    intruder = user_create(username="intruder")
    with pytest.raises(ApplicationError, match="does not exist"):
        answer_create(user=intruder, question="hi there", conversation_id=first.conversation_id)


@pytest.mark.parametrize(
    ("script", "error"),
    [(["500", "500", "500"], "HTTP 500"), (["401"], "API key"), (["malformed"], "malformed stream")],
)
def test_real_openai_provider_failures_fall_back_and_are_logged(reader, script: list[str], error: str) -> None:
    from providers.llm.openai_compatible import OpenAICompatibleProvider
    from tests.qa.fakes import FakeOpenAIServer

    with FakeOpenAIServer(script=script) as server:
        primary = OpenAICompatibleProvider(base_url=server.url, model_id="pinned-1", timeout_s=5, backoff_s=0.01)
        answer = answer_run(
            answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk,
            emit=Recorder(),
            providers=[primary, *llm_chain_default()],
        )
    assert answer.status == AnswerStatus.ANSWERED and answer.fallback_used and answer.provider == "extractive"
    failed = Interaction.objects.get(answer=answer, provider="openai_compatible")
    assert failed.outcome == "error" and error in failed.error and failed.model == "pinned-1"
    assert failed.prompt["messages"][0]["role"] == "system"
