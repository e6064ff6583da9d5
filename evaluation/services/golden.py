"""The golden evaluation of a prompt version: the whole answer pipeline over a small question set
on the demo corpus (``evaluation/golden/demo_qa.jsonl``), answered by a simulated model on this
machine, so that a proposed prompt and production's can be compared side by side in seconds.

The model is a test double: with ``simulated-instructed`` (the default for proposals) it does
what the prompt tells it and nothing else (``evaluation.instructed_llm``), so a proposal that
loses "cite every claim" or "only the passages" shows uncited or invented sentences here; with
``simulated`` it ignores the instructions and quotes the passages (``manage.py evaluate
--provider simulated``). Neither says how a real model would word an answer."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.test.utils import override_settings

from evaluation.services.runs import eval_run, items_load
from ingestion.selectors.collections import collections_by_name
from prompts.services.selection import PromptChoice
from providers.llm.openai_compatible import OpenAICompatibleProvider
from providers.registry import embedding_provider_default

logger = logging.getLogger(__name__)

GOLDEN_SET = Path(__file__).resolve().parents[1] / "golden" / "demo_qa.jsonl"
# The collection ``manage.py bootstrap`` loads demo/corpus/ into (ingestion/services/demo.py).
DEMO_COLLECTION_NAME = "Demo handbook"
# What the proposal page shows of each answer: enough to see the fact, not the whole text.
ANSWER_EXCERPT_CHARS = 300


class GoldenProvider(StrEnum):
    SIMULATED = "simulated"
    INSTRUCTED = "simulated-instructed"


def _summary_of(summary: dict[str, Any]) -> dict[str, Any]:
    """The measures a reviewer compares: answers with the fact, declines, unsupported text."""
    return {
        "items": summary["items"],
        "answerable": summary["answerable"],
        "answered_with_fact": summary["answerable_correct"],
        "false_declines": summary["false_declines"],
        "unanswerable": summary["unanswerable"],
        "unanswerable_declined": summary["unanswerable_declined"],
        "delivered_sentences": summary["delivered_sentences"],
        # Sentences the independent re-check could not find in the cited passages.
        "unsupported_delivered": summary["ungrounded_sentences"],
        "hallucination_rate": summary["hallucination_rate"],
        # Sentences the product's verifier removed before the reader saw them.
        "verifier_removed": summary["verifier_removed_sentences"],
        "citation_precision": summary["citation_precision"],
    }


def _fallbacks(items: list[dict[str, Any]]) -> int:
    # A draft that loses an instruction can look as good as production here because the answer's
    # fallback prompt rewrote its failed outputs: the count says how often that happened.
    return sum(1 for r in items if r.get("prompt_fallback_used"))


def golden_run(
    *, prompts: PromptChoice | None, provider: str = GoldenProvider.INSTRUCTED, path: Path = GOLDEN_SET
) -> dict[str, Any]:
    """Run the golden set with these prompt versions (None: the production labels') and return
    ``{"ran", "summary", "items", "prompts"}``; ``{"ran": False, "error"}`` when it cannot run
    (no demo collection: ``manage.py bootstrap`` creates it)."""
    from evaluation.simulated_llm import Simulator

    kind = GoldenProvider(provider)
    collections = collections_by_name(names=[DEMO_COLLECTION_NAME])
    if not collections:
        return {
            "ran": False,
            "error": f"There is no {DEMO_COLLECTION_NAME!r} collection to evaluate on: "
            "`manage.py bootstrap` loads it from demo/corpus/.",
        }
    items = items_load(path)
    simulator = Simulator(first_token_ms=0, tokens_per_second=0, instructed=kind == GoldenProvider.INSTRUCTED).start()
    # Each item is answered afresh: a cached answer would measure an earlier run, not this prompt.
    cache = override_settings(QA_CACHE_ENABLED=False)
    try:
        cache.enable()
        provider_model = OpenAICompatibleProvider(base_url=simulator.url, model_id="simulated-1", api_key="",
                                                  timeout_s=30)  # fmt: skip
        keys = prompts.as_dict()["keys"] if prompts is not None else {}
        report = eval_run(
            items=items, collections=collections, providers=[provider_model], embedder=embedding_provider_default(),
            name=f"golden {keys.get('answer', 'production')}", question_set=str(path), provider_label=kind.value,
            prompts=prompts,
        )  # fmt: skip
    finally:
        cache.disable()
        simulator.stop()
    logger.info("evaluation.golden_run prompts=%s provider=%s items=%s", keys, kind, len(items))
    return {
        "ran": True,
        "set": path.name,
        "provider": kind.value,
        "prompts": keys,
        "summary": {**_summary_of(report.summary), "prompt_fallbacks": _fallbacks(report.items)},
        "items": [
            {
                "id": r["id"],
                "type": r["type"],
                "question": r["question"],
                "status": r["status"],
                "correct": r["correct"],
                "declined": r["declined"],
                "answer": (r["answer"] or r["decline_reason"])[:ANSWER_EXCERPT_CHARS],
                "unsupported": len(r["ungrounded_sentences"]),
                "removed": len(r["removed_sentences"]),
                "fallback": bool(r.get("prompt_fallback_used")),
            }  # fmt: skip
            for r in report.items
        ],
    }
