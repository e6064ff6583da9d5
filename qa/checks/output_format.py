"""Does a model's output have the shape an answer must have, before anything checks what it
says? The answer prompt asks for sentences citing the numbered passages; an output that is empty,
cites nothing, cites only passages that were never given, or is a refusal ("I can't help with
that") failed the prompt, and the pipeline retries once with the prompt version's declared
fallback (``qa.pipeline.fallback``).

A model that says the documents do not cover the question did what the prompt asks: that is a
decline (an answer), not a failure, even without a citation. Pure: text in, verdict out."""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum

from core.text import citations_of


class OutputFormat(StrEnum):
    """The verdict on a model's output; every value but OK is a reason to use the fallback."""

    OK = "ok"
    EMPTY = "empty"
    NO_CITATIONS = "no_citations"
    CITATIONS_TO_NO_PASSAGE = "citations_to_no_passage"  # noqa: S105 - a verdict, not a secret
    REFUSAL = "refusal"

    @property
    def failed(self) -> bool:
        return self is not OutputFormat.OK


# The stock phrases of a model refusing the task (its safety training speaking, not the passages).
# A sentence with a real citation next to one of them is an answer with a needless apology, left to
# verification; these decide only for an output that cites no given passage.
_REFUSAL = re.compile(
    r"\b(?:"
    r"as an ai(?: language)? model"
    r"|i(?:'m| am) (?:sorry|afraid),? but i (?:can(?:no|')t|cannot|am unable to|won't|will not)"
    r"|i (?:can(?:no|')t|cannot|am (?:not able|unable) to|won't|will not) "
    r"(?:help|assist|comply|fulfil+|provide (?:help|assistance)|do that|answer that request)"
    r"|i(?:'m| am) not (?:able|allowed|permitted) to (?:help|assist|answer|discuss)"
    r")",
    re.IGNORECASE,
)
# "The documents do not cover this" (the sentence the prompts ask for), "the passages contain no
# information about ...": a decline names what it looked in. The verbs and nouns are those of
# verification's decline pattern (``qa.checks.verification``), narrowed to the documents, so that
# "As an AI model I cannot answer that" stays a refusal.
_DECLINE = re.compile(
    r"\b(?:documents?|passages?|sources?|context|provided (?:text|information))\b[^.!?\n]{0,40}?"
    r"\b(?:(?:do|does|did)(?: not|n't) (?:cover|contain|mention|say|describe|answer|include|address)"
    r"|(?:contain|include|give|provide|hold)s? no (?:information|answer|mention)"
    r"|(?:is|are) not (?:covered|mentioned|described)|(?:is|are) silent)"
    r"|\bno (?:information|answer|mention)\b[^.!?\n]{0,40}?\b(?:in|from) the (?:documents?|passages?|sources?|context)\b",
    re.IGNORECASE,
)


def output_format_check(*, text: str, passage_numbers: Collection[int]) -> OutputFormat:
    """The verdict on ``text`` given the numbers of the passages the prompt showed: EMPTY when
    there is no text, OK for a decline that names the documents, REFUSAL for a refusal citing no
    given passage, NO_CITATIONS when nothing is cited, CITATIONS_TO_NO_PASSAGE when every
    citation points at a passage that was not given (a mix is left to verification, which drops
    the invented numbers and cites the supporting passage)."""
    if not text.strip():
        return OutputFormat.EMPTY
    if _DECLINE.search(text):
        return OutputFormat.OK
    cited = citations_of(text)
    given = [n for n in cited if n in passage_numbers]
    if not given and _REFUSAL.search(text):
        return OutputFormat.REFUSAL
    if not cited:
        return OutputFormat.NO_CITATIONS
    if not given:
        return OutputFormat.CITATIONS_TO_NO_PASSAGE
    return OutputFormat.OK
