"""Answers given again: reviewer-curated answers (and, with the cache, verified answers).

A stored answer is reused only when (1) its question is close to the new one by embedding,
(2) the near-miss guard finds no difference in numbers, negation, code names or named
entities, and (3) the asking user may read every document it cites (and, when the question is
narrowed to some collections, it cites only those): checked inside the lookup's SQL, and an
entry that cites no document is never reused. Stored answers are forgotten when a document
they cite changes or is deleted.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, FloatField, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone
from pgvector.django import CosineDistance

from core.db import commit_without_waiting
from core.text import STOP_WORDS, Facts, negation_count
from ingestion.selectors.collections import (
    collection_ids_readable,
    documents_all_readable_sql,
    readable_documents_with_floor,
)
from qa.models import Citation, ReusableAnswer, ReuseOrigin

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardVerdict:
    compatible: bool
    reason: str = ""


def _names_match(a: frozenset[str], b: frozenset[str], text_a: str = "", text_b: str = "") -> bool:
    """Every code name of each side is on the other, allowing a dotted prefix
    (``lru_cache`` = ``functools.lru_cache``) but not another module (``json.dumps`` != ``pickle.dumps``)."""

    def canon(name: str) -> str:
        return name.lstrip("@").removesuffix("()")

    left, right = {canon(x) for x in a}, {canon(x) for x in b}

    def covered(name: str, other: set[str], other_text: str = "") -> bool:
        if name in other:
            return True
        if other_text and re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", other_text):
            return True  # written in another case ("dataframes" for "DataFrames")
        last = name.rsplit(".", 1)[-1]
        # Another module's name for the same attribute is a conflict, not a match.
        if "." in name and any("." in o and o.rsplit(".", 1)[-1] == last for o in other):
            return False
        return any(o.endswith("." + name) or name.endswith("." + o) for o in other)

    return all(covered(x, right, text_b.lower()) for x in left) and all(covered(x, left, text_a.lower()) for x in right)


def questions_compatible(question: str, candidate: str, *, names_on_one_side: bool = False) -> GuardVerdict:
    """The near-miss guard: would the answer to ``candidate`` answer ``question``?
    ``names_on_one_side`` accepts code names that only one question mentions (used only when
    retrieval confirms that both questions rest on the same passages). Numbers must always
    agree: a number only one question has is a different question too (tried and measured:
    it served the general answer to 85% of questions with a number added).

    The verdict's reason names the kind of difference, never the words: it is logged with the
    lookup (``CacheLookup.reason``), and the candidate is another user's question (issue #14)."""
    a, b = Facts.of(question), Facts.of(candidate)
    if a.numbers != b.numbers:
        return GuardVerdict(False, "numbers differ")
    if negation_count(question) != negation_count(candidate):
        return GuardVerdict(False, "the negations differ")
    one_sided = names_on_one_side and not (a.identifiers and b.identifiers)
    if not one_sided and not _names_match(a.identifiers, b.identifiers, question, candidate):
        return GuardVerdict(False, "code names differ")
    # A name must be in the other question too (in any case: "windows" matches "Windows").
    missing = [e for e in a.entities if e not in candidate.lower()] + [
        e for e in b.entities if e not in question.lower()
    ]
    if missing:
        return GuardVerdict(False, "names differ")
    swap = _one_word_swapped(question, candidate)
    if swap:
        return GuardVerdict(False, "one word differs")
    return GuardVerdict(True)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def _one_word_swapped(a: str, b: str) -> tuple[str, str] | None:
    """One content word replaced by another in otherwise the same words ("ascending" ->
    "descending", "TV" -> "money", "loads" -> "dumps"): that changes the meaning more often
    than not. Changes of small words ("what's" / "what is") do not count."""

    def content(tokens: list[str]) -> bool:
        return any(t not in STOP_WORDS and len(t) >= 3 for t in tokens)

    ta, tb = _tokens(a), _tokens(b)
    changes = [
        (ta[i1:i2], tb[j1:j2])
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ta, b=tb, autojunk=False).get_opcodes()
        if op != "equal" and (content(ta[i1:i2]) or content(tb[j1:j2]))
    ]
    if len(changes) == 1 and len(changes[0][0]) == 1 and len(changes[0][1]) == 1:
        return changes[0][0][0], changes[0][1][0]
    return None


