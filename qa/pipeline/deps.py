"""What the stages work with, in one object built once per answer by ``answer_run``: the
channel to the reader (``emit``), the embedding model, the language models (an explicit chain,
or None to route), the verifier, the configured model tiers and a snapshot of the ``QA_*``
settings the stages read. Stages take it as an argument and read no globals, so a test passes
another embedder, provider, verifier or setting without patching a module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings

from prompts.services.selection import PromptChoice
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider
from providers.registry import embedding_provider_default
from qa.checks.verification import Verifier, verifier_default
from qa.pipeline.routing import TierSpec, tiers_configured
from qa.realtime import Emit


class StreamMode(StrEnum):
    """``QA_STREAM_MODE``: how the draft reaches the reader while the model writes."""

    TOKEN = "token"  # noqa: S105 - a mode, not a secret: each word as the model gives it
    SENTENCE = "sentence"  # each sentence verified before it is shown


@dataclass(frozen=True)
class PipelineSettings:
    """The ``QA_*`` settings the stages read, taken once per answer (``override_settings`` in
    a test applies to the answers started inside it)."""

    retrieval_k: int
    context_max_tokens: int
    max_output_tokens: int
    cache_enabled: bool
    stream_mode: StreamMode
    verify_min_supported_share: float

    @classmethod
    def from_django(cls) -> PipelineSettings:
        return cls(
            retrieval_k=settings.QA_RETRIEVAL_K,
            context_max_tokens=settings.QA_CONTEXT_MAX_TOKENS,
            max_output_tokens=settings.QA_MAX_OUTPUT_TOKENS,
            cache_enabled=settings.QA_CACHE_ENABLED,
            # Any value but "sentence" has always meant token mode: an unknown value must not
            # stop every answer.
            stream_mode=StreamMode.SENTENCE if settings.QA_STREAM_MODE == StreamMode.SENTENCE else StreamMode.TOKEN,
            verify_min_supported_share=settings.QA_VERIFY_MIN_SUPPORTED_SHARE,
        )


@dataclass(frozen=True)
class PipelineDeps:
    emit: Emit
    embedder: EmbeddingProvider
    # An explicit chain (tests, evaluation, precompute) skips routing, not the restriction of
    # restricted collections to on-machine models; None: the router picks from ``tiers``.
    providers: tuple[LLMProvider, ...] | None
    # The configured verifier; ``verifier_for_classification`` narrows it per answer.
    verifier: Verifier
    tiers: tuple[TierSpec, ...]
    settings: PipelineSettings
    # Prompt versions to use instead of the asker's (evaluating a proposal or a version before
    # its label moves); None: production, or the asker's experiment arm.
    prompts: PromptChoice | None = None


def pipeline_deps(
    *,
    emit: Emit,
    embedder: EmbeddingProvider | None = None,
    providers: Sequence[LLMProvider] | None = None,
    verifier: Verifier | None = None,
    prompts: PromptChoice | None = None,
) -> PipelineDeps:
    """The dependencies of one answer: the given ones, the configured defaults for the rest."""
    embedder = embedder or embedding_provider_default()
    return PipelineDeps(
        emit=emit,
        embedder=embedder,
        providers=tuple(providers) if providers is not None else None,
        verifier=verifier or verifier_default(embedder=embedder),
        tiers=tuple(tiers_configured()),
        settings=PipelineSettings.from_django(),
        prompts=prompts,
    )
