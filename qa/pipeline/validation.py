"""Validation: the question itself (empty, or too long)."""

from __future__ import annotations

from django.conf import settings

from core.errors import ApplicationError
from providers.llm.base import approx_tokens


def question_validate(*, question: str) -> str:
    """Return the question stripped, or raise ApplicationError with a message for the user."""
    cleaned = (question or "").replace("\x00", "").strip()
    if not cleaned:
        raise ApplicationError("Please type a question.")
    limit = settings.QA_MAX_QUESTION_CHARS
    if len(cleaned) > limit:
        raise ApplicationError(
            f"Your question is {len(cleaned):,} characters long; the limit is {limit:,}. "
            "Shorten it or ask about one part at a time."
        )
    tokens = approx_tokens(cleaned)
    if tokens > settings.QA_MAX_QUESTION_TOKENS:
        raise ApplicationError(
            f"Your question is about {tokens:,} tokens; the limit is {settings.QA_MAX_QUESTION_TOKENS:,}. "
            "Verity does not cut pasted text silently: shorten the question, or upload the text as a "
            "document and ask about it."
        )
    return cleaned
