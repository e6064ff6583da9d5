"""The rule-based readers behind verification, the decline rule, the high-stakes classifier
and the near-miss guard (no database, real embedding model where the rule needs one)."""

from __future__ import annotations

import pytest

from core.text import Facts, identifiers, numbers, sentences_split
from providers.registry import embedding_provider_default
from qa.checks.high_stakes import high_stakes_classify
from qa.reuse.reusable import questions_compatible


def test_numbers_are_canonical_and_citations_are_not_numbers() -> None:
    assert numbers("rel_tol=1e-09 and 1e-9, 7,919 items [3]") == {"1e-09", "7919"}
    assert numbers("version 3.11 and 128") == {"3.11", "128"}


def test_identifiers_cover_code_names() -> None:
    found = identifiers("Use `json.dumps()` or @functools.lru_cache with max_size, --disable-gil and DataFrame")
    assert {"json.dumps", "@functools.lru_cache", "max_size", "--disable-gil", "dataframe"} <= found


def test_sentences_keep_trailing_citations_with_their_sentence() -> None:
    assert sentences_split("One fact here. [1] Another fact [2].\n- a list item [3]") == [
        "One fact here. [1]", "Another fact [2].", "- a list item [3]",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("question", "candidate", "compatible"),
    [
        ("What is the default maxsize of lru_cache?", "What's the default maxsize of functools.lru_cache?", True),
        ("How many retries for 3 failures?", "How many retries for 5 failures?", False),
        ("Is the cache thread-safe?", "Is the cache not thread-safe?", False),
        ("What does json.dumps return?", "What does pickle.dumps return?", False),
        ("What is the function of TV?", "What is the function of money?", False),
        ("Who maintains the London office?", "Who maintains the Paris office?", False),
    ],
)
def test_near_miss_guard(question: str, candidate: str, compatible: bool) -> None:
    assert questions_compatible(question, candidate).compatible is compatible


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


def test_facts_of_a_sentence() -> None:
    facts = Facts.of("The limit is not 260 euros in London [1].")
    assert facts.negated and facts.numbers == {"260"} and facts.entities == {"london"}


def test_names_on_one_side_only_when_retrieval_confirms_and_numbers_never() -> None:
    general = "What does dumps return for a dict?"
    specific = "What does json.dumps return for a dict?"
    assert not questions_compatible(specific, general).compatible
    assert questions_compatible(specific, general, names_on_one_side=True).compatible
    # A number only one question has is another question, confirmed or not.
    assert not questions_compatible(
        "Which exception does subprocess.run raise when the command exits with code 1?",
        "Which exception does subprocess.run raise when the command fails?",
        names_on_one_side=True,
    ).compatible
