"""A model tier's change goes through the same suites as a prompt change (issue #16, point 2).

``qa.signals.model_tier_changed`` (sent after a tier's new model commits) queues
``evaluation.tier_suites_run``, which calls ``tier_suites_run`` here: every chat prompt's
production version runs its suite against the tier, and the reports are kept as an ``EvalRun``
beside the quality runs, one per tier version.
"""

from __future__ import annotations

import logging

from evaluation.models import EvalRun
from evaluation.services.prompt_suites import TIER_PREFIX, suites_run_for_tier
from prompts.models import EventAction
from prompts.services.registry import event_record
from qa.pipeline.routing import tiers_configured

logger = logging.getLogger(__name__)

QUESTION_SET = "prompt suites"


def tier_suites_run_name(*, tier_name: str, version: int) -> str:
    return f"prompt suites on tier {tier_name} v{version}"


def tier_suites_run(*, tier_name: str, version: int) -> EvalRun | None:
    """Run the prompt suites against tier ``tier_name`` at ``version`` and keep the reports.
    Idempotent: a tier version already run returns its run. Returns None, running nothing, when
    the tier is no longer routable (switched off, refused) or has moved on to a later version
    (that change queued its own run)."""
    name = tier_suites_run_name(tier_name=tier_name, version=version)
    done = EvalRun.objects.filter(name=name, question_set=QUESTION_SET).first()
    if done is not None:
        return done
    tier = next((t for t in tiers_configured() if t.name == tier_name), None)
    if tier is None or tier.version != version:
        logger.info(
            "evaluation.tier_suites_skipped tier=%s version=%s current=%s",
            tier_name, version, tier.version if tier else None,
        )  # fmt: skip
        return None
    reports = suites_run_for_tier(tier_name=tier_name)
    summary = {
        "ok": bool(reports) and all(r.ok for r in reports),
        "suites": len(reports),
        "passed": sum(r.passed for r in reports),
        "failed": sum(r.failed for r in reports),
        "skipped": sum(r.skipped for r in reports),
        "errors": [f"{r.prompt_key}: {r.error}" for r in reports if r.error],
    }
    run = EvalRun.objects.create(
        name=name, question_set=QUESTION_SET, provider=f"{TIER_PREFIX}{tier_name}",
        config={"tier": tier_name, "tier_version": version, "model": tier.model},
        summary=summary, items=[r.as_dict() for r in reports],
    )  # fmt: skip
    # In the prompt history too, beside the tier change it tests: the audit trail of a deployment.
    event_record(
        action=EventAction.TIER_TESTED, actor=None, version=version,
        note=f"prompt suites on tier {tier_name} ({tier.model}): "
        + ("passed" if summary["ok"] else "FAILED") + f", {summary['passed']} cases passed, {summary['failed']} failed",
        detail={"tier": tier_name, "tier_version": version, "model": tier.model, "eval_run": run.pk, **summary},
    )  # fmt: skip
    log = logger.info if summary["ok"] else logger.warning
    log("evaluation.tier_suites tier=%s version=%s model=%s ok=%s failed=%s",
        tier_name, version, tier.model, summary["ok"], summary["failed"])  # fmt: skip
    return run


def tier_suites_fail(*, tier_name: str, version: int, reason: str) -> EvalRun:
    """Record that the suites of a tier version could not run (the task's last word), where the
    quality runs are read; a later successful run of the same version is not prevented by it."""
    return EvalRun.objects.create(
        name=f"{tier_suites_run_name(tier_name=tier_name, version=version)} (not run)", question_set=QUESTION_SET,
        provider=f"{TIER_PREFIX}{tier_name}", config={"tier": tier_name, "tier_version": version},
        summary={"ok": False, "suites": 0, "passed": 0, "failed": 0, "skipped": 0, "errors": [reason[:2000]]},
    )  # fmt: skip
