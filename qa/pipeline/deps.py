"""What the stages work with, in one object built once per answer by ``answer_run``: the
channel to the reader (``emit``), the embedding model, the language models (an explicit chain,
or None to route), the verifier, the configured model tiers and a snapshot of the ``QA_*``
settings the stages read. Stages take it as an argument and read no globals, so a test passes
another embedder, provider, verifier or setting without patching a module."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings

from prompts.services.selection import PromptChoice
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider
from providers.registry import embedding_provider_default
from qa.checks.verification import Verifier, verifier_default, verifier_for_classification
from qa.models import KillSwitchName, TierProvider
from qa.pipeline.routing import EXTRACTIVE, TierSpec, tiers_configured
from qa.realtime import Emit
from qa.services.kill_switches import kill_switches_active


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
    # False: no stored answer (curated, cached, precomputed) is looked up at all (kill switch).
    reuse_enabled: bool = True

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
    # The kill switches that were on when the answer started (already applied to the fields
    # above: external tiers and judge dropped, model tiers dropped, the cache off).
    kill_switches: frozenset[KillSwitchName] = frozenset()


def pipeline_deps(
    *,
    emit: Emit,
    embedder: EmbeddingProvider | None = None,
    providers: Sequence[LLMProvider] | None = None,
    verifier: Verifier | None = None,
    prompts: PromptChoice | None = None,
) -> PipelineDeps:
    """The dependencies of one answer: the given ones, the configured defaults for the rest,
    with the kill switches that are on applied to them (``qa.services.kill_switches``)."""
    embedder = embedder or embedding_provider_default()
    switches = kill_switches_active()
    chain = tuple(providers) if providers is not None else None
    tiers = tuple(tiers_configured())
    verifier = verifier or verifier_default(embedder=embedder)
    pipeline_settings = PipelineSettings.from_django()
    if KillSwitchName.MODEL_ANSWERS in switches:
        tiers = _or_extractive([t for t in tiers if t.provider == TierProvider.EXTRACTIVE])
        if chain is not None:
            chain = tuple(p for p in chain if p.name == TierProvider.EXTRACTIVE)
    if KillSwitchName.EXTERNAL_MODELS in switches:
        tiers = _or_extractive([t for t in tiers if not t.external])
        if chain is not None:
            chain = tuple(p for p in chain if not p.external)
        # The same narrowing a restricted collection gets: an external judge gives way to its fallback.
        verifier = verifier_for_classification(verifier=verifier, restricted=True)
    if KillSwitchName.ANSWER_CACHE in switches:
        pipeline_settings = dataclasses.replace(pipeline_settings, cache_enabled=False, reuse_enabled=False)
    return PipelineDeps(
        emit=emit,
        embedder=embedder,
        # An explicit chain a switch emptied is answered by the extractive model (``answer_plan``).
        providers=chain,
        verifier=verifier,
        tiers=tiers,
        settings=pipeline_settings,
        prompts=prompts,
        kill_switches=switches,
    )


def _or_extractive(tiers: list[TierSpec]) -> tuple[TierSpec, ...]:
    """The tiers a switch left, or the built-in extractive one when it left none."""
    return tuple(tiers) if tiers else (EXTRACTIVE,)
