"""The language-model boundary. A provider turns an ``LLMRequest`` (the exact chat messages,
plus the numbered passages for providers that work on them directly) into a stream of text
pieces. Everything else (logging, fallback, cost) happens in the gateway around it."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field


class LLMError(Exception):
    """A provider failed (timeout, HTTP error, bad key, malformed stream). The gateway records
    it and tries the next provider of the chain."""


class LLMDeclined(Exception):  # noqa: N818 - a decline is an outcome, not an error
    """The provider found nothing good enough to say (the extractive provider's honest decline)."""


@dataclass(frozen=True)
class ContextPassage:
    n: int
    chunk_id: int
    document_id: int
    title: str
    section: str
    page: int | None
    source_name: str
    text: str
    # The injection patterns found in the passage (its sentences that address the model are
    # withheld from ``text``); empty for an ordinary passage.
    injection_flags: tuple[str, ...] = ()
    # Some sentence could be dictating words for the answer (a broader, noisier signal than the
    # flags): the answer streams sentence by sentence, each checked, when any passage is suspect.
    injection_suspect: bool = False


@dataclass(frozen=True)
class LLMRequest:
    question: str
    messages: list[dict[str, str]]
    passages: list[ContextPassage]
    max_output_tokens: int = 512
    temperature: float = 0.0
    prompt_key: str = ""  # the prompt version the messages come from (``answer-v2``), for the log


@dataclass
class StreamStats:
    tokens_in: int = 0
    tokens_out: int = 0
    extra: dict[str, object] = field(default_factory=dict)


class LLMProvider(abc.ABC):
    name: str = "abstract"
    model_id: str = ""
    external: bool = False  # True when text leaves this machine

    def stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        """Yield the answer as it is produced. Raise LLMError on failure, LLMDeclined to decline."""
        yield from self._stream(request, stats)

    @abc.abstractmethod
    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]: ...


def approx_tokens(text: str) -> int:
    """About four characters per token for English (used when a provider reports no usage)."""
    return max(1, len(text) // 4)
