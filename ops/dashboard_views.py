"""The monitoring dashboards (``/ops/``, staff) and the lists a chart's bucket links to. The
views parse the range and filters, call ``ops.selectors.dashboards`` and render; the charts are
drawn by static/js/dashboards.js from each chart's ``data-chart`` attribute (no inline script
under the content-security policy), and every chart has a table of its numbers beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from core.errors import ApplicationError
from core.params import id_param
from ops.selectors.dashboards import (
    AnswerDrill,
    Bucket,
    Chart,
    DashboardFilter,
    InteractionDrill,
    cost_per_user_table,
    dashboard_answer_list,
    dashboard_charts,
    dashboard_document_list,
    dashboard_filter_choices,
    dashboard_interaction_list,
    eval_run_points,
)

RANGE_CHOICES = [("24h", "last 24 hours"), ("7d", "last 7 days"), ("30d", "last 30 days"), ("custom", "custom")]
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
# A custom range longer than this in hourly buckets would draw thousands of points.
MAX_HOURLY_SPAN = timedelta(days=31)
MAX_SPAN = timedelta(days=400)


class StaffOnlyMixin(UserPassesTestMixin):
    request: HttpRequest

    def test_func(self) -> bool:
        return bool(getattr(self.request.user, "is_staff", False))


@dataclass(frozen=True)
class ParsedRange:
    flt: DashboardFilter
    range_name: str  # 24h, 7d, 30d or custom
    query: dict[str, str]  # the filters as query parameters, for links


def _date_param(raw: str, *, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApplicationError(f"{name} must be a date like 2026-01-31") from None


def _datetime_param(raw: str, *, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApplicationError(f"{name} must be a date and time like 2026-01-31T13:00:00+00:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def dashboard_filter_parse(params: Any, *, now: datetime) -> ParsedRange:
    """The range, bucket and filters of a query string. ``from``/``to`` are dates (a custom
    range of whole UTC days, ``to`` included) or, from a drill-down link, exact datetimes."""
    raw_from, raw_to = params.get("from", ""), params.get("to", "")
    # A drill-down link gives from/to without a range; the form always sends its range.
    range_name = params.get("range") or ("custom" if raw_from else "7d")
    if range_name == "custom":
        if not raw_from:
            raise ApplicationError("from is required for a custom range")
        if "T" in raw_from:
            since = _datetime_param(raw_from, name="from")
            until = _datetime_param(raw_to, name="to") if raw_to else now
        else:
            since = datetime.combine(_date_param(raw_from, name="from"), time.min, tzinfo=UTC)
            until = (
                datetime.combine(_date_param(raw_to, name="to"), time.min, tzinfo=UTC) + timedelta(days=1)
                if raw_to else now
            )  # fmt: skip
        if until <= since:
            raise ApplicationError("to must be after from")
        if until - since > MAX_SPAN:
            raise ApplicationError("a range is at most 400 days")
    elif range_name in RANGES:
        since, until = now - RANGES[range_name], now
    else:
        raise ApplicationError("range must be 24h, 7d, 30d or custom")
    bucket_raw = params.get("bucket") or ("hour" if until - since <= timedelta(days=2) else "day")
    if bucket_raw not in Bucket.__members__.values():
        raise ApplicationError("bucket must be hour or day")
    bucket = Bucket(bucket_raw)
    if bucket is Bucket.HOUR and until - since > MAX_HOURLY_SPAN:
        raise ApplicationError("hourly buckets are for ranges of at most 31 days")
    collection_raw = params.get("collection", "")
    collection_id = id_param(collection_raw, name="collection") if collection_raw else None
    tier, prompt_key = params.get("tier", "")[:50], params.get("prompt", "")[:80]
    query = {"collection": collection_raw, "tier": tier, "prompt": prompt_key}
    flt = DashboardFilter(
        since=since, until=until, bucket=bucket, collection_id=collection_id, tier=tier, prompt_key=prompt_key
    )
    return ParsedRange(flt=flt, range_name=range_name, query={k: v for k, v in query.items() if v})


def drill_url(
    *, chart: Chart, query: dict[str, str], since: datetime | None = None, until: datetime | None = None
) -> str:
    """The list of the rows behind a chart (and one bucket of it when ``since``/``until`` are given)."""
    params = {"target": chart.drill_target, "kind": chart.drill, **query}
    if since is not None and until is not None:
        params.update({"from": since.isoformat(), "to": until.isoformat()})
    return f"{reverse('ops:dashboard_drill')}?{urlencode(params)}"


def _chart_context(chart: Chart, *, flt: DashboardFilter, query: dict[str, str]) -> dict[str, Any]:
    width = flt.bucket.width
    rows = [
        {"start": start, "count": chart.counts[i] if chart.counts else None,
         "values": [s.values[i] for s in chart.series],
         "url": drill_url(chart=chart, query=query, since=start, until=start + width)}
        for i, start in enumerate(chart.buckets)
    ]  # fmt: skip
    data = {
        "key": chart.key, "title": chart.title, "bucket_seconds": int(width.total_seconds()),
        "x": [int(b.timestamp()) for b in chart.buckets],
        "series": [{"label": s.label, "unit": s.unit, "values": s.values} for s in chart.series],
        "drill": drill_url(chart=chart, query=query),
    }  # fmt: skip
    return {
        "chart": chart, "rows": rows, "data": json.dumps(data), "has_data": any(chart.counts),
        "all_url": drill_url(chart=chart, query=query, since=flt.since, until=flt.until),
    }  # fmt: skip


class DashboardView(StaffOnlyMixin, View):
    """Quality, latency, cost, cache, errors and ingestion over time (staff)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            parsed = dashboard_filter_parse(request.GET, now=timezone.now())
        except ApplicationError as exc:
            return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
        flt = parsed.flt
        charts = [_chart_context(c, flt=flt, query=parsed.query) for c in dashboard_charts(flt=flt)]
        return render(
            request, "ops/dashboards.html",
            {"charts": charts, "flt": flt, "range_name": parsed.range_name, "range_choices": RANGE_CHOICES, "query": parsed.query,
             "choices": dashboard_filter_choices(), "runs": eval_run_points(flt=flt),
             "per_user": cost_per_user_table(flt=flt),
             "custom_from": flt.since.date().isoformat(), "custom_to": (flt.until - timedelta(seconds=1)).date().isoformat()},
        )  # fmt: skip


class DashboardDrillView(StaffOnlyMixin, View):
    """The answers, model calls or documents behind a chart's bucket, each linking to its admin page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        target, kind = request.GET.get("target", "answers"), request.GET.get("kind", "all")
        try:
            parsed = dashboard_filter_parse(request.GET, now=timezone.now())
            context: dict[str, Any] = {"target": target, "kind": kind, "flt": parsed.flt}
            if target == "answers" and kind in AnswerDrill.__members__.values():
                context["answers"] = dashboard_answer_list(flt=parsed.flt, drill=AnswerDrill(kind))
            elif target == "interactions" and kind in InteractionDrill.__members__.values():
                context["interactions"] = dashboard_interaction_list(flt=parsed.flt, drill=InteractionDrill(kind))
            elif target == "documents":
                context["documents"] = dashboard_document_list(flt=parsed.flt, failed_only=kind == "failed")
            else:
                raise ApplicationError("no such list")
        except ApplicationError as exc:
            return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
        return render(request, "ops/dashboard_drill.html", context)
