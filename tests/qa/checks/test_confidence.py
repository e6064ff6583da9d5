"""How sure is Verity: retrieval and verification combined into a score, a level and a reason
(no database, no model)."""

from __future__ import annotations

from ingestion.selectors.collections import AnswerPolicy
from qa.checks.confidence import confidence_assess
from qa.checks.verification import Issue, IssueKind, SentenceAction, SentenceCheck, Verification
from qa.models import ConfidenceLevel

POLICY = AnswerPolicy(("legal",), "hold", "remove", 0.75, 0.55, 0.35)


def _sentence(*, supported: bool, support: float = 1.0) -> SentenceCheck:
    return SentenceCheck(
        text="A statement.", original_citations=[1], citations=[1] if supported else [], claim=True,
        support=support, best_passage=1, supported=supported,
        issues=[] if supported else [Issue(kind=IssueKind.NUMBER_NOT_IN_SOURCE, subject="7")],
        action=SentenceAction.KEPT if supported else SentenceAction.REMOVED,
    )  # fmt: skip


def _verification(*sentences: SentenceCheck) -> Verification:
    return Verification(text="", sentences=list(sentences), dropped_citations=[], verifier="test", elapsed_ms=0.0)


def test_a_fully_supported_answer_from_a_close_passage_is_high() -> None:
    confidence = confidence_assess(
        best_similarity=0.75, verification=_verification(_sentence(supported=True)), policy=POLICY
    )
    assert (confidence.score, confidence.level, confidence.below_floor) == (1.0, ConfidenceLevel.HIGH, False)


def test_full_support_from_a_distant_passage_is_medium() -> None:
    confidence = confidence_assess(
        best_similarity=0.35, verification=_verification(_sentence(supported=True)), policy=POLICY
    )
    assert (confidence.score, confidence.level) == (0.65, ConfidenceLevel.MEDIUM)


def test_an_answer_with_nothing_supported_is_low_and_below_the_floor() -> None:
    confidence = confidence_assess(
        best_similarity=0.5, verification=_verification(_sentence(supported=False)), policy=POLICY
    )
    assert confidence.level == ConfidenceLevel.LOW and confidence.below_floor


def test_the_reason_counts_supported_and_removed_statements() -> None:
    confidence = confidence_assess(
        best_similarity=0.6,
        verification=_verification(_sentence(supported=True), _sentence(supported=False)),
        policy=POLICY,
    )
    assert confidence.reason == (
        "1 of 2 statements are supported by the cited passages; the best passage matches the question with "
        "similarity 0.60; 1 unsupported statement was removed."
    )
