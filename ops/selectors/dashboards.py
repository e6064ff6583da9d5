"""Reads for the monitoring dashboards (``/ops/``, issue #15 point 4): series over time, hourly or
daily, each aggregated in one SQL statement.

Why raw SQL: PostgreSQL's ``date_bin`` and ``percentile_cont ... WITHIN GROUP`` with ``FILTER``
clauses compute a chart in one pass over the range's rows; the ORM has no ``date_bin`` and
would need one query per percentile. Buckets are binned from a fixed UTC origin, so an hour
or a day is the same bucket whatever range is asked. Every statement starts from
``created_at`` (indexed on every table read here); bench/dashboard_queries.py times them at
a million answers (docs/BENCHMARKS.md).

The filters (collection, model tier, prompt version) are the answer's: the collections its
passages came from (``searched["collection_ids"]``), the tier the router chose
(``route["tier"]``) and the answering prompt's version (``prompt_key``). Model calls, cache
lookups and automated scores are filtered through the answer they belong to."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from evaluation.models import EvalRun
from ingestion.models import Collection, Document
from qa.models import Answer, AnswerStatus, Interaction, ModelTier

# date_bin's origin: buckets start on whole UTC hours and at UTC midnight.
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# The pipeline stages whose time Answer.timings_ms records (qa/pipeline/orchestrator.py, generate.py).
STAGES = ("retrieval", "model_first_token", "verification")
# Models drawn as their own cost line; the rest are summed as "other" (a chart of 30 lines is unreadable).
TOP_MODELS = 5


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def width(self) -> timedelta:
        return timedelta(hours=1) if self is Bucket.HOUR else timedelta(days=1)


@dataclass(frozen=True)
class DashboardFilter:
    """The range (``since`` inclusive, ``until`` exclusive), the bucket width and the optional
    filters every chart of the page shares."""

    since: datetime
    until: datetime
    bucket: Bucket = Bucket.DAY
    collection_id: int | None = None
    tier: str = ""
    prompt_key: str = ""

    @property
    def filters_answers(self) -> bool:
        return self.collection_id is not None or bool(self.tier) or bool(self.prompt_key)


@dataclass(frozen=True)
class Series:
    """One line of a chart: a value per bucket (None where the bucket had no data)."""

    label: str
    values: list[float | None]
    unit: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart's data: the buckets' starts and its lines; ``drill`` names the kind of list a
    bucket links to (``ops.views.dashboards`` turns it into a URL per bucket)."""

    key: str
    title: str
    buckets: list[datetime]
    series: list[Series]
    drill: str = ""
    drill_target: str = "answers"  # answers, interactions or documents
    counts: list[int] = field(default_factory=list)  # the rows behind each bucket, for the table


# --------------------------------------------------------------------------- SQL building blocks
def _bin(column: str) -> str:
    return f"date_bin(%(width)s::interval, {column}, %(origin)s)"


def _answers_per_bucket(*, aggregates: str, flt: DashboardFilter, extra: str = "") -> str:
    """A statement aggregating the answers of each bucket of the range: one row per bucket (the
    empty ones too), the aggregates over that bucket's answers. Why not ``GROUP BY date_bin``:
    the planner takes ``date_bin(created_at)`` for a unique value per row, so it sorts every
    row of the range (spilling to disk) to form 31 groups; a LATERAL subquery per bucket reads
    each bucket's slice of the ``created_at`` index instead (30-40% faster at 333,000 answers in
    the range, docs/BENCHMARKS.md)."""
    return f"""
        SELECT b, x.*
        FROM generate_series(
            date_bin(%(width)s::interval, %(since)s::timestamptz, %(origin)s),
            %(until)s::timestamptz - interval '1 microsecond', %(width)s::interval
        ) AS b
        CROSS JOIN LATERAL (
            SELECT {aggregates}
            FROM qa_answer a
            WHERE a.created_at >= greatest(b, %(since)s::timestamptz)
              AND a.created_at < least(b + %(width)s::interval, %(until)s::timestamptz){extra}{_answer_filters(flt)}
        ) AS x
        ORDER BY 1
    """  # noqa: S608 - fragments are this module's constants; values are parameters


