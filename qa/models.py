from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from pgvector.django import HnswIndex, VectorField

from core.models import TimeStampedModel
from providers.llm.keys import api_key_env_problem
from providers.llm.pinning import PinLevel, model_pin_check


class Conversation(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class AnswerStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    STREAMING = "streaming", "Streaming"
    ANSWERED = "answered", "Answered"
    DECLINED = "declined", "Declined"
    HELD = "held", "Held for review"
    FAILED = "failed", "Failed"


# An answer in one of these states is never generated again: the pipeline re-sends it as it is.
FINAL_STATUSES = {AnswerStatus.ANSWERED, AnswerStatus.DECLINED, AnswerStatus.FAILED, AnswerStatus.HELD}


class ConfidenceLevel(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ReviewState(models.TextChoices):
    NONE = "", "Not reviewed"
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    EDITED = "edited", "Edited and approved"
    REJECTED = "rejected", "Rejected"


class Answer(TimeStampedModel):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="answers")
    question = models.TextField()
    standalone_question = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=AnswerStatus.choices, default=AnswerStatus.PENDING)
    text = models.TextField(blank=True)
    decline_reason = models.TextField(blank=True)
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=200, blank=True)
    fallback_used = models.BooleanField(default=False)
    # The answering prompt's version (``answer-v2``) and, when its output failed its checks and
    # the gateway retried with the version's fallback, that the fallback's answer is the one kept.
    prompt_key = models.CharField(max_length=80, blank=True, db_index=True)
    prompt_fallback_used = models.BooleanField(default=False)
    experiment_arm = models.ForeignKey(
        "prompts.ExperimentArm", null=True, blank=True, on_delete=models.SET_NULL, related_name="answers"
    )
    searched = models.JSONField(default=dict, blank=True)  # what was searched, for declines
    timings_ms = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Trust layer
    confidence = models.FloatField(null=True, blank=True)
    confidence_level = models.CharField(max_length=10, choices=ConfidenceLevel.choices, blank=True)
    confidence_reason = models.TextField(blank=True)
    verification = models.JSONField(default=dict, blank=True)  # per-sentence detail
    high_stakes = models.JSONField(default=list, blank=True)  # topics
    notice = models.TextField(blank=True)
    review_state = models.CharField(max_length=10, choices=ReviewState.choices, blank=True, default="")
    reused_from = models.ForeignKey(
        "qa.ReusableAnswer", null=True, blank=True, on_delete=models.SET_NULL, related_name="reuses"
    )
    # Cost and latency controls
    route = models.JSONField(default=dict, blank=True)  # tier, reason, features
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    # Privacy (issue #14): the strictest data class of the collections the answer drew on (its
    # policy: core.data_classes), and how many personal values were replaced by placeholders
    # before the text went to an external model (the page shows a badge when any were).
    data_class = models.CharField(max_length=20, default="internal", db_index=True)
    pii_masked = models.PositiveIntegerField(default=0)
    # The OpenTelemetry trace of the question (issue #15): from the chat message to the worker.
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.question[:80]


