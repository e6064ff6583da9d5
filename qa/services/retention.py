"""Retention (issue #14, point 4): delete or anonymise what outlived its data class's period.

Each kind of record has a period per data class (``core.data_classes``: ``RetentionKind``, the
defaults and the installation's ``VERITY_DATA_CLASSES`` overrides; None keeps it until deleted
by hand). A record's class is its answer's ``data_class`` (the strictest class of the
collections it drew on), an interaction's own, a document's collection's. What a run does:

- interaction texts: ``prompt`` becomes ``{}`` and ``response`` empty, ``texts_purged_at`` set;
  the call's metrics and costs stay (the budgets and reports need them);
- cache lookups and feedback: deleted (a lookup without its answer takes the default class);
- answers (conversations): deleted with their citations; the review record of an answer keeps
  the question and answer it judged (its link becomes null, ``answer_deleted_at`` is set by
  qa.receivers); a conversation left without answers goes once it is older than the shortest
  conversations period (a conversation just opened has no answers yet and stays);
- original files: removed from storage, the document keeps its chunks and says so;
- audit events: the oldest rows, one period for the whole trail, deleted by the privileged
  prefix delete of core.services.audit, whose cut this run's RETENTION_RUN event records.

Legal hold: nothing of a collection on hold (its files; answers that cite one of its documents
or searched it; their model calls, lookups and feedback) and nothing of a user on hold (their
answers, conversations, feedback and the model calls of their answers) is touched; the report
counts what a hold kept. Every kind runs in batches of ``batch_size`` rows, one short
transaction each, so memory stays bounded and the answer path never waits long on a lock. A
dry run counts with the same queries and changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.data_classes import DATA_CLASS_ORDER, DataClass, RetentionKind, data_class_policy, retention_audit_days
from core.models import AuditAction, UserLegalHold
from core.services.audit import audit_delete_expired, audit_expired_count, audit_record
from ingestion.selectors.retention import originals_expired
from ingestion.services.retention import originals_remove
from qa.models import Answer, CacheLookup, Conversation, Feedback, Interaction
from qa.selectors import answers_on_legal_hold_q

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# A cache lookup that lost its answer has no class of its own: the default class's period.
_UNLINKED_CLASS = DataClass.INTERNAL
# The report's key for conversations left without answers (they have no class of their own).
EMPTY_CONVERSATIONS = "empty_conversations"


@dataclass
class RetentionReport:
    """What a run deleted or anonymised (or, dry, would), per kind and data class, and what a
    legal hold kept that had expired."""

    dry_run: bool
    now: datetime
    done: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> class -> rows
    held: dict[str, int] = field(default_factory=dict)  # kind -> expired rows kept by a hold
    audit_cut: dict[str, Any] | None = None  # {"seq", "hash"} of the last audit row deleted

    def add(self, kind: str, data_class: str, count: int) -> None:
        if count:
            per_class = self.done.setdefault(kind, {})
            per_class[data_class] = per_class.get(data_class, 0) + count

    def hold(self, kind: str, count: int) -> None:
        if count:
            self.held[kind] = self.held.get(kind, 0) + count

    def total(self, kind: str) -> int:
        return sum(self.done.get(kind, {}).values())

    def as_detail(self) -> dict[str, Any]:
        """The counts as the RETENTION_RUN audit event records them."""
        detail: dict[str, Any] = {"done": self.done, "held": self.held}
        if self.audit_cut is not None:
            detail["audit_cut"] = self.audit_cut
        return detail

    def lines(self) -> list[str]:
        """One line per kind and class, for ``manage.py retention``."""
        verb = "would go" if self.dry_run else "done"
        kinds = [k.value for k in RetentionKind] + [EMPTY_CONVERSATIONS]
        out = []
        for kind in kinds:
            for data_class, count in sorted(self.done.get(kind, {}).items()):
                out.append(f"{kind:<20} {data_class:<13} {count:>8} {verb}")
            if self.held.get(kind):
                out.append(f"{kind:<20} {'(legal hold)':<13} {self.held[kind]:>8} kept")
        return out or [f"nothing expired ({'dry run' if self.dry_run else 'nothing changed'})"]


def _cutoffs(kind: RetentionKind, now: datetime) -> dict[str, datetime]:
    """Each class with a period for ``kind``: the time before which its records expired."""
    cutoffs = {}
    for data_class in DATA_CLASS_ORDER:
        days = data_class_policy(data_class).retention(kind)
        if days is not None:
            cutoffs[data_class.value] = now - timedelta(days=days)
    return cutoffs


def _process(
    report: RetentionReport,
    *,
    kind: str,
    data_class: str,
    expired: QuerySet[Any],
    eligible: QuerySet[Any],
    apply: Callable[[list[int]], int],
    batch_size: int,
) -> None:
    """Count (dry run) or apply ``apply`` to ``eligible`` in batches of ids, one transaction each;
    what expired but is not eligible was kept by a hold. ``eligible`` must stop matching a row
    once it is applied (deleted, or marked), so the loop ends."""
    report.hold(kind, expired.count() - eligible.count())
    if report.dry_run:
        report.add(kind, data_class, eligible.count())
        return
    while ids := list(eligible.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            report.add(kind, data_class, apply(ids))


def _delete(model: Any) -> Callable[[list[int]], int]:
    def apply(ids: list[int]) -> int:
        # Counted by rows of this model only (a deleted answer's citations are not "answers").
        count = model.objects.filter(pk__in=ids).count()
        model.objects.filter(pk__in=ids).delete()
        return count

    return apply


def _interaction_texts(report: RetentionReport, batch_size: int) -> None:
    now = report.now

    def purge(ids: list[int]) -> int:
        return Interaction.objects.filter(pk__in=ids).update(prompt={}, response="", texts_purged_at=now)

    held_answers = Answer.objects.filter(answers_on_legal_hold_q()).values("pk")
    for data_class, before in _cutoffs(RetentionKind.INTERACTION_TEXTS, now).items():
        expired = Interaction.objects.filter(data_class=data_class, created_at__lt=before, texts_purged_at__isnull=True)
        eligible = expired.exclude(answer_id__in=held_answers)
        _process(report, kind=RetentionKind.INTERACTION_TEXTS, data_class=data_class, expired=expired,
                 eligible=eligible, apply=purge, batch_size=batch_size)  # fmt: skip


def _cache_lookups(report: RetentionReport, batch_size: int) -> None:
    held_answers = Answer.objects.filter(answers_on_legal_hold_q()).values("pk")
    lookups = CacheLookup.objects.alias(data_class=Coalesce(F("answer__data_class"), Value(_UNLINKED_CLASS.value)))
    for data_class, before in _cutoffs(RetentionKind.CACHE_LOOKUPS, report.now).items():
        expired = lookups.filter(data_class=data_class, created_at__lt=before)
        eligible = expired.exclude(answer_id__in=held_answers)
        _process(report, kind=RetentionKind.CACHE_LOOKUPS, data_class=data_class, expired=expired,
                 eligible=eligible, apply=_delete(CacheLookup), batch_size=batch_size)  # fmt: skip


def _feedback(report: RetentionReport, batch_size: int) -> None:
    held = answers_on_legal_hold_q("answer__") | Q(Exists(UserLegalHold.objects.filter(user_id=OuterRef("user_id"))))
    for data_class, before in _cutoffs(RetentionKind.FEEDBACK, report.now).items():
        expired = Feedback.objects.filter(answer__data_class=data_class, created_at__lt=before)
        _process(report, kind=RetentionKind.FEEDBACK, data_class=data_class, expired=expired,
                 eligible=expired.exclude(held), apply=_delete(Feedback), batch_size=batch_size)  # fmt: skip


def _answers(report: RetentionReport, batch_size: int) -> None:
    cutoffs = _cutoffs(RetentionKind.CONVERSATIONS, report.now)
    held = answers_on_legal_hold_q()
    for data_class, before in cutoffs.items():
        expired = Answer.objects.filter(data_class=data_class, created_at__lt=before)
        _process(report, kind=RetentionKind.CONVERSATIONS, data_class=data_class, expired=expired,
                 eligible=expired.exclude(held), apply=_delete(Answer), batch_size=batch_size)  # fmt: skip
    if not cutoffs:
        return
    # Conversations left empty. A dry run deleted no answers: it counts the conversations whose
    # every answer would go, as the real run then finds them empty.
    doomed = Q()
    for data_class, before in cutoffs.items():
        doomed |= Q(data_class=data_class, created_at__lt=before)
    kept_answers = Answer.objects.filter(conversation_id=OuterRef("pk")).exclude(doomed & ~held)
    empty = Conversation.objects.filter(updated_at__lt=max(cutoffs.values())).exclude(Exists(kept_answers))
    on_hold = Exists(UserLegalHold.objects.filter(user_id=OuterRef("user_id")))
    _process(report, kind=EMPTY_CONVERSATIONS, data_class="-", expired=empty, eligible=empty.exclude(on_hold),
             apply=_delete(Conversation), batch_size=batch_size)  # fmt: skip


def _original_files(report: RetentionReport, batch_size: int) -> None:
    for data_class, before in _cutoffs(RetentionKind.ORIGINAL_FILES, report.now).items():
        eligible = originals_expired(data_class=data_class, before=before)
        report.hold(RetentionKind.ORIGINAL_FILES, originals_expired(data_class=data_class, before=before,
                                                                    held=True).count())  # fmt: skip
        _process(report, kind=RetentionKind.ORIGINAL_FILES, data_class=data_class, expired=eligible,
                 eligible=eligible, apply=lambda ids: originals_remove(document_ids=ids, now=report.now),
                 batch_size=batch_size)  # fmt: skip


def retention_run(*, now: datetime | None = None, dry_run: bool, batch_size: int = BATCH_SIZE) -> RetentionReport:
    """Apply every retention period once (the nightly job; ``manage.py retention``).

    Idempotent: a second run finds nothing more until time passes. Order matters only for the
    counts: a record's own kind goes before the answers whose deletion would take it along. A
    real run ends with one transaction that deletes the expired audit rows and writes the
    RETENTION_RUN event with the counts and the audit cut; a dry run writes nothing."""
    report = RetentionReport(dry_run=dry_run, now=now or timezone.now())
    _interaction_texts(report, batch_size)
    _cache_lookups(report, batch_size)
    _feedback(report, batch_size)
    _answers(report, batch_size)
    _original_files(report, batch_size)
    audit_days = retention_audit_days()
    audit_before = report.now - timedelta(days=audit_days) if audit_days is not None else None
    if dry_run:
        if audit_before is not None:
            report.add(RetentionKind.AUDIT_EVENTS, "all", audit_expired_count(before=audit_before))
        return report
    with transaction.atomic():
        cut = audit_delete_expired(before=audit_before, batch_size=batch_size) if audit_before else None
        if cut is not None:
            report.add(RetentionKind.AUDIT_EVENTS, "all", cut.deleted)
            report.audit_cut = cut.as_detail()
        audit_record(action=AuditAction.RETENTION_RUN, actor=None, target_type="retention",
                     detail=report.as_detail())  # fmt: skip
    logger.info("qa.retention_run done=%s held=%s", report.done, report.held)
    return report
