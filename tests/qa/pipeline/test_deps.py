"""The pipeline's dependencies: given ones kept, defaults built once per answer."""

from __future__ import annotations

import pytest
from django.test import override_settings

from qa.checks.verification import EvidenceVerifier
from qa.pipeline.deps import StreamMode, pipeline_deps
from qa.pipeline.routing import TierSpec
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db


def test_the_settings_are_read_when_the_answer_starts() -> None:
    with override_settings(QA_RETRIEVAL_K=3, QA_STREAM_MODE="sentence", QA_CACHE_ENABLED=False):
        deps = pipeline_deps(emit=lambda *_: None)
    assert (deps.settings.retrieval_k, deps.settings.stream_mode, deps.settings.cache_enabled) == (
        3, StreamMode.SENTENCE, False,
    )  # fmt: skip


def test_any_stream_mode_but_sentence_means_word_by_word() -> None:
    with override_settings(QA_STREAM_MODE="words"):
        assert pipeline_deps(emit=lambda *_: None).settings.stream_mode == StreamMode.TOKEN


def test_given_providers_are_kept_and_the_rest_is_configured() -> None:
    provider = ScriptedProvider("Hello [1].")
    deps = pipeline_deps(emit=lambda *_: None, providers=[provider])
    assert deps.providers == (provider,)
    assert isinstance(deps.verifier, EvidenceVerifier) and deps.verifier.embedder is deps.embedder
    # The extractive tier is always configured: the floor every degradation relies on.
    assert any(isinstance(t, TierSpec) and t.provider == "extractive" for t in deps.tiers)
    assert pipeline_deps(emit=lambda *_: None).providers is None  # routed