def _params(flt: DashboardFilter) -> dict[str, Any]:
    return {
        "width": "1 hour" if flt.bucket is Bucket.HOUR else "1 day",
        "origin": BUCKET_ORIGIN,
        "since": flt.since,
        "until": flt.until,
        "collection": json.dumps([flt.collection_id]) if flt.collection_id is not None else None,
        "tier": flt.tier,
        "prompt_key": flt.prompt_key,
    }


def _answer_filters(flt: DashboardFilter, alias: str = "a") -> str:
    """The filters' conditions on an answer row (the range is each query's own)."""
    parts = []
    if flt.collection_id is not None:
        parts.append(f"{alias}.searched -> 'collection_ids' @> %(collection)s::jsonb")
    if flt.tier:
        parts.append(f"{alias}.route ->> 'tier' = %(tier)s")
    if flt.prompt_key:
        parts.append(f"{alias}.prompt_key = %(prompt_key)s")
    return "".join(f" AND {p}" for p in parts)


def _rows(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def bucket_starts(flt: DashboardFilter) -> list[datetime]:
    """Every bucket of the range, empty ones included (a gap is drawn as a gap, not skipped)."""
    width = flt.bucket.width
    first = BUCKET_ORIGIN + ((flt.since - BUCKET_ORIGIN) // width) * width
    starts = []
    current = first
    while current < flt.until:
        starts.append(current)
        current += width
    return starts


def _by_bucket(rows: Sequence[dict[str, Any]]) -> dict[datetime, dict[str, Any]]:
    return {row["b"]: row for row in rows}


def _column(
    starts: list[datetime], rows: dict[datetime, dict[str, Any]], name: str, *, ndigits: int = 4
) -> list[float | None]:
    values: list[float | None] = []
    for start in starts:
        value = rows.get(start, {}).get(name)
        values.append(None if value is None else round(float(value), ndigits))
    return values


def _ratio(numerator: int | None, denominator: int | None) -> float | None:
    return round(numerator / denominator, 4) if denominator and numerator is not None else None


# --------------------------------------------------------------------------- quality
def answer_quality_series(*, flt: DashboardFilter) -> list[Chart]:
    """Answers per bucket, the decline rate, the unsupported sentences removed per delivered
    answer and the prompt fallbacks: one statement, two charts."""
    sql = _answers_per_bucket(
        flt=flt,
        aggregates="""count(*) AS answers,
               count(*) FILTER (WHERE a.status = 'declined') AS declined,
               count(*) FILTER (WHERE a.status = 'failed') AS failed,
               count(*) FILTER (WHERE a.prompt_fallback_used) AS prompt_fallbacks,
               avg(COALESCE((a.verification ->> 'removed')::int, 0))
                   FILTER (WHERE a.status IN ('answered', 'held')) AS removed_per_answer""",
    )
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, _params(flt)))
    counts = [int(rows.get(s, {}).get("answers", 0)) for s in starts]
    decline_rate = [_ratio(rows[s]["declined"], rows[s]["answers"]) if s in rows else None for s in starts]
    return [
        Chart(
            key="declines", title="Answers and decline rate", buckets=starts, counts=counts, drill="declined",
            series=[Series("Answers", [float(c) for c in counts]), Series("Decline rate", decline_rate, "share")],
        ),
        Chart(
            key="removed", title="Unsupported sentences removed per answer", buckets=starts, counts=counts,
            drill="removed", series=[Series("Removed per answer", _column(starts, rows, "removed_per_answer"))],
        ),
        Chart(
            key="errors", title="Failed answers and prompt fallbacks", buckets=starts, counts=counts, drill="failed",
            series=[Series("Failed answers", _column(starts, rows, "failed")),
                    Series("Prompt fallbacks", _column(starts, rows, "prompt_fallbacks"))],
        ),
    ]  # fmt: skip


