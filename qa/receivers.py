"""qa listens to ingestion: when a document leaves the index, stored answers citing it go."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ingestion.signals import document_changed
from qa.models import BudgetPolicy
from qa.reuse.reusable import reusable_invalidate_for_documents
from qa.services.budgets import budget_policy_forget


@receiver(document_changed, dispatch_uid="qa.reusable_invalidate")
def on_document_changed(sender: Any, document_id: int, reason: str, **kwargs: Any) -> None:
    reusable_invalidate_for_documents(document_ids=[document_id], reason=f"document {document_id} {reason}")


@receiver([post_save, post_delete], sender=BudgetPolicy, dispatch_uid="qa.budget_policy_forget")
def on_budget_policy_changed(sender: Any, **kwargs: Any) -> None:
    budget_policy_forget()
