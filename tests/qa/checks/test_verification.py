"""Verification, sentence by sentence: what is kept, re-cited, removed or marked, and why.

The verifier here is the real ``EvidenceVerifier`` with an embedder that finds every sentence
equally similar (cosine 1.0), so that what decides is the checks these tests specify: copied
text, content-word coverage, numbers, names and negations."""

from __future__ import annotations

from collections.abc import Sequence

from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import ContextPassage
from qa.checks.verification import EvidenceVerifier, IssueKind, SentenceAction, Verification, answer_verify


class SameEmbeddings(EmbeddingProvider):
    name = "same"
    dimensions = 4

    def _embed(self, texts: list[str]) -> Sequence[Sequence[float]]:
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


def _passage(n: int, text: str) -> ContextPassage:
    return ContextPassage(n=n, chunk_id=n, document_id=n, title=f"Doc {n}", section="", page=None,
                          source_name=f"doc{n}.html", text=text)  # fmt: skip


def _verify(text: str, *passages: str, policy: str = "remove") -> Verification:
    return answer_verify(
        text=text,
        passages=[_passage(i + 1, p) for i, p in enumerate(passages)],
        verifier=EvidenceVerifier(embedder=SameEmbeddings()),
        policy=policy,
        min_support=0.5,
    )


def _kinds(verification: Verification) -> list[set[IssueKind]]:
    return [{issue.kind for issue in s.issues} for s in verification.sentences]


LRU = (
    "The lru_cache decorator wraps a function with a memoizing callable that saves up to the maxsize most recent calls."
)


# --- copied text followed by something else ----------------------------------------------------


def test_a_sentence_that_starts_with_copied_text_is_split_and_the_invented_rest_removed() -> None:
    result = _verify(
        "The lru_cache decorator wraps a function with a memoizing callable and is the fastest cache in any language [1].",
        LRU,
    )
    assert [s.action for s in result.sentences] == [SentenceAction.KEPT, SentenceAction.REMOVED]
    assert result.sentences[1].text == "and is the fastest cache in any language."
    assert result.text == "The lru_cache decorator wraps a function with a memoizing callable [1]"


def test_a_sentence_that_ends_with_copied_text_is_split_too() -> None:
    result = _verify(
        "Guaranteed faster than any language: the lru_cache decorator wraps a function with a memoizing callable [1].",
        LRU,
    )
    assert [s.action for s in result.sentences] == [SentenceAction.REMOVED, SentenceAction.KEPT]


def test_the_rest_of_a_split_sentence_is_never_recited_to_another_passage() -> None:
    other = "In practice the cache makes repeated calls with the same arguments much faster."
    result = _verify(
        "The lru_cache decorator wraps a function with a memoizing callable and repeated calls with the same "
        "arguments are much faster [1].",
        LRU,
        other,
    )
    rest = result.sentences[1]
    assert rest.text == "and repeated calls with the same arguments are much faster."
    assert rest.action == SentenceAction.REMOVED and rest.citations == []
    # The same words as a sentence of their own are re-cited to the passage that supports them.
    alone = _verify("Repeated calls with the same arguments are much faster [1].", LRU, other).sentences[0]
    assert alone.action == SentenceAction.RECITED and alone.citations == [2]


def test_a_short_sentence_is_not_split() -> None:
    result = _verify("The lru_cache decorator wraps a function quickly [1].", LRU)
    assert len(result.sentences) == 1


# --- code fences ---------------------------------------------------------------------------------


def test_a_code_block_is_checked_as_one_claim_and_kept_whole_with_its_citation_after_it() -> None:
    result = _verify(
        "Sort by length:\n```\nsorted(words, key=len)\n```", "Call sorted(words, key=len) to sort words by length."
    )
    code = result.sentences[-1]
    assert code.text == "```\nsorted(words, key=len)\n```" and code.action == SentenceAction.CITED
    assert result.text.endswith("```\nsorted(words, key=len)\n```\n\n[1]")


