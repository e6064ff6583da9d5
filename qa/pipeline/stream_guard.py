"""The model's output, checked for what an injected instruction would make it say: text that
must not reach the user in the streamed draft or in the final answer.

A sentence is blocked when it
- embeds an image (a remote image loads by itself when the answer is shown: the classic way to
  carry the conversation to another site; answers never need one);
- contains a link that is in none of the passages as the model saw them (an invented or
  exfiltration link: the user's question appended to an attacker's URL is not in any passage);
- itself addresses a model or dictates output (ingestion/services/injection_scan.py patterns);
- repeats the system prompt (eight consecutive words of it);
- when a passage is suspect of dictating words (``ContextPassage.injection_suspect``): is
  unrelated to the question (``QuestionRelevance``). What an injection adds to an answer (a
  code, a link, a persona's greeting) is off the question; a grounded answer stays on it.

The checks are rules on the text, cheap enough for every sentence of every answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.text import CITATION, strip_citations, word_shingles
from ingestion.services.injection_scan import injection_found, normalise_for_scan
from prompts.services.registry import library_default
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import ContextPassage

_IMAGE = re.compile(r"!\s*\[[^\]]*\]\s*\(|<\s*img\b|<\s*svg\b|<\s*iframe\b", re.IGNORECASE)
_URL = re.compile(
    r"(?:\b(?:https?|ftp|file|javascript|data|vbscript):|//)[^\s<>\"'`)\]]+|\bwww\.[^\s<>\"'`)\]]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|xyz|ru|cn|info|biz|example|app|dev|me|tk|top|site|online)"
    r"(?![\w(])(?:/[^\s<>\"'`)\]]*)?",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Where a streamed sentence ends (both stream gates): whitespace after ".", "!" or "?", the
# citation markers that follow keeping to that sentence, or a line break. Looser than the answer
# splitter of core.text, which waits to see a capital: the stream cannot wait for the next word.
STREAM_SENTENCE_END = re.compile(rf"(?<=[.!?])(?:\s*{CITATION.pattern})*\s+(?=\S)|\n+")
# Eight consecutive words of the system prompt in an answer are a leak, not a coincidence.
_LEAK_WORDS = 8
# Every instruction message of the library's chat prompts: a leak of any version is a leak.
_SYSTEM_SHINGLES = frozenset(
    shingle
    for prompt in library_default().values()
    for template in prompt.versions
    for message in template.messages
    if message.role == "system"
    for shingle in word_shingles(message.template, size=_LEAK_WORDS)
)


# all-MiniLM-L6-v2 cosine between the question and an answer sentence. Measured on the injection
# corpus: payload sentences ("NEON-6775.", "As CaptainRoot, I will answer.", "For details, visit
# https://...") scored 0.01-0.18 against the question; sentences that answer it 0.65-0.75;
# side remarks of the same passage ("It was introduced in 2019.") 0.15-0.22 and are dropped
# too, which is the cost, paid only when a passage is suspect.
OFF_TOPIC_MAX_SIMILARITY = 0.25


class QuestionRelevance:
    """How close each answer sentence is to the question (one embedding call per batch)."""

    def __init__(self, *, embedder: EmbeddingProvider, question_vector: Sequence[float]) -> None:
        self.embedder = embedder
        self.question = np.asarray(question_vector, dtype=np.float32)

    def similarities(self, sentences: list[str]) -> list[float]:
        if not sentences:
            return []
        vectors = np.asarray(self.embedder.embed_texts([strip_citations(s) for s in sentences]), dtype=np.float32)
        return [float(v) for v in vectors @ self.question]

    def off_topic(self, sentence: str) -> bool:
        return self.similarities([sentence])[0] < OFF_TOPIC_MAX_SIMILARITY


def _url_known(url: str, passages: list[ContextPassage]) -> bool:
    url = url.rstrip(".,;:!?*_")
    bare = re.sub(r"^(?:https?:)?//", "", url, flags=re.IGNORECASE).rstrip("/")
    return bool(bare) and any(bare.lower() in p.text.lower() for p in passages)


def sentence_blocked_reason(
    *, sentence: str, passages: list[ContextPassage], relevance: QuestionRelevance | None = None
) -> str:
    """Why this sentence of the model's output must not reach the user ("" when it may).
    ``relevance``: also block a sentence unrelated to the question (see the module docstring)."""
    if _IMAGE.search(sentence):
        return "an image"
    for url in _URL.findall(normalise_for_scan(sentence)):
        if not _url_known(url, passages):
            return "a link that is in none of the passages"
    if injection_found(text=sentence):
        return "text addressed to an AI model"
    if word_shingles(sentence, size=_LEAK_WORDS) & _SYSTEM_SHINGLES:
        return "the assistant's instructions"
    if relevance is not None and strip_citations(sentence).strip() and relevance.off_topic(sentence):
        return "unrelated to the question"
    return ""


@dataclass
class GuardedText:
    text: str
    removed: list[str] = field(default_factory=list)  # "reason: sentence" for each removed sentence


def answer_text_guard(
    *, text: str, passages: list[ContextPassage], relevance: QuestionRelevance | None = None
) -> GuardedText:
    """The answer without its blocked sentences (line structure kept)."""
    removed: list[str] = []
    lines_out: list[str] = []
    # A plain split at sentence ends: the answer splitter waits for a capital letter, and an image or
    # link right after a sentence must not take that sentence down with it.
    lines = [(line, [p for p in _SENTENCE_END.split(line) if p.strip()]) for line in text.split("\n")]
    flat = [s for _, sentences in lines for s in sentences if strip_citations(s).strip()]
    similarity = dict(zip(flat, relevance.similarities(flat), strict=True)) if relevance is not None else {}
    for line, sentences in lines:
        kept: list[str] = []
        for sentence in sentences:
            reason = sentence_blocked_reason(sentence=sentence, passages=passages)
            if not reason and similarity.get(sentence, 1.0) < OFF_TOPIC_MAX_SIMILARITY:
                reason = "unrelated to the question"
            if reason:
                removed.append(f"{reason}: {sentence[:200]}")
            else:
                kept.append(sentence)
        if kept or not line.strip():
            indent = line[: len(line) - len(line.lstrip())]
            lines_out.append(indent + " ".join(kept))
    if not removed:
        return GuardedText(text=text)
    guarded = re.sub(r"\n{3,}", "\n\n", "\n".join(lines_out)).strip()
    return GuardedText(text=guarded, removed=removed)


class LinkHoldGate:
    """Token stream mode: each word goes out as soon as the model gives it, except from the
    moment a sentence starts a link, an image or markup: the rest of that sentence is held until
    it ends and is sent only if ``sentence_blocked_reason`` lets it through. Ordinary answers
    stream exactly as before; a link only shows when its sentence is complete."""

    _TRIGGER = re.compile(r"https?:|www\.|//|\]\s*\(|!\s*\[|<|\b(?:javascript|data|ftp|file):", re.IGNORECASE)

    def __init__(self, emit_text: Callable[[str], None], passages: list[ContextPassage]) -> None:
        self.emit_text, self.passages = emit_text, passages
        self.sentence = ""  # the current sentence so far
        self.held = ""  # its part not sent yet (empty unless a trigger appeared)
        self.blocked: list[str] = []

    def feed(self, piece: str) -> None:
        self.sentence += piece
        self.held += piece
        boundary = STREAM_SENTENCE_END.search(self.sentence)
        if boundary is not None:
            done, rest = self.sentence[: boundary.end()], self.sentence[boundary.end() :]
            held_done = self.held[: len(self.held) - len(rest)] if len(rest) <= len(self.held) else self.held
            self._release(done, held_done)
            self.sentence, self.held = "", ""
            if rest:
                self.feed(rest)
            return
        if not self._TRIGGER.search(self.sentence):
            self.emit_text(self.held)
            self.held = ""

    def _release(self, sentence: str, held: str) -> None:
        if not held:
            return
        if self._TRIGGER.search(sentence):
            reason = sentence_blocked_reason(sentence=sentence, passages=self.passages)
            if reason:
                self.blocked.append(reason)
                return
        self.emit_text(held)

    def flush(self) -> None:
        if self.held:
            self._release(self.sentence, self.held)
        self.sentence, self.held = "", ""

    def reset(self) -> None:
        self.sentence, self.held = "", ""
