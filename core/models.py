from __future__ import annotations

from typing import Any

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditAction(models.TextChoices):
    """What an audit event records, namespaced by area (``area.event``)."""

    SIGN_IN = "auth.sign_in", "Signed in"
    SIGN_IN_FAILED = "auth.sign_in_failed", "Sign-in failed"
    SIGN_OUT = "auth.sign_out", "Signed out"
    DOCUMENT_UPLOADED = "document.uploaded", "Document uploaded"
    DOCUMENT_REPLACED = "document.replaced", "Document replaced by a new version"
    DOCUMENT_DELETED = "document.deleted", "Document deleted"
    DOCUMENT_MOVED = "document.moved", "Document moved to another collection"
    COLLECTION_ACCESS_CHANGED = "collection.access_changed", "Collection access changed"
    REVIEW_APPROVED = "review.approved", "Review: answer approved"
    REVIEW_EDITED = "review.edited", "Review: answer edited and approved"
    REVIEW_REJECTED = "review.rejected", "Review: answer rejected"
    FEEDBACK_TRIAGED = "feedback.triaged", "Feedback triaged"
    PROMPT_VERSION_CREATED = "prompt.version_created", "Prompt version created"
    PROMPT_LABEL_MOVED = "prompt.label_moved", "Prompt label moved"
    PROMPT_PROPOSAL_APPROVED = "prompt.proposal_approved", "Prompt proposal approved"
    PROMPT_PROPOSAL_REJECTED = "prompt.proposal_rejected", "Prompt proposal rejected"
    MODEL_TIER_CHANGED = "model_tier.changed", "Model tier changed"
    BUDGET_POLICY_CHANGED = "policy.budget_changed", "Budget policy changed"
    ROUTING_POLICY_CHANGED = "policy.routing_changed", "Routing policy changed"
    COLLECTION_DATA_CLASS_CHANGED = "collection.data_class_changed", "Collection data class changed"
    LEGAL_HOLD_SET = "privacy.legal_hold_set", "Legal hold set"
    LEGAL_HOLD_RELEASED = "privacy.legal_hold_released", "Legal hold released"
    RETENTION_RUN = "privacy.retention_run", "Retention run deleted or anonymised expired records"
    PERSON_EXPORTED = "privacy.person_exported", "A person's data exported"
    PERSON_ERASED = "privacy.person_erased", "A person's data erased"
    KILL_SWITCH_CHANGED = "ops.kill_switch_changed", "Kill switch turned on or off"
    ALERT_RULE_CHANGED = "ops.alert_rule_changed", "Alert rule created, changed or deleted"


class UserLegalHold(models.Model):
    """A legal hold on a person: retention deletes and anonymises nothing of theirs while it is
    set (their conversations, answers, feedback, interactions); erasure refuses too."""

    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="legal_hold")
    reason = models.CharField(max_length=300)
    set_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Legal hold on user {self.user_id}"


class AuditRecordImmutable(Exception):
    """An attempt to change or delete an audit event."""


class AuditEvent(models.Model):
    """One entry of the append-only audit trail (core.services.audit writes and verifies it).

    Append-only twice over: ``save()`` and ``delete()`` refuse an existing row, and a database
    trigger (migration 0004) refuses ``UPDATE`` and ``DELETE`` from any client, except two
    privileged changes made by core.services.audit alone: anonymising a person (erasure) and
    deleting the oldest rows (retention). The actor is a copied id and name, not a foreign key:
    the record must outlive the user. ``hash`` chains the rows (sha256 of the previous row's
    hash and this row's content), so an edit made around the trigger (by the table's owner) or
    a deleted row shows up in ``manage.py audit_verify``."""

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # Text, not inet: the hash covers exactly the string that was written.
    ip = models.CharField(max_length=45, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # The hash covers the personal fields through this digest (core.services.audit explains
    # why): erasure can anonymise them later without breaking the chain.
    personal_salt = models.CharField(max_length=32, blank=True)  # emptied when the row is redacted
    personal_digest = models.CharField(max_length=64, blank=True)
    redacted_at = models.DateTimeField(null=True, blank=True)
    redacted_by_seq = models.BigIntegerField(null=True, blank=True)  # the erasure's own audit event

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="core_audit_target_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_name or 'system'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AuditRecordImmutable(f"audit event #{self.seq} is immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditRecordImmutable(f"audit event #{self.seq} is immutable and cannot be deleted")
