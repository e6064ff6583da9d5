"""The stream relay: what the reader sees while the model writes."""

from __future__ import annotations

import pytest

from providers.llm.base import ContextPassage
from qa.checks.verification import PassageSupport
from qa.pipeline.deps import StreamMode
from qa.pipeline.relay import StreamRelay
from qa.realtime import Emit

PASSAGES = [ContextPassage(1, 1, 1, "Travel Policy", "Hotels", None, "travel.md", "In London the limit is 260 euros.")]


class TrustingVerifier:
    """Finds every claim supported by the first passage (the relay's gate is under test, not
    verification)."""

    name = "trusting"

    def support(self, *, claims: list[str], passages: list[ContextPassage]) -> list[list[PassageSupport]]:
        return [[PassageSupport(0.9)] + [PassageSupport(0.0)] * (len(passages) - 1) for _ in claims]


def relay_for(recorder: Emit, *, mode: StreamMode = StreamMode.TOKEN, held: bool = False) -> StreamRelay:
    return StreamRelay(
        emit=recorder, started=0.0, mode=mode, held=held, passages=PASSAGES, verifier=TrustingVerifier(),
        unsupported_policy="remove", relevance=None,
    )  # fmt: skip


def test_in_token_mode_each_word_goes_out_as_the_model_gives_it(recorder) -> None:
    relay = relay_for(recorder)
    relay.on_token("In")
    assert recorder.tokens() == "In"
    relay.on_token(" London")
    assert recorder.tokens() == "In London"
    assert relay.first_token_ms is not None


def test_nothing_shown_means_no_first_token_time() -> None:
    relay = relay_for(lambda *_: None)
    relay.flush()
    assert relay.first_token_ms is None


def test_a_sentence_with_a_link_in_no_passage_never_reaches_the_reader(recorder) -> None:
    relay = relay_for(recorder)
    for piece in ["The limit is 260 euros [1].", " See", " https://evil.example/?q=london", " now.", " Bye."]:
        relay.on_token(piece)
    relay.flush()
    assert "evil" not in recorder.tokens()
    assert recorder.tokens().startswith("The limit is 260 euros [1].")


def test_in_sentence_mode_words_wait_for_the_end_of_their_sentence(recorder) -> None:
    relay = relay_for(recorder, mode=StreamMode.SENTENCE)
    relay.on_token("In London the limit")
    assert recorder.tokens() == ""
    relay.on_token(" is 260 euros [1]. In")
    assert recorder.tokens() == "In London the limit is 260 euros [1]."


def test_a_held_answer_streams_nothing_not_even_a_reset(recorder) -> None:
    relay = relay_for(recorder, held=True)
    relay.on_token("In London the limit is 260 euros [1].")
    relay.on_reset("scripted failed mid-answer")
    relay.flush()
    assert recorder.events == [] and relay.first_token_ms is None


def test_a_reset_tells_the_reader_and_drops_the_words_held_back(recorder) -> None:
    relay = relay_for(recorder, mode=StreamMode.SENTENCE)
    relay.on_token("Half a sentence from the first model")
    relay.on_reset("scripted failed mid-answer (boom); trying the next model")
    relay.flush()
    assert recorder.events == [("qa.reset", {"message": "scripted failed mid-answer (boom); trying the next model"})]


@pytest.mark.parametrize("mode", list(StreamMode))
def test_what_the_gate_still_holds_goes_out_when_the_model_finishes(recorder, mode: StreamMode) -> None:
    relay = relay_for(recorder, mode=mode)
    relay.on_token("In London the limit is 260 euros [1]")
    relay.flush()
    assert recorder.tokens() == "In London the limit is 260 euros [1]"


def test_citation_markers_after_a_full_stop_go_out_with_their_sentence(recorder) -> None:
    relay = relay_for(recorder, mode=StreamMode.SENTENCE)
    relay.on_token("In London the limit is 260 euros. [1] Meals")
    assert "[1]" in recorder.tokens() and "Meals" not in recorder.tokens()
