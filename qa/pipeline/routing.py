"""Model routing: each question goes to the cheapest tier that should answer it well.

Tiers (``ModelTier`` rows, editable in the admin; defaults from settings) are ordered by cost.
The router reads the question's features (length, kind: lookup, explanation or multi-part,
retrieval confidence, conversation depth) and the rules of ``RoutingPolicy``, then applies
two restrictions: a restricted collection never uses an external tier, and a soft budget moves
one tier down (a hard budget allows only the built-in extractive tier). The chain after the
chosen tier falls back only to cheaper tiers."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings

from prompts.selectors import tier_versions_failing
from providers.llm.keys import api_key_env_problem
from providers.llm.pinning import PinLevel, model_pin_check
from qa.models import ModelTier, RoutingPolicy, TierProvider
from qa.services.budgets import BudgetLevel

logger = logging.getLogger(__name__)

_EXPLANATION = re.compile(
    r"^\s*(?:why|explain|describe|compare)\b|\bwhy\b|\bhow does\b|\bhow do(?:es)? .+ work\b|"
    r"\bwhat(?:'s| is) the difference\b|\bdifference between\b|\bwhen should\b|\btrade-?offs?\b",
    re.IGNORECASE,
)
_PARTS = re.compile(r"\?\s+\S|\b(?:and also|as well as|additionally)\b|(?:^|\n)\s*(?:\d+[.)]|[-*])\s+\S", re.I)


@dataclass(frozen=True)
class TierSpec:
    name: str
    rank: int
    provider: str
    model: str
    base_url: str = ""
    api_key_env: str = ""
    external: bool = False
    # The admin row's version (``model_tier_save`` raises it with every change of the model it
    # calls); None for a tier from settings, which changes only with a deployment.
    version: int | None = None


EXTRACTIVE = TierSpec("extractive", 0, TierProvider.EXTRACTIVE, "verity-extractive-1", external=False)


def tiers_from_settings() -> list[TierSpec]:
    """The default tiers: the built-in extractive model, plus the configured OpenAI-compatible
    endpoint (settings ``LLM_TIERS`` can list more)."""
    tiers = [EXTRACTIVE]
    for index, row in enumerate(settings.LLM_TIERS, start=1):
        tiers.append(
            TierSpec(
                name=row["name"], rank=int(row.get("rank", index)), provider=row.get("provider", "openai_compatible"),
                model=row["model"], base_url=row.get("base_url", ""), api_key_env=row.get("api_key_env", ""),
                external=bool(row.get("external", True)),
            )
        )  # fmt: skip
    if not settings.LLM_TIERS and settings.OPENAI_BASE_URL and settings.OPENAI_MODEL:
        tiers.append(
            TierSpec(
                "small",
                1,
                TierProvider.OPENAI_COMPATIBLE,
                settings.OPENAI_MODEL,
                settings.OPENAI_BASE_URL,
                "",  # no variable named: the provider uses settings.OPENAI_API_KEY
                external=settings.OPENAI_EXTERNAL,
            )  # fmt: skip
        )
    return sorted(tiers, key=lambda t: t.rank)


def tiers_configured() -> list[TierSpec]:
    """Settings' tiers, overridden by name (or switched off) by the admin's ModelTier rows."""
    by_name = {t.name: t for t in tiers_from_settings()}
    for r in ModelTier.objects.all():
        if not r.active:
            by_name.pop(r.name, None)
            continue
        by_name[r.name] = TierSpec(
            r.name, r.rank, r.provider, r.model, r.base_url, r.api_key_env, r.external, version=r.version
        )
    failing = tier_versions_failing()
    for name, tier in list(by_name.items()):
        problem = api_key_env_problem(tier.api_key_env)
        if not problem and tier.version is not None and (name, tier.version) in failing:
            # A model change goes through the prompt suites (evaluation.tier_suites_run); a version
            # that failed them serves no question until the tier changes again or a run passes.
            problem = f"version {tier.version} ({tier.model}) failed the prompt suites"
        pin = model_pin_check(tier.model, provider=tier.provider)
        if not problem and pin.level is PinLevel.REFUSED:
            # A "latest" (or empty) id changes answers whenever its vendor ships: never routed to,
            # whether it came from settings (the system check reports it) or a row saved around
            # the admin's validation.
            problem = pin.message
        if problem:
            # Never read (let alone send) a variable outside the key prefix; the tier is unusable
            # until an admin fixes it, and the router falls back to the tiers below it.
            logger.error("routing.tier_refused tier=%s reason=%s", name, problem)
            by_name.pop(name)
    tiers = sorted(by_name.values(), key=lambda t: t.rank)
    if not any(t.provider == TierProvider.EXTRACTIVE for t in tiers):
        tiers.insert(0, EXTRACTIVE)  # the floor every degradation relies on
    return tiers


def routing_policy() -> RoutingPolicy:
    """The admin's policy row, or (unsaved) the defaults from settings."""
    return RoutingPolicy.objects.order_by("pk").first() or RoutingPolicy(
        lookup_tier=settings.QA_ROUTE_LOOKUP_TIER,
        explanation_tier=settings.QA_ROUTE_EXPLANATION_TIER,
        complex_tier=settings.QA_ROUTE_COMPLEX_TIER,
    )


