"""Stage 3: is the evidence strong enough to answer? If not, decline and say what was searched."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from ingestion.contracts import RetrievedChunk


@dataclass(frozen=True)
class EvidenceVerdict:
    sufficient: bool
    reason: str
    closest: list[str]


def evidence_gate(*, chunks: list[RetrievedChunk]) -> EvidenceVerdict:
    closest = list(dict.fromkeys(c.title for c in chunks))[:3]
    if not chunks:
        return EvidenceVerdict(False, "No readable document matched the question.", closest)
    distances = [c.vector_distance for c in chunks if c.vector_distance is not None]
    best = min(distances) if distances else None
    if best is None or best > settings.QA_EVIDENCE_MAX_DISTANCE:
        shown = "n/a" if best is None else f"{1 - best:.2f}"
        return EvidenceVerdict(
            False, f"The closest passages are not similar enough to the question (similarity {shown}).", closest
        )
    return EvidenceVerdict(True, "", closest)
