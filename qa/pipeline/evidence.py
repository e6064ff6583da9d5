"""The evidence gate: is the evidence strong enough to answer? If not, decline and say what was searched.

Two rules: the closest passage must be similar enough to the question, and every code name the
question asks about (``json.fetch``, ``--disable-gil``, ``CSRF_TRUSTED_ORIGINS``) must appear
in the passages: a question about something the documents never mention is declined instead
of answered from whatever came closest."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from core.text import identifiers, mentions, normalise
from ingestion.contracts import RetrievedChunk
from prompts.contracts import PromptTemplate


@dataclass(frozen=True)
class EvidenceVerdict:
    sufficient: bool
    reason: str
    closest: list[str]
    best_similarity: float = 0.0
    missing: tuple[str, ...] = ()


def evidence_gate(*, chunks: list[RetrievedChunk], wording: PromptTemplate, question: str = "") -> EvidenceVerdict:
    """``wording``: the version of the ``wording`` prompt that says why it declines."""
    closest = list(dict.fromkeys(c.title for c in chunks))[:3]
    if not chunks:
        return EvidenceVerdict(False, wording.text("decline_no_match"), closest)
    distances = [c.vector_distance for c in chunks if c.vector_distance is not None]
    best = min(distances) if distances else None
    similarity = 0.0 if best is None else 1 - best
    if best is None or best > settings.QA_EVIDENCE_MAX_DISTANCE:
        shown = "n/a" if best is None else f"{similarity:.2f}"
        return EvidenceVerdict(
            False, wording.text("decline_not_similar", similarity=shown), closest, similarity,
        )  # fmt: skip
    missing = names_missing(question=question, chunks=chunks)
    if missing:
        listed = ", ".join(f"`{m}`" for m in missing)
        return EvidenceVerdict(
            False, wording.text("decline_unmentioned", names=listed), closest, similarity, tuple(missing)
        )
    return EvidenceVerdict(True, "", closest, similarity)


def names_missing(*, question: str, chunks: list[RetrievedChunk]) -> list[str]:
    names = identifiers(question)
    if not names:
        return []
    haystack = normalise(" ".join(f"{c.title} {c.section} {c.text}" for c in chunks))
    missing = sorted(n for n in names if not mentions(haystack, n.lstrip("@")))
    # "travel_policy" is already said by "travel_policy.fetch_limits".
    return [n for n in missing if not any(m != n and n.lstrip("@") in m.lstrip("@").split(".") for m in missing)]
