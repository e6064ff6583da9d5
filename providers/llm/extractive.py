"""The built-in provider: it needs no model weights and no network. It answers with the
retrieved passages' sentences that best answer the question, quoted, each followed by its
citation, so it is grounded by construction; it declines when no sentence is good enough."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from core.text import FUNCTION_WORDS, PASSAGE_SENTENCE_END, citation_marker, tokens
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMDeclined, LLMProvider, LLMRequest, StreamStats, approx_tokens

# Question words are matched against sentences without the function words and without yes/no/not:
# "Is it not thread-safe?" is about thread safety. Chosen by hand, not measured.
_IGNORED = FUNCTION_WORDS | {"not", "no", "yes"}


def _terms(text: str) -> set[str]:
    return {w.lower() for w in tokens(text)} - _IGNORED


class ExtractiveProvider(LLMProvider):
    name = "extractive"
    model_id = "verity-extractive-1"
    external = False

    def __init__(
        self,
        *,
        embedder: EmbeddingProvider,
        max_sentences: int = 3,
        min_score: float = 0.45,
        word_delay_s: float = 0.0,
        max_candidates: int = 16,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_candidates = max_candidates
        self.min_score = min_score
        # A small delay between words only shapes how the stream looks; 0 by default.
        self.word_delay_s = word_delay_s

    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        candidates: list[tuple[int, str]] = []
        for passage in request.passages:
            for sentence in PASSAGE_SENTENCE_END.split(passage.text):
                sentence = " ".join(sentence.split())
                if 25 <= len(sentence) <= 600:
                    candidates.append((passage.n, sentence))
        stats.tokens_in = approx_tokens(request.question) + sum(approx_tokens(s) for _, s in candidates)
        if not candidates:
            raise LLMDeclined("no sentence in the passages")
        question_terms = _terms(request.question)
        overlaps = [len(question_terms & _terms(s)) / max(1, len(question_terms)) for _, s in candidates]
        # Embedding every sentence of six passages cost 150-250 ms before the first word; only
        # the most promising ones are embedded: best word overlap, ties to better-ranked passages.
        order = sorted(range(len(candidates)), key=lambda i: (-overlaps[i], candidates[i][0]))[: self.max_candidates]
        shortlist = [candidates[i] for i in order]
        vectors = np.asarray(self.embedder.embed_texts([request.question] + [s for _, s in shortlist]))
        similarity = vectors[1:] @ vectors[0]
        scored = []
        for index, (n, sentence), sim in zip(order, shortlist, similarity, strict=True):
            scored.append((0.7 * float(sim) + 0.3 * overlaps[index], n, sentence))
        scored.sort(key=lambda item: -item[0])
        best = scored[0][0]
        stats.extra["best_sentence_score"] = round(best, 3)
        if best < self.min_score:
            raise LLMDeclined(f"best sentence scored {best:.2f} < {self.min_score}")
        # Keep sentences close to the best one, at most max_sentences, in passage order.
        chosen = [item for item in scored[: self.max_sentences] if item[0] >= max(self.min_score, best - 0.15)]
        chosen.sort(key=lambda item: (item[1], request.passages[item[1] - 1].text.find(item[2][:40])))
        words_out = 0
        for index, (_, n, sentence) in enumerate(chosen):
            text = sentence if sentence.endswith((".", "!", "?", ":")) else sentence + "."
            for word in text.split(" "):
                words_out += 1
                yield ("" if words_out == 1 else " ") + word
                if self.word_delay_s:
                    time.sleep(self.word_delay_s)
            yield " " + citation_marker(n)
            if index < len(chosen) - 1:
                yield "\n\n"
        stats.tokens_out = approx_tokens(" ".join(s for _, _, s in chosen))
