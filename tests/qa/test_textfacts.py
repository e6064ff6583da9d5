"""The near-miss guard of reused answers: a cached answer is reused only for a question that asks
the same thing (numbers, names, negations). The text readers it uses are tested in
tests/core/test_text.py, the high-stakes classifier in tests/qa/checks/test_high_stakes.py."""

from __future__ import annotations

import pytest

from qa.reuse.reusable import questions_compatible


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
