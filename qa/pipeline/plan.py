"""Stage 4, plan: the prompt, the model chain (routed by the question's features, the
collections' classification and the budgets, or the explicit chain) with its worst-case cost
reserved against the budgets, the verifier allowed to see these passages, and whether the
passages are suspect of instructions (the stream then goes sentence by sentence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prompts.services.selection import PromptId
from providers.llm.base import LLMProvider, LLMRequest, approx_tokens
from providers.registry import llm_provider_for_tier
from qa.checks.verification import Verifier, verifier_for_classification
from qa.models import Answer, TierProvider
from qa.pipeline.deps import PipelineDeps
from qa.pipeline.gate import GateVerdict
from qa.pipeline.gateway import verifier_logged
from qa.pipeline.load import Loaded
from qa.pipeline.privacy import RequestPrivacy
from qa.pipeline.prompt import prompt_build
from qa.pipeline.retrieve import Retrieved
from qa.pipeline.routing import EXTRACTIVE, question_features, route_choose
from qa.pipeline.stream_guard import QuestionRelevance
from qa.services.budgets import Reservation, budget_reserve
from qa.services.costs import cost_of


@dataclass(frozen=True)
class Plan:
    request: LLMRequest
    chain: tuple[LLMProvider, ...]  # tried in order by the gateway
    route: dict[str, Any]  # tier, chain, reason, features: stored with the answer
    reservation: Reservation | None  # settled with the actual spend after the model call
    notice: str  # the budget's notice for the reader ("" when within the limits)
    verifier: Verifier
    # Set when a passage is suspect of text addressed to the model: sentences off the question
    # are held back (stream and final answer) and the stream goes sentence by sentence.
    relevance: QuestionRelevance | None
    # The data class's rules for every model call of the answer: PII scrubbing before external
    # endpoints, what the log keeps (``qa.pipeline.privacy``).
    privacy: RequestPrivacy = field(default_factory=lambda: RequestPrivacy.for_data_class("internal"))


def answer_plan(*, loaded: Loaded, retrieved: Retrieved, verdict: GateVerdict, deps: PipelineDeps) -> Plan:
    answer, policy = loaded.answer, retrieved.policy
    request = prompt_build(
        template=loaded.prompts.answer, question=answer.question, chunks=retrieved.chunks, context_tokens=deps.settings.context_max_tokens,
        max_output_tokens=deps.settings.max_output_tokens,
    )  # fmt: skip
    turns = Answer.objects.filter(conversation_id=answer.conversation_id, created_at__lt=answer.created_at).count()
    features = question_features(
        question=loaded.question, best_similarity=verdict.evidence.best_similarity, turns=turns
    )
    chain, route, reservation, notice = _route_and_reserve(
        request=request, deps=deps, loaded=loaded, restricted=policy.restricted, features=features
    )
    if deps.kill_switches:
        switches = sorted(deps.kill_switches)
        route = {
            **route,
            "kill_switches": switches,
            "reason": f"{route['reason']}; kill switch on: {', '.join(switches)}",
        }
    suspect = any(p.injection_flags or p.injection_suspect for p in request.passages)
    privacy = RequestPrivacy.for_data_class(policy.data_class)
    return Plan(
        request=request,
        chain=chain,
        route=route,
        reservation=reservation,
        notice=notice,
        verifier=verifier_logged(
            verifier_for_classification(verifier=deps.verifier, restricted=policy.restricted),
            answer_id=answer.pk,
            prompt=loaded.prompts.templates.get(PromptId.JUDGE),
            privacy=privacy,
        ),
        relevance=QuestionRelevance(embedder=deps.embedder, question_vector=loaded.prepared.vector)
        if suspect
        else None,
        privacy=privacy,
    )


def _route_and_reserve(
    *, request: LLMRequest, deps: PipelineDeps, loaded: Loaded, restricted: bool, features: dict[str, Any]
) -> tuple[tuple[LLMProvider, ...], dict[str, Any], Reservation | None, str]:
    """Pick the model chain for this question and reserve its worst-case cost against the
    budgets. Explicit providers (tests, evaluation) skip routing but not the restriction."""
    budget = loaded.budget
    notice = budget.notice
    if deps.providers is not None:
        allowed = tuple(p for p in deps.providers if not (restricted and p.external))
        chain = allowed or (llm_provider_for_tier(provider=TierProvider.EXTRACTIVE, model="", embedder=deps.embedder),)
        dropped = len(deps.providers) - len(allowed)
        reason = "explicit providers" + (f"; {dropped} external provider(s) skipped: restricted" if dropped else "")
        return chain, {"tier": "explicit", "chain": [p.name for p in chain], "reason": reason,
                       "features": features, **_experiment_of(loaded)}, None, notice  # fmt: skip
    route = route_choose(
        features=features, restricted=restricted, budget_level=budget.level, tiers=list(deps.tiers),
        experiment_tier=loaded.prompts.tier_name,
    )  # fmt: skip
    reservation = None
    tokens_estimate = approx_tokens(" ".join(m["content"] for m in request.messages)) + request.max_output_tokens
    worst = max(
        cost_of(model=t.model, tokens_in=tokens_estimate - request.max_output_tokens, tokens_out=request.max_output_tokens)
        for t in route.chain
    )  # fmt: skip
    specs = route.chain
    if worst > 0 or route.tier.external:
        reservation = budget_reserve(user_id=loaded.answer.conversation.user.pk, tokens=tokens_estimate, cost=worst)
        if reservation is None:
            specs = [EXTRACTIVE]
            route.reason += "; the reservation would pass a hard limit: extractive only"
            notice = notice or loaded.prompts.wording.text("notice_hard_limit")
    chain = tuple(
        llm_provider_for_tier(provider=t.provider, model=t.model, base_url=t.base_url, api_key_env=t.api_key_env,
                              external=t.external, embedder=deps.embedder)
        for t in specs
    )  # fmt: skip
    return chain, {**route.as_dict(), **_experiment_of(loaded)}, reservation, notice


def _experiment_of(loaded: Loaded) -> dict[str, Any]:
    """The route's record of the A/B experiment arm the answer is in (nothing when none)."""
    choice = loaded.prompts
    if choice.arm_id is None:
        return {}
    return {"experiment": {"name": choice.experiment, "arm": choice.arm}}
