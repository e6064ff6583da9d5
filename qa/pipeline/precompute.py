"""Answers ahead of demand: off-peak, a beat job finds the question clusters asked most often
in the last days (``qa.reuse.precompute``), adds the admins' FAQ entries, runs the pipeline on
them and stores the verified answers in the cache (origin "precomputed"), so that the next asker
gets a cache hit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider
from providers.registry import embedding_provider_default
from qa.models import FaqEntry, KillSwitchName, ReusableAnswer, ReuseOrigin
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.reuse.precompute import Candidate, frequent_questions, precompute_user
from qa.services.kill_switches import kill_switches_active

logger = logging.getLogger(__name__)


@dataclass
class PrecomputeReport:
    considered: int = 0
    stored: int = 0
    already_cached: int = 0
    not_verified: int = 0
    details: list[str] = field(default_factory=list)


def precompute_run(
    *, embedder: EmbeddingProvider | None = None, providers: list[LLMProvider] | None = None
) -> PrecomputeReport:
    report = PrecomputeReport()
    switches = kill_switches_active()
    if KillSwitchName.PRECOMPUTE in switches or KillSwitchName.ANSWER_CACHE in switches:
        report.details.append("kill switch on: nothing precomputed")
        logger.warning("qa.precompute_skipped kill_switches=%s", sorted(switches))
        return report
    embedder = embedder or embedding_provider_default()
    user = precompute_user()
    faq = [
        (entry, Candidate(entry.question, [entry.collection_id], 0, "faq"))
        for entry in FaqEntry.objects.filter(active=True).select_related("collection")
    ]
    logs = frequent_questions(
        days=settings.QA_PRECOMPUTE_LOOKBACK_DAYS, min_asks=settings.QA_PRECOMPUTE_MIN_ASKS,
        limit=settings.QA_PRECOMPUTE_MAX_QUESTIONS, embedder=embedder, exclude_user_id=user.pk,
    )  # fmt: skip
    work: list[tuple[FaqEntry | None, Candidate]] = [*faq, *[(None, c) for c in logs]]
    for entry, candidate in work[: settings.QA_PRECOMPUTE_MAX_QUESTIONS]:
        report.considered += 1
        answer = answer_create(user=user, question=candidate.question)
        before = ReusableAnswer.objects.filter(source_answer=answer).count()
        result = answer_run(
            answer_id=answer.pk, emit=lambda *_: None, embedder=embedder, providers=providers,
            collection_ids=candidate.collection_ids,
        )  # fmt: skip
        stored = ReusableAnswer.objects.filter(source_answer=result, origin=ReuseOrigin.CACHED)
        if result.reused_from_id is not None:
            report.already_cached += 1
            outcome = "already cached"
        elif stored.count() > before:
            stored.update(origin=ReuseOrigin.PRECOMPUTED)
            report.stored += 1
            outcome = "stored"
        else:
            report.not_verified += 1
            outcome = f"not stored ({result.status}: {result.decline_reason[:80] or 'not fully verified'})"
        report.details.append(f"[{candidate.source} x{candidate.asks}] {candidate.question[:80]}: {outcome}")
        if entry is not None:
            FaqEntry.objects.filter(pk=entry.pk).update(last_precomputed_at=timezone.now(), last_result=outcome[:200])
    logger.info(
        "precompute.done considered=%s stored=%s already_cached=%s not_verified=%s",
        report.considered, report.stored, report.already_cached, report.not_verified,
    )  # fmt: skip
    return report
