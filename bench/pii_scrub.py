"""Issue #14 (first slice): how well and how fast does core.pii find personal data?

    .venv/bin/python bench/pii_scrub.py [--questions 60]

1. Quality: per-type precision and recall of ``pii_detect`` on evaluation/pii/pii_sentences.jsonl
   (default types, national ids off). A predicted span counts when it overlaps a gold span of the
   same type; a gold span is found when a predicted span of its type overlaps it.
2. Speed: ``pii_scrub`` of one question plus 5 passages of ~150 words (sentences of the set glued
   together, so passages carry PII), p50/p95 per question, cold (the detection cache cleared before
   each question: every passage new) and warm (the passages seen before, the question new).
   Baseline of the same run: embedding the same question with the project's embedding model
   (providers.registry.embedding_provider_default), which every question already pays.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, machine, percentile, summary_ms  # noqa: E402

SET = ROOT / "evaluation" / "pii" / "pii_sentences.jsonl"


def quality(rows: list[dict]) -> tuple[dict[str, tuple[int, int, int, int]], float]:
    from core.pii import PII_TYPES_DEFAULT, pii_detect

    predicted_ok: Counter[str] = Counter()
    predicted_all: Counter[str] = Counter()
    gold_found: Counter[str] = Counter()
    gold_all: Counter[str] = Counter()
    started = time.perf_counter()
    for row in rows:
        text, gold = row["text"], row["spans"]
        (spans,) = pii_detect(texts=[text], enabled=PII_TYPES_DEFAULT)
        for span in spans:
            predicted_all[span.type.value] += 1
            if any(g["type"] == span.type.value and span.start < g["end"] and g["start"] < span.end for g in gold):
                predicted_ok[span.type.value] += 1
            elif os.environ.get("PII_BENCH_VERBOSE"):
                print(f"  FP {span.type.value}: {text[span.start : span.end]!r} in {text!r}")
        for g in gold:
            gold_all[g["type"]] += 1
            if any(s.type.value == g["type"] and s.start < g["end"] and g["start"] < s.end for s in spans):
                gold_found[g["type"]] += 1
            elif os.environ.get("PII_BENCH_VERBOSE"):
                print(f"  FN {g['type']}: {text[g['start'] : g['end']]!r} in {text!r}")
    elapsed = time.perf_counter() - started
    types = sorted(set(gold_all) | set(predicted_all))
    return {t: (predicted_ok[t], predicted_all[t], gold_found[t], gold_all[t]) for t in types}, elapsed


def workload(rows: list[dict], questions: int) -> list[list[str]]:
    r = random.Random(14)
    sentences = [row["text"] for row in rows]
    asked = [t for t in sentences if t.rstrip().endswith("?")]
    requests = []
    for _ in range(questions):
        passages = []
        for _ in range(5):
            words: list[str] = []
            while len(words) < 150:
                words.extend(r.choice(sentences).split())
            passages.append(" ".join(words))
        requests.append([r.choice(asked), *passages])
    return requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=60)
    args = parser.parse_args()
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]

    from core import pii

    started = time.perf_counter()
    pii.pii_analyzer()
    load_s = time.perf_counter() - started
    scores, quality_s = quality(rows)

    requests = workload(rows, args.questions)
    pii.pii_scrub(texts=requests[0], enabled=pii.PII_TYPES_DEFAULT)  # warm-up (first call JIT-like costs)
    cold: list[float] = []
    for texts in requests:
        pii.pii_cache_clear()
        started = time.perf_counter()
        pii.pii_scrub(texts=texts, enabled=pii.PII_TYPES_DEFAULT)
        cold.append((time.perf_counter() - started) * 1000)
    warm: list[float] = []
    r = random.Random(15)
    for texts in requests:
        pii.pii_scrub(texts=texts, enabled=pii.PII_TYPES_DEFAULT)  # the passages are seen once
        question = f"{r.choice(['Quick question:', 'Please tell me:', 'Hello,'])} {texts[0]}"
        started = time.perf_counter()
        pii.pii_scrub(texts=[question, *texts[1:]], enabled=pii.PII_TYPES_DEFAULT)
        warm.append((time.perf_counter() - started) * 1000)

    # The answer pipeline's path (qa.pipeline.privacy): each passage's detections stored at
    # ingestion (Chunk.pii_spans, a JSON round trip here), the question analysed cold, the
    # assembled prompt masked by value.
    stored_spans = {}
    for texts in requests:
        for text, spans in zip(texts[1:], pii.pii_detect(texts=texts[1:], enabled=pii.PII_TYPES_DEFAULT), strict=True):
            stored_spans[text] = json.loads(json.dumps(pii.pii_spans_dump(spans=spans, enabled=pii.PII_TYPES_DEFAULT)))
    stored: list[float] = []
    for texts in requests:
        pii.pii_cache_clear()
        question = f"{r.choice(['Quick question:', 'Please tell me:', 'Hello,'])} {texts[0]}"
        prompt = "\n\n".join([question, *texts[1:]])
        started = time.perf_counter()
        known = [pii.pii_spans_load(data=stored_spans[t], enabled=pii.PII_TYPES_DEFAULT) for t in texts[1:]]
        result = pii.pii_scrub(texts=[question, *texts[1:]], enabled=pii.PII_TYPES_DEFAULT, detected=[None, *known])
        pii.pii_mask_known(text=prompt, placeholders=result.placeholders)
        stored.append((time.perf_counter() - started) * 1000)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("VERITY_DATA_DIR", str(ROOT / ".verity" / "bench"))
    import django

    django.setup()
    from providers.registry import embedding_provider_default

    embedder = embedding_provider_default()
    embedder.embed_query("warm-up")
    embed: list[float] = []
    for texts in requests:
        started = time.perf_counter()
        embedder.embed_query(texts[0])
        embed.append((time.perf_counter() - started) * 1000)

    words = sum(len(t.split()) for t in requests[0][1:]) / 5
    print(f"machine: {machine()}")
    print(f"set: {len(rows)} sentences, {sum(len(r['spans']) for r in rows)} PII spans; analyzer load {load_s:.1f} s; "
          f"detection over the set {quality_s:.1f} s")  # fmt: skip
    print("| type | gold | predicted | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    for kind, (ok, predicted, found, gold) in scores.items():
        precision = ok / predicted if predicted else float("nan")
        recall = found / gold if gold else float("nan")
        print(f"| {kind} | {gold} | {predicted} | {precision:.3f} | {recall:.3f} |")
    print(f"per question (question + 5 passages of ~{words:.0f} words), {len(requests)} questions:")
    print(f"  scrub, cold (all passages new):      {summary_ms(cold)}")
    print(f"  scrub, warm (passages seen before):  {summary_ms(warm)}")
    print(f"  scrub, passages scanned at ingestion (the pipeline's path; question cold): {summary_ms(stored)}")
    print(f"  baseline: embed the question:        {summary_ms(embed)}")
    print(f"  ratio cold p95 / embed p95: {percentile(cold, 95) / percentile(embed, 95):.1f}x; "
          f"warm p95 / embed p95: {percentile(warm, 95) / percentile(embed, 95):.2f}x; "
          f"stored p95 / embed p95: {percentile(stored, 95) / percentile(embed, 95):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
