"""The nightly evaluation (issue #15, point 7): the full development set (``EVAL_NIGHTLY_SET``)
answered by the configured models over ``EVAL_NIGHTLY_COLLECTIONS``, stored as an ``EvalRun``
that the usage page and the dashboards show. The CI gate runs a slice of it on every change;
this follows the whole set over time."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test.utils import override_settings

from evaluation.services.runs import eval_run, items_load
from ingestion.selectors.collections import collections_by_name
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider

logger = logging.getLogger(__name__)


def nightly_eval_run(*, embedder: EmbeddingProvider, providers: list[LLMProvider] | None = None) -> dict[str, Any]:
    """Run the configured set; ``{"ran": False, "reason"}`` when it is not configured or its
    collections are missing (nothing to measure is not a failure of the night)."""
    path = Path(settings.EVAL_NIGHTLY_SET) if settings.EVAL_NIGHTLY_SET else None
    if path is None or not path.is_file():
        return {"ran": False, "reason": f"no question set at EVAL_NIGHTLY_SET ({settings.EVAL_NIGHTLY_SET!r})"}
    names = list(settings.EVAL_NIGHTLY_COLLECTIONS)
    collections = collections_by_name(names=names)
    if not collections or len(collections) != len(set(names)):
        return {"ran": False, "reason": f"collections not found: {names}"}
    # Every item answered afresh: a cached answer would measure an earlier night.
    with override_settings(QA_CACHE_ENABLED=False):
        report = eval_run(items=items_load(path), collections=collections, providers=providers, embedder=embedder,
                          name=f"nightly {path.stem}", question_set=str(path), provider_label="configured")  # fmt: skip
    logger.info("evaluation.nightly_run set=%s items=%s", path.name, report.summary.get("items"))
    return {"ran": True, "summary": report.summary}