class QuestionKind(StrEnum):
    LOOKUP = "lookup"  # a fact the passages state
    EXPLANATION = "explanation"  # asks why or how: a more capable tier
    MULTI_PART = "multi-part"  # several questions in one: the complex tier


def question_features(*, question: str, best_similarity: float, turns: int) -> dict[str, Any]:
    words = len(question.split())
    parts = 1 + len(_PARTS.findall(question))
    kind = (
        QuestionKind.MULTI_PART
        if parts > 1
        else (QuestionKind.EXPLANATION if _EXPLANATION.search(question) else QuestionKind.LOOKUP)
    )
    return {"words": words, "kind": kind, "parts": parts, "best_similarity": round(best_similarity, 3),
            "turns": turns}  # fmt: skip


@dataclass
class Route:
    tier: TierSpec
    chain: list[TierSpec]
    reason: str
    features: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier.name, "tier_version": self.tier.version, "model": self.tier.model,
            "chain": [t.name for t in self.chain], "reason": self.reason, "features": self.features,
        }  # fmt: skip


def route_choose(
    *, features: dict[str, Any], restricted: bool, budget_level: BudgetLevel, tiers: list[TierSpec] | None = None,
    policy: RoutingPolicy | None = None, experiment_tier: str = "",
) -> Route:  # fmt: skip
    """The tier for a question and the chain after it. ``experiment_tier`` (an A/B experiment
    arm's tier) replaces the rules' choice as the wanted tier; the restrictions still apply to
    it (a restricted collection never goes external, budgets still move down), and a tier that
    is no longer configured leaves the choice to the rules."""
    tiers = tiers if tiers is not None else tiers_configured()
    policy = policy or routing_policy()
    reasons = []
    if experiment_tier and experiment_tier in {t.name for t in tiers}:
        wanted, why = experiment_tier, "experiment arm's tier"
    elif features["kind"] == QuestionKind.MULTI_PART or features["words"] > policy.long_question_words:
        wanted, why = policy.complex_tier, f"{features['kind']} question of {features['words']} words"
    elif features["turns"] >= policy.deep_conversation_turns:
        wanted, why = policy.complex_tier, f"follow-up {features['turns']} turns deep"
    elif features["kind"] == QuestionKind.EXPLANATION:
        wanted, why = policy.explanation_tier, "asks for an explanation"
    elif features["best_similarity"] < policy.low_retrieval_similarity:
        wanted, why = policy.explanation_tier, f"weak retrieval match ({features['best_similarity']:.2f})"
    else:
        wanted, why = policy.lookup_tier, f"lookup with a strong retrieval match ({features['best_similarity']:.2f})"
    if experiment_tier and wanted != experiment_tier:
        reasons.append(f"experiment tier {experiment_tier} not configured: routing decides")
    reasons.append(f"{why} -> {wanted}")
    allowed = [t for t in tiers if not (restricted and t.external)]
    if restricted:
        reasons.append("restricted collection: internal tiers only")
    if budget_level == BudgetLevel.HARD:
        allowed = [t for t in allowed if t.provider == TierProvider.EXTRACTIVE] or [EXTRACTIVE]
        reasons.append("hard budget limit: extractive only")
    by_name = {t.name: t for t in allowed}
    ranks = {t.name: t.rank for t in tiers}
    if wanted in by_name:
        chosen = by_name[wanted]
    else:
        # The wanted tier is missing or not allowed: the most capable allowed tier below it.
        ceiling = ranks.get(wanted, max(ranks.values()))
        below = [t for t in allowed if t.rank <= ceiling] or allowed[:1]
        chosen = below[-1] if below else EXTRACTIVE
        if chosen.name != wanted:
            reasons.append(f"{wanted} not available -> {chosen.name}")
    if budget_level == BudgetLevel.SOFT:
        cheaper = [t for t in allowed if t.rank < chosen.rank]
        if cheaper:
            chosen = cheaper[-1]
            reasons.append(f"soft budget limit: one tier down -> {chosen.name}")
    chain = [chosen] + [t for t in reversed(allowed) if t.rank < chosen.rank]
    if not any(t.provider == TierProvider.EXTRACTIVE for t in chain):
        chain.append(EXTRACTIVE)
    return Route(tier=chosen, chain=chain, reason="; ".join(reasons), features=features)
