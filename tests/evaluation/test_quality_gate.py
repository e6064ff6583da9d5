"""The CI quality gate's comparison and files, and the nightly run (issue #15, point 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evaluation.models import EvalRun
from evaluation.services.nightly import nightly_eval_run
from evaluation.services.quality_gate import GATE_SETS, MEASURES, gate_compare, thresholds_load
from evaluation.services.runs import items_load
from providers.registry import embedding_provider_default, llm_provider_build


def test_the_gate_fails_a_measure_on_the_wrong_side_of_its_threshold() -> None:
    thresholds = {"answerable_accuracy": 0.9, "hallucination_rate": 0.05, "citation_precision": 0.9}
    good = {"answerable_accuracy": 1.0, "hallucination_rate": 0.0, "citation_precision": 0.95}
    assert gate_compare(key="demo", summary=good, thresholds=thresholds) == []
    worse = {"answerable_accuracy": 0.8, "hallucination_rate": 0.1, "citation_precision": None}
    assert gate_compare(key="demo", summary=worse, thresholds=thresholds) == [
        "demo: answerable_accuracy 0.8 is below 0.9",
        "demo: hallucination_rate 0.1 is above 0.05",
        "demo: citation_precision could not be measured",
    ]


def test_every_gate_set_has_its_questions_documents_and_thresholds() -> None:
    thresholds = thresholds_load()
    for gate_set in GATE_SETS:
        items = items_load(gate_set.questions)
        assert 10 <= len(items) <= 15
        assert set(thresholds[gate_set.key]) <= set(MEASURES) and thresholds[gate_set.key]
        corpus = {p.relative_to(gate_set.corpus).as_posix() for p in gate_set.corpus.glob(gate_set.pattern)}
        assert {source for item in items for source in item["sources"]} <= corpus


@pytest.mark.django_db
def test_the_nightly_run_is_off_until_configured(settings) -> None:
    settings.EVAL_NIGHTLY_SET = ""
    assert nightly_eval_run(embedder=embedding_provider_default())["ran"] is False
    assert not EvalRun.objects.exists()


@pytest.mark.django_db
def test_the_nightly_run_records_an_eval_run(settings, tmp_path, staff: Any) -> None:
    question = {"id": "n-1", "type": "factoid", "question": "What is the hotel limit in London?",
                "answer": "260 euros", "must_contain_any": [["260"]], "sources": ["travel.md"]}  # fmt: skip
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(question) + "\n")
    settings.EVAL_NIGHTLY_SET = str(path)
    settings.EVAL_NIGHTLY_COLLECTIONS = ["Staff handbook"]
    embedder = embedding_provider_default()
    result = nightly_eval_run(embedder=embedder, providers=[llm_provider_build("extractive", embedder=embedder)])
    assert result["ran"] and result["summary"]["answerable_correct"] == 1
    assert EvalRun.objects.get().name == "nightly set"
