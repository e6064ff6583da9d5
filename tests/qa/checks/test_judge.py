"""The judge verifier: a configured model decides which sentences the passages support; when it
fails, the evidence verifier decides."""

from __future__ import annotations

import pytest

from tests.helpers import JudgeServer

# The judge's prompt is the ``judge`` prompt's production version, read from the registry.
pytestmark = pytest.mark.django_db


def _three_passages() -> list:
    from providers.llm.base import ContextPassage

    texts = ["Alpha ships on Mondays.", "Beta ships on Tuesdays.", "Gamma ships on Fridays."]
    return [ContextPassage(n, n, 1, "T", "", None, "s.md", t) for n, t in enumerate(texts, start=1)]


def test_a_configured_judge_model_decides_support() -> None:
    from providers.registry import embedding_provider_default
    from qa.checks.verification import EvidenceVerifier, JudgeVerifier, answer_verify

    judge = JudgeServer('{"scores": [[0.9, 0.0, 0.0], [0.0, 0.1, 0.0]]}')
    try:
        verifier = JudgeVerifier(
            url=judge.url, model="judge-1", api_key="", fallback=EvidenceVerifier(embedder=embedding_provider_default())
        )
        result = answer_verify(
            text="Alpha ships on Mondays [1]. Beta ships on Sundays [2].", passages=_three_passages(), verifier=verifier
        )
    finally:
        judge.close()
    assert "Beta ships on Sundays" in judge.prompts[0]
    assert result.text == "Alpha ships on Mondays [1]." and result.verifier == "judge-v1"


def test_a_failing_judge_falls_back_to_the_evidence_verifier() -> None:
    from providers.registry import embedding_provider_default
    from qa.checks.verification import EvidenceVerifier, JudgeVerifier, answer_verify

    judge = JudgeServer("not json at all")
    try:
        verifier = JudgeVerifier(
            url=judge.url, model="judge-1", api_key="", fallback=EvidenceVerifier(embedder=embedding_provider_default())
        )
        result = answer_verify(
            text="Alpha ships on Mondays [1]. Gamma ships on Fridays [1].",
            passages=_three_passages(),
            verifier=verifier,
        )
    finally:
        judge.close()
    assert result.text == "Alpha ships on Mondays [1]. Gamma ships on Fridays [3]."
