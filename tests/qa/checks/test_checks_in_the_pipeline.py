"""The checks (verification, citation repair, confidence, declines, high-stakes notice) as a
user meets them through the whole pipeline. The embedding model is the real one; language
models are test doubles at the gateway (ScriptedProvider) or the built-in extractive provider.
Unit tests of the checks themselves are in test_verification.py and its neighbours."""

from __future__ import annotations

import re

import pytest

from ingestion.models import Collection
from qa.models import AnswerStatus, Interaction, ReviewItem
from qa.presenters import answer_payload
from tests.helpers import Recorder, ask
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db


def _passage_number(answer, title: str) -> int:
    request = Interaction.objects.filter(answer=answer).first()
    assert request is not None
    content = request.prompt["messages"][-1]["content"]
    for number, passage_title in re.findall(r'<passage id="(\d+)" title="([^"]*)"', content):
        if title in passage_title:
            return int(number)
    raise AssertionError(f"no passage titled {title!r} in the prompt")


# ------------------------------------------------------------------ verification


def test_an_invented_number_is_removed_before_the_user_sees_the_answer(staff) -> None:
    user, _, _ = staff
    model = ScriptedProvider(
        "In London the hotel limit is 260 euros per night [1]. In Paris the hotel limit is 410 euros per night [1]."
    )
    answer = ask(user, "What is the hotel limit in London?", providers=[model])
    assert answer.status == AnswerStatus.ANSWERED
    assert "260 euros" in answer.text and "410" not in answer.text
    removed = [s for s in answer.verification["sentences"] if s["action"] == "removed"]
    assert len(removed) == 1 and "410" in removed[0]["text"]
    assert any("number 410" in issue for issue in removed[0]["issues"])
    payload = answer_payload(answer)
    assert payload["verification"]["removed"] == 1 and "410" not in payload["html"]
    assert payload["confidence"]["level"] == "medium"
    assert "removed" in payload["confidence"]["reason"]


def test_an_answer_with_nothing_supported_is_declined(staff) -> None:
    user, _, _ = staff
    model = ScriptedProvider("The hotel limit in London is 999 euros per night, set by Margarethe Quillfeather [1].")
    answer = ask(user, "What is the hotel limit in London?", providers=[model])
    assert answer.status == AnswerStatus.DECLINED
    assert "could not verify" in answer.decline_reason
    assert answer.text == "" and not answer.citations.exists()


def test_a_negated_copy_of_the_source_is_caught(staff) -> None:
    user, _, _ = staff
    model = ScriptedProvider(
        "Meals are covered up to 55 euros per day while travelling [1]. Alcohol is reimbursed [1]."
    )
    answer = ask(user, "Are meals and alcohol covered when travelling?", providers=[model])
    assert answer.status == AnswerStatus.ANSWERED
    assert "55 euros" in answer.text
    assert "Alcohol is reimbursed" not in answer.text


def test_a_citation_to_a_passage_not_given_is_removed(staff) -> None:
    user, _, _ = staff
    model = ScriptedProvider("In London the hotel limit is 260 euros per night [7].")
    answer = ask(user, "What is the hotel limit in London?", providers=[model])
    given = len(model.requests[0].passages)
    assert given >= 3, "the test needs at least three passages in the prompt"
    assert "[7]" not in answer.text
    assert answer.verification["dropped_citations"] == [7]
    # The sentence is supported, so it gets the passage that supports it.
    cited = list(answer.citations.values_list("title", flat=True))
    assert cited == ["Travel Policy"]
    assert answer.verification["sentences"][0]["action"] == "cited"


def test_a_sentence_citing_the_wrong_passage_is_recited(staff) -> None:
    user, _, _ = staff
    probe = ScriptedProvider("probe")
    first = ask(user, "What is the bicycle allowance and the hotel limit in London?", providers=[probe])
    hotel_n = _passage_number(first, "Travel Policy")
    bike_n = _passage_number(first, "Benefits")
    model = ScriptedProvider(
        f"Staff who cycle to work receive a bicycle allowance of 30 euros per month [{hotel_n}]. "
        f"In London the hotel limit is 260 euros per night [{hotel_n}]."
    )
    answer = ask(user, "What is the bicycle allowance and the hotel limit in London?", providers=[model])
    sentences = answer.verification["sentences"]
    assert sentences[0]["action"] == "recited" and sentences[0]["citations"] == [bike_n]
    assert sentences[1]["action"] == "kept" and sentences[1]["citations"] == [hotel_n]
    assert f"30 euros per month [{bike_n}]" in answer.text
    assert {c.title for c in answer.citations.all()} == {"Benefits", "Travel Policy"}


def test_mark_policy_keeps_unsupported_sentences_visibly_marked(staff) -> None:
    user, collection, _ = staff
    Collection.objects.filter(pk=collection.pk).update(unsupported_policy="mark")
    model = ScriptedProvider(
        "In London the hotel limit is 260 euros per night [1]. In Paris the hotel limit is 410 euros per night [1]."
    )
    answer = ask(user, "What is the hotel limit in London?", providers=[model])
    assert "410 euros per night [1]. *(not supported by the sources)*" in answer.text


def test_sentence_stream_mode_never_streams_an_unsupported_sentence(staff, settings) -> None:
    settings.QA_STREAM_MODE = "sentence"
    user, _, _ = staff
    model = ScriptedProvider(
        "In London the hotel limit is 260 euros per night [1]. In Paris the hotel limit is 410 euros per night [1]. "
        "Meals are covered up to 55 euros per day [1]."
    )
    recorder = Recorder()
    answer = ask(user, "What are the hotel and meal limits?", providers=[model], recorder=recorder)
    streamed = recorder.tokens()
    assert "260 euros" in streamed and "55 euros" in streamed
    assert "410" not in streamed and "410" not in answer.text


# ------------------------------------------------------------------ declines and confidence


def test_a_question_about_a_name_the_documents_never_mention_is_declined(staff) -> None:
    user, _, _ = staff
    answer = ask(user, "What is the hotel limit set by travel_policy.fetch_limits() for London?")
    assert answer.status == AnswerStatus.DECLINED
    assert "never mention `travel_policy.fetch_limits`" in answer.decline_reason
    assert answer.searched["closest"][0] == "Travel Policy"
    assert not Interaction.objects.filter(answer=answer).exists()


def test_a_question_outside_the_documents_lists_the_closest_documents(staff) -> None:
    user, _, _ = staff
    answer = ask(user, "Which country won the 2018 football world cup?")
    payload = answer_payload(answer)
    assert payload["status"] == "declined"
    assert payload["searched"]["closest"], "the closest documents are listed"
    assert payload["searched"]["collections"] == 1 and payload["searched"]["chunks"] >= 3


def test_confidence_below_the_collection_floor_declines(staff) -> None:
    user, collection, _ = staff
    answer = ask(user, "What is the hotel limit in London?")
    assert answer.status == AnswerStatus.ANSWERED and answer.confidence_level == "high"
    Collection.objects.filter(pk=collection.pk).update(confidence_floor=0.999)
    again = ask(user, "What is the hotel limit in London?")
    assert again.status == AnswerStatus.DECLINED
    assert "below this collection's threshold" in again.decline_reason


# ------------------------------------------------------------------ high stakes


def test_notice_policy_answers_at_once_and_queues_for_review_afterwards(staff) -> None:
    user, collection, _ = staff
    Collection.objects.filter(pk=collection.pk).update(high_stakes_policy="notice")
    answer = ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    assert answer.status == AnswerStatus.ANSWERED and "not professional advice" in answer.notice
    assert ReviewItem.objects.get(answer=answer).held is False
