"""What every answer cost: tokens times the model's price at the time of the call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from qa.models import Interaction, ModelPrice

MILLION = Decimal(1_000_000)


def price_for(*, model: str, at: datetime | None = None) -> ModelPrice | None:
    """The price version in force for ``model`` at ``at`` (None: free, e.g. the extractive model)."""
    return (
        ModelPrice.objects.filter(model=model, effective_from__lte=at or timezone.now())
        .order_by("-effective_from")
        .first()
    )


def cost_of(*, model: str, tokens_in: int, tokens_out: int, at: datetime | None = None) -> Decimal:
    price = price_for(model=model, at=at)
    if price is None:
        return Decimal(0)
    return (Decimal(tokens_in) * price.input_per_million + Decimal(tokens_out) * price.output_per_million) / MILLION


@dataclass(frozen=True)
class AnswerSpend:
    """What an answer's model calls cost: tokens in and out, and their price."""

    tokens_in: int
    tokens_out: int
    cost: Decimal


def answer_spend_price(*, answer_id: int) -> AnswerSpend:
    """Price each model call of an answer (at the price in force when it was made) and return
    the answer's totals; the answer's own fields are written with its final state
    (``qa.pipeline.finish``)."""
    total_in = total_out = 0
    total = Decimal(0)
    for interaction in Interaction.objects.filter(answer_id=answer_id):
        cost = cost_of(
            model=interaction.model, tokens_in=interaction.tokens_in, tokens_out=interaction.tokens_out,
            at=interaction.created_at,
        )  # fmt: skip
        if cost != interaction.cost:
            Interaction.objects.filter(pk=interaction.pk).update(cost=cost)
        total_in += interaction.tokens_in
        total_out += interaction.tokens_out
        total += cost
    return AnswerSpend(tokens_in=total_in, tokens_out=total_out, cost=total)
