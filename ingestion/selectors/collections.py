"""Reads of collections and documents, always filtered by who may read them (in SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from core.data_classes import DataClass, data_class_policy, data_class_strictest
from ingestion.models import (
    Collection,
    Document,
    HighStakesPolicy,
    HighStakesTopic,
    UnsupportedPolicy,
)


def collection_readable_q(*, user: User | AnonymousUser, prefix: str = "") -> Q:
    """The access rule as a Q object, so that every reader of chunks filters inside its query.

    A user reads a collection when it names them or one of their groups. Superusers read all.
    """
    if not user.is_authenticated:
        return Q(pk__in=[])
    if getattr(user, "is_superuser", False):
        return Q()
    return Q(**{f"{prefix}reader_users": user}) | Q(**{f"{prefix}reader_groups__user": user})


def collection_list_readable(*, user: User | AnonymousUser) -> QuerySet[Collection]:
    ids = Collection.objects.filter(collection_readable_q(user=user)).values("pk")
    return Collection.objects.filter(pk__in=ids).order_by("name")


def collection_ids_readable(*, user: User | AnonymousUser) -> list[int]:
    """The ids of the collections this user may read (one query), to pass into other queries."""
    return list(collection_list_readable(user=user).values_list("pk", flat=True))


def document_ids_readable(*, user: User | AnonymousUser) -> QuerySet[Document, Any]:
    """The ids of every document (any version) this user may read, as a subquery for other
    apps' filters (``document_id__in=...``): access control stays inside their SQL."""
    return Document.objects.filter(collection_id__in=collection_list_readable(user=user).values("pk")).values("pk")


def documents_all_readable_sql(
    *, column: str, collection_ids: list[int], current_only: bool = True
) -> tuple[str, list[object]]:
    """A boolean SQL condition (and its parameters) for readers that keep document ids as a
    ``bigint[]`` column (stored answers): the array names at least one document, and every one
    of them exists (is current, unless ``current_only`` is false) and belongs to one of
    ``collection_ids``. An empty array is false: with no document there is nothing to check a
    reader's access against. One index lookup per listed document, so it stays cheap per row."""
    current = " AND d.is_current" if current_only else ""
    # ``column`` is a constant of the calling code, never input; the ids are parameters.
    sql = (
        f"(cardinality({column}) > 0 AND NOT EXISTS (SELECT 1 FROM unnest({column}) AS cited(id) "  # noqa: S608
        f"WHERE NOT EXISTS (SELECT 1 FROM ingestion_document d WHERE d.id = cited.id{current} "
        "AND d.collection_id = ANY(%s))))"
    )
    return sql, [list(collection_ids)]


def document_list_readable(*, user: User | AnonymousUser) -> QuerySet[Document]:
    return (
        Document.objects.filter(collection__in=collection_list_readable(user=user))
        .select_related("collection")
        .order_by("-created_at")
    )


def collection_list_uploadable(*, user: User | AnonymousUser) -> QuerySet[Collection]:
    """Collections the user may add documents to: document admins, into collections they read."""
    from core.selectors.roles import user_roles

    if not user_roles(user=user).is_document_admin:
        return Collection.objects.none()
    return collection_list_readable(user=user)


def document_get_readable(*, user: User | AnonymousUser, document_id: int) -> Document | None:
    return document_list_readable(user=user).filter(pk=document_id).first()


def document_chunks_readable(*, user: User | AnonymousUser, document_id: int) -> list[tuple[int, str, int | None]]:
    """(chunk id, text, page) of a document the user may read, in reading order; [] otherwise."""
    from ingestion.models import Chunk

    if document_get_readable(user=user, document_id=document_id) is None:
        return []
    return list(Chunk.objects.filter(document_id=document_id).order_by("ordinal").values_list("pk", "text", "page"))


@dataclass(frozen=True)
class AnswerPolicy:
    """The answer policy for evidence drawn from some collections: the strictest of theirs."""

    high_stakes_topics: tuple[str, ...]
    high_stakes_policy: HighStakesPolicy
    unsupported_policy: UnsupportedPolicy
    confidence_high: float
    confidence_medium: float
    confidence_floor: float
    # The strictest data class of those collections (core.data_classes: its policy steers every
    # model call, what is logged and how long it is kept).
    data_class: str = DataClass.INTERNAL

    @property
    def restricted(self) -> bool:
        """Some evidence may not leave the machine (no external model tier, judge included)."""
        return data_class_policy(self.data_class).restricted


def answer_policy_for(*, collection_ids: list[int]) -> AnswerPolicy:
    rows = list(
        Collection.objects.filter(pk__in=collection_ids).values(
            "high_stakes_topics", "high_stakes_policy", "unsupported_policy",
            "confidence_high", "confidence_medium", "confidence_floor", "classification",
        )
    )  # fmt: skip
    if not rows:
        return AnswerPolicy(
            tuple(HighStakesTopic.values), HighStakesPolicy.HOLD, UnsupportedPolicy.REMOVE, 0.75, 0.55, 0.35
        )
    policies = {r["high_stakes_policy"] for r in rows}
    topics = sorted(
        {t for r in rows if r["high_stakes_policy"] != HighStakesPolicy.OFF for t in (r["high_stakes_topics"] or [])}
    )
    # The strictest policy of the collections the evidence came from wins.
    if HighStakesPolicy.HOLD in policies:
        high_stakes = HighStakesPolicy.HOLD
    else:
        high_stakes = HighStakesPolicy.NOTICE if HighStakesPolicy.NOTICE in policies else HighStakesPolicy.OFF
    removes = any(r["unsupported_policy"] == UnsupportedPolicy.REMOVE for r in rows)
    return AnswerPolicy(
        high_stakes_topics=tuple(topics),
        high_stakes_policy=high_stakes,
        unsupported_policy=UnsupportedPolicy.REMOVE if removes else UnsupportedPolicy.MARK,
        confidence_high=max(r["confidence_high"] for r in rows),
        confidence_medium=max(r["confidence_medium"] for r in rows),
        confidence_floor=max(r["confidence_floor"] for r in rows),
        data_class=data_class_strictest(r["classification"] for r in rows),
    )


def readable_documents_with_floor(*, user: User | AnonymousUser, document_ids: set[int]) -> dict[int, float]:
    """Of these documents, the current ones this user may read, each with its collection's
    confidence floor (one query: the cache's access and policy check)."""
    rows = (
        Document.objects.filter(pk__in=document_ids, is_current=True)
        .filter(collection_id__in=Collection.objects.filter(collection_readable_q(user=user)).values("pk"))
        .values_list("pk", "collection__confidence_floor")
    )
    return dict(rows)


def collection_ids_of_documents(*, document_ids: list[int] | set[int]) -> list[int]:
    """The collections these documents belong to, sorted (for stored answers' scope)."""
    return sorted(set(Document.objects.filter(pk__in=document_ids).values_list("collection_id", flat=True)))


def collections_by_name(*, names: list[str]) -> list[Collection]:
    return list(Collection.objects.filter(name__in=names))


def collections_read_by(*, user: User) -> list[Collection]:
    """Collections that name this user as a reader (not through groups)."""
    return list(Collection.objects.filter(reader_users=user))


def chunk_texts(*, chunk_ids: list[int]) -> dict[int, str]:
    """The full text of these chunks (evaluation re-checks answers against them)."""
    from ingestion.models import Chunk

    return dict(Chunk.objects.filter(pk__in=chunk_ids).values_list("pk", "text"))
