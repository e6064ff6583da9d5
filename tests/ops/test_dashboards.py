"""The monitoring dashboards (issue #15 point 4): each chart's SQL on known rows (exact counts,
shares and percentiles), the filters, the drill-down from a bucket to its rows, and who may see
the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from evaluation.models import AnswerScore, EvalRun
from ingestion.models import Document
from ops.dashboard_views import dashboard_filter_parse
from ops.selectors.dashboards import (
    AnswerDrill,
    Bucket,
    DashboardFilter,
    InteractionDrill,
    answer_quality_series,
    bucket_starts,
    cache_series,
    cost_by_model_series,
    cost_per_user_table,
    cost_series,
    dashboard_answer_list,
    dashboard_charts,
    dashboard_interaction_list,
    eval_run_points,
    helpful_series,
    ingestion_series,
    latency_series,
    model_error_series,
    score_series,
)
from qa.models import Answer, AnswerStatus, CacheLookup, Conversation, Feedback, Interaction
from tests.factories import collection_create, user_create

DAY1 = datetime(2026, 1, 8, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
RANGE = DashboardFilter(since=DAY1, until=DAY1 + timedelta(days=2), bucket=Bucket.DAY)


def _at(model: Any, pk: int, when: datetime, field: str = "created_at") -> None:
    model.objects.filter(pk=pk).update(**{field: when})


def _answer(conversation, when: datetime, **fields: Any) -> Answer:
    answer = Answer.objects.create(conversation=conversation, question=fields.pop("question", "q"), **fields)
    _at(Answer, answer.pk, when)
    return answer


@pytest.fixture
def history(db) -> dict[str, Any]:
    """Day 1: three answers (first words 100/200/300 ms, 0/1/2 sentences removed) and one
    decline (50 ms), collection A, tier small, answer-v1; one rated helpful, two unhelpful.
    Day 2: two answers (400/600 ms) from collection B, tier large, answer-v2, one rated helpful,
    and a failed answer."""
    asker = user_create(username="asker")
    other = user_create(username="other-asker")
    a = collection_create(name="Collection A")
    b = collection_create(name="Collection B")
    conv, conv2 = Conversation.objects.create(user=asker), Conversation.objects.create(user=other)
    day1 = {"searched": {"collection_ids": [a.pk]}, "route": {"tier": "small"}, "prompt_key": "answer-v1"}
    answered = [
        _answer(conv, DAY1 + timedelta(hours=9 + i), status=AnswerStatus.ANSWERED, question=f"day1 {i}",
                timings_ms={"first_token": 100.0 * (i + 1), "total": 1000.0 * (i + 1), "retrieval": 10.0 * (i + 1),
                            "verification": 5.0, "model_first_token": 90.0},
                verification={"removed": i}, cost=Decimal("0.010000"), tokens_in=100, tokens_out=10, **day1)
        for i in range(3)
    ]  # fmt: skip
    declined = _answer(
        conv, DAY1 + timedelta(hours=13), status=AnswerStatus.DECLINED, question="day1 declined",
        timings_ms={"first_token": 50.0, "total": 50.0, "retrieval": 50.0}, decline_reason="nothing found", **day1,
    )  # fmt: skip
    day2 = {"searched": {"collection_ids": [b.pk]}, "route": {"tier": "large"}, "prompt_key": "answer-v2"}
    later = [
        _answer(conv2, DAY2 + timedelta(hours=10 + i), status=AnswerStatus.ANSWERED, question=f"day2 {i}",
                timings_ms={"first_token": 400.0 + 200 * i, "total": 4000.0 + 2000 * i}, verification={"removed": 0},
                cost=Decimal("0.100000"), tokens_in=1000, tokens_out=100, **day2)
        for i in range(2)
    ]  # fmt: skip
    failed = _answer(conv2, DAY2 + timedelta(hours=15), status=AnswerStatus.FAILED, question="day2 failed")
    # Outside the range: never counted.
    _answer(conv, DAY1 - timedelta(hours=1), status=AnswerStatus.DECLINED, question="before", **day1)
    for answer, helpful in ((answered[0], True), (answered[1], False), (answered[2], False), (later[0], True)):
        Feedback.objects.create(answer=answer, user=asker, helpful=helpful)
    for i, (answer, model, outcome, cost) in enumerate(
        [(answered[0], "m1", "ok", "0.010000"), (answered[1], "m1", "ok", "0.010000"),
         (answered[2], "m2", "error", "0"), (later[0], "m2", "ok", "0.100000")]
    ):  # fmt: skip
        call = Interaction.objects.create(
            answer=answer, provider="openai", model=model, prompt=[], outcome=outcome, cost=Decimal(cost),
            error="timeout" if outcome == "error" else "",
        )  # fmt: skip
        _at(Interaction, call.pk, answer.created_at if i < 3 else DAY2 + timedelta(hours=10))
    for answer in Answer.objects.filter(pk__in=[x.pk for x in answered]):
        _at(Interaction, Interaction.objects.filter(answer=answer).first().pk, answer.created_at)
    for i, answer in enumerate([*answered, declined]):
        lookup = CacheLookup.objects.create(answer=answer, hit=i == 0)
        _at(CacheLookup, lookup.pk, DAY1 + timedelta(hours=9 + i))
    for answer, overall in ((answered[0], 0.6), (answered[1], 0.8)):
        AnswerScore.objects.create(
            answer=answer, answer_created_at=DAY1 + timedelta(hours=9), support=overall, relevance=overall,
            citation_precision=1.0, overall=overall,
        )  # fmt: skip
    run = EvalRun.objects.create(
        name="nightly", question_set="dev", provider="extractive",
        summary={"answerable_correct": 9, "answerable": 10, "unanswerable_declined": 3, "unanswerable": 4},
    )  # fmt: skip
    _at(EvalRun, run.pk, DAY2 + timedelta(hours=2))
    for status, pages in (("ready", 3), ("failed", None)):
        doc = Document.objects.create(
            collection=a, title=f"doc {status}", source_name="x.pdf", file="x.pdf", content_hash=status,
            status=status, page_count=pages,
        )  # fmt: skip
        _at(Document, doc.pk, DAY1 + timedelta(hours=8))
    return {"a": a, "b": b, "answered": answered, "declined": declined, "later": later, "failed": failed}


def _values(chart, label: str) -> list[float | None]:
    return next(s.values for s in chart.series if s.label == label)


def test_buckets_are_whole_utc_days_or_hours_with_the_empty_ones_included() -> None:
    assert bucket_starts(RANGE) == [DAY1, DAY2]
    hourly = DashboardFilter(since=DAY1 + timedelta(minutes=30), until=DAY1 + timedelta(hours=3), bucket=Bucket.HOUR)
    assert bucket_starts(hourly) == [DAY1, DAY1 + timedelta(hours=1), DAY1 + timedelta(hours=2)]


def test_quality_counts_declines_removed_sentences_and_failures_per_day(history) -> None:
    declines, removed, errors = answer_quality_series(flt=RANGE)
    assert declines.counts == [4, 3]
    assert _values(declines, "Decline rate") == [0.25, 0.0]
    # Day 1: (0 + 1 + 2) / 3 delivered answers; the decline has no sentences.
    assert _values(removed, "Removed per answer") == [1.0, 0.0]
    assert _values(errors, "Failed answers") == [0.0, 1.0]


def test_helpful_share_of_rated_answers(history) -> None:
    chart = helpful_series(flt=RANGE)
    assert chart.counts == [3, 1]
    assert _values(chart, "Helpful share") == [0.3333, 1.0]


def test_latency_percentiles_are_postgresql_continuous_percentiles(history) -> None:
    latency, stages = latency_series(flt=RANGE)
    # Day 1's first words: 50, 100, 200, 300 ms -> p50 150, p95 200 + 0.85 * 100 = 285.
    assert _values(latency, "First words p50") == [150.0, 500.0]
    assert _values(latency, "First words p95") == [285.0, 590.0]
    assert _values(latency, "Total p50") == [1500.0, 5000.0]
    assert _values(latency, "Total p95") == [2850.0, 5900.0]
    assert latency.counts == [4, 2]  # the failed answer has no meaningful time
    # Retrieval 10, 20, 30, 50 -> p95 30 + 0.85 * 20 = 47.
    assert _values(stages, "Retrieval") == [47.0, None]


def test_cost_tokens_and_cost_per_model_and_user(history) -> None:
    cost, tokens = cost_series(flt=RANGE)
    assert _values(cost, "Cost") == [0.03, 0.2]
    assert _values(tokens, "Tokens in") == [300.0, 2000.0]
    per_model = cost_by_model_series(flt=RANGE)
    assert _values(per_model, "m1") == [0.02, None]
    assert _values(per_model, "m2") == [0.0, 0.1]
    assert per_model.counts == [3, 1]
    users = cost_per_user_table(flt=RANGE)
    assert [(u["username"], u["answers"], u["cost"]) for u in users] == [
        ("other-asker", 3, Decimal("0.200000")),
        ("asker", 4, Decimal("0.030000")),
    ]


def test_cache_errors_scores_runs_and_ingestion(history) -> None:
    assert _values(cache_series(flt=RANGE), "Hit rate") == [0.25, None]
    errors = model_error_series(flt=RANGE)
    assert _values(errors, "Errors") == [1.0, 0.0]
    assert _values(errors, "Error rate") == [0.3333, 0.0]
    score = score_series(flt=RANGE)
    assert _values(score, "Overall") == [0.7, None]
    assert score.counts == [2, 0]
    [run] = eval_run_points(flt=RANGE)
    assert (run.answerable_correct, run.unanswerable_declined) == (0.9, 0.75)
    ingestion = ingestion_series(flt=RANGE)
    assert (_values(ingestion, "Ready"), _values(ingestion, "Failed"), _values(ingestion, "Pages")) == (
        [1.0, None], [1.0, None], [3.0, None]
    )  # fmt: skip


def test_filters_by_collection_tier_and_prompt_version(history) -> None:
    by_collection = DashboardFilter(since=RANGE.since, until=RANGE.until, collection_id=history["b"].pk)
    assert answer_quality_series(flt=by_collection)[0].counts == [0, 2]
    by_tier = DashboardFilter(since=RANGE.since, until=RANGE.until, tier="small")
    assert answer_quality_series(flt=by_tier)[0].counts == [4, 0]
    assert _values(cost_by_model_series(flt=by_tier), "m1") == [0.02, None]
    assert _values(cache_series(flt=by_tier), "Hit rate") == [0.25, None]
    by_prompt = DashboardFilter(since=RANGE.since, until=RANGE.until, prompt_key="answer-v2")
    assert helpful_series(flt=by_prompt).counts == [0, 1]
    assert score_series(flt=by_prompt).counts == [0, 0]
    assert len(dashboard_charts(flt=by_prompt)) == 13


def test_drill_lists_hold_exactly_the_rows_behind_a_bucket(history) -> None:
    day1 = DashboardFilter(since=DAY1, until=DAY2)
    assert list(dashboard_answer_list(flt=day1, drill=AnswerDrill.DECLINED)) == [history["declined"]]
    assert set(dashboard_answer_list(flt=day1, drill=AnswerDrill.REMOVED)) == set(history["answered"][1:])
    assert set(dashboard_answer_list(flt=day1, drill=AnswerDrill.UNHELPFUL)) == set(history["answered"][1:])
    slow = list(dashboard_answer_list(flt=day1, drill=AnswerDrill.SLOW))
    assert slow[0] == history["answered"][2]
    errors = list(dashboard_interaction_list(flt=day1, drill=InteractionDrill.ERROR))
    assert [c.answer_id for c in errors] == [history["answered"][2].pk]
    other_tier = DashboardFilter(since=DAY1, until=DAY2, tier="large")
    assert list(dashboard_interaction_list(flt=other_tier, drill=InteractionDrill.CALLS)) == []


def test_range_parsing() -> None:
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    parsed = dashboard_filter_parse({"range": "24h"}, now=now)
    assert (parsed.flt.since, parsed.flt.bucket) == (now - timedelta(hours=24), Bucket.HOUR)
    assert dashboard_filter_parse({}, now=now).flt.bucket is Bucket.DAY
    custom = dashboard_filter_parse({"range": "custom", "from": "2026-01-01", "to": "2026-01-03"}, now=now)
    assert (custom.flt.since, custom.flt.until) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC))
    # The form sends from/to empty for a preset range: the preset wins.
    assert dashboard_filter_parse({"range": "30d", "from": ""}, now=now).range_name == "30d"


# --------------------------------------------------------------------------- the pages
def test_only_staff_see_the_dashboards(client, history) -> None:
    url = reverse("ops:dashboards")
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(user_create(username="plain"))
    assert client.get(url).status_code == 403
    assert client.get(reverse("ops:dashboard_drill")).status_code == 403
    client.force_login(user_create(username="boss", staff=True))
    assert client.get(url).status_code == 200


def test_the_page_links_each_bucket_to_the_answers_behind_it(client, history) -> None:
    client.force_login(user_create(username="boss", staff=True))
    page = client.get(
        reverse("ops:dashboards"), {"range": "custom", "from": "2026-01-08", "to": "2026-01-09", "bucket": "day"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="chart"') == 13
    assert "uPlot-1.6.32.iife.min.js" in html and "<script>" not in html
    charts = {c["chart"].key: c for c in page.context["charts"]}
    row = next(r for r in charts["declines"]["rows"] if r["count"])
    assert row["url"] in html.replace("&amp;", "&")
    listing = client.get(row["url"])
    assert listing.status_code == 200
    assert [a.pk for a in listing.context["answers"]] == [history["declined"].pk]
    assert reverse("admin:qa_answer_change", args=[history["declined"].pk]) in listing.content.decode()
    errors_row = next(r for r in charts["model_errors"]["rows"] if r["count"])
    assert [c.outcome for c in client.get(errors_row["url"]).context["interactions"]] == ["error"]
    docs_row = next(r for r in charts["ingestion"]["rows"] if r["count"])
    assert [d.title for d in client.get(docs_row["url"]).context["documents"]] == ["doc failed"]


def test_filters_reach_the_page_and_bad_input_is_a_400(client, history) -> None:
    client.force_login(user_create(username="boss", staff=True))
    page = client.get(
        reverse("ops:dashboards"),
        {"range": "custom", "from": "2026-01-08", "to": "2026-01-09", "bucket": "day", "tier": "large"},
    )
    charts = {c["chart"].key: c for c in page.context["charts"]}
    assert charts["declines"]["chart"].counts == [0, 2]
    assert all("tier=large" in r["url"] for r in charts["declines"]["rows"])
    for bad in ({"range": "1y"}, {"range": "custom"}, {"range": "custom", "from": "yesterday"},
                {"collection": "x"}, {"bucket": "minute"}, {"range": "custom", "from": "2025-11-01", "to": "2026-01-01", "bucket": "hour"},
                {"range": "custom", "from": "2026-01-09", "to": "2026-01-01"}):  # fmt: skip
        assert client.get(reverse("ops:dashboards"), bad).status_code == 400, bad