class Citation(models.Model):
    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="citations")
    n = models.PositiveSmallIntegerField()
    # Plain ids, not foreign keys: an answer keeps its citations after a document changes, and
    # every read of them goes back through ingestion's access-controlled selectors.
    chunk_id = models.BigIntegerField()
    document_id = models.BigIntegerField()
    title = models.CharField(max_length=500)
    source_name = models.CharField(max_length=1000)
    section = models.CharField(max_length=1000, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    quote = models.TextField()

    class Meta:
        ordering = ["answer_id", "n"]
        constraints = [models.UniqueConstraint(fields=["answer", "n"], name="citation_unique_n_per_answer")]

    def __str__(self) -> str:
        return f"[{self.n}] {self.title}"


class Interaction(TimeStampedModel):
    """One model call through the gateway: exactly what was sent and received."""

    answer = models.ForeignKey(Answer, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions")
    provider = models.CharField(max_length=50)
    model = models.CharField(max_length=200)
    prompt = models.JSONField()
    prompt_key = models.CharField(max_length=80, blank=True)  # the prompt version sent (``answer-v2``)
    response = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    first_token_ms = models.FloatField(null=True, blank=True)
    total_ms = models.FloatField(default=0)
    outcome = models.CharField(max_length=20, default="ok")  # ok, declined, error
    error = models.TextField(blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    # Privacy (issue #14): the data class of the text, whether ``prompt`` and ``response`` hold
    # placeholders instead of personal values (what an external model was sent, or a class
    # that is not logged in clear), and when retention emptied the texts (metrics stay).
    data_class = models.CharField(max_length=20, default="internal", db_index=True)
    pii_scrubbed = models.BooleanField(default=False)
    texts_purged_at = models.DateTimeField(null=True, blank=True)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.provider}:{self.model} {self.outcome}"


class ReviewReason(models.TextChoices):
    HIGH_STAKES = "high_stakes", "High-stakes topic"
    LOW_SUPPORT = "low_support", "Weak support in the sources"


class ReviewItem(TimeStampedModel):
    """An answer waiting for (or given) a human decision."""

    # The review record outlives the conversation it concerns (the asker may delete it; retention
    # may expire it): the answer link is then null and ``question_text``/``answer_text`` keep
    # what the reviewer judged.
    answer = models.OneToOneField(Answer, null=True, blank=True, on_delete=models.SET_NULL, related_name="review")
    question_text = models.TextField(blank=True)
    answer_text = models.TextField(blank=True)
    answer_deleted_at = models.DateTimeField(null=True, blank=True)
    # Who asked: erasure finds the record by it after the answer is gone (the texts are theirs).
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=ReviewReason.choices)
    topics = models.JSONField(default=list, blank=True)
    detail = models.TextField(blank=True)
    held = models.BooleanField(default=True, help_text="The user waits for the decision (else: reviewed afterwards).")
    state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Review of answer {self.answer_id} ({self.state})"


class ReviewAction(models.Model):
    """Every reviewer action, kept for the audit trail."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="actions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=20)
    note = models.TextField(blank=True)
    text_before = models.TextField(blank=True)
    text_after = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.action} on review {self.item_id}"


class ReuseOrigin(models.TextChoices):
    CURATED = "curated", "Curated by a reviewer"
    CACHED = "cached", "Cached verified answer"
    PRECOMPUTED = "precomputed", "Precomputed off-peak"


class ReusableAnswer(TimeStampedModel):
    """An answer Verity may give again to the same or a very similar question: curated by a
    reviewer, or (the cache) a verified answer. It lists the documents it cites so that it is
    only reused for users who may read all of them, and forgotten when one of them changes."""

    origin = models.CharField(max_length=20, choices=ReuseOrigin.choices)
    question = models.TextField()
    embedding = VectorField(dimensions=384)
    text = models.TextField()
    citations = models.JSONField(default=list)  # [{n, chunk_id, document_id, title, source_name, section, page, quote}]
    document_ids = ArrayField(models.BigIntegerField(), default=list)
    collection_ids = ArrayField(models.BigIntegerField(), default=list)
    prompt_version = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=200, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    confidence_level = models.CharField(max_length=10, blank=True)
    source_answer = models.ForeignKey(Answer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    invalidated_reason = models.CharField(max_length=200, blank=True)
    hits = models.PositiveIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            HnswIndex(name="reusable_embedding_hnsw", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=["vector_cosine_ops"]),
            GinIndex(fields=["document_ids"], name="reusable_document_ids_gin"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.origin}: {self.question[:60]}"


class FeedbackReason(models.TextChoices):
    INCORRECT = "incorrect", "Incorrect"
    UNSUPPORTED = "unsupported", "Not supported by the sources"
    WRONG_CITATION = "wrong_citation", "Wrong citation"
    INCOMPLETE = "incomplete", "Incomplete"
    OTHER = "other", "Other"


class TriageState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class Feedback(TimeStampedModel):
    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answer_feedback")
    helpful = models.BooleanField()
    reason = models.CharField(max_length=20, choices=FeedbackReason.choices, blank=True)
    comment = models.TextField(blank=True)
    triage_state = models.CharField(max_length=10, choices=TriageState.choices, blank=True, default="", db_index=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triage_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["answer", "user"], name="feedback_one_per_user_answer")]

    def __str__(self) -> str:
        return f"{'+' if self.helpful else '-'} answer {self.answer_id}"


# --------------------------------------------------------------------------- cost and latency controls


class TierProvider(models.TextChoices):
    EXTRACTIVE = "extractive", "Built-in extractive (no model)"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible endpoint"
    LLAMA_CPP = "llama_cpp", "llama.cpp (local weights)"


class ModelTier(TimeStampedModel):
    """A model Verity may route a question to. Lower rank = cheaper. ``external`` means the
    text leaves this machine: restricted collections never use such a tier."""

    name = models.CharField(max_length=50, unique=True)
    rank = models.PositiveSmallIntegerField(help_text="0 is the cheapest; routing moves up for harder questions.")
    provider = models.CharField(max_length=30, choices=TierProvider.choices)
    model = models.CharField(max_length=200, help_text="Pinned model id, e.g. gpt-4o-mini-2024-07-18.")
    base_url = models.CharField(max_length=500, blank=True)
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable with the key."
    )
    external = models.BooleanField(default=True, help_text="Text sent to this tier leaves this machine.")
    active = models.BooleanField(default=True)
    # Raised by every change of the model it calls (``model_tier_save``): answers record it.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["rank", "name"]

    def clean(self) -> None:
        # The key is sent as a bearer token to base_url: only variables under the key prefix.
        problems: dict[str, str] = {}
        problem = api_key_env_problem(self.api_key_env)
        if problem:
            problems["api_key_env"] = problem
        # A refused id (empty, "latest") would change answers with no change in Verity; a floating
        # alias only warns (the admin shows it): see providers/llm/pinning.py.
        pin = model_pin_check(self.model, provider=self.provider)
        if pin.level is PinLevel.REFUSED:
            problems["model"] = pin.message
        if problems:
            raise ValidationError(problems)

    def __str__(self) -> str:
        return f"{self.name} ({self.model})"


class RoutingPolicy(models.Model):
    """The router's rules (one row, editable in the admin)."""

    lookup_tier = models.CharField(max_length=50, default="extractive", help_text="Short factual lookups.")
    explanation_tier = models.CharField(max_length=50, default="small", help_text="Why/how/explain questions.")
    complex_tier = models.CharField(max_length=50, default="large", help_text="Multi-part, long or deep follow-ups.")
    low_retrieval_similarity = models.FloatField(
        default=0.5, help_text="Below this best-passage similarity, a lookup is treated as an explanation."
    )
    long_question_words = models.PositiveIntegerField(default=40)
    deep_conversation_turns = models.PositiveIntegerField(default=4)

    class Meta:
        verbose_name_plural = "routing policy"

    def __str__(self) -> str:
        return "Routing policy"


class ModelPrice(models.Model):
    """Price per million tokens of a model, from ``effective_from`` on (a new row is a new version)."""

    model = models.CharField(max_length=200, db_index=True)
    input_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    output_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    currency = models.CharField(max_length=3, default="USD")
    effective_from = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["model", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["model", "effective_from"], name="price_one_version_per_time")]

    def __str__(self) -> str:
        return f"{self.model}: {self.input_per_million}/{self.output_per_million} per 1M from {self.effective_from:%Y-%m-%d}"


