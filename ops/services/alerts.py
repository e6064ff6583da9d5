"""Alert evaluation and notification (issue #15, point 6).

Every ``ALERTS_EVALUATE_SECONDS`` (beat: ``ops.alerts_evaluate``) each enabled rule's value is
computed over its window (``ops.selectors.alert_series``). A value above the threshold opens an
incident, unless the rule has one open already (one incident however many runs it keeps firing);
a value back at or below it, or no data, clears it. The opening and the clearing are each
notified once, by e-mail (Django's mail, ``ALERT_EMAILS``) and by a Slack-compatible webhook
(``{"text": ...}`` to ``ALERT_WEBHOOK_URL``), on the channels the rule names. A channel that fails
is logged and tried again on the next run; a channel that succeeded is not repeated."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.models import AuditAction
from core.services.audit import Actor, AuditRequest, audit_record
from ops.models import AlertChannel, AlertIncident, AlertMetric, AlertRule
from ops.selectors.alert_series import alert_value

logger = logging.getLogger(__name__)

OPEN, CLEAR = "open", "clear"
# What an audit event keeps of a rule (its whole editable state).
RULE_FIELDS = ("name", "metric", "threshold", "window_minutes", "enabled", "channels")


def _format(metric: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if metric == AlertMetric.TTFT_P95:
        return f"{value:.2f} s"
    if metric in (AlertMetric.STUCK_ANSWERS, AlertMetric.FAILING_INGESTION):
        return f"{value:.0f}"
    if metric == AlertMetric.COST_PER_DAY_VS_BUDGET:
        return f"{value:.2f}x the daily budget"
    return f"{value:.1%}"


def incident_message(*, incident: AlertIncident, kind: str) -> tuple[str, str]:
    """(subject, text) of the notice that ``incident`` opened or cleared."""
    rule = incident.rule
    threshold = _format(rule.metric, incident.threshold)
    if kind == OPEN:
        subject = f"[Verity alert] {rule.name} is firing"
        text = (f"{subject}: {AlertMetric(rule.metric).label.split(':')[0]} is {_format(rule.metric, incident.value)} "
                f"over the last {rule.window_minutes} min (threshold {threshold}), since "
                f"{incident.opened_at:%Y-%m-%d %H:%M} UTC.")  # fmt: skip
    else:
        subject = f"[Verity alert] {rule.name} cleared"
        text = (f"{subject}: back to {_format(rule.metric, incident.cleared_value)} (threshold {threshold}); it fired "
                f"from {incident.opened_at:%Y-%m-%d %H:%M} to {incident.cleared_at:%Y-%m-%d %H:%M} UTC, "
                f"peak {_format(rule.metric, incident.peak)}.")  # fmt: skip
    return subject, text


def _deliver(*, channel: str, subject: str, text: str) -> None:
    """Send one notice on one channel; raises when it did not go out."""
    if channel == AlertChannel.EMAIL:
        send_mail(subject=subject, message=text, from_email=None, recipient_list=list(settings.ALERT_EMAILS))
    else:
        response = httpx.post(settings.ALERT_WEBHOOK_URL, json={"text": text}, timeout=settings.ALERT_WEBHOOK_TIMEOUT)
        response.raise_for_status()


def _channels_configured(rule: AlertRule) -> list[str]:
    configured = {
        AlertChannel.EMAIL: bool(settings.ALERT_EMAILS),
        AlertChannel.WEBHOOK: bool(settings.ALERT_WEBHOOK_URL),
    }
    return [c for c in rule.channels if configured.get(AlertChannel(c))]


def incident_notify(*, incident: AlertIncident, kind: str) -> bool:
    """Send the ``kind`` notice (open or clear) on each of the rule's configured channels it has
    not reached yet; record what went out. True when every channel has it."""
    subject, text = incident_message(incident=incident, kind=kind)
    delivered = set(incident.deliveries.get(kind, []))
    errors = []
    for channel in _channels_configured(incident.rule):
        if channel in delivered:
            continue
        try:
            _deliver(channel=channel, subject=subject, text=text)
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried next run
            logger.warning("ops.alert_notify_failed incident=%s kind=%s channel=%s error=%s", incident.pk, kind,
                           channel, exc)  # fmt: skip
            errors.append(f"{channel}: {type(exc).__name__}: {exc}")
            continue
        delivered.add(channel)
        logger.info("ops.alert_notified incident=%s kind=%s channel=%s", incident.pk, kind, channel)
    incident.deliveries = {**incident.deliveries, kind: sorted(delivered)}
    incident.last_error = "; ".join(errors)
    done = not errors
    if kind == OPEN:
        incident.notified = done
    else:
        incident.clear_notified = done
    incident.save(update_fields=["deliveries", "last_error", "notified", "clear_notified"])
    return done


def alert_rule_evaluate(*, rule_id: int, now: datetime) -> dict[str, Any] | None:
    """Evaluate one rule at ``now``: open, update or clear its incident, then send the notices
    still owed. The rule's row is locked for the run, so two evaluations at once (a slow run
    overlapping the next beat) cannot open two incidents or notify twice; a locked rule is
    skipped (None): the run holding it does the work."""
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update(skip_locked=True).filter(pk=rule_id, enabled=True).first()
        if rule is None:
            return None
        value = alert_value(metric=rule.metric, now=now, window=timedelta(minutes=rule.window_minutes))
        firing = value is not None and value > rule.threshold
        incident = AlertIncident.objects.filter(rule=rule, cleared_at__isnull=True).first()
        if firing and incident is None:
            assert value is not None  # noqa: S101 - firing implies a value
            incident = AlertIncident.objects.create(rule=rule, opened_at=now, value=value, threshold=rule.threshold,
                                                    peak=value)  # fmt: skip
            logger.warning("ops.alert_opened rule=%s metric=%s value=%s threshold=%s", rule.name, rule.metric, value,
                           rule.threshold)  # fmt: skip
        elif firing and incident is not None and value is not None and value > incident.peak:
            incident.peak = value
            incident.save(update_fields=["peak"])
        elif not firing and incident is not None:
            incident.cleared_at, incident.cleared_value = now, value
            incident.save(update_fields=["cleared_at", "cleared_value"])
            logger.info("ops.alert_cleared rule=%s value=%s", rule.name, value)
        # Notices owed by this rule's incidents: the current one's, and an earlier one whose
        # channel failed (an opening notice always goes before its clearing one).
        owed = AlertIncident.objects.filter(rule=rule).filter(notified=False) | AlertIncident.objects.filter(
            rule=rule, cleared_at__isnull=False, clear_notified=False
        )
        for pending in owed.select_related("rule").order_by("opened_at"):
            if not pending.notified and not incident_notify(incident=pending, kind=OPEN):
                continue
            if pending.cleared_at is not None and not pending.clear_notified:
                incident_notify(incident=pending, kind=CLEAR)
    return {"rule": rule.name, "value": value, "firing": firing}


def alerts_evaluate(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Evaluate every enabled rule at ``now`` (default: the current time)."""
    now = now or timezone.now()
    results = []
    for rule_id in AlertRule.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
        result = alert_rule_evaluate(rule_id=rule_id, now=now)
        if result is not None:
            results.append(result)
    return results


