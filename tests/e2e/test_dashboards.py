"""A staff member opens the dashboards (``/ops/``) over a week of generated history in Chromium
under the content-security policy: every chart with data is drawn by uPlot on a canvas, its
table of numbers is there for screen readers, and a click on a point opens the answers behind
that bucket (issue #15, point 4)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from evaluation.models import AnswerScore
from qa.models import Answer, AnswerStatus, CacheLookup, Conversation, Feedback, Interaction
from tests.factories import collection_create, user_create
from tests.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOURS = 7 * 24


def _week_of_history() -> None:
    """Three answers an hour for a week: every tenth declined, latencies and costs that drift
    with the hour of the day, feedback, model calls, cache lookups and scores."""
    asker = user_create(username="week-asker")
    collection = collection_create(name="Week handbook")
    conversation = Conversation.objects.create(user=asker)
    answers = Answer.objects.bulk_create(
        [Answer(conversation=conversation, question=f"question {i}",
                status=AnswerStatus.DECLINED if i % 10 == 0 else AnswerStatus.ANSWERED,
                searched={"collection_ids": [collection.pk]}, route={"tier": ("small", "large")[i % 2]},
                prompt_key="answer-v1",
                timings_ms={"first_token": 300 + 40 * ((i // 3) % 24), "total": 2000 + 90 * ((i // 3) % 24),
                            "retrieval": 30 + i % 20, "model_first_token": 250, "verification": 12},
                verification={"removed": i % 3}, tokens_in=900, tokens_out=120, cost=Decimal("0.0021"))
         for i in range(HOURS * 3)]
    )  # fmt: skip
    Feedback.objects.bulk_create([Feedback(answer=a, user=asker, helpful=i % 4 != 0) for i, a in enumerate(answers)])
    Interaction.objects.bulk_create(
        [Interaction(answer=a, provider="openai", model="gpt-small", prompt=[], cost=a.cost,
                     outcome="error" if i % 25 == 0 else "ok") for i, a in enumerate(answers)]
    )  # fmt: skip
    CacheLookup.objects.bulk_create([CacheLookup(answer=a, hit=i % 5 == 0) for i, a in enumerate(answers)])
    now = timezone.now()
    AnswerScore.objects.bulk_create(
        [AnswerScore(answer=a, answer_created_at=now, support=0.8, relevance=0.7, citation_precision=0.9,
                     overall=0.6 + (i % 7) / 20) for i, a in enumerate(answers) if i % 3 == 0]
    )  # fmt: skip
    # Spread over the week: answer i at hour i // 3 before now (auto_now_add set them all to now).
    with connection.cursor() as cursor:
        first = answers[0].pk
        cursor.execute(
            "UPDATE qa_answer SET created_at = now() - ((id - %s) / 3) * interval '1 hour' - interval '5 minutes'"
            " WHERE id >= %s", [first, first],
        )  # fmt: skip
        for table in ("qa_interaction", "qa_cachelookup"):
            cursor.execute(
                f"UPDATE {table} t SET created_at = a.created_at FROM qa_answer a WHERE a.id = t.answer_id"  # noqa: S608
            )
        cursor.execute(
            "UPDATE evaluation_answerscore s SET answer_created_at = a.created_at FROM qa_answer a"
            " WHERE a.id = s.answer_id"
        )


def test_the_dashboards_draw_a_week_of_history_and_a_point_opens_its_answers(
    daphne_server: str, browser_page, artifacts_dir: Path
) -> None:
    page = browser_page
    user_create(username="ops-staff", staff=True)
    _week_of_history()
    sign_in(page, daphne_server, "ops-staff", "/ops/?range=7d")
    page.wait_for_selector("figure.chart[data-drawn=true] canvas")
    figures = page.locator("figure.chart")
    drawn = page.locator("figure.chart[data-drawn=true]")
    assert figures.count() == 13
    # Every chart is drawn, the empty ingestion chart too (its axes, and a note saying so).
    assert drawn.count() == 13, page.eval_on_selector_all(
        "figure.chart", "fs => fs.map(f => f.id + ':' + (f.dataset.drawn || f.dataset.drawError || 'no'))"
    )
    assert page.locator("figure.chart canvas").count() == 13
    assert "No data in this range." in page.locator("#chart-ingestion").inner_text()
    assert page.locator("#chart-declines h2").inner_text() == "Answers and decline rate"
    assert page.locator("#chart-latency .u-legend").count() == 1
    # The numbers are in the page for screen readers: a row per day with answers, linked.
    assert page.locator("#chart-declines table.table tbody tr").count() == 8  # 7 days and a part day
    page.screenshot(path=str(artifacts_dir / "issue15-dashboards.png"), full_page=True)

    # A click on the decline chart's middle opens the declined answers of that day.
    overlay = page.locator("#chart-declines .u-over")
    box = overlay.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#drill-answers")
    assert "/ops/dashboards/drill/" in page.url and "kind=declined" in page.url
    rows = page.locator("#drill-answers tbody tr")
    assert rows.count() >= 1
    assert all("declined" in rows.nth(i).inner_text() for i in range(rows.count()))
    page.screenshot(path=str(artifacts_dir / "issue15-dashboards-drill.png"), full_page=True)
