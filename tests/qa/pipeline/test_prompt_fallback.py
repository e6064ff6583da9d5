"""The prompt fallback: an answer whose output fails its checks (empty, no citation, citations to
no passage, a refusal, a verification collapse) is written once more with the prompt version's
fallback (answer-v2 -> answer_strict-v1), and the answer records it. The whole pipeline runs on
the real database and embedding model; the language model is a test double that breaks the
format for one prompt version and not for the other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from evaluation.services.runs import EVAL_USERNAME
from ops.selectors.prompt_fallbacks import prompt_fallback_rate
from prompts.services.registry import prompt_by_key, prompts_current, version_create
from prompts.services.selection import PromptChoice
from providers.llm.base import LLMProvider, LLMRequest, StreamStats
from qa.checks.confidence import Confidence
from qa.checks.verification import Verification
from qa.models import (
    Answer,
    AnswerStatus,
    ConfidenceLevel,
    Interaction,
    UsageCounter,
)
from qa.pipeline.check import Checked, DeclineCause
from qa.pipeline.fallback import REWRITING_MESSAGE, FallbackReason, check_failure, output_failure
from qa.pipeline.gateway import GatewayResult
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.pipeline.plan import Plan
from qa.services.budgets import scope_user
from tests.factories import user_create
from tests.helpers import Recorder, ask, routed_priced_tier

pytestmark = pytest.mark.django_db

LONDON = "What is the hotel limit in London?"
UNCITED = "In London the limit is 260 euros per night."
REFUSAL = "I'm sorry, but I cannot help with that."
INVENTED = "The hotel limit in London is 999 euros per night, set by Margarethe Quillfeather [1]."


@pytest.fixture(autouse=True)
def _no_cache(settings) -> None:
    # Each test asks the London question again: the model must write every answer.
    settings.QA_CACHE_ENABLED = False


def _cited(request: LLMRequest) -> str:
    """The London sentence citing the passage it is in, as a well-behaved model writes it."""
    n = next(p.n for p in request.passages if "260 euros" in p.text)
    return f"In London the limit is 260 euros per night [{n}]."


class FormatBreakingModel(LLMProvider):
    """Writes ``broken`` for any prompt but answer_strict's (recognised by its system message) and,
    for answer_strict's, ``strict`` (default: the supporting sentence, cited). Streams word by word."""

    name = "format-sim"
    model_id = "format-sim-2026-01"

    def __init__(self, broken: str | None, strict: str | None = None) -> None:
        self.broken, self.strict = broken, strict
        self.strict_system = prompt_by_key(key="answer_strict-v1").template_of("system")
        self.requests: list[LLMRequest] = []

    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        self.requests.append(request)
        if request.messages[0]["content"] == self.strict_system:
            text = self.strict if self.strict is not None else _cited(request)
        else:
            text = self.broken if self.broken is not None else _cited(request)
        words = text.split(" ") if text else []
        stats.tokens_in = 100
        for index, word in enumerate(words):
            yield ("" if index == 0 else " ") + word
        stats.tokens_out = len(words)


def _calls(answer: Answer) -> list[Interaction]:
    return list(Interaction.objects.filter(answer=answer).order_by("pk"))


# ------------------------------------------------------------------ the fallback's answer reaches the reader


def test_an_answer_without_citations_is_written_again_with_the_fallback_prompt(reader) -> None:
    model = FormatBreakingModel(broken=UNCITED)
    recorder = Recorder()
    answer = ask(reader, LONDON, providers=[model], recorder=recorder)

    assert answer.status == AnswerStatus.ANSWERED
    assert answer.text == _cited(model.requests[1])
    assert answer.prompt_fallback_used and answer.prompt_key == "answer_strict-v1"
    assert answer.route["prompt_fallback"] == {"from": "answer-v2", "to": "answer_strict-v1", "reason": "no_citations"}
    assert not answer.fallback_used, "the provider did not fail: no provider fallback"
    # Two model calls, each recording the version it sent; the same passages, other words.
    calls = _calls(answer)
    assert [c.prompt_key for c in calls] == ["answer-v2", "answer_strict-v1"]
    assert calls[0].response == UNCITED and calls[1].response == answer.text
    first, second = model.requests
    assert first.passages == second.passages and first.question == second.question
    assert first.messages[0] != second.messages[0] and first.messages[1] == second.messages[1]
    # The reader saw the broken draft, then a reset saying why, then the fallback's words.
    types = recorder.types()
    reset = types.index("qa.reset")
    assert types.index("qa.token") < reset < types.index("qa.final")
    assert recorder.events[reset][1]["message"] == REWRITING_MESSAGE
    after = "".join(p["text"] for e, p in recorder.events[reset:] if e == "qa.token")
    assert after == answer.text
    # Both calls are in the answer's spend.
    assert answer.tokens_in == sum(c.tokens_in for c in calls) == 200


