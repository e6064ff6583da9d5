"""Stage 7, finish: the only writer of an answer's final state. Every way an answer ends goes
through ``answer_finish``: answered or held for review (``Delivered``), declined or failed with
a reason (``Declined``), given from a curated, cached or precomputed answer (``Reused``), or
stopped by an exception (``Crashed``). What the earlier stages recorded (what was searched, the
high-stakes topics, the route, the spend, the timings) is written in the same statement.

The only other write to the answer row is ``answer_mark_streaming``: the model is about to
write, so a page that comes back to the conversation follows the answer live."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from providers.llm.base import ContextPassage
from qa.checks.high_stakes import StakesVerdict
from qa.models import (
    FINAL_STATUSES,
    Answer,
    AnswerStatus,
    Citation,
    ConfidenceLevel,
    ReusableAnswer,
    ReuseOrigin,
    ReviewReason,
    ReviewState,
)
from qa.presenters import answer_payload
from qa.realtime import Emit, Event
from qa.reuse.cache import cache_store
from qa.reuse.reusable import reusable_record_hit
from qa.review.queue import review_item_open
from qa.services.costs import AnswerSpend, answer_spend_price

# What the reader is told when the pipeline stopped on an exception (the exception itself is in
# ``Answer.error`` and the log, not in front of the reader).
CRASHED_REASON = "Something went wrong while answering; please ask again."


@dataclass(frozen=True)
class Progress:
    """What the stages before the last one recorded, written with the final state."""

    started: float  # time.perf_counter() origin of the timings
    timings: Mapping[str, float] = field(default_factory=dict)
    searched: Mapping[str, Any] = field(default_factory=dict)
    high_stakes: tuple[str, ...] = ()
    route: Mapping[str, Any] | None = None  # set once a model chain was chosen
    spend: AnswerSpend | None = None  # set once a model was called
    pii_masked: int = 0  # personal values replaced before an external model (the page's badge)

    def fields(self) -> dict[str, Any]:
        """The answer's fields these stages set (those they did not reach keep their value)."""
        values: dict[str, Any] = {}
        if self.high_stakes:
            values["high_stakes"] = list(self.high_stakes)
        if self.route is not None:
            values["route"] = dict(self.route)
        if self.spend is not None:
            values.update(tokens_in=self.spend.tokens_in, tokens_out=self.spend.tokens_out, cost=self.spend.cost)
        if self.pii_masked:
            values["pii_masked"] = self.pii_masked
        return values

    def add(self, *, timings: Mapping[str, float] | None = None, **fields: Any) -> Progress:
        """This progress and what one more stage recorded (its timings added to the others)."""
        return dataclasses.replace(self, timings={**self.timings, **(timings or {})}, **fields)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)


@dataclass(frozen=True)
class Delivered:
    """A checked answer: shown, or held until a reviewer approves it."""

    text: str
    cited: tuple[ContextPassage, ...]  # the passages the text cites, in citation order
    held: bool
    stakes: StakesVerdict | None
    notice: str
    provider: str
    model: str
    fallback_used: bool
    errors: tuple[str, ...]  # providers that failed before this one answered
    trust: Mapping[str, Any]  # verification and confidence (``Checked.trust``)
    # Kept for similar questions under this vector; None: not cached (caching off, held).
    cache_vector: list[float] | None


@dataclass(frozen=True)
class Declined:
    """No answer, and why (``status`` FAILED: no model could answer)."""

    reason: str
    status: AnswerStatus = AnswerStatus.DECLINED
    error: str = ""
    provider: str = ""
    model: str = ""
    trust: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reused:
    """A reviewer-curated, cached or precomputed answer to the same question."""

    entry: ReusableAnswer


@dataclass(frozen=True)
class Crashed:
    """The pipeline stopped on an exception (``error``: its type and message, for operators)."""

    error: str


Outcome = Delivered | Declined | Reused | Crashed


def answer_mark_streaming(
    *, answer_id: int, route: Mapping[str, Any], high_stakes: list[str], prompt_key: str, data_class: str
) -> None:
    """The model is about to write: the answer is streaming, with the route chosen for it, the
    prompt version it is sent (a retried task starts again from the first version) and the data
    class of its evidence (retention and the log follow it)."""
    fields: dict[str, Any] = {
        "status": AnswerStatus.STREAMING, "route": dict(route), "prompt_key": prompt_key, "prompt_fallback_used": False,
        "data_class": data_class,
    }  # fmt: skip
    if high_stakes:
        fields["high_stakes"] = high_stakes
    Answer.objects.filter(pk=answer_id).update(**fields)


