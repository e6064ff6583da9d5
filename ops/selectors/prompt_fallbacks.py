"""Reads for the prompt-fallback alert (usage page now, the monitoring page of issue #15 when
it exists): per answer-prompt version, how often its output failed its checks and was written
again with its fallback (``qa.pipeline.fallback``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count
from django.db.models.fields.json import KT

from evaluation.services.runs import EVAL_USERNAME
from qa.models import Answer, Interaction, TierProvider
from qa.pipeline.gateway import CallOutcome


@dataclass(frozen=True)
class FallbackRate:
    """How often one answer-prompt version's output failed its checks and was written again with
    the version's fallback (``qa.pipeline.fallback``)."""

    prompt_key: str
    answers: int  # answers a language model wrote with this version's words
    fallbacks: int  # ... of which the fallback wrote the one kept
    rate: float
    alert: bool  # over QA_PROMPT_FALLBACK_ALERT_RATE, with at least QA_PROMPT_FALLBACK_ALERT_MIN answers


def prompt_fallback_rate(*, since: datetime, until: datetime | None = None) -> dict[str, FallbackRate]:
    """Per answer-prompt version, the answers asked between ``since`` and ``until`` (now) that a
    language model wrote with its words, and how many of them fell back. An answer counts for
    each version sent (the first and its fallback). The built-in extractive provider does not
    read the prompt and a provider that failed wrote nothing, so neither counts: a version
    routed mostly to the extractive provider would otherwise look healthy."""
    # Evaluation runs (a proposal's draft tested on the golden set, quality runs) are not traffic:
    # a draft that fails its checks on purpose must not page anyone about production.
    answers = Answer.objects.filter(created_at__gte=since).exclude(conversation__user__username=EVAL_USERNAME)
    if until is not None:
        answers = answers.filter(created_at__lt=until)
    fell_back = dict(
        answers.filter(prompt_fallback_used=True)
        .annotate(from_key=KT("route__prompt_fallback__from"))
        .values("from_key").annotate(n=Count("id")).values_list("from_key", "n")
    )  # fmt: skip
    # The answering prompt's versions: the one each answer kept and the ones it fell back from
    # (other model calls of an answer, a judge's, send other prompts).
    answer_keys = {*answers.exclude(prompt_key="").values_list("prompt_key", flat=True).distinct(), *fell_back}
    sent = (
        Interaction.objects.filter(answer__in=answers, prompt_key__in=answer_keys)
        .exclude(provider=TierProvider.EXTRACTIVE).exclude(outcome=CallOutcome.ERROR)
        .values("prompt_key").annotate(answers=Count("answer_id", distinct=True))
    )  # fmt: skip
    rates: dict[str, FallbackRate] = {}
    for row in sent.order_by("prompt_key"):
        key, total = row["prompt_key"], row["answers"]
        fallbacks = fell_back.get(key, 0)
        rate = fallbacks / total if total else 0.0
        alert = total >= settings.QA_PROMPT_FALLBACK_ALERT_MIN and rate > settings.QA_PROMPT_FALLBACK_ALERT_RATE
        rates[key] = FallbackRate(prompt_key=key, answers=total, fallbacks=fallbacks, rate=rate, alert=alert)
    return rates
