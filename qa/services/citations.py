"""Stage 6: keep only citations that point at passages actually given."""

from __future__ import annotations

import re

from providers.llm.base import ContextPassage

CITATION = re.compile(r"\[(\d{1,3})\]")


def citations_filter(*, text: str, passages: list[ContextPassage]) -> tuple[str, list[int]]:
    """Drop ``[n]`` markers that match no passage; return the text and the cited numbers in
    order of first appearance."""
    valid = {p.n for p in passages}
    cited: list[int] = []

    def keep(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in valid:
            return ""
        if n not in cited:
            cited.append(n)
        return match.group(0)

    cleaned = CITATION.sub(keep, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    return cleaned, cited
