"""Stage 1, load: the pending answer, counted against the budgets, its question embedded and
classified, and a reviewer-curated or cached verified answer to the same question when one
fits. Its result (``Prepared``) can travel: the chat consumer runs this stage itself (a cache
hit is answered without the worker round trip) and queues the rest with it, so the worker
neither embeds nor counts the question again."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ingestion.selectors.collections import collection_ids_readable
from prompts.services.selection import PromptChoice, prompt_choice_for
from qa.checks.high_stakes import high_stakes_classify
from qa.models import Answer, ReusableAnswer
from qa.pipeline.deps import PipelineDeps
from qa.realtime import Event
from qa.reuse.cache import cache_lookup
from qa.services.budgets import BudgetLevel, BudgetState, budget_check


@dataclass(frozen=True)
class Prepared:
    """What the load stage found, in a shape a Celery message carries (JSON)."""

    vector: list[float]
    budget_level: BudgetLevel
    budget_reasons: list[str]
    looks_high_stakes: bool
    started_at: float  # time.time() when the load stage began
    # The prompt versions chosen for this question (``PromptChoice.as_dict``): the worker uses
    # the ones the cache was looked up with, even if a label moves in between.
    prompts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prepared:
        values = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**{**values, "budget_level": BudgetLevel(values["budget_level"])})


@dataclass(frozen=True)
class Loaded:
    answer: Answer
    question: str  # the standalone question: a follow-up joined to the one before it
    prepared: Prepared
    started: float  # time.perf_counter() origin of the answer's timings
    prompts: PromptChoice
    # A curated or cached answer to the same question: the answer is final without a model.
    reusable: ReusableAnswer | None = field(default=None)

    @property
    def budget(self) -> BudgetState:
        return BudgetState(level=self.prepared.budget_level, reasons=list(self.prepared.budget_reasons))


def _prompt_choice(*, answer: Answer, collection_ids: list[int] | None) -> PromptChoice:
    user = answer.conversation.user
    # A question asked in no particular collection takes part in a collection-scoped experiment
    # when the asker may read one of its collections (asked only when such an experiment runs).
    return prompt_choice_for(
        user_id=user.pk,
        collection_ids=collection_ids,
        readable_collection_ids=lambda: collection_ids_readable(user=user),
    )


def reuse_models(*, deps: PipelineDeps, prompts: PromptChoice) -> list[str]:
    """The models whose cached answers this question may reuse: every configured tier's, or,
    for an experiment arm that pins a tier, that tier's alone (the arms must not share answers)."""
    if prompts.tier_name:
        pinned = [t.model for t in deps.tiers if t.name == prompts.tier_name]
        if pinned:
            return pinned
    return [t.model for t in deps.tiers]


def answer_fetch(*, answer_id: int) -> Answer:
    return Answer.objects.select_related("conversation__user", "reused_from").get(pk=answer_id)


def answer_load(
    *, answer: Answer, deps: PipelineDeps, collection_ids: list[int] | None, prepared: Prepared | None
) -> Loaded:
    """The load stage for a pending answer; with ``prepared``, it already ran elsewhere and
    only the clock is restored (timings count from its start, wherever it ran)."""
    question = answer.standalone_question or answer.question
    if prepared is not None:
        started = time.perf_counter() - max(0.0, time.time() - prepared.started_at)
        prompts = deps.prompts or (
            PromptChoice.from_dict(prepared.prompts)
            if prepared.prompts
            else _prompt_choice(answer=answer, collection_ids=collection_ids)
        )
        return Loaded(answer=answer, question=question, prepared=prepared, started=started, prompts=prompts)
    started_at, started = time.time(), time.perf_counter()
    deps.emit(Event.STATUS, {"stage": "searching", "message": "Searching your documents…"})
    prompts = deps.prompts or _prompt_choice(answer=answer, collection_ids=collection_ids)
    # Recorded now, so that every ending (a decline at the gate too) counts for its version and
    # experiment arm.
    Answer.objects.filter(pk=answer.pk).update(prompt_key=prompts.answer.key, experiment_arm_id=prompts.arm_id)
    answer.prompt_key, answer.experiment_arm_id = prompts.answer.key, prompts.arm_id
    budget = budget_check(user_id=answer.conversation.user.pk, count_question=True)
    vector = deps.embedder.embed_query(question)
    # A question that looks high-stakes on any topic never takes a cached answer (a
    # reviewer-curated one, yes).
    looks_high_stakes = high_stakes_classify(
        question=question, embedder=deps.embedder, question_vector=np.asarray(vector)
    ).flagged
    # A reviewer-approved or cached verified answer to the same question, from documents this
    # user may read.
    match = (
        cache_lookup(
            user=answer.conversation.user,
            question=question,
            embedding=vector,
            answer_id=answer.pk,
            models=reuse_models(deps=deps, prompts=prompts),
            collection_ids=collection_ids,
            prompt_key=prompts.answer.key,
            cached=deps.settings.cache_enabled and not looks_high_stakes,
        )  # fmt: skip
        if deps.settings.reuse_enabled
        else None
    )
    return Loaded(
        answer=answer,
        question=question,
        prepared=Prepared(vector, budget.level, budget.reasons, looks_high_stakes, started_at, prompts.as_dict()),
        started=started,
        prompts=prompts,
        reusable=match.entry if match is not None else None,
    )
