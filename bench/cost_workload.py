"""Benchmark 3 of issue #6: what do the cache and routing save on a realistic workload?

    .venv/bin/python bench/cost_workload.py [--questions 1000]

A workload of ``--questions`` questions over the Python docs: about 70% first-time questions
(the answerable eval questions, then questions generated from the reference pages' entries, a
share of them "why"/"compare" explanations and two-part questions) and about 30% repeats or
rewordings of earlier ones, chosen with a Zipf distribution (popular questions come back more).

It runs the whole answer pipeline in-process twice on the same questions, against two simulated
OpenAI-compatible models with a price table (small: 0.15 / 0.60, large: 2.50 / 10.00 USD per
million input / output tokens):

- baseline: no cache, every question to the large model;
- Verity: semantic cache on, routing on (lookups to the built-in extractive model,
  explanations to the small model, multi-part questions to the large one).

Prints cost, answered share and latency (p50/p95 of the in-process pipeline) for both, and the
ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DOCS_COLLECTION, EVAL_SET, bench_user, django_setup, machine, percentile  # noqa: E402

PRICES = {"sim-small-1": (Decimal("0.15"), Decimal("0.60")), "sim-large-1": (Decimal("2.50"), Decimal("10.00"))}


def build_workload(n: int, seed: int = 7) -> list[str]:
    from ingestion.models import Chunk

    rng = random.Random(seed)
    items = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    fresh = [i["question"] for i in items if i["type"] not in ("unanswerable", "high_stakes", "paraphrase")]
    names: list[str] = []
    headings = Chunk.objects.filter(document__source_name__startswith="library/").values_list("heading_path", flat=True)
    for path in headings.iterator():
        for heading in path or []:
            match = re.match(
                r"^(?:class |coroutine |exception )?([a-z_][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*)\(", heading
            )
            if match and match.group(1) not in names:
                names.append(match.group(1))
    rng.shuffle(names)
    for index, name in enumerate(names):
        if index % 10 == 7:
            fresh.append(f"Why would I use {name} instead of writing it myself, and what are the trade-offs?")
        elif index % 10 == 9 and index + 1 < len(names):
            fresh.append(f"What does {name} return? And what does {names[index + 1]} do?")
        else:
            fresh.append(f"What does {name} do?")
    workload: list[str] = []
    asked: list[str] = []
    next_fresh = 0
    while len(workload) < n:
        if asked and rng.random() < 0.3:
            rank = min(len(asked) - 1, int(rng.paretovariate(1.2)) - 1)  # Zipf-like: the popular come back
            base = asked[rank]
            workload.append(base if rng.random() < 0.5 else base.rstrip("?").replace("What does", "What's", 1).lower())
        else:
            question = fresh[next_fresh % len(fresh)]
            next_fresh += 1
            asked.append(question)
            workload.append(question)
    return workload


def run(label: str, questions: list[str], user: object, embedder: object) -> dict[str, float]:
    from qa.models import Answer, AnswerStatus
    from qa.pipeline.orchestrator import answer_create, answer_run

    latencies: list[float] = []
    ids: list[int] = []
    started_all = time.perf_counter()
    for question in questions:
        answer = answer_create(user=user, question=question)  # type: ignore[arg-type]
        began = time.perf_counter()
        answer = answer_run(answer_id=answer.pk, emit=lambda *_: None, embedder=embedder)  # type: ignore[arg-type]
        latencies.append((time.perf_counter() - began) * 1000)
        ids.append(answer.pk)
    answers = list(Answer.objects.filter(pk__in=ids))
    cost = sum((a.cost for a in answers), Decimal(0))
    answered = sum(1 for a in answers if a.status == AnswerStatus.ANSWERED)
    reused = sum(1 for a in answers if a.reused_from_id)
    by_model: dict[str, int] = {}
    for a in answers:
        key = "cache" if a.reused_from_id else (a.model or a.status)
        by_model[key] = by_model.get(key, 0) + 1
    print(f"[{label}] {len(answers)} questions in {time.perf_counter() - started_all:.0f} s: cost {cost:.4f} USD, "
          f"answered {answered}, from cache {reused}; latency p50 {percentile(latencies, 50):.0f} ms, "
          f"p95 {percentile(latencies, 95):.0f} ms; by model {by_model}")  # fmt: skip
    return {"cost": float(cost), "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "answered": answered}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=1000)
    args = parser.parse_args()
    django_setup()
    from django.conf import settings
    from django.utils import timezone

    from evaluation.simulated_llm import Simulator
    from ingestion.models import Collection
    from providers.registry import embedding_provider_default
    from qa.models import ModelPrice, ModelTier, ReusableAnswer, RoutingPolicy

    print(f"machine: {machine()}")
    Collection.objects.get(name=DOCS_COLLECTION)  # the docs must be ingested (raises otherwise)
    small = Simulator(first_token_ms=80, tokens_per_second=600).start()
    large = Simulator(first_token_ms=150, tokens_per_second=400).start()
    ModelTier.objects.all().delete()
    ModelTier.objects.create(
        name="small", rank=1, provider="openai_compatible", model="sim-small-1", base_url=small.url
    )
    ModelTier.objects.create(
        name="large", rank=2, provider="openai_compatible", model="sim-large-1", base_url=large.url
    )
    for model, (price_in, price_out) in PRICES.items():
        ModelPrice.objects.get_or_create(
            model=model, effective_from=timezone.now().replace(year=2020),
            defaults={"input_per_million": price_in, "output_per_million": price_out},
        )  # fmt: skip
    embedder = embedding_provider_default()
    questions = build_workload(args.questions)
    distinct = len(set(questions))
    print(f"workload: {len(questions)} questions, {distinct} distinct strings, "
          f"{1 - distinct / len(questions):.0%} exact repeats (plus rewordings)")  # fmt: skip
    users = [bench_user(name, "bench-password-123") for name in ("bench-cost-baseline", "bench-cost-verity")]
    try:
        ReusableAnswer.objects.filter(origin__in=["cached", "precomputed"]).delete()
        RoutingPolicy.objects.all().delete()
        RoutingPolicy.objects.create(lookup_tier="large", explanation_tier="large", complex_tier="large")
        settings.QA_CACHE_ENABLED = False
        baseline = run("baseline: no cache, large model", questions, users[0], embedder)
        RoutingPolicy.objects.all().delete()  # the settings' defaults: extractive / small / large
        settings.QA_CACHE_ENABLED = True
        verity = run("Verity: cache + routing", questions, users[1], embedder)
    finally:
        small.stop()
        large.stop()
        ModelTier.objects.filter(model__in=PRICES).delete()
    print(f"cost ratio Verity/baseline: {verity['cost'] / baseline['cost']:.3f} "
          f"({baseline['cost'] / max(verity['cost'], 1e-9):.1f}x cheaper); p95 latency ratio "
          f"{verity['p95'] / baseline['p95']:.2f}; p50 ratio {verity['p50'] / baseline['p50']:.2f}; "
          f"answered {verity['answered']} vs {baseline['answered']}")  # fmt: skip


if __name__ == "__main__":
    main()
