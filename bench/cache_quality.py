"""Benchmark 1 of issue #6: does the semantic cache hit true paraphrases and refuse near misses?

    .venv/bin/python bench/cache_quality.py

For each pair (stored question, asked question) one verified answer to the stored question is
put in the cache (citing a Python-docs page the bench user may read) and the asked question is
looked up through the product's own lookup (``qa.reuse.reusable.reusable_find``: embedding
similarity threshold, near-miss guard, access check). Pairs:

- the 5 paraphrase items of the evaluation set (``paraphrase_of``);
- generated surface paraphrases of every eval question (same meaning, other wording);
- at least 200 generated near misses: the same words with another number, a negation, another
  code name, or another named entity.

Prints the hit rate on paraphrases and the false-hit rate on near misses, and, as the baseline
in the same run, the same lookups with the embedding threshold alone (no guard).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DOCS_COLLECTION, EVAL_SET, django_setup, machine  # noqa: E402

SWAPS = {
    "dumps": "loads", "loads": "dumps", "json": "pickle", "pickle": "json", "run": "call", "mean": "median",
    "copy": "deepcopy", "deepcopy": "copy", "append": "extend", "read": "write", "encode": "decode",
    "lru_cache": "cache", "isclose": "isfinite", "sorted": "reversed", "subprocess": "os", "os": "shutil",
    "math": "cmath", "random": "secrets", "asyncio": "threading", "datetime": "time", "Decimal": "Fraction",
    "decimal": "fractions", "textwrap": "string", "zipfile": "tarfile", "csv": "sqlite3", "sqlite3": "dbm",
    "re": "fnmatch", "itertools": "functools", "functools": "operator", "collections": "heapq",
    "timeit": "cProfile", "venv": "virtualenv", "tomllib": "configparser", "hashlib": "hmac",
    "logging": "warnings", "enum": "typing", "dataclasses": "attrs", "argparse": "getopt", "http": "urllib",
}  # fmt: skip
ENTITIES = [("Windows", "Linux"), ("macOS", "FreeBSD"), ("PyPI", "conda-forge"), ("CPython", "PyPy")]
AUXILIARIES = [" does ", " is ", " are ", " can ", " should ", " will ", " do "]


def paraphrase_surface(question: str) -> list[str]:
    """Same meaning, other surface: contractions, politeness, case and punctuation."""
    out = []
    q = question.strip()
    if q.lower().startswith("what's "):
        out.append("What is " + q[7:])
    elif q.lower().startswith("what is "):
        out.append("What's " + q[8:])
    out.append("Could you tell me: " + q[0].lower() + q[1:])
    out.append(q.rstrip("?").lower())
    if q.lower().startswith("how do i "):
        out.append("How can I " + q[9:])
    return out


def near_misses(question: str) -> list[tuple[str, str, str]]:
    """(kind, stored, asked) pairs that look alike but ask something else."""
    out: list[tuple[str, str, str]] = []
    numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", question)
    if numbers:
        n = numbers[0]
        other = str(int(float(n)) * 2 + 1) if "." not in n else n + "1"
        out.append(("number", question, question.replace(n, other, 1)))
    out.append(("number", f"{question.rstrip('?')} in Python 3.11?", f"{question.rstrip('?')} in Python 3.12?"))
    out.append(("number", f"{question.rstrip('?')} for 2 items?", f"{question.rstrip('?')} for 20 items?"))
    for aux in AUXILIARIES:
        if aux in question:
            out.append(("negation", question, question.replace(aux, f"{aux}not ", 1)))
            break
    else:
        out.append(("negation", f"{question.rstrip('?')}, and is it deprecated?",
                    f"{question.rstrip('?')}, and is it not deprecated?"))  # fmt: skip
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", question):
        if word in SWAPS and (re.search(rf"[.@]{word}\b|\b{word}[.(]", question) or "_" in word):
            asked = re.sub(rf"\b{re.escape(word)}\b", SWAPS[word], question, count=1)
            out.append(("identifier", question, asked))
            break
    a, b = ENTITIES[len(question) % len(ENTITIES)]
    out.append(("entity", f"{question.rstrip('?')} on {a}?", f"{question.rstrip('?')} on {b}?"))
    return out


def main() -> None:
    django_setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from ingestion.models import Collection, Document, DocumentStatus
    from prompts.services.registry import library_production
    from providers.registry import embedding_provider_default
    from qa.models import CacheLookup, ReusableAnswer, ReuseOrigin
    from qa.reuse.cache import question_normalise

    print(f"machine: {machine()}")
    collection = Collection.objects.filter(name=DOCS_COLLECTION).first()
    if collection is None:
        raise SystemExit("ingest the Python docs first: .venv/bin/python bench/ingest_python_docs.py --keep")
    user, _ = get_user_model().objects.get_or_create(username="bench-cache")
    collection.reader_users.add(user)
    document = Document.objects.filter(collection=collection, status=DocumentStatus.READY).first()
    assert document is not None
    items = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    by_id = {i["id"]: i for i in items}
    paraphrases = [("eval paraphrase", by_id[i["paraphrase_of"]]["question"], i["question"]) for i in items
                   if i.get("paraphrase_of")]  # fmt: skip
    # High-stakes questions are never answered from the cache (by design), so they are left out.
    surface = [("surface paraphrase", i["question"], p) for i in items if i["type"] != "high_stakes"
               for p in paraphrase_surface(i["question"])]  # fmt: skip
    misses = [m for i in items for m in near_misses(i["question"])]
    # Not a near miss by the definition (another number), but the case the retrieval-
    # confirmed path accepts: a number only one question has. Reported on its own line.
    one_sided = [("number in one only", i["question"], f"{i['question'].rstrip('?')} with 3 of them?")
                 for i in items if i["type"] not in ("high_stakes", "unanswerable")]  # fmt: skip
    embedder = embedding_provider_default()
    threshold = settings.QA_CACHE_MIN_SIMILARITY
    texts = sorted({question_normalise(t) for _, a, b in paraphrases + surface + misses + one_sided for t in (a, b)})
    vectors = dict(zip(texts, embedder.embed_texts(texts), strict=True))
    # A fresh budget for the bench user (thousands of questions in one day).
    from qa.models import BudgetPolicy

    BudgetPolicy.objects.update_or_create(
        pk=BudgetPolicy.objects.order_by("pk").values_list("pk", flat=True).first(),
        defaults={"user_daily_questions_soft": 0, "user_daily_questions_hard": 0},
    )

    from providers.registry import llm_provider_build
    from qa.pipeline.orchestrator import answer_create, answer_run
    from qa.pipeline.retrieval import passages_retrieve

    extractive = [llm_provider_build("extractive", embedder=embedder)]

    def lookup(stored: str, asked: str, kind_of_pair: str) -> tuple[bool, bool, float]:
        """(hit through the product, hit on similarity alone, similarity). The stored question's
        cache entry cites the passages retrieval finds for it (what its answer would cite); the
        asked question then goes through the whole answer pipeline."""
        chunks, _ = passages_retrieve(question=stored, user=user, k=settings.QA_RETRIEVAL_K, embedder=embedder)
        cited = chunks[:2]
        entry = ReusableAnswer.objects.create(
            origin=ReuseOrigin.CACHED, question=question_normalise(stored), embedding=vectors[question_normalise(stored)],
            text="(bench)", citations=[{"n": i + 1, "chunk_id": c.chunk_id, "document_id": c.document_id, "title": c.title,
                                       "source_name": c.source_name, "section": c.section, "page": c.page,
                                       "quote": c.text[:200]} for i, c in enumerate(cited)],
            document_ids=sorted({c.document_id for c in cited}), collection_ids=[collection.pk],
            prompt_version=library_production("answer").key, model=extractive[0].model_id,
        )  # fmt: skip
        try:
            answer = answer_create(user=user, question=asked)
            answer = answer_run(answer_id=answer.pk, emit=lambda *_: None, embedder=embedder, providers=extractive)
            similarity = float(np.dot(vectors[question_normalise(stored)], vectors[question_normalise(asked)]))
            if kind_of_pair in ("eval paraphrase", "surface paraphrase") and answer.reused_from_id != entry.pk:
                lookup_row = CacheLookup.objects.filter(answer=answer).first()
                print(f"  eval paraphrase lookup: {lookup_row.reason if lookup_row else answer.status}")
            assert answer.reused_from_id in (None, entry.pk), "only the pair's entry may be served"
            return answer.reused_from_id == entry.pk, similarity >= threshold, similarity
        finally:
            ReusableAnswer.objects.filter(source_answer__conversation__user=user).delete()
            entry.delete()

    # Each pair is measured against its own entry only: earlier cached answers (other benchmarks
    # on this database) would answer some asked questions themselves.
    ReusableAnswer.objects.filter(origin__in=[ReuseOrigin.CACHED, ReuseOrigin.PRECOMPUTED]).delete()
    results: dict[str, list[tuple[bool, bool, float, str, str]]] = {}
    for kind, stored, asked in paraphrases + surface + misses + one_sided:
        hit, raw, similarity = lookup(stored, asked, kind)
        results.setdefault(kind, []).append((hit, raw, similarity, stored, asked))

    print(f"threshold {threshold} (QA_CACHE_MIN_SIMILARITY); {len(misses)} near-miss pairs, "
          f"{len(paraphrases) + len(surface)} paraphrase pairs")  # fmt: skip
    print(f"{'pairs':<20} {'n':>4} {'hit (product)':>14} {'hit (similarity only)':>22} {'mean similarity':>16}")
    for kind, rows in results.items():
        n = len(rows)
        print(f"{kind:<20} {n:>4} {sum(r[0] for r in rows) / n:>14.1%} {sum(r[1] for r in rows) / n:>22.1%} "
              f"{sum(r[2] for r in rows) / n:>16.3f}")  # fmt: skip
    near = [r for k, rows in results.items() if k in ("number", "negation", "identifier", "entity") for r in rows]
    para = results.get("eval paraphrase", []) + results.get("surface paraphrase", [])
    false_hits = [r for r in near if r[0]]
    print(
        f"near misses: {len(near)} pairs, false hits {len(false_hits)} ({len(false_hits) / len(near):.1%}); "
        f"similarity alone would have false-hit {sum(r[1] for r in near)} ({sum(r[1] for r in near) / len(near):.1%})"
    )
    print(f"paraphrases: eval {sum(r[0] for r in results['eval paraphrase'])}/{len(results['eval paraphrase'])} hit, "
          f"all {sum(r[0] for r in para)}/{len(para)} ({sum(r[0] for r in para) / len(para):.1%})")  # fmt: skip
    for r in false_hits[:10]:
        print(f"  FALSE HIT {r[2]:.3f}: {r[3]!r} -> {r[4]!r}")
    for r in [r for r in results["surface paraphrase"] if not r[0]][:12]:
        print(f"  surface paraphrase miss {r[2]:.3f}: {r[3][:70]!r} -> {r[4][:70]!r}")
    for r in results["eval paraphrase"]:
        print(f"  eval paraphrase {'HIT ' if r[0] else 'miss'} {r[2]:.3f}: {r[3][:60]!r} -> {r[4][:60]!r}")


if __name__ == "__main__":
    main()