def helpful_series(*, flt: DashboardFilter) -> Chart:
    """The helpful share of rated answers, by the bucket the answer was asked in."""
    sql = f"""
        SELECT {_bin("a.created_at")} AS b, count(*) AS rated, count(*) FILTER (WHERE f.helpful) AS helpful
        FROM qa_feedback f JOIN qa_answer a ON a.id = f.answer_id
        WHERE a.created_at >= %(since)s AND a.created_at < %(until)s{_answer_filters(flt)}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 - fragments are this module's constants; values are parameters
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, _params(flt)))
    return Chart(
        key="helpful", title="Helpful share of rated answers", buckets=starts, drill="rated",
        counts=[int(rows.get(s, {}).get("rated", 0)) for s in starts],
        series=[Series("Helpful share", [_ratio(rows[s]["helpful"], rows[s]["rated"]) if s in rows else None
                                         for s in starts], "share")],
    )  # fmt: skip


def score_series(*, flt: DashboardFilter) -> Chart:
    """The automated quality scores (``evaluation.AnswerScore``) by the day the answer was asked:
    a score outlives its answer, so without filters the answers are not joined."""
    if flt.filters_answers:
        source = "evaluation_answerscore s JOIN qa_answer a ON a.id = s.answer_id"
        where = _answer_filters(flt)
    else:
        source, where = "evaluation_answerscore s", ""
    sql = f"""
        SELECT {_bin("s.answer_created_at")} AS b, count(*) AS scored, avg(s.overall) AS overall,
               avg(s.support) AS support, avg(s.relevance) AS relevance,
               avg(s.citation_precision) AS citation_precision
        FROM {source}
        WHERE s.answer_created_at >= %(since)s AND s.answer_created_at < %(until)s{where}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 - fragments are this module's constants; values are parameters
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, _params(flt)))
    return Chart(
        key="score", title="Automated quality score", buckets=starts, drill="scored",
        counts=[int(rows.get(s, {}).get("scored", 0)) for s in starts],
        series=[Series("Overall", _column(starts, rows, "overall"), "share"),
                Series("Support", _column(starts, rows, "support"), "share"),
                Series("Relevance", _column(starts, rows, "relevance"), "share"),
                Series("Citation precision", _column(starts, rows, "citation_precision"), "share")],
    )  # fmt: skip


@dataclass(frozen=True)
class EvalRunPoint:
    run_id: int
    name: str
    created_at: datetime
    answerable_correct: float | None
    unanswerable_declined: float | None


def eval_run_points(*, flt: DashboardFilter) -> list[EvalRunPoint]:
    """The evaluation runs of the range (``manage.py evaluate``, the nightly golden sets), with
    their two headline shares; the filters do not apply (a run is not live traffic)."""
    runs = EvalRun.objects.filter(created_at__gte=flt.since, created_at__lt=flt.until).order_by("created_at")
    points = []
    for run in runs.only("id", "name", "created_at", "summary"):
        summary = run.summary or {}
        points.append(
            EvalRunPoint(
                run_id=run.pk, name=run.name, created_at=run.created_at,
                answerable_correct=_ratio(summary.get("answerable_correct"), summary.get("answerable")),
                unanswerable_declined=_ratio(summary.get("unanswerable_declined"), summary.get("unanswerable")),
            )
        )  # fmt: skip
    return points


# --------------------------------------------------------------------------- latency
def latency_series(*, flt: DashboardFilter) -> list[Chart]:
    """Time to first words and total time, p50 and p95, and each stage's p95, of the answers the
    pipeline generated (reused and failed answers have no meaningful stage times)."""
    stage_columns = ",\n".join(
        f"percentile_cont(0.95) WITHIN GROUP (ORDER BY (a.timings_ms ->> '{stage}')::float) AS {stage}_p95"
        for stage in STAGES
    )
    sql = _answers_per_bucket(
        flt=flt,
        aggregates=f"""count(*) AS n,
               percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY (a.timings_ms ->> 'first_token')::float)
                   AS first_token,
               percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY (a.timings_ms ->> 'total')::float) AS total,
               {stage_columns}""",
        extra=" AND a.status IN ('answered', 'declined', 'held') AND a.reused_from_id IS NULL",
    )
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, _params(flt)))

    def pct(name: str, index: int) -> list[float | None]:
        out: list[float | None] = []
        for s in starts:
            pair = rows.get(s, {}).get(name)
            out.append(round(float(pair[index]), 1) if pair and pair[index] is not None else None)
        return out

    counts = [int(rows.get(s, {}).get("n", 0)) for s in starts]
    return [
        Chart(
            key="latency", title="Time to first words and total (ms)", buckets=starts, counts=counts, drill="slow",
            series=[Series("First words p50", pct("first_token", 0), "ms"),
                    Series("First words p95", pct("first_token", 1), "ms"),
                    Series("Total p50", pct("total", 0), "ms"), Series("Total p95", pct("total", 1), "ms")],
        ),
        Chart(
            key="stages", title="Time per stage, p95 (ms)", buckets=starts, counts=counts, drill="slow",
            series=[Series(stage.replace("_", " ").capitalize(), _column(starts, rows, f"{stage}_p95", ndigits=1),
                           "ms") for stage in STAGES],
        ),
    ]  # fmt: skip


