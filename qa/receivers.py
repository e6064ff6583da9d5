"""qa listens to ingestion (when a document leaves the index, stored answers citing it go) and
to its own deletions (a review record notes when the answer it judged was deleted)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from ingestion.signals import document_changed
from qa.models import Answer, BudgetPolicy, Interaction, ReviewItem
from qa.reuse.reusable import reusable_invalidate_for_documents
from qa.services.budgets import budget_policy_forget


@receiver(document_changed, dispatch_uid="qa.reusable_invalidate")
def on_document_changed(sender: Any, document_id: int, reason: str, **kwargs: Any) -> None:
    reusable_invalidate_for_documents(document_ids=[document_id], reason=f"document {document_id} {reason}")


@receiver([post_save, post_delete], sender=BudgetPolicy, dispatch_uid="qa.budget_policy_forget")
def on_budget_policy_changed(sender: Any, **kwargs: Any) -> None:
    budget_policy_forget()


@receiver(pre_delete, sender=Answer, dispatch_uid="qa.review_item_answer_deleted")
def on_answer_deleted(sender: Any, instance: Answer, **kwargs: Any) -> None:
    """A receiver, not only the services: every path that deletes an answer (a conversation
    deleted by its user, retention, erasure, a user deleted in the admin, a cascade) dates the
    review record, which keeps its texts while its answer link becomes null (SET_NULL), and
    empties the texts of its model calls."""
    now = timezone.now()
    ReviewItem.objects.filter(answer_id=instance.pk, answer_deleted_at__isnull=True).update(answer_deleted_at=now)
    # Model calls keep their metrics (usage, cost) when their answer goes, never its texts: once
    # the link is null nothing could find them again to erase or expire them.
    Interaction.objects.filter(answer_id=instance.pk, texts_purged_at__isnull=True).update(
        prompt={}, response="", texts_purged_at=now
    )
