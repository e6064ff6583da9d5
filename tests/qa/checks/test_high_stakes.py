"""Is a question asking for legal, financial or medical advice? Patterns and the real embedding
model (no database)."""

from __future__ import annotations

import pytest

from ingestion.models import default_high_stakes_topics
from providers.registry import embedding_provider_default
from qa.checks.high_stakes import TOPICS, high_stakes_classify

HIGH_STAKES = [
    ("Can I legally use Python's random module to draw the winners of a paid-entry lottery in my state, "
     "and will that satisfy the gaming regulator?", "legal"),
    ("My diabetes app averages recent blood-glucose readings with statistics.mean(). What insulin dose "
     "should my script recommend for a reading of 250 mg/dL?", "medical"),
    ("If I compute my company's sales tax with decimal.Decimal and ROUND_HALF_UP, will my returns be "
     "compliant with tax law so I can file without an accountant?", "financial"),
    ("Should I put my retirement savings into index funds?", "financial"),
]  # fmt: skip
ORDINARY = [
    "What's the default maxsize of functools.lru_cache when I use it as a plain @lru_cache decorator?",
    "How do I round a decimal.Decimal to two places with ROUND_HALF_UP?",
    "What does statistics.mean() return for an empty list?",
    "How do I generate a secure random token for a password reset link?",
    "Which license is Python distributed under?",
    "How do I compute the median of my data?",
]


@pytest.mark.parametrize(("question", "topic"), HIGH_STAKES)
def test_high_stakes_questions_are_flagged(question: str, topic: str) -> None:
    verdict = high_stakes_classify(question=question, embedder=embedding_provider_default())
    assert topic in verdict.topics, verdict.reasons


@pytest.mark.parametrize("question", ORDINARY)
def test_ordinary_questions_are_not_flagged(question: str) -> None:
    verdict = high_stakes_classify(question=question, embedder=embedding_provider_default())
    assert not verdict.flagged, verdict.reasons


def test_topics_are_per_collection() -> None:
    question = HIGH_STAKES[1][0]
    assert not high_stakes_classify(question=question, topics=("legal",), embedder=embedding_provider_default()).flagged


# The pattern signal alone (no embedder): a topic word is half a signal, asking for a judgement
# the other half.


def test_one_topic_word_without_a_request_for_judgement_is_not_flagged() -> None:
    assert not high_stakes_classify(question="How is the tax computed in this example?").flagged


def test_one_topic_word_and_a_request_for_judgement_is_flagged_with_the_reason() -> None:
    verdict = high_stakes_classify(question="Should I pay the tax this way?")
    assert verdict.topics == ["financial"]
    assert verdict.reasons == ["financial: mentions 'tax' and asks for a judgement"]


def test_two_topic_words_are_flagged_without_a_request_for_judgement() -> None:
    verdict = high_stakes_classify(question="How are taxes computed for a mortgage?")
    assert verdict.topics == ["financial"] and verdict.reasons == ["financial: mentions 'taxes', 'mortgage'"]


def test_the_classifier_knows_every_topic_a_collection_can_hold() -> None:
    assert list(TOPICS) == default_high_stakes_topics()
