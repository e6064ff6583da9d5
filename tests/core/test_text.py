"""The text toolkit every layer shares: citation markers, sentences, words and facts (no
database, no model)."""

from __future__ import annotations

import pytest

from core.text import (
    ANSWER_SENTENCE_END,
    DOCUMENT_SENTENCE_END,
    FUNCTION_WORDS,
    PASSAGE_SENTENCE_END,
    STOP_WORDS,
    Facts,
    citation_marker,
    citations_of,
    content_words,
    entities,
    identifiers,
    mentions,
    negation_count,
    normalise,
    numbers,
    sentences_split,
    strip_citations,
    tokens,
    without_negations,
    word_shingles,
)


@pytest.mark.parametrize("marker", ["[2]", "&#91;2&#93;", "&#x5b;2&#x5D;", "&lsqb;2&rsqb;", "&lbrack;2&rbrack;"])
def test_a_citation_marker_is_read_however_its_brackets_are_written(marker: str) -> None:
    assert citations_of(f"Claim {marker}.") == [2]
    assert strip_citations(f"Claim {marker}.") == "Claim."


def test_a_written_citation_marker_is_one_the_pattern_reads() -> None:
    assert citations_of(f"A claim {citation_marker(12)}") == [12]


def test_four_digit_brackets_are_not_citations() -> None:
    assert citations_of("In [2024] and [1].") == [1]


def test_answer_sentences_keep_trailing_citations_and_end_at_line_breaks() -> None:
    assert sentences_split("One fact here. [1] Another fact [2].\n- a list item [3]") == [
        "One fact here. [1]", "Another fact [2].", "- a list item [3]",
    ]  # fmt: skip


def test_an_answer_sentence_may_start_with_emphasis_but_a_lower_case_word_continues_it() -> None:
    assert sentences_split("First point. *Second* point. e.g. this stays.") == [
        "First point.", "*Second* point. e.g. this stays.",
    ]  # fmt: skip


def test_a_colon_ends_a_sentence_in_a_document_but_not_in_an_answer_or_passage() -> None:
    text = "Parameters: Name of the file."
    assert DOCUMENT_SENTENCE_END.split(text) == ["Parameters:", "Name of the file."]
    assert ANSWER_SENTENCE_END.split(text) == [text]
    assert PASSAGE_SENTENCE_END.split(text) == [text]


def test_a_blank_line_ends_a_sentence_in_documents_and_passages() -> None:
    text = "a heading\n\nbody text"
    assert DOCUMENT_SENTENCE_END.split(text) == ["a heading", "body text"]
    assert PASSAGE_SENTENCE_END.split(text) == ["a heading", "body text"]
    assert ANSWER_SENTENCE_END.split(text) == [text]


def test_a_bullet_starts_a_sentence_only_in_documents() -> None:
    text = "options\n- verbose"
    assert DOCUMENT_SENTENCE_END.split(text) == ["options", "- verbose"]
    assert PASSAGE_SENTENCE_END.split(text) == [text]


def test_tokens_keep_dotted_names_and_case_and_drop_trailing_dots() -> None:
    assert tokens("Use functools.lru_cache. PYTHONHASHSEED=0, __slots__ and x.") == [
        "Use", "functools.lru_cache", "PYTHONHASHSEED", "0", "__slots__", "and", "x",
    ]  # fmt: skip


def test_word_shingles_ignore_case_and_punctuation() -> None:
    assert word_shingles("Answer ONLY from: the passages.", size=3) == {
        ("answer", "only", "from"), ("only", "from", "the"), ("from", "the", "passages"),
    }  # fmt: skip
    assert word_shingles("two words", size=3) == set()


def test_a_lone_underscore_is_a_token() -> None:
    assert tokens("What does _ hold?") == ["What", "does", "_", "hold"]


def test_the_checks_ignore_more_words_than_the_function_words() -> None:
    assert FUNCTION_WORDS < STOP_WORDS
    assert "returns" in STOP_WORDS and "returns" not in FUNCTION_WORDS


def test_content_words_drop_stop_words_and_count_a_dotted_name_and_its_parts() -> None:
    assert content_words("What does json.dumps return for 7,919?") == {"json.dumps", "json", "dumps", "7,919"}


def test_normalise_makes_quotes_spaces_and_case_comparable() -> None:
    assert normalise("It’s  “Quoted”¶\n") == 'it\'s "quoted"'


def test_numbers_are_canonical_and_citations_are_not_numbers() -> None:
    assert numbers("rel_tol=1e-09 and 1e-9, 7,919 items [3]") == {"1e-09", "7919"}
    assert numbers("version 3.11 and 128") == {"3.11", "128"}


def test_negations_are_counted_and_can_be_removed() -> None:
    assert negation_count("It is not thread-safe and can't be shared") == 2
    assert without_negations("It is not thread-safe") == "It is thread-safe"


def test_identifiers_cover_code_names() -> None:
    found = identifiers("Use `json.dumps()` or @functools.lru_cache with max_size, --disable-gil and DataFrame")
    assert {"json.dumps", "@functools.lru_cache", "max_size", "--disable-gil", "dataframe"} <= found


def test_entities_skip_a_sentence_s_first_word_and_ordinary_capitals() -> None:
    assert entities("Guido wrote it. The London office maintains Python.") == {"london"}


def test_facts_of_a_sentence() -> None:
    facts = Facts.of("The cache does not hold more than 128 entries of `lru_cache` [1].")
    assert facts == Facts(frozenset({"128"}), frozenset({"lru_cache"}), frozenset(), True)


def test_a_dotted_name_is_mentioned_by_its_last_part_used_as_a_name() -> None:
    assert mentions(normalise("Decorate it with @lru_cache."), "functools.lru_cache")
    assert not mentions(normalise("An LRU cache."), "functools.lru_cache")
