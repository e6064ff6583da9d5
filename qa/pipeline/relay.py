"""The stream relay: what stands between the model gateway and the reader while the model
writes. It times the first word the reader sees, passes the words through the stream gate and
discards the draft when a provider fails mid-answer and the next one starts over, or when the
output failed its checks and the prompt version's fallback writes it again (``on_reset``: the
reader is told why, and the draft shown so far is cleared).

Stream gate. Token mode sends each word as the model gives it (fast first words), holding only
sentences that start a link, image or markup until they are checked (``LinkHoldGate``). When a
passage is suspect of text addressed to the model, the answer streams in sentence mode instead:
each sentence is verified and checked before it is shown, so an instruction the scan only partly
caught cannot put its payload on screen, even as a draft. Suspect passages are rare, so ordinary
answers keep word-by-word streaming. Then sentences off the question are held back too
(``QuestionRelevance``). A held answer (high-stakes, "hold" policy) streams nothing: nobody sees
it before a reviewer does."""

from __future__ import annotations

import time
from collections.abc import Callable

from providers.llm.base import ContextPassage
from qa.checks.verification import Verifier, answer_verify
from qa.pipeline.deps import StreamMode
from qa.pipeline.stream_guard import STREAM_SENTENCE_END, LinkHoldGate, QuestionRelevance, sentence_blocked_reason
from qa.realtime import Emit, Event


class SentenceGate:
    """Sentence mode: hold the model's words until a sentence is complete, verify it, and pass
    on only what the verifier keeps and the stream guard allows."""

    def __init__(
        self,
        emit_text: Callable[[str], None],
        passages: list[ContextPassage],
        verifier: Verifier,
        policy: str,
        relevance: QuestionRelevance | None = None,
    ) -> None:
        self.emit_text, self.passages, self.verifier, self.policy = emit_text, passages, verifier, policy
        self.relevance = relevance
        self.buffer = ""
        self.sent_any = False

    def feed(self, piece: str) -> None:
        self.buffer += piece
        while True:
            match = STREAM_SENTENCE_END.search(self.buffer)
            if match is None:
                return
            sentence, self.buffer = self.buffer[: match.end()], self.buffer[match.end() :]
            self._release(sentence)

    def flush(self) -> None:
        if self.buffer.strip():
            self._release(self.buffer)
        self.buffer = ""

    def _release(self, sentence: str) -> None:
        checked = answer_verify(text=sentence, passages=self.passages, verifier=self.verifier, policy=self.policy)
        if checked.text and not sentence_blocked_reason(
            sentence=checked.text, passages=self.passages, relevance=self.relevance
        ):
            self.emit_text(("" if not self.sent_any else " ") + checked.text)
            self.sent_any = True

    def reset(self) -> None:
        # The reader's draft is cleared too: the next sentence starts it again, without a space.
        self.buffer = ""
        self.sent_any = False


class StreamRelay:
    """Relays one answer's stream: ``on_token`` and ``on_reset`` are the gateway's callbacks,
    ``flush`` releases what the gate still holds once the model has finished, and
    ``first_token_ms`` is when the reader saw the first word (None: nothing was shown).

    ``relevance`` is given when a passage is suspect (see the module docstring): it switches the
    answer to sentence mode whatever ``mode`` says."""

    def __init__(
        self,
        *,
        emit: Emit,
        started: float,
        mode: StreamMode,
        held: bool,
        passages: list[ContextPassage],
        verifier: Verifier,
        unsupported_policy: str,
        relevance: QuestionRelevance | None,
    ) -> None:
        self._emit = emit
        self._started = started  # time.perf_counter() origin of the answer's timings
        self._held = held
        self.first_token_ms: float | None = None
        self._gate: SentenceGate | LinkHoldGate | None = None
        if held:
            return
        if mode == StreamMode.SENTENCE or relevance is not None:
            self._gate = SentenceGate(self._send, passages, verifier, unsupported_policy, relevance)
        else:
            self._gate = LinkHoldGate(self._send, passages)

    def on_token(self, piece: str) -> None:
        if self._gate is not None:
            self._gate.feed(piece)

    def on_reset(self, message: str) -> None:
        """The draft so far is discarded: what the gate holds is dropped and the reader's text is
        cleared (``Event.RESET``, with ``message`` saying why); a held answer showed nothing."""
        if self._gate is not None:
            self._gate.reset()
        if not self._held:
            self._emit(Event.RESET, {"message": message})

    def flush(self) -> None:
        if self._gate is not None:
            self._gate.flush()

    def _send(self, text: str) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = round((time.perf_counter() - self._started) * 1000, 1)
        self._emit(Event.TOKEN, {"text": text})