def rule_state(rule: AlertRule) -> dict[str, Any]:
    """What the audit trail keeps of a rule (the admin reads it before a change)."""
    return {field: getattr(rule, field) for field in RULE_FIELDS}


@transaction.atomic
def alert_rule_save(*, rule: AlertRule, actor: Actor, request: AuditRequest | None = None) -> AlertRule:
    """Save a rule (new or changed) with its audit event: the stored state before (None for a
    new rule) and after. Raises ValidationError for an invalid rule, before any write."""
    stored = AlertRule.objects.filter(pk=rule.pk).first() if rule.pk else None
    before = rule_state(stored) if stored is not None else None
    rule.full_clean()
    rule.save()
    audit_record(action=AuditAction.ALERT_RULE_CHANGED, actor=actor, target_type="ops.alertrule", target_id=rule.pk,
                 before=before, after=rule_state(rule), request=request)  # fmt: skip
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, actor: Actor, request: AuditRequest | None = None) -> None:
    """Delete a rule and its incidents, with its audit event."""
    before, pk = rule_state(rule), rule.pk
    rule.delete()
    audit_record(action=AuditAction.ALERT_RULE_CHANGED, actor=actor, target_type="ops.alertrule", target_id=pk,
                 before=before, after=None, detail={"deleted": True}, request=request)  # fmt: skip
