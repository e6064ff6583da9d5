"""Reads of conversations and answers: a user sees only their own. Reviewers' reads (queue,
items, triage, curated answers) see only answers drawn from collections they may read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (
    Avg,
    BooleanField,
    Count,
    Exists,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from core.models import UserLegalHold
from ingestion.selectors.collections import collection_ids_readable, document_ids_readable, documents_all_readable_sql
from ingestion.selectors.retention import collection_ids_on_legal_hold, document_ids_on_legal_hold
from prompts.services.experiments import experiment_arms
from prompts.statistics import Comparison, Verdict, means_test, proportions_test
from qa.models import (
    FINAL_STATUSES,
    Answer,
    AnswerStatus,
    BudgetAlert,
    Citation,
    Conversation,
    Feedback,
    ReusableAnswer,
    ReviewItem,
    ReviewState,
)


def conversation_list(*, user: User | AnonymousUser) -> QuerySet[Conversation]:
    if not user.is_authenticated:
        return Conversation.objects.none()
    return Conversation.objects.filter(user=user).order_by("-updated_at")


def conversation_get(*, user: User | AnonymousUser, conversation_id: int) -> Conversation | None:
    return conversation_list(user=user).filter(pk=conversation_id).first()


def answer_list_for(*, conversation: Conversation) -> QuerySet[Answer]:
    return conversation.answers.select_related("reused_from").prefetch_related("citations").order_by("created_at")


def answer_get(*, user: User | AnonymousUser, answer_id: int) -> Answer | None:
    if not user.is_authenticated:
        return None
    return (
        Answer.objects.filter(pk=answer_id, conversation__user=user)
        .select_related("conversation", "reused_from")
        .first()
    )


def citation_get(*, user: User | AnonymousUser, answer_id: int, n: int) -> Citation | None:
    answer = answer_get(user=user, answer_id=answer_id)
    if answer is None:
        return None
    return answer.citations.filter(n=n).first()


def answers_in_progress(*, conversation_id: int) -> list[int]:
    return list(
        Answer.objects.filter(conversation_id=conversation_id)
        .exclude(status__in=FINAL_STATUSES)
        .values_list("pk", flat=True)
    )


def answer_list_reviewable(*, user: User | AnonymousUser) -> QuerySet[Answer]:
    """Answers a reviewer may see (their question, text, sources and verification detail): every
    document they cite, and every collection their retrieval drew passages from (the draft was
    written from those; removed sentences are shown on the review page), is readable by
    ``user``. Several collections: all of them. An answer that cites nothing and drew on no
    passage (refused before retrieval) shows none. A cited document that no longer exists
    cannot be checked, so only superusers (who read everything) see such an answer."""
    if not user.is_authenticated:
        return Answer.objects.none()
    if getattr(user, "is_superuser", False):
        return Answer.objects.all()
    readable = collection_ids_readable(user=user)
    unreadable_citation = Citation.objects.filter(answer_id=OuterRef("pk")).exclude(
        document_id__in=document_ids_readable(user=user)
    )
    # ``searched.collection_ids``: the collections of the passages retrieval gave the pipeline
    # (answers stored before it was recorded have only their citations to go by).
    retrieved_readable = Q(searched__collection_ids__isnull=True) | Q(searched__collection_ids__contained_by=readable)
    return Answer.objects.filter(~Exists(unreadable_citation), retrieved_readable)


def reusable_list_readable(*, user: User | AnonymousUser) -> QuerySet[ReusableAnswer]:
    """Stored answers (curated, cached, precomputed) that cite at least one document and only
    documents ``user`` may read (any version: a reviewer's export, not a reuse)."""
    if not user.is_authenticated:
        return ReusableAnswer.objects.none()
    sql, params = documents_all_readable_sql(
        column='"qa_reusableanswer"."document_ids"', collection_ids=collection_ids_readable(user=user),
        current_only=False,
    )  # fmt: skip
    return ReusableAnswer.objects.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611 - parameters


def review_items_visible(*, user: User | AnonymousUser) -> QuerySet[ReviewItem]:
    """Review items ``user`` may see: those of answers they may review
    (``answer_list_reviewable``) and, once the answer is deleted (the record keeps the texts
    it judged), those they decided themselves. Whose documents a deleted answer drew on can no
    longer be checked, so other reviewers do not see it; superusers, who read everything, do."""
    if not user.is_authenticated:
        return ReviewItem.objects.none()
    if getattr(user, "is_superuser", False):
        return ReviewItem.objects.all()
    return ReviewItem.objects.filter(
        Q(answer__in=answer_list_reviewable(user=user)) | Q(answer__isnull=True, decided_by=user)
    )


def review_queue(
    *, user: User | AnonymousUser, state: str = "pending", topic: str = "", reason: str = "", held: str = ""
) -> QuerySet[ReviewItem]:
    """Review items ``user`` may see (``review_items_visible``), oldest first, filtered by
    state, topic, reason and whether the user waits."""
    items = (
        review_items_visible(user=user)
        .select_related("answer__conversation__user", "decided_by")
        .order_by("created_at")
    )
    if state:
        items = items.filter(state=state)
    if state == ReviewState.PENDING:  # nothing to decide once the answer is deleted
        items = items.filter(answer__isnull=False)
    if topic:
        items = items.filter(topics__contains=[topic])
    if reason:
        items = items.filter(reason=reason)
    if held in ("yes", "no"):
        items = items.filter(held=held == "yes")
    return items


def review_item_get(*, user: User | AnonymousUser, item_id: int) -> ReviewItem | None:
    return (
        review_items_visible(user=user)
        .select_related("answer__conversation__user", "decided_by")
        .prefetch_related("answer__citations", "actions__reviewer")
        .filter(pk=item_id)
        .first()
    )


def triage_list(*, user: User | AnonymousUser, state: str = "open", reason: str = "") -> QuerySet[Feedback]:
    """Thumbs-down feedback on answers ``user`` may see (``answer_list_reviewable``)."""
    items = Feedback.objects.filter(helpful=False, answer__in=answer_list_reviewable(user=user)).select_related(
        "answer", "user", "triaged_by"
    )
    if state:
        items = items.filter(triage_state=state)
    if reason:
        items = items.filter(reason=reason)
    return items.order_by("created_at")


def feedback_of(*, user: User | AnonymousUser, answer_ids: list[int]) -> dict[int, Feedback]:
    if not user.is_authenticated:
        return {}
    return {f.answer_id: f for f in Feedback.objects.filter(user=user, answer_id__in=answer_ids)}


def budget_alert_list_recent(*, limit: int) -> QuerySet[BudgetAlert]:
    """The latest budget alerts, newest first (the operators' usage page)."""
    return BudgetAlert.objects.all()[:limit]


# --------------------------------------------------------------------------- A/B experiments


class Better(StrEnum):
    """Which direction of a metric is an improvement."""

    HIGHER = "higher"
    LOWER = "lower"


class Outcome(StrEnum):
    """An arm's metric against the control, as the page says it."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "same"  # no significant difference
    TOO_FEW = "too_few"  # an arm below the minimum sample


class ArmMetric(StrEnum):
    HELPFUL_RATE = "helpful_rate"
    DECLINE_RATE = "decline_rate"
    REMOVED = "removed"
    FIRST_WORDS = "first_words"
    COST = "cost"

    @property
    def label(self) -> str:
        return _METRIC_LABELS[self]

    @property
    def better(self) -> Better:
        # Fewer declines is better only while the helpful rate holds: a prompt that stops
        # declining by answering from thin evidence shows up as more removed sentences and
        # fewer helpful ratings, so the page reads the three together.
        return Better.HIGHER if self is ArmMetric.HELPFUL_RATE else Better.LOWER


_METRIC_LABELS = {
    ArmMetric.HELPFUL_RATE: "helpful rate of rated answers",
    ArmMetric.DECLINE_RATE: "decline rate",
    ArmMetric.REMOVED: "unsupported sentences removed per answer",
    ArmMetric.FIRST_WORDS: "time to first words",
    ArmMetric.COST: "cost per answer",
}

# Answers an arm is judged on: finished ones. Pending and streaming answers are not done yet; a
# failed one is an outage (counted apart), not something the prompt or the model did.
_JUDGED = [AnswerStatus.ANSWERED, AnswerStatus.DECLINED, AnswerStatus.HELD]


@dataclass(frozen=True)
class MetricVerdict:
    """One metric of an arm against the control: the test's outcome in words."""

    metric: ArmMetric
    comparison: Comparison
    control: str  # the control arm's name
    min_sample: int

    @property
    def better(self) -> Better:
        return self.metric.better

    @property
    def outcome(self) -> Outcome:
        verdict = self.comparison.verdict
        if verdict is Verdict.TOO_FEW:
            return Outcome.TOO_FEW
        if verdict is Verdict.NO_DIFFERENCE:
            return Outcome.SAME
        higher = verdict is Verdict.B_HIGHER
        return Outcome.BETTER if higher == (self.better is Better.HIGHER) else Outcome.WORSE

    @property
    def words(self) -> str:
        c = self.comparison
        if self.outcome is Outcome.TOO_FEW:
            return (
                f"Too few to tell: {c.n_b} here and {c.n_a} in {self.control}, at least {self.min_sample} each "
                f"needed ({self.better} is better)"
            )
        assert c.difference is not None and c.p_value is not None  # a decided test has both
        p = "p < 0.001" if c.p_value < 0.001 else f"p = {c.p_value:.3f}"
        detail = f"{self._difference()}, {p}"
        if self.outcome is Outcome.SAME:
            return f"No significant difference ({detail})"
        return f"{self.outcome.value.capitalize()}: {detail} ({self.better} is better)"

    def _difference(self) -> str:
        difference = self.comparison.difference or 0.0
        if difference == 0:
            return f"the same as {self.control}"
        direction = f"{'higher' if difference > 0 else 'lower'} than {self.control}"
        size = abs(difference)
        if self.metric in (ArmMetric.HELPFUL_RATE, ArmMetric.DECLINE_RATE):
            return f"{size * 100:.1f} points {direction}"
        if self.metric is ArmMetric.FIRST_WORDS:
            return f"{size:.0f} ms {direction}"
        return f"{size:.3g} {direction}"


@dataclass(frozen=True)
class ArmStats:
    """One arm's numbers over its finished answers, and (for every arm after the first, the
    control) each metric's test against the control."""

    arm_id: int
    name: str
    version: str  # "answer-v3", or "production" (whatever the label pointed at when asked)
    tier_name: str
    share: int
    answers: int  # finished: answered, declined or held
    failed: int
    rated: int  # answers with a rating
    helpful: int  # of the rated, rated helpful
    declined: int
    checked: int  # answers whose sentences were verified (a model wrote them)
    removed: int  # unsupported sentences removed, in all
    first_words_ms: float | None  # mean time until the reader saw the first words
    cost_per_answer: float | None
    verdicts: list[MetricVerdict] = field(default_factory=list)

    @property
    def helpful_rate(self) -> float | None:
        return self.helpful / self.rated if self.rated else None

    @property
    def decline_rate(self) -> float | None:
        return self.declined / self.answers if self.answers else None

    @property
    def removed_per_answer(self) -> float | None:
        return self.removed / self.checked if self.checked else None


def experiment_arm_stats(*, experiment_id: int, alpha: float = 0.05) -> list[ArmStats]:
    """Per arm of the experiment (its first arm is the control): counts, rates and means
    aggregated in SQL over the answers recorded with the arm, the helpful rate from each
    answer's latest rating, and each other arm's significance test against the control
    (two-proportion z for the rates, Welch's t for the means) with the experiment's minimum
    sample per arm. An empty list for an unknown experiment."""
    found = experiment_arms(experiment_id=experiment_id)
    if found is None:
        return []
    experiment, arms = found
    answers = Answer.objects.filter(experiment_arm__experiment_id=experiment_id)
    latest_rating = Subquery(
        Feedback.objects.filter(answer_id=OuterRef("pk")).order_by("-updated_at", "-pk").values("helpful")[:1]
    )
    judged = Q(status__in=_JUDGED)
    first_words = Cast(KT("timings_ms__first_token"), FloatField())
    removed = Cast(KT("verification__removed"), IntegerField())
    rows = {
        row["experiment_arm_id"]: row
        for row in answers.annotate(rating=latest_rating, first_words=first_words, removed_count=removed)
        .values("experiment_arm_id")
        .annotate(
            n=Count("pk", filter=judged),
            failed=Count("pk", filter=Q(status=AnswerStatus.FAILED)),
            rated=Count("pk", filter=judged & Q(rating__isnull=False)),
            helpful=Count("pk", filter=judged & Q(rating=True)),
            declined=Count("pk", filter=Q(status=AnswerStatus.DECLINED)),
            checked=Count("pk", filter=judged & Q(removed_count__isnull=False)),
            removed_total=Sum("removed_count", filter=judged),
            first_words_mean=Avg("first_words", filter=judged),
            cost_mean=Avg("cost", filter=judged),
        )
        .order_by()
    }
    # The means tests need each answer's value (Welch's variance): one query for all arms.
    values: dict[int, dict[ArmMetric, list[float]]] = {
        arm.pk: {ArmMetric.REMOVED: [], ArmMetric.FIRST_WORDS: [], ArmMetric.COST: []} for arm in arms
    }
    for arm_id, words_ms, cost, removed_count in (
        answers.filter(judged)
        .annotate(first_words=first_words, removed_count=removed)
        .values_list("experiment_arm_id", "first_words", "cost", "removed_count")
    ):
        if words_ms is not None:
            values[arm_id][ArmMetric.FIRST_WORDS].append(words_ms)
        values[arm_id][ArmMetric.COST].append(float(cost))
        if removed_count is not None:
            values[arm_id][ArmMetric.REMOVED].append(float(removed_count))
    stats = []
    for arm in arms:
        row = rows.get(arm.pk, {})
        cost_mean = row.get("cost_mean")
        stats.append(
            ArmStats(
                arm_id=arm.pk, name=arm.name,
                version=arm.prompt_version.key if arm.prompt_version is not None else "production",
                tier_name=arm.tier_name, share=arm.share, answers=row.get("n", 0), failed=row.get("failed", 0),
                rated=row.get("rated", 0), helpful=row.get("helpful", 0), declined=row.get("declined", 0),
                checked=row.get("checked", 0), removed=row.get("removed_total") or 0,
                first_words_ms=row.get("first_words_mean"),
                cost_per_answer=float(cost_mean) if cost_mean is not None else None,
            )
        )  # fmt: skip
    if not stats:
        return stats
    control = stats[0]
    for arm_stats in stats[1:]:
        verdicts = [
            MetricVerdict(
                metric=ArmMetric.HELPFUL_RATE, control=control.name, min_sample=experiment.min_sample,
                comparison=proportions_test(successes_a=control.helpful, n_a=control.rated,
                                            successes_b=arm_stats.helpful, n_b=arm_stats.rated,
                                            min_sample=experiment.min_sample, alpha=alpha),
            ),
            MetricVerdict(
                metric=ArmMetric.DECLINE_RATE, control=control.name, min_sample=experiment.min_sample,
                comparison=proportions_test(successes_a=control.declined, n_a=control.answers,
                                            successes_b=arm_stats.declined, n_b=arm_stats.answers,
                                            min_sample=experiment.min_sample, alpha=alpha),
            ),
        ]  # fmt: skip
        for metric in (ArmMetric.REMOVED, ArmMetric.FIRST_WORDS, ArmMetric.COST):
            comparison = means_test(
                values_a=values[control.arm_id][metric], values_b=values[arm_stats.arm_id][metric],
                min_sample=experiment.min_sample, alpha=alpha,
            )  # fmt: skip
            verdicts.append(
                MetricVerdict(
                    metric=metric, comparison=comparison, control=control.name, min_sample=experiment.min_sample
                )
            )
        arm_stats.verdicts.extend(verdicts)
    return stats


def answers_on_legal_hold_q(prefix: str = "") -> Q:
    """Answers a legal hold keeps: their asker is on hold, or they cite a document of a held
    collection, or they searched a held collection (a decline cites nothing but still holds
    the question that was asked of it). ``prefix`` reaches the answer from a related row."""
    user_on_hold = UserLegalHold.objects.filter(user_id=OuterRef(f"{prefix}conversation__user_id"))
    cites_held = Citation.objects.filter(answer_id=OuterRef(f"{prefix}pk" if prefix else "pk"),
                                         document_id__in=document_ids_on_legal_hold())  # fmt: skip
    held = Q(Exists(user_on_hold)) | Q(Exists(cites_held))
    for collection_id in collection_ids_on_legal_hold():
        held |= Q(**{f"{prefix}searched__collection_ids__contains": [collection_id]})
    return held


def answers_stuck_count(*, before: datetime) -> int:
    """Answers still pending or streaming that started before ``before`` (the metrics gauge and
    the stuck-answers alert rule, each with its own limit)."""
    return Answer.objects.filter(
        status__in=(AnswerStatus.PENDING, AnswerStatus.STREAMING), created_at__lt=before
    ).count()