def test_in_sentence_mode_the_fallback_s_answer_starts_a_fresh_draft(reader, settings) -> None:
    settings.QA_STREAM_MODE = "sentence"
    recorder = Recorder()
    answer = ask(reader, LONDON, providers=[FormatBreakingModel(broken=UNCITED)], recorder=recorder)
    assert answer.prompt_fallback_used
    reset = recorder.types().index("qa.reset")
    before = [p["text"] for e, p in recorder.events[:reset] if e == "qa.token"]
    after = [p["text"] for e, p in recorder.events[reset:] if e == "qa.token"]
    assert before, "the first draft was streamed (verified sentence by sentence)"
    assert "".join(after) == answer.text, "the cleared draft starts again without a leading space"


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("", FallbackReason.EMPTY),
        (REFUSAL, FallbackReason.REFUSAL),
        ("As an AI language model, I can't help with questions about company policies.", FallbackReason.REFUSAL),
        ("In London the limit is 260 euros per night [9].", FallbackReason.CITATIONS_TO_NO_PASSAGE),
        (INVENTED, FallbackReason.VERIFICATION_COLLAPSE),
    ],
)
def test_every_kind_of_failed_output_gets_the_fallback(reader, broken: str, reason: FallbackReason) -> None:
    model = FormatBreakingModel(broken=broken)
    recorder = Recorder()
    answer = ask(reader, LONDON, providers=[model], recorder=recorder)
    assert answer.status == AnswerStatus.ANSWERED and "260 euros" in answer.text
    assert "999" not in answer.text and "cannot help" not in answer.text
    assert answer.prompt_fallback_used and answer.prompt_key == "answer_strict-v1"
    assert answer.route["prompt_fallback"]["reason"] == reason.value
    assert [c.prompt_key for c in _calls(answer)] == ["answer-v2", "answer_strict-v1"]
    assert "qa.reset" in recorder.types()


# ------------------------------------------------------------------ when there is no retry


def test_a_good_answer_is_not_written_again(reader) -> None:
    model = FormatBreakingModel(broken=None)  # cites for every prompt
    recorder = Recorder()
    answer = ask(reader, LONDON, providers=[model], recorder=recorder)
    assert answer.status == AnswerStatus.ANSWERED and "260 euros" in answer.text
    assert not answer.prompt_fallback_used and answer.prompt_key == "answer-v2"
    assert "prompt_fallback" not in answer.route
    assert [c.prompt_key for c in _calls(answer)] == ["answer-v2"]
    assert "qa.reset" not in recorder.types()


def test_a_model_that_says_the_documents_do_not_cover_it_declined_and_is_not_asked_again(reader) -> None:
    model = FormatBreakingModel(broken="The documents do not cover this.")
    answer = ask(reader, LONDON, providers=[model])
    assert answer.status == AnswerStatus.DECLINED
    assert not answer.prompt_fallback_used and len(model.requests) == 1


def test_when_the_fallback_also_fails_there_is_no_third_call_and_the_answer_declines(reader) -> None:
    model = FormatBreakingModel(broken=REFUSAL, strict=REFUSAL)
    answer = ask(reader, LONDON, providers=[model])
    assert len(model.requests) == 2
    assert answer.status == AnswerStatus.DECLINED and answer.text == ""
    assert "could not verify" in answer.decline_reason
    assert answer.prompt_fallback_used and answer.prompt_key == "answer_strict-v1"
    assert answer.route["prompt_fallback"]["reason"] == "refusal"


def test_when_the_fallback_also_cites_nothing_verification_repairs_its_citations_as_before(reader) -> None:
    model = FormatBreakingModel(broken=UNCITED, strict=UNCITED)
    answer = ask(reader, LONDON, providers=[model])
    assert len(model.requests) == 2
    assert answer.status == AnswerStatus.ANSWERED and answer.text == _cited(model.requests[1])
    assert answer.verification["sentences"][0]["action"] == "cited"


def test_a_prompt_version_without_a_fallback_is_not_retried(reader) -> None:
    production = prompts_current()["answer"]
    version = version_create(
        prompt_id="answer", messages=[{"role": m.role, "template": m.template} for m in production.messages],
        actor=None, note="the same words, no fallback", fallback_key="",
    )  # fmt: skip
    choice = PromptChoice(templates={**prompts_current(), "answer": prompt_by_key(key=version.key)})
    model = FormatBreakingModel(broken=REFUSAL)
    answer = answer_create(user=reader, question=LONDON)
    answer = answer_run(answer_id=answer.pk, emit=Recorder(), providers=[model], prompts=choice)
    assert len(model.requests) == 1
    assert answer.status == AnswerStatus.DECLINED
    assert not answer.prompt_fallback_used and answer.prompt_key == version.key


