"""Reads of evaluation runs and live answers' scores for other apps (the usage page, the dashboards)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from evaluation.models import AnswerScore, EvalRun


def eval_run_list_recent(*, limit: int) -> QuerySet[EvalRun]:
    """The latest runs, newest first."""
    return EvalRun.objects.all()[:limit]


def score_series(*, since: datetime, until: datetime, bucket: timedelta = timedelta(days=1)) -> list[dict[str, Any]]:
    """The automated quality scores of live answers (``AnswerScore``) by the answers' time, one
    row per ``bucket`` that has scores, oldest first: ``{"bucket", "answers", "overall",
    "support", "relevance", "citation_precision", "judge_faithfulness", "judge_relevance"}``
    (means; a judge mean is None when no answer of the bucket was judged). Aggregated in
    PostgreSQL (``date_bin``), buckets aligned to midnight UTC."""
    table = AnswerScore._meta.db_table
    sql = f"""
        SELECT date_bin(%s, answer_created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
               count(*), avg(overall), avg(support), avg(relevance), avg(citation_precision),
               avg(judge_faithfulness), avg(judge_relevance)
          FROM {table}
         WHERE answer_created_at >= %s AND answer_created_at < %s
         GROUP BY bucket ORDER BY bucket
    """  # noqa: S608 - the table name is the model's, the values are parameters
    keys = ("answers", "overall", "support", "relevance", "citation_precision", "judge_faithfulness",
            "judge_relevance")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, [bucket, since, until])  # type: ignore[list-item]  # psycopg adapts a timedelta to an interval
        rows = cursor.fetchall()
    return [
        {
            "bucket": row[0],
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in zip(keys, row[1:], strict=True)},
        }
        for row in rows
    ]
