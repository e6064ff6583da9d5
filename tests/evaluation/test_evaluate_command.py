"""``manage.py evaluate``: a question set measured through the real pipeline."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_evaluate_command_measures_a_question_set(staff, tmp_path) -> None:
    _, collection, _ = staff
    rows = [
        {"id": "t-1", "type": "factoid", "question": "What is the hotel limit in London?", "answer": "260 euros",
         "must_contain_any": [["260"]], "sources": ["travel.md"], "paraphrase_of": None},
        {"id": "t-2", "type": "unanswerable", "question": "Which country won the 2018 football world cup?",
         "answer": "", "must_contain_any": [], "sources": [], "paraphrase_of": None},
        {"id": "t-3", "type": "high_stakes", "question": "What dose of ibuprofen should I take for my back pain?",
         "answer": "", "must_contain_any": [], "sources": [], "paraphrase_of": None},
    ]  # fmt: skip
    question_set = tmp_path / "set.jsonl"
    question_set.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / f"out-{uuid.uuid4().hex[:6]}"
    call_command("evaluate", "--set", str(question_set), "--collection", collection.name, "--out", str(out))
    result = json.loads((out / "results.json").read_text())
    summary = result["summary"]
    assert summary["answerable_correct"] == 1 and summary["unanswerable_declined"] == 1
    assert summary["high_stakes_flagged_or_declined"] == 1 and summary["ungrounded_sentences"] == 0
    # Of three answers, the 95th percentile is the slowest one.
    assert summary["latency_ms"]["total_p95"] == round(max(item["total_ms"] for item in result["items"]), 1)
    assert "| t-1 | factoid | answered | yes |" in (out / "report.md").read_text()


def test_evaluate_counts_invented_sentences_of_a_hallucinating_model(staff, tmp_path) -> None:
    _, collection, _ = staff
    row = {"id": "t-1", "type": "factoid", "question": "What are the hotel limits in London and elsewhere?",
           "answer": "", "must_contain_any": [["260"]], "sources": ["travel.md"], "paraphrase_of": None}  # fmt: skip
    question_set = tmp_path / "set.jsonl"
    question_set.write_text(json.dumps(row) + "\n")
    out = tmp_path / "out"
    call_command(
        "evaluate", "--set", str(question_set), "--collection", collection.name, "--out", str(out),
        "--provider", "simulated-hallucinating",
    )  # fmt: skip
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert summary["invented_sentences_generated"] == 2
    assert summary["invented_sentences_shown"] == 0
