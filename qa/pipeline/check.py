"""Stage 6, check: the model's answer against the passages. Each sentence verified (the
collection's policy removes or marks the unsupported ones), what an injected instruction makes
a model say removed, the confidence assessed; and the reason to decline when too little of it
holds up ("" when the answer may be shown)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from qa.checks.confidence import Confidence, confidence_assess
from qa.checks.verification import Verification, answer_verify
from qa.observability import verification_record
from qa.pipeline.deps import PipelineDeps
from qa.pipeline.gate import GateVerdict
from qa.pipeline.plan import Plan
from qa.pipeline.retrieve import Retrieved
from qa.pipeline.stream_guard import answer_text_guard

logger = logging.getLogger(__name__)

ONLY_INJECTED_TEXT = "The draft answer held only text that a document told the assistant to say, so I will not show it."


class DeclineCause(StrEnum):
    """Why the check stage declines an answer (NONE: it may be shown)."""

    NONE = ""
    MODEL_DECLINED = "model_declined"  # the model said the passages do not answer: an answer
    NOTHING_VERIFIED = "nothing_verified"
    TOO_LITTLE_SUPPORTED = "too_little_supported"
    LOW_CONFIDENCE = "low_confidence"
    ONLY_INJECTED_TEXT = "only_injected_text"

    @property
    def collapse(self) -> bool:
        """The draft's statements did not hold up against the passages: a prompt's output that
        failed (``qa.pipeline.fallback`` retries with the fallback version). Not the model's own
        decline, nor a confidence below the floor (retrieval weighs in it, which another prompt
        does not change), nor an answer that was only an injected instruction's words (a
        document's doing, not the prompt's)."""
        return self in (DeclineCause.NOTHING_VERIFIED, DeclineCause.TOO_LITTLE_SUPPORTED)


@dataclass(frozen=True)
class Checked:
    verification: Verification  # its text is the answer to show
    confidence: Confidence
    decline_reason: str  # "" when the answer may be shown
    cause: DeclineCause  # why it is declined (NONE: it may be shown)
    verification_ms: float

    @property
    def trust(self) -> dict[str, Any]:
        """The answer's fields that record the checks."""
        return {
            "verification": self.verification.as_dict(),
            "confidence": self.confidence.score,
            "confidence_level": self.confidence.level,
            "confidence_reason": self.confidence.reason,
        }


def answer_check(
    *, text: str, answer_id: int, retrieved: Retrieved, verdict: GateVerdict, plan: Plan, deps: PipelineDeps
) -> Checked:
    started = time.perf_counter()
    passages = plan.request.passages
    verification = answer_verify(
        text=text, passages=passages, verifier=plan.verifier, policy=retrieved.policy.unsupported_policy
    )
    # What an injected instruction makes a model say (an image, a link in no passage, text
    # addressed to a model, the system prompt) is removed from the answer like an unsupported
    # sentence; an answer with nothing else is declined.
    guarded = answer_text_guard(text=verification.text, passages=passages, relevance=plan.relevance)
    if guarded.removed:
        logger.info("qa.injection_guard answer_id=%s removed=%s", answer_id, guarded.removed)
        verification = dataclasses.replace(verification, text=guarded.text)
    verification_ms = round((time.perf_counter() - started) * 1000, 1)
    verification_record(actions=[str(sentence.action) for sentence in verification.sentences])
    confidence = confidence_assess(
        best_similarity=verdict.evidence.best_similarity, verification=verification, policy=retrieved.policy
    )
    cause, reason = _unsupported_reason(
        verification, confidence, min_supported_share=deps.settings.verify_min_supported_share
    )
    if not reason and not verification.text.strip():
        cause, reason = DeclineCause.ONLY_INJECTED_TEXT, ONLY_INJECTED_TEXT
    return Checked(
        verification=verification, confidence=confidence, decline_reason=reason, verification_ms=verification_ms,
        cause=cause,
    )  # fmt: skip


def _unsupported_reason(
    verification: Verification, confidence: Confidence, *, min_supported_share: float
) -> tuple[DeclineCause, str]:
    if verification.declined_by_model:
        return DeclineCause.MODEL_DECLINED, "The model found no answer in the passages."
    if not verification.claims or not verification.supported_claims:
        return (
            DeclineCause.NOTHING_VERIFIED,
            "I could not verify any statement of the draft answer against the passages, so I will not guess.",
        )
    if verification.support_ratio < min_supported_share:
        return DeclineCause.TOO_LITTLE_SUPPORTED, (
            f"Only {verification.supported_claims} of {verification.claims} statements of the draft answer are "
            "supported by the passages, so I will not guess."
        )
    if confidence.below_floor:
        return DeclineCause.LOW_CONFIDENCE, (
            f"My confidence in the answer ({confidence.score:.2f}) is below this collection's threshold."
        )
    return DeclineCause.NONE, ""
