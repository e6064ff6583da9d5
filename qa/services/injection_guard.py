"""The model's output, checked for what an injected instruction would make it say: text that
must not reach the user in the streamed draft or in the final answer.

A sentence is blocked when it
- embeds an image (a remote image loads by itself when the answer is shown: the classic way to
  carry the conversation to another site; answers never need one);
- contains a link that is in none of the passages as the model saw them (an invented or
  exfiltration link: the user's question appended to an attacker's URL is not in any passage);
- itself addresses a model or dictates output (ingestion/services/injection_scan.py patterns);
- repeats the system prompt (eight consecutive words of it).

The checks are rules on the text, cheap enough for every sentence of every answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ingestion.services.injection_scan import injection_found, normalise_for_scan
from providers.llm.base import ContextPassage
from qa.services.prompt import SYSTEM_PROMPT
from qa.services.textfacts import sentences_split

_IMAGE = re.compile(r"!\s*\[[^\]]*\]\s*\(|<\s*img\b|<\s*svg\b|<\s*iframe\b", re.IGNORECASE)
_URL = re.compile(
    r"(?:\b(?:https?|ftp|file|javascript|data|vbscript):|//)[^\s<>\"'`)\]]+|\bwww\.[^\s<>\"'`)\]]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|xyz|ru|cn|info|biz|example|app|dev|me|tk|top|site|online)"
    r"(?![\w(])(?:/[^\s<>\"'`)\]]*)?",
    re.IGNORECASE,
)
# Eight consecutive words of the system prompt in an answer are a leak, not a coincidence.
_LEAK_WORDS = 8
_WORD = re.compile(r"[a-z0-9]+")


def _shingles(text: str, size: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


_SYSTEM_SHINGLES = _shingles(SYSTEM_PROMPT, _LEAK_WORDS)


def _url_known(url: str, passages: list[ContextPassage]) -> bool:
    url = url.rstrip(".,;:!?*_")
    bare = re.sub(r"^(?:https?:)?//", "", url, flags=re.IGNORECASE).rstrip("/")
    return bool(bare) and any(bare.lower() in p.text.lower() for p in passages)


def sentence_blocked_reason(*, sentence: str, passages: list[ContextPassage]) -> str:
    """Why this sentence of the model's output must not reach the user ("" when it may)."""
    if _IMAGE.search(sentence):
        return "an image"
    for url in _URL.findall(normalise_for_scan(sentence)):
        if not _url_known(url, passages):
            return "a link that is in none of the passages"
    if injection_found(text=sentence):
        return "text addressed to an AI model"
    if _shingles(sentence, _LEAK_WORDS) & _SYSTEM_SHINGLES:
        return "the assistant's instructions"
    return ""


@dataclass
class GuardedText:
    text: str
    removed: list[str] = field(default_factory=list)  # "reason: sentence" for each removed sentence


def answer_text_guard(*, text: str, passages: list[ContextPassage]) -> GuardedText:
    """The answer without its blocked sentences (line structure kept)."""
    removed: list[str] = []
    lines_out: list[str] = []
    for line in text.split("\n"):
        kept: list[str] = []
        for sentence in sentences_split(line) if line.strip() else []:
            reason = sentence_blocked_reason(sentence=sentence, passages=passages)
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
    _BOUNDARY = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,3}\])*\s+(?=\S)|\n+")

    def __init__(self, emit_text: Callable[[str], None], passages: list[ContextPassage]) -> None:
        self.emit_text, self.passages = emit_text, passages
        self.sentence = ""  # the current sentence so far
        self.held = ""  # its part not sent yet (empty unless a trigger appeared)
        self.blocked: list[str] = []

    def feed(self, piece: str) -> None:
        self.sentence += piece
        self.held += piece
        boundary = self._BOUNDARY.search(self.sentence)
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