# --------------------------------------------------------------------------- cost and tokens
def cost_series(*, flt: DashboardFilter) -> list[Chart]:
    """Cost and tokens of the answers per bucket."""
    sql = _answers_per_bucket(
        flt=flt,
        aggregates="count(*) AS answers, sum(a.cost) AS cost, sum(a.tokens_in) AS tokens_in, sum(a.tokens_out) AS tokens_out",
    )
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, _params(flt)))
    counts = [int(rows.get(s, {}).get("answers", 0)) for s in starts]
    return [
        Chart(key="cost", title="Cost (USD)", buckets=starts, counts=counts, drill="all",
              series=[Series("Cost", _column(starts, rows, "cost", ndigits=6), "USD")]),
        Chart(key="tokens", title="Tokens", buckets=starts, counts=counts, drill="all",
              series=[Series("Tokens in", _column(starts, rows, "tokens_in")),
                      Series("Tokens out", _column(starts, rows, "tokens_out"))]),
    ]  # fmt: skip


def _interaction_source(flt: DashboardFilter) -> tuple[str, str]:
    if flt.filters_answers:
        return "qa_interaction i JOIN qa_answer a ON a.id = i.answer_id", _answer_filters(flt)
    return "qa_interaction i", ""


def cost_by_model_series(*, flt: DashboardFilter) -> Chart:
    """Cost of the model calls per bucket and model (the costliest TOP_MODELS, the rest as "other")."""
    source, where = _interaction_source(flt)
    sql = f"""
        WITH calls AS (
            SELECT {_bin("i.created_at")} AS b, i.model, sum(i.cost) AS cost, count(*) AS calls
            FROM {source}
            WHERE i.created_at >= %(since)s AND i.created_at < %(until)s{where}
            GROUP BY 1, 2
        ), ranked AS (
            SELECT model, rank() OVER (ORDER BY sum(cost) DESC, model) AS r FROM calls GROUP BY model
        )
        SELECT c.b, CASE WHEN r.r <= {TOP_MODELS} THEN c.model ELSE 'other' END AS model,
               sum(c.cost) AS cost, sum(c.calls) AS calls
        FROM calls c JOIN ranked r USING (model)
        GROUP BY 1, 2 ORDER BY 1, 2
    """  # noqa: S608 - fragments are this module's constants; values are parameters
    starts = bucket_starts(flt)
    per_model: dict[str, dict[datetime, float]] = {}
    calls: dict[datetime, int] = {}
    for row in _rows(sql, _params(flt)):
        per_model.setdefault(row["model"] or "(none)", {})[row["b"]] = float(row["cost"] or 0)
        calls[row["b"]] = calls.get(row["b"], 0) + int(row["calls"])
    return Chart(
        key="cost_models", title="Cost per model (USD)", buckets=starts, drill="calls", drill_target="interactions",
        counts=[calls.get(s, 0) for s in starts],
        series=[Series(model, [round(costs[s], 6) if s in costs else None for s in starts], "USD")
                for model, costs in sorted(per_model.items())],
    )  # fmt: skip


def cost_per_user_table(*, flt: DashboardFilter, limit: int = 10) -> list[dict[str, Any]]:
    """The users who cost most over the range (a table: a line per user does not read)."""
    sql = f"""
        SELECT u.id AS user_id, u.username, count(*) AS answers, sum(a.cost) AS cost,
               sum(a.tokens_in + a.tokens_out) AS tokens
        FROM qa_answer a JOIN qa_conversation c ON c.id = a.conversation_id JOIN auth_user u ON u.id = c.user_id
        WHERE a.created_at >= %(since)s AND a.created_at < %(until)s{_answer_filters(flt)}
        GROUP BY u.id, u.username ORDER BY cost DESC, u.username LIMIT %(limit)s
    """  # noqa: S608 - fragments are this module's constants; values are parameters
    return _rows(sql, {**_params(flt), "limit": limit})


