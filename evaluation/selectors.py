"""Reads of evaluation runs for other apps (the operators' usage page)."""

from __future__ import annotations

from django.db.models import QuerySet

from evaluation.models import EvalRun


def eval_run_list_recent(*, limit: int) -> QuerySet[EvalRun]:
    """The latest runs, newest first."""
    return EvalRun.objects.all()[:limit]
