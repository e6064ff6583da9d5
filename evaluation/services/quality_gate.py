"""The quality gate of CI (issue #15, point 7): two small golden sets answered by the built-in
(extractive) model through the whole pipeline, each summary compared with its thresholds
(``evaluation/golden/thresholds.json``). A change that makes answers worse (fewer correct,
fewer declines of unanswerable questions, more unsupported sentences, worse citations) fails.

The sets: the demo handbook's 14 questions (``demo_qa.jsonl`` over ``demo/corpus/``) and a
15-question slice of the Python 3.11 development set (``python311_slice.jsonl``, its nine
documentation pages copied under ``golden/python311/``: 480 KB; the whole set needs the 530-page
documentation and runs nightly, ``EVAL_NIGHTLY_SET``). Both are ingested in-process into their
own collections, so the gate needs no worker."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.test.utils import override_settings

from evaluation.services.runs import eval_run, items_load
from ingestion.models import Collection, DocumentStatus
from ingestion.services.documents import collection_ensure, document_create_from_bytes
from ingestion.services.pipeline import document_process
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider

logger = logging.getLogger(__name__)

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
DEMO_CORPUS_DIR = Path(__file__).resolve().parents[2] / "demo" / "corpus"
THRESHOLDS = GOLDEN_DIR / "thresholds.json"


@dataclass(frozen=True)
class GateSet:
    key: str
    questions: Path
    collection_name: str
    collection_slug: str
    corpus: Path
    pattern: str


GATE_SETS = (
    # The demo handbook under the name and slug ``manage.py bootstrap`` gives it (ingestion.services.demo).
    GateSet("demo", GOLDEN_DIR / "demo_qa.jsonl", "Demo handbook", "demo-handbook", DEMO_CORPUS_DIR, "*.md"),
    GateSet(
        "python311",
        GOLDEN_DIR / "python311_slice.jsonl",
        "Golden: Python 3.11 slice",
        "golden-python311",
        GOLDEN_DIR / "python311",
        "**/*.html",
    ),  # fmt: skip
)
# The comparisons: a summary measure and whether the threshold is a floor or a ceiling.
MEASURES = {
    "answerable_accuracy": "min",
    "unanswerable_decline_rate": "min",
    "hallucination_rate": "max",
    "citation_precision": "min",
}


@dataclass
class GateResult:
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def gate_collection_ensure(*, gate_set: GateSet) -> Collection:
    """The set's collection with every corpus file ingested (in this process); idempotent."""
    collection = collection_ensure(name=gate_set.collection_name, slug=gate_set.collection_slug)
    for path in sorted(gate_set.corpus.glob(gate_set.pattern)):
        # The path under the corpus folder is the dev set's citation form ("library/copy.html").
        source = path.relative_to(gate_set.corpus).as_posix()
        document = document_create_from_bytes(collection=collection, data=path.read_bytes(), source_name=source,
                                              enqueue=False).document  # fmt: skip
        if document.status != DocumentStatus.READY:
            document_process(document_id=document.pk)
    return collection


def thresholds_load(path: Path = THRESHOLDS) -> dict[str, dict[str, float]]:
    return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("_")}


def gate_compare(*, key: str, summary: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The measures of ``summary`` on the wrong side of their thresholds, in words."""
    failures = []
    for measure, limit in thresholds.items():
        value = summary.get(measure)
        kind = MEASURES[measure]
        if value is None:
            failures.append(f"{key}: {measure} could not be measured")
        elif (kind == "min" and value < limit) or (kind == "max" and value > limit):
            failures.append(f"{key}: {measure} {value} is {'below' if kind == 'min' else 'above'} {limit}")
    return failures


def quality_gate_run(
    *, providers: list[LLMProvider], embedder: EmbeddingProvider, thresholds: dict[str, dict[str, float]],
    progress: Any = None,
) -> GateResult:  # fmt: skip
    """Ingest, answer and compare every gate set; each run is stored as an EvalRun."""
    result = GateResult()
    # Each question answered afresh: a cached answer would measure an earlier run.
    with override_settings(QA_CACHE_ENABLED=False):
        for gate_set in GATE_SETS:
            collection = gate_collection_ensure(gate_set=gate_set)
            report = eval_run(
                items=items_load(gate_set.questions), collections=[collection], providers=providers, embedder=embedder,
                name=f"quality gate {gate_set.key}", question_set=str(gate_set.questions.name),
                provider_label="extractive", progress=progress,
            )  # fmt: skip
            result.summaries[gate_set.key] = report.summary
            result.failures += gate_compare(key=gate_set.key, summary=report.summary,
                                            thresholds=thresholds.get(gate_set.key, {}))  # fmt: skip
    logger.info("evaluation.quality_gate passed=%s failures=%s", result.passed, result.failures)
    return result