def test_a_code_block_with_a_name_the_source_never_mentions_is_removed_whole() -> None:
    result = _verify(
        "Sort by length:\n```\nimport shutil\nshutil.rmtree(path)\n```",
        "Call sorted(words, key=len) to sort words by length.",
    )
    assert result.sentences[-1].action == SentenceAction.REMOVED
    assert IssueKind.NAME_NOT_IN_SOURCE in _kinds(result)[-1]
    assert "```" not in result.text and "shutil" not in result.text


def test_an_index_inside_a_code_block_is_code_not_a_citation() -> None:
    result = _verify("```\nwords[2]\n```", "The list words[2] is the third word.")
    assert result.sentences[0].original_citations == [] and result.dropped_citations == [2]
    assert "words[2]" in result.text


# --- the model's own decline ---------------------------------------------------------------------


def test_a_model_saying_the_documents_do_not_cover_it_is_a_decline_by_the_model() -> None:
    result = _verify("The documents do not cover how to configure the garbage collector.", LRU)
    assert result.declined_by_model


def test_a_decline_phrase_beside_a_supported_statement_is_not_a_decline() -> None:
    result = _verify(f"{LRU} [1] The documents do not cover thread safety.", LRU)
    assert not result.declined_by_model


def test_an_unsupported_answer_without_a_decline_phrase_is_not_a_decline_by_the_model() -> None:
    result = _verify("The garbage collector runs every 700 allocations [1].", LRU)
    assert not result.declined_by_model and result.removed == 1


# --- negations -----------------------------------------------------------------------------------


def test_a_negation_added_to_a_copied_sentence_is_the_opposite_of_the_source() -> None:
    result = _verify("The lock is not released by the worker thread [1].", "The lock is released by the worker thread.")
    assert IssueKind.NEGATION_ADDED in _kinds(result)[0]
    assert result.sentences[0].action == SentenceAction.REMOVED


def test_a_negation_missing_from_a_reworded_sentence_is_the_opposite_of_the_source() -> None:
    result = _verify("Worker threads release the global lock [1].", "Worker threads do not release the global lock.")
    assert IssueKind.NEGATION_DIFFERS in _kinds(result)[0]
    assert result.sentences[0].action == SentenceAction.REMOVED


def test_a_passage_that_says_the_opposite_vetoes_a_claim_another_passage_supports() -> None:
    result = _verify(
        "The worker threads release the global lock [1].",
        "Worker threads release the global lock while they wait for I/O.",
        "Worker threads do not release the global lock.",
    )
    assert result.sentences[0].supported is False
    assert IssueKind.CONTRADICTED_ELSEWHERE in _kinds(result)[0]


def test_the_same_negations_in_claim_and_source_are_no_issue() -> None:
    result = _verify(
        "Worker threads never release the global lock early [1].", "Worker threads never release the global lock."
    )
    assert not {IssueKind.NEGATION_ADDED, IssueKind.NEGATION_DIFFERS} & _kinds(result)[0]


def test_a_missing_name_that_contains_the_word_opposite_is_no_contradiction() -> None:
    # The veto once looked for "opposite" in the issue's text, so this name vetoed the claim.
    result = _verify(
        "Call opposite_side() to flip the board [2].",
        "Use rotate() to turn the board.",
        "Call opposite_side() to flip the board quickly.",
    )
    assert result.sentences[0].action == SentenceAction.KEPT and result.sentences[0].citations == [2]


# --- the issues as reviewers read them -------------------------------------------------------------


def test_issues_are_stored_as_the_sentences_reviewers_read() -> None:
    result = _verify("The cache holds 4096 entries by default [1].", LRU)
    stored = result.as_dict()["sentences"][0]
    assert "the number 4096 is not in the source" in stored["issues"]
    assert stored["action"] == "removed"


def test_mark_policy_keeps_an_unsupported_sentence_with_its_citation() -> None:
    result = _verify("The cache holds 4096 entries by default [1].", LRU, policy="mark")
    assert result.sentences[0].action == SentenceAction.MARKED
    assert result.text == "The cache holds 4096 entries by default [1]. *(not supported by the sources)*"