def test_the_extractive_provider_never_gets_a_fallback(reader) -> None:
    # It does not read the prompt: whatever it wrote, another prompt would not change it.
    plan = Plan(
        request=LLMRequest(question=LONDON, messages=[], passages=[]), chain=(), route={}, reservation=None,
        notice="", verifier=None, relevance=None,  # type: ignore[arg-type]
    )  # fmt: skip
    extractive = GatewayResult(text="", provider="extractive", model="verity-extractive-1", fallback_used=False)
    model = replace(extractive, provider="format-sim")
    assert output_failure(result=extractive, plan=plan) is None
    assert output_failure(result=model, plan=plan) == FallbackReason.EMPTY
    nothing = Verification(text="", sentences=[], dropped_citations=[], verifier="evidence-v1", elapsed_ms=0.0)
    collapsed = Checked(
        verification=nothing, confidence=Confidence(0.0, ConfidenceLevel.LOW, "", below_floor=True),
        decline_reason="nothing verified", cause=DeclineCause.NOTHING_VERIFIED, verification_ms=0.0,
    )  # fmt: skip
    assert check_failure(result=extractive, checked=collapsed) is None
    assert check_failure(result=model, checked=collapsed) == FallbackReason.VERIFICATION_COLLAPSE
    # And through the pipeline: the default chain is the extractive provider, one call.
    answer = ask(reader, LONDON)
    assert answer.provider == "extractive" and not answer.prompt_fallback_used
    assert len(_calls(answer)) == 1


def test_a_low_confidence_or_a_model_decline_is_no_collapse() -> None:
    assert not DeclineCause.MODEL_DECLINED.collapse and not DeclineCause.LOW_CONFIDENCE.collapse
    assert not DeclineCause.ONLY_INJECTED_TEXT.collapse and not DeclineCause.NONE.collapse
    assert DeclineCause.TOO_LITTLE_SUPPORTED.collapse


# ------------------------------------------------------------------ spend: each call counted once


@pytest.fixture
def uncited_tier(db):
    """A routed, priced, external tier whose model never cites (for either prompt)."""
    with routed_priced_tier(UNCITED) as server:
        yield server


def test_the_fallback_call_is_reserved_and_settled_like_the_first(reader, uncited_tier) -> None:
    answer = ask(reader, LONDON)
    assert len(uncited_tier.requests) == 2 and answer.prompt_fallback_used
    assert answer.model == "fake-small-1"
    calls = _calls(answer)
    assert [c.prompt_key for c in calls] == ["answer-v2", "answer_strict-v1"]
    assert all(c.cost > 0 for c in calls)
    counter = UsageCounter.objects.get(scope=scope_user(reader.pk))
    assert counter.cost == answer.cost == sum(c.cost for c in calls)
    assert counter.tokens == sum(c.tokens_in + c.tokens_out for c in calls)
    assert counter.reserved_cost == 0 and counter.reserved_tokens == 0, "both reservations released"


# ------------------------------------------------------------------ the fallback rate and its alert


def test_the_usage_page_shows_the_fallback_rate_and_warns_over_the_threshold(reader, client, settings) -> None:
    ask(reader, LONDON, providers=[FormatBreakingModel(broken=UNCITED)])
    ask(reader, "How much is the hotel limit in London?", providers=[FormatBreakingModel(broken=None)])
    ask(reader, "What is the nightly hotel limit in London?", providers=[FormatBreakingModel(broken=None)])

    # An evaluation run's answers (a proposal's draft on the golden set) are not traffic.
    evaluator = user_create(username=EVAL_USERNAME, groups=("staff-readers",))
    assert ask(evaluator, LONDON, providers=[FormatBreakingModel(broken=UNCITED)]).prompt_fallback_used
    rates = prompt_fallback_rate(since=timezone.now() - timedelta(hours=1))
    v2 = rates["answer-v2"]
    assert (v2.answers, v2.fallbacks) == (3, 1) and v2.rate == pytest.approx(1 / 3)
    assert rates["answer_strict-v1"].fallbacks == 0
    assert (
        prompt_fallback_rate(since=timezone.now() - timedelta(hours=1), until=timezone.now() - timedelta(minutes=30))
        == {}
    )

    client.force_login(user_create(username="ops", staff=True))
    settings.QA_PROMPT_FALLBACK_ALERT_RATE, settings.QA_PROMPT_FALLBACK_ALERT_MIN = 0.2, 10
    page = client.get("/ops/usage/").content.decode()
    assert "Prompt fallbacks (last 24 h)" in page and "answer-v2" in page and "33%" in page
    assert 'id="prompt-fallback-alert"' not in page, "three answers are fewer than the minimum"

    settings.QA_PROMPT_FALLBACK_ALERT_MIN = 3
    page = client.get("/ops/usage/").content.decode()
    assert 'id="prompt-fallback-alert"' in page
    assert '<tr class="danger"><td>answer-v2</td><td>3</td><td>1</td><td>33%</td><td>over the threshold' in page
    assert "<tr><td>answer_strict-v1</td>" in page

    settings.QA_PROMPT_FALLBACK_ALERT_RATE = 0.5
    assert 'id="prompt-fallback-alert"' not in client.get("/ops/usage/").content.decode()