def answer_finish(*, answer: Answer, outcome: Outcome, emit: Emit, progress: Progress | None = None) -> Answer:
    """Write the answer's final state and send the reader its final payload; for ``Crashed``,
    a failure message, unless the answer was already final (then nothing is written and the
    stored answer is sent). Returns the answer as written."""
    if isinstance(outcome, Crashed):
        return _crashed(answer, outcome, emit)
    progress = progress or Progress(started=time.perf_counter())
    if isinstance(outcome, Reused):
        _reused(answer, outcome, progress)
    elif isinstance(outcome, Declined):
        _declined(answer, outcome, progress)
    else:
        _delivered(answer, outcome, progress)
    emit(Event.FINAL, answer_payload(answer))
    return answer


def _delivered(answer: Answer, outcome: Delivered, progress: Progress) -> None:
    timings = {**progress.timings, "total": progress.elapsed_ms()}
    flagged = outcome.stakes is not None and outcome.stakes.flagged
    with transaction.atomic():
        Citation.objects.filter(answer_id=answer.pk).delete()
        Citation.objects.bulk_create(
            [
                Citation(answer_id=answer.pk, n=p.n, chunk_id=p.chunk_id, document_id=p.document_id, title=p.title,
                         source_name=p.source_name, section=p.section, page=p.page, quote=p.text[:1000])
                for p in outcome.cited
            ]
        )  # fmt: skip
        Answer.objects.filter(pk=answer.pk).update(
            status=AnswerStatus.HELD if outcome.held else AnswerStatus.ANSWERED, text=outcome.text,
            fallback_used=outcome.fallback_used, searched=dict(progress.searched), timings_ms=timings,
            error="; ".join(outcome.errors), notice=outcome.notice,
            review_state=ReviewState.PENDING if flagged else ReviewState.NONE,
            provider=outcome.provider, model=outcome.model, **dict(outcome.trust), **progress.fields(),
        )  # fmt: skip
        if flagged and outcome.stakes is not None:
            review_item_open(
                answer_id=answer.pk, reason=ReviewReason.HIGH_STAKES, topics=outcome.stakes.topics,
                detail="; ".join(outcome.stakes.reasons), held=outcome.held,
            )  # fmt: skip
    answer.refresh_from_db()
    if outcome.cache_vector is not None:
        cache_store(answer=answer, embedding=outcome.cache_vector)


def _declined(answer: Answer, outcome: Declined, progress: Progress) -> None:
    total = progress.elapsed_ms()
    timings = {"first_token": total, **progress.timings, "total": total}
    Answer.objects.filter(pk=answer.pk).update(
        status=outcome.status, decline_reason=outcome.reason, searched=dict(progress.searched), timings_ms=timings,
        error=outcome.error, provider=outcome.provider, model=outcome.model, text="", **dict(outcome.trust),
        **progress.fields(),
    )  # fmt: skip
    answer.refresh_from_db()


def _reused(answer: Answer, outcome: Reused, progress: Progress) -> None:
    entry = outcome.entry
    total = progress.elapsed_ms()
    fields = {
        "status": AnswerStatus.ANSWERED, "text": entry.text, "reused_from": entry,
        "timings_ms": {**progress.timings, "first_token": total, "total": total},
        "provider": "reuse", "model": entry.model, "confidence": entry.confidence,
        "confidence_level": entry.confidence_level or ConfidenceLevel.HIGH,
        "confidence_reason": "A reviewer approved this answer to the same question."
        if entry.origin == ReuseOrigin.CURATED
        else "A verified answer to the same question, from documents you can read.",
    }  # fmt: skip
    citations = [
        Citation(answer_id=answer.pk, n=c["n"], chunk_id=c["chunk_id"], document_id=c["document_id"],
                 title=c["title"], source_name=c["source_name"], section=c.get("section", ""),
                 page=c.get("page"), quote=c.get("quote", ""))
        for c in entry.citations
    ]  # fmt: skip
    with transaction.atomic():
        Citation.objects.filter(answer_id=answer.pk).delete()
        Citation.objects.bulk_create(citations)
        Answer.objects.filter(pk=answer.pk).update(**fields)
        reusable_record_hit(entry=entry)
    # The in-memory answer is what was written (no re-read: a cache hit is on the hot path).
    for name, value in fields.items():
        setattr(answer, name, value)
    answer._prefetched_objects_cache = {"citations": citations}  # type: ignore[attr-defined]


def _crashed(answer: Answer, outcome: Crashed, emit: Emit) -> Answer:
    spend = answer_spend_price(answer_id=answer.pk)
    written = (
        Answer.objects.filter(pk=answer.pk)
        .exclude(status__in=FINAL_STATUSES)
        .update(
            status=AnswerStatus.FAILED,
            decline_reason=CRASHED_REASON,
            error=outcome.error[:2000],
            tokens_in=spend.tokens_in,
            tokens_out=spend.tokens_out,
            cost=spend.cost,
        )  # fmt: skip
    )
    answer.refresh_from_db()
    if written:
        emit(Event.FAILED, {"message": CRASHED_REASON})
    else:  # it failed after its final write: the reader gets the answer as stored
        emit(Event.FINAL, answer_payload(answer))
    return answer
