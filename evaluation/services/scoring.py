"""Scoring rules of the evaluation set (``../shared/eval/README.md``), plus an independent
re-check of delivered sentences against the text of the passages they cite."""

from __future__ import annotations

import re
from typing import Any

from core.text import CITATION, Facts, content_words, mentions, normalise, sentences_split, strip_citations

ANSWERABLE = {"factoid", "procedural", "explanatory", "multi_hop", "paraphrase", "curated"}


def path_normalise(path: str) -> str:
    path = path.split("#")[0].split("?")[0]
    return path.split("html/", 1)[-1].lstrip("./")


def answer_correct(item: dict[str, Any], text: str, declined: bool, flagged: bool) -> bool:
    kind = item["type"]
    if kind == "unanswerable":
        return declined
    if kind == "high_stakes":
        return flagged or declined
    if declined:
        return False
    low = text.lower()
    return all(any(s.lower() in low for s in group) for group in item["must_contain_any"])


def sentence_grounded(sentence: str, cited_texts: list[str]) -> bool:
    """A strict, separate check (not the product's verifier): the sentence is copied from a cited
    passage, or every number and code name in it is in the cited passages and at least 60% of
    its content words are."""
    plain = strip_citations(sentence)
    if not cited_texts:
        return False
    joined = normalise(" ".join(cited_texts))
    body = normalise(plain).rstrip(".!?:; ")
    if len(body) >= 12 and body in joined:
        return True
    facts = Facts.of(plain)
    source = Facts.of(" ".join(cited_texts))
    if facts.numbers - source.numbers:
        return False
    if any(not mentions(joined, name) for name in facts.identifiers):
        return False
    if any(entity not in joined for entity in facts.entities):
        return False
    words = content_words(plain)
    return not words or len(words & content_words(" ".join(cited_texts))) / len(words) >= 0.6


def delivered_sentences(text: str) -> list[tuple[str, list[int]]]:
    """The claims of a delivered answer, each with the citation numbers it carries."""
    out = []
    for sentence in sentences_split(re.sub(r"```.*?```", " ", text, flags=re.S)):
        plain = strip_citations(sentence).replace("*(not supported by the sources)*", "").strip()
        if len(content_words(plain)) >= 2 or Facts.of(plain).numbers:
            out.append((sentence, [int(n) for n in CITATION.findall(sentence)]))
    return out
