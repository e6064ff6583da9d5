"""Alerts (issue #15, point 6): each rule driven over its threshold with real rows receives the
webhook exactly once (a loopback HTTP server), and once more when the data recovers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditAction, AuditEvent
from evaluation.models import AnswerScore
from ingestion.models import Document, DocumentStatus
from ops.models import AlertIncident, AlertMetric, AlertRule
from ops.services.alerts import alert_rule_save, alerts_evaluate
from qa.models import Answer, AnswerStatus, Conversation, Interaction
from tests.factories import collection_create, user_create

pytestmark = pytest.mark.django_db


class WebhookServer:
    """A loopback Slack-compatible webhook: keeps every JSON body it receives; answers
    ``status`` (a failing endpoint when it is not 200)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if server.status == 200:
                    server.bodies.append(body)
                self.send_response(server.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [b["text"] for b in self.bodies]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def webhook(settings) -> Iterator[WebhookServer]:
    server = WebhookServer()
    settings.ALERT_WEBHOOK_URL = server.url
    settings.ALERT_EMAILS = ["oncall@example.com"]
    # The default rules (data migration) stay out of the way: each test enables its own.
    AlertRule.objects.update(enabled=False)
    try:
        yield server
    finally:
        server.close()


class Rows:
    """Real rows of the live tables, dated relative to now."""

    def __init__(self) -> None:
        self.user = user_create()
        self.conversation = Conversation.objects.create(user=self.user, title="t")
        self.collection = collection_create(name="Alerts")

    @staticmethod
    def _ago(model: Any, pk: int, minutes: float, field: str = "created_at") -> None:
        model.objects.filter(pk=pk).update(**{field: timezone.now() - timedelta(minutes=minutes)})

    def answers(
        self, n: int, *, status: str = AnswerStatus.ANSWERED, minutes_ago: float = 5, **fields: Any
    ) -> list[Answer]:
        out = []
        for _ in range(n):
            answer = Answer.objects.create(conversation=self.conversation, question="q", status=status, **fields)
            self._ago(Answer, answer.pk, minutes_ago)
            out.append(answer)
        return out

    def interaction(self, *, minutes_ago: float = 5, **fields: Any) -> Interaction:
        interaction = Interaction.objects.create(provider="openai", model="m", prompt=[], **fields)
        self._ago(Interaction, interaction.pk, minutes_ago)
        return interaction

    def score(self, overall: float, *, minutes_ago: float = 5) -> None:
        AnswerScore.objects.create(answer_created_at=timezone.now() - timedelta(minutes=minutes_ago), support=overall,
                                   relevance=overall, citation_precision=overall, overall=overall)  # fmt: skip

    def documents(self, n: int, *, status: str) -> list[Document]:
        return [
            Document.objects.create(
                collection=self.collection,
                title=f"d{i}",
                source_name=f"d{i}.md",
                content_hash=f"{i:064d}",
                status=status,
            )  # fmt: skip
            for i in range(n)
        ]


def _over_error_rate(rows: Rows) -> Callable[[], object]:
    rows.answers(2, status=AnswerStatus.FAILED)
    rows.answers(2)
    return lambda: rows.answers(40)  # 2 of 42 failed: 4.8%


def _over_decline_rate_jump(rows: Rows) -> Callable[[], object]:
    rows.answers(10, minutes_ago=2 * 24 * 60)  # last week: no declines
    rows.answers(3, status=AnswerStatus.DECLINED)
    rows.answers(1)
    return lambda: rows.answers(30)  # 3 of 34 declined: 8.8 points above


def _over_unsupported_sentence_rate(rows: Rows) -> Callable[[], object]:
    rows.answers(1, verification={"claims": 4, "supported": 1})
    return lambda: rows.answers(1, verification={"claims": 20, "supported": 20})  # 3 of 24


def _over_quality_score_drop(rows: Rows) -> Callable[[], object]:
    for _ in range(5):
        rows.score(0.9, minutes_ago=3 * 24 * 60)
    rows.score(0.5)
    return lambda: [rows.score(0.9) for _ in range(10)]  # mean 0.86 against 0.9


def _over_ttft_p95(rows: Rows) -> Callable[[], object]:
    rows.interaction(first_token_ms=12_000)
    return lambda: [rows.interaction(first_token_ms=900) for _ in range(40)]


def _over_cost_per_day_vs_budget(rows: Rows) -> Callable[[], object]:
    # The default monthly soft budget is 400: a day's share is 13.33.
    costly = rows.interaction(cost=Decimal("20"))
    return lambda: Rows._ago(Interaction, costly.pk, 2 * 24 * 60)  # it leaves the day's window


def _over_stuck_answers(rows: Rows) -> Callable[[], object]:
    (stuck,) = rows.answers(1, status=AnswerStatus.STREAMING, minutes_ago=20)
    return lambda: Answer.objects.filter(pk=stuck.pk).update(status=AnswerStatus.FAILED)


def _over_failing_ingestion(rows: Rows) -> Callable[[], object]:
    failed = rows.documents(3, status=DocumentStatus.FAILED)
    return lambda: Document.objects.filter(pk__in=[d.pk for d in failed]).update(status=DocumentStatus.READY)


def _over_tier_fallback_rate(rows: Rows) -> Callable[[], object]:
    rows.answers(2, route={"tier": "small"}, fallback_used=True)
    rows.answers(2, route={"tier": "small"})
    rows.answers(10, route={"tier": "large"})
    return lambda: rows.answers(20, route={"tier": "small"})  # 2 of 24 on "small"


DRIVERS: dict[str, tuple[float, int, Callable[[Rows], Callable[[], object]]]] = {
    AlertMetric.ERROR_RATE: (0.05, 15, _over_error_rate),
    AlertMetric.DECLINE_RATE_JUMP: (0.2, 60, _over_decline_rate_jump),
    AlertMetric.UNSUPPORTED_SENTENCE_RATE: (0.25, 60, _over_unsupported_sentence_rate),
    AlertMetric.QUALITY_SCORE_DROP: (0.1, 1440, _over_quality_score_drop),
    AlertMetric.TTFT_P95: (8.0, 15, _over_ttft_p95),
    AlertMetric.COST_PER_DAY_VS_BUDGET: (1.0, 1440, _over_cost_per_day_vs_budget),
    AlertMetric.STUCK_ANSWERS: (0, 10, _over_stuck_answers),
    AlertMetric.FAILING_INGESTION: (2, 60, _over_failing_ingestion),
    AlertMetric.TIER_FALLBACK_RATE: (0.2, 60, _over_tier_fallback_rate),
}


def test_every_metric_has_a_driver() -> None:
    assert set(DRIVERS) == set(AlertMetric.values)


@pytest.mark.parametrize("metric", list(DRIVERS))
def test_a_rule_over_its_threshold_notifies_once_and_again_when_it_clears(metric: str, webhook) -> None:
    threshold, window, drive = DRIVERS[metric]
    rule = AlertRule.objects.create(name=f"rule {metric}", metric=metric, threshold=threshold, window_minutes=window)
    recover = drive(Rows())

    alerts_evaluate()
    alerts_evaluate()  # still firing: the same incident, no second notice
    assert len(webhook.bodies) == 1, webhook.texts()
    assert webhook.texts()[0].startswith(f"[Verity alert] rule {metric} is firing")
    incident = AlertIncident.objects.get(rule=rule)
    assert incident.notified and incident.cleared_at is None and incident.value > threshold
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["oncall@example.com"]

    recover()
    alerts_evaluate()
    alerts_evaluate()
    assert len(webhook.bodies) == 2, webhook.texts()
    assert "cleared" in webhook.texts()[1]
    incident.refresh_from_db()
    assert incident.cleared_at is not None and incident.clear_notified
    assert AlertIncident.objects.filter(rule=rule).count() == 1
    assert len(mail.outbox) == 2


def test_a_failing_webhook_is_retried_next_run_without_repeating_the_email(webhook) -> None:
    AlertRule.objects.create(name="stuck", metric=AlertMetric.STUCK_ANSWERS, threshold=0, window_minutes=10)
    Rows().answers(1, status=AnswerStatus.PENDING, minutes_ago=30)
    webhook.status = 500
    alerts_evaluate()
    incident = AlertIncident.objects.get()
    assert not incident.notified and "webhook" in incident.last_error
    assert incident.deliveries == {"open": ["email"]}
    webhook.status = 200
    alerts_evaluate()
    alerts_evaluate()
    incident.refresh_from_db()
    assert incident.notified and len(webhook.bodies) == 1 and len(mail.outbox) == 1


def test_a_disabled_rule_or_no_data_never_fires(webhook) -> None:
    AlertRule.objects.create(name="errors", metric=AlertMetric.ERROR_RATE, threshold=0.0, window_minutes=15)
    AlertRule.objects.create(name="off", metric=AlertMetric.STUCK_ANSWERS, threshold=0, window_minutes=10,
                             enabled=False)  # fmt: skip
    Rows().answers(1, status=AnswerStatus.PENDING, minutes_ago=30)
    alerts_evaluate()  # no finished answer in the window: the error rate has no data
    assert not AlertIncident.objects.exists() and webhook.bodies == []


def test_default_rules_cover_every_metric() -> None:
    assert {r.metric for r in AlertRule.objects.all()} == set(AlertMetric.values)


def test_rule_changes_are_audited(db) -> None:
    admin = user_create(superuser=True)
    rule = AlertRule.objects.get(metric=AlertMetric.ERROR_RATE)
    rule.threshold = 0.2
    alert_rule_save(rule=rule, actor=admin)
    event = AuditEvent.objects.filter(action=AuditAction.ALERT_RULE_CHANGED).get()
    assert event.before["threshold"] == 0.05 and event.after["threshold"] == 0.2


def test_the_admin_saves_through_the_audited_service(client) -> None:
    admin = user_create(superuser=True)
    client.force_login(admin)
    rule = AlertRule.objects.get(metric=AlertMetric.TTFT_P95)
    response = client.post(
        f"/admin/ops/alertrule/{rule.pk}/change/",
        {"name": rule.name, "metric": rule.metric, "threshold": "5", "window_minutes": "30", "enabled": "on",
         "channels": '["webhook"]'},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    rule.refresh_from_db()
    assert rule.threshold == 5 and rule.channels == ["webhook"]
    assert AuditEvent.objects.filter(action=AuditAction.ALERT_RULE_CHANGED, target_id=str(rule.pk)).exists()


def test_the_history_page_shows_firing_rules_to_staff_only(client, webhook) -> None:
    AlertRule.objects.create(name="Stuck now", metric=AlertMetric.STUCK_ANSWERS, threshold=0, window_minutes=10)
    Rows().answers(1, status=AnswerStatus.PENDING, minutes_ago=30)
    alerts_evaluate()
    client.force_login(user_create())
    assert client.get("/ops/alerts/").status_code == 403
    client.force_login(user_create(staff=True))
    page = client.get("/ops/alerts/").content.decode()
    assert "Stuck now" in page and "FIRING" in page and "open" in page