@dataclass(frozen=True)
class ReuseMatch:
    entry: ReusableAnswer
    similarity: float
    nearest_similarity: float


def _live(
    *, user: User | AnonymousUser, origins: list[str], prompt_version: str | None, models: list[str] | None,
    collection_ids: list[int] | None, now: datetime | None = None,
) -> QuerySet[ReusableAnswer]:  # fmt: skip
    """Stored answers that may still be served to this user: active, not expired, of the current
    prompt version and of a configured model (curated answers excepted), and citing at least
    one document and only current documents the user may read (within the collections asked).

    The access rule is part of the query, so the nearest rows are the nearest *readable* ones:
    other users' entries cannot crowd a reader's own hits out of the top candidates. An entry
    that cites no document is never served: there is nothing to check a reader's access
    against (every answer Verity stores cites a passage; such a row can only come from
    elsewhere, e.g. an admin edit)."""
    readable = collection_ids_readable(user=user)
    if collection_ids is not None:
        asked = set(collection_ids)
        readable = [c for c in readable if c in asked]
    access_sql, access_params = documents_all_readable_sql(
        column='"qa_reusableanswer"."document_ids"', collection_ids=readable
    )
    query = ReusableAnswer.objects.filter(active=True, origin__in=origins).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now()),
        RawSQL(access_sql, access_params, output_field=BooleanField()),  # noqa: S611 - ids are parameters
    )
    if prompt_version is not None:
        query = query.filter(Q(origin=ReuseOrigin.CURATED) | Q(prompt_version=prompt_version))
    if models is not None:  # answers of models no longer configured are not served
        query = query.filter(Q(origin=ReuseOrigin.CURATED) | Q(model__in=models))
    return query


# HNSW filters after its index scan (pgvector 0.6 has no iterative scans): with the access
# filter in the query, the default ef_search of 40 could leave fewer readable rows than the
# candidates asked for. 100 candidates cover a reader of a few percent of the stored answers;
# fewer rows than asked fall back to an exact scan (cheap: the rows of stored answers are few).
_REUSE_EF_SEARCH = 100


