"""The prompt registry: every prompt Verity sends, as immutable versions (``PromptVersion``,
loaded from ``prompts/library/`` on migrate or created from an approved proposal), labels that
point at versions (moving ``production`` is the deployment), the append-only history of the
lifecycle (``PromptEvent``), proposals by editors, and A/B experiments.

Versions and events are immutable twice over: ``save()`` and ``delete()`` refuse, and a
database trigger (migration 0001) refuses ``UPDATE`` and ``DELETE`` from any client. Neither
holds a foreign key to a user (a user's deletion would have to update them): the actor's id
and name are copied."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel


class ImmutableRecord(Exception):
    """An attempt to change or delete a prompt version or a lifecycle event."""


class PromptKind(models.TextChoices):
    CHAT = "chat", "Chat messages sent to a model"
    TEXT = "text", "Wording shown to the reader"


class VersionSource(models.TextChoices):
    FILE = "file", "Repository file"
    PROPOSAL = "proposal", "Approved proposal"


class PromptVersion(models.Model):
    prompt_id = models.CharField(max_length=60, db_index=True)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=PromptKind.choices)
    description = models.TextField(blank=True)
    # [{"role": "system"|"user"|"text", "template": "... ${question} ..."}]
    messages = models.JSONField()
    variables = models.JSONField(default=list)  # the ${names} a template may use
    # The version retried once when this one's output fails its checks (``answer_strict-v1``).
    fallback_key = models.CharField(max_length=80, blank=True)
    content_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=VersionSource.choices, default=VersionSource.FILE)
    note = models.TextField(blank=True)
    author_id = models.BigIntegerField(null=True, blank=True)
    author_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prompt_id", "version"]
        constraints = [models.UniqueConstraint(fields=["prompt_id", "version"], name="prompt_version_unique")]

    def __str__(self) -> str:
        return self.key

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableRecord(f"prompt version {self.key} is immutable: create a new version")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord(f"prompt version {self.key} is immutable and cannot be deleted")

    @property
    def key(self) -> str:
        """How answers, interactions and cache entries name it: ``answer-v3``."""
        return f"{self.prompt_id}-v{self.version}"


class PromptLabel(models.Model):
    """A named pointer at one version of a prompt (``production``, ``staging``, any name)."""

    PRODUCTION = "production"
    STAGING = "staging"

    prompt_id = models.CharField(max_length=60)
    name = models.CharField(max_length=40)
    version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="labels")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["prompt_id", "name"]
        constraints = [models.UniqueConstraint(fields=["prompt_id", "name"], name="prompt_label_unique")]

    def __str__(self) -> str:
        return f"{self.prompt_id}@{self.name}"


class EventAction(models.TextChoices):
    VERSION_LOADED = "version_loaded", "Version loaded from the repository"
    VERSION_CREATED = "version_created", "Version created from a proposal"
    LABEL_MOVED = "label_moved", "Label moved"
    PROPOSAL_SUBMITTED = "proposal_submitted", "Proposal submitted"
    PROPOSAL_TESTED = "proposal_tested", "Proposal tested"
    PROPOSAL_APPROVED = "proposal_approved", "Proposal approved"
    PROPOSAL_REJECTED = "proposal_rejected", "Proposal rejected"
    EXPERIMENT_STARTED = "experiment_started", "Experiment started"
    EXPERIMENT_STOPPED = "experiment_stopped", "Experiment stopped"
    ARM_PROMOTED = "arm_promoted", "Experiment arm promoted"
    TIER_CHANGED = "tier_changed", "Model tier changed"
    TIER_TESTED = "tier_tested", "Prompt suites run against a model tier"


class PromptEvent(models.Model):
    """One step of a prompt's (or a model tier's) lifecycle. Append-only."""

    action = models.CharField(max_length=30, choices=EventAction.choices, db_index=True)
    prompt_id = models.CharField(max_length=60, blank=True, db_index=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    label = models.CharField(max_length=40, blank=True)
    from_version = models.PositiveIntegerField(null=True, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.prompt_id} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableRecord("lifecycle events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord("lifecycle events are append-only")


class ProposalState(models.TextChoices):
    TESTING = "testing", "Being tested"
    TESTED = "tested", "Tested, waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed its tests, or they could not run"


class PromptProposal(TimeStampedModel):
    """An editor's change to a prompt: tested automatically, then approved or rejected by
    someone else. Approval creates a new immutable ``PromptVersion``; nothing moves a label."""

    prompt_id = models.CharField(max_length=60, db_index=True)
    base_version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    messages = models.JSONField()
    summary = models.CharField(max_length=200)
    rationale = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="prompt_proposals"
    )
    state = models.CharField(max_length=10, choices=ProposalState.choices, default=ProposalState.TESTING)
    results = models.JSONField(default=dict, blank=True)  # the proposal's suite and evaluation
    baseline_results = models.JSONField(default=dict, blank=True)  # the same for the base version
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    review_note = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("propose_prompt", "Can propose prompt changes"),
            ("review_prompt", "Can approve or reject prompt proposals and move labels"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id}: {self.summary}"


class ExperimentState(models.TextChoices):
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    PROMOTED = "promoted", "Stopped, an arm promoted"


class Experiment(TimeStampedModel):
    """Traffic split between arms (a prompt version and/or a model tier) by a stable hash of
    the user: a user stays in one arm for the experiment's life."""

    name = models.CharField(max_length=100, unique=True)
    prompt_id = models.CharField(max_length=60, default="answer")
    state = models.CharField(max_length=10, choices=ExperimentState.choices, default=ExperimentState.RUNNING)
    # Only questions asked in these collections take part (empty: every question).
    collection_ids = models.JSONField(default=list, blank=True)
    min_sample = models.PositiveIntegerField(default=100, help_text="Answers per arm before a difference is judged.")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    stopped_at = models.DateTimeField(null=True, blank=True)
    promoted_arm = models.ForeignKey(
        "ExperimentArm", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class ExperimentArm(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    name = models.CharField(max_length=50)
    # None: whatever the production label points at when the question is asked.
    prompt_version = models.ForeignKey(PromptVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    tier_name = models.CharField(max_length=50, blank=True, help_text="A model tier to use (empty: routing decides).")
    share = models.PositiveSmallIntegerField(help_text="Percent of the experiment's users.")

    class Meta:
        ordering = ["experiment", "pk"]
        constraints = [models.UniqueConstraint(fields=["experiment", "name"], name="experiment_arm_unique")]

    def __str__(self) -> str:
        return f"{self.experiment.name}/{self.name}"