# --------------------------------------------------------------------------- cache, errors
def cache_series(*, flt: DashboardFilter) -> Chart:
    """The answer cache's hit rate per bucket (every lookup, hit or not, is a CacheLookup row)."""
    if flt.filters_answers:
        source, where = "qa_cachelookup l JOIN qa_answer a ON a.id = l.answer_id", _answer_filters(flt)
    else:
        source, where = "qa_cachelookup l", ""
    sql = f"""
        SELECT {_bin("l.created_at")} AS b, count(*) AS lookups, count(*) FILTER (WHERE l.hit) AS hits
        FROM {source}
        WHERE l.created_at >= %(since)s AND l.created_at < %(until)s{where}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 - fragments are this module's constants; values are parameters
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, _params(flt)))
    return Chart(
        key="cache", title="Cache hit rate", buckets=starts, drill="reused",
        counts=[int(rows.get(s, {}).get("lookups", 0)) for s in starts],
        series=[Series("Hit rate", [_ratio(rows[s]["hits"], rows[s]["lookups"]) if s in rows else None
                                    for s in starts], "share")],
    )  # fmt: skip


def model_error_series(*, flt: DashboardFilter) -> Chart:
    """Model calls that failed, per bucket, and their share of the calls."""
    source, where = _interaction_source(flt)
    sql = f"""
        SELECT {_bin("i.created_at")} AS b, count(*) AS calls, count(*) FILTER (WHERE i.outcome = 'error') AS errors
        FROM {source}
        WHERE i.created_at >= %(since)s AND i.created_at < %(until)s{where}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 - fragments are this module's constants; values are parameters
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, _params(flt)))
    return Chart(
        key="model_errors", title="Model call errors", buckets=starts, drill="error", drill_target="interactions",
        counts=[int(rows.get(s, {}).get("calls", 0)) for s in starts],
        series=[Series("Errors", _column(starts, rows, "errors")),
                Series("Error rate", [_ratio(rows[s]["errors"], rows[s]["calls"]) if s in rows else None
                                      for s in starts], "share")],
    )  # fmt: skip


