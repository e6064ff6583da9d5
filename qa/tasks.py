"""Celery tasks of qa: they take ids and call services."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from qa.pipeline.load import Prepared
from qa.pipeline.orchestrator import answer_run
from qa.realtime import emit_to_group

# A database outage is worth two retries with backoff (the answer stays pending meanwhile); any
# other error, and the outage on the last try, ends the answer as failed inside ``answer_run``.
RETRIED_ERRORS = (OperationalError, InterfaceError)


@shared_task(name="qa.generate_answer", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=2)
def generate_answer(self, answer_id: int, prepared: dict | None = None) -> str:  # type: ignore[no-untyped-def]
    last_try = self.request.retries >= self.max_retries
    try:
        answer = answer_run(
            answer_id=answer_id, emit=emit_to_group(answer_id),
            prepared=Prepared.from_dict(prepared) if prepared else None, retry_on=() if last_try else RETRIED_ERRORS,
        )  # fmt: skip
    except RETRIED_ERRORS as exc:
        if last_try:
            raise  # the failure could not even be recorded: the database is still gone
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    return str(answer.status)


@shared_task(name="qa.precompute_answers", acks_late=True)
def precompute_answers() -> dict[str, int]:
    from qa.pipeline.precompute import precompute_run

    report = precompute_run()
    return {"considered": report.considered, "stored": report.stored, "already_cached": report.already_cached}


@shared_task(name="qa.retention_run", acks_late=True)
def retention_run() -> dict[str, object]:
    """The nightly retention job. Idempotent (a second run finds nothing more); no retries: what
    a failed run left is found by the next night's run, and a run records what it did."""
    from qa.services.retention import retention_run as run

    report = run(dry_run=False)
    return {"done": report.done, "held": report.held}
