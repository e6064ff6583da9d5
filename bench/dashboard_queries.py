"""Dashboard queries at a million answers (issue #15: p95 at most 300 ms for a 30-day range).

    VERITY_DATA_DIR=.verity/bench-dash .venv/bin/python bench/dashboard_queries.py [--answers N] [--days D]

Generates, in SQL (``generate_series``), N answers (1,000,000) spread evenly over D days (90),
one model call and one cache lookup per answer, feedback on 5% and an automated score on 5%
of them, and 5,000 documents; then times every chart's selector of ``ops.selectors.dashboards``
for the last 30 days (daily and hourly buckets, no filter and a tier filter), 20 runs each,
against a baseline in the same run: ``count(*)`` of the same range's answers. The data is
kept between runs (``--regenerate`` to rebuild it); it needs its own VERITY_DATA_DIR."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, machine, percentile  # noqa: E402

RUNS = 20


def _fill_required(cursor, table: str, given: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT expressions for an INSERT ... SELECT: the given expressions, and
    a neutral value for every other NOT NULL column without a database default (Django keeps
    its defaults in Python)."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
        [table],
    )
    neutral = {"text": "''", "character varying": "''", "jsonb": "'{}'::jsonb", "boolean": "false",
               "integer": "0", "smallint": "0", "bigint": "0", "numeric": "0", "double precision": "0",
               "timestamp with time zone": "now()", "ARRAY": "'{}'"}  # fmt: skip
    columns = dict(given)
    for name, data_type in cursor.fetchall():
        if name not in columns and name != "id":
            columns[name] = neutral[data_type]
    return ", ".join(columns), ", ".join(columns.values())


def generate(*, answers: int, days: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from ingestion.models import Collection
    from qa.models import Conversation

    user_model = get_user_model()
    users = [user_model.objects.get_or_create(username=f"bench-dash-{i}")[0] for i in range(200)]
    conversations = Conversation.objects.bulk_create([Conversation(user=users[i % 200]) for i in range(2000)])
    collections = [
        Collection.objects.get_or_create(name=f"bench-dash {i}", defaults={"slug": f"bench-dash-{i}"})[0]
        for i in range(5)
    ]
    conv_ids = f"(ARRAY{[c.pk for c in conversations]})"
    coll_ids = f"(ARRAY{[c.pk for c in collections]})"
    seconds = days * 86400
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        # Answer g was asked at now - days + g * (days / answers): evenly spread, the newest now.
        when = f"now() - interval '{seconds} seconds' + (g * {seconds}.0 / {answers}) * interval '1 second'"
        columns, values = _fill_required(cursor, "qa_answer", {
            "created_at": when, "updated_at": when, "conversation_id": f"{conv_ids}[1 + g % 2000]",
            "question": "'question ' || g",
            "status": "CASE WHEN g % 10 = 0 THEN 'declined' WHEN g % 97 = 0 THEN 'failed' ELSE 'answered' END",
            "prompt_key": "CASE WHEN g % 3 = 0 THEN 'answer-v2' ELSE 'answer-v1' END",
            "prompt_fallback_used": "g % 50 = 0",
            "searched": f"jsonb_build_object('collection_ids', jsonb_build_array({coll_ids}[1 + g % 5]))",
            "route": "jsonb_build_object('tier', (ARRAY['extractive', 'small', 'large'])[1 + g % 3], 'reason', 'x')",
            "timings_ms": "jsonb_build_object('first_token', 200 + (g * 7919) % 1800, 'total', 900 + (g * 104729) % 6000,"
                          " 'retrieval', 20 + g % 180, 'model_first_token', 150 + g % 900, 'verification', 5 + g % 60)",
            "verification": "jsonb_build_object('removed', g % 4)",
            "tokens_in": "800 + g % 1200", "tokens_out": "100 + g % 300", "cost": "(g % 100) * 0.00001",
        })  # fmt: skip
        started = time.perf_counter()
        cursor.execute(
            f"INSERT INTO qa_answer ({columns}) SELECT {values} FROM generate_series(1::bigint, {int(answers)}) AS g"
        )  # noqa: S608
        print(f"answers: {answers:,} in {time.perf_counter() - started:.0f} s")
        for table, given, where in (
            ("qa_interaction", {
                "created_at": "a.created_at", "updated_at": "a.created_at", "answer_id": "a.id",
                "provider": "'openai'", "model": "(ARRAY['gpt-a', 'gpt-b', 'gpt-c', 'local-d'])[1 + a.id % 4]",
                "prompt": "'[]'::jsonb", "outcome": "CASE WHEN a.id % 200 = 0 THEN 'error' ELSE 'ok' END",
                "cost": "a.cost", "total_ms": "1000",
            }, ""),
            ("qa_cachelookup", {"created_at": "a.created_at", "answer_id": "a.id", "hit": "a.id % 5 = 0"}, ""),
            ("qa_feedback", {"created_at": "a.created_at", "updated_at": "a.created_at", "answer_id": "a.id",
                             "user_id": f"{users[0].pk}", "helpful": "a.id % 3 <> 0"}, " WHERE a.id % 20 = 0"),
            ("evaluation_answerscore", {
                "answer_id": "a.id", "answer_created_at": "a.created_at", "scored_at": "a.created_at",
                "method": "'evidence'", "support": "0.5 + (a.id % 50) / 100.0", "relevance": "0.7",
                "citation_precision": "0.9", "overall": "0.6 + (a.id % 40) / 100.0", "detail": "'{}'::jsonb",
            }, " WHERE a.id % 20 = 1"),
        ):  # fmt: skip
            started = time.perf_counter()
            columns, values = _fill_required(cursor, table, given)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {values} FROM qa_answer a{where}")  # noqa: S608
            print(f"{table}: {cursor.rowcount:,} in {time.perf_counter() - started:.0f} s")
        columns, values = _fill_required(cursor, "ingestion_document", {
            "created_at": f"now() - (g % {days * 24}) * interval '1 hour'", "updated_at": "now()",
            "collection_id": f"{coll_ids}[1 + g % 5]", "title": "'doc ' || g", "source_name": "'doc.pdf'",
            "file": "'doc.pdf'", "content_hash": "md5(g::text)",
            "status": "CASE WHEN g % 25 = 0 THEN 'failed' ELSE 'ready' END", "page_count": "1 + g % 40",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO ingestion_document ({columns}) SELECT {values} FROM generate_series(1, 5000) g")  # noqa: S608
        cursor.execute("ANALYZE")


def timed(fn: Callable[[], object]) -> list[float]:
    fn()  # warm the cache and the plan
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("VERITY_DATA_DIR", str(ROOT / ".verity" / "bench-dash"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from ops.selectors import dashboards as d
    from qa.models import Answer

    call_command("migrate", verbosity=0)
    existing = Answer.objects.count()
    if args.regenerate and existing:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE qa_answer, qa_interaction, qa_cachelookup, qa_feedback, evaluation_answerscore,"
                " ingestion_document, qa_conversation, ingestion_collection, auth_user CASCADE"
            )
        existing = 0
    if existing < args.answers:
        if existing:
            sys.exit(f"{existing} answers already here; run with --regenerate")
        with transaction.atomic():  # all or nothing: a failed run leaves no half data set
            generate(answers=args.answers, days=args.days)

    now = timezone.now()
    since = now - timedelta(days=30)
    in_range = Answer.objects.filter(created_at__gte=since, created_at__lt=now).count()
    total = Answer.objects.count()
    print(f"machine: {machine()}")
    print(f"answers: {total:,} over {args.days} days; in the 30-day range: {in_range:,}; {RUNS} runs per query")

    def baseline() -> object:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM qa_answer WHERE created_at >= %s AND created_at < %s", [since, now])
            return cursor.fetchone()

    results: list[tuple[str, list[float]]] = [("baseline: count(*) of the range's answers", timed(baseline))]
    for bucket in (d.Bucket.DAY, d.Bucket.HOUR):
        for label, extra in (("", {}), (", tier filter", {"tier": "small"})):
            flt = d.DashboardFilter(since=since, until=now, bucket=bucket, **extra)
            for name, fn in (
                ("answer_quality_series", d.answer_quality_series), ("helpful_series", d.helpful_series),
                ("score_series", d.score_series), ("latency_series", d.latency_series),
                ("cost_series", d.cost_series), ("cost_by_model_series", d.cost_by_model_series),
                ("cost_per_user_table", d.cost_per_user_table), ("cache_series", d.cache_series),
                ("model_error_series", d.model_error_series), ("ingestion_series", d.ingestion_series),
                ("eval_run_points", d.eval_run_points),
            ):  # fmt: skip
                results.append(
                    (
                        f"{name} ({'hourly' if bucket is d.Bucket.HOUR else 'daily'}{label})",
                        timed(lambda fn=fn, flt=flt: fn(flt=flt)),
                    )
                )
    base_p95 = percentile(results[0][1], 95)
    print("\n| query | p50 ms | p95 ms | p95 / baseline |\n|---|---|---|---|")
    for name, samples in results:
        p95 = percentile(samples, 95)
        print(f"| {name} | {percentile(samples, 50):.1f} | {p95:.1f} | {p95 / base_p95:.1f}x |")
    worst = max(percentile(s, 95) for _, s in results[1:])
    print(f"\nworst p95: {worst:.1f} ms (target at most 300 ms): {'met' if worst <= 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