# --------------------------------------------------------------------------- ingestion
def ingestion_series(*, flt: DashboardFilter) -> Chart:
    """Documents uploaded per bucket, how many are ready and how many failed, and their pages;
    only the collection filter applies."""
    where = " AND d.collection_id = %(collection_id)s" if flt.collection_id is not None else ""
    sql = f"""
        SELECT {_bin("d.created_at")} AS b, count(*) AS documents,
               count(*) FILTER (WHERE d.status = 'ready') AS ready,
               count(*) FILTER (WHERE d.status = 'failed') AS failed,
               sum(d.page_count) AS pages
        FROM ingestion_document d
        WHERE d.created_at >= %(since)s AND d.created_at < %(until)s{where}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 - fragments are this module's constants; values are parameters
    starts = bucket_starts(flt)
    rows = _by_bucket(_rows(sql, {**_params(flt), "collection_id": flt.collection_id}))
    return Chart(
        key="ingestion", title="Ingestion: documents and failures", buckets=starts, drill="failed",
        drill_target="documents", counts=[int(rows.get(s, {}).get("documents", 0)) for s in starts],
        series=[Series("Documents", _column(starts, rows, "documents")),
                Series("Ready", _column(starts, rows, "ready")), Series("Failed", _column(starts, rows, "failed")),
                Series("Pages", _column(starts, rows, "pages"))],
    )  # fmt: skip


# --------------------------------------------------------------------------- the page
def dashboard_charts(*, flt: DashboardFilter) -> list[Chart]:
    """Every chart of the page, in its order."""
    quality = answer_quality_series(flt=flt)
    latency = latency_series(flt=flt)
    cost = cost_series(flt=flt)
    return [
        helpful_series(flt=flt), quality[0], quality[1], score_series(flt=flt),
        *latency, *cost, cost_by_model_series(flt=flt), cache_series(flt=flt),
        quality[2], model_error_series(flt=flt), ingestion_series(flt=flt),
    ]  # fmt: skip


@dataclass(frozen=True)
class FilterChoices:
    collections: list[tuple[int, str]]
    tiers: list[str]
    prompt_keys: list[str]


def dashboard_filter_choices() -> FilterChoices:
    """What the filters offer: every collection, tier and answer-prompt version in use."""
    return FilterChoices(
        collections=list(Collection.objects.order_by("name").values_list("id", "name")),
        tiers=sorted({*ModelTier.objects.values_list("name", flat=True), "extractive"}),
        prompt_keys=list(
            Answer.objects.exclude(prompt_key="").order_by("prompt_key").values_list("prompt_key", flat=True).distinct()
        ),
    )


# --------------------------------------------------------------------------- drill-down lists
class AnswerDrill(StrEnum):
    """The answers a bucket links to."""

    ALL = "all"
    DECLINED = "declined"
    FAILED = "failed"
    REMOVED = "removed"  # answers that had an unsupported sentence removed
    RATED = "rated"
    UNHELPFUL = "unhelpful"
    SCORED = "scored"
    SLOW = "slow"  # the pipeline's answers, slowest first
    REUSED = "reused"
    FALLBACK = "fallback"


class InteractionDrill(StrEnum):
    CALLS = "calls"
    ERROR = "error"


def _answer_q(flt: DashboardFilter) -> Q:
    q = Q(created_at__gte=flt.since, created_at__lt=flt.until)
    if flt.collection_id is not None:
        q &= Q(searched__collection_ids__contains=[flt.collection_id])
    if flt.tier:
        q &= Q(route__tier=flt.tier)
    if flt.prompt_key:
        q &= Q(prompt_key=flt.prompt_key)
    return q


def dashboard_answer_list(*, flt: DashboardFilter, drill: AnswerDrill, limit: int = 200) -> QuerySet[Answer]:
    """The answers behind a chart's bucket (the same range and filters as the chart's SQL)."""
    answers = Answer.objects.filter(_answer_q(flt)).select_related("conversation__user")
    if drill is AnswerDrill.DECLINED:
        answers = answers.filter(status=AnswerStatus.DECLINED)
    elif drill is AnswerDrill.FAILED:
        answers = answers.filter(Q(status=AnswerStatus.FAILED) | Q(prompt_fallback_used=True))
    elif drill is AnswerDrill.FALLBACK:
        answers = answers.filter(prompt_fallback_used=True)
    elif drill is AnswerDrill.REMOVED:
        answers = answers.filter(verification__removed__gt=0)
    elif drill is AnswerDrill.RATED:
        answers = answers.filter(feedback__isnull=False).distinct()
    elif drill is AnswerDrill.UNHELPFUL:
        answers = answers.filter(feedback__helpful=False).distinct()
    elif drill is AnswerDrill.SCORED:
        answers = answers.filter(quality_score__isnull=False).order_by("quality_score__overall")
    elif drill is AnswerDrill.REUSED:
        answers = answers.filter(reused_from__isnull=False)
    elif drill is AnswerDrill.SLOW:
        answers = answers.filter(reused_from__isnull=True, timings_ms__has_key="total").order_by("-timings_ms__total")
    if drill not in (AnswerDrill.SCORED, AnswerDrill.SLOW):
        answers = answers.order_by("-created_at")
    return answers[:limit]


def dashboard_interaction_list(
    *, flt: DashboardFilter, drill: InteractionDrill, limit: int = 200
) -> QuerySet[Interaction]:
    """The model calls behind a bucket (filtered through their answer when a filter is set)."""
    calls = Interaction.objects.filter(created_at__gte=flt.since, created_at__lt=flt.until)
    if flt.filters_answers:
        answer_q = _answer_q(flt)
        calls = calls.filter(answer__in=Answer.objects.filter(answer_q))
    if drill is InteractionDrill.ERROR:
        calls = calls.filter(outcome="error")
    return calls.defer("prompt", "response").order_by("-created_at")[:limit]


def dashboard_document_list(*, flt: DashboardFilter, failed_only: bool, limit: int = 200) -> QuerySet[Document]:
    documents = Document.objects.filter(created_at__gte=flt.since, created_at__lt=flt.until)
    if flt.collection_id is not None:
        documents = documents.filter(collection_id=flt.collection_id)
    if failed_only:
        documents = documents.filter(status="failed")
    return documents.select_related("collection").order_by("-created_at")[:limit]
