"""Stage 1: the question itself."""

from __future__ import annotations

from django.conf import settings

from core.errors import ApplicationError


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
    return cleaned
