"""Celery tasks of qa: they take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from qa.pipeline.orchestrator import Prepared, answer_fail, answer_run
from qa.realtime import Event, emit_to_group

logger = logging.getLogger(__name__)


@shared_task(name="qa.generate_answer", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=2)
def generate_answer(self, answer_id: int, prepared: dict | None = None) -> str:  # type: ignore[no-untyped-def]
    emit = emit_to_group(answer_id)
    try:
        return str(
            answer_run(
                answer_id=answer_id, emit=emit, prepared=Prepared.from_dict(prepared) if prepared else None
            ).status
        )
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries >= self.max_retries:
            answer_fail(answer_id=answer_id, reason=f"database unavailable: {exc}")
            emit(Event.FAILED, {"message": "Something went wrong while answering; please ask again."})
            return "failed"
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    except Exception as exc:  # noqa: BLE001 - the user must see a failure, never a spinner forever
        logger.exception("qa.generate_failed answer_id=%s", answer_id)
        answer_fail(answer_id=answer_id, reason=f"{type(exc).__name__}: {exc}")
        emit(Event.FAILED, {"message": "Something went wrong while answering; please ask again."})
        return "failed"


@shared_task(name="qa.precompute_answers", acks_late=True)
def precompute_answers() -> dict[str, int]:
    from qa.pipeline.precompute import precompute_run

    report = precompute_run()
    return {"considered": report.considered, "stored": report.stored, "already_cached": report.already_cached}
