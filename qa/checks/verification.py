"""Check every sentence of an answer against the passages it cites, repair citations,
and apply the policy for unsupported sentences (remove or mark).

A verifier scores how well one passage supports one claim. The default,
``EvidenceVerifier``, needs no extra model weights: a sentence copied from the passage is
supported outright; otherwise the score combines embedding similarity to the passage's closest
sentence with the share of the claim's content words found in the passage, and consistency
checks veto it when a number, a quoted identifier, a named entity or a negation in the claim is
not in the source. ``JudgeVerifier`` asks a configured OpenAI-compatible model instead.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import httpx
import numpy as np
from django.conf import settings

from core.text import (
    CITATION,
    Facts,
    citation_marker,
    content_words,
    mentions,
    negation_count,
    normalise,
    numbers,
    sentences_split,
    strip_citations,
    without_negations,
)
from ingestion.models import UnsupportedPolicy
from prompts.contracts import PromptTemplate
from prompts.services.registry import prompt_current
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import ContextPassage
from qa.services.prompt_text import passage_frame

logger = logging.getLogger(__name__)

# The numbers below were chosen by hand when the trust layer was written (issue #5) and have not
# been tuned one by one; the thresholds that decide support (QA_VERIFY_MIN_SUPPORT 0.5,
# QA_VERIFY_MIN_COVERAGE 0.5) are settings, set while looking at the 50-item development set
# (docs/BENCHMARKS.md, issue #5).

# A claim's support from one passage: embedding similarity to the passage's closest sentence,
# plus the share of the claim's content words the passage contains. Similarity weighs a little
# more because it reads rewordings; coverage keeps a fluent sentence about something else from
# passing. Not measured; chosen by hand.
SIMILARITY_WEIGHT = 0.55
COVERAGE_WEIGHT = 0.45
# Passage sentences considered as a claim's closest: shorter ones are headings or fragments, longer
# ones tables or code whose embedding says little. Not measured; chosen by hand.
PASSAGE_SENTENCE_MIN_CHARS = 12
PASSAGE_SENTENCE_MAX_CHARS = 800
# Copied text shorter than this is found in passages by chance ("the default value"), so it does
# not prove support. Not measured; chosen by hand.
COPIED_MIN_CHARS = 12
# "Negation differs" is read only against a passage sentence this close to the claim (cosine) and
# sharing this share of its content words (Jaccard): below either, a different negation count says
# nothing, the sentences are about different things. Not measured; chosen by hand.
NEGATION_CHECK_MIN_SIMILARITY = 0.7
SAME_WORDS_MIN_JACCARD = 0.6
# "A negation was added" compares the claim without negations to the passage: a shorter remainder
# ("it is not") occurs anywhere. Not measured; chosen by hand.
NEGATION_ADDED_MIN_CHARS = 20
# A sentence is split on copied text only when it has SPLIT_MIN_WORDS words, at least
# COPIED_PART_MIN_WORDS of them copied (fewer are found in passages by chance) and at least
# REST_MIN_WORDS others (fewer are a clause ending, "as shown above"); a rest is split again at
# most SPLIT_MAX_DEPTH times. 9 = 6 + 3. Not measured; chosen by hand.
SPLIT_MIN_WORDS = 9
COPIED_PART_MIN_WORDS = 6
REST_MIN_WORDS = 3
SPLIT_MAX_DEPTH = 3
# A sentence with fewer content words and no number or code name ("See below.", "Yes.") states
# nothing to check. Not measured; chosen by hand.
CLAIM_MIN_CONTENT_WORDS = 2

_LIST_PREFIX = re.compile(r"^(\s*(?:[-*+]|\d{1,2}[.)])\s+|\s*#{1,6}\s+|\s*>\s*)")
_DECLINE = re.compile(
    r"\b(?:(?:do|does|did)(?: not|n't) (?:cover|contain|mention|say|describe|answer|include)|"
    r"(?:is|are) not (?:covered|mentioned|described)|no information|cannot answer|can't answer|"
    r"(?:do not|don't) know|not (?:able|possible) to answer|unable to answer)\b",
    re.IGNORECASE,
)


class IssueKind(StrEnum):
    """Why a passage does not support a claim."""

    NUMBER_NOT_IN_SOURCE = "number_not_in_source"
    NAME_NOT_IN_SOURCE = "name_not_in_source"
    ENTITY_NOT_IN_SOURCE = "entity_not_in_source"
    NEGATION_ADDED = "negation_added"
    NEGATION_DIFFERS = "negation_differs"
    LOW_COVERAGE = "low_coverage"
    # Given to the sentence, not by a passage: a passage other than the one it rests on says the opposite.
    CONTRADICTED_ELSEWHERE = "contradicted_elsewhere"
    NO_PASSAGE = "no_passage"
    LOW_SUPPORT = "low_support"

    @property
    def says_opposite(self) -> bool:
        """The passage contradicts the claim: it vetoes the claim whichever passage is cited."""
        return self in (IssueKind.NEGATION_ADDED, IssueKind.NEGATION_DIFFERS, IssueKind.CONTRADICTED_ELSEWHERE)


@dataclass(frozen=True, kw_only=True)
class Issue:
    """One reason a claim is not supported; ``message`` is what reviewers read (and what is stored)."""

    kind: IssueKind
    subject: str = ""  # the number, code name or entity the source lacks
    value: float = 0.0  # LOW_COVERAGE: the share of words found; LOW_SUPPORT: the score
    threshold: float = 0.0  # LOW_SUPPORT: the score needed

    @property
    def message(self) -> str:
        match self.kind:
            case IssueKind.NUMBER_NOT_IN_SOURCE:
                return f"the number {self.subject} is not in the source"
            case IssueKind.NAME_NOT_IN_SOURCE:
                return f"`{self.subject}` is not in the source"
            case IssueKind.ENTITY_NOT_IN_SOURCE:
                return f"“{self.subject}” is not in the source"
            case IssueKind.NEGATION_ADDED:
                return "the source says the opposite (a negation was added)"
            case IssueKind.NEGATION_DIFFERS:
                return "the source says the opposite (negation differs)"
            case IssueKind.LOW_COVERAGE:
                return f"only {self.value:.0%} of its words are in the source"
            case IssueKind.CONTRADICTED_ELSEWHERE:
                return "another passage says the opposite"
            case IssueKind.NO_PASSAGE:
                return "no passage was given"
            case IssueKind.LOW_SUPPORT:
                return f"support {self.value:.2f} is below {self.threshold:.2f}"


@dataclass
class PassageSupport:
    score: float
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


class Verifier(Protocol):
    name: str

    def support(self, *, claims: list[str], passages: list[ContextPassage]) -> list[list[PassageSupport]]:
        """For each claim, one PassageSupport per passage (in the order given)."""


def _passage_sentences(text: str) -> list[str]:
    return [s for s in sentences_split(text) if PASSAGE_SENTENCE_MIN_CHARS <= len(s) <= PASSAGE_SENTENCE_MAX_CHARS] or [
        text[:PASSAGE_SENTENCE_MAX_CHARS]
    ]


class EvidenceVerifier:
    """Embedding similarity plus consistency checks; no extra model."""

    name = "evidence-v1"

    def __init__(
        self, *, embedder: EmbeddingProvider, max_passage_sentences: int = 160, sentences_per_claim: int = 2
    ) -> None:
        self.embedder = embedder
        # A bound on one embedding batch whatever the answer's length (not measured; chosen by hand).
        self.max_passage_sentences = max_passage_sentences
        # Two closest sentences per claim and passage: the same results as embedding all of them on
        # the development set, 75 / 185 ms instead of 308 / 722 ms (docs/BENCHMARKS.md, issue #5).
        self.sentences_per_claim = sentences_per_claim

    def support(self, *, claims: list[str], passages: list[ContextPassage]) -> list[list[PassageSupport]]:
        if not claims:
            return []
        norm_passages = [normalise(p.text) for p in passages]
        passage_words = [content_words(p.text) for p in passages]
        passage_numbers = [numbers(p.text) for p in passages]
        verbatim = [
            [_copied(normalise(strip_citations(c)), norm) for norm in norm_passages] for c in claims
        ]  # fmt: skip
        need_embedding = [i for i, row in enumerate(verbatim) if not any(row)]
        similarity: dict[int, list[tuple[float, str]]] = {}
        if need_embedding:
            # Only the passage sentences that share most words with some claim are embedded (two
            # per claim and passage): embedding every sentence of six passages took 300-700 ms.
            chosen: dict[tuple[int, str], None] = {}
            claim_words = [content_words(strip_citations(claims[i])) for i in need_embedding]
            for index, passage in enumerate(passages):
                candidates = _passage_sentences(passage.text)
                sentence_words = [content_words(c) for c in candidates]
                for wanted in claim_words:
                    overlap = [len(wanted & w) for w in sentence_words]
                    ranked = sorted(range(len(candidates)), key=overlap.__getitem__, reverse=True)
                    for k in ranked[: self.sentences_per_claim]:
                        chosen[(index, candidates[k])] = None
            sentences = list(chosen)[: self.max_passage_sentences]
            texts = [strip_citations(claims[i]) for i in need_embedding] + [s for _, s in sentences]
            vectors = np.asarray(self.embedder.embed_texts(texts))
            claim_vectors, sentence_vectors = vectors[: len(need_embedding)], vectors[len(need_embedding) :]
            sims = claim_vectors @ sentence_vectors.T if len(sentences) else np.zeros((len(need_embedding), 0))
            for row, claim_index in enumerate(need_embedding):
                best: list[tuple[float, str]] = [(0.0, "")] * len(passages)
                for col, (passage_index, sentence) in enumerate(sentences):
                    value = float(sims[row, col])
                    if value > best[passage_index][0]:
                        best[passage_index] = (value, sentence)
                similarity[claim_index] = best
        results: list[list[PassageSupport]] = []
        for claim_index, claim in enumerate(claims):
            plain = strip_citations(claim)
            facts = Facts.of(plain)
            words = content_words(plain)
            row_out: list[PassageSupport] = []
            for passage_index in range(len(passages)):
                if verbatim[claim_index][passage_index]:
                    row_out.append(PassageSupport(1.0))
                    continue
                # A claim copied from another passage was not embedded: lexical evidence only here.
                sim, closest = similarity[claim_index][passage_index] if claim_index in similarity else (0.0, "")
                coverage = len(words & passage_words[passage_index]) / max(1, len(words))
                score = SIMILARITY_WEIGHT * sim + COVERAGE_WEIGHT * coverage
                issues = _consistency(
                    facts, plain, passage_numbers[passage_index], norm_passages[passage_index], closest, sim, coverage
                )
                row_out.append(PassageSupport(round(score, 3), issues))
            results.append(row_out)
        return results


def _copied(claim: str, passage: str) -> bool:
    claim = claim.rstrip(".!?:; ")
    return len(claim) >= COPIED_MIN_CHARS and claim in passage


def _same_words(a: str, b: str) -> bool:
    """The two sentences say nearly the same words (apart from a negation)."""
    wa, wb = content_words(a), content_words(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= SAME_WORDS_MIN_JACCARD


def _consistency(
    facts: Facts, claim: str, source_numbers: set[str], norm: str, closest: str, sim: float, coverage: float
) -> list[Issue]:
    issues: list[Issue] = []
    for number in sorted(facts.numbers - source_numbers):
        issues.append(Issue(kind=IssueKind.NUMBER_NOT_IN_SOURCE, subject=number))
    for name in sorted(facts.identifiers):
        if not mentions(norm, name):
            issues.append(Issue(kind=IssueKind.NAME_NOT_IN_SOURCE, subject=name))
    for entity in sorted(facts.entities):
        if entity not in norm:
            issues.append(Issue(kind=IssueKind.ENTITY_NOT_IN_SOURCE, subject=entity))
    claim_norm = normalise(claim).rstrip(".!?:; ")
    stripped = without_negations(claim_norm)
    if facts.negated and len(stripped) >= NEGATION_ADDED_MIN_CHARS and stripped in without_negations(norm):
        issues.append(Issue(kind=IssueKind.NEGATION_ADDED))
    elif (
        closest and sim >= NEGATION_CHECK_MIN_SIMILARITY
        and negation_count(claim) != negation_count(closest) and _same_words(claim, closest)
    ):  # fmt: skip
        issues.append(Issue(kind=IssueKind.NEGATION_DIFFERS))
    if coverage < settings.QA_VERIFY_MIN_COVERAGE:
        issues.append(Issue(kind=IssueKind.LOW_COVERAGE, value=coverage))
    return issues


def judge_call(*, url: str, model: str, api_key: str, messages: list[dict[str, str]], timeout: float) -> str:
    """One non-streamed, deterministic completion from an OpenAI-compatible judge endpoint: its
    text. Raises httpx.HTTPError, or KeyError/TypeError on a reply of another shape."""
    response = httpx.post(
        url.rstrip("/") + "/chat/completions",
        headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
        json={"model": model, "temperature": 0, "messages": messages},
        timeout=timeout,
    )
    response.raise_for_status()
    return str(response.json()["choices"][0]["message"]["content"])


def json_object_in(content: str) -> Any:
    """The JSON object in a judge's reply (models wrap it in prose or code fences); ValueError
    when there is none."""
    return json.loads(content[content.find("{") : content.rfind("}") + 1])


@dataclass(frozen=True)
class JudgeCall:
    """One call of the judge model, for the interaction log (``JudgeVerifier.on_call``)."""

    model: str
    prompt_key: str
    messages: list[dict[str, str]]
    response: str
    total_ms: float
    error: str = ""
    pii_scrubbed: bool = False  # the messages hold placeholders (what an external judge was sent)


class TextPrivacy(Protocol):
    """An answer's data-class rules for a model call other than the answering one
    (``qa.pipeline.privacy.RequestPrivacy``)."""

    def texts_outbound(self, *, texts: Sequence[str], external: bool) -> tuple[list[str], bool]: ...

    def texts_logged(self, *, texts: Sequence[str], scrubbed: bool) -> tuple[list[str], bool]: ...


class JudgeVerifier:
    """An OpenAI-compatible model judges support (an NLI or judge model), one call per answer.
    Falls back to the evidence verifier if the judge fails. ``on_call`` hears of every call
    (the pipeline logs it as an ``Interaction`` of the answer, like any model call)."""

    name = "judge-v1"
    on_call: Callable[[JudgeCall], None] | None = None
    privacy: TextPrivacy | None = None  # set per answer (``logged``): scrubbing and the log's texts

    def __init__(
        self, *, url: str, model: str, api_key: str, fallback: Verifier, timeout: float = 20.0, external: bool = True,
        prompt: PromptTemplate | None = None,
    ) -> None:  # fmt: skip
        self.url, self.model, self.api_key, self.fallback, self.timeout = url, model, api_key, fallback, timeout
        # The ``judge`` prompt's version (None: its production version at each call).
        self.prompt = prompt
        # Text sent to the judge leaves this machine (QA_JUDGE_EXTERNAL): restricted passages never go.
        self.external = external

    def support(self, *, claims: list[str], passages: list[ContextPassage]) -> list[list[PassageSupport]]:
        # Passages are uploader-controlled: framed as untrusted data the same way as in the
        # answering prompt, so a passage cannot tell the judge how to score.
        listing = "\n".join(passage_frame(p) for p in passages)
        numbered = "\n".join(f"{i + 1}. {strip_citations(c)}" for i, c in enumerate(claims))
        template = self.prompt or prompt_current(prompt_id="judge")
        messages = template.render(passages=listing, claims=numbered)
        scrubbed = False
        if self.privacy is not None:
            # An external judge gets personal data as the answer's placeholders (its class's rule).
            sent, scrubbed = self.privacy.texts_outbound(texts=[m["content"] for m in messages], external=self.external)
            messages = [{**m, "content": text} for m, text in zip(messages, sent, strict=True)]
        started, content = time.perf_counter(), ""
        try:
            content = judge_call(
                url=self.url, model=self.model, api_key=self.api_key, messages=messages, timeout=self.timeout
            )
            scores = json_object_in(content)["scores"]
            if len(scores) != len(claims) or any(len(row) != len(passages) for row in scores):
                raise ValueError("score matrix has the wrong shape")
            supports = [[PassageSupport(float(v)) for v in row] for row in scores]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            logger.warning("verification.judge_failed error=%s; using %s", exc, self.fallback.name)
            self._record(template, messages, content, started, scrubbed, error=f"{type(exc).__name__}: {exc}")
            return self.fallback.support(claims=claims, passages=passages)
        self._record(template, messages, content, started, scrubbed)
        return supports

    def _record(
        self, template: PromptTemplate, messages: list[dict[str, str]], content: str, started: float, scrubbed: bool,
        error: str = "",
    ) -> None:  # fmt: skip
        if self.on_call is None:
            return
        if self.privacy is not None:
            logged, scrubbed = self.privacy.texts_logged(texts=[m["content"] for m in messages], scrubbed=scrubbed)
            messages = [{**m, "content": text} for m, text in zip(messages, logged, strict=True)]
        self.on_call(JudgeCall(model=self.model, prompt_key=template.key, messages=messages, response=content,
                               total_ms=(time.perf_counter() - started) * 1000, error=error,
                               pii_scrubbed=scrubbed))  # fmt: skip

    def logged(
        self, on_call: Callable[[JudgeCall], None], *, prompt: PromptTemplate | None = None,
        privacy: TextPrivacy | None = None,
    ) -> JudgeVerifier:  # fmt: skip
        """This judge for one answer: its calls reported to ``on_call`` (the answer's log), its
        prompt the version chosen for the answer (None: keep this judge's), its texts scrubbed
        by the answer's data-class rules (``privacy``)."""
        bound = copy.copy(self)
        bound.on_call = on_call
        bound.prompt = prompt or self.prompt
        bound.privacy = privacy
        return bound


class VerifierChoice(StrEnum):
    """The ``QA_VERIFIER`` setting."""

    EVIDENCE = "evidence"
    JUDGE = "judge"


def verifier_default(*, embedder: EmbeddingProvider) -> Verifier:
    evidence = EvidenceVerifier(embedder=embedder)
    if settings.QA_VERIFIER == VerifierChoice.JUDGE and settings.QA_JUDGE_URL:
        return JudgeVerifier(
            url=settings.QA_JUDGE_URL, model=settings.QA_JUDGE_MODEL, api_key=settings.QA_JUDGE_API_KEY,
            fallback=evidence, external=settings.QA_JUDGE_EXTERNAL,
        )  # fmt: skip
    return evidence


def verifier_for_classification(*, verifier: Verifier, restricted: bool) -> Verifier:
    """The verifier allowed to see this answer's passages: an external judge never receives a
    restricted collection's text (the same rule the router applies to answering models); its
    on-machine fallback checks those answers instead."""
    if restricted and isinstance(verifier, JudgeVerifier) and verifier.external:
        return verifier.fallback
    return verifier


class SentenceAction(StrEnum):
    """What verification did with a sentence."""

    KEPT = "kept"  # supported by a passage it cites
    RECITED = "recited"  # supported by another passage than the ones it cites: cites that one instead
    CITED = "cited"  # cited nothing, supported by a passage: cites it now
    REMOVED = "removed"  # unsupported, policy "remove"
    MARKED = "marked"  # unsupported, policy "mark": shown with a notice
    NO_CLAIM = "no-claim"  # states nothing to check ("See below.")


@dataclass(frozen=True, kw_only=True)
class SentenceCheck:
    text: str  # without citation markers
    original_citations: list[int]
    citations: list[int]
    claim: bool
    support: float
    best_passage: int | None
    supported: bool
    issues: list[Issue]
    action: SentenceAction

    def as_dict(self) -> dict[str, object]:
        """As stored with the answer and shown to reviewers: issues as their messages."""
        return {
            "text": self.text,
            "original_citations": list(self.original_citations),
            "citations": list(self.citations),
            "claim": self.claim,
            "support": self.support,
            "best_passage": self.best_passage,
            "supported": self.supported,
            "issues": [issue.message for issue in self.issues],
            "action": self.action.value,
        }


@dataclass
class Verification:
    text: str
    sentences: list[SentenceCheck]
    dropped_citations: list[int]
    verifier: str
    elapsed_ms: float
    declined_by_model: bool = False

    @property
    def claims(self) -> int:
        return sum(1 for s in self.sentences if s.claim)

    @property
    def supported_claims(self) -> int:
        return sum(1 for s in self.sentences if s.claim and s.supported)

    @property
    def support_ratio(self) -> float:
        return self.supported_claims / self.claims if self.claims else 0.0

    @property
    def mean_support(self) -> float:
        scores = [s.support for s in self.sentences if s.claim and s.supported]
        return sum(scores) / len(scores) if scores else 0.0

    @property
    def removed(self) -> int:
        return sum(1 for s in self.sentences if s.action == SentenceAction.REMOVED)

    @property
    def recited(self) -> int:
        return sum(1 for s in self.sentences if s.action in (SentenceAction.RECITED, SentenceAction.CITED))

    def cited_numbers(self) -> list[int]:
        return list(dict.fromkeys(n for s in self.sentences if s.action != SentenceAction.REMOVED for n in s.citations))

    def as_dict(self) -> dict[str, object]:
        return {
            "verifier": self.verifier,
            "claims": self.claims,
            "supported": self.supported_claims,
            "support_ratio": round(self.support_ratio, 3),
            "removed": self.removed,
            "recited": self.recited,
            "dropped_citations": self.dropped_citations,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "sentences": [s.as_dict() for s in self.sentences],
        }


# Marks the part of a sentence that followed (or preceded) copied text: it may only be supported
# by the passages the sentence cites, never re-cited to another one.
REMAINDER = "\x00"


def _longest_copied(words: list[str], norm_passages: list[str], *, from_end: bool) -> int:
    """How many words at the start (or end) of ``words`` appear verbatim in one passage."""
    best = 0
    for norm in norm_passages:
        low, high = best, len(words)
        while low < high:  # containment is monotonic in the length of a prefix (suffix)
            mid = (low + high + 1) // 2
            part = words[-mid:] if from_end else words[:mid]
            if normalise(" ".join(part)).rstrip(".!?:; ") in norm:
                low = mid
            else:
                high = mid - 1
        best = max(best, low)
    return best


def _split_on_copied(sentence: str, norm_passages: list[str], depth: int = 0) -> list[str]:
    """Split a sentence that starts or ends with text copied from a passage and goes on with
    something else ("<quoted signature> In practice this is the fastest option"), so that the
    rest is checked on its own instead of riding on the copied part."""
    marks = " ".join(citation_marker(int(n)) for n in dict.fromkeys(CITATION.findall(sentence)))
    plain = strip_citations(sentence)
    words = plain.split()
    if (
        depth > SPLIT_MAX_DEPTH or len(words) < SPLIT_MIN_WORDS or not norm_passages
        or _copied(normalise(plain), max(norm_passages, key=len))
    ):  # fmt: skip
        return [sentence]
    if any(_copied(normalise(plain), norm) for norm in norm_passages):
        return [sentence]
    head = _longest_copied(words, norm_passages, from_end=False)
    if head >= COPIED_PART_MIN_WORDS and len(words) - head >= REST_MIN_WORDS:
        rest = " ".join(words[head:])
        return [f"{' '.join(words[:head])} {marks}".strip()] + [
            REMAINDER + p.removeprefix(REMAINDER)
            for p in _split_on_copied(f"{rest} {marks}".strip(), norm_passages, depth + 1)
        ]
    tail = _longest_copied(words, norm_passages, from_end=True)
    if tail >= COPIED_PART_MIN_WORDS and len(words) - tail >= REST_MIN_WORDS:
        rest = " ".join(words[: len(words) - tail])
        return [
            REMAINDER + p.removeprefix(REMAINDER)
            for p in _split_on_copied(f"{rest} {marks}".strip(), norm_passages, depth + 1)
        ] + [f"{' '.join(words[len(words) - tail :])} {marks}".strip()]
    return [sentence]


def _is_claim(sentence: str) -> bool:
    facts = Facts.of(sentence)
    return len(content_words(sentence)) >= CLAIM_MIN_CONTENT_WORDS or bool(facts.numbers or facts.identifiers)


def answer_verify(
    *,
    text: str,
    passages: list[ContextPassage],
    verifier: Verifier,
    policy: str = UnsupportedPolicy.REMOVE,
    min_support: float | None = None,
) -> Verification:
    """Check each sentence, fix its citations and apply ``policy`` (an ``UnsupportedPolicy``:
    remove or mark) to the unsupported ones. Code blocks are checked as one claim."""
    mark = policy == UnsupportedPolicy.MARK
    started = time.perf_counter()
    threshold = settings.QA_VERIFY_MIN_SUPPORT if min_support is None else min_support
    valid = {p.n for p in passages}
    index_of = {p.n: i for i, p in enumerate(passages)}
    dropped = sorted({n for n in (int(m) for m in CITATION.findall(text)) if n not in valid})

    norm_passages = [normalise(p.text) for p in passages]
    # Units: (line prefix, sentence) in order, with code fences kept whole.
    lines: list[tuple[str, list[str]]] = []
    in_code, code = False, []
    for line in text.splitlines():
        if line.strip().startswith("```"):
            code.append(line)
            if in_code:
                lines.append(("```", ["\n".join(code)]))
                code = []
            in_code = not in_code
            continue
        if in_code:
            code.append(line)
            continue
        prefix_match = _LIST_PREFIX.match(line)
        prefix = prefix_match.group(1) if prefix_match else ""
        body = line[len(prefix) :]
        pieces = [p for s in sentences_split(body) for p in _split_on_copied(s, norm_passages)] if body.strip() else []
        lines.append((prefix, pieces))
    if code:
        lines.append(("```", ["\n".join(code)]))

    units = [(li, si, s) for li, (_, sents) in enumerate(lines) for si, s in enumerate(sents)]
    claim_units = [u for u in units if _is_claim(strip_citations(u[2].removeprefix(REMAINDER)))]
    claims = [u[2].removeprefix(REMAINDER) for u in claim_units]
    scores = verifier.support(claims=claims, passages=passages) if passages else []
    score_of = {(u[0], u[1]): row for u, row in zip(claim_units, scores, strict=True)}

    checks: dict[tuple[int, int], SentenceCheck] = {}
    for li, si, sentence in units:
        remainder = sentence.startswith(REMAINDER)
        sentence = sentence.removeprefix(REMAINDER)
        is_code = lines[li][0] == "```"
        cited = [] if is_code else [n for n in dict.fromkeys(int(m) for m in CITATION.findall(sentence)) if n in valid]
        plain = sentence if is_code else strip_citations(sentence)
        row = score_of.get((li, si))
        if row is None:
            checks[(li, si)] = SentenceCheck(
                text=plain, original_citations=cited, citations=cited, claim=False, support=0.0, best_passage=None,
                supported=True, issues=[], action=SentenceAction.NO_CLAIM,
            )  # fmt: skip
            continue
        best_i = max(range(len(row)), key=lambda i: (row[i].ok, row[i].score)) if row else None
        best_passage = passages[best_i].n if best_i is not None else None
        # A passage that says the opposite vetoes the claim, whichever passage it cites.
        contradicted = any(issue.kind.says_opposite for r in row for issue in r.issues)
        best_ok = (
            best_i is not None and row[best_i].ok and row[best_i].score >= threshold
            and not contradicted and not (remainder and cited)
        )  # fmt: skip
        cited_ok = [
            n for n in cited if row[index_of[n]].ok and row[index_of[n]].score >= threshold and not contradicted
        ]
        if cited_ok:
            check = SentenceCheck(
                text=plain, original_citations=cited, citations=cited_ok, claim=True,
                support=max(row[index_of[n]].score for n in cited_ok), best_passage=best_passage,
                supported=True, issues=[], action=SentenceAction.KEPT,
            )  # fmt: skip
        elif best_ok and best_i is not None:
            check = SentenceCheck(
                text=plain, original_citations=cited, citations=[passages[best_i].n], claim=True,
                support=row[best_i].score, best_passage=best_passage, supported=True, issues=[],
                action=SentenceAction.RECITED if cited else SentenceAction.CITED,
            )  # fmt: skip
        else:
            consider = [index_of[n] for n in cited] or list(range(len(row)))
            worst = max(consider, key=lambda i: row[i].score) if consider else None
            issues = list(row[worst].issues) if worst is not None else [Issue(kind=IssueKind.NO_PASSAGE)]
            if contradicted and not any(i.kind.says_opposite for i in issues):
                issues.append(Issue(kind=IssueKind.CONTRADICTED_ELSEWHERE))
            support = row[worst].score if worst is not None else 0.0
            if not issues:
                issues = [Issue(kind=IssueKind.LOW_SUPPORT, value=support, threshold=threshold)]
            check = SentenceCheck(
                text=plain, original_citations=cited, citations=cited if mark else [], claim=True, support=support,
                best_passage=best_passage, supported=False, issues=issues,
                action=SentenceAction.MARKED if mark else SentenceAction.REMOVED,
            )  # fmt: skip
        checks[(li, si)] = check

    out_lines: list[str] = []
    for li, (prefix, sents) in enumerate(lines):
        kept: list[str] = []
        for si, _ in enumerate(sents):
            check = checks[(li, si)]
            if check.action == SentenceAction.REMOVED:
                continue
            kept.append(_with_citations(check, code=prefix == "```"))
        if prefix == "```":
            if kept:
                out_lines.append(kept[0])
            continue
        if kept:
            out_lines.append(prefix + " ".join(kept))
        elif not sents:
            out_lines.append("")
    final = re.sub(r"\n{3,}", "\n\n", "\n".join(out_lines)).strip()
    ordered = [checks[(li, si)] for li, si, _ in units]
    text = text.replace(REMAINDER, "")
    declined_by_model = bool(_DECLINE.search(text)) and not any(c.claim and c.supported for c in ordered)
    return Verification(
        text=final, sentences=ordered, dropped_citations=dropped, verifier=verifier.name,
        elapsed_ms=(time.perf_counter() - started) * 1000, declined_by_model=declined_by_model,
    )  # fmt: skip


def _with_citations(check: SentenceCheck, *, code: bool) -> str:
    marks = "".join(citation_marker(n) for n in check.citations)
    if code:
        return check.text + (f"\n\n{marks}" if marks else "")
    text = check.text
    suffix = " *(not supported by the sources)*" if check.action == SentenceAction.MARKED else ""
    if not marks:
        return text + suffix
    if text and text[-1] in ".!?:;":
        return f"{text[:-1]} {marks}{text[-1]}{suffix}"
    return f"{text} {marks}{suffix}"