class BudgetPolicy(models.Model):
    """Limits (one row, editable in the admin). Soft: alert and route to cheaper tiers. Hard:
    only cached and extractive answers. Zero means no limit."""

    user_daily_questions_soft = models.PositiveIntegerField(default=200)
    user_daily_questions_hard = models.PositiveIntegerField(default=500)
    user_daily_tokens_soft = models.PositiveIntegerField(default=200_000)
    user_daily_tokens_hard = models.PositiveIntegerField(default=500_000)
    user_daily_cost_soft = models.DecimalField(max_digits=12, decimal_places=4, default=2)
    user_daily_cost_hard = models.DecimalField(max_digits=12, decimal_places=4, default=5)
    monthly_cost_soft = models.DecimalField(max_digits=14, decimal_places=4, default=400)
    monthly_cost_hard = models.DecimalField(max_digits=14, decimal_places=4, default=500)

    class Meta:
        verbose_name_plural = "budget policy"

    def __str__(self) -> str:
        return "Budget policy"


class UsageCounter(models.Model):
    """Spend so far in one scope (``user:<id>:<YYYY-MM-DD>`` or ``global:<YYYY-MM>``). Reservations
    are taken with one conditional UPDATE, so concurrent requests cannot overspend."""

    scope = models.CharField(max_length=100, unique=True)
    questions = models.PositiveIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    reserved_tokens = models.BigIntegerField(default=0)
    reserved_cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    soft_alerted = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.scope}: {self.cost}"


class BudgetAlert(TimeStampedModel):
    scope = models.CharField(max_length=100)
    kind = models.CharField(max_length=20)  # soft, hard
    message = models.TextField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope}"


class CacheLookup(models.Model):
    """One semantic-cache lookup: the nearest similarity, hit or miss, and why."""

    answer = models.ForeignKey(Answer, null=True, blank=True, on_delete=models.SET_NULL, related_name="cache_lookups")
    entry = models.ForeignKey(ReusableAnswer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    nearest_similarity = models.FloatField(null=True, blank=True)
    hit = models.BooleanField()
    reason = models.CharField(max_length=300, blank=True)
    elapsed_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{'hit' if self.hit else 'miss'} {self.nearest_similarity}"


class FaqEntry(TimeStampedModel):
    """A question to answer ahead of demand (off-peak), within one collection."""

    question = models.TextField()
    collection = models.ForeignKey("ingestion.Collection", on_delete=models.CASCADE, related_name="faq_entries")
    active = models.BooleanField(default=True)
    last_precomputed_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question[:80]


class KillSwitchName(models.TextChoices):
    """Switches an operator turns on in an incident (``qa.services.kill_switches``); each takes
    effect for the next answer, in every process, without a deploy."""

    EXTERNAL_MODELS = "external_models", "No text leaves the machine: external model tiers and judge off"
    MODEL_ANSWERS = "model_answers", "No language model answers: the built-in extractive answerer only"
    ANSWER_CACHE = "answer_cache", "No cached, curated or precomputed answer served or stored"
    PRECOMPUTE = "precompute", "The off-peak precompute job does nothing"


class KillSwitch(models.Model):
    """One kill switch's state; a switch without a row is off. Changes are audited."""

    name = models.CharField(max_length=40, choices=KillSwitchName.choices, unique=True)
    active = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    changed_by_name = models.CharField(max_length=150, blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {'ON' if self.active else 'off'}"
