"""Stage 5, generate: the passages shown to the reader, the answer marked as streaming, the
model called through the gateway (the only path to any language model) with its words relayed
as they come (``StreamRelay``), and the call's cost settled against the reservation.

``answer_regenerate`` is the one retry with the prompt version's fallback
(``qa.pipeline.fallback``): the reader's draft is discarded and the same chain is called with the
fallback's words, through the same relay, its cost settled against its own reservation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from qa.models import Interaction, TierProvider
from qa.pipeline.deps import PipelineDeps
from qa.pipeline.finish import answer_mark_streaming
from qa.pipeline.gate import GateVerdict
from qa.pipeline.gateway import GatewayFailed, GatewayResult, gateway_stream
from qa.pipeline.load import Loaded
from qa.pipeline.plan import Plan
from qa.pipeline.relay import StreamRelay
from qa.pipeline.retrieve import Retrieved
from qa.presenters import HELD_MESSAGE
from qa.realtime import Event
from qa.services.budgets import Reservation, budget_settle
from qa.services.costs import AnswerSpend, answer_spend_price

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    result: GatewayResult | None  # None: every provider of the chain failed
    failure: str | None  # why every provider of the chain failed (None: one answered)
    first_token_ms: float | None  # when the reader saw the first word (None: nothing shown)
    spend: AnswerSpend  # the answer's model calls (every attempt's), priced
    # The relay the reader's stream went through (a retry goes through it too) and the model
    # calls already settled against the budgets (a retry settles only its own).
    relay: StreamRelay = field(repr=False, compare=False)
    settled: tuple[int, ...] = ()

    def timings(self, *, retrieval_ms: float) -> dict[str, float]:
        """When the reader saw the first word (nothing shown: when retrieval ended) and, for
        comparison, when the model gave it."""
        timings = {"first_token": self.first_token_ms if self.first_token_ms is not None else retrieval_ms}
        if self.result is not None and self.result.model_first_token_ms is not None:
            timings["model_first_token"] = round(self.result.model_first_token_ms, 1)
        return timings

    @property
    def declined(self) -> bool:
        """The model itself found no answer in the passages (a decline ends the chain)."""
        return self.result is not None and self.result.declined

    @property
    def answered(self) -> GatewayResult | None:
        """The model's answer, to be checked (None: no model could answer, or it declined)."""
        return self.result if self.result is not None and not self.result.declined else None


def answer_generate(
    *, loaded: Loaded, retrieved: Retrieved, verdict: GateVerdict, plan: Plan, deps: PipelineDeps
) -> Generated:
    answer = loaded.answer
    deps.emit(Event.SOURCES, {"sources": [
        {"n": p.n, "title": p.title, "section": p.section, "page": p.page, "source": p.source_name, "quote": p.text[:300]}
        for p in plan.request.passages
    ]})  # fmt: skip
    answer_mark_streaming(
        answer_id=answer.pk,
        route=plan.route,
        high_stakes=verdict.high_stakes,
        prompt_key=plan.request.prompt_key,
        data_class=plan.privacy.data_class,
    )
    if verdict.held:
        topics = " and ".join(verdict.high_stakes)
        deps.emit(Event.STATUS, {"stage": "held", "message": f"This looks like a {topics} question. {HELD_MESSAGE}"})
    else:
        deps.emit(
            Event.STATUS,
            {"stage": "generating", "message": "Writing the answer… (a draft until it is checked against the sources)"},
        )
    relay = StreamRelay(
        emit=deps.emit, started=loaded.started, mode=deps.settings.stream_mode, held=verdict.held,
        passages=plan.request.passages, verifier=plan.verifier, unsupported_policy=retrieved.policy.unsupported_policy,
        relevance=plan.relevance,
    )  # fmt: skip
    return _call(loaded=loaded, plan=plan, relay=relay, settled=())


def answer_regenerate(*, loaded: Loaded, plan: Plan, previous: Generated, message: str) -> Generated:
    """The retry with the prompt version's fallback (``plan`` is the fallback's: its request,
    its reservation): the reader is told the draft is being rewritten and the one they saw is
    discarded, then the chain is called as in ``answer_generate``."""
    previous.relay.on_reset(message)
    return _call(loaded=loaded, plan=plan, relay=previous.relay, settled=previous.settled)


def _call(*, loaded: Loaded, plan: Plan, relay: StreamRelay, settled: tuple[int, ...]) -> Generated:
    answer = loaded.answer
    result: GatewayResult | None = None
    failure: str | None = None
    try:
        result = gateway_stream(
            request=plan.request, providers=list(plan.chain), answer_id=answer.pk, on_token=relay.on_token,
            on_reset=relay.on_reset, privacy=plan.privacy,
        )  # fmt: skip
    except GatewayFailed as exc:
        logger.warning("qa.all_providers_failed answer_id=%s errors=%s", answer.pk, exc)
        failure = str(exc)
    finally:
        spend, settled = _settle(
            answer_id=answer.pk, user_id=answer.conversation.user.pk, reservation=plan.reservation, settled=settled
        )
    if result is not None:
        relay.flush()
    return Generated(
        result=result, failure=failure, first_token_ms=relay.first_token_ms, spend=spend, relay=relay, settled=settled
    )


def _settle(
    *, answer_id: int, user_id: int, reservation: Reservation | None, settled: tuple[int, ...]
) -> tuple[AnswerSpend, tuple[int, ...]]:
    """Price the answer's model calls and turn the reservation into the actual spend of the
    calls not ``settled`` yet (a retry's reservation covers only its own calls: each call is
    counted once). Returns the answer's spend and every call settled so far."""
    spend = answer_spend_price(answer_id=answer_id)
    calls = list(Interaction.objects.filter(answer_id=answer_id).exclude(pk__in=settled))
    spent = [i for i in calls if i.provider != TierProvider.EXTRACTIVE]
    tokens = sum(i.tokens_in + i.tokens_out for i in spent)
    cost = sum((i.cost for i in spent), Decimal(0))
    if reservation is not None or tokens or cost:  # nothing reserved, nothing spent: no counter to change
        budget_settle(reservation=reservation, user_id=user_id, tokens=tokens, cost=cost)
    return spend, (*settled, *(i.pk for i in calls))