def _nearest(query: QuerySet[ReusableAnswer], embedding: list[float], limit: int) -> list[ReusableAnswer]:
    """The ``limit`` rows of ``query`` nearest to ``embedding``, nearest first, each with its
    ``distance``: complete even when the access filter drops most of the index's candidates."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {_REUSE_EF_SEARCH}")
        rows: list[ReusableAnswer] = list(
            query.annotate(distance=CosineDistance("embedding", embedding)).order_by("distance")[:limit]
        )
        if len(rows) < limit:
            # "+ 0" keeps the planner off the HNSW index: an exact scan of the filtered rows.
            exact = ExpressionWrapper(CosineDistance("embedding", embedding) + Value(0.0), output_field=FloatField())
            rows = list(query.annotate(distance=exact).order_by("distance")[:limit])
    return rows


def citations_snapshot(citations: Iterable[Citation]) -> list[dict[str, object]]:
    """Citations as stored with a reusable answer (plain data: they outlive the answer)."""
    return [
        {"n": c.n, "chunk_id": c.chunk_id, "document_id": c.document_id, "title": c.title,
         "source_name": c.source_name, "section": c.section, "page": c.page, "quote": c.quote}
        for c in citations
    ]  # fmt: skip


def reusable_find(
    *,
    user: User | AnonymousUser,
    question: str,
    embedding: list[float],
    origins: list[str],
    min_similarity: float,
    collection_ids: list[int] | None = None,
    prompt_version: str | None = None,
    models: list[str] | None = None,
    now: datetime | None = None,
    candidates: int = 5,
    min_similarity_by_origin: dict[str, float] | None = None,
) -> tuple[ReuseMatch | None, float | None, str]:
    """The best reusable answer for this user and question, the nearest similarity seen (for the
    lookup log) and why the nearest was not used. ``min_similarity_by_origin`` sets a stricter
    threshold for some origins (one query serves curated and cached answers)."""
    thresholds = min_similarity_by_origin or {}
    query = _live(user=user, origins=origins, prompt_version=prompt_version, models=models,
                  collection_ids=collection_ids, now=now)  # fmt: skip
    rows = _nearest(query, embedding, candidates)
    if not rows:
        return None, None, "no stored answer this user may read"
    nearest = 1 - float(rows[0].distance)  # type: ignore[attr-defined]
    why = ""
    readable: dict[int, float] | None = None
    for row in rows:
        similarity = 1 - float(row.distance)  # type: ignore[attr-defined]
        needed = max(min_similarity, thresholds.get(row.origin, min_similarity))
        if similarity < needed:
            why = why or f"nearest similarity {similarity:.3f} < {needed}"
            if similarity < min_similarity:
                break
            continue
        guard = questions_compatible(question, row.question)
        if not guard.compatible:
            why = why or f"near-miss guard: {guard.reason}"
            continue
        if readable is None:
            readable = readable_documents_with_floor(user=user, document_ids={d for r in rows for d in r.document_ids})
        if not row.document_ids or not set(row.document_ids) <= set(readable):  # the query filtered; re-checked
            why = why or "cites a document this user cannot read"
            continue
        if _below_floor(row, readable):
            why = why or "its confidence is below its collection's current floor"
            continue
        return ReuseMatch(row, similarity, nearest), nearest, ""
    return None, nearest, why


def reusable_candidates(
    *,
    user: User | AnonymousUser,
    embedding: list[float],
    origins: list[str],
    min_similarity: float,
    collection_ids: list[int] | None = None,
    prompt_version: str | None = None,
    models: list[str] | None = None,
    limit: int = 3,
) -> list[tuple[ReusableAnswer, float]]:
    """Live stored answers at least ``min_similarity`` close, citing only documents the user may
    read and not below their collections' current confidence floor, nearest first (no near-miss
    guard: the caller applies its own)."""
    query = _live(
        user=user, origins=origins, prompt_version=prompt_version, models=models, collection_ids=collection_ids
    )
    rows = [(row, 1 - float(row.distance)) for row in _nearest(query, embedding, limit)]  # type: ignore[attr-defined]
    rows = [(row, sim) for row, sim in rows if sim >= min_similarity]
    if not rows:
        return []
    readable = readable_documents_with_floor(user=user, document_ids={d for row, _ in rows for d in row.document_ids})
    return [
        (row, sim)
        for row, sim in rows
        if row.document_ids and set(row.document_ids) <= set(readable) and not _below_floor(row, readable)
    ]


def _below_floor(row: ReusableAnswer, floors: dict[int, float]) -> bool:
    """A collection's confidence floor raised after an answer was stored applies to it too
    (reviewer-curated answers excepted)."""
    floor = max((floors[d] for d in row.document_ids if d in floors), default=0.0)
    return row.origin != ReuseOrigin.CURATED and row.confidence is not None and row.confidence < floor


def reusable_record_hit(*, entry: ReusableAnswer) -> None:
    with commit_without_waiting():
        ReusableAnswer.objects.filter(pk=entry.pk).update(hits=F("hits") + 1, last_hit_at=timezone.now())


def reusable_invalidate_for_documents(*, document_ids: list[int], reason: str) -> int:
    """Forget every stored answer that cites one of these documents."""
    count = ReusableAnswer.objects.filter(active=True, document_ids__overlap=document_ids).update(
        active=False, invalidated_reason=reason[:200]
    )
    if count:
        logger.info("reuse.invalidated count=%s documents=%s reason=%s", count, document_ids, reason)
    return count
