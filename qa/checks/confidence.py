"""How sure is Verity? A score from retrieval (how close the best passage is to the
question) and verification (how much of the answer its sources support), shown as high,
medium or low with the reason; below the collection's floor, Verity declines."""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.selectors.collections import AnswerPolicy
from qa.checks.verification import Verification
from qa.models import ConfidenceLevel

# Cosine similarity of the best passage: at or below LOW it says nothing, at HIGH it is as good
# as retrieval gets with this embedding model (all-MiniLM-L6-v2).
RETRIEVAL_SIM_LOW = 0.35
RETRIEVAL_SIM_HIGH = 0.75
# The score weighs what verification found (the share of statements supported, times their mean
# support) above how well retrieval matched: an answer whose every sentence its sources support is
# trustworthy even when the question was worded far from the passage. Not measured; chosen by hand
# (issue #5), with the collection's confidence thresholds (0.75 / 0.55 / 0.35 by default).
RETRIEVAL_WEIGHT = 0.35
SUPPORT_WEIGHT = 0.65


@dataclass(frozen=True)
class Confidence:
    score: float
    level: ConfidenceLevel
    reason: str
    below_floor: bool


def confidence_assess(*, best_similarity: float, verification: Verification, policy: AnswerPolicy) -> Confidence:
    retrieval = min(1.0, max(0.0, (best_similarity - RETRIEVAL_SIM_LOW) / (RETRIEVAL_SIM_HIGH - RETRIEVAL_SIM_LOW)))
    support = verification.support_ratio * verification.mean_support
    score = round(RETRIEVAL_WEIGHT * retrieval + SUPPORT_WEIGHT * support, 3)
    if score >= policy.confidence_high:
        level = ConfidenceLevel.HIGH
    elif score >= policy.confidence_medium:
        level = ConfidenceLevel.MEDIUM
    else:
        level = ConfidenceLevel.LOW
    parts = [
        f"{verification.supported_claims} of {verification.claims} statements are supported by the cited passages",
        f"the best passage matches the question with similarity {best_similarity:.2f}",
    ]
    if verification.removed:
        parts.append(
            f"{verification.removed} unsupported statement{'s were' if verification.removed > 1 else ' was'} removed"
        )
    if verification.recited:
        parts.append(f"{verification.recited} citation{'s were' if verification.recited > 1 else ' was'} corrected")
    reason = "; ".join(parts) + "."
    return Confidence(
        score=score, level=level, reason=reason[0].upper() + reason[1:], below_floor=score < policy.confidence_floor
    )
