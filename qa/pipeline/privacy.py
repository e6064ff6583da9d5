"""The data class's rules applied to one answer's model calls (issue #14, points 1 and 2).

``answer_plan`` builds one :class:`RequestPrivacy` per answer from the strictest data class of the
collections its passages came from. The gateway and the judge ask it, for every model call:

- what to send (:meth:`RequestPrivacy.outbound`): to an endpoint that leaves the machine, when
  the class says so (by default every class), the request with each personal value replaced by a
  typed, numbered placeholder (``<PERSON_1>``), consistent across the question and the passages;
  the gateway restores the originals in the stream the reader sees (``PlaceholderRestorer``);
- what to log (:meth:`RequestPrivacy.logged`): what was actually sent and received, i.e. the
  placeholders for a scrubbed call, and for a class not logged in clear (confidential,
  restricted) the same placeholders even when the call stayed on the machine. The originals are
  never written to the log of a scrubbed call.

Detection (``core.pii``) runs on the parts of the prompt (the question, each passage, its title
and section), not on the assembled messages: a passage's detections are usually stored already
(``ingestion.services.pii_scan``), so a question costs one short NER pass. The messages are then
masked by value (``pii_mask_known``). Nothing is analysed for an answer whose calls neither leave
the machine nor are logged scrubbed: the analyzer is never loaded on the default, local path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.data_classes import DataClassPolicy, data_class_policy
from core.pii import PiiSpan, PiiType, Placeholders, pii_detect, pii_mask_known, pii_scrub
from ingestion.services.pii_scan import chunk_pii_known, chunk_pii_save, pii_types_configured
from providers.llm.base import LLMRequest


@dataclass(frozen=True)
class Outbound:
    """What one provider is sent: ``placeholders`` is set when personal data was replaced (the
    response is restored with it), ``masked`` counts the values replaced."""

    request: LLMRequest
    placeholders: Placeholders | None = None
    masked: int = 0


@dataclass(frozen=True)
class _Scrub:
    clear: LLMRequest  # the request this scrubs (kept: the cache matches it by identity)
    request: LLMRequest
    placeholders: Placeholders
    masked: int


class RequestPrivacy:
    """One answer's privacy rules and, once computed, its placeholders (shared by every call of
    the answer: the answering model, its fallback prompt, the judge)."""

    def __init__(self, *, policy: DataClassPolicy, enabled: frozenset[PiiType] | None = None) -> None:
        self.policy = policy
        self._enabled = enabled
        self._scrubs: dict[int, _Scrub] = {}  # by id() of the clear request, which each entry keeps alive
        self._placeholders = Placeholders()
        self._sent_masked = 0  # values replaced in requests that went out (not in log copies)

    @classmethod
    def for_data_class(cls, data_class: str) -> RequestPrivacy:
        return cls(policy=data_class_policy(data_class))

    @property
    def data_class(self) -> str:
        return str(self.policy.data_class)

    @property
    def enabled(self) -> frozenset[PiiType]:
        if self._enabled is None:
            self._enabled = pii_types_configured()
        return self._enabled

    def scrubs_for(self, *, external: bool) -> bool:
        return self.policy.scrubs_for(external=external)

    # ---------------------------------------------------------------- the answering model
    def outbound(self, *, request: LLMRequest, external: bool) -> Outbound:
        """The request as this endpoint may receive it."""
        if not self.scrubs_for(external=external):
            return Outbound(request=request)
        scrub = self._scrub(request)
        self._sent_masked = max(self._sent_masked, scrub.masked)
        return Outbound(request=scrub.request, placeholders=scrub.placeholders, masked=scrub.masked)

    def logged(
        self, *, request: LLMRequest, outbound: Outbound, response: str
    ) -> tuple[list[dict[str, str]], str, bool]:
        """The messages and response to store in ``Interaction`` and whether they hold
        placeholders: what was sent (scrubbed when it was), and scrubbed for a class that is not
        logged in clear."""
        if outbound.placeholders is not None:
            return outbound.request.messages, response, True
        if self.policy.log_text_clear:
            return request.messages, response, False
        scrub = self._scrub(request)
        masked, _ = pii_mask_known(text=response, placeholders=scrub.placeholders)
        return scrub.request.messages, masked, True

    # ---------------------------------------------------------------- other model calls (judge)
    def texts_outbound(self, *, texts: Sequence[str], external: bool) -> tuple[list[str], bool]:
        """Texts of another model call of this answer (the judge's messages, which quote the
        answer and the passages) as that endpoint may receive them, and whether they were
        scrubbed. The answer's placeholders are reused, so "<PERSON_1>" is the same person in
        every call."""
        if not self.scrubs_for(external=external):
            return list(texts), False
        return self._texts_scrubbed(texts), True

    def texts_logged(self, *, texts: Sequence[str], scrubbed: bool) -> tuple[list[str], bool]:
        """The texts of such a call to store in the log."""
        if scrubbed or self.policy.log_text_clear:
            return list(texts), scrubbed
        return self._texts_scrubbed(texts), True

    # ---------------------------------------------------------------- scrubbing
    def _texts_scrubbed(self, texts: Sequence[str]) -> list[str]:
        result = pii_scrub(texts=list(texts), enabled=self.enabled, known=self._placeholders)
        self._placeholders = result.placeholders
        return list(result.texts)

    def _scrub(self, request: LLMRequest) -> _Scrub:
        cached = self._scrubs.get(id(request))
        if cached is not None and cached.clear is request:
            return cached
        passages = request.passages
        parts: list[str] = [request.question]
        parts += [p.text for p in passages]
        parts += [p.title for p in passages]
        parts += [p.section for p in passages]
        detected: list[tuple[PiiSpan, ...] | None] = [None] * len(parts)
        detected[1 : 1 + len(passages)] = self._passage_spans(passages=passages)
        result = pii_scrub(texts=parts, enabled=self.enabled, known=self._placeholders, detected=detected)
        self._placeholders = result.placeholders
        n = len(passages)
        question = result.texts[0]
        texts, titles, sections = result.texts[1 : 1 + n], result.texts[1 + n : 1 + 2 * n], result.texts[1 + 2 * n :]
        scrubbed_passages = [
            dataclasses.replace(p, text=t, title=ti, section=se)
            for p, t, ti, se in zip(passages, texts, titles, sections, strict=True)
        ]
        messages: list[dict[str, Any]] = []
        for message in request.messages:
            content, _ = pii_mask_known(text=message["content"], placeholders=result.placeholders)
            messages.append({**message, "content": content})
        scrub = _Scrub(
            clear=request,
            request=dataclasses.replace(request, question=question, messages=messages, passages=scrubbed_passages),
            placeholders=result.placeholders,
            masked=sum(result.found.values()),
        )
        self._scrubs[id(request)] = scrub
        return scrub

    def _passage_spans(self, *, passages: Sequence[Any]) -> list[tuple[PiiSpan, ...] | None]:
        """Each passage's detections: stored with its chunk when the passage is the chunk's text
        unchanged (``passage_redact`` may have withheld a sentence); otherwise analysed now, and
        stored for the next question when it is the chunk's text."""
        chunk_ids = [p.chunk_id for p in passages if p.chunk_id]
        stored = chunk_pii_known(chunk_ids=chunk_ids, enabled=self.enabled) if chunk_ids else {}
        spans: list[tuple[PiiSpan, ...] | None] = []
        missing: list[int] = []
        for index, passage in enumerate(passages):
            text, known = stored.get(passage.chunk_id, ("", None))
            if known is not None and text == passage.text:
                spans.append(known)
            else:
                spans.append(None)
                missing.append(index)
        if missing:
            found = pii_detect(texts=[passages[i].text for i in missing], enabled=self.enabled)
            fresh: dict[int, tuple[PiiSpan, ...]] = {}
            for index, result in zip(missing, found, strict=True):
                spans[index] = result
                passage = passages[index]
                if passage.chunk_id in stored and stored[passage.chunk_id][0] == passage.text:
                    fresh[passage.chunk_id] = result
            if fresh:
                chunk_pii_save(detections=fresh, enabled=self.enabled)
        return spans

    def masked_total(self) -> int:
        """How many personal values were replaced in what the answer's model calls sent out
        (the badge; scrubbing for the log alone does not count)."""
        return self._sent_masked


def pii_analyzer_warm_up() -> bool:
    """Load the PII analyzer now (a worker process starting) when this installation has a model
    endpoint that leaves the machine: otherwise the first scrubbed question would wait for spaCy
    and Presidio to load (5-18 s here). Returns whether it loaded."""
    from django.conf import settings

    from core.pii import pii_analyzer
    from qa.pipeline.routing import tiers_configured

    # Any use of an external judge: the answer's verifier, and live scoring, which asks the judge
    # whenever QA_JUDGE_URL is set whatever QA_VERIFIER says.
    external_judge = bool(settings.QA_JUDGE_URL) and settings.QA_JUDGE_EXTERNAL
    if not (external_judge or any(t.external for t in tiers_configured())):
        return False
    pii_analyzer()
    return True
