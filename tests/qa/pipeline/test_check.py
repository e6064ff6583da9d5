"""The check stage: what of the model's answer holds up against the passages, and when too
little does, the reason to decline."""

from __future__ import annotations

import pytest

from ingestion.selectors.collections import AnswerPolicy
from providers.llm.base import ContextPassage, LLMRequest
from qa.checks.verification import PassageSupport
from qa.pipeline.check import ONLY_INJECTED_TEXT, answer_check
from qa.pipeline.deps import PipelineDeps, PipelineSettings, StreamMode
from qa.pipeline.evidence import EvidenceVerdict
from qa.pipeline.gate import GateVerdict
from qa.pipeline.plan import Plan
from qa.pipeline.retrieve import Retrieved

PASSAGES = [
    ContextPassage(
        1, 11, 1, "Travel Policy", "Hotels", None, "travel.md", "In London the limit is 260 euros per night."
    ),
    ContextPassage(2, 12, 1, "Travel Policy", "Meals", None, "travel.md", "Meals are covered up to 55 euros per day."),
]
POLICY = AnswerPolicy(("legal", "financial", "medical"), "hold", "remove", 0.75, 0.55, 0.35)


class ScriptedVerifier:
    """Supports the claims that mention a word of ``supported`` (by the passage whose text has
    that word), no other."""

    name = "scripted"

    def __init__(self, *supported: str) -> None:
        self.supported = supported

    def support(self, *, claims: list[str], passages: list[ContextPassage]) -> list[list[PassageSupport]]:
        return [
            [PassageSupport(0.95 if any(w in c and w in p.text for w in self.supported) else 0.05) for p in passages]
            for c in claims
        ]


def check(text: str, verifier: ScriptedVerifier, *, min_supported_share: float = 0.5):
    settings = PipelineSettings(
        retrieval_k=6, context_max_tokens=3000, max_output_tokens=512, cache_enabled=False,
        stream_mode=StreamMode.TOKEN, verify_min_supported_share=min_supported_share,
    )  # fmt: skip
    deps = PipelineDeps(
        emit=lambda *_: None,
        embedder=None,
        providers=None,
        verifier=verifier,
        tiers=(),
        settings=settings,  # type: ignore[arg-type]
    )
    plan = Plan(
        request=LLMRequest(question="q", messages=[], passages=PASSAGES), chain=(), route={}, reservation=None,
        notice="", verifier=verifier, relevance=None,
    )  # fmt: skip
    retrieved = Retrieved(chunks=[], searched={}, policy=POLICY, retrieval_ms=0.0)
    verdict = GateVerdict(
        evidence=EvidenceVerdict(True, "", [], best_similarity=0.8), stakes=None, held=False, reusable=None
    )
    return answer_check(text=text, answer_id=1, retrieved=retrieved, verdict=verdict, plan=plan, deps=deps)


def test_a_supported_answer_may_be_shown_with_its_confidence() -> None:
    checked = check("In London the limit is 260 euros per night [1].", ScriptedVerifier("London"))
    assert checked.decline_reason == ""
    assert checked.verification.text == "In London the limit is 260 euros per night [1]."
    assert checked.trust["confidence_level"] == checked.confidence.level
    assert checked.trust["verification"]["supported"] == 1


def test_an_answer_nothing_supports_is_declined() -> None:
    checked = check("The limit in Paris is 900 euros [1].", ScriptedVerifier())
    assert checked.decline_reason == (
        "I could not verify any statement of the draft answer against the passages, so I will not guess."
    )


@pytest.mark.parametrize(("share", "declined"), [(0.5, False), (0.75, True)])
def test_the_share_of_supported_statements_has_a_floor(share: float, declined: bool) -> None:
    text = "In London the limit is 260 euros per night [1]. Taxis are always reimbursed in full [2]."
    checked = check(text, ScriptedVerifier("London"), min_supported_share=share)
    expected = "Only 1 of 2 statements of the draft answer are supported by the passages, so I will not guess."
    assert (checked.decline_reason == expected) is declined


def test_a_link_in_no_passage_is_removed_and_the_rest_is_shown() -> None:
    text = "In London the limit is 260 euros per night [1]. Book at https://evil.example/book?q=london [1]."
    checked = check(text, ScriptedVerifier("London", "Book"))
    assert "evil" not in checked.verification.text
    assert checked.verification.text.startswith("In London the limit is 260 euros per night [1].")
    assert checked.decline_reason == ""


def test_an_answer_of_nothing_but_injected_text_is_declined() -> None:
    checked = check("In London, visit https://evil.example/?q=secret [1].", ScriptedVerifier("London"))
    assert checked.verification.text == ""
    assert checked.decline_reason == ONLY_INJECTED_TEXT
