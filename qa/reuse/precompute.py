"""Answers ahead of demand, what to answer: the question clusters asked most often in the last
days, and the system account that asks them. ``qa.pipeline.precompute`` runs the pipeline on
them off-peak and stores the verified answers (origin "precomputed")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from ingestion.selectors.collections import collection_ids_of_documents
from providers.embeddings.base import EmbeddingProvider
from qa.models import Answer, AnswerStatus, Citation
from qa.reuse.cache import question_normalise
from qa.reuse.reusable import questions_compatible

SYSTEM_USERNAME = "verity-precompute"


def precompute_user() -> User:
    """A system account (no password, cannot sign in) that answers within one collection at a time."""
    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_superuser": True, "is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@dataclass
class Candidate:
    question: str
    collection_ids: list[int]
    asks: int
    source: str  # "faq" or "logs"


def frequent_questions(
    *,
    days: int,
    min_asks: int,
    limit: int,
    embedder: EmbeddingProvider,
    exclude_user_id: int | None = None,
    min_users: int | None = None,
) -> list[Candidate]:
    """Clusters of similar questions (embedding similarity plus the near-miss guard) asked at
    least ``min_asks`` times by at least ``min_users`` different people
    (``QA_PRECOMPUTE_MIN_USERS`` by default), most frequent first, each with the collections its
    answers cited."""
    min_users = settings.QA_PRECOMPUTE_MIN_USERS if min_users is None else min_users
    since = timezone.now() - timedelta(days=days)
    answers = Answer.objects.filter(created_at__gte=since).exclude(status=AnswerStatus.FAILED)
    if exclude_user_id is not None:
        answers = answers.exclude(conversation__user_id=exclude_user_id)
    fields = ("pk", "standalone_question", "question", "conversation__user_id")
    rows = list(answers.order_by("-created_at").values_list(*fields)[:5000])
    counts = Counter(question_normalise(s or q) for _, s, q, _ in rows)
    answers_of: dict[str, list[int]] = {}
    askers_of: dict[str, set[int]] = {}
    for pk, s, q, asker in rows:
        answers_of.setdefault(question_normalise(s or q), []).append(pk)
        askers_of.setdefault(question_normalise(s or q), set()).add(asker)
    texts = [t for t, _ in counts.most_common(2000)]
    if not texts:
        return []
    vectors = np.asarray(embedder.embed_texts(texts))
    clusters: list[tuple[int, list[int]]] = []  # (representative index, members)
    for index in range(len(texts)):
        for rep, members in clusters:
            if (
                float(vectors[rep] @ vectors[index]) >= settings.QA_CACHE_MIN_SIMILARITY
                and questions_compatible(texts[index], texts[rep]).compatible
            ):
                members.append(index)
                break
        else:
            clusters.append((index, [index]))
    candidates = []
    for _rep, members in clusters:
        asks = sum(counts[texts[m]] for m in members)
        # The text replayed is the most asked wording that ``min_users`` people used word for
        # word (after normalising spaces and end punctuation): one person asking often, or
        # several people each with their own wording, is still one person's words (the setting).
        replayed = next((m for m in members if len(askers_of[texts[m]]) >= min_users), None)
        if asks < min_asks or replayed is None:
            continue
        answer_ids = [a for m in members for a in answers_of[texts[m]]]
        document_ids = set(Citation.objects.filter(answer_id__in=answer_ids).values_list("document_id", flat=True))
        collections = collection_ids_of_documents(document_ids=document_ids)
        if collections:
            candidates.append(Candidate(texts[replayed], collections, asks, "logs"))
    candidates.sort(key=lambda c: -c.asks)
    return candidates[:limit]
