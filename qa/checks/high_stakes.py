"""Is this question asking for legal, financial or medical advice?

Two signals, both explainable: patterns (a topic word such as "insulin", "legally" or
"accountant", strengthened when the question asks for a judgement: "should", "will that
satisfy", "is it compliant", "what dose") and embedding similarity to curated example
questions per topic. Topics are configured per collection; a question is classified against
the topics of the collections its evidence comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.conf import settings

from ingestion.models import HighStakesTopic
from providers.embeddings.base import EmbeddingProvider

TOPICS: tuple[str, ...] = tuple(HighStakesTopic.values)

# How the patterns score a topic: each topic word found is half a signal (at most two count), and
# a question that asks for a judgement adds the other half; a topic is flagged at 1.0, that is two
# topic words, or one and a request for a judgement. Chosen by hand; on the development set this
# (with the similarity signal) flags 3 / 3 high-stakes questions and 0 / 47 others
# (docs/BENCHMARKS.md, issue #5).
TOPIC_WORD_SCORE = 0.5
TOPIC_WORDS_COUNTED = 2
JUDGEMENT_SCORE = 0.5
FLAG_SCORE = 1.0
# Topic words quoted in the reason a reviewer reads.
REASON_WORDS_SHOWN = 3

_PATTERNS: dict[str, list[str]] = {
    HighStakesTopic.LEGAL: [
        r"\blegal(?:ly)?\b",
        r"\b(?:il)?lawful(?:ly)?\b",
        r"\billegal\b",
        r"\bregulat(?:or|ors|ion|ions|ory)\b",
        r"\bcomplian(?:t|ce)\b",
        r"\blaws?\b",
        r"\blawsuit\b",
        r"\bsue[ds]?\b",
        r"\bliab(?:le|ility)\b",
        r"\blawyer\b",
        r"\battorney\b",
        r"\bcourt\b",
        r"\bgdpr\b",
        r"\bhipaa\b",
        r"\bcopyright infringement\b",
        r"\bgaming (?:commission|regulator|authority)\b",
        r"\blottery\b",
        r"\bgambling\b",
        r"\bcontract\b",
    ],
    HighStakesTopic.FINANCIAL: [
        r"\btax(?:es|ed)?\b",
        r"\baccountant\b",
        r"\bfile (?:my |our |the )?(?:tax )?returns?\b",
        r"\birs\b",
        r"\binvest(?:ing|ment|ments)?\b",
        r"\bstocks?\b",
        r"\bportfolio\b",
        r"\bmortgage\b",
        r"\bloan\b",
        r"\bretirement\b",
        r"\bpension\b",
        r"\bcredit score\b",
        r"\bfinancial advice\b",
        r"\bvat\b",
        r"\bbookkeeping\b",
        r"\baudit(?:or)?\b",
    ],
    HighStakesTopic.MEDICAL: [
        r"\bdos(?:e|es|age|ing)\b",
        r"\binsulin\b",
        r"\bmedicat(?:e|ion|ions)\b",
        r"\bdiagnos(?:e|is|tic)\b",
        r"\bsymptoms?\b",
        r"\bpatients?\b",
        r"\bmg/dl\b",
        r"\bmmol/l\b",
        r"\bprescri(?:be|ption)\b",
        r"\bdiabet(?:es|ic)\b",
        r"\bclinical\b",
        r"\bblood[- ](?:glucose|pressure|sugar)\b",
        r"\btreatment\b",
        r"\bdoctor\b",
        r"\bpregnan(?:t|cy)\b",
        r"\bmedical\b",
        r"\bdrug\b",
        r"\bvaccin",
    ],
}
# Asking for a judgement or an action, not for how something works.
_ADVICE = re.compile(
    r"\b(?:should (?:i|we|my)|can (?:i|we) legally|is (?:it|this|that) (?:legal|allowed|compliant|safe)|"
    r"will (?:that|this|it|my) (?:\w+ )?(?:satisfy|be compliant|be legal|pass|comply)|"
    r"am i (?:allowed|required|liable)|do i need (?:a|an|to)|"
    r"what (?:\w+ )?(?:dose|dosage)|how much (?:insulin|medication)|recommend|without an? (?:accountant|lawyer|doctor)|"
    r"so (?:that )?i can (?:file|skip|avoid)|advice|legally|compliant)\b",
    re.IGNORECASE,
)

# Curated examples; the embedding signal catches rewordings the patterns miss.
EXAMPLES: dict[str, list[str]] = {
    HighStakesTopic.LEGAL: [
        "Is it legal for me to do this?",
        "Will this satisfy the regulator?",
        "Can I be sued if my program does this?",
        "Does my software comply with the law?",
        "Am I allowed by law to collect this data?",
    ],
    HighStakesTopic.FINANCIAL: [
        "Will my tax return be compliant if I compute it this way?",
        "Should I invest my savings in this?",
        "Can I file my taxes without an accountant?",
        "How much tax do I owe?",
        "Is this a good investment?",
    ],
    HighStakesTopic.MEDICAL: [
        "What dose of medication should I take?",
        "How much insulin should I inject for this reading?",
        "Do these symptoms mean I am ill?",
        "Should my app recommend a treatment to patients?",
        "Is this blood pressure reading dangerous?",
    ],
}


@dataclass
class StakesVerdict:
    topics: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def flagged(self) -> bool:
        return bool(self.topics)


@lru_cache(maxsize=4)
def _example_vectors(embedder_key: int, embedder: EmbeddingProvider) -> dict[str, np.ndarray]:
    return {topic: np.asarray(embedder.embed_texts(examples)) for topic, examples in EXAMPLES.items()}


def high_stakes_classify(
    *, question: str, topics: list[str] | tuple[str, ...] = TOPICS, embedder: EmbeddingProvider | None = None,
    question_vector: np.ndarray | None = None,
) -> StakesVerdict:  # fmt: skip
    """Classify a question against the given topics. ``question_vector`` (normalised) saves an
    embedding when the caller already has one."""
    verdict = StakesVerdict()
    advice = bool(_ADVICE.search(question))
    threshold = settings.QA_HIGH_STAKES_SIMILARITY
    sims: dict[str, float] = {}
    if embedder is not None and topics:
        vector = question_vector if question_vector is not None else np.asarray(embedder.embed_texts([question]))[0]
        examples = _example_vectors(id(embedder), embedder)
        sims = {t: float(np.max(examples[t] @ vector)) for t in topics if t in examples}
    for topic in topics:
        hits = [m.group(0) for p in _PATTERNS.get(topic, []) for m in [re.search(p, question, re.IGNORECASE)] if m]
        similarity = sims.get(topic, 0.0)
        score = (
            TOPIC_WORD_SCORE * min(TOPIC_WORDS_COUNTED, len(hits)) + (JUDGEMENT_SCORE if advice else 0.0)
        ) if hits else 0.0  # fmt: skip
        if score >= FLAG_SCORE:
            verdict.topics.append(topic)
            mentioned = ", ".join(repr(h) for h in hits[:REASON_WORDS_SHOWN])
            verdict.reasons.append(f"{topic}: mentions {mentioned}" + (" and asks for a judgement" if advice else ""))
        elif similarity >= threshold:
            verdict.topics.append(topic)
            verdict.reasons.append(f"{topic}: close to a curated {topic} question (similarity {similarity:.2f})")
        verdict.score = max(verdict.score, min(1.0, score), similarity)
    return verdict
