"""The answer format check: a model's output before anything checks what it says (no database,
no model)."""

from __future__ import annotations

import pytest

from qa.checks.output_format import OutputFormat, output_format_check

GIVEN = {1, 2, 3}


def verdict(text: str) -> OutputFormat:
    return output_format_check(text=text, passage_numbers=GIVEN)


def test_sentences_citing_given_passages_are_ok() -> None:
    assert verdict("In London the limit is 260 euros per night [1]. Meals are covered [2][3].") == OutputFormat.OK
    assert not OutputFormat.OK.failed


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_nothing_written_is_empty(text: str) -> None:
    assert verdict(text) == OutputFormat.EMPTY
    assert OutputFormat.EMPTY.failed


def test_an_answer_without_any_citation_failed_the_format() -> None:
    assert verdict("In London the limit is 260 euros per night.") == OutputFormat.NO_CITATIONS


def test_citations_only_to_passages_never_given_failed_the_format() -> None:
    assert verdict("In London the limit is 260 euros per night [7]. Meals too [9].") == (
        OutputFormat.CITATIONS_TO_NO_PASSAGE
    )


def test_one_invented_number_beside_a_real_citation_is_left_to_verification() -> None:
    assert verdict("In London the limit is 260 euros per night [1]. Meals too [9].") == OutputFormat.OK


def test_citations_written_as_html_entities_count() -> None:
    assert verdict("In London the limit is 260 euros per night &#91;1&#93;.") == OutputFormat.OK


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that request.",
        "I cannot assist with this.",
        "As an AI language model, I cannot answer questions about company policy.",
        "I'm sorry, but I cannot provide that information.",
        "I am sorry, but I won't do that.",
        "I'm not able to help with questions like this one.",
    ],
)
def test_a_refusal_failed_the_format(text: str) -> None:
    assert verdict(text) == OutputFormat.REFUSAL


def test_a_refusal_that_cites_only_invented_passages_is_still_a_refusal() -> None:
    assert verdict("I'm sorry, but I cannot help with that [8].") == OutputFormat.REFUSAL


def test_an_apology_next_to_a_cited_answer_is_left_to_verification() -> None:
    text = "I'm sorry, but I cannot share more than this. The nurse is at extension 4410 [2]."
    assert verdict(text) == OutputFormat.OK


@pytest.mark.parametrize(
    "text",
    [
        "The documents do not cover this.",
        "The passages don't mention a hotel limit for Paris.",
        "The provided documents contain no information about parking.",
        "There is no information about Paris in the documents.",
        "I'm sorry, but the documents do not cover this.",
    ],
)
def test_saying_the_documents_do_not_cover_it_is_a_decline_not_a_failure(text: str) -> None:
    assert verdict(text) == OutputFormat.OK


def test_a_refusal_that_blames_nothing_in_the_documents_is_not_taken_for_a_decline() -> None:
    assert verdict("As an AI model I cannot answer that.") == OutputFormat.REFUSAL
