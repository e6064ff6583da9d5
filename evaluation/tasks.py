"""Celery tasks of evaluation: they take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from evaluation.services.proposals import proposal_evaluate
from evaluation.services.tier_suites import tier_suites_fail, tier_suites_run
from prompts.services.proposals import proposal_fail

logger = logging.getLogger(__name__)
TRANSIENT_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, OSError)
MAX_RETRIES = 3
# Two suites and two golden runs against the simulated model took 10-15 s on two cores (the tests
# in tests/evaluation/test_proposal_evaluate.py and the browser test); ten minutes means stuck.
TIME_LIMIT_S = 600


@shared_task(
    name="evaluation.proposal_evaluate",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=TIME_LIMIT_S,
    time_limit=TIME_LIMIT_S + 30,
)
def proposal_evaluate_task(self, proposal_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    try:
        proposal = proposal_evaluate(proposal_id=proposal_id)
    except SoftTimeLimitExceeded:
        proposal_fail(proposal_id=proposal_id, reason=f"the tests took longer than {TIME_LIMIT_S} s and were stopped")
        return {"proposal_id": proposal_id, "state": "failed"}
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            logger.exception("evaluation.retries_exhausted proposal_id=%s", proposal_id)
            proposal_fail(proposal_id=proposal_id, reason=f"the tests could not run after {MAX_RETRIES + 1} attempts: "
                                                          f"{type(exc).__name__}: {exc}")  # fmt: skip
            return {"proposal_id": proposal_id, "state": "failed"}
        countdown = 2 ** (self.request.retries + 1)
        logger.warning("evaluation.retry proposal_id=%s in=%ss error=%s", proposal_id, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:  # noqa: BLE001 - a bug must still leave a visible reason on the proposal
        logger.exception("evaluation.unexpected_error proposal_id=%s", proposal_id)
        proposal_fail(proposal_id=proposal_id, reason=f"the tests stopped with an error: {type(exc).__name__}: {exc}")
        return {"proposal_id": proposal_id, "state": "failed"}
    return {"proposal_id": proposal_id, "state": proposal.state if proposal is not None else "missing"}


# A tier's suites call its model once per case (about a dozen calls); a hosted model at a few
# seconds a call takes a minute or two, so ten minutes means something is stuck.
TIER_SUITES_TIME_LIMIT_S = 600


@shared_task(
    name="evaluation.tier_suites_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=TIER_SUITES_TIME_LIMIT_S,
    time_limit=TIER_SUITES_TIME_LIMIT_S + 30,
)
def tier_suites_run_task(self, tier_name: str, version: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The prompt suites against a model tier whose model changed (``model_tier_changed``).
    Idempotent: a tier version is run once. A model that fails is a failed case in the run, not
    a task failure; only the database or the broker going away is retried."""
    try:
        run = tier_suites_run(tier_name=tier_name, version=version)
    except SoftTimeLimitExceeded:
        tier_suites_fail(tier_name=tier_name, version=version,
                         reason=f"the suites took longer than {TIER_SUITES_TIME_LIMIT_S} s and were stopped")  # fmt: skip
        return {"tier": tier_name, "version": version, "run_id": None}
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            logger.exception("evaluation.tier_suites_retries_exhausted tier=%s version=%s", tier_name, version)
            tier_suites_fail(tier_name=tier_name, version=version, reason=f"the suites could not run after "
                             f"{MAX_RETRIES + 1} attempts: {type(exc).__name__}: {exc}")  # fmt: skip
            return {"tier": tier_name, "version": version, "run_id": None}
        countdown = 2 ** (self.request.retries + 1)
        logger.warning("evaluation.retry tier=%s version=%s in=%ss error=%s", tier_name, version, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:  # noqa: BLE001 - a bug must still leave a visible reason with the quality runs
        logger.exception("evaluation.tier_suites_error tier=%s version=%s", tier_name, version)
        tier_suites_fail(tier_name=tier_name, version=version,
                         reason=f"the suites stopped with an error: {type(exc).__name__}: {exc}")  # fmt: skip
        return {"tier": tier_name, "version": version, "run_id": None}
    return {"tier": tier_name, "version": version, "run_id": run.pk if run is not None else None}


# One answer scored in about 0.1 s with the evidence verifier on two cores, a few seconds with a
# hosted judge: a day's sample of a few hundred answers is minutes; an hour means stuck.
LIVE_SCORE_TIME_LIMIT_S = 3600


@shared_task(
    name="evaluation.live_score_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=LIVE_SCORE_TIME_LIMIT_S,
    time_limit=LIVE_SCORE_TIME_LIMIT_S + 30,
)
def live_score_run_task(self, day: str | None = None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Score yesterday's sample of answers (``day``: an ISO date instead). Idempotent: an answer
    scored already is skipped, so a retry continues where the last attempt stopped."""
    from datetime import date

    from evaluation.services.live_scoring import judge_configured, live_score_run
    from providers.registry import embedding_provider_default

    try:
        return live_score_run(day=date.fromisoformat(day) if day else None, embedder=embedding_provider_default(),
                              judge=judge_configured())  # fmt: skip
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            logger.exception("evaluation.live_score_retries_exhausted day=%s", day)
            return {"day": day, "scored": None}
        countdown = 2 ** (self.request.retries + 1) * 30
        logger.warning("evaluation.live_score_retry day=%s in=%ss error=%s", day, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc


# The 50-question development set took 2-4 minutes with the extractive model on two cores; a
# hosted model at a few seconds a question, a few more. Two hours means stuck.
NIGHTLY_TIME_LIMIT_S = 7200


@shared_task(
    name="evaluation.nightly_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=NIGHTLY_TIME_LIMIT_S,
    time_limit=NIGHTLY_TIME_LIMIT_S + 60,
)
def nightly_run_task() -> dict[str, object]:
    """The nightly evaluation run. Not retried: a failed night is in the worker's log and the
    next night runs again; a retry would answer the whole set twice."""
    from evaluation.services.nightly import nightly_eval_run
    from providers.registry import embedding_provider_default

    return nightly_eval_run(embedder=embedding_provider_default())
