"""Stage 3, gate: may this question be answered from these passages, and how? The evidence
gate (close enough, every name asked about mentioned), the high-stakes check of the question
against the collections' topics (answer with a notice, or hold for a reviewer), and a cached
answer confirmed by the retrieved passages (a paraphrase worded too differently for the
similarity threshold)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.models import HighStakesPolicy
from qa.checks.high_stakes import StakesVerdict, high_stakes_classify
from qa.models import ReusableAnswer
from qa.pipeline.deps import PipelineDeps
from qa.pipeline.evidence import EvidenceVerdict, evidence_gate
from qa.pipeline.load import Loaded, reuse_models
from qa.pipeline.retrieve import Retrieved
from qa.reuse.cache import cache_confirm


@dataclass(frozen=True)
class GateVerdict:
    evidence: EvidenceVerdict  # not ``sufficient``: the answer is declined with its reason
    stakes: StakesVerdict | None  # None: the collections' policy checks no topic
    held: bool  # high-stakes under the "hold" policy: a reviewer sees it before the reader
    reusable: ReusableAnswer | None  # a cached answer the passages confirm: final without a model

    @property
    def high_stakes(self) -> list[str]:
        """The high-stakes topics the question touches (stored with the answer)."""
        return list(self.stakes.topics) if self.stakes is not None else []


def answer_gate(
    *, loaded: Loaded, retrieved: Retrieved, deps: PipelineDeps, collection_ids: list[int] | None
) -> GateVerdict:
    answer, policy = loaded.answer, retrieved.policy
    stakes = (
        high_stakes_classify(
            question=answer.question,
            topics=policy.high_stakes_topics,
            embedder=deps.embedder,
            # The stored vector is the standalone question's: usable only when it is the question.
            question_vector=np.asarray(loaded.prepared.vector) if answer.question == loaded.question else None,
        )
        if policy.high_stakes_policy != HighStakesPolicy.OFF and policy.high_stakes_topics
        else None
    )
    evidence = evidence_gate(chunks=retrieved.chunks, question=loaded.question, wording=loaded.prompts.wording)
    if not evidence.sufficient:
        return GateVerdict(evidence=evidence, stakes=stakes, held=False, reusable=None)
    flagged = stakes is not None and stakes.flagged
    held = flagged and policy.high_stakes_policy == HighStakesPolicy.HOLD
    reusable = None
    if deps.settings.cache_enabled and not loaded.prepared.looks_high_stakes and not flagged:
        reusable = cache_confirm(
            user=answer.conversation.user, question=loaded.question, embedding=loaded.prepared.vector,
            chunks=retrieved.chunks, answer_id=answer.pk, models=reuse_models(deps=deps, prompts=loaded.prompts),
            prompt_key=loaded.prompts.answer.key, collection_ids=collection_ids,
        )  # fmt: skip
    return GateVerdict(evidence=evidence, stakes=stakes, held=held, reusable=reusable)
